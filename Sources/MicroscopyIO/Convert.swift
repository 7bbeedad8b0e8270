import Foundation

/// Options for `MovieConverter.convert`.
public struct ConversionOptions: Sendable {
    /// Output sample type for TIFF and NPY; nil keeps the source's type.
    public var sampleType: SampleType?
    /// PNG bit depth; nil picks 8 for 8-bit sources and 16 otherwise.
    public var pngBitDepth: PNGFile.BitDepth?
    /// PNG scaling; nil means `.none` for uint8/uint16 sources and `.minMax` (over all
    /// converted frames, so frames stay comparable) otherwise.
    public var scaling: IntensityScaling?
    public var compression: TIFFCompression = .none
    public var bigTIFF = false
    /// Frames to convert; nil converts all.
    public var frames: Range<Int>?

    public init(sampleType: SampleType? = nil, pngBitDepth: PNGFile.BitDepth? = nil, scaling: IntensityScaling? = nil,
                compression: TIFFCompression = .none, bigTIFF: Bool = false, frames: Range<Int>? = nil) {
        self.sampleType = sampleType; self.pngBitDepth = pngBitDepth; self.scaling = scaling
        self.compression = compression; self.bigTIFF = bigTIFF; self.frames = frames
    }
}

/// Converts movies between formats, frame by frame (never the whole movie in memory).
public enum MovieConverter {
    /// Converts `movie` to `output`, choosing the format by extension: `.tif/.tiff`
    /// (multi-page), `.npy` (2-D for one frame, else 3-D), `.png` (one frame; several frames
    /// become `<stem>_000.png`, `<stem>_001.png` …). Returns the files written. On failure
    /// nothing is left behind.
    @discardableResult
    public static func convert(_ movie: Movie, to output: URL, options: ConversionOptions = .init()) throws -> [URL] {
        let range = options.frames ?? 0..<movie.frameCount
        guard !range.isEmpty, range.lowerBound >= 0, range.upperBound <= movie.frameCount else {
            throw MicroscopyIOError.invalidArgument(detail: "frames \(range.lowerBound)..<\(range.upperBound) not within 0..<\(movie.frameCount) of \(movie.url.path)")
        }
        if output.standardizedFileURL.path == movie.url.standardizedFileURL.path {
            throw MicroscopyIOError.invalidArgument(detail: "output \(output.path) is the input file")
        }
        let type = options.sampleType ?? movie.sampleType
        switch output.pathExtension.lowercased() {
        case "tif", "tiff":
            let w = try TIFFStackWriter(url: output, width: movie.width, height: movie.height, sampleType: type,
                                        calibration: movie.calibration, compression: options.compression, bigTIFF: options.bigTIFF,
                                        metadata: movie.info.metadata)
            try copyFrames(movie, range, to: w, type: type, float64: w.append(float64:))
            return [output]
        case "npy":
            let w = try NPYStackWriter(url: output, width: movie.width, height: movie.height, sampleType: type,
                                       as2D: range.count == 1)
            try copyFrames(movie, range, to: w, type: type, float64: w.append(float64:))
            return [output]
        case "png":
            return try writePNG(movie, range: range, to: output, options: options)
        default:
            throw MicroscopyIOError.unknownFormat(
                path: output.path, detail: "output extension '.\(output.pathExtension)'; write .tif, .tiff, .npy or .png")
        }
    }

    /// Frames into a stack writer; a float64 output gets Float64 frames (1e300 stays 1e300), every
    /// other type Float32 ones. The writer removes its temp file when a frame fails.
    private static func copyFrames(_ movie: Movie, _ range: Range<Int>, to w: FrameStackWriter, type: SampleType,
                                   float64 append64: ([Double]) throws -> Void) throws {
        if type == .float64 {
            var buf: [Double] = []
            for k in range { try movie.readFrame(k, into: &buf); try append64(buf) }
        } else {
            var buf: [Float] = []
            for k in range { try movie.readFrame(k, into: &buf); try w.append(buf) }
        }
        try w.finish()
    }

    /// The files `convert` writes for `frames` frames to `output`: `output` itself, or for
    /// several frames into a `.png`, the numbered series `<stem>_000.png` … beside it.
    public static func outputs(of frames: Int, to output: URL) -> [URL] {
        guard frames > 1, output.pathExtension.lowercased() == "png" else { return [output] }
        let stem = output.deletingPathExtension().lastPathComponent
        let digits = max(3, String(frames - 1).count)
        return (0..<frames).map {
            output.deletingLastPathComponent().appendingPathComponent(stem + "_" + String(format: "%0\(digits)d", $0) + ".png")
        }
    }

    private static func writePNG(_ movie: Movie, range: Range<Int>, to output: URL, options: ConversionOptions) throws -> [URL] {
        let eightBit = movie.sampleType == .uint8 || movie.sampleType == .int8
        let depth = options.pngBitDepth ?? (eightBit ? .eight : .sixteen)
        var scaling = options.scaling ?? (movie.sampleType == .uint8 || movie.sampleType == .uint16 ? .none : .minMax)
        if scaling == .minMax {
            // One range for all frames so that the frames stay comparable.
            var s = ValueStats(), buf: [Float] = []
            for k in range { try movie.readFrame(k, into: &buf); s.add(buf) }
            if s.nanCount + s.infCount > 0 {
                throw MicroscopyIOError.unrepresentable(path: movie.url.path, detail: "\(s.nanCount) NaN and \(s.infCount) Inf pixel(s) cannot be stored in PNG")
            }
            scaling = s.maximum > s.minimum ? .range(low: s.minimum, high: s.maximum) : .range(low: s.minimum, high: s.minimum + 1)
        }
        let urls = outputs(of: range.count, to: output)
        var written: [URL] = []
        do {
            for (k, url) in zip(range, urls) {
                try PNGFile.writeGray(movie.frame(k), to: url, bitDepth: depth, scaling: scaling)
                written.append(url)
            }
        } catch {
            for u in written { try? FileManager.default.removeItem(at: u) }
            throw error
        }
        return urls
    }
}
