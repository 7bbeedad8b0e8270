// A joint hidden Markov model of a defect track: the hidden state is the defect's true
// class; each frame emits the classifier's evidence for every class and the step to the
// next frame. The ideas: state-dependent diffusion inferred from the steps of single
// tracks (vbSPT, Persson et al., Nat. Methods 10, 265 (2013); HMM-Bayes, Monnier et al.,
// Nat. Methods 12, 838 (2015)), here joined with the image classifier's evidence so a
// doubtful frame counts as doubtful; fitted by Baum–Welch in log space (Rabiner,
// Proc. IEEE 77, 257 (1989)).

import Foundation

/// How a step depends on the hidden state.
public enum HMMMotionModel: Sendable, Equatable {
    /// 2-D Gaussian steps with per-axis variance 2·D·Δt + 2σ² (off-lattice motion).
    case gaussian
    /// Lattice hopping: a step longer than `hopThreshold` (px) is a hop, with a
    /// state-dependent hop probability per frame; shorter steps are localization noise.
    case lattice(hopThreshold: Double)
}

/// The displacement between two observed frames of a track, `frames` apart (> 1 across a gap).
/// A k-frame step is k one-frame steps of the state it starts in, convolved: Gaussian variance
/// k·2D + 2σ² per axis, hop within k frames with probability 1 − (1 − p)ᵏ. So a frame missed
/// at a hop still counts its hop (dropping the step would bias D low: misses happen at hops).
struct HMMStep: Sendable {
    var dx: Double, dy: Double, frames: Int
    /// Edge weight 1/q of the step's statistics (`ObservationWindow`; 1 without a window).
    var weight = 1.0
    var squaredLength: Double { dx * dx + dy * dy }
}

/// One defect track as the HMM sees it.
public struct HMMTrack: Sendable, Equatable {
    /// Frame numbers, strictly increasing (gaps allowed: no evidence there).
    public var frames: [Int]
    /// Drift-corrected positions (px); empty when only the classes are known.
    public var x: [Double], y: [Double]
    /// Per frame, log evidence for each observed class (e.g. the mixture's per-class
    /// log-likelihood of the crop; any per-frame constant cancels).
    public var classEvidence: [[Double]]
    /// Per frame, the edge weight of the step to the next frame (`ObservationWindow.stepWeights`);
    /// empty: every step counts once.
    public var stepWeights: [Double] = []

    public init(frames: [Int], x: [Double] = [], y: [Double] = [], classEvidence: [[Double]], stepWeights: [Double] = []) {
        self.frames = frames; self.x = x; self.y = y; self.classEvidence = classEvidence; self.stepWeights = stepWeights
    }

    /// Hard labels as evidence (log 1 for the label, log 0 for the others): the fitted
    /// emission matrix is then the classifier's confusion matrix.
    public init(frames: [Int], x: [Double] = [], y: [Double] = [], labels: [Int], classCount: Int) {
        self.init(frames: frames, x: x, y: y, classEvidence: labels.map { l in
            (0..<classCount).map { $0 == l ? 0 : -.infinity }
        })
    }

    /// Whether positions are given (then steps are evidence too).
    var hasPositions: Bool { !x.isEmpty }
}

/// The model: transition matrix, initial distribution, how each hidden state shows in
/// the classifier (a mixture over observed classes) and in its steps.
public struct DefectHMM: Sendable, Equatable {
    /// n × n, row = from, rows sum to 1.
    public var transition: [[Double]]
    public var initial: [Double]
    /// n × m: weight of observed class c in hidden state k's class evidence (with hard
    /// labels: P(label c | state k)).
    public var classWeights: [[Double]]
    /// Per state: one-frame step variance per axis 2D + 2σ² (px², `.gaussian`) or hop
    /// probability per frame (`.lattice`).
    public var motion: [Double]
    public var motionModel: HMMMotionModel
    /// σ² per axis (px²): the part of a Gaussian step's variance that does not grow with the
    /// frames a step spans.
    public var localizationVariance: Double

