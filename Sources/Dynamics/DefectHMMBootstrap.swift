// Confidence intervals of the joint HMM: bootstrap over tracks, the whole model refitted on
// every resample (EM warm-started from the point estimate, same hidden states).

import Core
import Foundation

/// How a bootstrap interval is read from the replicates (Efron & Tibshirani, An Introduction
/// to the Bootstrap, 1993, ch. 13–14).
public enum HMMIntervalMethod: String, Sendable, Equatable, CaseIterable {
    /// The replicates' α/2 and 1 − α/2 quantiles.
    case percentile
    /// Reflected about the estimate: [2θ̂ − q(1 − α/2), 2θ̂ − q(α/2)], clamped to the physical range.
    case basic
    /// Bias-corrected percentile (BC): the quantile levels shifted by z₀ = Φ⁻¹(share of replicates below θ̂).
    case biasCorrected = "bias-corrected"
}

extension DefectHMMFitter {
    /// Intervals of D, hop rate, T, dwell times and implied timescales. Tracks are cut into
    /// blocks of `blockLength` frames, the units resampled with replacement: steps and
    /// transitions of a Markov chain are nearly independent beyond a frame, so blocks keep the
    /// variance while a movie with a handful of long tracks gets enough units.
    static func bootstrap(_ point: DefectHMMFit, groups: [[Int]], _ tracks: [PreparedTrack], _ o: DefectHMMOptions) -> HMMIntervals {
        let blocks = tracks.flatMap { $0.blocks(length: o.blockLength) }
        let samples = parallelMap(o.bootstrapSamples) { s -> DefectHMMFit in
            var rng = SeededGenerator(seed: o.seed &+ 0x9E37, index: s)
            let resample = (0..<blocks.count).map { _ in blocks[rng.int(blocks.count)] }
            let (refit, _, _, _) = em(point.model, resample, o, maxIterations: o.bootstrapIterations, tolerance: o.bootstrapTolerance)
            return estimates(refit, groups: groups, resample, o)
        }
        return HMMIntervals(point: point, replicates: samples, method: o.intervalMethod, confidence: o.confidence,
                            blockLength: o.blockLength, seed: o.seed)
    }
}

extension HMMIntervals {
    /// The intervals of `point` from its bootstrap `replicates`.
    public init(point: DefectHMMFit, replicates: [DefectHMMFit], method: HMMIntervalMethod, confidence: Double, blockLength: Int, seed: UInt64) {
        let n = point.model.stateCount
        func ci(_ estimate: Double?, _ values: [Double?], range: ClosedRange<Double> = 0...Double.infinity) -> (low: Double, high: Double)? {
            Self.interval(estimate, values, method: method, confidence: confidence, range: range)
        }
        var t = (0..<n).map { i in (0..<n).map { j in ci(point.model.transition[i][j], replicates.map { $0.model.transition[i][j] }, range: 0...1) } }
        // D and the hop rate of a lattice state are proportional to its hop count: neither interval
        // may be narrower than that count's exact Poisson interval. Below one hop, what a hop is worth
        // comes from the movie's hops (D) or the state's step frames (rate).
        func counted(_ k: Int, _ estimate: Double?, _ values: [Double?], perHop: Double?) -> (low: Double, high: Double)? {
            let s = point.states[k]
            let belowOne = s.weightedStepFrames > 0 ? perHop.map { $0 / s.weightedStepFrames } : nil
            return Self.widened(ci(estimate, values), estimate: estimate, count: s.effectiveHops, perHopBelowOne: belowOne, confidence: confidence)
        }
        // A state never left (one state: T = [[1]]) has no exit to resample; its stay probability and
        // dwell time get the exact binomial bounds of no exit in its transitions instead.
        let neverLeft = (0..<n).map { k in point.model.transition[k][k] >= 1 ? Self.noExitStayBound(transitions: point.states[k].transitions, confidence: confidence) : nil }
        for k in 0..<n {
            guard let low = neverLeft[k] else { continue }
            t[k] = (0..<n).map { j -> (low: Double, high: Double)? in j == k ? (low, 1) : (0, 1 - low) }
        }
        self.init(
            D: (0..<n).map { k in counted(k, point.states[k].D, replicates.map { $0.states[k].D }, perHop: point.hopContribution) },
            hopRate: (0..<n).map { k in counted(k, point.states[k].hopRate, replicates.map { $0.states[k].hopRate }, perHop: 1) },
            dwellFrames: (0..<n).map { k in
                neverLeft[k].map { (1 / (1 - $0), .infinity) }
                    ?? ci(point.states[k].dwellFrames, replicates.map { $0.states[k].dwellFrames }, range: 1...Double.infinity)
            },
            transitionLow: t.map { $0.map { $0?.low ?? .nan } }, transitionHigh: t.map { $0.map { $0?.high ?? .nan } },
            timescales: (0..<max(n - 1, 0)).map { i in
                ci(point.timescales.indices.contains(i) ? point.timescales[i] : nil,
                   replicates.map { $0.timescales.indices.contains(i) ? $0.timescales[i] : nil })
            },
            samples: replicates.count, confidence: confidence, blockLength: blockLength, seed: seed, method: method,
            replicates: replicates)
    }

