import Core
import Foundation

/// A value in a DigitalMicrograph tag tree. Array contents stay in the file (offset only).
indirect enum DMTag {
    case group([(label: String, value: DMTag)])
    case number(Double)
    case structure([Double])
    case array(elementType: Int, count: Int, offset: Int, elementSize: Int)
    case other

    subscript(_ label: String) -> DMTag? {
        guard case .group(let items) = self else { return nil }
        return items.first { $0.label == label }?.value
    }

    var children: [DMTag] {
        guard case .group(let items) = self else { return [] }
        return items.map(\.value)
    }

    var number: Double? {
        if case .number(let v) = self { return v }
        return nil
    }
}

/// Parses the tag tree of a DM3 (version 3) or DM4 (version 4) file held in `data`.
/// Tag headers are big endian; values use the byte order the file header states.
struct DMParser {
    let path: String
    private(set) var version: Int
    private(set) var little: Bool
    /// Tag headers are read big-endian; `scalar` switches to the file's value byte order.
    private var reader: ByteReader
    var data: Data { reader.bytes }
    var pos: Int { reader.offset }

    init(data: Data, path: String) throws {
        self.path = path
        reader = ByteReader(data, bigEndian: true)
        version = 0; little = true
        guard data.count >= 24 else { throw corrupt("\(data.count) bytes is too short for a DM header") }
        let v = Int(try be(4))
        var size = 0
        switch v {
        case 3: size = Int(try be(4)); little = try be(4) == 1
        case 4: size = Int(clamping: try be(8)); little = try be(4) == 1
        default: throw MicroscopyIOError.unknownFormat(path: path, detail: "DM version field is \(v), expected 3 or 4")
        }
        version = v
        // The size field counts the bytes after the header (some files add zero padding).
        if size > reader.remaining {
            throw corrupt("truncated: \(data.count) bytes, header states \(size) after byte \(pos)")
        }
    }

    func corrupt(_ d: String) -> MicroscopyIOError { .corrupt(path: path, detail: "DM\(version == 0 ? "" : String(version)): \(d)") }

    /// A size or code stored in a number tag. DM writes integers, but a float tag can hold NaN,
    /// ±∞, a fraction or ≥ 2⁶³, on which `Int(_:)` would trap.
    func integer(_ v: Double, _ what: String) throws -> Int {
        guard v.isFinite, v == v.rounded(), abs(v) < 0x1p62 else { throw corrupt("\(what) \(v) is not an integer") }
        return Int(v)
    }

    private func truncated(_ n: Int) -> MicroscopyIOError { corrupt("truncated at byte \(pos) (needs \(n) more)") }

    /// The index range of the next `n` bytes in `data`.
    mutating func bytes(_ n: Int) throws -> Range<Int> {
        do { return try reader.range(n) } catch { throw truncated(n) }
    }

    /// A big-endian unsigned integer of `n` bytes.
    mutating func be(_ n: Int) throws -> UInt64 {
        do { return try reader.unsigned(width: n) } catch { throw truncated(n) }
    }

    /// A tag-header count: 4 bytes in DM3, 8 in DM4.
    mutating func count() throws -> Int {
        let v = try be(version == 3 ? 4 : 8)
        guard v <= UInt64(data.count) else { throw corrupt("count \(v) at byte \(pos) exceeds file size") }
        return Int(v)
    }

    mutating func parseRoot() throws -> DMTag { try parseGroup(depth: 0) }

    mutating func parseGroup(depth: Int) throws -> DMTag {
        guard depth < 64 else { throw corrupt("tag groups nested deeper than 64") }
        _ = try bytes(2)  // sorted, open flags
        let n = try count()
        var items: [(String, DMTag)] = []
        for _ in 0..<n {
            let kind = try be(1)
            let labelLength = Int(try be(2))
            let label = String(decoding: data[try bytes(labelLength)], as: UTF8.self)
            if version == 4 { _ = try be(8) }  // total tag size
            switch kind {
            case 20: items.append((label, try parseGroup(depth: depth + 1)))
            case 21: items.append((label, try parseData()))
            default: throw corrupt("unknown tag kind \(kind) at byte \(pos)")
            }
        }
        return .group(items)
    }

