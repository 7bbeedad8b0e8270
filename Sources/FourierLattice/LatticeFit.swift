import Core
import Foundation
import Simulation

/// One Bragg reflection used in the fit: its order (n1, n2) on the reciprocal basis, measured frequency
/// (cycles/pixel) and prominence (power over the radial median of the spectrum).
public struct BraggPeak: Sendable, Equatable {
    public var n1: Int, n2: Int
    public var frequency: Vec2
    public var prominence: Double
}

/// The lattice a frame shows: reciprocal vectors g1, g2 (cycles/pixel, 120° apart) fitted by least squares to
/// every Bragg peak found, their real-space duals a1, a2 (pixels, 60° apart as in the simulator's cells),
/// and from |a| against the material's lattice constant the pixel size.
public struct LatticeFit: Sendable {
    public var g1: Vec2, g2: Vec2
    public var a1: Vec2, a2: Vec2
    public var peaks: [BraggPeak]
    /// Pixel size (Å) = the material's lattice constant / mean |a|.
    public var pixelSize: Double
    /// Angle between a1 and a2 (degrees; 60 for an undistorted hexagonal lattice).
    public var angleDegrees: Double { acos((a1 * a2).sum() / (length(a1) * length(a2))) * 180 / Double.pi }

    init(g1: Vec2, g2: Vec2, peaks: [BraggPeak], latticeConstant: Double) {
        self.g1 = g1; self.g2 = g2; self.peaks = peaks
        // a_i · g_j = δ_ij: the columns of G⁻¹, G's rows being g1 and g2.
        let det = g1.x * g2.y - g1.y * g2.x
        a1 = Vec2(g2.y, -g2.x) / det
        a2 = Vec2(-g1.y, g1.x) / det
        pixelSize = latticeConstant / ((length(a1) + length(a2)) / 2)
    }

    /// Fractional lattice coordinates (u, v) of a pixel position r: r = u·a1 + v·a2.
    public func fractional(_ r: Vec2) -> Vec2 { Vec2((r * g1).sum(), (r * g2).sum()) }

    /// Fits the lattice of a frame from its windowed spectrum. With a known pixel size the first-order
    /// peaks are looked for on the ring the lattice constant predicts, as the hexagon of peaks 60° apart
    /// that stands out most (`hexagonOnRing`); without one (or when no hexagon stands out there) the
    /// fundamental is the shortest strongly prominent peak (so a second-order spot is never taken for it),
    /// its partner the peak nearest 120° away. Then every order up to 0.45 cycles/pixel is located and g1,
    /// g2 refitted to all of them.
    static func fit(_ spectrum: Spectrum, latticeConstant: Double, minPeriod: Double, pixelSize: Double? = nil) throws -> LatticeFit {
        let background = spectrum.radialMedian()
        if let p = pixelSize, let (g1, g2) = hexagonOnRing(spectrum, background: background, radius: 2 * p / (3.0.squareRoot() * latticeConstant)) {
            var fit = LatticeFit(g1: g1, g2: g2, peaks: [], latticeConstant: latticeConstant)
            for _ in 0..<2 { fit = refined(fit, spectrum, background: background, latticeConstant: latticeConstant) }
            if fit.peaks.count >= 4 { return fit }
        }
        let candidates = prominentPeaks(spectrum, background: background, minPeriod: minPeriod)
        guard let top = candidates.map(\.prominence).max(), top > 50 else {
            throw FourierLatticeError.noLattice("no Bragg peak stands out of the spectrum (best \(Int(candidates.map(\.prominence).max() ?? 0))× its background)")
        }
        let strong = candidates.filter { $0.prominence > 0.1 * top }
        let g1 = strong.min { length($0.frequency) < length($1.frequency) }!.frequency
        let turned = rotate(g1, by: 2 * Double.pi / 3)
        let partner = strong.min { length($0.frequency - turned) < length($1.frequency - turned) }!.frequency
        let g2 = length(partner - turned) < 0.15 * length(g1) ? partner : turned
        var fit = LatticeFit(g1: g1, g2: g2, peaks: [], latticeConstant: latticeConstant)
        for _ in 0..<2 { fit = refined(fit, spectrum, background: background, latticeConstant: latticeConstant) }
        guard fit.peaks.count >= 4 else {
            throw FourierLatticeError.noLattice("only \(fit.peaks.count) Bragg peaks fit a hexagonal lattice")
        }
        return fit
    }

    /// Least prominence of each of the three first-order peaks (their ± partners have the same power) for a
    /// hexagon to count as the lattice's.
    static let minHexagonProminence = 8.0

