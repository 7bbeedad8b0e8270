import CPNG
import Foundation

/// libpng's simplified API (png_image) for headers and writing, the classic API (wrapped in
/// CPNG/shim.h) for reading samples as stored: errors come back as messages, never via longjmp
/// into Swift frames, and nothing is printed to stderr.
enum PNGCodec {
    struct Header: Equatable {
        var width: Int, height: Int, sixteenBit: Bool, color: Bool
    }

    static func message(_ img: png_image) -> String {
        withUnsafeBytes(of: img.message) { raw in
            String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
        }
    }

    static func newImage() -> png_image {
        var img = png_image()
        img.version = UInt32(PNG_IMAGE_VERSION)
        return img
    }

    /// Reads the header only.
    static func header(_ url: URL) throws -> Header {
        try FileManager.default.requireFile(url)
        var img = newImage()
        guard png_image_begin_read_from_file(&img, url.path) != 0 else {
            let m = message(img)
            png_image_free(&img)
            throw MicroscopyIOError.corrupt(path: url.path, detail: "PNG: \(m)")
        }
        defer { png_image_free(&img) }
        let h = Header(width: Int(img.width), height: Int(img.height),
                       sixteenBit: img.format & UInt32(PNG_FORMAT_FLAG_LINEAR) != 0,
                       color: img.format & UInt32(PNG_FORMAT_FLAG_COLOR) != 0)
        try IOLimits.check(width: h.width, height: h.height, frames: 1, path: url.path)
        return h
    }

    /// Decodes a PNG into `dst` as gray, with the samples as stored: no gamma correction (gAMA),
    /// no alpha compositing and no tRNS transparency (detector counts must come through untouched);
    /// an alpha channel is dropped, keeping the gray values. Colour is converted with Rec. 601 luma
    /// (0.299 R + 0.587 G + 0.114 B) on the stored values.
    static func read(_ url: URL, expect: Header, into dst: UnsafeMutableBufferPointer<Float>) throws {
        // The size check uses the header reader, which opens the file the same way as before.
        let got = try header(url)
        guard got.width == expect.width, got.height == expect.height else {
            throw MicroscopyIOError.inconsistentFrames(
                path: url.path, detail: "\(got.width)×\(got.height), expected \(expect.width)×\(expect.height)")
        }
        let channels = got.color ? 3 : 1
        let n = got.width * got.height
        var msg = [CChar](repeating: 0, count: 256)
        func decode(_ raw: UnsafeMutableRawBufferPointer) -> Int32 {
            atomtrack_png_read_stored(url.path, raw.baseAddress, raw.count, UInt32(got.width), UInt32(got.height),
                                      Int32(channels), got.sixteenBit ? 1 : 0, &msg)
        }
        func failure() -> MicroscopyIOError {
            .corrupt(path: url.path, detail: "PNG: \(msg.withUnsafeBufferPointer { String(cString: $0.baseAddress!) })")
        }
        if got.sixteenBit {
            var buf = [UInt16](repeating: 0, count: n * channels)
            guard buf.withUnsafeMutableBytes(decode) == 0 else { throw failure() }
            toGray(buf, channels: channels, into: dst)
        } else {
            var buf = [UInt8](repeating: 0, count: n * channels)
            guard buf.withUnsafeMutableBytes(decode) == 0 else { throw failure() }
            toGray(buf, channels: channels, into: dst)
        }
    }

    private static func toGray<T: BinaryInteger>(_ buf: [T], channels: Int, into dst: UnsafeMutableBufferPointer<Float>) {
        if channels == 1 {
            for i in 0..<dst.count { dst[i] = Float(buf[i]) }
        } else {
            for i in 0..<dst.count {
                dst[i] = 0.299 * Float(buf[3 * i]) + 0.587 * Float(buf[3 * i + 1]) + 0.114 * Float(buf[3 * i + 2])
            }
        }
    }

