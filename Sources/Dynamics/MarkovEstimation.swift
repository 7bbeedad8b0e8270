// Maximum-likelihood transition matrices (non-reversible and reversible) on the
// largest strongly connected set, and the model they define.

import Foundation

/// Settings of the maximum-likelihood estimator.
public struct MarkovEstimator: Sendable {
    /// Enforce detailed balance (reversible MLE) or not (row-normalised counts).
    public var reversible: Bool
    /// Stop the reversible fixed-point iteration when the largest relative change of
    /// the stationary distribution falls below this (deeptime's default, 1e-8).
    public var tolerance: Double
    /// Iteration cap of the reversible fixed-point iteration.
    public var maxIterations: Int
    /// When true, counts that split into several strongly connected sets are an
    /// error; when false (default) the largest set is used and the rest is reported.
    public var requireConnected: Bool

    public init(reversible: Bool = true, tolerance: Double = 1e-8, maxIterations: Int = 1_000_000,
                requireConnected: Bool = false) {
        self.reversible = reversible
        self.tolerance = tolerance
        self.maxIterations = maxIterations
        self.requireConnected = requireConnected
    }

    /// Estimates a Markov state model from counts. `stateNames` names all declared
    /// states (default "0", "1", …); states outside the largest connected set are
    /// listed in the model's `excludedStates`. Tracks that never change state give a
    /// one-state model, T = [[1]]: a result (no class change seen), not an error.
    public func fit(_ counts: TransitionCounts, stateNames: [String]? = nil) throws -> MarkovStateModel {
        let n = counts.stateCount
        let names = stateNames ?? (0..<n).map(String.init)
        guard names.count == n else {
            throw MarkovError.invalidArgument("\(names.count) state names given for \(n) states")
        }
        guard tolerance > 0, maxIterations > 0 else {
            throw MarkovError.invalidArgument("tolerance and maxIterations must be positive")
        }
        guard counts.pairCount > 0, counts.matrix.values.contains(where: { $0 > 0 }) else {
            throw MarkovError.noTransitions(lag: counts.options.lag)
        }
        let connectivity = MarkovConnectivity(counts: counts.matrix)
        if requireConnected, !connectivity.isConnected {
            throw MarkovError.disconnected(components: connectivity.components.map { $0.map { names[$0] } })
        }
        let active = connectivity.largest
        let c = counts.matrix.restricted(to: active)
        let fit = try estimate(c, activeNames: active.map { names[$0] })
        return MarkovStateModel(
            counting: counts.options, reversible: reversible, stateNames: names, activeStates: active,
            connectivity: connectivity, counts: c, transitionMatrix: fit.t, stationary: fit.pi,
            iterations: fit.iterations, converged: fit.converged)
    }

    /// Counts and fits in one call.
    public func fit(_ trajectories: [StateTrajectory], stateCount: Int? = nil,
                    options: MarkovCountingOptions, stateNames: [String]? = nil) throws -> MarkovStateModel {
        try fit(TransitionCounts(trajectories, stateCount: stateCount ?? stateNames?.count, options: options),
                stateNames: stateNames)
    }

    /// The transition matrix and stationary distribution of a (connected) count matrix.
    func estimate(_ c: MarkovMatrix, activeNames: [String]) throws
        -> (t: MarkovMatrix, pi: [Double], iterations: Int, converged: Bool) {
        for i in 0..<c.size where c.rowSum(i) <= 0 { throw MarkovError.emptyRow(name: activeNames[i]) }
        if reversible { return try reversibleMLE(c) }
        let t = markovRowNormalized(c)
        return (t, try t.stationaryDistribution(), 0, true)
    }

    /// The fixed-point iteration of Bowman et al. (2009) / Prinz et al. (2011) in the
    /// form deeptime uses: iterate the stationary weights x_i until
    /// x_i ∝ Σ_j (c_ij + c_ji) / (c_i/x_i + c_j/x_j), then
    /// T_ij ∝ (c_ij + c_ji) / (c_i/x_i + c_j/x_j). Detailed balance holds by construction.
    func reversibleMLE(_ c: MarkovMatrix) throws -> (t: MarkovMatrix, pi: [Double], iterations: Int, converged: Bool) {
        let n = c.size
        var cct = [Double](repeating: 0, count: n * n), rowC = [Double](repeating: 0, count: n)
        for i in 0..<n {
            for j in 0..<n { cct[i * n + j] = c[i, j] + c[j, i]; rowC[i] += c[i, j] }
        }
        var x = [Double](repeating: 0, count: n), xNew = [Double](repeating: 0, count: n)
        var q = [Double](repeating: 0, count: n)
        var total = 0.0
        for i in 0..<n { for j in 0..<n { xNew[i] += cct[i * n + j] }; total += xNew[i] }
        for i in 0..<n { xNew[i] /= total }
        var iterations = 0, change = Double.infinity
        cct.withUnsafeBufferPointer { cc in
            repeat {
                swap(&x, &xNew)
                for i in 0..<n { q[i] = rowC[i] / x[i] }
                var norm = 0.0
                for i in 0..<n {
                    var s = 0.0
                    let qi = q[i]
                    for j in 0..<n { s += cc[i * n + j] / (qi + q[j]) }
                    xNew[i] = s
                    norm += s
                }
                change = 0
                for i in 0..<n {
                    xNew[i] /= norm
                    let mean = 0.5 * (x[i] + xNew[i])
                    if mean > 0 { change = max(change, abs(x[i] - xNew[i]) / mean) }
                }
                iterations += 1
            } while change > tolerance && iterations < maxIterations
        }
        guard xNew.allSatisfy({ $0.isFinite && $0 > 0 }) else {
            throw MarkovError.estimationFailed("reversible MLE produced a zero or non-finite stationary weight")
        }
        var t = MarkovMatrix(size: n)
        for i in 0..<n { q[i] = rowC[i] / xNew[i] }
        for i in 0..<n {
            var s = 0.0
            for j in 0..<n { let v = cct[i * n + j] / (q[i] + q[j]); t[i, j] = v; s += v }
            for j in 0..<n { t[i, j] /= s }
        }
        return (t, xNew, iterations, change <= tolerance)
    }
}

