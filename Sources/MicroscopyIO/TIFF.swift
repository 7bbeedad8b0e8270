import CTIFF
import Foundation

/// Messages libtiff reports for one handle (captured instead of printed to stderr).
final class TIFFMessages {
    var errors: [String] = []
    var warnings: [String] = []
    /// The most useful line to show a user.
    var summary: String { errors.last ?? warnings.last ?? "libtiff reported no detail" }
}

/// One open libtiff handle with its own error and warning handlers.
final class TIFFHandle {
    let tif: OpaquePointer
    let messages: TIFFMessages
    let path: String

    /// Opens `path` with libtiff `mode` ("r", "w", "w8" for BigTIFF); libtiff's messages go
    /// to `messages`, never to stderr.
    init(path: String, mode: String) throws {
        let messages = TIFFMessages()
        let opts = TIFFOpenOptionsAlloc()
        defer { TIFFOpenOptionsFree(opts) }
        let box = Unmanaged.passUnretained(messages).toOpaque()
        TIFFOpenOptionsSetErrorHandlerExtR(opts, { _, user, _, fmt, va in
            TIFFHandle.record(user, fmt, va, warning: false)
        }, box)
        TIFFOpenOptionsSetWarningHandlerExtR(opts, { _, user, _, fmt, va in
            TIFFHandle.record(user, fmt, va, warning: true)
        }, box)
        // Refuse single allocations above 4 GiB (absurd strip/tile sizes).
        TIFFOpenOptionsSetMaxSingleMemAlloc(opts, 1 << 32)
        guard let tif = TIFFOpenExt(path, mode, opts) else {
            throw MicroscopyIOError.corrupt(path: path, detail: "not a readable TIFF: \(messages.summary)")
        }
        self.tif = tif
        self.messages = messages
        self.path = path
    }

    deinit { TIFFClose(tif) }

    private static func record(_ user: UnsafeMutableRawPointer?, _ fmt: UnsafePointer<CChar>?,
                               _ va: CVaListPointer?, warning: Bool) -> Int32 {
        guard let user, let fmt, let va else { return 1 }
        let box = Unmanaged<TIFFMessages>.fromOpaque(user).takeUnretainedValue()
        var buf = [CChar](repeating: 0, count: 512)
        _ = vsnprintf(&buf, buf.count, fmt, va)
        let text = buf.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
        if warning { box.warnings.append(text) } else { box.errors.append(text) }
        return 1  // handled: do not call libtiff's global (stderr) handlers
    }

    func u32(_ tag: Int32, defaulted: Bool = false) -> UInt32? {
        var v: UInt32 = 0
        let ok = withUnsafeMutablePointer(to: &v) { p in
            withVaList([p]) { defaulted ? TIFFVGetFieldDefaulted(tif, UInt32(tag), $0) : TIFFVGetField(tif, UInt32(tag), $0) }
        }
        return ok == 1 ? v : nil
    }

    func u16(_ tag: Int32, defaulted: Bool = true) -> UInt16? {
        var v: UInt16 = 0
        let ok = withUnsafeMutablePointer(to: &v) { p in
            withVaList([p]) { defaulted ? TIFFVGetFieldDefaulted(tif, UInt32(tag), $0) : TIFFVGetField(tif, UInt32(tag), $0) }
        }
        return ok == 1 ? v : nil
    }

    func float(_ tag: Int32) -> Float? {
        var v: Float = 0
        let ok = withUnsafeMutablePointer(to: &v) { p in withVaList([p]) { TIFFVGetField(tif, UInt32(tag), $0) } }
        return ok == 1 ? v : nil
    }

    func string(_ tag: Int32) -> String? {
        var v: UnsafeMutablePointer<CChar>? = nil
        let ok = withUnsafeMutablePointer(to: &v) { p in withVaList([p]) { TIFFVGetField(tif, UInt32(tag), $0) } }
        guard ok == 1, let v else { return nil }
        return String(cString: v)
    }

    func set(_ tag: Int32, _ args: [CVarArg]) throws {
        let ok = withVaList(args) { TIFFVSetField(tif, UInt32(tag), $0) }
        if ok != 1 {
            throw MicroscopyIOError.writeFailed(path: path, detail: "libtiff refused tag \(tag): \(messages.summary)")
        }
    }
}

/// The layout of one TIFF page as read from its directory.
struct TIFFPage: Equatable {
    var width: Int, height: Int, sampleType: SampleType
    var tiled: Bool, tileWidth: Int, tileHeight: Int, rowsPerStrip: Int
    /// PhotometricInterpretation = MinIsWhite: larger stored values are darker.
    var minIsWhite = false
}