    /// One interval from the replicates of a quantity (nil: undefined in half of them or more,
    /// or no estimate). Infinite replicates (an absorbing state's timescale) count as large.
    public static func interval(_ estimate: Double?, _ values: [Double?], method: HMMIntervalMethod, confidence: Double,
                                range: ClosedRange<Double> = 0...Double.infinity) -> (low: Double, high: Double)? {
        let v = values.compactMap { $0 }.filter { !$0.isNaN }.sorted()
        guard let e = estimate, !e.isNaN, v.count >= max(values.count / 2, 1) else { return nil }
        let alpha = (1 - confidence) / 2
        func q(_ p: Double) -> Double { Statistics.quantile(sorted: v, min(max(p, 0), 1)) }
        switch method {
        case .percentile:
            return (q(alpha), q(1 - alpha))
        case .basic:
            guard e.isFinite else { return (q(alpha), q(1 - alpha)) }
            let low = 2 * e - q(1 - alpha), high = 2 * e - q(alpha)
            return (min(max(low.isNaN ? range.lowerBound : low, range.lowerBound), range.upperBound),
                    max(min(high.isNaN ? range.upperBound : high, range.upperBound), range.lowerBound))
        case .biasCorrected:
            // Ties count half, so a quantity pinned at a bound (all replicates equal) gets z₀ = 0.
            let below = Double(v.filter { $0 < e }.count) + 0.5 * Double(v.filter { $0 == e }.count)
            let share = min(max(below / Double(v.count), 0.5 / Double(v.count)), 1 - 0.5 / Double(v.count))
            let z0 = normalQuantile(share), z = normalQuantile(1 - alpha)
            return (q(normalCDF(2 * z0 - z)), q(normalCDF(2 * z0 + z)))
        }
    }

    /// The bootstrap interval of a quantity proportional to a Poisson count of `count` events,
    /// widened on each side to the count's exact (Garwood) interval scaled to the estimate. The
    /// bootstrap reads the count's spread at the count seen, so a state seen hopping less than its
    /// rate gets an interval too narrow exactly where the truth lies above it (a slow state's 3–12
    /// hops); the Garwood interval is exact for the count (Garwood, Biometrika 28, 437 (1936)).
    /// The bootstrap stays where it is wider: state assignment, multiple hops, noise. Below one
    /// hop (a slow state seen not hopping at all: the bootstrap gives [0, 0]) an estimate cannot be
    /// scaled: each hop is worth `perHopBelowOne`, the lower end 0 and the upper the count's upper
    /// bound (χ²(2; 1 − α/2)/2 = 3.69 hops for none seen).
    static func widened(_ ci: (low: Double, high: Double)?, estimate: Double?, count: Double?, perHopBelowOne: Double? = nil,
                        confidence: Double) -> (low: Double, high: Double)? {
        guard let ci, let e = estimate, let n = count, n >= 0, e.isFinite else { return ci }
        if n >= 1, e > 0 {
            let (low, high) = poissonMeanBounds(count: n, confidence: confidence)
            return (min(ci.low, e * low / n), max(ci.high, e * high / n))
        }
        guard n < 1, let worth = perHopBelowOne, worth > 0, worth.isFinite else { return ci }
        return (0, max(ci.high, worth * poissonUpperBound(count: n, confidence: confidence)))
    }

    /// The lower confidence bound of a stay probability seen in `transitions` one-frame trials with
    /// no exit: (α/2)^(1/n), the exact (Clopper–Pearson) bound for zero events (Clopper & Pearson,
    /// Biometrika 26, 404 (1934)); its upper bound is 1. Nil below one transition.
    static func noExitStayBound(transitions n: Double, confidence: Double) -> Double? {
        n >= 1 ? pow((1 - confidence) / 2, 1 / n) : nil
    }

    /// Garwood bounds of a Poisson mean from an observed count n (real-valued: posterior-weighted):
    /// [χ²(2n; α/2)/2, χ²(2n + 2; 1 − α/2)/2], the χ² quantiles by Wilson–Hilferty (Wilson &
    /// Hilferty, PNAS 17, 684 (1931); within 3 % of the exact bounds from n = 3 on, the upper from n = 1).
    static func poissonMeanBounds(count n: Double, confidence: Double) -> (low: Double, high: Double) {
        let z = normalQuantile(1 - (1 - confidence) / 2)
        return (chiSquareQuantile(2 * n, z: -z) / 2, poissonUpperBound(count: n, confidence: confidence))
    }

    /// The Garwood upper bound alone, χ²(2n + 2; 1 − α/2)/2 (Wilson–Hilferty; defined from n = 0: 3.67
    /// against the exact −ln(α/2) = 3.69 at 95 %).
    static func poissonUpperBound(count n: Double, confidence: Double) -> Double {
        chiSquareQuantile(2 * n + 2, z: normalQuantile(1 - (1 - confidence) / 2)) / 2
    }

    /// The χ² quantile of ν degrees of freedom at the normal quantile z (Wilson–Hilferty).
    static func chiSquareQuantile(_ nu: Double, z: Double) -> Double {
        let c = 2 / (9 * nu)
        return nu * pow(max(1 - c + z * c.squareRoot(), 0), 3)
    }

    static func normalCDF(_ x: Double) -> Double { 0.5 * erfc(-x / 2.squareRoot()) }

    /// Φ⁻¹ by bisection on erfc (60 halvings: below 1e-15 on the [−40, 40] bracket).
    static func normalQuantile(_ p: Double) -> Double {
        var lo = -40.0, hi = 40.0
        for _ in 0..<60 { let mid = (lo + hi) / 2; if normalCDF(mid) < p { lo = mid } else { hi = mid } }
        return (lo + hi) / 2
    }
}
