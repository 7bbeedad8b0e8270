import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The container formats MicroscopyIO reads.
public enum MovieFormat: String, Sendable {
    case tiff = "TIFF", bigTIFF = "BigTIFF", png = "PNG", pngSeries = "PNG series"
    case npy = "NPY", dm3 = "DM3", dm4 = "DM4"
    case veloxEMD = "Velox EMD", berkeleyEMD = "Berkeley EMD", nionHDF5 = "Nion HDF5", nionNData = "Nion ndata"
    case tiaSER = "TIA SER", mrc = "MRC"
}

/// What a reader knows about a movie after opening it (headers only, no pixels decoded).
public struct MovieInfo: Sendable, Equatable {
    public var format: MovieFormat
    public var frameCount: Int
    public var width: Int
    public var height: Int
    /// Sample type as stored in the file; frames are always delivered as Float32.
    public var sampleType: SampleType
    /// Pixel calibration when the file states one.
    public var calibration: FileCalibration?
    /// Key/value metadata the file carries (TIFF ImageDescription JSON, e.g. a simulation
    /// seed written through `TIFFStackWriter(metadata:)`); empty for other formats.
    public var metadata: [String: String] = [:]
    /// The time between frames when the file states one, with where it was found.
    public var frameTime: FileFrameTime? = nil
    /// The image signals a multi-signal file holds (Velox detectors, Berkeley EMD groups), the
    /// one read first; empty for single-signal formats.
    public var signals: [String] = []
    public var signal: String? = nil
}

/// A frame time stated by the file: seconds between frames and the metadata key it came from
/// (e.g. `Scan.FrameTime`), so `info` and summary.json can say where the seconds came from.
public struct FileFrameTime: Sendable, Equatable {
    public var seconds: Double
    public var key: String

    public init(seconds: Double, key: String) { self.seconds = seconds; self.key = key }

    /// A time only when it is finite and positive (metadata holds zeros and garbage).
    static func valid(_ seconds: Double?, key: String) -> FileFrameTime? {
        guard let s = seconds, s.isFinite, s > 0 else { return nil }
        return FileFrameTime(seconds: s, key: key)
    }
}

/// A reader that decodes one frame at a time.
protocol FrameSource: AnyObject {
    var info: MovieInfo { get }
    /// Decodes frame `index` (already range-checked) into `dst` (`width * height` floats).
    func readFrame(_ index: Int, into dst: UnsafeMutableBufferPointer<Float>) throws
    /// The same frame as Float64, so float64 files keep values Float32 cannot hold.
    func readFrame(_ index: Int, into dst: UnsafeMutableBufferPointer<Double>) throws
    /// Frame `index` in consecutive row bands (top to bottom), for scans that need no whole frame.
    func readBands(_ index: Int, _ body: (UnsafeBufferPointer<Float>) throws -> Void) throws
}

extension FrameSource {
    /// Through Float32: exact for every source whose samples are not float64.
    func readFrame(_ index: Int, into dst: UnsafeMutableBufferPointer<Double>) throws {
        var narrow = [Float](repeating: 0, count: dst.count)
        try narrow.withUnsafeMutableBufferPointer { try readFrame(index, into: $0) }
        for i in 0..<dst.count { dst[i] = Double(narrow[i]) }
    }

    /// One band, the whole frame: for readers that decode a frame in one call (PNG, HDF5,
    /// TIA's bottom-up rows, Fortran-order NPY); MRC, DM and C-order NPY use `readStoredBands`.
    func readBands(_ index: Int, _ body: (UnsafeBufferPointer<Float>) throws -> Void) throws {
        var frame = [Float](repeating: 0, count: info.width * info.height)
        try frame.withUnsafeMutableBufferPointer { try readFrame(index, into: $0) }
        try frame.withUnsafeBufferPointer { try body($0) }
    }
}

extension FrameSource {
    /// Rows per band of the band-by-band scans: about 1 MiB of Float32.
    var bandRows: Int { max(1, (1 << 18) / max(info.width, 1)) }

    /// Bands of a frame stored contiguously in a mapped file (row-major, top row first,
    /// starting at byte `start`), decoded ≤ 1 MiB at a time: no Float copy of the frame.
    func readStoredBands(_ data: Data, start: Int, bigEndian: Bool, _ body: (UnsafeBufferPointer<Float>) throws -> Void) throws {
        let (w, h, size) = (info.width, info.height, info.sampleType.byteCount)
        var band = [Float](repeating: 0, count: min(h, bandRows) * w)
        try data.withUnsafeBytes { raw in
            for top in stride(from: 0, to: h, by: bandRows) {
                let n = min(bandRows, h - top) * w, from = start + top * w * size
                try band.withUnsafeMutableBufferPointer { b in
                    let dst = UnsafeMutableBufferPointer(rebasing: b[0..<n])
                    SampleCodec.decode(UnsafeRawBufferPointer(rebasing: raw[from..<(from + n * size)]), type: info.sampleType,
                                       bigEndian: bigEndian, into: dst)
                    try body(UnsafeBufferPointer(dst))
                }
            }
        }
    }
}

