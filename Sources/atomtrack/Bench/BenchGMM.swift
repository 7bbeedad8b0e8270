import ArgumentParser
import Core
import CBLAS
import DefectLibrary
import Dispatch
import Foundation

/// `atomtrack bench gmm`: our EM against scikit-learn's (scripts/bench_gmm_sklearn.py) on the
/// same seeded data, the same initialisation and the same number of iterations.
struct BenchGMM: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gmm",
        abstract: "Time Gaussian-mixture EM (full covariance) on seeded synthetic data.",
        discussion: """
        Data: `samples` points in `features` dimensions from `components` Gaussian clusters, \
        generated with SeededGenerator (seed 2026) + Box–Muller exactly as scripts/bench_gmm_sklearn.py \
        does, so both tools fit identical data. EM starts from the first point of every cluster, \
        identity covariances and equal weights, and runs exactly `iterations` steps (tolerance 0).

        Compare with: python scripts/bench_gmm_sklearn.py --threads 2
        """)

    @Option(help: "Number of samples.") var samples = 5000
    @Option(help: "Feature dimension.") var features = 64
    @Option(help: "Mixture components.") var components = 5
    @Option(help: "EM iterations (run exactly, tolerance 0).") var iterations = 100
    @Option(help: "OpenBLAS threads.") var threads = 2
    @Option(help: "Timed repetitions (the median is reported).") var repeats = 5
    @Option(help: "Covariance type: full or diagonal.") var covariance = "full"

    func validate() throws {
        guard samples >= components, features >= 1, components >= 1, iterations >= 1, threads >= 1, repeats >= 1 else {
            throw ValidationError("samples ≥ components ≥ 1, features, iterations, threads and repeats ≥ 1")
        }
        guard CovarianceType(rawValue: covariance) != nil else {
            throw ValidationError("covariance must be 'full' or 'diagonal'")
        }
    }

    func run() throws {
        openblas_set_num_threads(Int32(threads))
        let type = CovarianceType(rawValue: covariance)!
        let x = try Self.benchData(samples: samples, features: features, components: components)
        let d = features
        let means = Array(x.values[0..<(components * d)])   // row c has label c
        var identity = [Double](repeating: 0, count: d * d)
        for j in 0..<d { identity[j * d + j] = 1 }
        let cov = type == .full ? Array((0..<components).map { _ in identity }.joined())
                                : [Double](repeating: 1, count: components * d)
        let initial = try GaussianMixtureModel(covarianceType: type, weights: .init(repeating: 1 / Double(components), count: components),
                                               means: means, covariances: cov)
        var config = GMMConfiguration(components: components, covarianceType: type)
        config.maxIterations = iterations
        config.tolerance = 0
        var times = [Double](), model: GaussianMixtureModel?
        for _ in 0..<repeats {
            let t0 = DispatchTime.now().uptimeNanoseconds
            model = try GaussianMixture.fit(x, initial: initial, configuration: config)
            times.append(Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9)
        }
        times.sort()
        let m = model!
        print("AtomTrack GMM  n=\(samples) d=\(features) k=\(components) cov=\(covariance) iterations=\(m.iterations) " +
              "openblas_threads=\(threads) core=\(String(cString: openblas_get_corename()))")
        print(String(format: "  fit time: median %.4f s, best %.4f s over %d runs (%.2f ms/iteration)",
                     times[times.count / 2], times[0], repeats, 1000 * times[times.count / 2] / Double(m.iterations)))
        print(String(format: "  final lower bound (mean log-likelihood): %.10f", m.logLikelihood))
    }

    /// Seeded clusters: centre_c = 3·N(0, I), point = centre_{i mod k} + (0.5 + 0.25 c)·N(0, I).
    static func benchData(samples: Int, features d: Int, components k: Int) throws -> FeatureMatrix {
        var rng = SeededGenerator(seed: 2026)   // mirrored in scripts/bench_gmm_sklearn.py
        let centres = (0..<(k * d)).map { _ in 3 * rng.normal() }
        var v = [Double](repeating: 0, count: samples * d)
        for i in 0..<samples {
            let c = i % k, scale = 0.5 + 0.25 * Double(c)
            for j in 0..<d { v[i * d + j] = centres[c * d + j] + scale * rng.normal() }
        }
        return try FeatureMatrix(rows: samples, columns: d, values: v)
    }
}
