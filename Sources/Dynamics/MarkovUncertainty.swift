// Uncertainties of a Markov state model by resampling: a bootstrap over tracks, or a
// simple Bayesian posterior with independent Dirichlet rows.

import Core
import Foundation

/// How the uncertainty samples are drawn.
public enum MarkovUncertaintyMethod: Sendable, Equatable {
    /// Resample whole tracks with replacement, recount, re-estimate with the model's
    /// estimator (reversible or not) on the model's active set. Captures correlations
    /// within tracks; needs ≥ 2 tracks with transitions.
    case bootstrapTracks
    /// Sample each row of T from Dirichlet(c_i + prior) over the entries where
    /// c_ij + prior > 0 (so prior 0 keeps unobserved transitions at zero). This is a
    /// non-reversible Bayesian MSM: samples do not obey detailed balance even when the
    /// model does. Sliding-window counts at lag τ overlap, so they are divided by τ
    /// first (deeptime's "sliding-effective" counts), a first-order correction.
    case dirichletPosterior(prior: Double)

    var name: String {
        switch self {
        case .bootstrapTracks: return "bootstrap over tracks"
        case let .dirichletPosterior(p): return "Dirichlet row posterior (prior \(p))"
        }
    }
}

/// Percentile intervals and standard deviations of a model's quantities over samples.
public struct MarkovUncertainty: Sendable {
    /// How the samples were drawn.
    public let method: MarkovUncertaintyMethod
    /// Seed of the generator; the same seed reproduces the same result.
    public let seed: UInt64
    /// Central probability of the intervals (e.g. 0.95).
    public let confidence: Double
    /// Samples that produced a model.
    public let samplesUsed: Int
    /// Samples dropped because a resampled active-set row had no counts.
    public let samplesRejected: Int
    /// Lower / upper interval bounds and standard deviation of each T entry.
    public let transitionLow: MarkovMatrix, transitionHigh: MarkovMatrix, transitionStd: MarkovMatrix
    /// Same for the stationary distribution.
    public let stationaryLow: [Double], stationaryHigh: [Double], stationaryStd: [Double]
    /// Same for the implied timescales (frames, slowest first).
    public let timescalesLow: [Double], timescalesHigh: [Double], timescalesStd: [Double]
}

extension MarkovEstimator {
    /// Draws `samples` resampled models of `model` and summarises them.
    /// `trajectories` must be the ones the model was estimated from (needed for the
    /// bootstrap; the Dirichlet posterior uses only the model's counts).
    public func uncertainty(of model: MarkovStateModel, trajectories: [StateTrajectory],
                            method: MarkovUncertaintyMethod, samples: Int = 200, confidence: Double = 0.95,
                            seed: UInt64 = 42) throws -> MarkovUncertainty {
        guard samples >= 2 else { throw MarkovError.invalidArgument("uncertainty needs ≥ 2 samples, got \(samples)") }
        guard confidence > 0, confidence < 1 else {
            throw MarkovError.invalidArgument("confidence must lie in (0, 1), got \(confidence)")
        }
        var rng = SeededGenerator(seed: seed)
        let n = model.activeStates.count, names = model.activeStateNames
        var ts: [MarkovMatrix] = [], pis: [[Double]] = [], taus: [[Double]] = []
        var rejected = 0

        // One sample → (T, π); nil when the resampled counts cannot give a model.
        var draw: (inout SeededGenerator) throws -> (MarkovMatrix, [Double])?
        switch method {
        case .bootstrapTracks:
            let per = try TransitionCounts.perTrack(trajectories, stateCount: model.stateNames.count,
                                                    options: model.counting)
            let used = per.counts.indices.filter { per.counts[$0].pairs > 0 }
            guard used.count >= 2 else { throw MarkovError.tooFewTracks(used.count) }
            let full = per.stateCount
            draw = { rng in
                var c = MarkovMatrix(size: full)
                for _ in used.indices {
                    let t = used[Int(rng.next() % UInt64(used.count))]
                    let w = trajectories[t].weight
                    for (k, v) in per.counts[t].entries { c.values[k] += w * v }
                }
                let sub = c.restricted(to: model.activeStates)
                if (0..<n).contains(where: { sub.rowSum($0) <= 0 }) { return nil }
                let fit = try self.estimate(sub, activeNames: names)
                return (fit.t, fit.pi)
            }
        case let .dirichletPosterior(prior):
            guard prior >= 0, prior.isFinite else {
                throw MarkovError.invalidArgument("Dirichlet prior must be finite and ≥ 0, got \(prior)")
            }
            var c = model.counts
            if model.counting.mode == .sliding, model.lag > 1 {
                for k in c.values.indices { c.values[k] /= Double(model.lag) }
            }
            draw = { rng in
                var t = MarkovMatrix(size: n)
                for i in 0..<n {
                    var s = 0.0
                    for j in 0..<n where c[i, j] + prior > 0 {
                        let g = rng.gamma(shape: c[i, j] + prior)
                        t[i, j] = g
                        s += g
                    }
                    guard s > 0 else { return nil }
                    for j in 0..<n { t[i, j] /= s }
                }
                return (t, try t.stationaryDistribution())
            }
        }

        for _ in 0..<samples {
            guard let (t, pi) = try? draw(&rng) else { rejected += 1; continue }
            ts.append(t)
            pis.append(pi)
            taus.append(try timescalesFromEigenvalues(t.eigenvalues(), lag: model.lag))
        }
        guard ts.count >= 2 else {
            throw MarkovError.estimationFailed("only \(ts.count) of \(samples) resamples gave a model")
        }
        let lo = (1 - confidence) / 2, hi = 1 - lo
        func summary(_ columns: [[Double]]) -> (low: [Double], high: [Double], std: [Double]) {
            let k = columns.first?.count ?? 0
            var l = [Double](), h = [Double](), s = [Double]()
            for e in 0..<k {
                let v = columns.map { $0[e] }
                let sorted = v.sorted()
                l.append(Statistics.quantile(sorted: sorted, lo)); h.append(Statistics.quantile(sorted: sorted, hi)); s.append(standardDeviation(v))
            }
            return (l, h, s)
        }
        let tSum = summary(ts.map(\.values)), pSum = summary(pis), tauSum = summary(taus)
        func matrix(_ v: [Double]) -> MarkovMatrix { var m = MarkovMatrix(size: n); m.values = v; return m }
        return MarkovUncertainty(
            method: method, seed: seed, confidence: confidence, samplesUsed: ts.count, samplesRejected: rejected,
            transitionLow: matrix(tSum.low), transitionHigh: matrix(tSum.high), transitionStd: matrix(tSum.std),
            stationaryLow: pSum.low, stationaryHigh: pSum.high, stationaryStd: pSum.std,
            timescalesLow: tauSum.low, timescalesHigh: tauSum.high, timescalesStd: tauSum.std)
    }
}

/// Sample standard deviation over the finite values (+∞ if any value is infinite).
private func standardDeviation(_ values: [Double]) -> Double {
    if values.contains(where: { !$0.isFinite }) { return .infinity }
    let m = values.reduce(0, +) / Double(values.count)
    let ss = values.reduce(0) { $0 + ($1 - m) * ($1 - m) }
    return (ss / Double(max(values.count - 1, 1))).squareRoot()
}