/// Reads a (multi-page, strip or tiled, classic or Big) TIFF one page at a time.
final class TIFFSource: FrameSource {
    let info: MovieInfo
    private let handle: TIFFHandle
    private var pages: [TIFFPage] = []
    private var current = -1
    /// Strip/tile bytes kept between frames (one allocation per movie, not per frame).
    private var scratchBuffer: [UInt8] = []

    private func scratch(_ n: Int) -> [UInt8] {
        var b = scratchBuffer
        scratchBuffer = []
        if b.count < n { b = [UInt8](repeating: 0, count: n) }
        return b
    }

    init(url: URL) throws {
        try FileManager.default.requireFile(url)
        let path = url.path
        // "m": no memory mapping — a mapped 4 GB stack would show up as resident memory as
        // frames are read; plain reads keep the footprint to the current frame.
        handle = try TIFFHandle(path: path, mode: "rm")
        let tif = handle.tif
        // For checking strips/tiles against the end of the file (no check when it cannot be stat'ed).
        let fileSize = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? NSNumber)?.uint64Value ?? .max
        let count = Int(TIFFNumberOfDirectories(tif))
        guard count > 0 else { throw MicroscopyIOError.corrupt(path: path, detail: "no image directories") }
        // libtiff stops counting at an IFD it cannot read (a cut-off last page) and reports
        // only an error message: that is a truncated movie, not a shorter one.
        if !handle.messages.errors.isEmpty {
            throw MicroscopyIOError.corrupt(path: path, detail: "page \(count) is cut off or unreadable: \(handle.messages.summary)")
        }
        // Page by page along the IFD chain (TIFFReadDirectory): linear in the page count, where
        // TIFFSetDirectory(i) for every i walked the chain from the first page (quadratic).
        for i in 0..<count {
            guard (i == 0 ? TIFFSetDirectory(tif, 0) : TIFFReadDirectory(tif)) == 1 else {
                throw MicroscopyIOError.corrupt(path: path, detail: "page \(i): \(handle.messages.summary)")
            }
            let page = try TIFFSource.readPage(handle, index: i, pageCount: count, fileSize: fileSize)
            if let first = pages.first, first.width != page.width || first.height != page.height || first.sampleType != page.sampleType {
                throw MicroscopyIOError.inconsistentFrames(
                    path: path, detail: "page 0 is \(first.width)×\(first.height) \(first.sampleType.rawValue), page \(i) is \(page.width)×\(page.height) \(page.sampleType.rawValue)")
            }
            pages.append(page)
        }
        let big = (TIFFIsBigTIFF(tif) != 0)
        _ = TIFFSetDirectory(tif, 0)
        current = 0
        let cal = TIFFSource.calibration(handle)
        info = MovieInfo(format: big ? .bigTIFF : .tiff, frameCount: count, width: pages[0].width,
                         height: pages[0].height, sampleType: pages[0].sampleType, calibration: cal,
                         metadata: TIFFSource.metadata(handle),
                         frameTime: TIFFMetadata.frameTime(handle.string(TIFFTAG_IMAGEDESCRIPTION) ?? ""))
    }

    private static func readPage(_ h: TIFFHandle, index: Int, pageCount: Int, fileSize: UInt64) throws -> TIFFPage {
        let path = h.path
        guard let w = h.u32(TIFFTAG_IMAGEWIDTH), let hgt = h.u32(TIFFTAG_IMAGELENGTH) else {
            throw MicroscopyIOError.corrupt(path: path, detail: "page \(index) has no image width/length")
        }
        try IOLimits.check(width: Int(w), height: Int(hgt), frames: pageCount, path: path)
        let spp = h.u16(TIFFTAG_SAMPLESPERPIXEL) ?? 1
        let bps = h.u16(TIFFTAG_BITSPERSAMPLE) ?? 1
        let fmt = h.u16(TIFFTAG_SAMPLEFORMAT) ?? UInt16(SAMPLEFORMAT_UINT)
        guard spp == 1 else {
            throw MicroscopyIOError.unsupported(path: path, detail: "page \(index) has \(spp) samples per pixel; only grayscale TIFF is read")
        }
        let type: SampleType
        switch (Int32(fmt), bps) {
        case (SAMPLEFORMAT_UINT, 8): type = .uint8
        case (SAMPLEFORMAT_UINT, 16): type = .uint16
        case (SAMPLEFORMAT_UINT, 32): type = .uint32
        case (SAMPLEFORMAT_INT, 8): type = .int8
        case (SAMPLEFORMAT_INT, 16): type = .int16
        case (SAMPLEFORMAT_INT, 32): type = .int32
        case (SAMPLEFORMAT_IEEEFP, 32): type = .float32
        case (SAMPLEFORMAT_IEEEFP, 64): type = .float64
        default:
            let names = [1: "unsigned int", 2: "signed int", 3: "float", 4: "untyped", 5: "complex int", 6: "complex float"]
            throw MicroscopyIOError.unsupported(
                path: path, detail: "page \(index): \(bps)-bit \(names[Int(fmt)] ?? "format \(fmt)") samples (supported: 8/16/32-bit int, 32/64-bit float)")
        }
        let tiled = TIFFIsTiled(h.tif) != 0
        try checkStrilesInFile(h, index: index, fileSize: fileSize)
        return TIFFPage(width: Int(w), height: Int(hgt), sampleType: type, tiled: tiled,
                        tileWidth: Int(h.u32(TIFFTAG_TILEWIDTH) ?? 0), tileHeight: Int(h.u32(TIFFTAG_TILELENGTH) ?? 0),
                        rowsPerStrip: Int(min(h.u32(TIFFTAG_ROWSPERSTRIP, defaulted: true) ?? hgt, hgt)),
                        minIsWhite: h.u16(TIFFTAG_PHOTOMETRIC, defaulted: false) == UInt16(PHOTOMETRIC_MINISWHITE))
    }

    /// A page whose strips/tiles reach past the end of the file was cut off: refuse it at open
    /// rather than let libtiff fail (or zero-fill) only when that frame is read.
    private static func checkStrilesInFile(_ h: TIFFHandle, index: Int, fileSize size: UInt64) throws {
        let kind = TIFFIsTiled(h.tif) != 0 ? "tile" : "strip"
        for s in 0..<TIFFNumberOfStrips(h.tif) {
            let off = TIFFGetStrileOffset(h.tif, s), n = TIFFGetStrileByteCount(h.tif, s)
            if off > size || n > size - off {
                throw MicroscopyIOError.corrupt(
                    path: h.path, detail: "page \(index) \(kind) \(s): bytes \(off)..<\(off &+ n) lie past the end of the \(size)-byte file (truncated?)")
            }
        }
    }

    /// The first page's ImageDescription, when it is a JSON object, as strings.
    static func metadata(_ h: TIFFHandle) -> [String: String] {
        guard let desc = h.string(TIFFTAG_IMAGEDESCRIPTION), desc.hasPrefix("{"),
              let obj = try? JSONSerialization.jsonObject(with: Data(desc.utf8)) as? [String: Any] else { return [:] }
        var out: [String: String] = [:]
        for (k, v) in obj {
            if let s = v as? String { out[k] = s }
            else if let n = v as? NSNumber { out[k] = n.stringValue }
            else if let d = try? JSONSerialization.data(withJSONObject: v, options: [.sortedKeys]) { out[k] = String(decoding: d, as: UTF8.self) }
        }
        return out
    }

    /// Pixel size from our JSON description, an ImageJ description, or X/YResolution in cm.
    static func calibration(_ h: TIFFHandle) -> FileCalibration? {
        let desc = h.string(TIFFTAG_IMAGEDESCRIPTION) ?? ""
        if let ome = TIFFMetadata.omeCalibration(desc) { return ome }
        if desc.hasPrefix("{"), let obj = try? JSONSerialization.jsonObject(with: Data(desc.utf8)) as? [String: Any] {
            let number = { (k: String) in (obj[k] as? NSNumber)?.doubleValue }
            if let a = number("pixel_size_A"), a > 0 { return FileCalibration(pixelSizeA: a) }
            if let ax = number("pixel_size_x_A"), let ay = number("pixel_size_y_A"), ax > 0, ay > 0 {
                return FileCalibration(x: AxisCalibration(scale: ax, unit: "Å"), y: AxisCalibration(scale: ay, unit: "Å"))
            }
        }
        guard let xr = h.float(TIFFTAG_XRESOLUTION), xr > 0 else { return nil }
        let yr = h.float(TIFFTAG_YRESOLUTION).flatMap { $0 > 0 ? $0 : nil } ?? xr
        if desc.hasPrefix("ImageJ=") {
            let unitLine = desc.split(separator: "\n").first { $0.hasPrefix("unit=") }
            guard var unit = unitLine.map({ String($0.dropFirst(5)) }) else { return nil }
            if unit == "micron" || unit == "\\u00B5m" { unit = "µm" }
            guard AxisCalibration.angstromPerUnit(unit) != nil else { return nil }
            return FileCalibration(x: AxisCalibration(scale: 1 / Double(xr), unit: unit),
                               y: AxisCalibration(scale: 1 / Double(yr), unit: unit))
        }
        // Only centimetres are trusted: inch resolutions are usually display dpi.
        guard h.u16(TIFFTAG_RESOLUTIONUNIT) == UInt16(RESUNIT_CENTIMETER) else { return nil }
        return FileCalibration(x: AxisCalibration(scale: 1e8 / Double(xr), unit: "Å"),
                           y: AxisCalibration(scale: 1e8 / Double(yr), unit: "Å"))
    }

    func readFrame(_ index: Int, into dst: UnsafeMutableBufferPointer<Float>) throws { try read(index, into: dst) }
    func readFrame(_ index: Int, into dst: UnsafeMutableBufferPointer<Double>) throws { try read(index, into: dst) }

    /// A row of tiles, or for strip pages ≤ 1 MiB of rows read scanline by scanline, at a time:
    /// `info`'s value scan of a 16384² page holds a band, never the 1 GiB frame — nor, for a
    /// page stored as one deflate strip, the 512 MiB strip `TIFFReadEncodedStrip` would need.
    func readBands(_ index: Int, _ body: (UnsafeBufferPointer<Float>) throws -> Void) throws {
        guard pages[index].tiled else { return try readScanlineBands(index, body) }
        let w = info.width
        var band = UnsafeMutableBufferPointer<Float>(start: nil, count: 0)
        defer { band.deallocate() }
        try decodeBands(index, buffer: { _, rows in
            if band.count < rows * w { band.deallocate(); band = .allocate(capacity: rows * w) }
            return UnsafeMutableBufferPointer(rebasing: band[0..<(rows * w)])
        }, done: { try body(UnsafeBufferPointer($0)) })
    }

    private func readScanlineBands(_ index: Int, _ body: (UnsafeBufferPointer<Float>) throws -> Void) throws {
        try select(index)
        let p = pages[index], tif = handle.tif, w = p.width
        let bandRows = max(1, min(p.height, (1 << 18) / w))
        var row = [UInt8](repeating: 0, count: max(w * p.sampleType.byteCount, Int(TIFFScanlineSize64(tif))))
        var band = [Float](repeating: 0, count: bandRows * w)
        for y0 in stride(from: 0, to: p.height, by: bandRows) {
            let rows = min(bandRows, p.height - y0)
            try band.withUnsafeMutableBufferPointer { b in
                for y in y0..<(y0 + rows) {
                    guard row.withUnsafeMutableBytes({ TIFFReadScanline(tif, $0.baseAddress, UInt32(y), 0) }) == 1 else {
                        throw MicroscopyIOError.corrupt(path: handle.path, detail: "page \(index) row \(y): \(handle.messages.summary)")
                    }
                    row.withUnsafeBytes {
                        Float.decode($0, type: p.sampleType, bigEndian: false.nativeOrder,
                                     into: UnsafeMutableBufferPointer(rebasing: b[((y - y0) * w)..<((y - y0 + 1) * w)]))
                    }
                }
                let filled = UnsafeMutableBufferPointer(rebasing: b[0..<(rows * w)])
                if p.minIsWhite { TIFFSource.invert(filled, type: p.sampleType) }
                try body(UnsafeBufferPointer(filled))
            }
        }
    }

    /// Makes page `index` libtiff's current directory.
    private func select(_ index: Int) throws {
        guard current != index else { return }
        // Reading on to the next IFD avoids TIFFSetDirectory's walk from the first page.
        let ok = index == current + 1 ? TIFFReadDirectory(handle.tif) : TIFFSetDirectory(handle.tif, tdir_t(index))
        guard ok == 1 else {
            throw MicroscopyIOError.corrupt(path: handle.path, detail: "page \(index): \(handle.messages.summary)")
        }
        current = index
    }

    private func read<F: DecodedSample>(_ index: Int, into dst: UnsafeMutableBufferPointer<F>) throws {
        let w = info.width
        try decodeBands(index, buffer: { y0, rows in UnsafeMutableBufferPointer(rebasing: dst[(y0 * w)..<((y0 + rows) * w)]) },
                        done: { _ in })
    }

    /// Decodes page `index` band by band — a strip, or a row of tiles — into `buffer(y0, rows)`
    /// (room for rows y0..<y0+rows of the page) and hands each filled band to `done`.
    private func decodeBands<F: DecodedSample>(_ index: Int, buffer: (Int, Int) -> UnsafeMutableBufferPointer<F>,
                                               done: (UnsafeMutableBufferPointer<F>) throws -> Void) throws {
        try select(index)
        let tif = handle.tif, path = handle.path, p = pages[index]
        let bytes = p.sampleType.byteCount
        func finish(_ band: UnsafeMutableBufferPointer<F>) throws {
            if p.minIsWhite { TIFFSource.invert(band, type: p.sampleType) }
            try done(band)
        }
        if p.tiled {
            guard p.tileWidth > 0, p.tileHeight > 0 else { throw MicroscopyIOError.corrupt(path: path, detail: "page \(index): zero tile size") }
            // Tiles come from the tags: refuse any larger than the page rounded up to 16 px
            // before allocating a buffer for one.
            guard p.tileWidth <= (p.width + 15) / 16 * 16, p.tileHeight <= (p.height + 15) / 16 * 16 else {
                throw MicroscopyIOError.corrupt(path: path, detail: "page \(index): tile \(p.tileWidth)×\(p.tileHeight) is larger than the \(p.width)×\(p.height) image")
            }
            let tileBytes = p.tileWidth * p.tileHeight * bytes
            var raw = scratch(max(tileBytes, Int(TIFFTileSize(tif))))
            defer { scratchBuffer = raw }
            var tile = [F](repeating: 0, count: p.tileWidth * p.tileHeight)
            for ty in stride(from: 0, to: p.height, by: p.tileHeight) {
                let rows = min(p.tileHeight, p.height - ty), band = buffer(ty, rows)
                for tx in stride(from: 0, to: p.width, by: p.tileWidth) {
                    let t = TIFFComputeTile(tif, UInt32(tx), UInt32(ty), 0, 0)
                    let n = raw.withUnsafeMutableBytes { TIFFReadEncodedTile(tif, t, $0.baseAddress, tmsize_t($0.count)) }
                    guard n >= tileBytes else {
                        throw MicroscopyIOError.corrupt(path: path, detail: "page \(index) tile \(t): \(handle.messages.summary)")
                    }
                    raw.withUnsafeBytes { r in tile.withUnsafeMutableBufferPointer { d in
                        F.decode(r, type: p.sampleType, bigEndian: false.nativeOrder, into: d)
                    } }
                    for y in 0..<rows {
                        for x in tx..<min(tx + p.tileWidth, p.width) { band[y * p.width + x] = tile[y * p.tileWidth + x - tx] }
                    }
                }
                try finish(band)
            }
        } else {
            let rps = max(1, p.rowsPerStrip)
            var raw = scratch(max(rps * p.width * bytes, Int(TIFFStripSize(tif))))
            defer { scratchBuffer = raw }
            for (s, y0) in stride(from: 0, to: p.height, by: rps).enumerated() {
                let rows = min(rps, p.height - y0)
                let need = rows * p.width * bytes
                let n = raw.withUnsafeMutableBytes { TIFFReadEncodedStrip(tif, UInt32(s), $0.baseAddress, tmsize_t($0.count)) }
                guard n >= need else {
                    throw MicroscopyIOError.corrupt(path: path, detail: "page \(index) strip \(s): \(handle.messages.summary)")
                }
                let band = buffer(y0, rows)
                raw.withUnsafeBytes { r in F.decode(r, type: p.sampleType, bigEndian: false.nativeOrder, into: band) }
                try finish(band)
            }
        }
    }

    /// MinIsWhite stores "larger is darker"; detector counts must be "larger is brighter"
    /// (what MinIsBlack pages and every other format give), so flip within the type's range:
    /// max − v for unsigned, −1 − v (bitwise NOT, which maps the range onto itself) for signed,
    /// −v for float.
    static func invert<F: BinaryFloatingPoint>(_ dst: UnsafeMutableBufferPointer<F>, type: SampleType) {
        let flip: (F) -> F
        switch type {
        case .uint8: flip = { 255 - $0 }
        case .uint16: flip = { 65535 - $0 }
        case .uint32: flip = { F(4_294_967_295 - Double($0)) }  // Double: no UInt32 trap on rounded values
        case .int8, .int16, .int32: flip = { -1 - $0 }
        case .float32, .float64: flip = { -$0 }
        }
        for i in dst.indices { dst[i] = flip(dst[i]) }
    }
}

