import Core
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
    /// The factor by which the locator takes a fit's position variance to exceed its estimate (the
    /// sandwich of `FitUncertainty`) when it weighs the fit against the centroid (`AtomLocator`).
    /// 1 for peaks that are Gaussian over a white background; the sandwich is asymptotic and
    /// underestimates at low counts (W at 10⁴ e/Å²: 2.6×, docs/ACCURACY.md), and the probe's tails
    /// are not Gaussian. 1.5, with the weighing's lower bound on the spread, left no class worse than
    /// its centroid on five multislice frames × four noise seeds × three doses (without the bound,
    /// 1 and 2 left 8 and 3 of 27 class/dose cells worse; docs/ACCURACY.md).
    public var fitVarianceScale: Double

    public init(halfWindow: Int = 3, initialSigma: Double = 1.5, maxShift: Double = 1, maxIterations: Int = 60,
                neighbourRounds: Int = 8, fitVarianceScale: Double = 1.5) {
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
        let profiles = SpotProfiles(neighbours, width: width, height: height)
        return profiles.withSpans { fit(frame, width: width, height: height, x: x, y: y, subtracting: $0, neighbours.indices, guess: guess) }
    }

    /// `fit` with the neighbours given as indices into spots sampled once for every window they
    /// reach (the locator's path: no array, no exp per neighbour and fit).
    ///
    /// It runs for every atom in every neighbour round, so it allocates nothing on the heap: the
    /// window, its row and column factors share one stack buffer; the parameters, JᵀJ, Jᵀr and
    /// the 5×5 factorization are SIMD values in registers.
    func fit<Indices: Sequence<Int>>(_ frame: UnsafeBufferPointer<Float>, width: Int, height: Int, x: Double, y: Double,
                                     subtracting spots: SpotProfiles.Spans, _ neighbours: Indices, guess: GaussianFit?) -> GaussianFit {
        let cx = Int(x.rounded()), cy = Int(y.rounded())
        let xr = max(0, cx - halfWindow)...min(width - 1, cx + halfWindow)
        let yr = max(0, cy - halfWindow)...min(height - 1, cy + halfWindow)
        guard halfWindow >= 1, xr.count >= 3, yr.count >= 3 else { return GaussianFit(start: (x, y), outcome: .windowTooSmall) }
        let window = Window(x0: xr.lowerBound, y0: yr.lowerBound, columns: xr.count, rows: yr.count)
        return withUnsafeTemporaryAllocation(byteCount: window.scratchBytes, alignment: MemoryLayout<RowWeights>.alignment) { buffer in
            let scratch = window.carve(buffer.baseAddress!)
            window.load(frame, width: width, into: scratch, subtracting: spots, neighbours)
            return levenbergMarquardt(window, scratch, start: (x, y), centre: (cx, cy), guess: guess)
        }
    }

    /// The Levenberg–Marquardt loop on a loaded window; the outcome checks of `fit`.
    private func levenbergMarquardt(_ w: Window, _ s: Scratch, start: (x: Double, y: Double), centre: (x: Int, y: Int),
                                    guess: GaussianFit?) -> GaussianFit {
        let inside = (w.x0..<(w.x0 + w.columns)).contains(centre.x) && (w.y0..<(w.y0 + w.rows)).contains(centre.y)
        var peak = inside ? s.data[(centre.y - w.y0) * w.stride + (centre.x - w.x0)] : -Double.infinity
        // Same comparisons as Array.min() / max() in raster order, so the start is the one it always was.
        var background = s.data[0], highest = s.data[0]
        for row in 0..<w.rows {
            for col in 0..<w.columns {
                let v = s.data[row * w.stride + col]
                if v < background { background = v }
                if highest < v { highest = v }
            }
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
            guard let step = Factorization(current.jtj, damping: lambda)?.solve(current.jtr) else {
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
            result.positionSigma = positionStandardError(current, pixels: w.columns * w.rows)
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

/// The fit window: `columns` × `rows` pixels from (x0, y0), inside the frame, stored in rows of
/// `stride` values: the columns rounded up to whole vectors (`V`) for the pixel pass.
private struct Window {
    let x0: Int, y0: Int, columns: Int, rows: Int
    var stride: Int { (columns + V.scalarCount - 1) / V.scalarCount * V.scalarCount }

    /// Scratch bytes one fit needs: the row weights, then the window, the column factors
    /// (padded) and the row factors as Doubles.
    var scratchBytes: Int { rows * MemoryLayout<RowWeights>.stride + (rows * stride + stride + rows) * MemoryLayout<Double>.stride }

    func carve(_ base: UnsafeMutableRawPointer) -> Scratch {
        let weights = base.bindMemory(to: RowWeights.self, capacity: rows)
        let data = (base + rows * MemoryLayout<RowWeights>.stride).bindMemory(to: Double.self, capacity: rows * stride + stride + rows)
        let ex = data + rows * stride
        return Scratch(data: data, ex: ex, ey: ex + stride, rowWeights: weights)
    }

    /// Copies the window out of the frame and subtracts the neighbours' Gaussians.
    func load<Indices: Sequence<Int>>(_ frame: UnsafeBufferPointer<Float>, width: Int, into s: Scratch,
                                      subtracting spots: SpotProfiles.Spans, _ neighbours: Indices) {
        for r in 0..<rows {
            let src = frame.baseAddress! + (y0 + r) * width + x0, dst = s.data + r * stride
            for c in 0..<columns { dst[c] = Double(src[c]) }
        }
        for c in columns..<stride { s.ex[c] = 0 }
        for j in neighbours { spots.subtract(j, from: s.data, x0: x0, y0: y0, columns: columns, rows: rows, stride: stride) }
    }
}

/// The pixel pass's vectors: two lanes of Double.
private typealias V = SIMD2<Double>

/// A row's factors in the pixel pass, in every lane: A·e_y, e_y, e_y·dy, e_y·dy².
private struct RowWeights {
    var aey: V, ey: V, eyDy: V, eyDy2: V
}

/// Pointers into one fit's stack buffer (see `Window.carve`): the window, the column factors
/// eₓ, the row factors e_y and the rows' weights.
private struct Scratch {
    let data: UnsafeMutablePointer<Double>, ex: UnsafeMutablePointer<Double>, ey: UnsafeMutablePointer<Double>
    let rowWeights: UnsafeMutablePointer<RowWeights>
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

/// Fixed Gaussian spots (the neighbours a fit subtracts) sampled once on the pixel grid, so that
/// each window a spot reaches subtracts it with one multiply per pixel: per spot, the column
/// factors exp(−dx²/2σ²) and the row factors A·exp(−dy²/2σ²) of the pixels within 4σ (beyond,
/// a spot is not subtracted). A dense lattice has ≈ 12 neighbours per window, refitted every
/// round: sampled per window, their exp calls cost more than the fit.
struct SpotProfiles {
    /// Spot j's factors: columns x0..<x0+columns, then rows y0..<y0+rows, from `offset`.
    struct Span { var x0 = 0, columns = 0, y0 = 0, rows = 0, offset = 0 }
    private let spans: [Span]
    private let factors: [Double]

    /// - Parameter layout: the order in which the spots' factors lie in memory (a permutation of their
    ///   indices; nil: `rasterOrder(spots)`). In raster order rather than the order given (by class), a
    ///   window's neighbours, of every class, sit close together.
    init(_ spots: [GaussianSpot], width: Int, height: Int, layout: [Int]? = nil) {
        var spans = [Span](repeating: Span(), count: spots.count), total = 0
        for j in layout ?? Self.rasterOrder(spots) {
            let n = spots[j]
            var span = Span(offset: total)
            let reach = 4 * n.sigma
            if reach > 0, let xs = Self.pixels(near: n.x, within: reach, size: width), let ys = Self.pixels(near: n.y, within: reach, size: height) {
                (span.x0, span.columns, span.y0, span.rows) = (xs.lowerBound, xs.count, ys.lowerBound, ys.count)
            }
            spans[j] = span
            total += span.columns + span.rows
        }
        var factors = [Double](repeating: 0, count: total)
        factors.withUnsafeMutableBufferPointer { buffer in
            let out = UncheckedSendable(buffer)
            parallelChunks(spots.count, minChunk: 256) { range in
                for j in range { Self.sample(spots[j], spans[j], into: out.value.baseAddress! + spans[j].offset) }
            }
        }
        self.spans = spans; self.factors = factors
    }

    /// Indices of `spots` by 8-pixel row, then x (spots off the frame or not finite last).
    static func rasterOrder(_ spots: [GaussianSpot]) -> [Int] {
        func key(_ s: GaussianSpot) -> (Int, Double) {
            (s.y.isFinite ? Int((min(max(s.y, -1e9), 1e9) / 8).rounded(.down)) : .max, s.x.isFinite ? s.x : .infinity)
        }
        let keys = spots.map(key)
        return spots.indices.sorted { keys[$0] < keys[$1] }
    }

    /// The pixels of 0..<size within `reach` of `centre`, padded to whole pixels (their factors are
    /// 0); nil if none or the spot is not finite.
    private static func pixels(near centre: Double, within reach: Double, size: Int) -> ClosedRange<Int>? {
        let low = max((centre - reach).rounded(.down), 0), high = min((centre + reach).rounded(.up), Double(size - 1))
        return low <= high ? Int(low)...Int(high) : nil
    }

    private static func sample(_ n: GaussianSpot, _ span: Span, into ex: UnsafeMutablePointer<Double>) {
        let reach = 4 * n.sigma, inv = 1 / (2 * n.sigma * n.sigma), ey = ex + span.columns
        gaussianFactors(first: span.x0, count: span.columns, centre: n.x, inv: inv, into: ex)
        gaussianFactors(first: span.y0, count: span.rows, centre: n.y, inv: inv, into: ey)
        for c in 0..<span.columns where !(abs(Double(span.x0 + c) - n.x) < reach) { ex[c] = 0 }
        for r in 0..<span.rows { ey[r] = abs(Double(span.y0 + r) - n.y) < reach ? n.amplitude * ey[r] : 0 }
    }

    /// Runs `body` with a read-only view that parallel fits share.
    func withSpans<R>(_ body: (Spans) -> R) -> R {
        spans.withUnsafeBufferPointer { s in factors.withUnsafeBufferPointer { f in body(Spans(spans: s, factors: f)) } }
    }

    /// The spots as the fits read them (valid inside `withSpans`).
    struct Spans: @unchecked Sendable {
        let spans: UnsafeBufferPointer<Span>, factors: UnsafeBufferPointer<Double>

        /// Subtracts spot j from the window (`columns` × `rows` pixels from (x0, y0), rows `stride` apart).
        func subtract(_ j: Int, from data: UnsafeMutablePointer<Double>, x0: Int, y0: Int, columns: Int, rows: Int, stride: Int) {
            let span = spans[j]
            let c0 = max(x0, span.x0), c1 = min(x0 + columns, span.x0 + span.columns)
            let r0 = max(y0, span.y0), r1 = min(y0 + rows, span.y0 + span.rows)
            guard c0 < c1, r0 < r1 else { return }
            let ex = factors.baseAddress! + span.offset + (c0 - span.x0), ey = factors.baseAddress! + span.offset + span.columns
            for y in r0..<r1 {
                let a = ey[y - span.y0]
                guard a != 0 else { continue }
                let row = data + (y - y0) * stride + (c0 - x0)
                for c in 0..<(c1 - c0) { row[c] -= a * ex[c] }
            }
        }
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
/// χ² and Jᵀr need a pass over the pixels. That pass runs down the columns, two at a time, and
/// keeps per column Σ r, Σ r², Σ e_y·r, Σ e_y·dy·r and Σ e_y·dy²·r; the column factors eₓ and
/// dx weigh them into Jᵀr at the end.
private func evaluate(_ p: SIMD8<Double>, _ w: Window, _ s: Scratch) -> Evaluation {
    let (a, x0, y0, sg, b) = (p[0], p[1], p[2], p[3], p[4])
    let s2 = sg * sg, inv = 1 / (2 * s2), invS2 = 1 / s2, invS3 = 1 / (s2 * sg)
    let x = axisSums(first: w.x0, count: w.columns, centre: x0, inv: inv, into: s.ex)
    let y = axisSums(first: w.y0, count: w.rows, centre: y0, inv: inv, into: s.ey)
    for row in 0..<w.rows {
        let ey = s.ey[row], dy = Double(w.y0 + row) - y0, eyDy = ey * dy
        s.rowWeights[row] = RowWeights(aey: V(repeating: a * ey), ey: V(repeating: ey), eyDy: V(repeating: eyDy), eyDy2: V(repeating: eyDy * dy))
        // Padding lanes (eₓ = 0) hold the background, so their residual is exactly 0.
        for c in w.columns..<w.stride { s.data[row * w.stride + c] = b }
    }
    func load(_ p: UnsafeMutablePointer<Double>) -> V { UnsafeRawPointer(p).loadUnaligned(as: V.self) }
    var chi2 = 0.0, sumR = 0.0, sumER = 0.0, sumERdx = 0.0, sumERdy = 0.0, sumERr2 = 0.0
    for col in stride(from: 0, to: w.stride, by: V.scalarCount) {
        let ex = load(s.ex + col), dx = V(0, 1) + (Double(w.x0 + col) - x0)
        var rr = V(), r1 = V(), u0 = V(), u1 = V(), u2 = V()
        for row in 0..<w.rows {
            let q = s.rowWeights[row]
            let r = load(s.data + row * w.stride + col) - (q.aey * ex + b)
            rr += r * r; r1 += r
            u0 += q.ey * r; u1 += q.eyDy * r; u2 += q.eyDy2 * r
        }
        chi2 += rr.sum(); sumR += r1.sum()
        let exU0 = ex * u0
        sumER += exU0.sum(); sumERdx += (exU0 * dx).sum(); sumERdy += (ex * u1).sum(); sumERr2 += (exU0 * dx * dx + ex * u2).sum()
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
    gaussianFactors(first: first, count: count, centre: centre, inv: inv, into: factors)
    var e0 = 0.0, e1 = 0.0, e2 = 0.0, f0 = 0.0, f1 = 0.0, f2 = 0.0, f3 = 0.0, f4 = 0.0
    for i in 0..<count {
        let d = Double(first + i) - centre, f = factors[i], d2 = d * d, ff = f * f
        e0 += f; e1 += f * d; e2 += f * d2
        f0 += ff; f1 += ff * d; f2 += ff * d2; f3 += ff * d2 * d; f4 += ff * d2 * d2
    }
    return (SIMD4(e0, e1, e2, 0), SIMD8(f0, f1, f2, f3, f4, 0, 0, 0))
}

/// exp(−(first + i − centre)²·inv) for i < count, with three exp calls instead of one per pixel:
/// from the pixel nearest the centre outwards, each factor is its neighbour's times a ratio
/// exp(−(2|d| + 1)·inv) that itself shrinks by exp(−2·inv) per step (all ratios ≤ 1, so nothing
/// overflows; a few ulp of rounding over a window).
func gaussianFactors(first: Int, count: Int, centre: Double, inv: Double, into f: UnsafeMutablePointer<Double>) {
    guard count > 0 else { return }
    let offset = (centre - Double(first)).rounded()
    let nearest = offset.isNaN ? 0 : Int(min(max(offset, 0), Double(count - 1)))
    let d0 = Double(first + nearest) - centre, shrink = exp(-2 * inv)
    f[nearest] = exp(-d0 * d0 * inv)
    var ratio = exp(-(2 * d0 + 1) * inv)
    let upward = ratio
    for i in (nearest + 1)..<count { f[i] = f[i - 1] * ratio; ratio *= shrink }
    // Downward, the first ratio is exp((2d₀ − 1)·inv) = shrink / upward one (when that is > 0).
    ratio = upward > 0 ? shrink / upward : exp((2 * d0 - 1) * inv)
    for i in Swift.stride(from: nearest - 1, through: 0, by: -1) { f[i] = f[i + 1] * ratio; ratio *= shrink }
}

/// √(½(Var x₀ + Var y₀)) of a converged fit: diagonal entries 1 and 2 of s²·(JᵀJ)⁻¹, s² = χ²/(n − 5);
/// infinity when JᵀJ is singular or no degree of freedom is left.
private func positionStandardError(_ e: Evaluation, pixels: Int) -> Double {
    guard pixels > 5, let f = Factorization(e.jtj, damping: 0) else { return .infinity }
    let cx = f.solve(SIMD8(0, 1, 0, 0, 0, 0, 0, 0)), cy = f.solve(SIMD8(0, 0, 1, 0, 0, 0, 0, 0))
    let variance = e.chi2 / Double(pixels - 5) * (cx[1] + cy[2]) / 2
    return variance >= 0 ? variance.squareRoot() : .infinity
}

/// LDLᵀ factorization of H + λ·diag(H) (Marquardt's scaling, diagonal floored at 10⁻¹²) for the
/// 5×5 symmetric H given as its upper triangle row by row; nil unless positive definite. Written
/// out entry by entry so that it stays in registers: one division per pivot, no square root.
private struct Factorization {
    /// L's strict lower triangle (lᵢₖ, k < i) and the pivots' reciprocals.
    let l10, l20, l21, l30, l31, l32, l40, l41, l42, l43: Double
    let inversePivot: SIMD8<Double>

    init?(_ h: SIMD16<Double>, damping lambda: Double) {
        func damped(_ d: Double) -> Double { d + lambda * max(d, 1e-12) }
        func pivot(_ s: Double) -> Double? { s > 0 && s.isFinite ? s : nil }
        guard let d0 = pivot(damped(h[0])) else { return nil }
        let i0 = 1 / d0
        l10 = h[1] * i0; l20 = h[2] * i0; l30 = h[3] * i0; l40 = h[4] * i0
        guard let d1 = pivot(damped(h[5]) - l10 * l10 * d0) else { return nil }
        let i1 = 1 / d1
        l21 = (h[6] - l20 * d0 * l10) * i1
        l31 = (h[7] - l30 * d0 * l10) * i1
        l41 = (h[8] - l40 * d0 * l10) * i1
        guard let d2 = pivot(damped(h[9]) - l20 * l20 * d0 - l21 * l21 * d1) else { return nil }
        let i2 = 1 / d2
        l32 = (h[10] - l30 * d0 * l20 - l31 * d1 * l21) * i2
        l42 = (h[11] - l40 * d0 * l20 - l41 * d1 * l21) * i2
        guard let d3 = pivot(damped(h[12]) - l30 * l30 * d0 - l31 * l31 * d1 - l32 * l32 * d2) else { return nil }
        let i3 = 1 / d3
        l43 = (h[13] - l40 * d0 * l30 - l41 * d1 * l31 - l42 * d2 * l32) * i3
        guard let d4 = pivot(damped(h[14]) - l40 * l40 * d0 - l41 * l41 * d1 - l42 * l42 * d2 - l43 * l43 * d3) else { return nil }
        inversePivot = SIMD8(i0, i1, i2, i3, 1 / d4, 0, 0, 0)
    }

    /// x with (H + λ·diag(H)) x = g (lanes 0–4): L z = g, then Lᵀ x = D⁻¹ z.
    func solve(_ g: SIMD8<Double>) -> SIMD8<Double> {
        let z0 = g[0], z1 = g[1] - l10 * z0, z2 = g[2] - l20 * z0 - l21 * z1
        let z3 = g[3] - l30 * z0 - l31 * z1 - l32 * z2, z4 = g[4] - l40 * z0 - l41 * z1 - l42 * z2 - l43 * z3
        let y = SIMD8(z0, z1, z2, z3, z4, 0, 0, 0) * inversePivot
        let x4 = y[4], x3 = y[3] - l43 * x4, x2 = y[2] - l32 * x3 - l42 * x4
        let x1 = y[1] - l21 * x2 - l31 * x3 - l41 * x4, x0 = y[0] - l10 * x1 - l20 * x2 - l30 * x3 - l40 * x4
        return SIMD8(x0, x1, x2, x3, x4, 0, 0, 0)
    }
}
