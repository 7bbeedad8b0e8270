import Core
import Dynamics
import Foundation
import XCTest

final class DefectHMMTests: XCTestCase {
    /// A two-state model with Gaussian steps: small enough to enumerate every hidden path.
    private let toy = DefectHMM(transition: [[0.9, 0.1], [0.3, 0.7]], initial: [0.6, 0.4],
                                classWeights: [[0.95, 0.05], [0.2, 0.8]], motion: [0.5, 4.0], motionModel: .gaussian,
                                localizationVariance: 0.1)

    private let toyTrack = HMMTrack(frames: [3, 4, 5, 7], x: [0, 0.3, 2.5, 1], y: [0, -0.2, 1.0, 0],
                                    classEvidence: [[-1, -3], [-2, -0.5], [0, -4], [-1, -1.2]])

    private func classLikelihood(_ weights: [Double], _ logEvidence: [Double]) -> Double {
        var s = 0.0
        for (w, e) in zip(weights, logEvidence) { s += w * exp(e) }
        return s
    }

    /// log P(evidence, path) summed over paths by brute force; frame 6 is missing (no evidence),
    /// the step 5 → 7 spans two frames of the state at 5: per-axis variance 2·(v − 2σ²) + 2σ².
    private func bruteForce(_ h: DefectHMM, _ t: HMMTrack) -> (logL: Double, best: [Int]) {
        let span = Array(t.frames[0]...t.frames.last!)
        var total = 0.0, best = -Double.infinity, arg: [Int] = []
        for code in 0..<(1 << span.count) {
            let path = span.indices.map { (code >> $0) & 1 }
            var p = h.initial[path[0]]
            for i in span.indices {
                if i > 0 { p *= h.transition[path[i - 1]][path[i]] }
                guard let o = t.frames.firstIndex(of: span[i]) else { continue }
                p *= classLikelihood(h.classWeights[path[i]], t.classEvidence[o])
                if o + 1 < t.frames.count {
                    let k = Double(t.frames[o + 1] - span[i]), noise = 2 * h.localizationVariance
                    let dx = t.x[o + 1] - t.x[o], dy = t.y[o + 1] - t.y[o], v = k * (h.motion[path[i]] - noise) + noise
                    p *= exp(-(dx * dx + dy * dy) / (2 * v)) / (2 * Double.pi * v)
                }
            }
            total += p
            if p > best { best = p; arg = path }
        }
        return (log(total), t.frames.map { arg[$0 - span[0]] })
    }

    func testForwardLikelihoodEqualsEnumeration() {
        let (logL, _) = bruteForce(toy, toyTrack)
        XCTAssertEqual(toy.logLikelihood(toyTrack), logL, accuracy: 1e-10)
        var lattice = toy
        lattice.motionModel = HMMMotionModel.lattice(hopThreshold: 1); lattice.motion = [0.1, 0.6]
        // Lattice steps: P(hop) = motion[k] when the step is longer than the threshold, and
        // 1 − (1 − motion[k])² over the two frames 5 → 7.
        let hops = [false, true, true]
        var expected = 0.0
        for code in 0..<32 {
            let path = (0..<5).map { (code >> $0) & 1 }
            var p = toy.initial[path[0]]
            for i in 0..<5 {
                if i > 0 { p *= toy.transition[path[i - 1]][path[i]] }
                guard let o = toyTrack.frames.firstIndex(of: i + 3) else { continue }
                p *= classLikelihood(toy.classWeights[path[i]], toyTrack.classEvidence[o])
                if o < 3 {
                    let hop = 1 - pow(1 - lattice.motion[path[i]], Double(toyTrack.frames[o + 1] - toyTrack.frames[o]))
                    p *= hops[o] ? hop : 1 - hop
                }
            }
            expected += p
        }
        XCTAssertEqual(lattice.logLikelihood(toyTrack), log(expected), accuracy: 1e-10)
    }