extension Bool {
    /// libtiff hands out samples in the host's byte order: "big endian" iff the host is.
    var nativeOrder: Bool { 1.bigEndian == 1 }
}

/// TIFF compression choices for writing.
public enum TIFFCompression: String, Sendable, CaseIterable {
    case none, deflate
}

/// Writes a multi-page TIFF one frame at a time. Data go to a temp file next to `url`;
/// `finish()` renames it to `url`. A writer that fails or is dropped before `finish()`
/// removes its temp file, so no partial output is left.
///
/// Each page stores the pixel size (when given) as `XResolution`/`YResolution` in pixels
/// per centimetre and as ImageDescription JSON `{"pixel_size_A": …}` (or
/// `pixel_size_x_A`/`pixel_size_y_A` for non-square pixels), together with any
/// `metadata` (e.g. `["seed": "42"]`).
public final class TIFFStackWriter: FrameStackWriter {
    public let url: URL
    public let width: Int
    public let height: Int
    public let sampleType: SampleType
    /// Square pixel size in Å (nil when unknown or not square).
    public var pixelSizeA: Double? { xSizeA == ySizeA ? xSizeA : nil }
    private let xSizeA: Double?, ySizeA: Double?
    public let compression: TIFFCompression
    /// Tile side in pixels (multiple of 16) for a tiled layout; nil writes strips.
    public let tileSize: Int?
    /// Extra key/value pairs stored in each page's ImageDescription JSON.
    public let metadata: [String: String]
    /// Frames appended so far.
    public private(set) var framesWritten = 0
    private var handle: TIFFHandle?
    private let tmp: URL

