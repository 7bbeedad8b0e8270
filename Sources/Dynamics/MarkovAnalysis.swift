// Model validation: implied timescales as a function of lag, and the
// Chapman–Kolmogorov test T(kτ) ≈ T(τ)^k.

import Foundation

/// Implied timescales of a model estimated at one lag (one point of the ITS plot).
public struct ImpliedTimescalePoint: Sendable {
    /// Lag τ in frames.
    public let lag: Int
    /// Timescales in frames, slowest first (empty when no model could be estimated).
    public let timescales: [Double]
    /// Number of states in the active set at this lag.
    public let activeStateCount: Int
    /// Why no model could be estimated at this lag (nil when it was).
    public let failure: String?
}

extension MarkovEstimator {
    /// Implied timescales for each lag in `lags` (data for the usual plot: a Markovian
    /// model gives timescales that are flat in τ). A lag with too little data gives a
    /// point with a `failure` reason instead of stopping the scan.
    public func impliedTimescales(_ trajectories: [StateTrajectory], stateCount: Int? = nil, lags: [Int],
                                  mode: MarkovCountingMode = .sliding,
                                  bridgeGaps: Bool = false) throws -> [ImpliedTimescalePoint] {
        guard !lags.isEmpty else { throw MarkovError.invalidArgument("no lags given for implied timescales") }
        if let bad = lags.first(where: { $0 < 1 }) { throw MarkovError.invalidLag(bad) }
        return try lags.map { lag in
            let counts = try TransitionCounts(trajectories, stateCount: stateCount,
                                              options: MarkovCountingOptions(lag: lag, mode: mode, bridgeGaps: bridgeGaps))
            do {
                let model = try fit(counts)
                return ImpliedTimescalePoint(lag: lag, timescales: try model.timescales(),
                                             activeStateCount: model.activeStates.count, failure: nil)
            } catch let e as MarkovError {
                return ImpliedTimescalePoint(lag: lag, timescales: [], activeStateCount: 0, failure: e.description)
            }
        }
    }

    /// Chapman–Kolmogorov test of `model` for k = 1 … `steps`: compares T(τ)^k with a
    /// model estimated directly at lag kτ on the same active set.
    public func chapmanKolmogorov(_ model: MarkovStateModel, trajectories: [StateTrajectory],
                                  steps: Int) throws -> ChapmanKolmogorovTest {
        guard steps >= 1 else { throw MarkovError.invalidArgument("Chapman–Kolmogorov test needs steps ≥ 1, got \(steps)") }
        let names = model.activeStateNames
        var predicted: [MarkovMatrix] = [], estimated: [MarkovMatrix] = [], errors: [MarkovMatrix] = []
        for k in 1...steps {
            var options = model.counting
            options.lag = model.lag * k
            let all = try TransitionCounts(trajectories, stateCount: model.stateNames.count, options: options)
            let c = all.matrix.restricted(to: model.activeStates)
            let t = try estimate(c, activeNames: names).t
            var se = MarkovMatrix(size: c.size)
            for i in 0..<c.size {
                let ni = c.rowSum(i)
                for j in 0..<c.size { se[i, j] = (t[i, j] * (1 - t[i, j]) / ni).squareRoot() }
            }
            predicted.append(model.transitionMatrix.power(k))
            estimated.append(t)
            errors.append(se)
        }
        return ChapmanKolmogorovTest(lag: model.lag, stateNames: names, predicted: predicted,
                                     estimated: estimated, standardErrors: errors)
    }
}

/// Result of a Chapman–Kolmogorov test; index k−1 holds step k (lag kτ).
public struct ChapmanKolmogorovTest: Sendable {
    /// Base lag τ (frames).
    public let lag: Int
    /// Names of the active states (matrix order).
    public let stateNames: [String]
    /// T(τ)^k.
    public let predicted: [MarkovMatrix]
    /// T(kτ) estimated from the data.
    public let estimated: [MarkovMatrix]
    /// Multinomial standard errors √(p(1−p)/n_i) of the estimated entries.
    public let standardErrors: [MarkovMatrix]

    /// Largest |predicted − estimated| entry per step.
    public var maxDeviation: [Double] {
        zip(predicted, estimated).map { p, e in zip(p.values, e.values).map { abs($0 - $1) }.max() ?? 0 }
    }

    /// Fraction of entries per step whose deviation is within `z` standard errors
    /// (entries with zero error count as within when the deviation is below 1e-12).
    public func fractionWithin(z: Double = 2) -> [Double] {
        (0..<predicted.count).map { k in
            let p = predicted[k].values, e = estimated[k].values, s = standardErrors[k].values
            let ok = p.indices.filter { abs(p[$0] - e[$0]) <= max(z * s[$0], 1e-12) }.count
            return Double(ok) / Double(max(p.count, 1))
        }
    }
}
