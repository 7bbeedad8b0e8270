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

    /// The sites that depart from the perfect lattice (substitutions, column thinning, vacancies).
    public var departures: [LatticeSite] { sites.filter { $0.kind != 0 } }

    public func kind(of site: LatticeSite) -> ColumnKind { material.siteKinds[site.basis][site.kind] }

    /// Analyzes a frame (row-major, `width` × `height`, at least 32 × 32, finite).
    /// - Parameter pixelSize: the frame's pixel size (Å) if known; else the Fourier estimate is used to size
    ///   the intensity windows (the fitted lattice itself never depends on it).
    public init(frame pixels: [Float], width: Int, height: Int, material: LatticeMaterial, pixelSize: Double? = nil) throws {
        guard width >= 32, height >= 32, pixels.count == width * height else { throw FourierLatticeError.frameTooSmall(width, height) }
        guard pixels.allSatisfy(\.isFinite) else { throw FourierLatticeError.nonFinitePixels }
        self.material = material; self.width = width; self.height = height
        let mean = pixels.reduce(0.0) { $0 + Double($1) } / Double(pixels.count)
        fit = try LatticeFit.fit(Spectrum(pixels, width: width, height: height, mean: mean, hann: true),
                                 latticeConstant: material.lattice.a, minPeriod: 2.5)
        var raw = Spectrum(pixels, width: width, height: height, mean: mean, hann: false)
        Self.keepBraggWindows(&raw, fit: fit)
        reconstruction = raw.inverse(croppedTo: width, height).map { Float($0 + mean) }
        sites = []
        sites = classifiedSites(frame: pixels, pixelSize: pixelSize ?? fit.pixelSize)
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

    /// Anchor: the brightest maximum of the reconstruction near the frame centre is the brightest basis site.
    /// The other basis sites sit at ±(their offset) from it (the sign fixed by which side is bright: the
    /// other side is the empty hollow), the hollows at the cell corners.
    func classifiedSites(frame: [Float], pixelSize: Double) -> [LatticeSite] {
        let lattice = material.lattice, anchorBasis = material.brightestBasis
        let anchor = brightestNear(Vec2(Double(width - 1) / 2, Double(height - 1) / 2))
        let f0 = lattice.basis[anchorBasis].fractional
        let (a1, a2) = (fit.a1, fit.a2)
        let offset = { (frac: Vec2, sign: Double) -> Vec2 in
            let d: Vec2 = frac - f0
            return sign * (d.x * a1 + d.y * a2)
        }
        let others = lattice.basis.indices.filter { $0 != anchorBasis }
        func brightness(_ sign: Double) -> Double {
            var sum = 0.0
            for b in others { sum += Double(sample(reconstruction, at: anchor + offset(lattice.basis[b].fractional, sign))) }
            return sum
        }
        let sign = brightness(1) >= brightness(-1) ? 1.0 : -1.0
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
            let cell = Double(i) * fit.a1 + Double(j) * fit.a2
            let corner = hollow + cell
            for b in lattice.basis.indices {
                let ideal = anchor + cell + offset(lattice.basis[b].fractional, sign)
                let p = isFarFromEdges(ideal) ? refinedMaximum(ideal) : ideal
                guard p.x >= margin, p.y >= margin, p.x <= Double(width - 1) - margin, p.y <= Double(height - 1) - margin else { continue }
                // The local hollow level: the mean of the three hollows around the site.
                var hollows: [Vec2] = []
                for m in -1...1 { for n in -1...1 { hollows.append(corner + Double(m) * a1 + Double(n) * a2) } }
                hollows = Array(hollows.sorted { length($0 - p) < length($1 - p) }.prefix(3))
                let background = hollows.map { weightedMean(frame, at: $0, sigma: sigma) }.reduce(0, +) / 3
                raw.append((LatticeSite(x: p.x, y: p.y, basis: b, kind: 0, contrast: 0), weightedMean(frame, at: p, sigma: sigma) - background))
            }
        } }
        return lattice.basis.indices.flatMap { b -> [LatticeSite] in
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
    }

    /// The reconstruction's maximum within half a bond of `p` (sub-pixel, parabolic), or `p` if there is none
    /// inside the frame: sites follow the lattice's slow distortions instead of the ideal grid.
    func refinedMaximum(_ p: Vec2) -> Vec2 {
        let reach = max(1, Int(0.2 * length(fit.a1)))
        let cx = Int(p.x.rounded()), cy = Int(p.y.rounded())
        var best = (cx, cy), bestV = -Float.infinity
        for y in (cy - reach)...(cy + reach) where y >= 1 && y < height - 1 {
            for x in (cx - reach)...(cx + reach) where x >= 1 && x < width - 1 {
                if reconstruction[y * width + x] > bestV { bestV = reconstruction[y * width + x]; best = (x, y) }
            }
        }
        guard bestV > -Float.infinity else { return p }
        let (bx, by) = best
        let v = { (x: Int, y: Int) in Double(reconstruction[y * width + x]) }
        func offset(_ m: Double, _ c: Double, _ n: Double) -> Double {
            let den = m - 2 * c + n
            return den < 0 ? min(0.5, max(-0.5, 0.5 * (m - n) / den)) : 0
        }
        let q = Vec2(Double(bx) + offset(v(bx - 1, by), v(bx, by), v(bx + 1, by)),
                     Double(by) + offset(v(bx, by - 1), v(bx, by), v(bx, by + 1)))
        return length(q - p) <= Double(reach) ? q : p
    }

    /// Whether `p` lies more than 1.5 lattice constants inside the frame: nearer the edges the reconstruction
    /// mixes in the opposite edge (the FFT is periodic), so sites there keep their ideal-lattice positions.
    func isFarFromEdges(_ p: Vec2) -> Bool {
        let m = 1.5 * length(fit.a1)
        return p.x > m && p.y > m && p.x < Double(width - 1) - m && p.y < Double(height - 1) - m
    }

    /// The brightest pixel of the reconstruction within one lattice constant of `p`, refined.
    func brightestNear(_ p: Vec2) -> Vec2 {
        let r = Int(ceil(length(fit.a1)))
        var best = p, bestV = -Float.infinity
        for y in max(0, Int(p.y) - r)...min(height - 1, Int(p.y) + r) { for x in max(0, Int(p.x) - r)...min(width - 1, Int(p.x) + r) {
            if reconstruction[y * width + x] > bestV { bestV = reconstruction[y * width + x]; best = Vec2(Double(x), Double(y)) }
        } }
        return refinedMaximum(best)
    }

    /// Nearest-pixel value (clamped to the frame).
    func sample(_ image: [Float], at p: Vec2) -> Float {
        let x = min(max(Int(p.x.rounded()), 0), width - 1), y = min(max(Int(p.y.rounded()), 0), height - 1)
        return image[y * width + x]
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