    /// Starts a stack of `width × height` frames stored as `sampleType`.
    /// The pixel size comes from `pixelSizeA` (square) or `calibration` (per axis, length
    /// units). `bigTIFF` writes 64-bit offsets (needed beyond 4 GiB).
    public init(url: URL, width: Int, height: Int, sampleType: SampleType = .float32,
                pixelSizeA: Double? = nil, calibration: FileCalibration? = nil, compression: TIFFCompression = .none,
                tileSize: Int? = nil, bigTIFF: Bool = false, metadata: [String: String] = [:]) throws {
        try AtomicFile.checkDestination(url)
        try IOLimits.check(width: width, height: height, frames: 1, path: url.path)
        if let t = tileSize, t <= 0 || t % 16 != 0 {
            throw MicroscopyIOError.invalidArgument(detail: "TIFF tile size \(t) must be a positive multiple of 16")
        }
        if let a = pixelSizeA, !(a > 0 && a.isFinite) {
            throw MicroscopyIOError.invalidArgument(detail: "pixel size \(a) Å must be positive and finite")
        }
        self.url = url; self.width = width; self.height = height; self.sampleType = sampleType
        if let c = calibration, let ax = c.x.scaleInAngstrom, let ay = c.y.scaleInAngstrom, ax > 0, ay > 0, pixelSizeA == nil {
            (xSizeA, ySizeA) = (ax, ay)
        } else {
            (xSizeA, ySizeA) = (pixelSizeA, pixelSizeA)
        }
        self.compression = compression; self.tileSize = tileSize
        self.metadata = metadata
        tmp = AtomicFile.temporaryURL(for: url)
        do {
            handle = try TIFFHandle(path: tmp.path, mode: bigTIFF ? "w8" : "w")
        } catch {
            try? FileManager.default.removeItem(at: tmp)
            throw MicroscopyIOError.writeFailed(path: url.path, detail: "cannot create \(tmp.lastPathComponent)")
        }
    }

