// Baum–Welch (EM) for the joint defect HMM, several starts, the number of hidden states by
// BIC with a minimum occupancy, and the per-state physics: D, σ, hop rate, dwell time.

import Core
import Foundation

/// Settings of the joint HMM fit.
public struct DefectHMMOptions: Sendable, Equatable {
    public var motion: HMMMotionModel = .gaussian
    /// Symmetrize the expected transition counts each M-step (detailed balance).
    public var reversible = false
    /// EM starts per model (the first from the labels, the others perturbed); the best likelihood wins.
    public var starts = 3
    public var maxIterations = 200
    /// Relative change of the log-likelihood that ends EM.
    public var tolerance = 1e-6
    /// Merge observed classes while BIC improves (else one hidden state per observed class).
    public var selectStates = true
    /// A hidden state expected in fewer frames than this is merged into another (too little data).
    public var minOccupancy = 20.0
    /// D is reported only for a state with at least this many expected one-frame steps.
    public var minSteps = 10.0
    /// Bootstrap over tracks (0: no intervals); tracks are cut into blocks of `blockLength`
    /// frames first, so a movie with few long tracks still has many resampling units.
    public var bootstrapSamples = 200
    public var blockLength = 20
    /// EM iterations of each bootstrap refit (from the warm start), and the relative change of
    /// the log-likelihood that ends one: tighter than `tolerance`, because EM creeps slowly
    /// towards the resample's optimum and a refit stopped early is too close to the estimate
    /// (intervals too narrow; the table-level study measured it, docs/ACCURACY.md).
    public var bootstrapIterations = 200
    public var bootstrapTolerance = 1e-8
    public var confidence = 0.95
    public var intervalMethod = HMMIntervalMethod.percentile
    public var seed: UInt64 = 1
    public init() {}
}

/// One hidden state's estimates (px and frames).
public struct HMMStateEstimate: Sendable, Equatable {
    /// The observed classes this hidden state stands for (one, or several merged).
    public var classes: [Int]
    /// Expected number of frames in the state, and of frames its steps span (a step across
    /// a k-frame gap counts k).
    public var frames: Double, steps: Double
    /// D (px²/frame): posterior- and edge-weighted (⟨Δr²⟩ − 4σ²)/(4k) over k-frame steps (lattice:
    /// the squares over the hops only), clamped at 0; nil with fewer than `minSteps` step frames.
    public var D: Double?
    /// Hop probability per frame and Poisson hop rate −ln(1 − p) (`.lattice` only).
    public var hopProbability: Double?, hopRate: Double?
    /// Expected number of steps with a hop, edge-weighted (`.lattice` only): the count D and the
    /// hop rate rest on, which sets their Poisson uncertainty (`HMMIntervals`).
    public var hops: Double?
    /// The number of hops that count carries as a Poisson count, (Σγw)²/Σγw² (Kish's effective
    /// size over the edge weights w; Σγ, the expected hops, when every w = 1): the weights w ≥ 1 scale
    /// what the hops seen stand for, not how many were seen, so two hops weighted 2 each are 2 events
    /// for the interval, not 4 (Kish, Survey Sampling, 1965).
    public var effectiveHops: Double?
    /// Mean dwell time 1/(1 − T_kk) in frames; ∞ when the state is never left (T_kk = 1: one state).
    public var dwellFrames: Double
    /// Expected one-frame transitions from the state, Σⱼ ξₖⱼ (frames a missed frame spans included):
    /// the trials T's row rests on.
    public var transitions = 0.0
    /// Edge-weighted step frames Σγw·k: what D and the hop rate are per (a state seen without hops
    /// still bounds its rate by them, `HMMIntervals`).
    public var weightedStepFrames = 0.0
}

/// One candidate of the model selection.
public struct HMMSelectionRow: Sendable, Equatable {
    public var groups: [[Int]]
    public var logLikelihood: Double, parameters: Int, bic: Double
    public var minOccupancy: Double
}

/// Bootstrap intervals (nil entries: undefined in too many resamples).
public struct HMMIntervals: Sendable, Equatable {
    public var D: [(low: Double, high: Double)?]
    public var hopRate: [(low: Double, high: Double)?]
    public var dwellFrames: [(low: Double, high: Double)?]
    public var transitionLow: [[Double]], transitionHigh: [[Double]]
    public var timescales: [(low: Double, high: Double)?]
    public var samples: Int, confidence: Double, blockLength: Int, seed: UInt64
    public var method: HMMIntervalMethod
    /// The refitted models the intervals come from (for studies of the intervals themselves).
    public var replicates: [DefectHMMFit] = []