    func testViterbiMatchesEnumerationAndIgnoresOneDoubtfulFrame() {
        XCTAssertEqual(toy.viterbi(toyTrack), bruteForce(toy, toyTrack).best)
        // Sticky chain, one frame mildly favouring state 1 amid strong state-0 evidence: the
        // best path stays in 0 (a switch costs log(0.99/0.01)² ≈ 9.2 nats, the frame gives 1).
        let sticky = DefectHMM(transition: [[0.99, 0.01], [0.01, 0.99]], initial: [0.5, 0.5],
                               classWeights: [[1, 0], [0, 1]], motion: [1, 1], motionModel: .gaussian)
        var evidence = [[Double]](repeating: [0, -5], count: 9)
        evidence[4] = [-1, 0]
        XCTAssertEqual(sticky.viterbi(HMMTrack(frames: Array(0..<9), classEvidence: evidence)), [Int](repeating: 0, count: 9))
        evidence[4] = [-20, 0]
        XCTAssertEqual(sticky.viterbi(HMMTrack(frames: Array(0..<9), classEvidence: evidence)), [0, 0, 0, 0, 1, 0, 0, 0, 0])
    }

    private func options(_ motion: HMMMotionModel, samples: Int = 0) -> DefectHMMOptions {
        var o = DefectHMMOptions()
        o.motion = motion; o.bootstrapSamples = samples; o.starts = 2
        return o
    }

    func testEMRecoversTransitionsAndTenfoldDifferentD() throws {
        var spec = HMMSyntheticSpec(transition: [[0.92, 0.08], [0.12, 0.88]], D: [8, 0.8])
        spec.tracks = 40; spec.frames = 150
        for motion in [HMMMotionModel.lattice(hopThreshold: 4.5), .gaussian] {
            spec.continuous = motion == .gaussian
            let (tracks, _) = HMMSynthetic.generate(spec, seed: 11)
            let fit = try DefectHMMFitter.fit(tracks, classCount: 2, options: options(motion))
            XCTAssertEqual(fit.states.map(\.classes), [[0], [1]], "\(motion)")
            for k in 0..<2 {
                XCTAssertEqual(fit.states[k].D!, spec.D[k], accuracy: 0.12 * spec.D[k], "D[\(k)] \(motion)")
                for j in 0..<2 { XCTAssertEqual(fit.model.transition[k][j], spec.transition[k][j], accuracy: 0.02, "T[\(k)][\(j)] \(motion)") }
            }
            // Lattice: the steps without a hop measure σ directly; Gaussian: σ² hides under 2D ≫ σ² (±0.05 px here).
            XCTAssertEqual(fit.sigma, spec.sigma, accuracy: motion == .gaussian ? 0.08 : 0.02, "\(motion)")
            XCTAssertEqual(fit.states[0].dwellFrames, 1 / 0.08, accuracy: 2)
        }
        let (tracks, _) = HMMSynthetic.generate(spec, seed: 11)
        // Counting the raw labels inflates the switching: outliers make transitions that never happened.
        let labels = try tracks.map { t in try StateTrajectory(frames: t.frames, states: t.classEvidence.map { $0[0] > $0[1] ? 0 : 1 }) }
        let raw = try MarkovEstimator(reversible: false).fit(labels, options: MarkovCountingOptions(lag: 1))
        XCTAssertGreaterThan(raw.transitionMatrix[0, 1], 0.08 + 0.02)
    }