    deinit { if handle != nil { cancel() } }

    /// Appends one frame (`width * height` values, row-major).
    public func append(_ pixels: [Float]) throws { try append(pixels, pageName: nil) }

    /// Appends one frame (`width * height` values, row-major), with a PageName tag when given.
    public func append(_ pixels: [Float], pageName: String?) throws {
        try append(count: pixels.count, pageName: pageName) {
            try SampleCodec.checkRepresentable(pixels, as: sampleType, path: url.path)
            return SampleCodec.encode(pixels, as: sampleType, bigEndian: false.nativeOrder)
        }
    }

    /// Appends one frame of Float64 values to a float64 stack, unrounded.
    public func append(float64 pixels: [Double]) throws {
        try append(count: pixels.count, pageName: nil) {
            guard sampleType == .float64 else { throw MicroscopyIOError.invalidArgument(detail: "float64 frame for a \(sampleType.rawValue) stack") }
            return SampleCodec.encode(float64: pixels, bigEndian: false.nativeOrder)
        }
    }

    private func append(count: Int, pageName: String?, encoded: () throws -> [UInt8]) throws {
        guard let h = handle else {
            throw MicroscopyIOError.writeFailed(path: url.path, detail: "writer already finished or cancelled")
        }
        guard count == width * height else {
            throw MicroscopyIOError.invalidArgument(detail: "frame has \(count) pixels, stack is \(width)×\(height)")
        }
        do {
            try writePage(h, try encoded(), pageName: pageName)
            framesWritten += 1
        } catch {
            cancel()
            throw error
        }
    }

