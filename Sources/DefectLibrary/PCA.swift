import CBLAS

/// Principal component analysis by eigen-decomposition of the sample covariance (LAPACK
/// dsyevd). Components are sorted by decreasing variance.
public struct PCA: Sendable {
    /// Feature means subtracted before projection (length d).
    public let mean: [Double]
    /// Principal axes, `components × d` row-major, each of unit length.
    public let components: [Double]
    /// Variance along each axis (eigenvalues of the covariance, n−1 normalised, as scikit-learn).
    public let explainedVariance: [Double]
    /// Fraction of the total variance along each axis.
    public let explainedVarianceRatio: [Double]
    public let dimension: Int
    public var componentCount: Int { explainedVariance.count }

    /// Fits `components` axes (at most d) to the rows of `x`.
    public init(fitting x: FeatureMatrix, components m: Int) throws {
        let n = x.rows, d = x.columns
        guard n >= 2, d >= 1 else { throw DefectLibraryError.emptyData("PCA needs at least 2 samples") }
        guard m >= 1, m <= d else { throw DefectLibraryError.invalidParameter("PCA components \(m) not in 1...\(d)") }
        var mu = [Double](repeating: 0, count: d)
        for i in 0..<n { for j in 0..<d { mu[j] += x.values[i * d + j] } }
        for j in 0..<d { mu[j] /= Double(n) }
        var centred = x.values
        for i in 0..<n { for j in 0..<d { centred[i * d + j] -= mu[j] } }
        var cov = [Double](repeating: 0, count: d * d)
        cblas_dsyrk(CblasRowMajor, CblasLower, CblasTrans, Int32(d), Int32(n), 1 / Double(n - 1),
                    centred, Int32(d), 0, &cov, Int32(d))
        // Row-major lower = column-major upper: ask dsyevd for "U".
        var jobz = Int8(UInt8(ascii: "V")), uplo = Int8(UInt8(ascii: "U"))
        var nn = Int32(d), lda = Int32(d), info: Int32 = 0
        var w = [Double](repeating: 0, count: d)
        var lwork: Int32 = -1, liwork: Int32 = -1, wq = 0.0, iwq: Int32 = 0
        dsyevd_(&jobz, &uplo, &nn, &cov, &lda, &w, &wq, &lwork, &iwq, &liwork, &info)
        lwork = Int32(wq); liwork = iwq
        var work = [Double](repeating: 0, count: Int(lwork))
        var iwork = [Int32](repeating: 0, count: Int(liwork))
        dsyevd_(&jobz, &uplo, &nn, &cov, &lda, &w, &work, &lwork, &iwork, &liwork, &info)
        guard info == 0 else { throw DefectLibraryError.lapackFailure(routine: "dsyevd", info: Int(info)) }
        // Eigenvectors are the columns in column-major = rows of `cov` here, ascending order.
        let total = max(w.reduce(0) { $0 + max($1, 0) }, .leastNormalMagnitude)
        var axes = [Double](), variances = [Double]()
        for e in stride(from: d - 1, through: d - m, by: -1) {
            var v = Array(cov[(e * d)..<((e + 1) * d)])
            // Deterministic sign: largest-magnitude entry positive (as scikit-learn's svd_flip).
            let big = v.indices.max { abs(v[$0]) < abs(v[$1]) }!
            if v[big] < 0 { v = v.map { -$0 } }
            axes += v
            variances.append(max(w[e], 0))
        }
        mean = mu
        components = axes
        explainedVariance = variances
        explainedVarianceRatio = variances.map { $0 / total }
        dimension = d
    }

    /// A fitted PCA from its stored parameters (a library file): `components` is m × d row-major.
    public init(mean: [Double], components: [Double], explainedVariance: [Double], explainedVarianceRatio: [Double]) throws {
        let d = mean.count, m = explainedVariance.count
        guard d >= 1, m >= 1, m <= d, components.count == m * d, explainedVarianceRatio.count == m,
              (mean + components).allSatisfy(\.isFinite) else {
            throw DefectLibraryError.shapeMismatch("PCA needs a finite mean of d values and m ≤ d axes of d values each")
        }
        self.mean = mean
        self.components = components
        self.explainedVariance = explainedVariance
        self.explainedVarianceRatio = explainedVarianceRatio
        dimension = d
    }

    /// Projects rows of `x` onto the principal axes: (x − mean) · axesᵀ, n × components.
    public func transform(_ x: FeatureMatrix) throws -> FeatureMatrix {
        guard x.columns == dimension else {
            throw DefectLibraryError.shapeMismatch("PCA fitted on \(dimension) features, got \(x.columns)")
        }
        var centred = x.values
        for i in 0..<x.rows { for j in 0..<dimension { centred[i * dimension + j] -= mean[j] } }
        let m = componentCount
        var out = [Double](repeating: 0, count: x.rows * m)
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(x.rows), Int32(m), Int32(dimension),
                    1, centred, Int32(dimension), components, Int32(dimension), 0, &out, Int32(m))
        return try FeatureMatrix(rows: x.rows, columns: m, values: out)
    }

    /// Maps PCA coordinates back to feature space (mean + coords · axes).
    public func inverseTransform(_ y: FeatureMatrix) throws -> FeatureMatrix {
        guard y.columns == componentCount else {
            throw DefectLibraryError.shapeMismatch("expected \(componentCount) PCA coordinates, got \(y.columns)")
        }
        var out = [Double](repeating: 0, count: y.rows * dimension)
        for i in 0..<y.rows { for j in 0..<dimension { out[i * dimension + j] = mean[j] } }
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(y.rows), Int32(dimension), Int32(componentCount),
                    1, y.values, Int32(componentCount), components, Int32(dimension), 1, &out, Int32(dimension))
        return try FeatureMatrix(rows: y.rows, columns: dimension, values: out)
    }
}
