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
    /// The factor by which a fit's true position variance exceeds its covariance estimate when the
    /// locator weighs it against the centroid (`AtomLocator`). 1 for peaks that are Gaussian over a
    /// white background; on the multislice validation frames the observed variance was 1.1–2.8×
    /// the estimate (median ≈ 2: the probe's tails and the neighbours are not Gaussian).
    public var fitVarianceScale: Double

    public init(halfWindow: Int = 3, initialSigma: Double = 1.5, maxShift: Double = 1, maxIterations: Int = 60,
                neighbourRounds: Int = 8, fitVarianceScale: Double = 2) {
        self.fitVarianceScale = fitVarianceScale
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
        fit(frame, width: width, height: height, x: x, y: y, near: neighbours, guess: guess)
    }

    /// `fit` for any sequence of neighbours (the locator passes a lazy view: no array per fit).
    ///
    /// It runs for every atom in every neighbour round, so it allocates nothing on the heap: the
    /// window, the per-row and per-column Gaussian factors and the 5×5 solver share one stack
    /// buffer, and the parameters, JᵀJ and Jᵀr live in SIMD registers.
    func fit<Spots: Sequence<GaussianSpot>>(_ frame: UnsafeBufferPointer<Float>, width: Int, height: Int, x: Double, y: Double,
                                            near neighbours: Spots, guess: GaussianFit?) -> GaussianFit {
        let cx = Int(x.rounded()), cy = Int(y.rounded())
        let xr = max(0, cx - halfWindow)...min(width - 1, cx + halfWindow)
        let yr = max(0, cy - halfWindow)...min(height - 1, cy + halfWindow)
        guard halfWindow >= 1, xr.count >= 3, yr.count >= 3 else { return GaussianFit(start: (x, y), outcome: .windowTooSmall) }
        let window = Window(x0: xr.lowerBound, y0: yr.lowerBound, columns: xr.count, rows: yr.count)
        return withUnsafeTemporaryAllocation(of: Double.self, capacity: window.scratchCount) { buffer in
            let scratch = window.carve(buffer.baseAddress!)
            window.load(frame, width: width, into: scratch, subtracting: neighbours)
            return levenbergMarquardt(window, scratch, start: (x, y), centre: (cx, cy), guess: guess)
        }
    }

    /// The Levenberg–Marquardt loop on a loaded window; the outcome checks of `fit`.
    private func levenbergMarquardt(_ w: Window, _ s: Scratch, start: (x: Double, y: Double), centre: (x: Int, y: Int),
                                    guess: GaussianFit?) -> GaussianFit {
        let count = w.columns * w.rows
        let inside = (w.x0..<(w.x0 + w.columns)).contains(centre.x) && (w.y0..<(w.y0 + w.rows)).contains(centre.y)
        var peak = inside ? s.data[(centre.y - w.y0) * w.columns + (centre.x - w.x0)] : -Double.infinity
        // Same comparisons as Array.min() / max(), so the start (and so the fit) is unchanged.
        var background = s.data[0], highest = s.data[0]
        for i in 1..<count {
            if s.data[i] < background { background = s.data[i] }
            if highest < s.data[i] { highest = s.data[i] }
        }
        if !peak.isFinite { peak = highest }
        var p = SIMD8<Double>(max(peak - background, 1e-6 * (abs(background) + 1)), start.x, start.y, initialSigma, background, 0, 0, 0)
        if let g = guess, g.outcome == .refined { p = SIMD8(g.amplitude, g.x, g.y, g.sigma, g.offset, 0, 0, 0) }
        var current = evaluate(p, w, s)
        var lambda = 1e-3
        var outcome = GaussianFit.Outcome.notConverged
        var iterations = 0
        while iterations < maxIterations {
            iterations += 1
            guard let step = solveDamped(current.jtj, current.jtr, lambda: lambda, s) else {
                lambda *= 10
                if lambda > 1e12 { break } else { continue }
            }
            let trial = p + step
            // χ² and the normal equations in one pass: most trial steps are accepted.
            let next = trial[3] > 0.05 ? evaluate(trial, w, s) : Evaluation(chi2: .infinity, jtj: current.jtj, jtr: current.jtr)
            if next.chi2 <= current.chi2 {
                // Converged once an accepted step no longer moves the centre or width measurably
                // (10⁻⁵ px, far below any achievable precision) or no longer lowers χ².
                let done = (abs(step[1]) < 1e-5 && abs(step[2]) < 1e-5 && abs(step[3]) < 1e-5)
                    || current.chi2 - next.chi2 <= 1e-12 * current.chi2
                p = trial
                if done { current = next; outcome = .refined; break }
                lambda = max(lambda / 10, 1e-12)
                current = next
            } else {
                lambda *= 10
                if lambda > 1e12 { break }
            }
        }
        var result = GaussianFit(start: start, outcome: outcome)
        result.iterations = iterations
        result.amplitude = p[0]; result.x = p[1]; result.y = p[2]; result.sigma = p[3]; result.offset = p[4]
        if outcome == .refined {
            result.positionSigma = positionStandardError(current, pixels: count, s)
            let shift = ((p[1] - start.x) * (p[1] - start.x) + (p[2] - start.y) * (p[2] - start.y)).squareRoot()
            let finite = (0..<5).allSatisfy { p[$0].isFinite }
            if !(p[0] > 0) || !(p[3] > 0.3 && p[3] < Double(2 * halfWindow + 1)) || !finite {
                result.outcome = .implausible
            } else if shift > maxShift {
                result.outcome = .movedTooFar
            }
        }
        return result
    }
}