    public static func == (a: HMMIntervals, b: HMMIntervals) -> Bool {
        func same(_ x: [(low: Double, high: Double)?], _ y: [(low: Double, high: Double)?]) -> Bool {
            x.count == y.count && zip(x, y).allSatisfy { $0?.low == $1?.low && $0?.high == $1?.high }
        }
        return same(a.D, b.D) && same(a.hopRate, b.hopRate) && same(a.dwellFrames, b.dwellFrames)
            && same(a.timescales, b.timescales) && a.transitionLow == b.transitionLow
            && a.transitionHigh == b.transitionHigh && a.samples == b.samples && a.seed == b.seed && a.method == b.method
    }
}

/// The fitted joint model and what it says.
public struct DefectHMMFit: Sendable, Equatable {
    public var model: DefectHMM
    public var states: [HMMStateEstimate]
    /// Localization error per axis (px), from the covariance of successive steps (≥ 0).
    public var sigma: Double
    /// Implied timescales −1/ln|λᵢ| of T (frames), slowest first; ∞ for |λ| = 1.
    public var timescales: [Double]
    public var logLikelihood: Double, parameters: Int, bic: Double
    public var iterations: Int, converged: Bool
    /// Every model compared, in the order tried; the chosen one has the lowest BIC.
    public var selection: [HMMSelectionRow]
    public var intervals: HMMIntervals?
    public var tracks: Int, observedFrames: Int
    public var reversible: Bool
    /// What one hop adds to D × step frames (px²): Δr²/4 − σ² over all states' hops (`.lattice`;
    /// nil without hops). The hops of every state have the lattice's length.
    public var hopContribution: Double? = nil
}

public enum DefectHMMFitter {
    /// Fits the joint model to all tracks together (they may come from several movies).
    /// `classCount` = number of observed classes (columns of the class evidence).
    public static func fit(_ tracks: [HMMTrack], classCount m: Int, options o: DefectHMMOptions = DefectHMMOptions()) throws -> DefectHMMFit {
        try validate(tracks, classCount: m, options: o)
        let prepared = tracks.map(PreparedTrack.init)
        let present = (0..<m).filter { c in tracks.contains { $0.classEvidence.contains { e in e.indices.allSatisfy { e[$0] <= e[c] } } } }
        var groups = present.map { [$0] }
        var best = try fitGroups(groups, prepared, m, o)
        var selection = [best.row]
        // Greedy merging: take the best pair merge while it lowers BIC or a state is too thin.
        while groups.count > 1 {
            let thin = best.row.minOccupancy < o.minOccupancy
            guard o.selectStates || thin else { break }
            let thinnest = best.occupancy.indices.min { best.occupancy[$0] < best.occupancy[$1] }!
            var candidates: [(groups: [[Int]], fit: Candidate)] = []
            for i in groups.indices {
                for j in groups.indices where j > i && (!thin || i == thinnest || j == thinnest) {
                    var g = groups
                    g[i] = (g[i] + g[j]).sorted(); g.remove(at: j)
                    candidates.append((g, try fitGroups(g, prepared, m, o)))
                }
            }
            selection += candidates.map(\.fit.row)
            guard let top = candidates.min(by: { $0.fit.row.bic < $1.fit.row.bic }), thin || top.fit.row.bic < best.row.bic else { break }
            groups = top.groups; best = top.fit
        }
        var result = estimates(best.model, groups: groups, prepared, o)
        result.logLikelihood = best.row.logLikelihood; result.parameters = best.row.parameters; result.bic = best.row.bic
        result.iterations = best.iterations; result.converged = best.converged
        result.selection = selection; result.tracks = tracks.count
        if o.bootstrapSamples > 0 { result.intervals = bootstrap(result, groups: groups, prepared, o) }
        return result
    }