    /// The three first-order peaks g, g turned by 60° and by 120° on a ring of `radius` ± 7 % (cycles/pixel)
    /// whose weakest is the most prominent (a hexagonal lattice shows all six; noise or a superstructure
    /// rarely shows six at 60° on the predicted ring): returns g and its partner at 120°, or nil when the
    /// weakest of the best hexagon is below `minHexagonProminence`.
    static func hexagonOnRing(_ s: Spectrum, background: [Double], radius: Double) -> (Vec2, Vec2)? {
        let n = Double(max(s.width, s.height))
        guard radius * n >= 4, radius < 0.45 else { return nil }
        var best: (score: Double, peaks: [Vec2]) = (0, [])
        for r in stride(from: 0.93 * radius, through: 1.07 * radius, by: 0.25 / n) {
            let step = 0.5 / (r * n)   // half a bin of arc
            for theta in stride(from: 0, to: Double.pi / 3, by: step) {
                let peaks = (0..<3).map { k -> (frequency: Vec2, prominence: Double) in
                    let t = theta + Double(k) * Double.pi / 3
                    let (kx, ky) = s.bin(Vec2(r * cos(t), r * sin(t)))
                    return s.refinePeak(near: kx, ky, radius: 1, background: background)
                }
                let score = peaks.map(\.prominence).min()!
                if score > best.score { best = (score, peaks.map(\.frequency)) }
            }
        }
        guard best.score >= minHexagonProminence else { return nil }
        let unwrap = { (f: Vec2) in f - Vec2(f.x.rounded(), f.y.rounded()) }   // bins past Nyquist back to ±½
        return (unwrap(best.peaks[0]), unwrap(best.peaks[2]))
    }

    /// Local maxima of the power within the band of periods ≥ `minPeriod` pixels and ≤ a quarter of the frame.
    static func prominentPeaks(_ s: Spectrum, background: [Double], minPeriod: Double) -> [BraggPeak] {
        let fMin = 4.0 / Double(min(s.width, s.height)), fMax = 1 / minPeriod
        var out: [BraggPeak] = []
        for ky in 0..<s.height { for kx in 0..<s.width {
            let f = s.frequency(kx, ky), r = length(f)
            guard r >= fMin, r <= fMax, f.y > 0 || (f.y == 0 && f.x > 0) else { continue }  // one of each ±g pair
            let p = s.power(kx, ky)
            var isMax = true
            for dy in -1...1 { for dx in -1...1 where (dx, dy) != (0, 0) && s.power(kx + dx, ky + dy) > p { isMax = false } }
            if isMax { out.append(BraggPeak(n1: 0, n2: 0, frequency: f, prominence: s.prominence(kx, ky, background: background))) }
        } }
        return out.sorted { $0.prominence > $1.prominence }.prefix(40).map { $0 }
    }

    /// Locates every order n1·g1 + n2·g2 below 0.45 cycles/pixel (and within five times |g1|) and refits
    /// g1, g2 by least squares to those at least 5× their background, each weighted by its prominence
    /// (power over background ≈ SNR², to which a peak position's precision is proportional): unweighted,
    /// the weak high orders, whose leverage grows as n², scattered the pixel size by ±0.5 %.
    static func refined(_ fit: LatticeFit, _ s: Spectrum, background: [Double], latticeConstant: Double) -> LatticeFit {
        let limit = min(0.45, 5 * length(fit.g1))
        let reach = Int(ceil(limit / min(length(fit.g1), length(fit.g2)))) + 1
        var peaks: [BraggPeak] = []
        for n2 in -reach...reach { for n1 in -reach...reach where (n1, n2) != (0, 0) {
            let g = Double(n1) * fit.g1 + Double(n2) * fit.g2
            guard length(g) <= limit else { continue }
            let (kx, ky) = s.bin(g)
            let (f, prominence) = s.refinePeak(near: kx, ky, radius: 1, background: background)
            // Undo the wrap of bin(): the refined peak lies next to g, not across the spectrum.
            let unwrapped = f - Vec2((f.x - g.x).rounded(), (f.y - g.y).rounded())
            if prominence >= 5 { peaks.append(BraggPeak(n1: n1, n2: n2, frequency: unwrapped, prominence: prominence)) }
        } }
        guard peaks.count >= 4 else { return LatticeFit(g1: fit.g1, g2: fit.g2, peaks: peaks, latticeConstant: latticeConstant) }
        // Normal equations of q_k ≈ n1_k·g1 + n2_k·g2, one 2×2 system shared by both components.
        var s11 = 0.0, s12 = 0.0, s22 = 0.0, b1 = Vec2.zero, b2 = Vec2.zero
        for p in peaks {
            let n1 = Double(p.n1), n2 = Double(p.n2), w = p.prominence
            s11 += w * n1 * n1; s12 += w * n1 * n2; s22 += w * n2 * n2
            b1 += w * n1 * p.frequency; b2 += w * n2 * p.frequency
        }
        let det = s11 * s22 - s12 * s12
        guard abs(det) > 1e-9 * s11 * s22 else { return LatticeFit(g1: fit.g1, g2: fit.g2, peaks: peaks, latticeConstant: latticeConstant) }
        let g1 = (s22 * b1 - s12 * b2) / det, g2 = (s11 * b2 - s12 * b1) / det
        return LatticeFit(g1: g1, g2: g2, peaks: peaks, latticeConstant: latticeConstant)
    }

    static func rotate(_ v: Vec2, by t: Double) -> Vec2 { Vec2(cos(t) * v.x - sin(t) * v.y, sin(t) * v.x + cos(t) * v.y) }
}
