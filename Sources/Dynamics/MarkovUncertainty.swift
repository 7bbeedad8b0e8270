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
        let sampler: MarkovSampler
        switch method {
        case .bootstrapTracks: sampler = try bootstrapSampler(model, trajectories)
        case let .dirichletPosterior(prior): sampler = try dirichletSampler(model, prior: prior)
        }
        let drawn = try drawSamples(samples, with: sampler, seed: seed, lag: model.lag)
        return MarkovUncertainty(method: method, seed: seed, confidence: confidence, samples: drawn,
                                 stateCount: model.activeStates.count)
    }

    /// Resamples whole tracks with replacement, recounts and re-estimates on the model's
    /// active set; nil when a resampled active row has no counts.
    func bootstrapSampler(_ model: MarkovStateModel, _ trajectories: [StateTrajectory]) throws -> MarkovSampler {
        let per = try TransitionCounts.perTrack(trajectories, stateCount: model.stateNames.count, options: model.counting)
        let used = per.counts.indices.filter { per.counts[$0].pairs > 0 }
        guard used.count >= 2 else { throw MarkovError.tooFewTracks(used.count) }
        let n = model.activeStates.count, names = model.activeStateNames
        return { rng in
            var c = MarkovMatrix(size: per.stateCount)
            for _ in used.indices {
                let t = used[rng.int(used.count)]
                let w = trajectories[t].weight
                for (k, v) in per.counts[t].entries { c.values[k] += w * v }
            }
            let sub = c.restricted(to: model.activeStates)
            if (0..<n).contains(where: { sub.rowSum($0) <= 0 }) { return nil }
            let fit = try self.estimate(sub, activeNames: names)
            return (fit.t, fit.pi)
        }
    }
}

/// One resampled (T, π), or nil when the resampled counts cannot give a model.
typealias MarkovSampler = (inout SeededGenerator) throws -> (t: MarkovMatrix, pi: [Double])?

/// Samples each row of T from Dirichlet(c_i + prior) over the entries where c_ij + prior > 0,
/// with sliding-window counts divided by τ first (they overlap; see `dirichletPosterior`).
func dirichletSampler(_ model: MarkovStateModel, prior: Double) throws -> MarkovSampler {
    guard prior >= 0, prior.isFinite else {
        throw MarkovError.invalidArgument("Dirichlet prior must be finite and ≥ 0, got \(prior)")
    }
    var c = model.counts
    if model.counting.mode == .sliding, model.lag > 1 {
        for k in c.values.indices { c.values[k] /= Double(model.lag) }
    }
    let n = c.size
    return { [c] rng in
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

/// The quantities of the accepted samples, one row per sample.
struct MarkovSamples {
    var transitions: [[Double]] = [], stationary: [[Double]] = [], timescales: [[Double]] = []
    /// Samples for which the sampler gave no model or threw.
    var rejected = 0
}

/// Draws `count` samples from one seeded generator; throws unless ≥ 2 give a model.
func drawSamples(_ count: Int, with sampler: MarkovSampler, seed: UInt64, lag: Int) throws -> MarkovSamples {
    var rng = SeededGenerator(seed: seed), drawn = MarkovSamples()
    for _ in 0..<count {
        guard let (t, pi) = try? sampler(&rng) else { drawn.rejected += 1; continue }
        drawn.transitions.append(t.values)
        drawn.stationary.append(pi)
        drawn.timescales.append(timescalesFromEigenvalues(try t.eigenvalues(), lag: lag))
    }
    guard drawn.transitions.count >= 2 else {
        throw MarkovError.estimationFailed("only \(drawn.transitions.count) of \(count) resamples gave a model")
    }
    return drawn
}

/// Central `confidence` percentile interval and standard deviation of each column of `rows`.
func summarize(_ rows: [[Double]], confidence: Double) -> (low: [Double], high: [Double], std: [Double]) {
    let lo = (1 - confidence) / 2, hi = 1 - lo
    let columns = (0..<(rows.first?.count ?? 0)).map { e in rows.map { $0[e] } }
    return (columns.map { Statistics.quantile($0, lo) }, columns.map { Statistics.quantile($0, hi) }, columns.map(standardDeviation))
}

extension MarkovUncertainty {
    /// Summarises the samples of a model with `stateCount` active states.
    init(method: MarkovUncertaintyMethod, seed: UInt64, confidence: Double, samples: MarkovSamples, stateCount n: Int) {
        let t = summarize(samples.transitions, confidence: confidence)
        let pi = summarize(samples.stationary, confidence: confidence)
        let tau = summarize(samples.timescales, confidence: confidence)
        func matrix(_ v: [Double]) -> MarkovMatrix { var m = MarkovMatrix(size: n); m.values = v; return m }
        self.init(method: method, seed: seed, confidence: confidence, samplesUsed: samples.transitions.count,
                  samplesRejected: samples.rejected,
                  transitionLow: matrix(t.low), transitionHigh: matrix(t.high), transitionStd: matrix(t.std),
                  stationaryLow: pi.low, stationaryHigh: pi.high, stationaryStd: pi.std,
                  timescalesLow: tau.low, timescalesHigh: tau.high, timescalesStd: tau.std)
    }
}

/// Sample standard deviation over the finite values (+∞ if any value is infinite).
private func standardDeviation(_ values: [Double]) -> Double {
    if values.contains(where: { !$0.isFinite }) { return .infinity }
    let m = values.reduce(0, +) / Double(values.count)
    let ss = values.reduce(0) { $0 + ($1 - m) * ($1 - m) }
    return (ss / Double(max(values.count - 1, 1))).squareRoot()
}
