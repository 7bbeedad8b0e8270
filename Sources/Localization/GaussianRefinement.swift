import Foundation

/// Sub-pixel refinement of one atom position by a least-squares fit of a symmetric 2-D
/// Gaussian, `A · exp(−((x−x₀)² + (y−y₀)²) / 2σ²) + b`, to the raw frame in a small
/// window (Levenberg–Marquardt with Marquardt's diagonal scaling, in Double).
///
/// A fit is accepted only if it converged, has A > 0 and a plausible σ, and moved no
/// more than `maxShift` pixels from the start; otherwise the caller keeps its start
/// position and the outcome says why.
public struct GaussianRefinement: Sendable, Equatable {
    /// The window is (2·halfWindow + 1)² pixels around the rounded start (clipped to the frame).
    public var halfWindow: Int
    /// Starting σ in pixels.
    public var initialSigma: Double
    /// Largest accepted move from the start position, in pixels.
    public var maxShift: Double
    /// Iteration cap of the Levenberg–Marquardt loop.
    public var maxIterations: Int
    /// Most refitting rounds for atoms with close neighbours (whose fitted Gaussians are
    /// subtracted from each other's windows); stops early once positions move < 10⁻³ px.
    /// 0 fits every atom alone.
    public var neighbourRounds: Int

    public init(halfWindow: Int = 3, initialSigma: Double = 1.5, maxShift: Double = 1, maxIterations: Int = 60,
                neighbourRounds: Int = 8) {
        self.neighbourRounds = neighbourRounds
        self.halfWindow = halfWindow
        self.initialSigma = initialSigma
        self.maxShift = maxShift
        self.maxIterations = maxIterations
    }

    /// Fits the Gaussian near (x, y) in `frame` (row-major, `width`×`height`; sizes are the caller's check).
    ///
    /// - Parameters:
    ///   - neighbours: nearby atoms whose Gaussians are subtracted from the window first, so
    ///     that a close neighbour does not pull the fit towards itself.
    ///   - guess: a converged earlier fit to start from (same window and shift check, fewer iterations).
    public func fit(_ frame: UnsafeBufferPointer<Float>, width: Int, height: Int, x: Double, y: Double,
                    neighbours: [GaussianSpot] = [], guess: GaussianFit? = nil) -> GaussianFit {
        let cx = Int(x.rounded()), cy = Int(y.rounded())
        let xr = max(0, cx - halfWindow)...min(width - 1, cx + halfWindow)
        let yr = max(0, cy - halfWindow)...min(height - 1, cy + halfWindow)
        guard halfWindow >= 1, xr.count >= 3, yr.count >= 3 else { return GaussianFit(start: (x, y), outcome: .windowTooSmall) }
        // The window is a grid, and a Gaussian factorises over it: exp(−(dx² + dy²)/2σ²) =
        // exp(−dx²/2σ²)·exp(−dy²/2σ²), so one exp per row and per column serves every pixel.
        let xs = xr.map(Double.init), ys = yr.map(Double.init)
        var data = [Double](repeating: 0, count: xs.count * ys.count)
        // Once per fit of every atom: row pointers keep bounds and overflow checks out of the
        // per-pixel loops (the window lies inside the frame, `data` is xs.count × ys.count).
        data.withUnsafeMutableBufferPointer { d in
            for (r, yy) in yr.enumerated() {
                let src = frame.baseAddress! + yy * width + xr.lowerBound, dst = d.baseAddress! + r * xs.count
                for c in 0..<xs.count { dst[c] = Double(src[c]) }
            }
            for n in neighbours {
                // Each neighbour reaches 4σ (as a box); beyond that it is not subtracted.
                let reach = 4 * n.sigma, inv = 1 / (2 * n.sigma * n.sigma)
                let ex = xs.map { abs($0 - n.x) < reach ? exp(-($0 - n.x) * ($0 - n.x) * inv) : 0 }
                let ey = ys.map { abs($0 - n.y) < reach ? n.amplitude * exp(-($0 - n.y) * ($0 - n.y) * inv) : 0 }
                ex.withUnsafeBufferPointer { ex in
                    for (r, a) in ey.enumerated() where a != 0 {
                        let row = d.baseAddress! + r * xs.count
                        for c in 0..<xs.count { row[c] -= a * ex[c] }
                    }
                }
            }
        }
        let peakIndex = (cy - yr.lowerBound) * xs.count + (cx - xr.lowerBound)
        var peak = xr.contains(cx) && yr.contains(cy) ? data[peakIndex] : -Double.infinity
        let background = data.min()!
        if !peak.isFinite { peak = data.max()! }
        var p = [max(peak - background, 1e-6 * (abs(background) + 1)), x, y, initialSigma, background]
        if let g = guess, g.outcome == .refined { p = [g.amplitude, g.x, g.y, g.sigma, g.offset] }
        var (chi2, jtj, jtr) = evaluate(p, xs, ys, data)
        var lambda = 1e-3
        var outcome = GaussianFit.Outcome.notConverged
        var iterations = 0
        while iterations < maxIterations {
            iterations += 1
            var a = jtj
            for i in 0..<5 { a[i * 5 + i] += lambda * max(jtj[i * 5 + i], 1e-12) }
            guard let step = solveSPD5(a, jtr) else {
                lambda *= 10
                if lambda > 1e12 { break } else { continue }
            }
            let trial = [p[0] + step[0], p[1] + step[1], p[2] + step[2], p[3] + step[3], p[4] + step[4]]
            // χ² and the normal equations in one pass: most trial steps are accepted.
            let (trialChi2, trialJtJ, trialJtr) = trial[3] > 0.05 ? evaluate(trial, xs, ys, data) : (.infinity, jtj, jtr)
            if trialChi2 <= chi2 {
                // Converged once an accepted step no longer moves the centre or width measurably
                // (10⁻⁵ px, far below any achievable precision) or no longer lowers χ².
                let done = (abs(step[1]) < 1e-5 && abs(step[2]) < 1e-5 && abs(step[3]) < 1e-5)
                    || chi2 - trialChi2 <= 1e-12 * chi2
                p = trial; chi2 = trialChi2
                if done { outcome = .refined; break }
                lambda = max(lambda / 10, 1e-12)
                (jtj, jtr) = (trialJtJ, trialJtr)
            } else {
                lambda *= 10
                if lambda > 1e12 { break }
            }
        }
        var result = GaussianFit(start: (x, y), outcome: outcome)
        result.iterations = iterations
        result.amplitude = p[0]; result.x = p[1]; result.y = p[2]; result.sigma = p[3]; result.offset = p[4]
        if outcome == .refined {
            let shift = ((p[1] - x) * (p[1] - x) + (p[2] - y) * (p[2] - y)).squareRoot()
            if !(p[0] > 0) || !(p[3] > 0.3 && p[3] < Double(2 * halfWindow + 1)) || !p.allSatisfy(\.isFinite) {
                result.outcome = .implausible
            } else if shift > maxShift {
                result.outcome = .movedTooFar
            }
        }
        return result
    }
}