    public init(transition: [[Double]], initial: [Double], classWeights: [[Double]], motion: [Double], motionModel: HMMMotionModel,
                localizationVariance: Double = 0) {
        self.transition = transition; self.initial = initial; self.classWeights = classWeights
        self.motion = motion; self.motionModel = motionModel; self.localizationVariance = localizationVariance
    }

    public var stateCount: Int { transition.count }
}

/// A track prepared once for repeated E-steps: dense over its frame span.
struct PreparedTrack: Sendable {
    let span: Int
    /// Per frame of the span: class likelihoods scaled to max 1 (nil: not observed).
    let classLikelihood: [[Double]?]
    /// Σ over observed frames of the scale removed (log), so log-likelihoods stay exact.
    let logScale: Double
    /// Per frame: the step to the next observed frame of the track (nil without positions).
    let steps: [HMMStep?]
    let observedFrames: Int

    init(_ t: HMMTrack) {
        let first = t.frames.first ?? 0
        span = (t.frames.last ?? first) - first + 1
        var lik = [[Double]?](repeating: nil, count: span), scale = 0.0
        var steps = [HMMStep?](repeating: nil, count: span)
        for (i, f) in t.frames.enumerated() {
            let e = t.classEvidence[i], top = e.max() ?? 0
            lik[f - first] = e.map { exp($0 - top) }
            scale += top
            if t.hasPositions, i + 1 < t.frames.count {
                steps[f - first] = HMMStep(dx: t.x[i + 1] - t.x[i], dy: t.y[i + 1] - t.y[i], frames: t.frames[i + 1] - f,
                                           weight: t.stepWeights.isEmpty ? 1 : t.stepWeights[i])
            }
        }
        classLikelihood = lik; logScale = scale; self.steps = steps; observedFrames = t.frames.count
    }

    /// Bootstrap blocks covering the span: every `length` frames a block starts, and it runs one
    /// frame into the next block, so each one-frame transition and step lies in exactly one block
    /// (the shared frame's class evidence counts in both). Blocks that met end to end lost the
    /// transitions and hops between them from every replicate: a movie whose few class changes fell
    /// on block edges had replicates without them (T interval [0, 0] around an estimate of 0.035).
    func blocks(length: Int) -> [PreparedTrack] {
        stride(from: 0, to: span, by: length).compactMap { start in
            let r = start..<min(start + length + 1, span)
            guard start == 0 || r.count > 1 else { return nil }   // the last frame, shared with the block before
            // A step ending past the block belongs to no block.
            let steps = r.map { t in self.steps[t].flatMap { t + $0.frames < r.upperBound ? $0 : nil } }
            let lik = Array(classLikelihood[r])
            let observed = lik.filter { $0 != nil }.count
            guard observed > 0 else { return nil }
            return PreparedTrack(span: r.count, classLikelihood: lik, logScale: 0, steps: steps, observedFrames: observed)
        }
    }

    init(span: Int, classLikelihood: [[Double]?], logScale: Double, steps: [HMMStep?], observedFrames: Int) {
        self.span = span; self.classLikelihood = classLikelihood; self.logScale = logScale
        self.steps = steps; self.observedFrames = observedFrames
    }
}

extension DefectHMM {
    /// log P(evidence of frame t | state k) for every k (class evidence × step).
    func logEmission(_ p: PreparedTrack, _ t: Int) -> [Double] {
        (0..<stateCount).map { k in
            var l = 0.0
            if let lik = p.classLikelihood[t] {
                var s = 0.0
                for (c, w) in classWeights[k].enumerated() where w > 0 { s += w * lik[c] }
                l += log(s)
            }
            if let step = p.steps[t] { l += logStep(step, state: k) }
            return l
        }
    }

    func logStep(_ s: HMMStep, state k: Int) -> Double {
        switch motionModel {
        case .gaussian:
            let v = stepVariance(k, frames: s.frames)
            return -s.squaredLength / (2 * v) - log(2 * Double.pi * v)
        case .lattice(let threshold):
            let p = hopProbability(k, frames: s.frames)
            return log(s.squaredLength > threshold * threshold ? p : 1 - p)
        }
    }

