import Foundation

/// The NPY header (format versions 1–3): dtype, byte order, shape, data offset.
struct NPYHeader {
    var sampleType: SampleType
    var bigEndian: Bool
    var shape: [Int]
    var dataOffset: Int
    /// Column-major element order (numpy's `fortran_order`, e.g. a transposed array saved as is).
    var fortranOrder = false

    /// Parses the header at the start of `data` (a mapped file).
    static func parse(_ data: Data, path: String) throws -> NPYHeader {
        let bad = { (d: String) in MicroscopyIOError.corrupt(path: path, detail: "NPY: \(d)") }
        let b = [UInt8](data.prefix(12))
        guard b.count >= 10, b[0] == 0x93, Array(b[1...5]) == Array("NUMPY".utf8) else {
            throw bad("missing \\x93NUMPY magic")
        }
        let major = b[6]
        let (lenBytes, len): (Int, Int)
        switch major {
        case 1: (lenBytes, len) = (2, Int(b[8]) | Int(b[9]) << 8)
        case 2, 3:
            guard b.count >= 12 else { throw bad("truncated header") }
            (lenBytes, len) = (4, Int(b[8]) | Int(b[9]) << 8 | Int(b[10]) << 16 | Int(b[11]) << 24)
        default: throw MicroscopyIOError.unsupported(path: path, detail: "NPY format version \(major)")
        }
        let start = 8 + lenBytes
        guard data.count >= start + len else { throw bad("header of \(len) bytes is truncated") }
        guard let text = String(data: data.subdata(in: start..<(start + len)), encoding: major == 3 ? .utf8 : .isoLatin1) else {
            throw bad("header is not text")
        }
        guard let descr = value(of: "descr", in: text)?.trimmingCharacters(in: CharacterSet(charactersIn: "'\"")),
              let fortran = value(of: "fortran_order", in: text),
              let shapeText = value(of: "shape", in: text) else {
            throw bad("header lacks descr, fortran_order or shape: \(text.trimmingCharacters(in: .whitespacesAndNewlines))")
        }
        let dims = shapeText.trimmingCharacters(in: CharacterSet(charactersIn: "()[] "))
            .split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        var shape: [Int] = []
        for d in dims {
            guard let v = Int(d.hasSuffix("L") ? String(d.dropLast()) : d), v >= 0 else { throw bad("shape \(shapeText)") }
            shape.append(v)
        }
        let (type, big) = try sampleType(descr, path: path)
        return NPYHeader(sampleType: type, bigEndian: big, shape: shape, dataOffset: start + len,
                         fortranOrder: fortran == "True")
    }

    /// The text after `'key':` up to the next top-level comma.
    private static func value(of key: String, in text: String) -> String? {
        guard let r = text.range(of: "'\(key)'") ?? text.range(of: "\"\(key)\"") else { return nil }
        var rest = text[r.upperBound...].drop { $0 == " " || $0 == ":" }
        if rest.first == "(" {
            guard let close = rest.firstIndex(of: ")") else { return nil }
            return String(rest[...close])
        }
        rest = rest.prefix { $0 != "," && $0 != "}" }
        return rest.trimmingCharacters(in: .whitespaces)
    }

    static func sampleType(_ descr: String, path: String) throws -> (SampleType, Bool) {
        guard descr.count >= 3 else { throw MicroscopyIOError.corrupt(path: path, detail: "NPY dtype '\(descr)'") }
        let order = descr.first!
        let code = String(descr.dropFirst())
        let big = order == ">" || (order == "=" && 1.bigEndian == 1)
        let map: [String: SampleType] = ["u1": .uint8, "i1": .int8, "u2": .uint16, "i2": .int16, "u4": .uint32,
                                         "i4": .int32, "f4": .float32, "f8": .float64]
        guard "<>|=".contains(order), let t = map[code] else {
            throw MicroscopyIOError.unsupported(path: path, detail: "NPY dtype '\(descr)' (supported: u1 i1 u2 i2 u4 i4 f4 f8)")
        }
        return (t, big)
    }

    /// The 128-byte (version 1.0) header for `shape` and `type`.
    static func encode(shape: [Int], type: SampleType, bigEndian: Bool) -> Data {
        let code: [SampleType: String] = [.uint8: "u1", .int8: "i1", .uint16: "u2", .int16: "i2", .uint32: "u4",
                                          .int32: "i4", .float32: "f4", .float64: "f8"]
        let order = type.byteCount == 1 ? "|" : (bigEndian ? ">" : "<")
        let dims = shape.count == 1 ? "(\(shape[0]),)" : "(" + shape.map(String.init).joined(separator: ", ") + ")"
        var dict = "{'descr': '\(order)\(code[type]!)', 'fortran_order': False, 'shape': \(dims), }"
        let total = max(128, ((10 + dict.utf8.count + 1 + 63) / 64) * 64)
        dict += String(repeating: " ", count: total - 10 - dict.utf8.count - 1) + "\n"
        var d = Data([0x93] + Array("NUMPY".utf8) + [1, 0])
        let len = UInt16(dict.utf8.count)
        d.append(contentsOf: [UInt8(len & 0xFF), UInt8(len >> 8)])
        d.append(contentsOf: Array(dict.utf8))
        return d
    }
}