    static func validate(_ tracks: [HMMTrack], classCount m: Int, options o: DefectHMMOptions) throws {
        guard m >= 1 else { throw MarkovError.invalidArgument("the HMM needs at least one class") }
        guard !tracks.isEmpty else { throw MarkovError.invalidArgument("the HMM needs at least one track") }
        guard o.starts >= 1, o.maxIterations >= 1, o.bootstrapIterations >= 1, o.bootstrapTolerance > 0, o.blockLength >= 2, o.bootstrapSamples >= 0,
              o.confidence > 0, o.confidence < 1, o.minOccupancy >= 0 else {
            throw MarkovError.invalidArgument("HMM options out of range")
        }
        if case .lattice(let h) = o.motion, !(h > 0 && h.isFinite) { throw MarkovError.invalidArgument("hop threshold must be positive") }
        for (i, t) in tracks.enumerated() {
            let n = t.frames.count
            guard n > 0, t.classEvidence.count == n, t.x.isEmpty || (t.x.count == n && t.y.count == n),
                  t.x.allSatisfy(\.isFinite), t.y.allSatisfy(\.isFinite) else {
                throw MarkovError.invalidArgument("HMM track \(i): frames, positions and class evidence differ in length, or a position is not finite")
            }
            guard t.stepWeights.isEmpty || (t.stepWeights.count == n && t.stepWeights.allSatisfy { $0 >= 1 && $0.isFinite }) else {
                throw MarkovError.invalidArgument("HMM track \(i): step weights must be one per frame, each ≥ 1 and finite")
            }
            guard zip(t.frames, t.frames.dropFirst()).allSatisfy({ $0 < $1 }), t.frames[0] >= 0 else {
                throw MarkovError.invalidArgument("HMM track \(i): frames must increase strictly from ≥ 0")
            }
            guard t.classEvidence.allSatisfy({ $0.count == m && !$0.contains(.nan) && $0.contains { $0 > -.infinity } && !$0.contains(.infinity) }) else {
                throw MarkovError.invalidArgument("HMM track \(i): every frame needs \(m) class log-likelihoods, not all −∞, none NaN/+∞")
            }
        }
    }

    // MARK: EM

    struct Candidate {
        var model: DefectHMM, row: HMMSelectionRow, occupancy: [Double], iterations: Int, converged: Bool
    }

    /// Best of `starts` EM runs for one grouping of the observed classes into hidden states.
    static func fitGroups(_ groups: [[Int]], _ tracks: [PreparedTrack], _ m: Int, _ o: DefectHMMOptions) throws -> Candidate {
        let sigma2 = localizationVariance(tracks)
        var best: Candidate?
        for start in 0..<o.starts {
            let rng = start > 0 ? SeededGenerator(seed: o.seed, index: start) : nil
            let initial = startModel(groups, tracks, m, o, sigma2: sigma2, perturb: rng)
            let (model, stats, iterations, converged) = em(initial, tracks, o, maxIterations: o.maxIterations)
            if best == nil || stats.logL > best!.row.logLikelihood {
                let n = groups.count, withSteps = tracks.contains { $0.steps.contains { $0 != nil } }
                let p = n * (n - 1) + (n - 1) + n * (m - 1) + (withSteps ? n : 0)
                let frames = Double(tracks.reduce(0) { $0 + $1.observedFrames })
                let row = HMMSelectionRow(groups: groups, logLikelihood: stats.logL, parameters: p,
                                          bic: -2 * stats.logL + Double(p) * log(frames), minOccupancy: stats.frames.min() ?? 0)
                best = Candidate(model: model, row: row, occupancy: stats.frames, iterations: iterations, converged: converged)
            }
        }
        return best!
    }

    /// Expected sufficient statistics of one E-step.
    struct Sufficient {
        var start: [Double], xi: [[Double]], weights: [[Double]]
        /// Per state: Σγw over steps, Σγw·k (frames spanned), Σγw·Δr², Σγw·E[frames with a hop]
        /// (w: the step's edge weight), Σγ over frames, Σγ·k unweighted (the step frames seen).
        var stepWeight: [Double], stepFrames: [Double], stepSquares: [Double], hops: [Double], frames: [Double]
        var observedStepFrames: [Double]
        /// Per state: Σγw·Δr² and Σγw over the steps longer than the hop threshold (lattice D).
        var hopSquares: [Double], hopSteps: [Double]
        /// Per state: Σγw² over those steps (the hop count's effective size, `effectiveHops`).
        var hopWeightSquares: [Double]
        /// Per state: Σ γₜγₜ₊₁·(Δrₜ·Δrₜ₊₁) and Σ γₜγₜ₊₁ over successive steps (σ², Gaussian model).
        var products: [Double], productWeight: [Double]
        /// Squared length and number of the steps shorter than the hop threshold (σ², lattice model).
        var staySquares = 0.0, stays = 0.0
        var logL = 0.0