    /// Encodes a buffer with png_image_write_to_memory (`path` names it in errors).
    static func encode(_ bytes: UnsafeRawBufferPointer, width: Int, height: Int, format: UInt32, path: String) throws -> Data {
        try IOLimits.check(width: width, height: height, frames: 1, path: path)
        var img = newImage()
        img.width = UInt32(width)
        img.height = UInt32(height)
        img.format = format
        var size = 0
        guard png_image_write_to_memory(&img, nil, &size, 0, bytes.baseAddress, 0, nil) != 0, size > 0 else {
            throw MicroscopyIOError.writeFailed(path: path, detail: "PNG: \(message(img))")
        }
        var out = Data(count: size)
        let ok = out.withUnsafeMutableBytes { png_image_write_to_memory(&img, $0.baseAddress, &size, 0, bytes.baseAddress, 0, nil) }
        guard ok != 0 else { throw MicroscopyIOError.writeFailed(path: path, detail: "PNG: \(message(img))") }
        return out.prefix(size)
    }
}

/// How float pixels become 8- or 16-bit integers.
public enum IntensityScaling: Sendable, Equatable {
    /// Values are rounded and must already lie in 0...255 (or 0...65535).
    case none
    /// The finite minimum maps to 0, the maximum to 255 (or 65535).
    case minMax
    /// `low` maps to 0 and `high` to the top value; values outside are clamped.
    case range(low: Float, high: Float)
}

/// An 8-bit RGB image (row-major, 3 bytes per pixel) for overlays and plots.
public struct RGBImage: Sendable, Equatable {
    public let width: Int
    public let height: Int
    /// `3 * width * height` bytes: R, G, B per pixel.
    public var bytes: [UInt8]

    /// A `width × height` image filled with one colour.
    public init(width: Int, height: Int, fill: (UInt8, UInt8, UInt8) = (0, 0, 0)) {
        self.width = max(0, width)
        self.height = max(0, height)
        bytes = [UInt8](repeating: 0, count: 3 * self.width * self.height)
        for i in 0..<(self.width * self.height) { bytes[3 * i] = fill.0; bytes[3 * i + 1] = fill.1; bytes[3 * i + 2] = fill.2 }
    }

    /// Sets pixel (x, y); coordinates outside the image are ignored.
    public mutating func set(x: Int, y: Int, _ c: (UInt8, UInt8, UInt8)) {
        guard x >= 0, y >= 0, x < width, y < height else { return }
        let i = 3 * (y * width + x)
        bytes[i] = c.0; bytes[i + 1] = c.1; bytes[i + 2] = c.2
    }

    /// The colour at (x, y).
    public func get(x: Int, y: Int) -> (UInt8, UInt8, UInt8) {
        let i = 3 * (y * width + x)
        return (bytes[i], bytes[i + 1], bytes[i + 2])
    }
}

/// PNG writers (atomic) and a single-image reader.
public enum PNGFile {
    /// Bits per gray sample.
    public enum BitDepth: Int, Sendable { case eight = 8, sixteen = 16 }

    /// Writes a grayscale PNG. `scaling` says how floats become integers
    /// (`.none` requires values already in range; NaN/Inf are always an error).
    public static func writeGray(_ image: GrayImage, to url: URL, bitDepth: BitDepth = .eight,
                                 scaling: IntensityScaling = .none) throws {
        try AtomicFile.checkDestination(url)
        try AtomicFile.write(grayData(image, bitDepth: bitDepth, scaling: scaling, path: url.path), to: url)
    }

    /// Writes an 8-bit RGB PNG.
    public static func writeRGB(_ image: RGBImage, to url: URL) throws {
        try AtomicFile.checkDestination(url)
        try AtomicFile.write(rgbData(image, path: url.path), to: url)
    }

