import CBLAS
import Core
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The EM machinery behind `GaussianMixture`. Rows come in groups of `groupSize` views of
/// one sample (1 for a plain mixture); responsibilities are normalised over views × components
/// of each group, so the view is a latent variable with a uniform prior.
struct MixtureEngine {
    let x: FeatureMatrix
    let n: Int, d: Int, k: Int, groupSize: Int
    let type: CovarianceType
    var weights: [Double]
    var means: [Double]
    var covariances: [Double]
    /// Full: the precision Cholesky factors P_c = L_c⁻ᵀ side by side, a d × (k·d) matrix, so
    /// one GEMM maps every sample into every component's whitened frame. Diagonal: 1/σ².
    private var precisionFactors: [Double] = []
    /// ½ log det Σ_c⁻¹ per component.
    private var halfLogDetPrecision: [Double] = []
    private var regCovar: Double = 0

    init(data: FeatureMatrix, groupSize: Int, model: GaussianMixtureModel) throws {
        guard data.columns == model.dimension else {
            throw DefectLibraryError.shapeMismatch("data has \(data.columns) features, model \(model.dimension)")
        }
        x = data; n = data.rows; d = data.columns; k = model.components
        self.groupSize = groupSize; type = model.covarianceType
        weights = model.weights; means = model.means; covariances = model.covariances
        try factorize()
    }

    init(data: FeatureMatrix, groupSize: Int, responsibilities: [Double], configuration c: GMMConfiguration) throws {
        x = data; n = data.rows; d = data.columns; k = c.components
        self.groupSize = groupSize; type = c.covarianceType; regCovar = c.regCovar
        weights = []; means = []; covariances = []
        try maximization(responsibilities)
    }

    /// Runs EM until the change of mean log-likelihood is below tolerance (scikit-learn's loop).
    mutating func run(_ c: GMMConfiguration) throws -> GaussianMixtureModel {
        regCovar = c.regCovar
        var lower = -Double.infinity, converged = false, iterations = 0
        for it in 1...c.maxIterations {
            iterations = it
            let previous = lower
            let (ll, resp) = expectation()
            try maximization(resp)
            lower = ll
            if abs(lower - previous) < c.tolerance { converged = true; break }
        }
        var model = try GaussianMixtureModel(covarianceType: type, weights: weights, means: means,
                                             covariances: covariances)
        model.logLikelihood = lower
        model.iterations = iterations
        model.converged = converged
        return model
    }

    // MARK: E-step