/// Rows of `c` divided by their sums (the non-reversible MLE).
func markovRowNormalized(_ c: MarkovMatrix) -> MarkovMatrix {
    var t = c
    for i in 0..<c.size {
        let s = c.rowSum(i)
        for j in 0..<c.size { t[i, j] = s > 0 ? c[i, j] / s : 0 }
    }
    return t
}

extension MarkovMatrix {
    /// Stationary distribution π = πT of an irreducible stochastic matrix: solves
    /// (Tᵀ − I)π = 0 with one equation replaced by Σπ = 1 (Gaussian elimination with
    /// partial pivoting).
    public func stationaryDistribution() throws -> [Double] {
        let t = self
        let n = t.size
        var a = [Double](repeating: 0, count: n * n), b = [Double](repeating: 0, count: n)
        for i in 0..<n { for j in 0..<n { a[i * n + j] = t[j, i] - (i == j ? 1 : 0) } }
        for j in 0..<n { a[(n - 1) * n + j] = 1 }
        b[n - 1] = 1
        for col in 0..<n {
            var p = col
            for r in (col + 1)..<n where abs(a[r * n + col]) > abs(a[p * n + col]) { p = r }
            guard abs(a[p * n + col]) > 1e-300 else {
                throw MarkovError.estimationFailed("transition matrix has no unique stationary distribution")
            }
            if p != col {
                for j in 0..<n { a.swapAt(p * n + j, col * n + j) }
                b.swapAt(p, col)
            }
            for r in (col + 1)..<n {
                let f = a[r * n + col] / a[col * n + col]
                if f == 0 { continue }
                for j in col..<n { a[r * n + j] -= f * a[col * n + j] }
                b[r] -= f * b[col]
            }
        }
        var pi = [Double](repeating: 0, count: n)
        for i in stride(from: n - 1, through: 0, by: -1) {
            var s = b[i]
            for j in (i + 1)..<n { s -= a[i * n + j] * pi[j] }
            pi[i] = s / a[i * n + i]
        }
        // Round-off can leave tiny negatives; clip and renormalise.
        for i in 0..<n { pi[i] = max(pi[i], 0) }
        let s = pi.reduce(0, +)
        return pi.map { $0 / s }
    }
}

/// A Markov state model: transition matrix at lag τ on the largest connected set.
public struct MarkovStateModel: Sendable {
    /// How the counts were taken (lag, mode, gap rule).
    public let counting: MarkovCountingOptions
    /// True for the reversible (detailed-balance) estimate.
    public let reversible: Bool
    /// Names of all declared states (indexed by state id).
    public let stateNames: [String]
    /// Ids of the states in the model, ascending; matrix index k is state `activeStates[k]`.
    public let activeStates: [Int]
    /// Connected sets of the full count matrix.
    public let connectivity: MarkovConnectivity
    /// Counts restricted to the active set.
    public let counts: MarkovMatrix
    /// Row-stochastic transition matrix at lag τ on the active set.
    public let transitionMatrix: MarkovMatrix
    /// Stationary distribution on the active set.
    public let stationary: [Double]
    /// Fixed-point iterations used (0 for the non-reversible estimate).
    public let iterations: Int
    /// False when the reversible iteration hit its cap before the tolerance.
    public let converged: Bool

    /// Lag time τ in frames.
    public var lag: Int { counting.lag }
    /// Declared states left out of the model (not in the largest connected set).
    public var excludedStates: [Int] { connectivity.excluded }
    /// Names of the states in the model.
    public var activeStateNames: [String] { activeStates.map { stateNames[$0] } }

    /// Eigenvalues of the transition matrix, largest modulus first.
    public func eigenvalues() throws -> [MarkovComplex] { try transitionMatrix.eigenvalues() }

    /// Implied timescales t_i = −τ / ln|λ_i| (frames) for i = 1 … n−1, slowest first;
    /// +∞ where |λ_i| = 1 (e.g. a periodic chain).
    public func timescales() throws -> [Double] {
        try timescalesFromEigenvalues(eigenvalues(), lag: lag)
    }
}

/// −τ / ln|λ| for all but the first (stationary) eigenvalue. |λ| within 1e-12 of 1 counts
/// as 1 (+∞): a periodic chain's unit-modulus eigenvalues come out of LAPACK a few ulps
/// below 1, and a timescale beyond 10¹² τ is rounding noise, not a measurement.
func timescalesFromEigenvalues(_ eigenvalues: [MarkovComplex], lag: Int) -> [Double] {
    eigenvalues.dropFirst().map { ev in
        let m = ev.magnitude
        if m >= 1 - 1e-12 { return .infinity }
        if m == 0 { return 0 }
        return -Double(lag) / log(m)
    }
}