/// A fixed Gaussian spot `amplitude · exp(−r² / 2σ²)` (no background): a neighbouring atom.
public struct GaussianSpot: Sendable, Equatable {
    public var x: Double, y: Double, amplitude: Double, sigma: Double
    public init(x: Double, y: Double, amplitude: Double, sigma: Double) {
        self.x = x; self.y = y; self.amplitude = amplitude; self.sigma = sigma
    }
    /// The spot's value at pixel (x, y).
    @inlinable public func value(atX px: Double, y py: Double) -> Double {
        let dx = px - x, dy = py - y
        return amplitude * exp(-(dx * dx + dy * dy) / (2 * sigma * sigma))
    }
}

extension GaussianRefinement {
    /// A first guess of the spot at (x, y): the pixel there above the minimum of its window, σ = `initialSigma`.
    public func initialSpot(_ frame: UnsafeBufferPointer<Float>, width: Int, height: Int, x: Double, y: Double) -> GaussianSpot {
        let cx = min(max(Int(x.rounded()), 0), width - 1), cy = min(max(Int(y.rounded()), 0), height - 1)
        var low = Float.infinity
        for yy in max(0, cy - halfWindow)...min(height - 1, cy + halfWindow) {
            for xx in max(0, cx - halfWindow)...min(width - 1, cx + halfWindow) { low = min(low, frame[yy * width + xx]) }
        }
        return GaussianSpot(x: x, y: y, amplitude: max(Double(frame[cy * width + cx] - low), 0), sigma: initialSigma)
    }
}

/// The result of one `GaussianRefinement.fit`.
public struct GaussianFit: Sendable, Equatable {
    /// Why a fit was or was not accepted.
    public enum Outcome: String, Sendable, Equatable {
        /// Converged, plausible, within `maxShift`: use the fitted position.
        case refined
        /// Not attempted (no raw frame or refinement switched off).
        case notAttempted
        /// Fewer than 3×3 pixels of window inside the frame.
        case windowTooSmall
        /// Levenberg–Marquardt did not converge within the iteration cap.
        case notConverged
        /// Converged to A ≤ 0 or an implausible σ.
        case implausible
        /// Converged more than `maxShift` pixels away from the start.
        case movedTooFar
    }
    public var outcome: Outcome
    public var x: Double, y: Double
    public var amplitude = 0.0, sigma = 0.0, offset = 0.0
    /// Levenberg–Marquardt iterations used (accepted and rejected steps).
    public var iterations = 0

