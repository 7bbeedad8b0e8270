import Core
import Foundation
import Simulation

/// A lattice site of the frame: where it is (pixels), which basis site of the material it is, what it holds
/// (index into the material's `siteKinds[basis]`; 0 = the perfect host column) and its measured contrast
/// (brightness over the local hollow level, relative to the median host column of its sublattice).
public struct LatticeSite: Sendable, Equatable {
    public var x: Double, y: Double
    public var basis: Int
    public var kind: Int
    public var contrast: Double
}

/// The Fourier lattice analysis of one frame: the fitted lattice, the periodic reconstruction (the frame
/// filtered to its Bragg peaks) and every lattice site with what it holds.
public struct LatticeAnalysis: Sendable {
    public var material: LatticeMaterial
    public var width: Int, height: Int
    public var fit: LatticeFit
    /// The ideal, periodic lattice: the frame with everything but windows around its Bragg peaks (and the
    /// slowly varying background around zero frequency) removed. Row-major, the frame's units.
    public var reconstruction: [Float]
    /// Sites at least `margin` pixels inside the frame.
    public var sites: [LatticeSite]
    /// How clearly the folded frame tells the other basis sites' side (S in WS2) from the empty hollows:
    /// their brightness difference over its noise (σ). Below 3 the sublattice is a guess.
    public var sublatticeSignificance = 0.0
    /// The frame folded into one cell about `cellOrigin`: the frame's average column, unfolded by `template(at:)`.
    var cell: CellAverage
    var cellOrigin: Vec2

    /// The sites that depart from the perfect lattice (substitutions, column thinning, vacancies).
    public var departures: [LatticeSite] { sites.filter { $0.kind != 0 } }

    public func kind(of site: LatticeSite) -> ColumnKind { material.siteKinds[site.basis][site.kind] }

    /// Analyzes a frame (row-major, `width` × `height`, at least 32 × 32, finite).
    /// - Parameter pixelSize: the frame's pixel size (Å) if known: the first-order Bragg peaks are then looked
    ///   for where the material's lattice constant puts them (`LatticeFit.hexagonOnRing`), and it sizes the
    ///   intensity windows; else the Fourier estimate sizes them.
    public init(frame pixels: [Float], width: Int, height: Int, material: LatticeMaterial, pixelSize: Double? = nil) throws {
        guard width >= 32, height >= 32, pixels.count == width * height else { throw FourierLatticeError.frameTooSmall(width, height) }
        guard pixels.allSatisfy(\.isFinite) else { throw FourierLatticeError.nonFinitePixels }
        self.material = material; self.width = width; self.height = height
        let mean = pixels.reduce(0.0) { $0 + Double($1) } / Double(pixels.count)
        fit = try LatticeFit.fit(Spectrum(pixels, width: width, height: height, mean: mean, hann: true),
                                 latticeConstant: material.lattice.a, minPeriod: 2.5, pixelSize: pixelSize)
        var raw = Spectrum(pixels, width: width, height: height, mean: mean, hann: false)
        Self.keepBraggWindows(&raw, fit: fit)
        reconstruction = raw.inverse(croppedTo: width, height).map { Float($0 + mean) }
        sites = []
        cellOrigin = Vec2(Double(width - 1) / 2, Double(height - 1) / 2)
        cell = CellAverage(pixels, width: width, height: height, fit: fit, origin: cellOrigin)
        (sites, sublatticeSignificance) = classifiedSites(frame: pixels, pixelSize: pixelSize ?? fit.pixelSize)
    }