        init(n: Int, m: Int) {
            start = [Double](repeating: 0, count: n); xi = [[Double]](repeating: start, count: n)
            weights = [[Double]](repeating: [Double](repeating: 0, count: m), count: n)
            stepWeight = start; stepFrames = start; stepSquares = start; hops = start; frames = start
            observedStepFrames = start; hopSquares = start; hopSteps = start; hopWeightSquares = start
            products = start; productWeight = start
        }

        /// Localization variance per axis (≥ 0). Lattice: steps without a hop are pure noise,
        /// ⟨Δr²⟩ = 4σ². Gaussian: ⟨ΔxₙΔxₙ₊₁⟩ = −σ² for steps sharing a point, whatever frames they
        /// span (Vestergaard et al. 2014), within each state,
        /// the states combined by inverse variance (weight W_k / v_k²): a fast state's steps
        /// would swamp the covariance otherwise.
        func sigma2(_ model: DefectHMM) -> Double {
            if case .lattice = model.motionModel { return stays > 0 ? staySquares / (4 * stays) : 0 }
            var num = 0.0, den = 0.0
            for k in products.indices where productWeight[k] > 0 {
                let w = productWeight[k] / (model.motion[k] * model.motion[k])
                num += w * (-products[k] / (2 * productWeight[k])); den += w
            }
            return den > 0 ? max(num / den, 0) : 0
        }
    }

    static func expectation(_ model: DefectHMM, _ tracks: [PreparedTrack]) -> Sufficient {
        let n = model.stateCount, m = model.classWeights[0].count
        var s = Sufficient(n: n, m: m)
        let threshold: Double? = { if case .lattice(let h) = model.motionModel { return h }; return nil }()
        for p in tracks {
            let r = model.forwardBackward(p)
            s.logL += r.logLikelihood
            for k in 0..<n { s.start[k] += r.gamma[0][k]; for j in 0..<n { s.xi[k][j] += r.xi[k][j] } }
            for t in 0..<p.span {
                let g = r.gamma[t]
                if let lik = p.classLikelihood[t] {
                    for k in 0..<n {
                        s.frames[k] += g[k]
                        let w = model.classWeights[k]
                        var total = 0.0
                        for c in 0..<m { total += w[c] * lik[c] }
                        guard total > 0 else { continue }
                        for c in 0..<m where w[c] > 0 { s.weights[k][c] += g[k] * w[c] * lik[c] / total }
                    }
                }
                guard let step = p.steps[t] else { continue }
                let r2 = step.squaredLength, frames = Double(step.frames)
                for k in 0..<n {
                    // Edge-weighted (`ObservationWindow`): the steps the field's edge hid are counted back.
                    let gw = g[k] * step.weight
                    s.stepWeight[k] += gw; s.stepFrames[k] += gw * frames; s.stepSquares[k] += gw * r2
                    s.observedStepFrames[k] += g[k] * frames
                    // EM for the per-frame hop probability: a hop seen over k frames holds
                    // k·p / (1 − (1 − p)ᵏ) hopping frames on average.
                    if let h = threshold, r2 > h * h {
                        s.hops[k] += gw * frames * model.motion[k] / model.hopProbability(k, frames: step.frames)
                        s.hopSquares[k] += gw * r2; s.hopSteps[k] += gw; s.hopWeightSquares[k] += gw * step.weight
                    }
                }
                if let h = threshold, r2 <= h * h { s.staySquares += r2; s.stays += 1 }
                let after = t + step.frames
                if after < p.span, let next = p.steps[after] {
                    let product = step.dx * next.dx + step.dy * next.dy
                    for k in 0..<n {
                        let w = g[k] * r.gamma[after][k]
                        s.products[k] += w * product; s.productWeight[k] += w
                    }
                }
            }
        }
        return s
    }

    /// Baum–Welch from `initial` until the log-likelihood stops rising.
    static func em(_ initial: DefectHMM, _ tracks: [PreparedTrack], _ o: DefectHMMOptions,
                   maxIterations: Int, tolerance: Double? = nil) -> (DefectHMM, Sufficient, Int, Bool) {
        var model = initial, previous = -Double.infinity
        for iteration in 1...maxIterations {
            let s = expectation(model, tracks)
            if abs(s.logL - previous) <= (tolerance ?? o.tolerance) * abs(s.logL) + 1e-9 { return (model, s, iteration, true) }
            previous = s.logL
            model = maximization(model, s, o, sigma2: s.sigma2(model))
        }
        return (model, expectation(model, tracks), maxIterations, false)
    }