    /// A defect missed in the frame after a hop leaves a gap exactly where the motion is: the
    /// step across it must count as a k-frame step (hop within k frames, variance k·2D + 2σ²).
    /// Dropping it (the tracks cut at every gap, as the fitter did before) loses hops, so D is low.
    func testStepsAcrossGapsKeepTheirHops() throws {
        var spec = HMMSyntheticSpec(transition: [[0.92, 0.08], [0.12, 0.88]], D: [8, 0.8])
        spec.tracks = 40; spec.frames = 150; spec.missedAfterHop = 0.5
        let (tracks, _) = HMMSynthetic.generate(spec, seed: 12)
        let gaps = tracks.reduce(0) { n, t in n + zip(t.frames, t.frames.dropFirst()).filter { $1 - $0 > 1 }.count }
        XCTAssertGreaterThan(gaps, 500)
        let cut = tracks.flatMap { t -> [HMMTrack] in
            var pieces: [HMMTrack] = [], start = 0
            for i in t.frames.indices where i + 1 == t.frames.count || t.frames[i + 1] > t.frames[i] + 1 {
                let r = start...i
                pieces.append(HMMTrack(frames: Array(t.frames[r]), x: Array(t.x[r]), y: Array(t.y[r]), classEvidence: Array(t.classEvidence[r])))
                start = i + 1
            }
            return pieces
        }
        let motion = HMMMotionModel.lattice(hopThreshold: 4.5)
        let joined = try DefectHMMFitter.fit(tracks, classCount: 2, options: options(motion))
        let dropped = try DefectHMMFitter.fit(cut, classCount: 2, options: options(motion))
        XCTAssertLessThan(dropped.states[0].D!, 0.85 * spec.D[0], "dropping gap steps loses hops")
        for k in 0..<2 {
            XCTAssertEqual(joined.states[k].D!, spec.D[k], accuracy: 0.12 * spec.D[k], "D[\(k)]")
            for j in 0..<2 { XCTAssertEqual(joined.model.transition[k][j], spec.transition[k][j], accuracy: 0.025, "T[\(k)][\(j)]") }
        }
        XCTAssertEqual(joined.sigma, spec.sigma, accuracy: 0.02)
        // Gaussian steps across random gaps (30 % of frames): variance k·2D + 2σ², so D holds there
        // too, to 15 %: a switch inside a gap is charged to the state the step starts in (the slow
        // state's D came out +13 % here, its gap steps holding some fast frames).
        spec.continuous = true; spec.missedAfterHop = 0
        var (smooth, _) = HMMSynthetic.generate(spec, seed: 13)
        var rng = SeededGenerator(seed: 5)
        smooth = smooth.map { t in
            let kept = t.frames.indices.filter { $0 == 0 || $0 + 1 == t.frames.count || rng.uniform() > 0.3 }
            return HMMTrack(frames: kept.map { t.frames[$0] }, x: kept.map { t.x[$0] }, y: kept.map { t.y[$0] },
                            classEvidence: kept.map { t.classEvidence[$0] })
        }
        let gaussian = try DefectHMMFitter.fit(smooth, classCount: 2, options: options(.gaussian))
        for k in 0..<2 { XCTAssertEqual(gaussian.states[k].D!, spec.D[k], accuracy: 0.15 * spec.D[k], "Gaussian D[\(k)]") }
    }

    /// Defects seen only inside a 50 px field with 9 px hops: a step that would leave is never seen
    /// (its track ends), so the observed steps hold too few hops and D comes out low. The edge
    /// weights (`ObservationWindow`, the field read from the positions alone) count them back.
    /// Both states pooled (equal D), against the same tracks with every frame seen.
    func testStepsThatLeaveTheFieldAreCountedBack() throws {
        var spec = HMMSyntheticSpec(transition: [[0.92, 0.08], [0.12, 0.88]], D: [4, 4])
        spec.tracks = 600; spec.frames = 40; spec.field = 50
        let (tracks, _) = HMMSynthetic.generate(spec, seed: 21)
        let window = try XCTUnwrap(ObservationWindow(boundingX: tracks.flatMap(\.x), y: tracks.flatMap(\.y)))
        XCTAssertEqual(window.maxX - window.minX, 50, accuracy: 1)
        let weighted = tracks.map { t in
            HMMTrack(frames: t.frames, x: t.x, y: t.y, classEvidence: t.classEvidence, stepWeights: window.stepWeights(x: t.x, y: t.y))
        }
        let motion = HMMMotionModel.lattice(hopThreshold: 4.5)
        func pooledD(_ tracks: [HMMTrack]) throws -> Double {
            let fit = try DefectHMMFitter.fit(tracks, classCount: 2, options: options(motion))
            return fit.states.reduce(0) { $0 + $1.D! * $1.steps } / fit.states.reduce(0) { $0 + $1.steps }
        }
        spec.field = nil
        let (plain, corrected, open) = try (pooledD(tracks), pooledD(weighted), pooledD(HMMSynthetic.generate(spec, seed: 21).tracks))
        print("field: plain \(plain) corrected \(corrected) open \(open), \(tracks.filter { $0.frames.count < 40 }.count) tracks left")
        XCTAssertLessThan(plain, 0.94 * open, "unweighted D is low")
        XCTAssertEqual(corrected, open, accuracy: 0.05 * open, "edge-weighted D")
        // A step of length r from the centre always stays; from a corner a quarter of the directions do.
        XCTAssertEqual(window.keepProbability(x: 25, y: 25, length: 9), 1)
        XCTAssertEqual(window.keepProbability(x: window.minX, y: window.minY, length: 9), 0.25, accuracy: 1e-3)
        XCTAssertEqual(window.keepProbability(x: window.minX + 4.5, y: 25, length: 9), 2.0 / 3, accuracy: 2e-3)
    }

