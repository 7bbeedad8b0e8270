import Core
import Foundation

/// The position error of each accepted Gaussian fit from its own residuals, robust to their
/// unequal variance: the sandwich covariance (JᵀJ)⁻¹ (Σ rᵢ² Jᵢ Jᵢᵀ) (JᵀJ)⁻¹ · n/(n − 5) (White's
/// HC1) of the model A·exp(−r²/2σ²) + b on the fit's window, the neighbours' fitted spots
/// subtracted as the fit subtracted them.
///
/// Why not s²·(JᵀJ)⁻¹: that assumes every pixel equally noisy, but shot noise is largest on the
/// peak, where the position information is; on simulated WS2 frames it made the W σ 1.7–2.1×
/// too small at 10⁴–10⁵ e/Å² (docs/ACCURACY.md). The sandwich needs no noise model and no gain.
public enum FitUncertainty {
    /// Per candidate, the fit's position variance per axis (px²), nil where no fit was accepted.
    public static func positionVariances(_ candidates: AtomLocator.Candidates, frame: UnsafeBufferPointer<Float>,
                                         width: Int, height: Int, halfWindow: Int) -> [Double?] {
        let fits = candidates.fits
        let refined = fits.indices.filter { fits[$0]?.outcome == .refined }
        let spots = refined.map { i in fits[i].map { GaussianSpot(x: $0.x, y: $0.y, amplitude: $0.amplitude, sigma: $0.sigma) }! }
        // Neighbours whose spot reaches into a window: within the window's half-diagonal + 4σ.
        let reach = Double(halfWindow) * 1.5 + 4 * (spots.map(\.sigma).max() ?? 1)
        let grid = CellGrid(xs: spots.map(\.x), ys: spots.map(\.y), cellSize: reach)
        var variances = [Double?](repeating: nil, count: fits.count)
        SpotProfiles(spots, width: width, height: height).withSpans { profiles in
            variances.withUnsafeMutableBufferPointer { buffer in
                // Each index is written by exactly one iteration.
                let out = UncheckedSendable(buffer)
                parallelChunks(refined.count, minChunk: 64) { range in
                    var near: [Int] = []
                    for k in range {
                        near.removeAll(keepingCapacity: true)
                        grid.forEachNeighbour(x: spots[k].x, y: spots[k].y) { j in if j != k { near.append(j) } }
                        out.value[refined[k]] = variance(of: fits[refined[k]]!, subtracting: profiles, near, frame: frame,
                                                         width: width, height: height, halfWindow: halfWindow)
                    }
                }
            }
        }
        return variances
    }

    /// Per class (and pooled, key −1) a lower bound on the centroid's error variance per axis:
    /// centroid − fit has variance v_c + v_f − 2·cov, and a 2-D Gaussian's |d|² has median
    /// 2 ln 2 · v, so v_c ≥ median|d|²/(2 ln 2) − median v_f when the two err together (cov ≥ 0,
    /// as the network's centroid and the fit see the same noisy pixels). Floored at 0; a class with
    /// fewer than `minimumFits` measured fits takes the pooled value.
    public static func centroidVarianceBounds(_ atoms: [Atom], _ fits: [GaussianFit?], fitVariances: [Double?],
                                              minimumFits: Int = 8) -> [Int: Double] {
        var d2: [Int: [Double]] = [:], vf: [Int: [Double]] = [:]
        for i in atoms.indices {
            guard let fit = fits[i], fit.outcome == .refined, let v = fitVariances[i] else { continue }
            let d = (fit.x - atoms[i].x) * (fit.x - atoms[i].x) + (fit.y - atoms[i].y) * (fit.y - atoms[i].y)
            for key in [atoms[i].classIndex, -1] { d2[key, default: []].append(d); vf[key, default: []].append(v) }
        }
        var result: [Int: Double] = [:]
        for (key, values) in d2 where values.count >= minimumFits {
            result[key] = max(Statistics.median(values) / (2 * log(2.0)) - Statistics.median(vf[key] ?? []), 0)
        }
        return result
    }