/// The fit window: `columns` × `rows` pixels from (x0, y0), inside the frame.
private struct Window {
    let x0: Int, y0: Int, columns: Int, rows: Int

    /// Doubles of scratch one fit needs: window, column and row factors, and the 5×5 solver's A, L, y.
    var scratchCount: Int { columns * rows + columns + rows + 25 + 25 + 5 }

    func carve(_ base: UnsafeMutablePointer<Double>) -> Scratch {
        let ex = base + columns * rows, ey = ex + columns, a = ey + rows, l = a + 25
        return Scratch(data: base, ex: ex, ey: ey, a: a, l: l, y: l + 25)
    }

    /// Copies the window out of the frame and subtracts the neighbours' Gaussians.
    /// The Gaussian factorises over the grid: exp(−(dx² + dy²)/2σ²) = exp(−dx²/2σ²)·exp(−dy²/2σ²),
    /// so one exp per row and per column serves every pixel.
    func load<Spots: Sequence<GaussianSpot>>(_ frame: UnsafeBufferPointer<Float>, width: Int, into s: Scratch,
                                             subtracting neighbours: Spots) {
        for r in 0..<rows {
            let src = frame.baseAddress! + (y0 + r) * width + x0, dst = s.data + r * columns
            for c in 0..<columns { dst[c] = Double(src[c]) }
        }
        for n in neighbours {
            // Each neighbour reaches 4σ (as a box); beyond that it is not subtracted.
            let reach = 4 * n.sigma, inv = 1 / (2 * n.sigma * n.sigma)
            for c in 0..<columns {
                let d = Double(x0 + c) - n.x
                s.ex[c] = abs(d) < reach ? exp(-d * d * inv) : 0
            }
            for r in 0..<rows {
                let d = Double(y0 + r) - n.y
                let a = abs(d) < reach ? n.amplitude * exp(-d * d * inv) : 0
                guard a != 0 else { continue }
                let row = s.data + r * columns
                for c in 0..<columns { row[c] -= a * s.ex[c] }
            }
        }
    }
}

/// Pointers into one fit's stack buffer (see `Window.carve`).
private struct Scratch {
    let data: UnsafeMutablePointer<Double>, ex: UnsafeMutablePointer<Double>, ey: UnsafeMutablePointer<Double>
    let a: UnsafeMutablePointer<Double>, l: UnsafeMutablePointer<Double>, y: UnsafeMutablePointer<Double>
}

/// χ², the upper triangle of JᵀJ (row by row, 15 of 16 lanes) and Jᵀr (5 of 8 lanes).
private struct Evaluation {
    var chi2: Double, jtj: SIMD16<Double>, jtr: SIMD8<Double>
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
    /// Standard error of the fitted centre per axis in pixels (rms of x and y), from the
    /// covariance s²·(JᵀJ)⁻¹ with s² = χ²/(n − 5): the residual sets the scale, so a model that
    /// does not describe the peak reports a large error. 0 unless refined.
    public var positionSigma = 0.0

    init(start: (Double, Double), outcome: Outcome) {
        self.outcome = outcome
        (x, y) = start
    }
}