    /// Tenfold different D, the classes located with different errors (0.6 px for the fast state,
    /// 0.15 px for the slow one), as two defect classes are. The lattice model's σ² is pooled over
    /// every step without a hop; a D summed over all steps took that pooled σ² off each of the slow
    /// state's many stays and came out low ((σ²_pooled − σ²_slow)/D ≈ −20 % here). D from the hops
    /// alone holds for both states.
    func testSlowStateDIsFreeOfTheOtherStatesNoise() throws {
        var spec = HMMSyntheticSpec(transition: [[0.92, 0.08], [0.12, 0.88]], D: [8, 0.8])
        spec.tracks = 300; spec.frames = 200; spec.stateSigma = [0.6, 0.15]
        let (tracks, truth) = HMMSynthetic.generate(spec, seed: 31)
        let fit = try DefectHMMFitter.fit(tracks, classCount: 2, options: options(.lattice(hopThreshold: 4.5)))
        // The truth's own hops (~950 in the slow state): the tolerance is 2.5 standard errors.
        let slowSteps = truth.reduce(0) { $0 + $1.dropLast().filter { $0 == 1 }.count }
        let hops = Double(slowSteps) * 4 * spec.D[1] / (spec.hopLength * spec.hopLength)
        XCTAssertGreaterThan(hops, 600)
        for k in 0..<2 { XCTAssertEqual(fit.states[k].D!, spec.D[k], accuracy: 2.5 / hops.squareRoot() * spec.D[k], "D[\(k)]") }
    }

    func testSpuriousThirteenFrameClassIsMergedNeverNegativeD() throws {
        var spec = HMMSyntheticSpec(transition: [[0.9, 0.1], [0.1, 0.9]], D: [2, 2])
        spec.tracks = 8; spec.frames = 60; spec.spurious = 0.05
        var (tracks, _) = HMMSynthetic.generate(spec, seed: 5)
        // Keep exactly 13 frames of the spurious class (index 2); the others look like class 0.
        var seen = 0
        for i in tracks.indices {
            for f in tracks[i].classEvidence.indices where tracks[i].classEvidence[f][2] == tracks[i].classEvidence[f].max() {
                seen += 1
                if seen > 13 { tracks[i].classEvidence[f][2] = -50 }
            }
        }
        XCTAssertGreaterThanOrEqual(seen, 13)
        let fit = try DefectHMMFitter.fit(tracks, classCount: 3, options: options(.lattice(hopThreshold: 4.5), samples: 30))
        XCTAssertEqual(fit.states.count, 2)
        XCTAssertTrue(fit.states.contains { $0.classes.contains(0) && $0.classes.contains(2) })
        for (k, s) in fit.states.enumerated() {
            let d = try XCTUnwrap(s.D)
            XCTAssertTrue(d.isFinite && d >= 0)
            let ci = try XCTUnwrap(fit.intervals?.D[k])
            XCTAssertTrue(ci.low >= 0 && ci.low <= d && d <= ci.high)
        }
        for row in fit.model.transition { XCTAssertEqual(row.reduce(0, +), 1, accuracy: 1e-12) }
    }