/// A movie (or a single image, a movie of one frame) opened from a file; frames are decoded
/// on demand so a 1000-frame movie is never held in memory at once.
///
/// Not thread-safe for concurrent `frame(_:)` calls (the codecs keep state); use one
/// `Movie` per thread.
public final class Movie {
    /// The file or directory the movie was opened from.
    public let url: URL
    /// Format, size, frame count, sample type and calibration.
    public let info: MovieInfo
    let source: FrameSource

    init(url: URL, source: FrameSource) {
        self.url = url
        self.source = source
        self.info = source.info
    }

    public var frameCount: Int { info.frameCount }
    public var width: Int { info.width }
    public var height: Int { info.height }
    public var sampleType: SampleType { info.sampleType }
    public var calibration: FileCalibration? { info.calibration }
    /// Square pixel size in Å, when known.
    public var pixelSizeA: Double? { info.calibration?.pixelSizeA }
    /// Seconds between frames, when the file states it.
    public var frameTime: FileFrameTime? { info.frameTime }

    /// Opens a movie by extension and magic bytes: `.tif/.tiff` (multi-page stack; OME and
    /// ImageJ calibration and frame interval), `.png` (a single image, or a numbered series such
    /// as `frame_000.png …`), a directory holding a numbered PNG series, `.npy` (2-D or 3-D),
    /// `.dm3`, `.dm4`, `.emd` (Velox or Berkeley EMD), `.h5` (Nion Swift or Berkeley EMD),
    /// `.ndata` (Nion Swift), `.ser` (TIA; its `.emi` read when present), `.mrc`.
    /// `singlePNG` reads a numbered `.png` alone instead of as part of its series; `signal`
    /// picks one image of a multi-signal file (a Velox detector, a Berkeley EMD group).
    public static func open(_ url: URL, singlePNG: Bool = false, signal: String? = nil) throws -> Movie {
        let path = url.path
        if try FileManager.default.isDirectoryOrRegularFile(url) {
            return try single(signal, url, Movie(url: url, source: try PNGSeriesSource(directory: url)))
        }
        let ext = url.pathExtension.lowercased()
        let magic = try readMagic(url)
        let source: FrameSource
        switch ext {
        case "tif", "tiff": source = try TIFFSource(url: url)
        case "png": source = try PNGSeriesSource(file: url, single: singlePNG)
        case "npy": source = try NPYSource(url: url)
        case "dm3", "dm4": source = try DMSource(url: url)
        case "emd", "h5", "hdf5": source = try HDF5Layout.open(url, signal: signal)
        case "ndata": source = try NionNDataSource(url: url)
        case "ser": source = try TIASource(url: url)
        case "mrc", "mrcs": source = try MRCSource(url: url)
        default:
            if magic.starts(with: [0x49, 0x49]) || magic.starts(with: [0x4D, 0x4D]) {
                source = try TIFFSource(url: url)
            } else if magic.starts(with: [0x89, 0x50, 0x4E, 0x47]) {
                source = try PNGSeriesSource(file: url, single: singlePNG)
            } else if magic.starts(with: [0x93, 0x4E, 0x55, 0x4D]) {
                source = try NPYSource(url: url)
            } else if magic.starts(with: HDF5.signature) {
                source = try HDF5Layout.open(url, signal: signal)
            } else {
                throw MicroscopyIOError.unknownFormat(
                    path: path, detail: "extension '.\(ext)'; expected .tif, .tiff, .png, .npy, .dm3, .dm4, .emd, .h5, .ndata, .ser or .mrc")
            }
        }
        return try single(signal, url, Movie(url: url, source: source))
    }

    /// Refuses `--signal` for a file that holds one signal (it would be silently ignored).
    private static func single(_ signal: String?, _ url: URL, _ movie: Movie) throws -> Movie {
        if let s = signal, movie.info.signals.isEmpty {
            throw MicroscopyIOError.noSuchSignal(path: url.path, signal: s, available: "a \(movie.info.format.rawValue) file holds one signal")
        }
        return movie
    }

    /// Decodes frame `index` (0-based) as Float32, with the pixel size when known.
    public func frame(_ index: Int) throws -> GrayImage {
        try checkFrame(index)
        var pixels = [Float](repeating: 0, count: info.width * info.height)
        try pixels.withUnsafeMutableBufferPointer { try source.readFrame(index, into: $0) }
        return try GrayImage(width: info.width, height: info.height, pixels: pixels, pixelSizeA: pixelSizeA)
    }

