import CBLAS
import Core
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Shape of each component's covariance matrix.
public enum CovarianceType: String, Sendable, Codable {
    /// A full symmetric d×d matrix per component.
    case full
    /// Only the d variances per component (axis-aligned ellipsoids).
    case diagonal
}

/// How to fit a Gaussian mixture (defaults follow scikit-learn's `GaussianMixture`).
public struct GMMConfiguration: Sendable {
    /// Number of mixture components k.
    public var components: Int
    public var covarianceType: CovarianceType = .full
    /// EM iterations per restart at most.
    public var maxIterations: Int = 100
    /// Stop when the mean log-likelihood per sample changes by less than this (0: never stop early).
    public var tolerance: Double = 1e-3
    /// Added to every covariance diagonal so components never collapse (scikit-learn's `reg_covar`).
    public var regCovar: Double = 1e-6
    /// Independent k-means++ initialisations; the fit with the best likelihood is kept.
    public var restarts: Int = 1
    /// Lloyd iterations after k-means++ seeding, to build the initial responsibilities.
    public var kmeansIterations: Int = 10
    /// Seed of restart r is `seed + r`; record it with the results.
    public var seed: UInt64 = 0

    public init(components: Int, covarianceType: CovarianceType = .full) {
        self.components = components
        self.covarianceType = covarianceType
    }
}

/// A fitted Gaussian mixture. Means are k×d row-major; covariances are k×d×d (full,
/// symmetric) or k×d (diagonal variances).
public struct GaussianMixtureModel: Sendable {
    public let covarianceType: CovarianceType
    public let dimension: Int
    public internal(set) var weights: [Double]
    public internal(set) var means: [Double]
    public internal(set) var covariances: [Double]
    /// Mean log-likelihood per sample at the last E-step (scikit-learn's `lower_bound_`).
    public internal(set) var logLikelihood: Double = -.infinity
    /// EM iterations run by the kept restart.
    public internal(set) var iterations: Int = 0
    /// Whether the kept restart met the tolerance before `maxIterations`.
    public internal(set) var converged: Bool = false
    /// Seed of the kept restart.
    public internal(set) var seed: UInt64 = 0

    public var components: Int { weights.count }

    /// Builds a model from explicit parameters (e.g. to start EM from a known initialisation).
    public init(covarianceType: CovarianceType, weights: [Double], means: [Double], covariances: [Double]) throws {
        let k = weights.count
        guard k > 0 else { throw DefectLibraryError.emptyData("no mixture weights") }
        guard means.count % k == 0, means.count > 0 else {
            throw DefectLibraryError.shapeMismatch("\(means.count) mean values for \(k) components")
        }
        let d = means.count / k
        let expected = covarianceType == .full ? k * d * d : k * d
        guard covariances.count == expected else {
            throw DefectLibraryError.shapeMismatch("\(covariances.count) covariance values, expected \(expected)")
        }
        self.covarianceType = covarianceType
        self.dimension = d
        self.weights = weights
        self.means = means
        self.covariances = covariances
    }

    /// Number of free parameters (for BIC/AIC), as scikit-learn counts them.
    public var parameterCount: Int {
        let k = components, d = dimension
        let cov = covarianceType == .full ? k * d * (d + 1) / 2 : k * d
        return (k - 1) + k * d + cov
    }

    /// Posterior class probabilities, n×k row-major.
    public func predictProbabilities(_ x: FeatureMatrix) throws -> FeatureMatrix {
        let engine = try MixtureEngine(data: x, groupSize: 1, model: self)
        let (_, resp) = engine.expectation()
        return try FeatureMatrix(rows: x.rows, columns: components, values: resp)
    }

    /// Most probable component of each sample.
    public func predict(_ x: FeatureMatrix) throws -> [Int] {
        let p = try predictProbabilities(x)
        return (0..<p.rows).map { i in argmax(p.values[(i * p.columns)..<((i + 1) * p.columns)]) }
    }

    /// Mean log-likelihood per sample.
    public func score(_ x: FeatureMatrix) throws -> Double {
        try MixtureEngine(data: x, groupSize: 1, model: self).expectation().meanLogLikelihood
    }