    func testBootstrapIntervalsHoldTheTruth() throws {
        var spec = HMMSyntheticSpec(transition: [[0.9, 0.1], [0.2, 0.8]], D: [6, 3])
        spec.tracks = 12; spec.frames = 100
        let (tracks, _) = HMMSynthetic.generate(spec, seed: 3)
        let fit = try DefectHMMFitter.fit(tracks, classCount: 2, options: options(.lattice(hopThreshold: 4.5), samples: 100))
        let ci = try XCTUnwrap(fit.intervals)
        for k in 0..<2 {
            let d = try XCTUnwrap(ci.D[k])
            XCTAssertTrue(d.low < spec.D[k] && spec.D[k] < d.high, "D[\(k)] \(d)")
            XCTAssertLessThan(d.high - d.low, spec.D[k])   // informative, not everything
            for j in 0..<2 { XCTAssertTrue(ci.transitionLow[k][j] < spec.transition[k][j] && spec.transition[k][j] < ci.transitionHigh[k][j]) }
        }
    }

    /// Every class change on a bootstrap block's edge (the default 20-frame blocks: changes at
    /// frames 19 → 20 and 39 → 40). Blocks that met end to end dropped those transitions from every
    /// replicate, so the off-diagonal intervals collapsed to [0, 0] beside estimates of 1/39 and
    /// 1/20 (as movie 20 of the session-12 calibration study: 0.035 [0.000, 0.000]). Each interval
    /// must hold its own estimate, and the exits must stay in the replicates.
    func testClassChangesOnBlockEdgesStayInTheBootstrap() throws {
        let labels = Array(repeating: 0, count: 20) + Array(repeating: 1, count: 20) + Array(repeating: 0, count: 20)
        let tracks = (0..<8).map { _ in HMMTrack(frames: Array(0..<60), labels: labels, classCount: 2) }
        var o = options(.gaussian, samples: 100)
        o.blockLength = 20; o.selectStates = false
        let fit = try DefectHMMFitter.fit(tracks, classCount: 2, options: o)
        let ci = try XCTUnwrap(fit.intervals)
        let t = fit.model.transition
        XCTAssertEqual(t[0][1], 1.0 / 39, accuracy: 1e-3)
        XCTAssertEqual(t[1][0], 1.0 / 20, accuracy: 1e-3)
        for i in 0..<2 {
            for j in 0..<2 {
                // Every replicate sees the same exits here: the interval is the estimate to EM's convergence.
                XCTAssertTrue(ci.transitionLow[i][j] - 1e-6 <= t[i][j] && t[i][j] <= ci.transitionHigh[i][j] + 1e-6,
                              "T[\(i)][\(j)] \(t[i][j]) outside [\(ci.transitionLow[i][j]), \(ci.transitionHigh[i][j])]")
            }
        }
        // Each replicate resamples 24 blocks of which 8 hold an exit 0 → 1 and 8 one 1 → 0.
        let exitsSeen = ci.replicates.filter { $0.model.transition[0][1] > 1e-3 && $0.model.transition[1][0] > 1e-3 }.count
        XCTAssertGreaterThan(exitsSeen, 95, "replicates with both exits: \(exitsSeen) of 100")
    }