    /// A grayscale PNG file's bytes, as `writeGray` writes them (`path` names it in errors).
    public static func grayData(_ image: GrayImage, bitDepth: BitDepth = .eight, scaling: IntensityScaling = .none,
                                path: String = "PNG image") throws -> Data {
        let top: Float = bitDepth == .eight ? 255 : 65535
        let v = try scale(image.pixels, scaling: scaling, top: top, path: path)
        if bitDepth == .eight {
            return try v.map { UInt8($0) }.withUnsafeBytes { try PNGCodec.encode($0, width: image.width, height: image.height, format: 0, path: path) }
        }
        return try v.map { UInt16($0) }.withUnsafeBytes {
            try PNGCodec.encode($0, width: image.width, height: image.height, format: UInt32(PNG_FORMAT_FLAG_LINEAR), path: path)
        }
    }

    /// An 8-bit RGB PNG file's bytes, as `writeRGB` writes them.
    public static func rgbData(_ image: RGBImage, path: String = "PNG image") throws -> Data {
        guard image.bytes.count == 3 * image.width * image.height else {
            throw MicroscopyIOError.invalidArgument(detail: "RGB image \(image.width)×\(image.height) needs \(3 * image.width * image.height) bytes, has \(image.bytes.count)")
        }
        return try image.bytes.withUnsafeBytes {
            try PNGCodec.encode($0, width: image.width, height: image.height, format: UInt32(PNG_FORMAT_FLAG_COLOR), path: path)
        }
    }

    /// Applies `scaling` and rounds; returns integers in 0...top as Float.
    static func scale(_ pixels: [Float], scaling: IntensityScaling, top: Float, path: String) throws -> [Float] {
        let s = ValueStats(pixels)
        if s.nanCount + s.infCount > 0 {
            throw MicroscopyIOError.unrepresentable(path: path, detail: "\(s.nanCount) NaN and \(s.infCount) Inf pixel(s) cannot be stored in PNG")
        }
        switch scaling {
        case .none:
            if s.minimum.rounded() < 0 || s.maximum.rounded() > top {
                throw MicroscopyIOError.unrepresentable(
                    path: path, detail: "values \(s.minimum)...\(s.maximum) outside 0...\(Int(top)); choose a scaling (min-max or a range)")
            }
            return pixels.map { $0.rounded() }
        case .minMax:
            return map(pixels, low: s.minimum, high: s.maximum, top: top)
        case .range(let lo, let hi):
            guard hi > lo, lo.isFinite, hi.isFinite else {
                throw MicroscopyIOError.invalidArgument(detail: "scaling range \(lo)...\(hi) must be finite with high > low")
            }
            return map(pixels, low: lo, high: hi, top: top)
        }
    }

    private static func map(_ p: [Float], low: Float, high: Float, top: Float) -> [Float] {
        let span = high - low
        guard span > 0 else { return [Float](repeating: 0, count: p.count) }
        return p.map { min(max((($0 - low) / span * top).rounded(), 0), top) }
    }
}

/// A single PNG or a numbered PNG series (`name_000.png`, `name_001.png`, …) read lazily.
final class PNGSeriesSource: FrameSource {
    let info: MovieInfo
    let files: [URL]
    private let header: Header
    typealias Header = PNGCodec.Header

    /// A file: a numbered name opens the whole series it belongs to (unless `single`);
    /// otherwise one image.
    convenience init(file url: URL, single: Bool = false) throws {
        try FileManager.default.requireFile(url)
        if !single, let (prefix, _) = PNGSeriesSource.split(url.lastPathComponent) {
            try self.init(files: PNGSeriesSource.series(in: url.deletingLastPathComponent(), prefix: prefix, origin: url, fromFile: true), path: url.path)
        } else {
            try self.init(files: [url], path: url.path)
        }
    }