/// χ², JᵀJ and Jᵀr of the Gaussian model with parameters p = [A, x0, y0, σ, b] on the window.
///
/// The Gaussian factorises over the grid (e = eₓ(col)·e_y(row)), and so does every entry of
/// JᵀJ: each is a product of a column sum and a row sum (Σ e²dx = Σeₓ²dx · Σe_y², …), so only
/// the residual sums (χ², Jᵀr) need a pass over the pixels, and that pass is five additions.
private func evaluate(_ p: SIMD8<Double>, _ w: Window, _ s: Scratch) -> Evaluation {
    let (a, x0, y0, sg, b) = (p[0], p[1], p[2], p[3], p[4])
    let s2 = sg * sg, inv = 1 / (2 * s2), invS2 = 1 / s2, invS3 = 1 / (s2 * sg)
    let x = axisSums(first: w.x0, count: w.columns, centre: x0, inv: inv, into: s.ex)
    let y = axisSums(first: w.y0, count: w.rows, centre: y0, inv: inv, into: s.ey)
    var chi2 = 0.0, sumR = 0.0, sumER = 0.0, sumERdx = 0.0, sumERdy = 0.0, sumERr2 = 0.0
    for row in 0..<w.rows {
        let dy = Double(w.y0 + row) - y0, data = s.data + row * w.columns, aey = a * s.ey[row]
        var rowR = 0.0, rowE = 0.0, rowEdx = 0.0, rowEdx2 = 0.0
        for col in 0..<w.columns {
            let dx = Double(w.x0 + col) - x0, ex = s.ex[col]
            let r = data[col] - (aey * ex + b)
            chi2 += r * r
            let t = ex * r
            rowR += r; rowE += t; rowEdx += t * dx; rowEdx2 += t * dx * dx
        }
        let ey = s.ey[row]
        sumR += rowR; sumER += ey * rowE; sumERdx += ey * rowEdx; sumERdy += ey * dy * rowE
        sumERr2 += ey * (rowEdx2 + dy * dy * rowE)
    }
    let a2 = a * a, aS2 = a * invS2, aS3 = a * invS3
    let h = SIMD16<Double>(
        x.e2[0] * y.e2[0], aS2 * x.e2[1] * y.e2[0], aS2 * x.e2[0] * y.e2[1], aS3 * (x.e2[2] * y.e2[0] + x.e2[0] * y.e2[2]),
        x.e[0] * y.e[0],
        a2 * invS2 * invS2 * x.e2[2] * y.e2[0], a2 * invS2 * invS2 * x.e2[1] * y.e2[1],
        a2 * invS2 * invS3 * (x.e2[3] * y.e2[0] + x.e2[1] * y.e2[2]), aS2 * x.e[1] * y.e[0],
        a2 * invS2 * invS2 * x.e2[0] * y.e2[2], a2 * invS2 * invS3 * (x.e2[2] * y.e2[1] + x.e2[0] * y.e2[3]),
        aS2 * x.e[0] * y.e[1],
        a2 * invS3 * invS3 * (x.e2[4] * y.e2[0] + 2 * x.e2[2] * y.e2[2] + x.e2[0] * y.e2[4]),
        aS3 * (x.e[2] * y.e[0] + x.e[0] * y.e[2]), Double(w.columns * w.rows), 0)
    let g = SIMD8<Double>(sumER, aS2 * sumERdx, aS2 * sumERdy, aS3 * sumERr2, sumR, 0, 0, 0)
    return Evaluation(chi2: chi2, jtj: h, jtr: g)
}

/// Along one axis (pixels first..<first+count, d = pixel − centre): the factors e = exp(−d²·inv)
/// into `factors`, and the moments Σ e·dᵏ (k < 3) and Σ e²·dᵏ (k < 5).
private func axisSums(first: Int, count: Int, centre: Double, inv: Double, into factors: UnsafeMutablePointer<Double>)
    -> (e: SIMD4<Double>, e2: SIMD8<Double>) {
    var e = SIMD4<Double>(), e2 = SIMD8<Double>()
    for i in 0..<count {
        let d = Double(first + i) - centre, f = exp(-d * d * inv), d2 = d * d
        factors[i] = f
        e += SIMD4(f, f * d, f * d2, 0)
        let f2 = f * f
        e2 += SIMD8(f2, f2 * d, f2 * d2, f2 * d2 * d, f2 * d2 * d2, 0, 0, 0)
    }
    return (e, e2)
}

/// √(½(Var x₀ + Var y₀)) of a converged fit: diagonal entries 1 and 2 of s²·(JᵀJ)⁻¹, s² = χ²/(n − 5);
/// infinity when JᵀJ is singular or no degree of freedom is left.
private func positionStandardError(_ e: Evaluation, pixels: Int, _ s: Scratch) -> Double {
    guard pixels > 5, let cx = solveDamped(e.jtj, SIMD8(0, 1, 0, 0, 0, 0, 0, 0), lambda: 0, s),
          let cy = solveDamped(e.jtj, SIMD8(0, 0, 1, 0, 0, 0, 0, 0), lambda: 0, s) else { return .infinity }
    let variance = e.chi2 / Double(pixels - 5) * (cx[1] + cy[2]) / 2
    return variance >= 0 ? variance.squareRoot() : .infinity
}

/// Solves (JᵀJ + λ·diag(JᵀJ)) x = Jᵀr (Marquardt's scaling, diagonal floored at 10⁻¹²) by
/// Cholesky in the scratch's A, L and y; nil if the damped matrix is not positive definite.
private func solveDamped(_ h: SIMD16<Double>, _ g: SIMD8<Double>, lambda: Double, _ s: Scratch) -> SIMD8<Double>? {
    var k = 0
    for row in 0..<5 {
        for col in row..<5 { s.a[row * 5 + col] = h[k]; s.a[col * 5 + row] = h[k]; k += 1 }
    }
    for i in 0..<5 { s.a[i * 5 + i] += lambda * max(s.a[i * 5 + i], 1e-12) }
    for i in 0..<25 { s.l[i] = 0 }
    for i in 0..<5 { s.y[i] = g[i] }
    guard solveSPD5(s.a, s.l, s.y) else { return nil }
    return SIMD8(s.y[0], s.y[1], s.y[2], s.y[3], s.y[4], 0, 0, 0)
}

/// Solves the 5×5 symmetric positive definite system A x = b by Cholesky on raw pointers
/// (A: 25 values, L: 25 zeros, y: b on entry, x on return); false if A is not SPD.
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