    /// New parameters from expected counts; every constraint holds by construction
    /// (rows sum to 1, variance ≥ 2σ² so D ≥ 0, hop probability inside (0, 1)). The Gaussian
    /// variance is the moment estimate over k-frame steps: 2D = Σγ(Δr²/2 − 2σ²) / Σγk.
    static func maximization(_ old: DefectHMM, _ s: Sufficient, _ o: DefectHMMOptions, sigma2: Double) -> DefectHMM {
        var m = old
        let n = old.stateCount
        var counts = s.xi
        if o.reversible { counts = (0..<n).map { i in (0..<n).map { j in (s.xi[i][j] + s.xi[j][i]) / 2 } } }
        m.transition = (0..<n).map { i in normalized(counts[i]) ?? old.transition[i] }
        m.initial = normalized(s.start) ?? old.initial
        m.classWeights = (0..<n).map { k in normalized(s.weights[k]) ?? old.classWeights[k] }
        m.motion = (0..<n).map { k in
            guard s.stepWeight[k] > 1e-9 else { return old.motion[k] }
            switch old.motionModel {
            case .gaussian:
                let twoD = (s.stepSquares[k] / 2 - 2 * sigma2 * s.stepWeight[k]) / s.stepFrames[k]
                return max(twoD + 2 * sigma2, 2 * sigma2 + 1e-9)
            case .lattice: return min(max(s.hops[k] / s.stepFrames[k], 1e-4), 1 - 1e-4)
            }
        }
        m.localizationVariance = sigma2
        return m
    }

    static func normalized(_ v: [Double]) -> [Double]? {
        let s = v.reduce(0, +)
        return s > 0 && s.isFinite ? v.map { $0 / s } : nil
    }

    /// A first σ² per axis (for the start's variance floor): the covariance of successive
    /// steps, ⟨ΔxₙΔxₙ₊₁⟩ = −σ², pooled over all tracks and clamped at 0.
    static func localizationVariance(_ tracks: [PreparedTrack]) -> Double {
        var sum = 0.0, pairs = 0
        for p in tracks {
            for t in 0..<p.span {
                guard let a = p.steps[t], t + a.frames < p.span, let b = p.steps[t + a.frames] else { continue }
                sum += a.dx * b.dx + a.dy * b.dy; pairs += 1
            }
        }
        return pairs > 0 ? max(-sum / Double(2 * pairs), 0) : 0
    }

    /// A start: states from the most likely class of each frame; perturbed when `rng` is given.
    static func startModel(_ groups: [[Int]], _ tracks: [PreparedTrack], _ m: Int, _ o: DefectHMMOptions,
                           sigma2: Double, perturb: SeededGenerator?) -> DefectHMM {
        let n = groups.count
        var stateOf = [Int](repeating: 0, count: m)
        for (k, g) in groups.enumerated() { for c in g { stateOf[c] = k } }
        var counts = [[Double]](repeating: [Double](repeating: 1, count: n), count: n)
        var stepWeight = [Double](repeating: 1e-9, count: n), squares = stepWeight, hops = stepWeight
        let threshold: Double? = { if case .lattice(let h) = o.motion { return h }; return nil }()
        for p in tracks {
            var previous: Int?
            for t in 0..<p.span {
                guard let lik = p.classLikelihood[t] else { previous = nil; continue }
                let k = stateOf[lik.indices.max { lik[$0] < lik[$1] }!]
                if let i = previous { counts[i][k] += 1 }
                previous = k
                if let s = p.steps[t] {
                    let r2 = s.squaredLength
                    stepWeight[k] += Double(s.frames); squares[k] += r2
                    if let h = threshold, r2 > h * h { hops[k] += 1 }
                }
            }
        }
        var model = DefectHMM(
            transition: counts.map { normalized($0)! }, initial: [Double](repeating: 1 / Double(n), count: n),
            classWeights: groups.map { g in (0..<m).map { (g.contains($0) ? 0.9 / Double(g.count) : 0) + 0.1 / Double(m) } },
            motion: (0..<n).map { k in
                threshold == nil ? max(squares[k] / (2 * stepWeight[k]), 2 * sigma2 + 1e-6)
                                 : min(max(hops[k] / stepWeight[k], 0.01), 0.99)
            },
            motionModel: o.motion, localizationVariance: sigma2)
        if var rng = perturb {
            model.transition = model.transition.map { row in
                let noise = (0..<n).map { _ in rng.exponential(rate: 1) }
                return normalized(zip(row, normalized(noise)!).map { 0.7 * $0 + 0.3 * $1 })!
            }
            model.motion = model.motion.map { v in
                let f = exp(0.7 * rng.normal())
                return threshold == nil ? max(v * f, 2 * sigma2 + 1e-6) : min(max(v * f, 0.01), 0.99)
            }
        }
        return model
    }