    static func size(of type: Int) -> Int? {
        switch type {
        case 2, 4: return 2
        case 3, 5, 6: return 4
        case 7, 11, 12: return 8
        case 8, 9, 10: return 1
        default: return nil
        }
    }

    mutating func scalar(_ type: Int) throws -> Double {
        guard let n = DMParser.size(of: type) else { throw corrupt("unknown scalar type \(type)") }
        reader.bigEndian = !little
        defer { reader.bigEndian = true }
        let raw = try be(n)
        switch type {
        case 2: return Double(Int16(truncatingIfNeeded: raw))
        case 3: return Double(Int32(truncatingIfNeeded: raw))
        case 9: return Double(Int8(truncatingIfNeeded: raw))
        case 11: return Double(Int64(bitPattern: raw))
        case 6: return Double(Float(bitPattern: UInt32(raw)))
        case 7: return Double(bitPattern: raw)
        default: return Double(raw)
        }
    }

    mutating func parseData() throws -> DMTag {
        guard data[try bytes(4)].elementsEqual("%%%%".utf8) else { throw corrupt("missing %%%% marker at byte \(pos - 4)") }
        let n = try count()
        guard n >= 1, n <= 1024 else { throw corrupt("\(n) type descriptors at byte \(pos)") }
        var info: [Int] = []
        for _ in 0..<n { info.append(try count()) }
        let type = info[0]
        switch type {
        case 2...12:
            return .number(try scalar(type))
        case 18:  // string: info[1] bytes
            guard info.count >= 2 else { throw corrupt("string tag without length") }
            _ = try bytes(info[1])
            return .other
        case 15:
            let fields = try structFields(info, from: 0)
            return .structure(try fields.map { try scalar($0) })
        case 20:
            guard info.count >= 3 else { throw corrupt("array tag with \(info.count) descriptors") }
            let elementType = info[1]
            let elementSize: Int
            if elementType == 15 {
                elementSize = try structFields(info, from: 1).reduce(0) { $0 + (DMParser.size(of: $1) ?? 0) }
            } else if let s = DMParser.size(of: elementType) {
                elementSize = s
            } else {
                throw corrupt("array of unsupported element type \(elementType)")
            }
            let c = info[info.count - 1]
            let (total, overflow) = c.multipliedReportingOverflow(by: elementSize)
            guard !overflow else { throw corrupt("array of \(c) elements") }
            let offset = pos
            _ = try bytes(total)
            return .array(elementType: elementType, count: c, offset: offset, elementSize: elementSize)
        default:
            throw corrupt("unknown data type \(type)")
        }
    }

    /// Field types of a struct descriptor whose `info[i]` is 15: name length, field count, then (name length, type) pairs.
    func structFields(_ info: [Int], from i: Int) throws -> [Int] {
        guard info.count > i + 2 else { throw corrupt("short struct descriptor") }
        let n = info[i + 2]
        guard info.count >= i + 3 + 2 * n else { throw corrupt("short struct descriptor") }
        let types = (0..<n).map { info[i + 4 + 2 * $0] }
        guard types.allSatisfy({ DMParser.size(of: $0) != nil }) else { throw corrupt("struct with unsupported field type") }
        return types
    }

    /// A DM "Units" array (UTF-16 code units) as a string.
    func string(_ tag: DMTag?) -> String {
        guard case .array(let t, let c, let off, let s)? = tag, s == 2, t == 4 else { return "" }
        let units: [UInt16] = (0..<c).map { k in
            let a = UInt16(data[data.startIndex + off + 2 * k]), b = UInt16(data[data.startIndex + off + 2 * k + 1])
            return little ? (a | b << 8) : (a << 8 | b)
        }
        return String(decoding: units, as: UTF16.self)
    }
}

/// Reads the main image (2-D) or stack (3-D) of a DM3/DM4 file lazily from a memory map.
final class DMSource: FrameSource {
    let info: MovieInfo
    private let data: Data
    private let offset: Int
    private let little: Bool

