import Core
import Foundation

/// One trajectory for diffusion analysis: positions (pixels) at increasing frames,
/// gaps allowed, with the class of the object at each frame.
public struct DiffusionTrack: Sendable, Equatable {
    public var frames: [Int]
    public var x: [Double]
    public var y: [Double]
    public var classes: [Int]

    public init(frames: [Int], x: [Double], y: [Double], classes: [Int]? = nil) {
        self.frames = frames; self.x = x; self.y = y
        self.classes = classes ?? [Int](repeating: 0, count: frames.count)
    }
}

/// Pixel size and frame time; when both are known results are also given in Å²/s.
public struct DiffusionCalibration: Sendable, Equatable {
    /// Å per pixel.
    public var pixelSize: Double
    /// Seconds per frame; nil when unknown (D is then in Å²/frame).
    public var frameTime: Double?
    public init(pixelSize: Double, frameTime: Double?) { self.pixelSize = pixelSize; self.frameTime = frameTime }

    /// The factor from px²/frame to the unit D is written in, and that unit: Å²/s with a frame
    /// time, Å²/frame without one, px²/frame without a calibration.
    static func diffusionUnit(_ c: DiffusionCalibration?) -> (scale: Double, unit: String) {
        guard let c else { return (1, "px^2/frame") }
        guard let dt = c.frameTime else { return (c.pixelSize * c.pixelSize, "A^2/frame") }
        return (c.pixelSize * c.pixelSize / dt, "A^2/s")
    }
}

/// Errors of the diffusion analysis.
public enum DiffusionError: Error, CustomStringConvertible, Equatable {
    case invalidTrack(index: Int, reason: String)
    case invalidOption(String)

    public var description: String {
        switch self {
        case .invalidTrack(let i, let why): return "diffusion: track \(i) is invalid: \(why)"
        case .invalidOption(let why): return "diffusion: invalid option: \(why)"
        }
    }
}

/// Mean squared displacement at one lag (frames), pooled over segments.
public struct MSDPoint: Sendable, Equatable {
    public var lag: Int
    /// MSD in px² (x and y summed).
    public var msd: Double
    /// Number of (overlapping) displacement pairs averaged.
    public var pairs: Int
    /// Number of non-overlapping displacements, Σ floor(span / lag) — the independent measurements.
    public var independent: Int
}

/// Least-squares fit of MSD(n) = 4·D·n + 4σ² to the first `points` lags.
public struct MSDFit: Sendable, Equatable {
    /// px²/frame.
    public var D: Double
    /// Localization error σ (px, per axis); 0 when the fitted offset is negative.
    public var sigma: Double
    /// Number of lags used, chosen by Michalet's rule p ≈ 2 + 2.3·x^0.52, x = σ²/(DΔt).
    public var points: Int
}

/// The covariance-based estimator (Vestergaard, Blainey & Flyvbjerg 2014).
public struct CVEEstimate: Sendable, Equatable {
    /// px²/frame.
    public var D: Double
    /// Localization variance σ² (px², per axis); may come out negative on noise-free data.
    public var sigmaSquared: Double
    /// Analytic variance of D (px⁴/frame²): D²[(6+4ε+2ε²)/N + 4(1+ε)²/N²]/2, ε = σ²/(DΔt) − 2R, N steps.
    public var variance: Double
    /// Number of one-frame steps used.
    public var steps: Int
}

/// Diffusion of one class (or of one track).
public struct DiffusionResult: Sendable, Equatable {
    public var classLabel: Int
    /// Segments (runs of constant class, ≥ 2 points) that contributed.
    public var tracks: Int
    public var steps: Int
    public var cve: CVEEstimate
    /// 95 % percentile bootstrap interval of the CVE D over tracks (px²/frame).
    public var ciLow: Double
    public var ciHigh: Double
    public var msd: [MSDPoint]
    public var msdFit: MSDFit?
    /// Seed of the bootstrap.
    public var seed: UInt64
}

/// Options of `Diffusion.analyze`.
public struct DiffusionOptions: Sendable {
    /// Largest MSD lag (frames).
    public var maxLag: Int = 20
    /// Bootstrap resamples over tracks.
    public var bootstrapSamples: Int = 1000
    /// Bootstrap seed (recorded in the results).
    public var seed: UInt64 = 1
    /// Motion-blur coefficient R (0 for instantaneous sampling, 1/6 for continuous exposure).
    public var blur: Double = 0
    /// Confidence level of the interval.
    public var confidence: Double = 0.95
    public init(maxLag: Int = 20, bootstrapSamples: Int = 1000, seed: UInt64 = 1, blur: Double = 0, confidence: Double = 0.95) {
        self.maxLag = maxLag; self.bootstrapSamples = bootstrapSamples; self.seed = seed; self.blur = blur; self.confidence = confidence
    }
}

/// MSD, MSD fit with the optimal number of points, CVE with analytic variance and
/// bootstrap confidence intervals — per track and per class.
public enum Diffusion {