/// Reads a 2-D (height, width) or 3-D (frames, height, width) NPY lazily from a memory map,
/// in C or Fortran element order.
final class NPYSource: FrameSource {
    let info: MovieInfo
    private let data: Data
    private let header: NPYHeader

    convenience init(url: URL) throws {
        let data = try FileManager.default.mappedFile(url)
        try self.init(data: data, range: 0..<data.count, path: url.path, format: .npy)
    }

    /// The array stored in `range` of `data` (a whole `.npy`, or a stored member of a zip such
    /// as Nion's `.ndata`); `format` and `calibration` describe the container.
    init(data: Data, range: Range<Int>, path: String, format: MovieFormat, calibration: FileCalibration? = nil,
         frameTime: FileFrameTime? = nil) throws {
        self.data = data
        // The header is parsed from a copy of its first bytes (≤ 1 MiB), offsets then shifted.
        var parsed = try NPYHeader.parse(Data(data[(data.startIndex + range.lowerBound)..<(data.startIndex + min(range.upperBound, range.lowerBound + (1 << 20)))]), path: path)
        parsed.dataOffset += range.lowerBound
        header = parsed
        let s = header.shape
        let (f, h, w): (Int, Int, Int)
        switch s.count {
        case 2: (f, h, w) = (1, s[0], s[1])
        case 3: (f, h, w) = (s[0], s[1], s[2])
        default:
            throw MicroscopyIOError.notAnImage(path: path, detail: "NPY shape \(s) has \(s.count) dimensions; expected (height, width) or (frames, height, width)")
        }
        try IOLimits.check(width: w, height: h, frames: f, path: path)
        let need = header.dataOffset - range.lowerBound + f * h * w * header.sampleType.byteCount
        guard range.count >= need else {
            throw MicroscopyIOError.corrupt(path: path, detail: "NPY data truncated: \(range.count) bytes, shape \(s) needs \(need)")
        }
        info = MovieInfo(format: format, frameCount: f, width: w, height: h, sampleType: header.sampleType,
                         calibration: calibration, frameTime: frameTime)
    }

    func readFrame(_ index: Int, into dst: UnsafeMutableBufferPointer<Float>) throws { read(index, into: dst) }
    func readFrame(_ index: Int, into dst: UnsafeMutableBufferPointer<Double>) throws { read(index, into: dst) }

    /// C order: rows are stored contiguously, so bands come straight from the mapped file.
    func readBands(_ index: Int, _ body: (UnsafeBufferPointer<Float>) throws -> Void) throws {
        guard !header.fortranOrder else {
            var frame = [Float](repeating: 0, count: info.width * info.height)
            frame.withUnsafeMutableBufferPointer { read(index, into: $0) }
            return try frame.withUnsafeBufferPointer(body)
        }
        try readStoredBands(data, start: header.dataOffset + index * info.width * info.height * header.sampleType.byteCount,
                            bigEndian: header.bigEndian, body)
    }

    /// Float64 frames decode float64 arrays unrounded (`convert --dtype float64`), in either order.
    private func read<F: DecodedSample>(_ index: Int, into dst: UnsafeMutableBufferPointer<F>) {
        if header.fortranOrder {
            let bytes = fortranFrameBytes(index)
            bytes.withUnsafeBytes { F.decode($0, type: header.sampleType, bigEndian: header.bigEndian, into: dst) }
            return
        }
        data.withUnsafeBytes { raw in
            F.decode(frameBytes(raw, index, dst.count), type: header.sampleType, bigEndian: header.bigEndian, into: dst)
        }
    }

    /// The stored bytes of frame `index` (C order) of `count` samples.
    private func frameBytes(_ raw: UnsafeRawBufferPointer, _ index: Int, _ count: Int) -> UnsafeRawBufferPointer {
        let bytes = count * header.sampleType.byteCount, start = header.dataOffset + index * bytes
        return UnsafeRawBufferPointer(rebasing: raw[start..<(start + bytes)])
    }
}

/// Writes an NPY array frame by frame: 2-D `(height, width)` when `as2D`, else
/// 3-D `(frames, height, width)`. Temp file + rename on `finish()`, removed on failure.
public final class NPYStackWriter: FrameStackWriter {
    public let url: URL
    public let width: Int
    public let height: Int
    public let sampleType: SampleType
    public let bigEndian: Bool
    public let as2D: Bool
    public private(set) var framesWritten = 0
    private var file: FileHandle?
    private let tmp: URL