    private func checkFrame(_ index: Int) throws {
        guard index >= 0, index < info.frameCount else {
            throw MicroscopyIOError.frameOutOfRange(path: url.path, index: index, count: info.frameCount)
        }
    }

    /// Decodes frame `index` into `pixels`, resized to `width * height`; reusing one
    /// buffer across frames avoids an allocation per frame.
    public func readFrame(_ index: Int, into pixels: inout [Float]) throws {
        try checkFrame(index)
        let n = info.width * info.height
        if pixels.count != n { pixels = [Float](repeating: 0, count: n) }
        try pixels.withUnsafeMutableBufferPointer { try source.readFrame(index, into: $0) }
    }

    /// Decodes frame `index` as Float64 (`convert --dtype float64`: float64 values unrounded).
    public func readFrame(_ index: Int, into pixels: inout [Double]) throws {
        try checkFrame(index)
        let n = info.width * info.height
        if pixels.count != n { pixels = [Double](repeating: 0, count: n) }
        try pixels.withUnsafeMutableBufferPointer { try source.readFrame(index, into: $0) }
    }

    /// Calls `body` with frame `index` in consecutive row bands, top to bottom (a TIFF strip
    /// or row of tiles; other formats give the whole frame as one band). Memory stays at one
    /// band for statistics such as `info`'s value range.
    public func forEachBand(ofFrame index: Int, _ body: (UnsafeBufferPointer<Float>) throws -> Void) throws {
        try checkFrame(index)
        try source.readBands(index, body)
    }

    /// Calls `body` with every frame in order, decoding one at a time into a reused buffer
    /// (an image `body` keeps is copied on the next write, so keeping frames is safe).
    public func forEachFrame(_ body: (Int, GrayImage) throws -> Void) throws {
        var buffer: [Float] = []
        for i in 0..<info.frameCount {
            try readFrame(i, into: &buffer)
            try body(i, try GrayImage(width: info.width, height: info.height, pixels: buffer, pixelSizeA: pixelSizeA))
        }
    }

    /// Convenience: the first frame of the file at `url` (a `.png` is read alone).
    public static func readImage(_ url: URL) throws -> GrayImage { try open(url, singlePNG: true).frame(0) }

    private static func readMagic(_ url: URL) throws -> [UInt8] {
        guard let h = FileHandle(forReadingAtPath: url.path) else {
            throw MicroscopyIOError.corrupt(path: url.path, detail: "cannot open for reading")
        }
        defer { try? h.close() }
        return [UInt8]((try? h.read(upToCount: 8)) ?? Data())
    }
}

extension FileManager {
    /// True for a directory, false for a regular file (links followed); throws `.fileNotFound`,
    /// or `.unsupported` for anything else: opening a FIFO to read it blocks until a writer
    /// comes (forever), and a device can be endless, so they are refused before any open.
    func isDirectoryOrRegularFile(_ url: URL) throws -> Bool {
        var st = stat()
        guard stat(url.path, &st) == 0 else { throw MicroscopyIOError.fileNotFound(path: url.path) }
        switch st.st_mode & mode_t(S_IFMT) {
        case mode_t(S_IFDIR): return true
        case mode_t(S_IFREG):
            // Checked here so a file we may not read is named as such, not called corrupt by a codec.
            guard access(url.path, R_OK) == 0 else {
                throw MicroscopyIOError.unreadable(path: url.path, detail: String(cString: strerror(errno)).lowercased())
            }
            return false
        case mode_t(S_IFIFO): throw MicroscopyIOError.unsupported(path: url.path, detail: "a FIFO (named pipe), not a regular file")
        case mode_t(S_IFCHR), mode_t(S_IFBLK): throw MicroscopyIOError.unsupported(path: url.path, detail: "a device, not a regular file")
        default: throw MicroscopyIOError.unsupported(path: url.path, detail: "not a regular file or directory")
        }
    }

    /// Throws `.fileNotFound` / `.isDirectory` / `.unsupported` unless `url` is an existing regular file.
    func requireFile(_ url: URL) throws {
        if try isDirectoryOrRegularFile(url) { throw MicroscopyIOError.isDirectory(path: url.path) }
    }

    /// The bytes of a file behind a memory map, so a reader touches only the frames it decodes.
    func mappedFile(_ url: URL) throws -> Data {
        try requireFile(url)
        do { return try Data(contentsOf: url, options: .alwaysMapped) } catch {
            throw MicroscopyIOError.corrupt(path: url.path, detail: "cannot read: \(error.localizedDescription)")
        }
    }
}