    /// Per-class diffusion: every track is cut into runs of constant class, and each
    /// class pools its runs. Results are sorted by class label.
    public static func analyze(_ tracks: [DiffusionTrack], options: DiffusionOptions = DiffusionOptions()) throws -> [DiffusionResult] {
        try validate(tracks, options)
        var byClass: [Int: [Segment]] = [:]
        for t in tracks { for s in segments(of: t) { byClass[s.classLabel, default: []].append(s) } }
        return byClass.keys.sorted().map { label in
            result(label: label, segments: byClass[label]!, options: options)
        }
    }

    /// Diffusion of each track on its own (all classes pooled along the track).
    public static func perTrack(_ tracks: [DiffusionTrack], options: DiffusionOptions = DiffusionOptions()) throws -> [DiffusionResult] {
        try validate(tracks, options)
        return tracks.map { t in
            let s = Segment(classLabel: -1, frames: t.frames, x: t.x, y: t.y)
            var r = result(label: -1, segments: [s], options: DiffusionOptions(maxLag: options.maxLag, bootstrapSamples: 0,
                                                                                 seed: options.seed, blur: options.blur))
            // A single track has no between-track bootstrap; use the analytic interval.
            let half = 1.959963984540054 * r.cve.variance.squareRoot()
            r.ciLow = r.cve.D - half; r.ciHigh = r.cve.D + half
            return r
        }
    }

    /// Pooled MSD over tracks (each track's points must share one class or be pooled on purpose).
    public static func msd(_ tracks: [DiffusionTrack], maxLag: Int) -> [MSDPoint] {
        msd(tracks.map { Segment(classLabel: 0, frames: $0.frames, x: $0.x, y: $0.y) }, maxLag: maxLag)
    }

    /// CVE over tracks (one-frame steps only; steps across gaps are skipped).
    public static func cve(_ tracks: [DiffusionTrack], blur: Double = 0) -> CVEEstimate {
        let sums = tracks.map { StepSums(Segment(classLabel: 0, frames: $0.frames, x: $0.x, y: $0.y)) }
        return cve(sums.reduce(StepSums(), +), blur: blur)
    }

    /// Michalet's iterated fit: fit, compute x = σ²/(DΔt) = a/b, choose p, refit until p is stable.
    public static func fitMSD(_ points: [MSDPoint]) -> MSDFit? {
        let usable = points.filter { $0.pairs > 0 }.sorted { $0.lag < $1.lag }
        guard usable.count >= 2 else { return nil }
        var p = 2
        var fit = linearFit(usable.prefix(p))
        for _ in 0..<20 {
            let x = fit.slope > 0 ? max(fit.intercept, 0) / fit.slope : 0
            let next = min(max(Int((2 + 2.3 * pow(x, 0.52)).rounded(.down)), 2), usable.count)
            if next == p { break }
            p = next
            fit = linearFit(usable.prefix(p))
        }
        // Lags in frames: MSD = 4 D n + 4 σ².
        return MSDFit(D: fit.slope / 4, sigma: (max(fit.intercept, 0) / 4).squareRoot(), points: p)
    }

    // MARK: - Internals

    struct Segment {
        var classLabel: Int
        var frames: [Int], x: [Double], y: [Double]
    }

    static func validate(_ tracks: [DiffusionTrack], _ options: DiffusionOptions) throws {
        guard options.maxLag >= 1 else { throw DiffusionError.invalidOption("maxLag must be ≥ 1") }
        guard options.bootstrapSamples >= 0 else { throw DiffusionError.invalidOption("bootstrapSamples must be ≥ 0") }
        guard options.confidence > 0 && options.confidence < 1 else { throw DiffusionError.invalidOption("confidence must be in (0, 1)") }
        guard options.blur >= 0 && options.blur <= 0.25 else { throw DiffusionError.invalidOption("blur coefficient R must be in [0, 1/4]") }
        for (i, t) in tracks.enumerated() {
            guard t.x.count == t.frames.count, t.y.count == t.frames.count, t.classes.count == t.frames.count else {
                throw DiffusionError.invalidTrack(index: i, reason: "frames, x, y and classes differ in length")
            }
            guard zip(t.frames, t.frames.dropFirst()).allSatisfy({ $0 < $1 }) else {
                throw DiffusionError.invalidTrack(index: i, reason: "frames must increase strictly")
            }
            guard t.x.allSatisfy(\.isFinite), t.y.allSatisfy(\.isFinite) else {
                throw DiffusionError.invalidTrack(index: i, reason: "non-finite position")
            }
        }
    }

    /// Runs of constant class with at least two points.
    static func segments(of t: DiffusionTrack) -> [Segment] {
        var out: [Segment] = []
        guard !t.frames.isEmpty else { return out }
        var start = 0
        for i in 1...t.frames.count where i == t.frames.count || t.classes[i] != t.classes[start] {
            if i - start >= 2 {
                out.append(Segment(classLabel: t.classes[start], frames: Array(t.frames[start..<i]),
                                   x: Array(t.x[start..<i]), y: Array(t.y[start..<i])))
            }
            start = i
        }
        return out
    }

