import Core
import Foundation

/// A frame's raster: size in pixels and pixel size (Å).
public struct FrameGeometry: Sendable, Equatable {
    public var width: Int, height: Int
    public var pixelSize: Double
    public init(width: Int, height: Int, pixelSize: Double) {
        self.width = width; self.height = height; self.pixelSize = pixelSize
    }
    /// Field of view (Å) spanned by the pixel centres.
    public var fieldWidth: Double { Double(width - 1) * pixelSize }
    public var fieldHeight: Double { Double(height - 1) * pixelSize }
}

/// Scan distortions: where the probe really was when each pixel was recorded.
public struct ScanDistortion: Sendable, Equatable {
    /// Horizontal shift of each scan line (pixels), e.g. from line-synchronisation jitter.
    public var lineShift: [Double] = []
    /// Flyback: the start of each line lags by amplitude·exp(−x/length) pixels.
    public var flybackAmplitude: Double = 0
    public var flybackLength: Double = 10
    public init(lineShift: [Double] = [], flybackAmplitude: Double = 0, flybackLength: Double = 10) {
        self.lineShift = lineShift; self.flybackAmplitude = flybackAmplitude; self.flybackLength = flybackLength
    }
    /// Random Gaussian line jitter of `rms` pixels.
    public static func jitter(rms: Double, lines: Int, rng: inout SeededGenerator) -> ScanDistortion {
        ScanDistortion(lineShift: (0..<lines).map { _ in rng.normal() * rms })
    }
}

/// Renders HAADF frames in the incoherent (convolution) approximation:
/// image(r) = Σ_columns count·σ(Z) · P(r − r_column), the fraction of the beam reaching the detector.
public struct Renderer: Sendable {
    public let microscope: Microscope
    public let probe: ProbeProfile
    /// Intensity table indexed by r² (smooth in r², so linear interpolation is accurate without a sqrt).
    let table: [Float]
    let r2Step: Double

    public init(microscope: Microscope, cutoff: Double = 6) throws {
        try microscope.validate()
        self.microscope = microscope
        probe = ProbeProfile(microscope: microscope, cutoff: cutoff)
        let n = 8192
        r2Step = cutoff * cutoff / Double(n - 1)
        let p = probe
        table = (0..<n).map { Float(p.intensity(at: (Double($0) * cutoff * cutoff / Double(n - 1)).squareRoot())) } + [0]
    }

    /// Noiseless frame (row-major, row = y). Columns are in Å, field coordinates. The probe's tail beyond
    /// the cutoff is added back as a uniform level so the mean signal stays right.
    /// `zExponent` overrides the microscope's contrast exponent n for this frame.
    public func render(_ columns: [Column], geometry g: FrameGeometry, scan: ScanDistortion = ScanDistortion(),
                       zExponent: Double? = nil) -> [Float] {
        let p = g.pixelSize
        var m = microscope
        if let n = zExponent { m.zExponent = n }
        let cutoff = probe.cutoff
        // Sort columns by y so each line only visits those within the cutoff.
        let weighted = columns.map { c in
            (x: c.position.x, y: c.position.y, w: Float(Double(c.count) * m.crossSection(z: c.z)))
        }.sorted { $0.y < $1.y }
        let ys = weighted.map(\.y)
        let fb = (0..<g.width).map { scan.flybackAmplitude * exp(-Double($0) / scan.flybackLength) }
        let maxFlyback = fb.map(abs).max() ?? 0
        let inFieldSignal = weighted.filter { $0.x >= 0 && $0.x <= g.fieldWidth && $0.y >= 0 && $0.y <= g.fieldHeight }
            .reduce(0.0) { $0 + Double($1.w) }
        let area = max(g.fieldWidth * g.fieldHeight, p * p)
        let tailLevel = Float((1 - probe.enclosedFraction) * inFieldSignal / area)
        let table = self.table, invStep = Float(1 / r2Step), last = table.count - 2
        let cut2 = Float(cutoff * cutoff)
        var image = [Float](repeating: 0, count: g.width * g.height)
        image.withUnsafeMutableBufferPointer { buf in
            nonisolated(unsafe) let out = buf
            parallelFor(g.height) { row in
                let yPos = Double(row) * p
                let shift = row < scan.lineShift.count ? scan.lineShift[row] : 0
                let lo = lowerBound(ys, yPos - cutoff), hi = lowerBound(ys, yPos + cutoff)
                let line = out.baseAddress! + row * g.width
                for i in 0..<g.width { line[i] = tailLevel }
                for c in lo..<hi {
                    let col = weighted[c]
                    let dy = Float(col.y - yPos)
                    let half = (cutoff * cutoff - Double(dy * dy)).squareRoot()
                    let x0 = max(0, Int(floor((col.x - half) / p - shift - maxFlyback)))
                    let x1 = min(g.width - 1, Int(ceil((col.x + half) / p - shift + maxFlyback)))
                    if x0 > x1 { continue }
                    for i in x0...x1 {
                        let dx = Float((Double(i) + shift + fb[i]) * p - col.x)
                        let r2 = dx * dx + dy * dy
                        if r2 >= cut2 { continue }
                        let t = r2 * invStep
                        let k = min(Int(t), last)
                        let f = t - Float(k)
                        line[i] += col.w * (table[k] + f * (table[k + 1] - table[k]))
                    }
                }
            }
        }
        return image
    }
}

