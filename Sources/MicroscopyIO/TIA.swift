import Core
import Foundation

/// FEI TIA `.ser` series of 2-D images (little-endian): a header with the element count and
/// the offset of two arrays (data offsets, tag offsets; 32-bit for version 0x210, 64-bit for
/// 0x220); each element is a 50-byte header (calibration x and y in m, or 1/m for
/// diffraction; data type; width; height) followed by its pixels. The frame time is in the
/// companion `.emi` XML (`<stem>.emi` for `<stem>_N.ser`): `FrameTime` (STEM), else
/// `DwellTimePath` (the camera's exposure).
final class TIASource: FrameSource {
    let info: MovieInfo
    private let data: Data
    private let offsets: [Int]
    private static let elementHeader = 50

    init(url: URL) throws {
        let path = url.path
        data = try FileManager.default.mappedFile(url)
        let bad = { (d: String) in MicroscopyIOError.corrupt(path: path, detail: "TIA SER: \(d)") }
        var r = ByteReader(data)
        do {
            guard try r.uint16() == 0x4949, try r.uint16() == 0x0197 else {
                throw MicroscopyIOError.unknownFormat(path: path, detail: "no TIA SER signature (0x4949, 0x0197)")
            }
            let version = try r.uint16()
            guard version == 0x210 || version == 0x220 else { throw MicroscopyIOError.unsupported(path: path, detail: "TIA SER version 0x\(String(version, radix: 16))") }
            let wide = version == 0x220
            let dataType = try r.uint32()
            guard dataType == 0x4122 else {
                throw MicroscopyIOError.notAnImage(path: path, detail: "TIA SER data type 0x\(String(dataType, radix: 16)) (0x4120 = 1-D spectra); expected 2-D images (0x4122)")
            }
            let tagType = try r.uint32()
            let total = Int(try r.uint32()), valid = Int(try r.uint32())
            let arrays = Int(clamping: wide ? try r.uint64() : UInt64(try r.uint32()))
            guard valid >= 1, valid <= total else { throw bad("\(valid) valid of \(total) elements") }
            try IOLimits.check(width: 1, height: 1, frames: valid, path: path)
            let width = wide ? 8 : 4
            guard arrays > 0, arrays < data.count, total <= (data.count - arrays) / (2 * width) else {
                throw bad("offset arrays at \(arrays) for \(total) elements run past the end of the file (truncated?)")
            }
            r.offset = arrays
            offsets = try (0..<valid).map { _ in Int(clamping: wide ? try r.uint64() : UInt64(try r.uint32())) }
            // Each element's time tag (type, pad, Unix seconds; + x/y for 0x4142) must be in the file too.
            r.offset = arrays + total * width
            let tagSize = tagType == 0x4142 ? 24 : 8
            for k in 0..<valid {
                let t = Int(clamping: wide ? try r.uint64() : UInt64(try r.uint32()))
                guard t == 0 || (t > 0 && t <= data.count - tagSize) else { throw bad("tag of element \(k) at \(t) lies past the end of the file (truncated?)") }
            }
            let first = try TIASource.element(data, at: offsets[0], path: path)
            for (k, o) in offsets.enumerated().dropFirst() {
                let e = try TIASource.element(data, at: o, path: path)
                guard e.width == first.width, e.height == first.height, e.type == first.type else {
                    throw MicroscopyIOError.inconsistentFrames(path: path, detail: "element 0 is \(first.width)×\(first.height) \(first.type.rawValue), element \(k) is \(e.width)×\(e.height) \(e.type.rawValue)")
                }
            }
            // A real-space pixel is far below a metre; larger deltas are reciprocal (diffraction).
            let unit = { (delta: Double) in abs(delta) > 1 ? "1/m" : "m" }
            info = MovieInfo(format: .tiaSER, frameCount: valid, width: first.width, height: first.height, sampleType: first.type,
                             calibration: FileCalibration(x: AxisCalibration(scale: first.dx, unit: unit(first.dx)),
                                                          y: AxisCalibration(scale: first.dy, unit: unit(first.dy))),
                             frameTime: TIASource.emiFrameTime(for: url))
        } catch is ByteReader.Truncated {
            throw bad("header cut off")
        }
    }

