import XCTest
import DefectLibrary

final class GaussianMixtureTests: XCTestCase {
    /// Our EM from scikit-learn's initialisation must end where scikit-learn ended.
    func testMatchesScikitLearnFromSameInit() throws {
        let f = try loadFixture("gmm_sklearn")
        let rows = f["rows"] as! Int, cols = f["columns"] as! Int, k = f["components"] as! Int
        let x = try FeatureMatrix(rows: rows, columns: cols, values: doubles(f["data"]))
        for (key, type) in [("full", CovarianceType.full), ("diag", CovarianceType.diagonal)] {
            let ref = f[key] as! [String: Any]
            let initCov = doubles(f[type == .full ? "init_covariances_full" : "init_covariances_diag"])
            let initial = try GaussianMixtureModel(covarianceType: type, weights: doubles(f["init_weights"]),
                                                   means: doubles(f["init_means"]), covariances: initCov)
            var config = GMMConfiguration(components: k, covarianceType: type)
            config.maxIterations = f["max_iter"] as! Int
            config.tolerance = 0
            config.regCovar = (f["reg_covar"] as! NSNumber).doubleValue
            let model = try GaussianMixture.fit(x, initial: initial, configuration: config)
            XCTAssertEqual(model.iterations, ref["n_iter"] as! Int)
            assertClose(model.weights, doubles(ref["weights"]), 1e-8, "\(key) weights")
            assertClose(model.means, doubles(ref["means"]), 1e-7, "\(key) means")
            assertClose(model.covariances, doubles(ref["covariances"]), 1e-7, "\(key) covariances")
            XCTAssertEqual(model.logLikelihood, (ref["lower_bound"] as! NSNumber).doubleValue, accuracy: 1e-9)
            XCTAssertEqual(try model.score(x), (ref["score"] as! NSNumber).doubleValue, accuracy: 1e-9)
            XCTAssertEqual(try model.bic(x), (ref["bic"] as! NSNumber).doubleValue, accuracy: 1e-6)
            XCTAssertEqual(try model.aic(x), (ref["aic"] as! NSNumber).doubleValue, accuracy: 1e-6)
            let first5 = try FeatureMatrix(rows: 5, columns: cols, values: Array(x.values[0..<(5 * cols)]))
            assertClose(try model.predictProbabilities(first5).values, doubles(ref["predict_proba_first5"]),
                        1e-7, "\(key) predict_proba")
        }
    }

    /// On a known 3-component mixture, EM recovers weights, means and covariances within
    /// a few standard errors.
    func testRecoversKnownMixture() throws {
        let means = [[0.0, 0.0], [6.0, 1.0], [1.0, 7.0]]
        let chol = [[1.0, 0, 0.5, 0.8], [0.7, 0, -0.4, 1.2], [1.5, 0, 0.0, 0.5]]   // lower L, Σ = L Lᵀ
        let counts = [1500, 1000, 500]
        let (x, _) = sampleMixture(means: means, choleskyFactors: chol, counts: counts, seed: 7)
        var config = GMMConfiguration(components: 3)
        config.restarts = 3
        config.seed = 42
        config.tolerance = 1e-8
        config.maxIterations = 500
        let model = try GaussianMixture.fit(x, configuration: config)
        for c in 0..<3 {
            // Match fitted components to truth by nearest mean.
            let j = (0..<3).min { dist(model.means, $0, means[c]) < dist(model.means, $1, means[c]) }!
            let n = Double(counts[c]), l = chol[c]
            let sigma = [l[0] * l[0], l[0] * l[2], l[0] * l[2], l[2] * l[2] + l[3] * l[3]]
            XCTAssertEqual(model.weights[j], n / 3000, accuracy: 4 * (n / 3000 * (1 - n / 3000) / 3000).squareRoot())
            for r in 0..<2 {
                XCTAssertEqual(model.means[j * 2 + r], means[c][r], accuracy: 4 * (sigma[r * 3] / n).squareRoot())
            }
            for e in 0..<4 {
                let (r, s) = (e / 2, e % 2)
                // Var of a sample covariance entry ≈ (σ_rr σ_ss + σ_rs²)/n.
                let se = ((sigma[r * 3] * sigma[s * 3] + sigma[e] * sigma[e]) / n).squareRoot()
                XCTAssertEqual(model.covariances[j * 4 + e], sigma[e], accuracy: 4 * se)
            }
        }
        XCTAssertTrue(model.converged)
    }

    func testBICPicksTrueComponentCount() throws {
        let means = [[0.0, 0.0], [8.0, 0.0], [0.0, 8.0], [8.0, 8.0]]
        let chol = Array(repeating: [1.0, 0, 0.2, 0.9], count: 4)
        let (x, _) = sampleMixture(means: means, choleskyFactors: chol, counts: [200, 200, 200, 200], seed: 3)
        var config = GMMConfiguration(components: 1)
        config.restarts = 2
        let selection = try GaussianMixture.selectComponents(x, range: 1...7, configuration: config)
        XCTAssertEqual(selection.bestByBIC, 4)
        XCTAssertEqual(selection.rows.map(\.components), Array(1...7))
        XCTAssertEqual(selection.csv.split(separator: "\n").count, 8)
    }

    func testDiagonalRecoversAxisAlignedMixture() throws {
        let means = [[0.0, 0.0], [5.0, 5.0]]
        let chol = [[1.0, 0, 0, 2.0], [0.5, 0, 0, 1.0]]
        let (x, labels) = sampleMixture(means: means, choleskyFactors: chol, counts: [800, 800], seed: 11)
        var config = GMMConfiguration(components: 2, covarianceType: .diagonal)
        config.seed = 5
        let model = try GaussianMixture.fit(x, configuration: config)
        XCTAssertEqual(model.covariances.count, 4)
        XCTAssertEqual(adjustedRandIndex(try model.predict(x), labels), 1, accuracy: 0.02)
        let j = model.means[0] < 2.5 ? 0 : 1
        XCTAssertEqual(model.covariances[j * 2 + 1], 4.0, accuracy: 0.5)
    }

    func testBadInputThrowsTypedErrors() {
        let x = try! FeatureMatrix(rows: 2, columns: 1, values: [0, 1])
        XCTAssertThrowsError(try GaussianMixture.fit(x, configuration: GMMConfiguration(components: 3))) {
            XCTAssertEqual($0 as? DefectLibraryError, .tooFewSamples(samples: 2, components: 3))
        }
        let bad = try! FeatureMatrix(rows: 2, columns: 1, values: [0, .nan])
        XCTAssertThrowsError(try GaussianMixture.fit(bad, configuration: GMMConfiguration(components: 1)))
        XCTAssertThrowsError(try FeatureMatrix(rows: 2, columns: 2, values: [1]))
    }

    private func dist(_ m: [Double], _ j: Int, _ t: [Double]) -> Double {
        (0..<t.count).reduce(0) { $0 + (m[j * t.count + $1] - t[$1]) * (m[j * t.count + $1] - t[$1]) }
    }
}

func assertClose(_ a: [Double], _ b: [Double], _ tol: Double, _ what: String,
                 file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertEqual(a.count, b.count, what, file: file, line: line)
    let worst = zip(a, b).map { abs($0 - $1) / max(1, abs($1)) }.max() ?? 0
    XCTAssertLessThan(worst, tol, "\(what): worst relative difference \(worst)", file: file, line: line)
}
