import Core
import Foundation
import Simulation

/// A frame's 2-D Fourier transform, zero-padded to powers of two, with frequencies in cycles per pixel.
struct Spectrum {
    let width: Int, height: Int
    var re: [Double], im: [Double]

    /// Transform of `pixels` (w × h) minus `mean`, optionally Hann-windowed (against the edge streaks that
    /// would hide weak peaks), padded with zeros to the next powers of two.
    init(_ pixels: [Float], width w: Int, height h: Int, mean: Double, hann: Bool) {
        width = FFT.powerOfTwo(atLeast: w); height = FFT.powerOfTwo(atLeast: h)
        re = [Double](repeating: 0, count: width * height); im = re
        let wx = (0..<w).map { hann ? 0.5 - 0.5 * cos(2 * Double.pi * (Double($0) + 0.5) / Double(w)) : 1 }
        let wy = (0..<h).map { hann ? 0.5 - 0.5 * cos(2 * Double.pi * (Double($0) + 0.5) / Double(h)) : 1 }
        for y in 0..<h { for x in 0..<w { re[y * width + x] = (Double(pixels[y * w + x]) - mean) * wx[x] * wy[y] } }
        FFT.transform2D(&re, &im, width: width, height: height)
    }

    /// Signed frequency (cycles/pixel) of bin (kx, ky).
    func frequency(_ kx: Int, _ ky: Int) -> Vec2 {
        Vec2(Double(kx < width / 2 ? kx : kx - width) / Double(width), Double(ky < height / 2 ? ky : ky - height) / Double(height))
    }

    /// Bin nearest a frequency (wrapped into the array).
    func bin(_ f: Vec2) -> (Int, Int) {
        let kx = Int((f.x * Double(width)).rounded()), ky = Int((f.y * Double(height)).rounded())
        return (((kx % width) + width) % width, ((ky % height) + height) % height)
    }

    func power(_ kx: Int, _ ky: Int) -> Double {
        let i = (((ky % height) + height) % height) * width + ((kx % width) + width) % width
        return re[i] * re[i] + im[i] * im[i]
    }

    /// Median power in rings one bin wide (in units of the larger dimension's bins): the background a
    /// Bragg peak's prominence is measured against.
    func radialMedian() -> [Double] {
        let n = max(width, height)
        var rings = [[Double]](repeating: [], count: n)
        for ky in 0..<height { for kx in 0..<width {
            let r = Int((length(frequency(kx, ky)) * Double(n)).rounded())
            if r < n { rings[r].append(power(kx, ky)) }
        } }
        var out = rings.map { $0.isEmpty ? 0 : Statistics.median($0) }
        for r in out.indices where out[r] == 0 && r > 0 { out[r] = out[r - 1] }
        return out
    }

    /// Power over the radial median at bin (kx, ky).
    func prominence(_ kx: Int, _ ky: Int, background: [Double]) -> Double {
        let r = min(background.count - 1, Int((length(frequency(kx, ky)) * Double(max(width, height))).rounded()))
        return power(kx, ky) / max(background[r], 1e-300)
    }

    /// Sub-bin position of the power maximum near bin (kx, ky): the best bin within `radius`, then a parabola
    /// through log power along each axis. Returns the frequency and the peak's prominence.
    func refinePeak(near kx0: Int, _ ky0: Int, radius: Int, background: [Double]) -> (frequency: Vec2, prominence: Double) {
        var best = (kx0, ky0), bestP = -1.0
        for dy in -radius...radius { for dx in -radius...radius {
            let p = power(kx0 + dx, ky0 + dy)
            if p > bestP { bestP = p; best = (kx0 + dx, ky0 + dy) }
        } }
        func offset(_ m: Double, _ c: Double, _ p: Double) -> Double {
            let a = log(max(m, 1e-300)), b = log(max(c, 1e-300)), d = log(max(p, 1e-300))
            let den = a - 2 * b + d
            return den < 0 ? min(0.5, max(-0.5, 0.5 * (a - d) / den)) : 0
        }
        let (bx, by) = best
        let ox = offset(power(bx - 1, by), bestP, power(bx + 1, by))
        let oy = offset(power(bx, by - 1), bestP, power(bx, by + 1))
        let f = frequency(((bx % width) + width) % width, ((by % height) + height) % height)
        return (f + Vec2(ox / Double(width), oy / Double(height)), prominence(bx, by, background: background))
    }

    /// Inverse transform, real part, cropped to w × h.
    func inverse(croppedTo w: Int, _ h: Int) -> [Double] {
        var r = re, i = im
        FFT.transform2D(&r, &i, width: width, height: height, inverse: true)
        var out = [Double](repeating: 0, count: w * h)
        for y in 0..<h { for x in 0..<w { out[y * w + x] = r[y * width + x] } }
        return out
    }
}

@inline(__always) func length(_ v: Vec2) -> Double { (v * v).sum().squareRoot() }