    /// Multiplies the spectrum by a Gaussian window (σ = max(1.5 bins, |g1|/8)) around every reciprocal
    /// lattice point, zero frequency included: what passes is the periodic lattice and its slow modulation.
    static func keepBraggWindows(_ s: inout Spectrum, fit: LatticeFit) {
        let sigma = max(1.5, length(fit.g1) * Double(max(s.width, s.height)) / 8)
        for ky in 0..<s.height { for kx in 0..<s.width {
            let f = s.frequency(kx, ky)
            let u = (f * fit.a1).sum(), v = (f * fit.a2).sum()
            var d2 = Double.infinity
            for n2 in [v.rounded(.down), v.rounded(.up)] { for n1 in [u.rounded(.down), u.rounded(.up)] {
                let dq = f - (n1 * fit.g1 + n2 * fit.g2)
                d2 = min(d2, pow(dq.x * Double(s.width), 2) + pow(dq.y * Double(s.height), 2))
            } }
            let w = exp(-d2 / (2 * sigma * sigma))
            s.re[ky * s.width + kx] *= w; s.im[ky * s.width + kx] *= w
        } }
    }

    // MARK: Sites

    /// Sites on the fitted lattice, at their ideal places (the least-squares lattice from every Bragg
    /// peak: on the study's frames 0.3–0.45 px rms from the true columns, where the reconstruction's local
    /// maxima scattered by 1.1 px). Anchor: the frame folded into one unit cell (`CellAverage`); of its
    /// centres of symmetry the brightest is the brightest basis site, and of the two places ± the other
    /// basis sites' offset the brighter holds them, the other is the empty hollow. Averaging over every
    /// cell keeps this right where single columns drown in noise or the probe's tails.
    /// Returns the sites and `sublatticeSignificance`.
    func classifiedSites(frame: [Float], pixelSize: Double) -> ([LatticeSite], Double) {
        let lattice = material.lattice, anchorBasis = material.brightestBasis
        let centre = cellOrigin
        let f0 = lattice.basis[anchorBasis].fractional
        // The hollow and the basis sites are the cell's centres of 3-fold symmetry: found as such (a probe
        // with a dark core or bright rings shifts the folded cell's maximum off the column, not its
        // symmetry), then the brightest is the anchor basis site.
        let points = [Vec2.zero] + lattice.basis.map(\.fractional)
        let origin = cell.mostSymmetricOrigin(points: points, fit: fit)
        let top = points.map { origin + $0 }.max { cell.value(at: $0) < cell.value(at: $1) }!
        let wrapped = top - (top + Vec2(0.5, 0.5)).rounded(.down)   // the copy nearest the frame centre
        let anchor = centre + wrapped.x * fit.a1 + wrapped.y * fit.a2
        let (a1, a2) = (fit.a1, fit.a2)
        let offset = { (frac: Vec2, sign: Double) -> Vec2 in
            let d: Vec2 = frac - f0
            return sign * (d.x * a1 + d.y * a2)
        }
        let others = lattice.basis.indices.filter { $0 != anchorBasis }
        // Mean of the folded frame at the other basis sites on one side (fractional offsets from the anchor).
        func side(_ sign: Double) -> Double {
            others.map { cell.value(at: top + sign * (lattice.basis[$0].fractional - f0)) }.reduce(0, +) / Double(max(1, others.count))
        }
        let sign = side(1) >= side(-1) ? 1.0 : -1.0
        let significance = others.isEmpty ? .infinity : abs(side(1) - side(-1)) / (2.0.squareRoot() * cell.noise)
        let hollow = anchor + offset(.zero, sign)
        let sigma = 0.3 / pixelSize, margin = 3 * sigma + 1
        // Every cell (i, j) whose sites may fall inside the frame.
        let w = Double(width), h = Double(height)
        let corners: [Vec2] = [Vec2(0, 0), Vec2(w, 0), Vec2(0, h), Vec2(w, h)].map { fit.fractional($0 - anchor) }
        let us = corners.map(\.x), vs = corners.map(\.y)
        let iRange = (Int(floor(us.min()!)) - 1)...(Int(ceil(us.max()!)) + 1)
        let jRange = (Int(floor(vs.min()!)) - 1)...(Int(ceil(vs.max()!)) + 1)
        var raw: [(site: LatticeSite, level: Double)] = []
        for j in jRange { for i in iRange {
            let shift = Double(i) * fit.a1 + Double(j) * fit.a2
            let corner = hollow + shift
            for b in lattice.basis.indices {
                let p = anchor + shift + offset(lattice.basis[b].fractional, sign)
                guard p.x >= margin, p.y >= margin, p.x <= Double(width - 1) - margin, p.y <= Double(height - 1) - margin else { continue }
                // The local hollow level: the mean of the three hollows around the site.
                var hollows: [Vec2] = []
                for m in -1...1 { for n in -1...1 { hollows.append(corner + Double(m) * a1 + Double(n) * a2) } }
                hollows = Array(hollows.sorted { length($0 - p) < length($1 - p) }.prefix(3))
                let background = hollows.map { weightedMean(frame, at: $0, sigma: sigma) }.reduce(0, +) / 3
                raw.append((LatticeSite(x: p.x, y: p.y, basis: b, kind: 0, contrast: 0), weightedMean(frame, at: p, sigma: sigma) - background))
            }
        } }
        let sites = lattice.basis.indices.flatMap { b -> [LatticeSite] in
            let mine = raw.filter { $0.site.basis == b }
            guard !mine.isEmpty else { return [] }
            let scale = max(Statistics.median(mine.map(\.level)), 1e-12)
            let kinds = material.siteKinds[b]
            return mine.map { r in
                var s = r.site
                s.contrast = r.level / scale
                s.kind = kinds.indices.min { abs(kinds[$0].contrast - s.contrast) < abs(kinds[$1].contrast - s.contrast) } ?? 0
                return s
            }
        }.sorted { ($0.y, $0.x) < ($1.y, $1.x) }
        return (sites, significance)
    }