    /// log π_c − log T + log N(x_i | μ_c, Σ_c), n×k row-major.
    func weightedLogProbabilities() -> [Double] {
        var out = [Double](repeating: 0, count: n * k)
        let constant = -0.5 * Double(d) * log(2 * Double.pi) - log(Double(groupSize))
        let logW = weights.map { log($0) }
        switch type {
        case .full:
            let kd = k * d
            var z = [Double](repeating: 0, count: n * kd)
            var shift = [Double](repeating: 0, count: kd)   // μ_c P_c for every c
            x.values.withUnsafeBufferPointer { xp in
                precisionFactors.withUnsafeBufferPointer { w in
                    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(n), Int32(kd), Int32(d),
                                1, xp.baseAddress, Int32(d), w.baseAddress, Int32(kd), 0, &z, Int32(kd))
                    means.withUnsafeBufferPointer { m in
                        for c in 0..<k {
                            shift.withUnsafeMutableBufferPointer { s in
                                cblas_dgemv(CblasRowMajor, CblasTrans, Int32(d), Int32(d), 1,
                                            w.baseAddress! + c * d, Int32(kd), m.baseAddress! + c * d, 1,
                                            0, s.baseAddress! + c * d, 1)
                            }
                        }
                    }
                }
            }
            z.withUnsafeBufferPointer { zp in
                out.withUnsafeMutableBufferPointer { o in
                    parallelChunks(n, minChunk: 256) { rows in
                        for i in rows {
                            for c in 0..<k {
                                var ss = 0.0
                                let base = i * kd + c * d
                                for j in 0..<d { let v = zp[base + j] - shift[c * d + j]; ss += v * v }
                                o[i * k + c] = logW[c] + constant + halfLogDetPrecision[c] - 0.5 * ss
                            }
                        }
                    }
                }
            }
        case .diagonal:
            x.values.withUnsafeBufferPointer { xp in
                out.withUnsafeMutableBufferPointer { o in
                    parallelChunks(n, minChunk: 64) { rows in
                        for i in rows {
                            for c in 0..<k {
                                var ss = 0.0
                                for j in 0..<d {
                                    let v = xp[i * d + j] - means[c * d + j]
                                    ss += v * v * precisionFactors[c * d + j]
                                }
                                o[i * k + c] = logW[c] + constant + halfLogDetPrecision[c] - 0.5 * ss
                            }
                        }
                    }
                }
            }
        }
        return out
    }

    /// Mean log-likelihood per sample group and the responsibilities (n×k), via log-sum-exp.
    func expectation() -> (meanLogLikelihood: Double, responsibilities: [Double]) {
        let (norms, resp) = groupLikelihoods()
        return (norms.reduce(0, +) / Double(norms.count), resp)
    }

    /// Log-likelihood of each sample group and the responsibilities (n×k), via log-sum-exp.
    func groupLikelihoods() -> (logLikelihoods: [Double], responsibilities: [Double]) {
        var lp = weightedLogProbabilities()
        let groups = n / groupSize, block = groupSize * k
        var norms = [Double](repeating: 0, count: groups)
        lp.withUnsafeMutableBufferPointer { p in
            norms.withUnsafeMutableBufferPointer { nrm in
                parallelChunks(groups, minChunk: 128) { range in
                    for g in range {
                        let start = g * block
                        var m = -Double.infinity
                        for j in start..<(start + block) { m = max(m, p[j]) }
                        var s = 0.0
                        for j in start..<(start + block) { s += exp(p[j] - m) }
                        let norm = m + log(s)
                        nrm[g] = norm
                        for j in start..<(start + block) { p[j] = exp(p[j] - norm) }
                    }
                }
            }
        }
        return (norms, lp)
    }

    // MARK: M-step

    /// New weights, means and covariances from responsibilities (n×k), as scikit-learn does.
    mutating func maximization(_ resp: [Double]) throws {
        var nk = [Double](repeating: 10 * Double.ulpOfOne, count: k)
        for i in 0..<n { for c in 0..<k { nk[c] += resp[i * k + c] } }
        let total = nk.reduce(0, +)
        weights = nk.map { $0 / total }
        var m = [Double](repeating: 0, count: k * d)
        resp.withUnsafeBufferPointer { r in
            x.values.withUnsafeBufferPointer { xp in
                cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, Int32(k), Int32(d), Int32(n),
                            1, r.baseAddress, Int32(k), xp.baseAddress, Int32(d), 0, &m, Int32(d))
            }
        }
        for c in 0..<k { for j in 0..<d { m[c * d + j] /= nk[c] } }
        means = m
        switch type {
        case .full: covariances = fullCovariances(resp, nk)
        case .diagonal: covariances = diagonalCovariances(resp, nk)
        }
        try factorize()
    }

    private func fullCovariances(_ resp: [Double], _ nk: [Double]) -> [Double] {
        var cov = [Double](repeating: 0, count: k * d * d)
        var diff = [Double](repeating: 0, count: n * d)
        for c in 0..<k {
            // Σ_c = Σ_i r_ic (x_i − μ_c)(x_i − μ_c)ᵀ / N_c as one SYRK on √r-weighted deviations.
            x.values.withUnsafeBufferPointer { xp in
                diff.withUnsafeMutableBufferPointer { dp in
                    parallelChunks(n, minChunk: 256) { rows in
                        for i in rows {
                            let w = resp[i * k + c].squareRoot()
                            for j in 0..<d { dp[i * d + j] = w * (xp[i * d + j] - means[c * d + j]) }
                        }
                    }
                }
            }
            cov.withUnsafeMutableBufferPointer { cp in
                let cc = cp.baseAddress! + c * d * d
                cblas_dsyrk(CblasRowMajor, CblasLower, CblasTrans, Int32(d), Int32(n),
                            1 / nk[c], diff, Int32(d), 0, cc, Int32(d))
                for r in 0..<d {
                    cc[r * d + r] += regCovar
                    for s in 0..<r { cc[s * d + r] = cc[r * d + s] }
                }
            }
        }
        return cov
    }

    private func diagonalCovariances(_ resp: [Double], _ nk: [Double]) -> [Double] {
        let sq = x.values.map { $0 * $0 }
        var avg = [Double](repeating: 0, count: k * d)
        cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, Int32(k), Int32(d), Int32(n),
                    1, resp, Int32(k), sq, Int32(d), 0, &avg, Int32(d))
        for c in 0..<k {
            for j in 0..<d {
                let mu = means[c * d + j]
                avg[c * d + j] = avg[c * d + j] / nk[c] - mu * mu + regCovar
            }
        }
        return avg
    }

    /// Cholesky-factorises every covariance (LAPACK dpotrf) and stores the precision factors.
    private mutating func factorize() throws {
        halfLogDetPrecision = [Double](repeating: 0, count: k)
        switch type {
        case .diagonal:
            precisionFactors = covariances.map { 1 / $0 }
            for c in 0..<k {
                var s = 0.0
                for j in 0..<d {
                    let v = covariances[c * d + j]
                    guard v > 0 else { throw DefectLibraryError.notPositiveDefinite(component: c) }
                    s += log(v)
                }
                halfLogDetPrecision[c] = -0.5 * s
            }
        case .full:
            let kd = k * d
            precisionFactors = [Double](repeating: 0, count: d * kd)
            for c in 0..<k {
                // Row-major symmetric = column-major symmetric, so Fortran "U" yields the
                // row-major lower factor L with Σ = L Lᵀ.
                var l = Array(covariances[(c * d * d)..<((c + 1) * d * d)])
                var info: Int32 = 0, nn = Int32(d), lda = Int32(d)
                var uplo = Int8(UInt8(ascii: "U"))
                dpotrf_(&uplo, &nn, &l, &lda, &info)
                guard info == 0 else {
                    if info > 0 { throw DefectLibraryError.notPositiveDefinite(component: c) }
                    throw DefectLibraryError.lapackFailure(routine: "dpotrf", info: Int(info))
                }
                // P = L⁻ᵀ (upper triangular): solve Lᵀ P = I.
                var p = [Double](repeating: 0, count: d * d)
                for j in 0..<d { p[j * d + j] = 1 }
                cblas_dtrsm(CblasRowMajor, CblasLeft, CblasLower, CblasTrans, CblasNonUnit,
                            Int32(d), Int32(d), 1, l, Int32(d), &p, Int32(d))
                var s = 0.0
                for j in 0..<d { s += log(l[j * d + j]) }
                halfLogDetPrecision[c] = -s
                for r in 0..<d { for col in 0..<d { precisionFactors[r * kd + c * d + col] = p[r * d + col] } }
            }
        }
    }
}