/// First index whose value is ≥ v in a sorted array.
func lowerBound(_ a: [Double], _ v: Double) -> Int {
    var lo = 0, hi = a.count
    while lo < hi { let m = (lo + hi) / 2; if a[m] < v { lo = m + 1 } else { hi = m } }
    return lo
}

/// Detector noise and specimen-side extras applied to a noiseless frame.
public enum Noise {
    /// Shot noise: counts = Poisson(signal · dose · pixelSize²), dose in e/Å².
    public static func poisson(_ signal: [Float], dose: Double, pixelSize: Double, rng: inout SeededGenerator) -> [Float] {
        let scale = dose * pixelSize * pixelSize
        return signal.map { Float(rng.poisson(max(0, Double($0) * scale))) }
    }

    /// Adds Gaussian read noise of standard deviation `sigma` (same units as the frame).
    public static func addGaussian(_ image: inout [Float], sigma: Double, rng: inout SeededGenerator) {
        guard sigma > 0 else { return }
        for i in image.indices { image[i] += Float(rng.normal() * sigma) }
    }

    /// A smooth contamination background: a few broad Gaussian humps (widths 15–60 Å) whose mean is
    /// `level` × the frame's mean signal. Added to the signal before shot noise (it is real scattering).
    public static func contamination(geometry g: FrameGeometry, meanSignal: Double, level: Double,
                                     rng: inout SeededGenerator) -> [Float] {
        guard level > 0 else { return [Float](repeating: 0, count: g.width * g.height) }
        let humps = (0..<6).map { _ in
            (x: rng.uniform(0, g.fieldWidth), y: rng.uniform(0, g.fieldHeight),
             s: rng.uniform(15, 60), a: rng.uniform(0.2, 1))
        }
        var bg = [Float](repeating: 0, count: g.width * g.height)
        for row in 0..<g.height { for col in 0..<g.width {
            let x = Double(col) * g.pixelSize, y = Double(row) * g.pixelSize
            var v = 0.0
            for h in humps { v += h.a * exp(-((x - h.x) * (x - h.x) + (y - h.y) * (y - h.y)) / (2 * h.s * h.s)) }
            bg[row * g.width + col] = Float(v)
        } }
        let mean = bg.reduce(0.0) { $0 + Double($1) } / Double(bg.count)
        let scale = Float(level * meanSignal / max(mean, 1e-12))
        return bg.map { $0 * scale }
    }
}