    private struct Element { var dx: Double, dy: Double, type: SampleType, width: Int, height: Int }

    /// The 50-byte header of the element at `offset`, checked to fit in the file with its pixels.
    private static func element(_ data: Data, at offset: Int, path: String) throws -> Element {
        var r = ByteReader(data, at: offset)
        let bad = { (d: String) in MicroscopyIOError.corrupt(path: path, detail: "TIA SER: element at \(offset): \(d)") }
        do {
            guard offset >= 0, offset < data.count else { throw bad("outside the \(data.count)-byte file") }
            _ = try r.double(); let dx = try r.double(); _ = try r.uint32()
            _ = try r.double(); let dy = try r.double(); _ = try r.uint32()
            let code = Int(try r.uint16())
            let w = Int(Int32(bitPattern: try r.uint32())), h = Int(Int32(bitPattern: try r.uint32()))
            let types: [Int: SampleType] = [1: .uint8, 2: .uint16, 3: .uint32, 4: .int8, 5: .int16, 6: .int32, 7: .float32, 8: .float64]
            guard let type = types[code] else {
                throw MicroscopyIOError.unsupported(path: path, detail: "TIA SER data type \(code)\(code >= 9 ? " (complex)" : ""); supported: 8/16/32-bit int, 32/64-bit float")
            }
            try IOLimits.check(width: w, height: h, frames: 1, path: path)
            guard w * h * type.byteCount <= data.count - offset - elementHeader else {
                throw bad("\(w)×\(h) \(type.rawValue) pixels run past the end of the file (truncated?)")
            }
            return Element(dx: dx, dy: dy, type: type, width: w, height: h)
        } catch is ByteReader.Truncated {
            throw bad("header cut off")
        }
    }

    /// TIA stores rows bottom-up; frames are delivered top row first, as ncempy and rsciio give them.
    func readFrame(_ index: Int, into dst: UnsafeMutableBufferPointer<Float>) throws {
        let start = offsets[index] + TIASource.elementHeader, bytes = dst.count * info.sampleType.byteCount
        data.withUnsafeBytes { raw in
            SampleCodec.decode(UnsafeRawBufferPointer(rebasing: raw[start..<(start + bytes)]), type: info.sampleType,
                               bigEndian: false, into: dst)
        }
        let (w, h) = (info.width, info.height)
        for r in 0..<(h / 2) {
            for c in 0..<w { dst.swapAt(r * w + c, (h - 1 - r) * w + c) }
        }
    }

    /// `FrameTime`, else `DwellTimePath`, of the `.emi` object that belongs to `<stem>_N.ser`
    /// (the N-th `<ObjectInfo>`, else the first); nil without a readable `.emi`.
    static func emiFrameTime(for ser: URL) -> FileFrameTime? {
        let name = ser.deletingPathExtension().lastPathComponent
        guard let underscore = name.lastIndex(of: "_") else { return nil }
        let emi = ser.deletingLastPathComponent().appendingPathComponent(String(name[..<underscore]) + ".emi")
        guard (try? FileManager.default.requireFile(emi)) != nil,
              let bytes = try? Data(contentsOf: emi), bytes.count < 1 << 26 else { return nil }
        let text = String(decoding: bytes, as: UTF8.self)
        let objects = text.components(separatedBy: "<ObjectInfo>").dropFirst()
        let n = Int(name[name.index(after: underscore)...]) ?? 1
        guard let object = objects.dropFirst(max(0, n - 1)).first ?? objects.first else { return nil }
        func value(_ tag: String) -> Double? {
            guard let a = object.range(of: "<\(tag)>"), let b = object.range(of: "</\(tag)>", range: a.upperBound..<object.endIndex) else { return nil }
            return Double(object[a.upperBound..<b.lowerBound].trimmingCharacters(in: .whitespaces))
        }
        return FileFrameTime.valid(value("FrameTime"), key: "EMI FrameTime")
            ?? FileFrameTime.valid(value("DwellTimePath"), key: "EMI DwellTimePath (exposure)")
    }
}