/// k-means++ seeding and Lloyd iterations on groups of views: a group's distance to a centre
/// is that of its closest view. Returns one-hot responsibilities (n×k) on the chosen view.
func kMeansResponsibilities(_ x: FeatureMatrix, groupSize t: Int, k: Int, iterations: Int,
                            rng: inout SeededGenerator) -> [Double] {
    let d = x.columns, groups = x.rows / t
    let v = x.values
    func dist2(_ row: Int, _ centres: [Double], _ c: Int) -> Double {
        var s = 0.0
        for j in 0..<d { let e = v[row * d + j] - centres[c * d + j]; s += e * e }
        return s
    }
    /// Nearest (centre, view, distance²) for every group.
    func assign(_ centres: [Double], _ count: Int) -> [(Int, Int, Double)] {
        var out = [(Int, Int, Double)](repeating: (0, 0, .infinity), count: groups)
        out.withUnsafeMutableBufferPointer { o in
            parallelChunks(groups, minChunk: 64) { range in
                for g in range {
                    var best = (0, 0, Double.infinity)
                    for c in 0..<count {
                        for view in 0..<t {
                            let e = dist2(g * t + view, centres, c)
                            if e < best.2 { best = (c, view, e) }
                        }
                    }
                    o[g] = best
                }
            }
        }
        return out
    }
    // k-means++: each new centre drawn with probability ∝ squared distance to the nearest one.
    var centres = [Double](repeating: 0, count: k * d)
    let first = Int(rng.next() % UInt64(groups))
    for j in 0..<d { centres[j] = v[first * t * d + j] }
    for c in 1..<max(k, 1) {
        let a = assign(centres, c)
        let total = a.reduce(0) { $0 + $1.2 }
        var pick = 0
        if total > 0 {
            var target = rng.uniform() * total
            for (g, e) in a.enumerated() { target -= e.2; if target <= 0 { pick = g; break }; pick = g }
        } else { pick = Int(rng.next() % UInt64(groups)) }
        for j in 0..<d { centres[c * d + j] = v[pick * t * d + j] }
    }
    var a = assign(centres, k)
    for _ in 0..<iterations {
        var sums = [Double](repeating: 0, count: k * d), counts = [Int](repeating: 0, count: k)
        for (g, (c, view, _)) in a.enumerated() {
            counts[c] += 1
            for j in 0..<d { sums[c * d + j] += v[(g * t + view) * d + j] }
        }
        for c in 0..<k {
            if counts[c] == 0 {   // empty cluster: restart it at the worst-fitted group
                let far = a.indices.max { a[$0].2 < a[$1].2 }!
                for j in 0..<d { centres[c * d + j] = v[(far * t + a[far].1) * d + j] }
                a[far].2 = 0
            } else {
                for j in 0..<d { centres[c * d + j] = sums[c * d + j] / Double(counts[c]) }
            }
        }
        let next = assign(centres, k)
        let changed = zip(a, next).contains { $0.0 != $1.0 || $0.1 != $1.1 }
        a = next
        if !changed { break }
    }
    var resp = [Double](repeating: 0, count: x.rows * k)
    for (g, (c, view, _)) in a.enumerated() { resp[(g * t + view) * k + c] = 1 }
    return resp
}
