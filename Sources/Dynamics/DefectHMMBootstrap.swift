// Confidence intervals of the joint HMM: bootstrap over tracks, the whole model refitted
// on every resample (EM warm-started from the point estimate, same hidden states).

import Core
import Foundation

extension DefectHMMFitter {
    /// Percentile intervals of D, hop rate, T, dwell times and implied timescales. Tracks are
    /// cut into blocks of `blockLength` frames, the units resampled with replacement: steps
    /// and transitions of a Markov chain are nearly independent beyond a frame, so blocks
    /// keep the variance while a movie with a handful of long tracks gets enough units.
    static func bootstrap(_ model: DefectHMM, groups: [[Int]], _ tracks: [PreparedTrack], _ o: DefectHMMOptions) -> HMMIntervals {
        let blocks = tracks.flatMap { $0.blocks(length: o.blockLength) }
        let n = model.stateCount
        let samples = parallelMap(o.bootstrapSamples) { s -> DefectHMMFit in
            var rng = SeededGenerator(seed: o.seed &+ 0x9E37, index: s)
            let resample = (0..<blocks.count).map { _ in blocks[rng.int(blocks.count)] }
            let (refit, _, _, _) = em(model, resample, o, maxIterations: o.bootstrapIterations)
            return estimates(refit, groups: groups, resample, o)
        }
        let alpha = (1 - o.confidence) / 2
        func interval(_ values: [Double?]) -> (low: Double, high: Double)? {
            let v = values.compactMap { $0 }.filter { !$0.isNaN }.sorted()
            guard v.count >= max(samples.count / 2, 1) else { return nil }
            return (Statistics.quantile(sorted: v, alpha), Statistics.quantile(sorted: v, 1 - alpha))
        }
        let t = (0..<n).map { i in (0..<n).map { j in interval(samples.map { $0.model.transition[i][j] }) } }
        return HMMIntervals(
            D: (0..<n).map { k in interval(samples.map { $0.states[k].D }) },
            hopRate: (0..<n).map { k in interval(samples.map { $0.states[k].hopRate }) },
            dwellFrames: (0..<n).map { k in interval(samples.map { $0.states[k].dwellFrames }) },
            transitionLow: t.map { $0.map { $0?.low ?? .nan } }, transitionHigh: t.map { $0.map { $0?.high ?? .nan } },
            timescales: (0..<max(n - 1, 0)).map { i in interval(samples.map { $0.timescales.indices.contains(i) ? $0.timescales[i] : nil }) },
            samples: samples.count, confidence: o.confidence, blockLength: o.blockLength, seed: o.seed)
    }
}