    static func result(label: Int, segments: [Segment], options: DiffusionOptions) -> DiffusionResult {
        let sums = segments.map(StepSums.init)
        let total = sums.reduce(StepSums(), +)
        let estimate = cve(total, blur: options.blur)
        var low = Double.nan, high = Double.nan
        if options.bootstrapSamples > 0 && !sums.isEmpty {
            var rng = SeededGenerator(seed: options.seed)
            var ds: [Double] = []
            ds.reserveCapacity(options.bootstrapSamples)
            for _ in 0..<options.bootstrapSamples {
                var s = StepSums()
                for _ in 0..<sums.count { s = s + sums[rng.int(sums.count)] }
                let d = cve(s, blur: options.blur).D
                if d.isFinite { ds.append(d) }
            }
            ds.sort()
            if !ds.isEmpty {
                let alpha = (1 - options.confidence) / 2
                low = Statistics.quantile(sorted: ds, alpha); high = Statistics.quantile(sorted: ds, 1 - alpha)
            }
        }
        let points = msd(segments, maxLag: options.maxLag)
        return DiffusionResult(classLabel: label, tracks: segments.count, steps: estimate.steps, cve: estimate,
                               ciLow: low, ciHigh: high, msd: points, msdFit: fitMSD(points), seed: options.seed)
    }

    static func msd(_ segments: [Segment], maxLag: Int) -> [MSDPoint] {
        var sum = [Double](repeating: 0, count: maxLag + 1)
        var pairs = [Int](repeating: 0, count: maxLag + 1), independent = [Int](repeating: 0, count: maxLag + 1)
        for s in segments {
            let n = s.frames.count
            for i in 0..<n {
                var j = i + 1
                while j < n, s.frames[j] - s.frames[i] <= maxLag {
                    let lag = s.frames[j] - s.frames[i]
                    let dx = s.x[j] - s.x[i], dy = s.y[j] - s.y[i]
                    sum[lag] += dx * dx + dy * dy; pairs[lag] += 1
                    j += 1
                }
            }
            let span = (s.frames.last ?? 0) - (s.frames.first ?? 0)
            for lag in 1...maxLag { independent[lag] += span / lag }
        }
        return (1...maxLag).map { MSDPoint(lag: $0, msd: pairs[$0] > 0 ? sum[$0] / Double(pairs[$0]) : .nan,
                                           pairs: pairs[$0], independent: independent[$0]) }
    }

    static func linearFit<C: Collection>(_ pts: C) -> (slope: Double, intercept: Double) where C.Element == MSDPoint {
        let n = Double(pts.count)
        let mx = pts.reduce(0) { $0 + Double($1.lag) } / n, my = pts.reduce(0) { $0 + $1.msd } / n
        var sxx = 0.0, sxy = 0.0
        for p in pts { let dx = Double(p.lag) - mx; sxx += dx * dx; sxy += dx * (p.msd - my) }
        let slope = sxy / sxx
        return (slope, my - slope * mx)
    }

    /// Sufficient statistics of the CVE: squared one-frame steps and products of successive steps.
    struct StepSums {
        var squares = 0.0, steps = 0, products = 0.0, productPairs = 0
        init() {}
        init(_ s: Segment) {
            var previous: (Double, Double)? = nil
            for i in 1..<max(s.frames.count, 1) {
                guard s.frames[i] - s.frames[i - 1] == 1 else { previous = nil; continue }
                let dx = s.x[i] - s.x[i - 1], dy = s.y[i] - s.y[i - 1]
                squares += dx * dx + dy * dy; steps += 1
                if let (px, py) = previous { products += px * dx + py * dy; productPairs += 1 }
                previous = (dx, dy)
            }
        }
        static func + (a: StepSums, b: StepSums) -> StepSums {
            var s = a
            s.squares += b.squares; s.steps += b.steps; s.products += b.products; s.productPairs += b.productPairs
            return s
        }
    }

    /// Per axis: D = ⟨Δx²⟩/2 + ⟨ΔxₙΔxₙ₊₁⟩, σ² = R⟨Δx²⟩ + (2R−1)⟨ΔxₙΔxₙ₊₁⟩ (Δt = 1 frame); both axes pooled.
    static func cve(_ s: StepSums, blur: Double) -> CVEEstimate {
        guard s.steps > 0, s.productPairs > 0 else {
            return CVEEstimate(D: .nan, sigmaSquared: .nan, variance: .nan, steps: s.steps)
        }
        let meanSquare = s.squares / Double(2 * s.steps), meanProduct = s.products / Double(2 * s.productPairs)
        let d = meanSquare / 2 + meanProduct
        let sigma2 = blur * meanSquare + (2 * blur - 1) * meanProduct
        let n = Double(s.steps)
        let eps = d > 0 ? sigma2 / d - 2 * blur : 0
        let variance = d * d * ((6 + 4 * eps + 2 * eps * eps) / n + 4 * (1 + eps) * (1 + eps) / (n * n)) / 2
        return CVEEstimate(D: d, sigmaSquared: sigma2, variance: variance, steps: s.steps)
    }
}
