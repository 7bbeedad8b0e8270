import Core
import Foundation
import MicroscopyIO

/// `info`: what a movie file holds (format, frames, size, dtype, value range, calibration).
public enum MovieDescription {
    /// The report as text, or as one pretty-printed JSON object.
    /// - Parameter scanPixels: decode every frame for the value range and NaN/Inf counts.
    public static func describe(_ path: String, singlePNG: Bool, signal: String? = nil, scanPixels: Bool, json: Bool) throws -> String {
        let movie = try Movie.open(URL(fileURLWithPath: path), singlePNG: singlePNG, signal: signal)
        let report = try MovieReport(movie: movie, scanPixels: scanPixels)
        guard json else { return report.text }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try encoder.encode(report), as: UTF8.self)
    }
}

/// `convert`: a movie rewritten in the format of the output's extension, with the command line's
/// options given as text and checked here, so every command reports them the same way.
public struct Conversion {
    public var input: String, output: String
    /// A `SampleType` name (TIFF/NPY), e.g. `float32`.
    public var dtype: String?
    /// PNG bits per sample: 8 or 16.
    public var bits: Int?
    /// PNG scaling: `none`, `minmax` or `LOW:HIGH`.
    public var scale: String?
    /// TIFF compression: `none` or `deflate`.
    public var compression = "none"
    public var bigTIFF = false
    /// `START:END`, END exclusive.
    public var frames: String?
    /// Read a numbered PNG alone instead of as part of its series.
    public var singlePNG = false
    /// The image signal of a multi-signal file (a Velox detector).
    public var signal: String?
    /// Replace existing output files (without it they are refused).
    public var overwrite = false

    public init(input: String, output: String) { self.input = input; self.output = output }

    /// The names accepted by `dtype`.
    public static var dtypes: String { SampleType.allCases.map(\.rawValue).joined(separator: ", ") }

    /// The options as `MovieConverter` takes them; an `InputError` naming the flag otherwise.
    public func options() throws -> ConversionOptions {
        let tiffCompression = try parse(compression, "--compression", "none or deflate") { TIFFCompression(rawValue: $0) }
        var o = ConversionOptions(compression: tiffCompression, bigTIFF: bigTIFF)
        o.sampleType = try dtype.map { try parse($0, "--dtype", "one of \(Self.dtypes)") { SampleType(rawValue: $0) } }
        o.pngBitDepth = try bits.map { try parse($0, "--bits", "8 or 16") { PNGFile.BitDepth(rawValue: $0) } }
        o.scaling = try scale.map(Self.scaling)
        o.frames = try frames.map(Self.frameRange)
        return o
    }

    /// Converts; returns the files written.
    public func run() throws -> [URL] {
        let options = try options()
        let movie = try Movie.open(URL(fileURLWithPath: input), singlePNG: singlePNG, signal: signal)
        let target = URL(fileURLWithPath: output)
        if !overwrite, let existing = MovieConverter.outputs(of: (options.frames ?? 0..<movie.frameCount).count, to: target)
            .first(where: { FileManager.default.fileExists(atPath: $0.path) }) {
            throw InputError("\(existing.path): exists; pass --overwrite to replace it")
        }
        return try MovieConverter.convert(movie, to: target, options: options)
    }

    private func parse<Raw, Value>(_ raw: Raw, _ flag: String, _ expected: String, _ make: (Raw) -> Value?) throws -> Value {
        guard let value = make(raw) else { throw InputError("\(flag) \(raw): expected \(expected)") }
        return value
    }

    static func scaling(_ s: String) throws -> IntensityScaling {
        switch s {
        case "none": return IntensityScaling.none
        case "minmax": return .minMax
        default:
            let p = s.split(separator: ":").map { Float($0) }
            guard p.count == 2, let lo = p[0], let hi = p[1], hi > lo else {
                throw InputError("--scale \(s): expected none, minmax or LOW:HIGH with LOW < HIGH")
            }
            return .range(low: lo, high: hi)
        }
    }

    static func frameRange(_ f: String) throws -> Range<Int> {
        let p = f.split(separator: ":", omittingEmptySubsequences: false).map { Int($0) }
        guard p.count == 2, let a = p[0], let b = p[1], a >= 0, b > a else {
            throw InputError("--frames \(f): expected START:END with 0 <= START < END")
        }
        return a..<b
    }
}
