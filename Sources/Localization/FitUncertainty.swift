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
        let spots = fits.map { f -> GaussianSpot? in
            guard let f, f.outcome == .refined else { return nil }
            return GaussianSpot(x: f.x, y: f.y, amplitude: f.amplitude, sigma: f.sigma)
        }
        // Neighbours whose spot reaches into a window: within the window's half-diagonal + 4σ.
        let reach = Double(halfWindow) * 1.5 + 4 * (spots.compactMap { $0?.sigma }.max() ?? 1)
        var grid: [SIMD2<Int>: [Int]] = [:]
        func cell(_ x: Double, _ y: Double) -> SIMD2<Int> { SIMD2(Int((x / reach).rounded(.down)), Int((y / reach).rounded(.down))) }
        for (i, s) in spots.enumerated() { if let s { grid[cell(s.x, s.y), default: []].append(i) } }
        return fits.indices.map { i in
            guard let fit = fits[i], let own = spots[i] else { return nil }
            let c = cell(own.x, own.y)
            var near: [GaussianSpot] = []
            for dy in -1...1 { for dx in -1...1 {
                for j in grid[c &+ SIMD2(dx, dy)] ?? [] where j != i { if let s = spots[j] { near.append(s) } }
            } }
            return variance(of: fit, near: near, frame: frame, width: width, height: height, halfWindow: halfWindow)
        }
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
    static func variance(of fit: GaussianFit, near: [GaussianSpot], frame: UnsafeBufferPointer<Float>,
                         width: Int, height: Int, halfWindow h: Int) -> Double? {
        let cx = Int(fit.x.rounded()), cy = Int(fit.y.rounded())
        let xs = max(0, cx - h)...min(width - 1, cx + h), ys = max(0, cy - h)...min(height - 1, cy + h)
        guard xs.count >= 3, ys.count >= 3 else { return nil }
        let (a, s2) = (fit.amplitude, fit.sigma * fit.sigma)
        // The neighbours' spots over the window, each only within 4σ of its centre (beyond: < e⁻⁸ of its peak).
        var neighbours = [Double](repeating: 0, count: xs.count * ys.count)
        for s in near {
            let reach = 4 * s.sigma
            let x0 = max(xs.lowerBound, Int((s.x - reach).rounded(.up))), x1 = min(xs.upperBound, Int((s.x + reach).rounded(.down)))
            let y0 = max(ys.lowerBound, Int((s.y - reach).rounded(.up))), y1 = min(ys.upperBound, Int((s.y + reach).rounded(.down)))
            guard x0 <= x1, y0 <= y1 else { continue }
            for y in y0...y1 { for x in x0...x1 {
                neighbours[(y - ys.lowerBound) * xs.count + x - xs.lowerBound] += s.value(atX: Double(x), y: Double(y))
            } }
        }
        var bread = [Double](repeating: 0, count: 25), meat = bread
        var n = 0
        for y in ys {
            for x in xs {
                let dx = Double(x) - fit.x, dy = Double(y) - fit.y, r2 = dx * dx + dy * dy
                let e = exp(-r2 / (2 * s2))
                let model = a * e + fit.offset + neighbours[(y - ys.lowerBound) * xs.count + x - xs.lowerBound]
                let r = Double(frame[y * width + x]) - model
                let j = SIMD8<Double>(e, a * e * dx / s2, a * e * dy / s2, a * e * r2 / (s2 * fit.sigma), 1, 0, 0, 0)
                for p in 0..<5 { for q in 0..<5 {
                    bread[p * 5 + q] += j[p] * j[q]
                    meat[p * 5 + q] += r * r * j[p] * j[q]
                } }
                n += 1
            }
        }
        guard n > 5, let inverse = invert5(bread) else { return nil }
        // Only rows 1 and 2 (x0, y0) of B⁻¹ M B⁻¹ are needed.
        var v = 0.0
        for k in 1...2 {
            for p in 0..<5 { for q in 0..<5 { v += inverse[k * 5 + p] * meat[p * 5 + q] * inverse[q * 5 + k] } }
        }
        let variance = v / 2 * Double(n) / Double(n - 5)
        return variance.isFinite && variance > 0 ? variance : nil
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