    /// Bayesian information criterion, −2 log L + p ln n (lower is better).
    public func bic(_ x: FeatureMatrix) throws -> Double {
        -2 * (try score(x)) * Double(x.rows) + Double(parameterCount) * log(Double(x.rows))
    }

    /// Akaike information criterion, −2 log L + 2p (lower is better).
    public func aic(_ x: FeatureMatrix) throws -> Double {
        -2 * (try score(x)) * Double(x.rows) + 2 * Double(parameterCount)
    }
}

func argmax<C: Collection>(_ c: C) -> Int where C.Element == Double {
    var best = 0, bestValue = -Double.infinity
    for (i, v) in c.enumerated() where v > bestValue { best = i; bestValue = v }
    return best
}

/// Fits Gaussian mixtures by expectation–maximisation.
public enum GaussianMixture {
    /// Fits `config.components` components with k-means++ initialisation, keeping the best of
    /// `config.restarts` runs by likelihood.
    public static func fit(_ x: FeatureMatrix, configuration config: GMMConfiguration) throws -> GaussianMixtureModel {
        try fitGrouped(x, groupSize: 1, configuration: config)
    }

    /// Runs EM from the given initial parameters (no k-means, no restarts): the same start
    /// scikit-learn uses when given `weights_init`, `means_init` and `precisions_init`.
    public static func fit(_ x: FeatureMatrix, initial: GaussianMixtureModel,
                           configuration config: GMMConfiguration) throws -> GaussianMixtureModel {
        try validate(x, config, groupSize: 1)
        guard initial.dimension == x.columns, initial.components == config.components,
              initial.covarianceType == config.covarianceType else {
            throw DefectLibraryError.shapeMismatch("initial model does not match data or configuration")
        }
        var engine = try MixtureEngine(data: x, groupSize: 1, model: initial)
        var model = try engine.run(config)
        model.seed = config.seed
        return model
    }

    /// EM where each consecutive block of `groupSize` rows holds alternative views of one
    /// sample (e.g. its rotations); the view is a latent variable summed over uniformly.
    static func fitGrouped(_ x: FeatureMatrix, groupSize: Int,
                           configuration config: GMMConfiguration) throws -> GaussianMixtureModel {
        try validate(x, config, groupSize: groupSize)
        var best: GaussianMixtureModel?
        for r in 0..<config.restarts {
            let seed = config.seed &+ UInt64(r)
            var rng = SeededGenerator(seed: seed)
            let resp = kMeansResponsibilities(x, groupSize: groupSize, k: config.components,
                                              iterations: config.kmeansIterations, rng: &rng)
            var engine = try MixtureEngine(data: x, groupSize: groupSize, responsibilities: resp,
                                           configuration: config)
            var model = try engine.run(config)
            model.seed = seed
            if best == nil || model.logLikelihood > best!.logLikelihood { best = model }
        }
        return best!
    }

    static func validate(_ x: FeatureMatrix, _ c: GMMConfiguration, groupSize: Int) throws {
        guard x.rows > 0, x.columns > 0 else { throw DefectLibraryError.emptyData("empty feature matrix") }
        guard c.components >= 1 else { throw DefectLibraryError.invalidParameter("components must be ≥ 1") }
        guard groupSize >= 1, x.rows % groupSize == 0 else {
            throw DefectLibraryError.shapeMismatch("\(x.rows) rows are not groups of \(groupSize)")
        }
        guard x.rows / groupSize >= c.components else {
            throw DefectLibraryError.tooFewSamples(samples: x.rows / groupSize, components: c.components)
        }
        guard c.maxIterations >= 1, c.restarts >= 1, c.regCovar >= 0, c.tolerance >= 0 else {
            throw DefectLibraryError.invalidParameter("maxIterations and restarts must be ≥ 1, regCovar and tolerance ≥ 0")
        }
        guard x.values.allSatisfy({ $0.isFinite }) else {
            throw DefectLibraryError.invalidParameter("feature matrix contains NaN or infinity")
        }
    }
}