    /// Per-axis variance of a `frames`-frame Gaussian step in state k: frames·2D + 2σ².
    func stepVariance(_ k: Int, frames: Int) -> Double {
        let noise = 2 * localizationVariance
        return Double(frames) * (motion[k] - noise) + noise
    }

    /// Probability of at least one hop in `frames` frames of state k.
    func hopProbability(_ k: Int, frames: Int) -> Double {
        frames == 1 ? motion[k] : 1 - pow(1 - motion[k], Double(frames))
    }

    /// Emission rows scaled to max 1 per frame, and the log of the scales removed.
    func emissions(_ p: PreparedTrack) -> (rows: [[Double]], logScale: Double) {
        var rows: [[Double]] = [], total = p.logScale
        rows.reserveCapacity(p.span)
        for t in 0..<p.span {
            let l = logEmission(p, t), top = l.max() ?? 0
            let m = top.isFinite ? top : 0
            rows.append(l.map { exp($0 - m) })
            total += m
        }
        return (rows, total)
    }

    /// Scaled forward–backward: state posteriors per frame, expected transition counts,
    /// log-likelihood of the track.
    func forwardBackward(_ p: PreparedTrack) -> (gamma: [[Double]], xi: [[Double]], logLikelihood: Double) {
        let n = stateCount, (b, logScale) = emissions(p)
        var alpha = [[Double]](repeating: [Double](repeating: 0, count: n), count: p.span)
        var scale = [Double](repeating: 1, count: p.span), logL = logScale
        for t in 0..<p.span {
            for j in 0..<n {
                var s = 0.0
                if t == 0 { s = initial[j] } else { for i in 0..<n { s += alpha[t - 1][i] * transition[i][j] } }
                alpha[t][j] = s * b[t][j]
            }
            let c = alpha[t].reduce(0, +)
            scale[t] = c > 0 ? c : .leastNormalMagnitude
            for j in 0..<n { alpha[t][j] /= scale[t] }
            logL += log(scale[t])
        }
        var xi = [[Double]](repeating: [Double](repeating: 0, count: n), count: n)
        var gamma = alpha, beta = [Double](repeating: 1, count: n)
        for t in stride(from: p.span - 2, through: 0, by: -1) {
            var next = [Double](repeating: 0, count: n)
            for i in 0..<n {
                for j in 0..<n {
                    let w = transition[i][j] * b[t + 1][j] * beta[j] / scale[t + 1]
                    next[i] += w
                    xi[i][j] += alpha[t][i] * w
                }
            }
            beta = next
            let g = (0..<n).map { alpha[t][$0] * next[$0] }, s = g.reduce(0, +)
            gamma[t] = s > 0 ? g.map { $0 / s } : g
        }
        return (gamma, xi, logL)
    }

    /// Log-likelihood of a track under the model (forward algorithm).
    public func logLikelihood(_ track: HMMTrack) -> Double { forwardBackward(PreparedTrack(track)).logLikelihood }

    /// The most probable hidden state in each of the track's frames (log-space Viterbi).
    public func viterbi(_ track: HMMTrack) -> [Int] {
        let p = PreparedTrack(track), n = stateCount
        guard p.span > 0 else { return [] }
        let logT = transition.map { $0.map { log($0) } }
        var score = logEmission(p, 0).enumerated().map { log(initial[$0.offset]) + $0.element }
        var back = [[Int]](repeating: [Int](repeating: 0, count: n), count: p.span)
        for t in 1..<p.span {
            let e = logEmission(p, t)
            score = (0..<n).map { j in
                let i = (0..<n).max { score[$0] + logT[$0][j] < score[$1] + logT[$1][j] }!
                back[t][j] = i
                return score[i] + logT[i][j] + e[j]
            }
        }
        var path = [Int](repeating: 0, count: p.span)
        path[p.span - 1] = (0..<n).max { score[$0] < score[$1] }!
        for t in stride(from: p.span - 1, to: 0, by: -1) { path[t - 1] = back[t][path[t]] }
        let first = track.frames[0]
        return track.frames.map { path[$0 - first] }
    }
}