    /// A state seen hopping only a few times: the bootstrap reads the hop count's spread at the count
    /// seen, so its percentile interval stops short of the rates that would often give so few hops.
    /// D and the hop rate must reach at least the exact Poisson interval of the count: here the
    /// rates at which P(≤ N hops) and P(≥ N hops) are 2.5 %, found by bisection on the Poisson sums.
    func testFewHopsGiveAtLeastThePoissonIntervalOfTheirCount() throws {
        var spec = HMMSyntheticSpec(transition: [[1]], D: [0.12])   // 9 px hops: 0.006 per frame
        spec.tracks = 8; spec.frames = 100; spec.outliers = 0
        let (tracks, _) = HMMSynthetic.generate(spec, seed: 5)
        let threshold = 4.5
        let n = tracks.reduce(0) { c, t in
            c + zip(zip(t.x, t.y), zip(t.x.dropFirst(), t.y.dropFirst())).filter { a, b in hypot(b.0 - a.0, b.1 - a.1) > threshold }.count
        }
        XCTAssertTrue((2...12).contains(n), "\(n) hops: the test wants a handful")
        let fit = try DefectHMMFitter.fit(tracks, classCount: 1, options: options(.lattice(hopThreshold: threshold), samples: 200))
        let s = fit.states[0], d = try XCTUnwrap(s.D), ci = try XCTUnwrap(fit.intervals?.D[0]), rate = try XCTUnwrap(fit.intervals?.hopRate[0])
        XCTAssertEqual(try XCTUnwrap(s.hops), Double(n), accuracy: 1e-9)
        func poissonCDF(_ k: Int, _ mean: Double) -> Double { (0...k).reduce(0) { $0 + exp(Double($1) * log(mean) - mean - lgamma(Double($1) + 1)) } }
        func solve(_ f: (Double) -> Double) -> Double {   // f falls from > 0 to < 0 on (0, 100)
            var lo = 1e-9, hi = 100.0
            for _ in 0..<100 { let mid = (lo + hi) / 2; if f(mid) > 0 { lo = mid } else { hi = mid } }
            return lo
        }
        let upper = solve { poissonCDF(n, $0) - 0.025 }, lower = solve { 0.975 - poissonCDF(n - 1, $0) }
        XCTAssertGreaterThanOrEqual(ci.high, d * upper / Double(n) * 0.99, "D \(d) [\(ci.low), \(ci.high)], \(n) hops: Poisson \(lower)–\(upper)")
        XCTAssertLessThanOrEqual(ci.low, d * lower / Double(n) * 1.08)
        // The percentile bootstrap alone (the interval before) stops short of it.
        let alone = try XCTUnwrap(HMMIntervals.interval(d, fit.intervals!.replicates.map { $0.states[0].D }, method: .percentile, confidence: 0.95))
        XCTAssertLessThan(alone.high, d * upper / Double(n) * 0.99)
        let r = try XCTUnwrap(s.hopRate)
        XCTAssertGreaterThanOrEqual(rate.high, r * upper / Double(n) * 0.99)
    }

    /// The edge weights scale what the hops seen stand for, not how many were seen: the same tracks with
    /// every step weighted 2 give the same D and the same interval (the weights cancel in D; the hop
    /// count's Poisson interval is that of its 2–12 hops, not of twice as many). Movie 15 of the
    /// session-10 study: a fast state with 2 hops seen, weighted ≈ 2 at the field's edge, got
    /// [0, 0.347] against a true 0.378; the 2 hops' own Poisson bound reaches 0.49.
    func testUniformEdgeWeightsLeaveTheIntervalAlone() throws {
        var spec = HMMSyntheticSpec(transition: [[1]], D: [0.12])   // 9 px hops: 0.006 per frame
        spec.tracks = 8; spec.frames = 100; spec.outliers = 0
        let (tracks, _) = HMMSynthetic.generate(spec, seed: 5)
        let doubled = tracks.map { t in HMMTrack(frames: t.frames, x: t.x, y: t.y, classEvidence: t.classEvidence,
                                                 stepWeights: [Double](repeating: 2, count: t.frames.count)) }
        let o = options(.lattice(hopThreshold: 4.5), samples: 100)
        let plain = try DefectHMMFitter.fit(tracks, classCount: 1, options: o), weighted = try DefectHMMFitter.fit(doubled, classCount: 1, options: o)
        XCTAssertEqual(try XCTUnwrap(weighted.states[0].hops), 2 * (try XCTUnwrap(plain.states[0].hops)), accuracy: 1e-9)
        XCTAssertEqual(try XCTUnwrap(weighted.states[0].effectiveHops), try XCTUnwrap(plain.states[0].hops), accuracy: 1e-9)
        let d = try XCTUnwrap(plain.states[0].D), a = try XCTUnwrap(plain.intervals?.D[0]), b = try XCTUnwrap(weighted.intervals?.D[0])
        XCTAssertEqual(try XCTUnwrap(weighted.states[0].D), d, accuracy: 1e-9 * d)
        XCTAssertEqual(b.high, a.high, accuracy: 1e-6 * a.high, "weights 1: [\(a.low), \(a.high)], weights 2: [\(b.low), \(b.high)]")
        XCTAssertEqual(b.low, a.low, accuracy: 1e-6 * a.high)
    }