    /// Gaussian-weighted mean (σ pixels, over 2σ) of the image around `p`: a column's brightness with the
    /// shot noise of one pixel averaged down.
    func weightedMean(_ image: [Float], at p: Vec2, sigma: Double) -> Double {
        let r = Int(ceil(2 * sigma))
        var sum = 0.0, weight = 0.0
        for y in (Int(p.y.rounded()) - r)...(Int(p.y.rounded()) + r) where y >= 0 && y < height {
            for x in (Int(p.x.rounded()) - r)...(Int(p.x.rounded()) + r) where x >= 0 && x < width {
                let d2 = pow(Double(x) - p.x, 2) + pow(Double(y) - p.y, 2)
                let w = exp(-d2 / (2 * sigma * sigma))
                sum += w * Double(image[y * width + x]); weight += w
            }
        }
        return weight > 0 ? sum / weight : 0
    }
}

// MARK: Columns where the frame has them

extension LatticeAnalysis {
    /// The frame's ideal periodic image at `p`: its folded cell (the average column with its neighbours'
    /// tails) unfolded onto the fitted lattice, so its columns sit on the ideal sites.
    func template(at p: Vec2) -> Double { cell.value(at: fit.fractional(p - cellOrigin)) }

    /// σ of a pixel about the template: 1.4826 × the median absolute residual (an upper bound where the
    /// scan distortion itself leaves residuals).
    func pixelNoise(_ frame: [Float]) -> Double {
        var residuals = [Double](repeating: 0, count: frame.count)
        for y in 0..<height { for x in 0..<width {
            residuals[y * width + x] = abs(Double(frame[y * width + x]) - template(at: Vec2(Double(x), Double(y))))
        } }
        return 1.4826 * Statistics.median(residuals)
    }