    /// The sandwich position variance of one fit; nil when its window is too small or JᵀJ singular.
    /// The window is loaded and the neighbours' spots subtracted as `GaussianRefinement.fit` does
    /// (sampled once per frame, `SpotProfiles`); the fit's own Gaussian is separable too, so no pixel
    /// needs an exp.
    static func variance(of fit: GaussianFit, subtracting spots: SpotProfiles.Spans, _ neighbours: [Int],
                         frame: UnsafeBufferPointer<Float>, width: Int, height: Int, halfWindow h: Int) -> Double? {
        let cx = Int(fit.x.rounded()), cy = Int(fit.y.rounded())
        let xs = max(0, cx - h)...min(width - 1, cx + h), ys = max(0, cy - h)...min(height - 1, cy + h)
        guard xs.count >= 3, ys.count >= 3 else { return nil }
        let (columns, rows) = (xs.count, ys.count)
        return withUnsafeTemporaryAllocation(of: Double.self, capacity: rows * columns + columns + rows) { buffer in
            let data = buffer.baseAddress!, ex = data + rows * columns, ey = ex + columns
            for r in 0..<rows {
                for c in 0..<columns { data[r * columns + c] = Double(frame[(ys.lowerBound + r) * width + xs.lowerBound + c]) }
            }
            for j in neighbours {
                spots.subtract(j, from: data, x0: xs.lowerBound, y0: ys.lowerBound, columns: columns, rows: rows, stride: columns)
            }
            let (a, sg) = (fit.amplitude, fit.sigma), s2 = sg * sg
            gaussianFactors(first: xs.lowerBound, count: columns, centre: fit.x, inv: 1 / (2 * s2), into: ex)
            gaussianFactors(first: ys.lowerBound, count: rows, centre: fit.y, inv: 1 / (2 * s2), into: ey)
            // Rows of B = Σ J Jᵀ and M = Σ r² J Jᵀ, J = ∂model/∂(A, x₀, y₀, σ, b): entries 0–3 of row p
            // in bp, mp; entry 4 (J₄ = ∂/∂b = 1) of rows 0–3 in the lanes of b4 (B is symmetric) and mLast, of
            // row 4 in b44, m44. Each entry is summed as it was with 8-lane rows (J₄ = 1 multiplies exactly).
            var b0 = SIMD4<Double>(), b1 = b0, b2 = b0, b3 = b0, b4 = b0, m0 = b0, m1 = b0, m2 = b0, m3 = b0, m4 = b0
            var mLast = b0, b44 = 0.0, m44 = 0.0
            for r in 0..<rows {
                let dy = Double(ys.lowerBound + r) - fit.y
                for c in 0..<columns {
                    let dx = Double(xs.lowerBound + c) - fit.x, e = ex[c] * ey[r], ae = a * e
                    let residual = data[r * columns + c] - ae - fit.offset
                    let j = SIMD4<Double>(e, ae * dx / s2, ae * dy / s2, ae * (dx * dx + dy * dy) / (s2 * sg))
                    let r2 = residual * residual, rj = r2 * j
                    b0 += j[0] * j; b1 += j[1] * j; b2 += j[2] * j; b3 += j[3] * j; b4 += j; b44 += 1
                    m0 += j[0] * rj; m1 += j[1] * rj; m2 += j[2] * rj; m3 += j[3] * rj; m4 += rj; mLast += j * r2; m44 += r2
                }
            }
            let n = rows * columns
            func rows5(_ v: [SIMD4<Double>], _ last: SIMD4<Double>, _ corner: Double) -> [[Double]] {
                (0..<5).map { p -> [Double] in
                    let entry4: Double = p < 4 ? last[p] : corner
                    return [v[p][0], v[p][1], v[p][2], v[p][3], entry4]
                }
            }
            let bread = rows5([b0, b1, b2, b3, b4], b4, b44), meat = rows5([m0, m1, m2, m3, m4], mLast, m44)
            guard n > 5, let inverse = invert5((0..<25).map { bread[$0 / 5][$0 % 5] }) else { return nil }
            // Only rows 1 and 2 (x0, y0) of B⁻¹ M B⁻¹ are needed.
            var v = 0.0
            for k in 1...2 {
                for p in 0..<5 { for q in 0..<5 { v += inverse[k * 5 + p] * meat[p][q] * inverse[q * 5 + k] } }
            }
            let variance = v / 2 * Double(n) / Double(n - 5)
            return variance.isFinite && variance > 0 ? variance : nil
        }
    }

    /// The inverse of a symmetric positive definite 5×5 matrix (Gauss–Jordan with partial pivoting).
    static func invert5(_ m: [Double]) -> [Double]? {
        var a = m, inv = [Double](repeating: 0, count: 25)
        for i in 0..<5 { inv[i * 5 + i] = 1 }
        for col in 0..<5 {
            guard let pivot = (col..<5).max(by: { abs(a[$0 * 5 + col]) < abs(a[$1 * 5 + col]) }),
                  abs(a[pivot * 5 + col]) > 1e-300 else { return nil }
            if pivot != col {
                for k in 0..<5 { a.swapAt(pivot * 5 + k, col * 5 + k); inv.swapAt(pivot * 5 + k, col * 5 + k) }
            }
            let d = a[col * 5 + col]
            for k in 0..<5 { a[col * 5 + k] /= d; inv[col * 5 + k] /= d }
            for row in 0..<5 where row != col {
                let f = a[row * 5 + col]
                guard f != 0 else { continue }
                for k in 0..<5 { a[row * 5 + k] -= f * a[col * 5 + k]; inv[row * 5 + k] -= f * inv[col * 5 + k] }
            }
        }
        return inv.allSatisfy(\.isFinite) ? inv : nil
    }
}