    /// A slow state seen without a single hop (a short movie; movie 9 of the session-10 study: D 0
    /// [0, 0] against a true 0.061 Å²/s): the bootstrap has nothing to resample, but no hop in F step
    /// frames still bounds the rate by −ln(α/2)/F, each hop worth the movie's Δr²/4 − σ². The upper
    /// end of D and of the hop rate must reach that (computed here from the lattice's hop length and the
    /// true step frames of the state), the lower end stays 0, and the true D is inside.
    func testAStateSeenWithoutHopsStillBoundsItsD() throws {
        let hop = 9.0, trueD = [8.0, 0.02]   // 0.40 and 0.001 hops per frame
        var spec = HMMSyntheticSpec(transition: [[0.95, 0.05], [0.05, 0.95]], D: trueD)
        spec.tracks = 6; spec.frames = 40; spec.outliers = 0; spec.hopLength = hop
        // The slow state's step frames and hops in a movie of `seed`; the first seed with none is used.
        func slowSteps(_ seed: UInt64) -> (tracks: [HMMTrack], frames: Int, hops: Int) {
            let (tracks, states) = HMMSynthetic.generate(spec, seed: seed)
            var frames = 0, hops = 0
            for (t, s) in zip(tracks, states) {
                for i in 0..<(t.frames.count - 1) where s[i] == 1 {
                    frames += 1
                    if hypot(t.x[i + 1] - t.x[i], t.y[i + 1] - t.y[i]) > hop / 2 { hops += 1 }
                }
            }
            return (tracks, frames, hops)
        }
        let (tracks, slowFrames, slowHops) = try XCTUnwrap((1...50).lazy.map(slowSteps).first { $0.hops == 0 && $0.frames > 30 })
        XCTAssertEqual(slowHops, 0, "the test wants a slow state seen without hops")
        let fit = try DefectHMMFitter.fit(tracks, classCount: 2, options: options(.lattice(hopThreshold: hop / 2), samples: 100))
        let k = try XCTUnwrap(fit.states.firstIndex { $0.classes == [1] })
        XCTAssertLessThan(try XCTUnwrap(fit.states[k].hops), 1)
        let d = try XCTUnwrap(fit.intervals?.D[k]), rate = try XCTUnwrap(fit.intervals?.hopRate[k])
        let noHopBound = -log(0.025) / Double(slowFrames)   // hops per frame at which none in slowFrames has probability 2.5 %
        XCTAssertEqual(d.low, 0)
        XCTAssertGreaterThanOrEqual(d.high, 0.9 * noHopBound * (hop * hop / 4 - fit.sigma * fit.sigma), "D [\(d.low), \(d.high)]")
        XCTAssertTrue(d.low <= trueD[1] && trueD[1] <= d.high)
        XCTAssertGreaterThanOrEqual(rate.high, 0.9 * noHopBound)
        // The percentile bootstrap alone (the interval before) is [0, 0]-like: it misses the true D.
        let alone = try XCTUnwrap(HMMIntervals.interval(fit.states[k].D, fit.intervals!.replicates.map { $0.states[k].D }, method: .percentile, confidence: 0.95))
        XCTAssertLessThan(alone.high, trueD[1])
    }