    /// Flushes, closes and renames the temp file to `url`. At least one frame is required.
    public func finish() throws {
        guard let h = handle else {
            throw MicroscopyIOError.writeFailed(path: url.path, detail: "writer already finished or cancelled")
        }
        guard framesWritten > 0 else {
            cancel()
            throw MicroscopyIOError.emptyImage(path: url.path, detail: "no frames were appended")
        }
        let ok = TIFFFlush(h.tif) == 1
        handle = nil  // closes the file
        guard ok else {
            try? FileManager.default.removeItem(at: tmp)
            throw failure(h)
        }
        try AtomicFile.commit(tmp, to: url)
    }

    /// Abandons the stack and removes the temp file.
    public func cancel() {
        handle = nil
        try? FileManager.default.removeItem(at: tmp)
    }

    /// Writes one page: its tags, its pixels (`bytes`, row-major, already encoded) and its directory.
    private func writePage(_ h: TIFFHandle, _ bytes: [UInt8], pageName: String?) throws {
        try setSampleTags(h)
        if let pageName { try pageName.withCString { try h.set(TIFFTAG_PAGENAME, [$0]) } }
        try setResolutionTags(h)
        try setDescriptionTag(h)
        if let t = tileSize { try writeTiles(h, bytes, side: t) } else { try writeStrips(h, bytes) }
        guard TIFFWriteDirectory(h.tif) == 1 else { throw failure(h) }
    }