    init(start: (Double, Double), outcome: Outcome) {
        self.outcome = outcome
        (x, y) = start
    }
}

/// χ² (sum of squared residuals), JᵀJ (row-major 5×5) and Jᵀr of the Gaussian model
/// with parameters p = [A, x0, y0, σ, b], in one pass over the window.
private func evaluate(_ p: [Double], _ xs: [Double], _ ys: [Double], _ data: [Double]) -> (Double, [Double], [Double]) {
    let (a, x0, y0, s, b) = (p[0], p[1], p[2], p[3], p[4])
    let s2 = s * s, inv = 1 / (2 * s2), invS2 = 1 / s2, invS3 = 1 / (s2 * s)
    let ex = xs.map { exp(-($0 - x0) * ($0 - x0) * inv) }, ey = ys.map { exp(-($0 - y0) * ($0 - y0) * inv) }
    var chi2 = 0.0
    var h = SIMD16<Double>()        // upper triangle of JᵀJ, row by row (15 used)
    var g = SIMD8<Double>()         // Jᵀr (5 used)
    for row in ys.indices {
        let dy = ys[row] - y0
        for col in xs.indices {
            let dx = xs[col] - x0, r2 = dx * dx + dy * dy
            let e = ex[col] * ey[row], ae = a * e
            let r = data[row * xs.count + col] - (ae + b)
            chi2 += r * r
            let j = SIMD8<Double>(e, ae * dx * invS2, ae * dy * invS2, ae * r2 * invS3, 1, 0, 0, 0)
            g += j * r
            h += SIMD16<Double>(j[0] * j[0], j[0] * j[1], j[0] * j[2], j[0] * j[3], j[0] * j[4],
                                j[1] * j[1], j[1] * j[2], j[1] * j[3], j[1] * j[4],
                                j[2] * j[2], j[2] * j[3], j[2] * j[4],
                                j[3] * j[3], j[3] * j[4], j[4] * j[4], 0)
        }
    }
    var jtj = [Double](repeating: 0, count: 25)
    var k = 0
    for row in 0..<5 {
        for col in row..<5 { jtj[row * 5 + col] = h[k]; jtj[col * 5 + row] = h[k]; k += 1 }
    }
    return (chi2, jtj, [g[0], g[1], g[2], g[3], g[4]])
}

/// Solves the 5×5 symmetric positive definite system A x = b by Cholesky; nil if not SPD.
private func solveSPD5(_ a: [Double], _ b: [Double]) -> [Double]? {
    precondition(a.count == 25 && b.count == 5)
    var l = [Double](repeating: 0, count: 25)
    var y = b
    let ok = a.withUnsafeBufferPointer { a in
        l.withUnsafeMutableBufferPointer { l in
            y.withUnsafeMutableBufferPointer { y in solveSPD5(a.baseAddress!, l.baseAddress!, y.baseAddress!) }
        }
    }
    return ok ? y : nil
}

/// `solveSPD5` on raw pointers (A: 25 values, L: 25 zeros, y: b on entry, x on return); false if
/// A is not SPD. It runs for every Levenberg–Marquardt step of every atom: pointers keep bounds
/// checks out of the 5×5 loops, whose indices are all below 25.
private func solveSPD5(_ a: UnsafePointer<Double>, _ l: UnsafeMutablePointer<Double>, _ y: UnsafeMutablePointer<Double>) -> Bool {
    let n = 5
    for i in 0..<n {
        for k in 0...i {
            var s = a[i * n + k]
            for m in 0..<k { s -= l[i * n + m] * l[k * n + m] }
            if i == k {
                guard s > 0, s.isFinite else { return false }
                l[i * n + i] = s.squareRoot()
            } else {
                l[i * n + k] = s / l[k * n + k]
            }
        }
    }
    for i in 0..<n {
        for m in 0..<i { y[i] -= l[i * n + m] * y[m] }
        y[i] /= l[i * n + i]
    }
    for i in stride(from: n - 1, through: 0, by: -1) {
        for m in (i + 1)..<n { y[i] -= l[m * n + i] * y[m] }
        y[i] /= l[i * n + i]
    }
    return true
}