    /// Where the frame has the column of the ideal site `p`. Scan distortion (line jitter, flyback, slow-scan
    /// drift) moves whole scan lines, so the column moves with the line through it: the site moves along x by
    /// the shift that best aligns the frame's scan line through it with the template (least squares, means
    /// removed, over ± one bond), then along y likewise with the pixel column through the moved site. A
    /// shift is taken only when it lies inside `reach` (under half a bond: never the neighbour's column) and
    /// exceeds twice its noise (σ = pixel noise / √Σ T′², the template-matching bound); otherwise the ideal
    /// place stays, being the more precise where the frame agrees with the lattice within its noise.
    public func snapped(_ p: Vec2, frame: [Float], noise: Double) -> Vec2 {
        let bond = material.lattice.a / 3.0.squareRoot() / fit.pixelSize
        let reach = Int(0.45 * bond), half = Int(bond.rounded())
        let row = Int(p.y.rounded()), x0 = Int(p.x.rounded())
        let dx = Self.lineShift(half: half, reach: reach, noise: noise,
                                frame: { t in x0 + t >= 0 && x0 + t < width && row >= 0 && row < height ? Double(frame[row * width + x0 + t]) : nil },
                                model: { s in template(at: Vec2(Double(x0) + s, Double(row))) })
        let column = Int((p.x + dx).rounded()), y0 = Int(p.y.rounded())
        let dy = Self.lineShift(half: half, reach: reach, noise: noise,
                                frame: { t in y0 + t >= 0 && y0 + t < height && column >= 0 && column < width ? Double(frame[(y0 + t) * width + column]) : nil },
                                model: { s in template(at: Vec2(Double(column) - dx, Double(y0) + s)) })
        return Vec2(p.x + dx, p.y + dy)
    }

    /// The shift d that best aligns a line of the frame, `frame(t)` for t in −half…half, with the template along
    /// it, `model(t − d)`: the least sum of squares (means removed) over integer d in −reach…reach, refined by a
    /// parabola. 0 when the best is at the edge of the reach or not beyond 2σ.
    static func lineShift(half: Int, reach: Int, noise: Double, frame: (Int) -> Double?, model: (Double) -> Double) -> Double {
        let ts = (-half...half).filter { frame($0) != nil }
        guard reach >= 1, ts.count > 2 * reach + 2 else { return 0 }
        let f = ts.map { frame($0)! }, fMean = f.reduce(0, +) / Double(f.count)
        func cost(_ d: Int) -> Double {
            let m = ts.map { model(Double($0 - d)) }, mMean = m.reduce(0, +) / Double(m.count)
            return zip(f, m).reduce(0) { $0 + pow(($1.0 - fMean) - ($1.1 - mMean), 2) }
        }
        let costs = (-reach...reach).map(cost)
        let best = costs.indices.min { costs[$0] < costs[$1] }!
        guard best > 0, best < costs.count - 1 else { return 0 }
        let (a, b, c) = (costs[best - 1], costs[best], costs[best + 1])
        let d = Double(best - reach) + (a - c) / (2 * max(a - 2 * b + c, 1e-300))
        // Σ T′² along the line at the shift found (central differences).
        let slope2 = ts.reduce(0.0) { $0 + pow((model(Double($1) - d + 0.5) - model(Double($1) - d - 0.5)), 2) }
        let sigma = noise / max(slope2, 1e-300).squareRoot()
        return abs(d) > 2 * sigma ? d : 0
    }
}

/// The frame folded into one unit cell: every pixel averaged into `bins` × `bins` bins by its fractional
/// lattice coordinates, then smoothed (periodic Gaussian, σ = 2 bins). Over the ~10² cells of a frame its
/// noise is ~10× below a single column's.
struct CellAverage {
    let bins: Int
    var mean: [Double]
    /// σ of a smoothed bin's value from the pixels' scatter (an upper bound: the scatter within a bin
    /// includes the lattice's own variation across it).
    var noise: Double