    func testReportsCarryTheHMMBesideTheCrossChecks() throws {
        var spec = HMMSyntheticSpec(transition: [[0.9, 0.1], [0.2, 0.8]], D: [6, 3])
        spec.tracks = 6; spec.frames = 60
        let (tracks, _) = HMMSynthetic.generate(spec, seed: 9)
        let fit = try DefectHMMFitter.fit(tracks, classCount: 2, options: options(.lattice(hopThreshold: 4.5), samples: 20))
        let units = DiffusionCalibration(pixelSize: 0.2, frameTime: 0.5)
        let report = HMMReport(fit, classNames: ["A", "B"], calibration: units)
        let labels = try tracks.map { t in try StateTrajectory(frames: t.frames, states: t.classEvidence.map { $0[0] > $0[1] ? 0 : 1 }) }
        let model = try MarkovEstimator(reversible: false).fit(labels, stateCount: 2, options: MarkovCountingOptions(lag: 1), stateNames: ["A", "B"])
        let json = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(try model.json(frameTime: 0.5, hmm: report).utf8)) as? [String: Any])
        XCTAssertNotNil(json["transition_matrix"])                    // the counting MLE stays
        let hmm = try XCTUnwrap(json["hmm"] as? [String: Any])
        let states = try XCTUnwrap(hmm["states"] as? [[String: Any]])
        XCTAssertEqual(states.map { $0["name"] as? String }, ["A", "B"])
        // Å²/s = px²/frame × 0.04 / 0.5; dwell in s = frames × 0.5.
        XCTAssertEqual(try XCTUnwrap(states[0]["D"] as? Double), fit.states[0].D! * 0.08, accuracy: 1e-9)
        XCTAssertEqual(try XCTUnwrap(states[1]["dwell_time"] as? Double), fit.states[1].dwellFrames * 0.5, accuracy: 1e-9)
        for key in ["ci_low", "ci_high", "timescales", "timescales_ci_low", "sigma", "bic", "selection", "ci_samples"] { XCTAssertNotNil(hmm[key], key) }
        let diffusion = try Diffusion.analyze(zip(tracks, labels).map { DiffusionTrack(frames: $0.frames, x: $0.x, y: $0.y, classes: $1.states) })
        let csv = Diffusion.csv(diffusion, calibration: units, classNames: ["A", "B"], hmm: fit).split(separator: "\n")
        XCTAssertTrue(csv[0].hasPrefix("class,n_tracks,n_steps,D,") && csv[0].hasSuffix(",hmm_steps,hmm_note"))
        XCTAssertEqual(csv[1].split(separator: ",", omittingEmptySubsequences: false).count, csv[0].split(separator: ",").count)
    }

    func testBadInputIsRefusedInOneLine() {
        func message(_ tracks: [HMMTrack], _ m: Int = 2) -> String {
            do { _ = try DefectHMMFitter.fit(tracks, classCount: m, options: options(.gaussian)); return "" } catch { return "\(error)" }
        }
        let good = HMMTrack(frames: [0, 1, 2], x: [0, 1, 2], y: [0, 0, 0], classEvidence: [[0, -1], [0, -1], [-1, 0]])
        XCTAssertTrue(message([]).contains("at least one track"))
        var bad = good; bad.classEvidence[1] = [0]
        XCTAssertTrue(message([bad]).contains("HMM track 0: every frame needs 2 class log-likelihoods"))
        bad = good; bad.classEvidence[2] = [-.infinity, -.infinity]
        XCTAssertTrue(message([good, bad]).contains("HMM track 1"))
        bad = good; bad.x[1] = .nan
        XCTAssertTrue(message([bad]).contains("not finite"))
        bad = good; bad.frames = [0, 2, 2]
        XCTAssertTrue(message([bad]).contains("increase strictly"))
        XCTAssertFalse(message([good, good]).contains("\n"))
    }
}
