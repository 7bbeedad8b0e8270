/// The physical scale of a movie: how many ångström a pixel spans and how many seconds
/// pass between frames, each with where it came from, so every output can state both.
public struct Calibration: Sendable, Equatable, Codable {
    /// Where a calibration value came from, most trusted first.
    public enum Source: String, Sendable, Codable {
        /// Given on the command line (`--pixel-size`, `--frame-time`).
        case flag
        /// Read from the movie file's own metadata.
        case file
        /// Measured from the lattice in the frames against the material's lattice constant.
        case lattice
        /// The model's trained pixel size, used when nothing better is known.
        case model
        /// A default with no physical basis (1 s per frame); outputs then give rates per frame.
        case assumed
    }

    /// The physical pixel sizes (Å) and frame times (s): anything outside is a typo or garbage.
    public static let pixelSizeRange: ClosedRange<Double> = 1e-3...100
    public static let frameTimeRange: ClosedRange<Double> = 1e-6...1e6

    /// The frame time unless it is the 1 s stand-in: rates are then per frame, not per second.
    public var knownFrameTime: Double? { frameTimeSource == .assumed ? nil : frameTime }

    /// Pixel size in Å.
    public var pixelSize: Double
    public var pixelSizeSource: Source
    /// Time between frames in s.
    public var frameTime: Double
    public var frameTimeSource: Source

    public init(pixelSize: Double, pixelSizeSource: Source, frameTime: Double = 1, frameTimeSource: Source = .assumed) {
        self.pixelSize = pixelSize; self.pixelSizeSource = pixelSizeSource
        self.frameTime = frameTime; self.frameTimeSource = frameTimeSource
    }

    /// The first known pixel size of flag, file, lattice and model default (in that order),
    /// and the frame time of flag or file (else 1 s, marked `.assumed`).
    /// - Throws: `InputError` when a given value is not a positive, finite, physical size
    ///   (0.001–100 Å per pixel, 10⁻⁶–10⁶ s per frame) or when no pixel size is known.
    public static func resolve(pixelSizeFlag: Double? = nil, pixelSizeFromFile: Double? = nil,
                               pixelSizeFromLattice: Double? = nil, modelPixelSize: Double? = nil,
                               frameTimeFlag: Double? = nil, frameTimeFromFile: Double? = nil) throws -> Calibration {
        try checkFlags(pixelSize: pixelSizeFlag, frameTime: frameTimeFlag)
        let sizes: [(Double?, Source)] = [(pixelSizeFlag, .flag), (valid(pixelSizeFromFile, pixelSizeRange), .file),
                                          (valid(pixelSizeFromLattice, pixelSizeRange), .lattice), (modelPixelSize, .model)]
        guard let (size, sizeSource) = sizes.lazy.compactMap({ v, s in v.map { ($0, s) } }).first else {
            throw InputError("the pixel size is unknown: pass --pixel-size (Å per pixel)")
        }
        let times: [(Double?, Source)] = [(frameTimeFlag, .flag), (valid(frameTimeFromFile, frameTimeRange), .file)]
        let (time, timeSource) = times.lazy.compactMap({ v, s in v.map { ($0, s) } }).first ?? (1, .assumed)
        return Calibration(pixelSize: size, pixelSizeSource: sizeSource, frameTime: time, frameTimeSource: timeSource)
    }

    /// Refuses a flag value that is not a physical size (the check `resolve` starts with), for a
    /// command that must fail before it writes anything, or that takes a flag but resolves nothing.
    public static func checkFlags(pixelSize: Double? = nil, frameTime: Double? = nil) throws {
        if let p = pixelSize { try check(p, "--pixel-size", "Å", pixelSizeRange) }
        if let t = frameTime { try check(t, "--frame-time", "s", frameTimeRange) }
    }

    /// A length in Å as pixels (e.g. the material's column spacing).
    public func pixels(ångström length: Double) -> Double { length / pixelSize }

    /// A length in pixels as Å.
    public func ångström(pixels length: Double) -> Double { length * pixelSize }

    private static func check(_ v: Double, _ name: String, _ unit: String, _ range: ClosedRange<Double>) throws {
        guard v.isFinite, range.contains(v) else {
            throw InputError("\(name) \(v) \(unit) is outside \(range.lowerBound)–\(range.upperBound) \(unit)")
        }
    }

    /// A file's value only when it is physical (metadata can hold 0 or garbage).
    private static func valid(_ v: Double?, _ range: ClosedRange<Double>) -> Double? {
        v.flatMap { $0.isFinite && range.contains($0) ? $0 : nil }
    }
}