    /// A directory holding exactly one numbered PNG series (or exactly one PNG).
    convenience init(directory url: URL) throws {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: url.path)) ?? []
        let pngs = names.filter { $0.lowercased().hasSuffix(".png") && !$0.hasPrefix(".") }
        guard !pngs.isEmpty else { throw MicroscopyIOError.isDirectory(path: url.path) }
        let prefixes = Set(pngs.map { PNGSeriesSource.split($0)?.prefix ?? $0 })
        guard prefixes.count == 1, let prefix = prefixes.first else {
            throw MicroscopyIOError.unsupported(path: url.path, detail: "directory holds PNGs of \(prefixes.count) different names; expected one numbered series")
        }
        if pngs.count == 1, PNGSeriesSource.split(pngs[0]) == nil {
            try self.init(files: [url.appendingPathComponent(pngs[0])], path: url.path)
        } else {
            try self.init(files: PNGSeriesSource.series(in: url, prefix: prefix, origin: url, fromFile: false), path: url.path)
        }
    }

    private init(files: [URL], path: String) throws {
        self.files = files
        header = try PNGCodec.header(files[0])
        for f in files.dropFirst() {
            let h = try PNGCodec.header(f)
            if h != header {
                throw MicroscopyIOError.inconsistentFrames(
                    path: f.path, detail: "\(h.width)×\(h.height) \(h.sixteenBit ? 16 : 8)-bit, but \(files[0].lastPathComponent) is \(header.width)×\(header.height) \(header.sixteenBit ? 16 : 8)-bit")
            }
        }
        try IOLimits.check(width: header.width, height: header.height, frames: files.count, path: path)
        info = MovieInfo(format: files.count > 1 ? .pngSeries : .png, frameCount: files.count, width: header.width,
                         height: header.height, sampleType: header.sixteenBit ? .uint16 : .uint8, calibration: nil)
    }

    func readFrame(_ index: Int, into dst: UnsafeMutableBufferPointer<Float>) throws {
        try PNGCodec.read(files[index], expect: header, into: dst)
    }

    /// "frame_012.png" → ("frame_", 12); nil without trailing digits.
    static func split(_ name: String) -> (prefix: String, number: Int)? {
        guard name.lowercased().hasSuffix(".png") else { return nil }
        let stem = name.dropLast(4)
        let digits = stem.reversed().prefix { $0.isASCII && $0.isNumber }
        guard !digits.isEmpty, digits.count <= 9, let n = Int(String(digits.reversed())) else { return nil }
        return (String(stem.dropLast(digits.count)), n)
    }

    private static func digitCount(_ name: String, prefix: String) -> Int { name.count - 4 - prefix.count }

    /// All files `prefix<digits>.png` in `dir`, ordered by number; a missing number is an error.
    static func series(in dir: URL, prefix: String, origin: URL, fromFile: Bool) throws -> [URL] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? []
        // Zero-padded names (frame_007.png) fix the digit count; unpadded ones (frame_7.png) do not.
        let name = origin.lastPathComponent, d = digitCount(name, prefix: prefix)
        let width = fromFile && d > 1 && name.dropFirst(prefix.count).first == "0" ? d : nil
        var numbered: [(Int, String)] = []
        for n in names {
            if let (p, k) = split(n), p == prefix, width == nil || digitCount(n, prefix: p) == width {
                numbered.append((k, n))
            }
        }
        numbered.sort { $0.0 < $1.0 }
        guard let first = numbered.first else { throw MicroscopyIOError.fileNotFound(path: origin.path) }
        for (i, (k, name)) in numbered.enumerated() where k != first.0 + i {
            if i > 0, numbered[i - 1].0 == k {
                throw MicroscopyIOError.corrupt(path: origin.path, detail: "\(numbered[i - 1].1) and \(name) have the same number \(k)")
            }
            throw MicroscopyIOError.seriesGap(path: origin.path, detail: "\(prefix)…\(first.0 + i) is missing (found \(numbered[i - 1].1), then \(name))")
        }
        return numbered.map { dir.appendingPathComponent($0.1) }
    }
}