    init(_ frame: [Float], width: Int, height: Int, fit: LatticeFit, origin: Vec2, bins: Int = 32, sigma: Double = 2) {
        self.bins = bins
        var sum = [Double](repeating: 0, count: bins * bins), sum2 = sum, count = sum
        for y in 0..<height { for x in 0..<width {
            let f = fit.fractional(Vec2(Double(x), Double(y)) - origin)
            let i = Self.wrap(Int(floor((f.x - floor(f.x)) * Double(bins))), bins) + bins * Self.wrap(Int(floor((f.y - floor(f.y)) * Double(bins))), bins)
            let v = Double(frame[y * width + x])
            sum[i] += v; sum2[i] += v * v; count[i] += 1
        } }
        let raw = zip(sum, count).map { $1 > 0 ? $0 / $1 : 0 }
        let variance = (0..<sum.count).filter { count[$0] > 1 }.map { sum2[$0] / count[$0] - raw[$0] * raw[$0] }
        let meanCount = count.reduce(0, +) / Double(count.count)
        noise = (max(0, variance.reduce(0, +) / Double(max(1, variance.count))) / (meanCount * 4 * Double.pi * sigma * sigma)).squareRoot()
        // Separable periodic Gaussian smoothing (empty bins, in frames of a few cells, weigh nothing).
        let r = Int(ceil(3 * sigma))
        let kernel = (-r...r).map { exp(-Double($0 * $0) / (2 * sigma * sigma)) }
        func smooth(_ values: [Double], _ weights: [Double], along stride: (Int, Int) -> Int) -> ([Double], [Double]) {
            var v = [Double](repeating: 0, count: values.count), w = v
            for j in 0..<bins { for i in 0..<bins {
                for (k, g) in zip(-r...r, kernel) {
                    let src = stride(Self.wrap(i + k, bins), j)
                    v[stride(i, j)] += g * values[src]; w[stride(i, j)] += g * weights[src]
                }
            } }
            return (v, w)
        }
        let (vx, wx) = smooth(sum, count) { u, v in u + bins * v }
        let (vy, wy) = smooth(vx, wx) { v, u in u + bins * v }
        mean = zip(vy, wy).map { $1 > 0 ? $0 / $1 : 0 }
    }

    static func wrap(_ i: Int, _ n: Int) -> Int { ((i % n) + n) % n }

    /// Bilinear, periodic value at fractional coordinates `f`.
    func value(at f: Vec2) -> Double {
        let u = (f.x - floor(f.x)) * Double(bins) - 0.5, v = (f.y - floor(f.y)) * Double(bins) - 0.5
        let i = Int(floor(u)), j = Int(floor(v)), du = u - floor(u), dv = v - floor(v)
        let at = { (i: Int, j: Int) in mean[Self.wrap(i, bins) + bins * Self.wrap(j, bins)] }
        return (1 - dv) * ((1 - du) * at(i, j) + du * at(i + 1, j)) + dv * ((1 - du) * at(i, j + 1) + du * at(i + 1, j + 1))
    }

    /// The origin o (fractional) about which the cell is most nearly 3-fold symmetric at every o + `points`
    /// (for a hexagonal cell: the hollow and the basis sites): the least summed variance of the values at
    /// x, x turned by 120° and by 240° about each point, x on rings of 0.12 and 0.22 lattice constants.
    /// A grid of a quarter bin, then a tenth of a bin around the best.
    func mostSymmetricOrigin(points: [Vec2], fit: LatticeFit) -> Vec2 {
        let a = (length(fit.a1) + length(fit.a2)) / 2
        let ring = [0.12, 0.22].flatMap { r in (0..<8).map { k -> [Vec2] in
            (0..<3).map { turn in
                let t = Double(k) * Double.pi / 12 + Double(turn) * 2 * Double.pi / 3
                return fit.fractional(Vec2(r * a * cos(t), r * a * sin(t)))
            }
        } }
        func asymmetry(_ o: Vec2) -> Double {
            points.reduce(0) { sum, q in
                sum + ring.reduce(0) { s, triple in
                    let v = triple.map { value(at: o + q + $0) }
                    let m = v.reduce(0, +) / 3
                    return s + v.reduce(0) { $0 + ($1 - m) * ($1 - m) }
                }
            }
        }
        func best(around c: Vec2, step: Double, reach: Int) -> Vec2 {
            var out = c, least = Double.infinity
            for j in -reach...reach { for i in -reach...reach {
                let o = c + step * Vec2(Double(i), Double(j))
                let e = asymmetry(o)
                if e < least { least = e; out = o }
            } }
            return out
        }
        let coarse = best(around: Vec2(0.5, 0.5), step: 0.25 / Double(bins), reach: 2 * bins)
        return best(around: coarse, step: 0.025 / Double(bins), reach: 10)
    }
}
