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
        let t = (0..<n).map { i in (0..<n).map { j in ci(point.model.transition[i][j], replicates.map { $0.model.transition[i][j] }, range: 0...1) } }
        self.init(
            D: (0..<n).map { k in ci(point.states[k].D, replicates.map { $0.states[k].D }) },
            hopRate: (0..<n).map { k in ci(point.states[k].hopRate, replicates.map { $0.states[k].hopRate }) },
            dwellFrames: (0..<n).map { k in ci(point.states[k].dwellFrames, replicates.map { $0.states[k].dwellFrames }, range: 1...Double.infinity) },
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

    static func normalCDF(_ x: Double) -> Double { 0.5 * erfc(-x / 2.squareRoot()) }

    /// Φ⁻¹ by bisection on erfc (60 halvings: below 1e-15 on the [−40, 40] bracket).
    static func normalQuantile(_ p: Double) -> Double {
        var lo = -40.0, hi = 40.0
        for _ in 0..<60 { let mid = (lo + hi) / 2; if normalCDF(mid) < p { lo = mid } else { hi = mid } }
        return (lo + hi) / 2
    }
}