    /// Size, sample type, grayscale layout, compression and software: what a reader needs to decode a page.
    private func setSampleTags(_ h: TIFFHandle) throws {
        let format = sampleType.isFloat ? SAMPLEFORMAT_IEEEFP : (sampleType.isSignedInteger ? SAMPLEFORMAT_INT : SAMPLEFORMAT_UINT)
        try h.set(TIFFTAG_IMAGEWIDTH, [UInt32(width)])
        try h.set(TIFFTAG_IMAGELENGTH, [UInt32(height)])
        try h.set(TIFFTAG_SAMPLESPERPIXEL, [Int32(1)])
        try h.set(TIFFTAG_BITSPERSAMPLE, [Int32(sampleType.byteCount * 8)])
        try h.set(TIFFTAG_SAMPLEFORMAT, [format])
        try h.set(TIFFTAG_PHOTOMETRIC, [PHOTOMETRIC_MINISBLACK])
        try h.set(TIFFTAG_PLANARCONFIG, [PLANARCONFIG_CONTIG])
        try h.set(TIFFTAG_COMPRESSION, [compression == .deflate ? COMPRESSION_ADOBE_DEFLATE : COMPRESSION_NONE])
        try h.set(TIFFTAG_SUBFILETYPE, [UInt32(FILETYPE_PAGE)])
        try "AtomTrack".withCString { try h.set(TIFFTAG_SOFTWARE, [$0]) }
    }

    /// The pixel size as X/YResolution in pixels per centimetre, for readers that ignore our description.
    private func setResolutionTags(_ h: TIFFHandle) throws {
        guard let ax = xSizeA, let ay = ySizeA else { return }
        try h.set(TIFFTAG_XRESOLUTION, [1e8 / ax])
        try h.set(TIFFTAG_YRESOLUTION, [1e8 / ay])
        try h.set(TIFFTAG_RESOLUTIONUNIT, [RESUNIT_CENTIMETER])
    }

    /// ImageDescription JSON with the exact pixel size and the metadata, when there is either.
    private func setDescriptionTag(_ h: TIFFHandle) throws {
        guard let json = try descriptionJSON() else { return }
        try json.withCString { try h.set(TIFFTAG_IMAGEDESCRIPTION, [$0]) }
    }

