import Core
import Dynamics
import Foundation

/// The numbers behind the report's plots that no stage computes itself. Pure functions of
/// tracks, atoms and frames, so each is tested against an analytic answer.
public enum ReportStatistics {
    /// One MSD lag with its standard error.
    public struct MSDErrorPoint: Equatable {
        public var lag: Int
        public var msd: Double
        public var standardError: Double
    }

    /// Lags with fewer independent displacements than this are left out: their mean rests
    /// on a handful of long segments and falls off to noise (the "tail to 0" of long lags).
    public static let minIndependentDisplacements = 10

    /// MSD per lag with its standard error MSD/√N (N = non-overlapping displacements): in 2-D
    /// the squared displacement of a Gaussian step is exponential, whose SD equals its mean.
    public static func msdWithErrors(_ points: [MSDPoint]) -> [MSDErrorPoint] {
        points.filter { $0.independent >= minIndependentDisplacements && $0.msd.isFinite }
            .map { MSDErrorPoint(lag: $0.lag, msd: $0.msd, standardError: $0.msd / Double($0.independent).squareRoot()) }
    }

    /// One-frame steps of the tracks (as diffusion sees them: drift-corrected, px): length,
    /// direction (rad, image axes, y down) and the class at the step's start.
    public static func steps(_ tracks: [DiffusionTrack]) -> [(length: Double, angle: Double, state: Int)] {
        tracks.flatMap { t in
            t.frames.indices.dropFirst().filter { t.frames[$0] - t.frames[$0 - 1] == 1 }.map { i in
                let dx = t.x[i] - t.x[i - 1], dy = t.y[i] - t.y[i - 1]
                return ((dx * dx + dy * dy).squareRoot(), atan2(dy, dx), t.classes[i - 1])
            }
        }
    }

    /// Frames spent in one class before switching to another, per class: only runs that end in
    /// a switch count (a run cut by the track's end is censored); by memorylessness a run that
    /// starts with the track still measures the dwell time.
    public static func dwellTimes(_ tracks: [DiffusionTrack]) -> [Int: [Int]] {
        var out: [Int: [Int]] = [:]
        for t in tracks {
            var start = 0
            for i in t.classes.indices.dropFirst() where t.classes[i] != t.classes[start] {
                out[t.classes[start], default: []].append(t.frames[i] - t.frames[start])
                start = i
            }
        }
        return out
    }

    /// Histogram of `values` in `bins` equal bins over [low, high); values outside are clamped
    /// into the end bins.
    public static func histogram(_ values: [Double], low: Double, high: Double, bins: Int) -> [Int] {
        var counts = [Int](repeating: 0, count: max(bins, 1))
        let width = (high - low) / Double(counts.count)
        for v in values where v.isFinite {
            counts[min(max(Int(((v - low) / width).rounded(.down)), 0), counts.count - 1)] += 1
        }
        return counts
    }

    /// Directions (rad) from each atom to its nearest neighbour, for the ≤ `limit` atoms nearest
    /// the centre of the points: the lattice's bond directions.
    public static func bondAngles(_ points: [(x: Double, y: Double)], limit: Int = 400) -> [Double] {
        guard points.count >= 2 else { return [] }
        let cx = points.map(\.x).reduce(0, +) / Double(points.count), cy = points.map(\.y).reduce(0, +) / Double(points.count)
        let central = points.sorted { hypot($0.x - cx, $0.y - cy) < hypot($1.x - cx, $1.y - cy) }.prefix(limit)
        return central.compactMap { p in
            central.filter { $0.x != p.x || $0.y != p.y }.min { hypot($0.x - p.x, $0.y - p.y) < hypot($1.x - p.x, $1.y - p.y) }
                .map { atan2($0.y - p.y, $0.x - p.x) }
        }
    }

    /// log10 of the power spectrum of the central `size`×`size` square of a frame (size a power
    /// of two, mean removed, Hann window against edge streaks), zero frequency at the centre.
    public static func logPowerSpectrum(_ pixels: [Float], width: Int, height: Int, size: Int) -> [Float] {
        let x0 = (width - size) / 2, y0 = (height - size) / 2
        var re = [Double](repeating: 0, count: size * size), im = re
        let finite = pixels.filter(\.isFinite)
        let mean = finite.isEmpty ? 0 : finite.reduce(0) { $0 + Double($1) } / Double(finite.count)
        let hann = (0..<size).map { 0.5 - 0.5 * cos(2 * Double.pi * Double($0) / Double(size)) }
        for y in 0..<size { for x in 0..<size {
            let v = Double(pixels[(y0 + y) * width + x0 + x])
            re[y * size + x] = v.isFinite ? (v - mean) * hann[x] * hann[y] : 0
        } }
        fft2D(&re, &im, size: size)
        var out = [Float](repeating: 0, count: size * size)
        for y in 0..<size { for x in 0..<size {
            let k = y * size + x, shifted = ((y + size / 2) % size) * size + (x + size / 2) % size
            out[shifted] = Float(log10(re[k] * re[k] + im[k] * im[k] + 1e-12))
        } }
        return out
    }

    /// In-place 2-D FFT of a square power-of-two array (`Core.FFT`).
    public static func fft2D(_ re: inout [Double], _ im: inout [Double], size n: Int) {
        FFT.transform2D(&re, &im, width: n, height: n)
    }

    /// Forward, unnormalized radix-2 FFT (`Core.FFT`); `re.count` a power of two.
    public static func fft(_ re: inout [Double], _ im: inout [Double]) { FFT.transform(&re, &im) }

    /// The largest power of two ≤ `n` (≥ 1).
    public static func powerOfTwo(atMost n: Int) -> Int {
        var p = 1
        while p * 2 <= n { p *= 2 }
        return p
    }

    /// A frame shrunk by an integer factor (box average), for embedding.
    public static func downsample(_ pixels: [Float], width: Int, height: Int, factor: Int) -> (pixels: [Float], width: Int, height: Int) {
        guard factor > 1 else { return (pixels, width, height) }
        let w = width / factor, h = height / factor
        var out = [Float](repeating: 0, count: w * h)
        for y in 0..<h { for x in 0..<w {
            var sum: Float = 0, n: Float = 0
            for dy in 0..<factor { for dx in 0..<factor {
                let v = pixels[(y * factor + dy) * width + x * factor + dx]
                if v.isFinite { sum += v; n += 1 }
            } }
            out[y * w + x] = n > 0 ? sum / n : .nan
        } }
        return (out, w, h)
    }
}