    // MARK: estimates

    /// Per-state D, hop rate, dwell time; σ; implied timescales.
    static func estimates(_ model: DefectHMM, groups: [[Int]], _ tracks: [PreparedTrack], _ o: DefectHMMOptions) -> DefectHMMFit {
        let s = expectation(model, tracks), sigma2 = s.sigma2(model)
        let groups = classesOf(model, frames: s.frames, fallback: groups)
        let states = groups.indices.map { k -> HMMStateEstimate in
            let enough = s.observedStepFrames[k] >= o.minSteps
            let d = enough ? diffusion(model.motionModel, s, state: k, sigma2: sigma2) : nil
            var p: Double?
            if case .lattice = model.motionModel, enough { p = model.motion[k] }
            return HMMStateEstimate(classes: groups[k], frames: s.frames[k], steps: s.observedStepFrames[k], D: d,
                                    hopProbability: p, hopRate: p.map { -log(1 - $0) }, hops: p.map { _ in s.hopSteps[k] },
                                    effectiveHops: p.map { _ in s.hopWeightSquares[k] > 0 ? s.hopSteps[k] * s.hopSteps[k] / s.hopWeightSquares[k] : 0 },
                                    dwellFrames: model.transition[k][k] < 1 ? 1 / (1 - model.transition[k][k]) : .infinity,
                                    transitions: s.xi[k].reduce(0, +), weightedStepFrames: s.stepFrames[k])
        }
        let hops = s.hopSteps.reduce(0, +)
        var hopContribution: Double?
        if case .lattice = model.motionModel, hops > 0 { hopContribution = max(s.hopSquares.reduce(0, +) / 4 / hops - sigma2, 0) }
        return DefectHMMFit(model: model, states: states, sigma: sigma2.squareRoot(), timescales: timescales(model.transition),
                            logLikelihood: s.logL, parameters: 0, bic: 0, iterations: 0, converged: true, selection: [],
                            intervals: nil, tracks: 0, observedFrames: tracks.reduce(0) { $0 + $1.observedFrames },
                            reversible: o.reversible, hopContribution: hopContribution)
    }

    /// D (px²/frame) of state k: Σγw(Δr²/4 − σ²) / Σγw·k. Lattice: over the hops only — a step
    /// without a hop is localization noise alone, so it adds nothing to D but noise, and a bias
    /// wherever that state's noise differs from the σ² pooled over all states (a slow state's
    /// hundreds of stays against its few hops: −16 % in `testSlowStateDIsFreeOfTheOtherStatesNoise`).
    static func diffusion(_ motion: HMMMotionModel, _ s: Sufficient, state k: Int, sigma2: Double) -> Double {
        let (squares, steps) = motion == .gaussian ? (s.stepSquares[k], s.stepWeight[k]) : (s.hopSquares[k], s.hopSteps[k])
        return max((squares / 4 - sigma2 * steps) / s.stepFrames[k], 0)
    }

    /// The observed classes each hidden state stands for, read from the fit (EM may move a state
    /// away from the classes it started from): class c belongs to the state most probable given
    /// c, argmax_k frames_k·w_kc; a state that no class picks keeps its strongest class.
    static func classesOf(_ model: DefectHMM, frames: [Double], fallback: [[Int]]) -> [[Int]] {
        let n = model.stateCount, used = Set(fallback.joined()).sorted()
        var out = [[Int]](repeating: [], count: n)
        for c in used { out[(0..<n).max { frames[$0] * model.classWeights[$0][c] < frames[$1] * model.classWeights[$1][c] }!].append(c) }
        for k in 0..<n where out[k].isEmpty { out[k] = [used.max { model.classWeights[k][$0] < model.classWeights[k][$1] }!] }
        return out
    }

    /// −1/ln|λᵢ| for every eigenvalue of T but the largest (frames).
    public static func timescales(_ t: [[Double]]) -> [Double] {
        guard t.count > 1, let values = try? MarkovMatrix(rows: t).eigenvalues() else { return [] }
        return values.dropFirst().map { v in v.magnitude >= 1 ? .infinity : -1 / log(v.magnitude) }
    }
}