    /// The metadata plus `pixel_size_A` (or per-axis sizes), keys sorted; our own pixel size replaces any
    /// `pixel_size…` key in the metadata. Nil when there is nothing to store.
    private func descriptionJSON() throws -> String? {
        guard xSizeA != nil || !metadata.isEmpty else { return nil }
        var obj: [String: Any] = metadata.filter { !$0.key.hasPrefix("pixel_size") }
        if let a = pixelSizeA { obj["pixel_size_A"] = a }
        else if let ax = xSizeA, let ay = ySizeA { obj["pixel_size_x_A"] = ax; obj["pixel_size_y_A"] = ay }
        return String(decoding: try JSONSerialization.data(withJSONObject: obj, options: [.sortedKeys]), as: UTF8.self)
    }

    /// Writes the page as `side × side` tiles; tiles over the right or bottom edge are zero-padded.
    private func writeTiles(_ h: TIFFHandle, _ bytes: [UInt8], side t: Int) throws {
        try h.set(TIFFTAG_TILEWIDTH, [UInt32(t)])
        try h.set(TIFFTAG_TILELENGTH, [UInt32(t)])
        var tile = [UInt8](repeating: 0, count: t * t * sampleType.byteCount)
        for ty in stride(from: 0, to: height, by: t) {
            for tx in stride(from: 0, to: width, by: t) {
                copyTile(from: bytes, x: tx, y: ty, side: t, into: &tile)
                let index = TIFFComputeTile(h.tif, UInt32(tx), UInt32(ty), 0, 0)
                let n = tile.withUnsafeMutableBytes { TIFFWriteEncodedTile(h.tif, index, $0.baseAddress, tmsize_t($0.count)) }
                if n < 0 { throw failure(h) }
            }
        }
    }

    /// Copies the `side × side` tile at (`x`, `y`) out of the row-major page, zeros where it leaves the page.
    private func copyTile(from bytes: [UInt8], x tx: Int, y ty: Int, side t: Int, into tile: inout [UInt8]) {
        let b = sampleType.byteCount
        for i in tile.indices { tile[i] = 0 }
        let cols = min(t, width - tx)
        for y in ty..<min(ty + t, height) {
            let src = (y * width + tx) * b, dstOff = (y - ty) * t * b
            tile.replaceSubrange(dstOff..<(dstOff + cols * b), with: bytes[src..<(src + cols * b)])
        }
    }

    /// Writes the page as ~1 MiB strips: few write calls, yet readers can still fetch a strip at a time.
    private func writeStrips(_ h: TIFFHandle, _ bytes: [UInt8]) throws {
        let rowBytes = width * sampleType.byteCount
        let rps = max(1, min(height, (1 << 20) / rowBytes))
        try h.set(TIFFTAG_ROWSPERSTRIP, [UInt32(rps)])
        var bytes = bytes
        for (s, y0) in stride(from: 0, to: height, by: rps).enumerated() {
            let count = min(rps, height - y0) * rowBytes
            let n = bytes.withUnsafeMutableBytes {
                TIFFWriteEncodedStrip(h.tif, UInt32(s), $0.baseAddress! + y0 * rowBytes, tmsize_t(count))
            }
            if n < 0 { throw failure(h) }
        }
    }

    /// The error for a libtiff call that failed while writing, with libtiff's own message.
    private func failure(_ h: TIFFHandle) -> MicroscopyIOError {
        MicroscopyIOError.writeFailed(path: url.path, detail: h.messages.summary)
    }
}

/// One-call TIFF helpers.
public enum TIFFFile {
    /// Writes `frames` (all the same size) as a multi-page TIFF, atomically.
    public static func write(_ frames: [GrayImage], to url: URL, sampleType: SampleType = .float32,
                             compression: TIFFCompression = .none, tileSize: Int? = nil,
                             bigTIFF: Bool = false, metadata: [String: String] = [:]) throws {
        guard let first = frames.first else {
            throw MicroscopyIOError.emptyImage(path: url.path, detail: "no frames to write")
        }
        let w = try TIFFStackWriter(url: url, width: first.width, height: first.height, sampleType: sampleType,
                                    pixelSizeA: first.pixelSizeA, compression: compression,
                                    tileSize: tileSize, bigTIFF: bigTIFF, metadata: metadata)
        for f in frames { try w.append(f) }
        try w.finish()
    }
}