    init(url: URL) throws {
        let path = url.path
        data = try FileManager.default.mappedFile(url)
        var p = try DMParser(data: data, path: path)
        let root = try p.parseRoot()
        little = p.little
        // With several images, the first in ImageList is the RGBA thumbnail (as ncempy
        // assumes); the data are the largest of the others.
        var images = (root["ImageList"]?.children ?? []).compactMap { $0["ImageData"] }
        if images.count > 1 { images.removeFirst() }
        let withData: [(DMTag, count: Int, offset: Int, elementType: Int, elementSize: Int)] = images.compactMap { img in
            guard case .array(let t, let c, let o, let s)? = img["Data"] else { return nil }
            return (img, c, o, t, s)
        }
        guard let main = withData.max(by: { $0.count < $1.count }) else {
            throw MicroscopyIOError.notAnImage(path: path, detail: "DM file holds no image data")
        }
        let dims = try (main.0["Dimensions"]?.children ?? []).compactMap(\.number).map { try p.integer($0, "Dimensions entry") }
        let code = try p.integer(main.0["DataType"]?.number ?? -1, "DataType")
        let types: [Int: SampleType] = [1: .int16, 2: .float32, 6: .uint8, 7: .int32, 9: .int8, 10: .uint16, 11: .uint32, 12: .float64]
        guard let type = types[code] else {
            let names = [3: "complex64", 13: "complex128", 8: "RGB", 23: "RGBA", 14: "binary", 5: "packed complex", 4: "obsolete uint16"]
            throw MicroscopyIOError.unsupported(path: path, detail: "DM data type \(code) (\(names[code] ?? "unknown")); supported: int8/16/32, uint8/16/32, float32/64")
        }
        let cals = (main.0["Calibrations"]?["Dimension"]?.children ?? []).map {
            AxisCalibration(scale: $0["Scale"]?.number ?? 1, unit: p.string($0["Units"]))
        }
        guard dims.count == 2 || dims.count == 3, dims.allSatisfy({ $0 > 1 }) || (dims.count == 3 && dims[0] > 1 && dims[1] > 1) else {
            let unit = cals.first.map { " in \($0.unit)" } ?? ""
            throw MicroscopyIOError.notAnImage(
                path: path, detail: "DM data of shape \(dims) (x first)\(unit) look like a spectrum or line profile, not a 2-D image or 3-D stack")
        }
        let (w, h, f) = (dims[0], dims[1], dims.count == 3 ? dims[2] : 1)
        try IOLimits.check(width: w, height: h, frames: f, path: path)
        guard main.elementSize == type.byteCount, main.count == w * h * f else {
            throw MicroscopyIOError.corrupt(path: path, detail: "DM data holds \(main.count) elements of \(main.elementSize) bytes, dimensions \(dims) of \(type.rawValue) need \(w * h * f) of \(type.byteCount)")
        }
        offset = main.offset
        let cal = cals.count >= 2 ? FileCalibration(x: cals[0], y: cals[1], z: cals.count >= 3 && f > 1 ? cals[2] : nil) : nil
        info = MovieInfo(format: p.version == 3 ? .dm3 : .dm4, frameCount: f, width: w, height: h,
                         sampleType: type, calibration: cal)
    }

    func readFrame(_ index: Int, into dst: UnsafeMutableBufferPointer<Float>) throws { read(index, into: dst) }
    func readFrame(_ index: Int, into dst: UnsafeMutableBufferPointer<Double>) throws { read(index, into: dst) }

    func readBands(_ index: Int, _ body: (UnsafeBufferPointer<Float>) throws -> Void) throws {
        try readStoredBands(data, start: offset + index * info.width * info.height * info.sampleType.byteCount, bigEndian: !little, body)
    }

    /// Float64 frames decode float64 stacks unrounded (`convert --dtype float64`).
    private func read<F: DecodedSample>(_ index: Int, into dst: UnsafeMutableBufferPointer<F>) {
        let bytes = dst.count * info.sampleType.byteCount
        let start = offset + index * bytes
        data.withUnsafeBytes { raw in
            F.decode(UnsafeRawBufferPointer(rebasing: raw[start..<(start + bytes)]),
                     type: info.sampleType, bigEndian: !little, into: dst)
        }
    }
}