    public init(url: URL, width: Int, height: Int, sampleType: SampleType = .float32,
                bigEndian: Bool = false, as2D: Bool = false) throws {
        try AtomicFile.checkDestination(url)
        try IOLimits.check(width: width, height: height, frames: 1, path: url.path)
        self.url = url; self.width = width; self.height = height
        self.sampleType = sampleType; self.bigEndian = bigEndian; self.as2D = as2D
        tmp = AtomicFile.temporaryURL(for: url)
        guard FileManager.default.createFile(atPath: tmp.path, contents: nil),
              let h = FileHandle(forWritingAtPath: tmp.path) else {
            throw MicroscopyIOError.writeFailed(path: url.path, detail: "cannot create \(tmp.lastPathComponent)")
        }
        file = h
        do { try h.write(contentsOf: NPYHeader.encode(shape: [0, height, width], type: sampleType, bigEndian: bigEndian)) } catch {
            cancel()
            throw MicroscopyIOError.writeFailed(path: url.path, detail: error.localizedDescription)
        }
    }

    deinit { if file != nil { cancel() } }

    /// Appends one frame of `width * height` pixels.
    public func append(_ pixels: [Float]) throws {
        try append(count: pixels.count) {
            try SampleCodec.checkRepresentable(pixels, as: sampleType, path: url.path)
            return SampleCodec.encode(pixels, as: sampleType, bigEndian: bigEndian)
        }
    }

    /// Appends one frame of Float64 values to a float64 array, unrounded.
    public func append(float64 pixels: [Double]) throws {
        try append(count: pixels.count) {
            guard sampleType == .float64 else { throw MicroscopyIOError.invalidArgument(detail: "float64 frame for a \(sampleType.rawValue) array") }
            return SampleCodec.encode(float64: pixels, bigEndian: bigEndian)
        }
    }

    private func append(count: Int, encoded: () throws -> [UInt8]) throws {
        guard let h = file else { throw MicroscopyIOError.writeFailed(path: url.path, detail: "writer already finished or cancelled") }
        do {
            guard count == width * height else {
                throw MicroscopyIOError.invalidArgument(detail: "frame has \(count) pixels, array is \(width)×\(height)")
            }
            if as2D && framesWritten == 1 {
                throw MicroscopyIOError.invalidArgument(detail: "a 2-D NPY holds one frame")
            }
            try h.write(contentsOf: Data(try encoded()))
            framesWritten += 1
        } catch let e as MicroscopyIOError {
            cancel(); throw e
        } catch {
            cancel(); throw MicroscopyIOError.writeFailed(path: url.path, detail: error.localizedDescription)
        }
    }

    /// Writes the final shape into the header, closes and renames to `url`.
    public func finish() throws {
        guard let h = file else { throw MicroscopyIOError.writeFailed(path: url.path, detail: "writer already finished or cancelled") }
        guard framesWritten > 0 else {
            cancel()
            throw MicroscopyIOError.emptyImage(path: url.path, detail: "no frames were appended")
        }
        let shape = as2D ? [height, width] : [framesWritten, height, width]
        do {
            try h.seek(toOffset: 0)
            try h.write(contentsOf: NPYHeader.encode(shape: shape, type: sampleType, bigEndian: bigEndian))
            try h.close()
        } catch {
            cancel()
            throw MicroscopyIOError.writeFailed(path: url.path, detail: error.localizedDescription)
        }
        file = nil
        try AtomicFile.commit(tmp, to: url)
    }

    /// Abandons the array and removes the temp file.
    public func cancel() {
        try? file?.close()
        file = nil
        try? FileManager.default.removeItem(at: tmp)
    }
}

/// One-call NPY helpers.
public enum NPYFile {
    /// Writes one image as a 2-D array.
    public static func write(_ image: GrayImage, to url: URL, sampleType: SampleType = .float32, bigEndian: Bool = false) throws {
        let w = try NPYStackWriter(url: url, width: image.width, height: image.height, sampleType: sampleType,
                                   bigEndian: bigEndian, as2D: true)
        try w.append(image)
        try w.finish()
    }

    /// Writes frames (same size) as a 3-D array.
    public static func write(frames: [GrayImage], to url: URL, sampleType: SampleType = .float32, bigEndian: Bool = false) throws {
        guard let f = frames.first else { throw MicroscopyIOError.emptyImage(path: url.path, detail: "no frames to write") }
        let w = try NPYStackWriter(url: url, width: f.width, height: f.height, sampleType: sampleType, bigEndian: bigEndian)
        for x in frames { try w.append(x) }
        try w.finish()
    }
}

extension NPYSource {
    /// The stored bytes of frame `index` gathered into C (row-major) order. Column-major
    /// storage: element (k, y, x) of shape (f, h, w) sits at k + f·(y + h·x).
    fileprivate func fortranFrameBytes(_ index: Int) -> [UInt8] {
        let (f, h, w) = (info.frameCount, info.height, info.width), size = header.sampleType.byteCount
        var out = [UInt8](repeating: 0, count: h * w * size)
        data.withUnsafeBytes { raw in
            out.withUnsafeMutableBytes { dst in
                for y in 0..<h {
                    for x in 0..<w {
                        let from = header.dataOffset + (index + f * (y + h * x)) * size, to = (y * w + x) * size
                        dst.baseAddress!.advanced(by: to).copyMemory(from: raw.baseAddress!.advanced(by: from), byteCount: size)
                    }
                }
            }
        }
        return out
    }
}
