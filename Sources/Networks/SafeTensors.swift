import Foundation
import Tensors

/// The safetensors file format: an 8-byte little-endian header length, a JSON header
/// `{name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": {string: string}}`,
/// then the raw little-endian tensor bytes (offsets relative to the end of the header).
/// Files written here load with Python's `safetensors` package and PyTorch.
public enum SafeTensors {
    /// Writes `tensors` (as F32) and `metadata` atomically (temp file + rename). Names are sorted.
    public static func write(_ tensors: [String: Tensor], metadata: [String: String] = [:], to url: URL) throws {
        try encode(tensors, metadata: metadata).write(to: url, options: .atomic)
    }

    /// The file bytes for `tensors` and `metadata`.
    public static func encode(_ tensors: [String: Tensor], metadata: [String: String] = [:]) throws -> Data {
        var header: [String: Any] = [:]
        if !metadata.isEmpty { header["__metadata__"] = metadata }
        var offset = 0
        let names = tensors.keys.sorted()
        for name in names {
            let t = tensors[name]!
            header[name] = ["dtype": "F32", "shape": t.shape, "data_offsets": [offset, offset + 4 * t.count]] as [String: Any]
            offset += 4 * t.count
        }
        var json = try JSONSerialization.data(withJSONObject: header, options: [.sortedKeys])
        while json.count % 8 != 0 { json.append(0x20) }   // pad with spaces so data is 8-byte aligned
        var out = Data(capacity: 8 + json.count + offset)
        withUnsafeBytes(of: UInt64(json.count).littleEndian) { out.append(contentsOf: $0) }
        out.append(json)
        for name in names {
            tensors[name]!.data.withUnsafeBufferPointer { p in
                if p.isEmpty { return }
                #if _endian(big)
                for v in p { withUnsafeBytes(of: v.bitPattern.littleEndian) { out.append(contentsOf: $0) } }
                #else
                out.append(UnsafeBufferPointer(start: UnsafeRawPointer(p.baseAddress!).assumingMemoryBound(to: UInt8.self),
                                               count: 4 * p.count))
                #endif
            }
        }
        return out
    }

    /// Reads and validates a safetensors file. F32 tensors load as is; F64, F16, BF16,
    /// I64 and I32 are converted to Float.
    public static func read(_ url: URL) throws -> (tensors: [String: Tensor], metadata: [String: String]) {
        let data: Data
        do { data = try Data(contentsOf: url) } catch {
            throw NetworkError.checkpoint("cannot read \(url.path): \(error.localizedDescription)")
        }
        return try decode(data, source: url.lastPathComponent)
    }

    /// Parses file bytes, checking the header strictly: length inside the file, valid JSON,
    /// known dtypes, shape × dtype size == byte length, offsets inside the data and not overlapping.
    public static func decode(_ data: Data, source: String = "data") throws -> (tensors: [String: Tensor], metadata: [String: String]) {
        func fail(_ m: String) -> NetworkError { .checkpoint("\(source): \(m)") }
        guard data.count >= 8 else { throw fail("file is \(data.count) bytes, shorter than the 8-byte header length") }
        let headerLen = data.prefix(8).enumerated().reduce(UInt64(0)) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) }
        guard headerLen <= UInt64(data.count - 8) else {
            throw fail("header claims \(headerLen) bytes but the file has only \(data.count - 8) after the length")
        }
        let bodyStart = 8 + Int(headerLen)
        let object: Any
        do { object = try JSONSerialization.jsonObject(with: data.subdata(in: 8..<bodyStart)) } catch {
            throw fail("header is not valid JSON")
        }
        guard let header = object as? [String: Any] else { throw fail("header is not a JSON object") }
        var metadata: [String: String] = [:]
        if let meta = header["__metadata__"] {
            guard let m = meta as? [String: String] else { throw fail("__metadata__ must map strings to strings") }
            metadata = m
        }
        let bodyCount = data.count - bodyStart
        var spans: [(Int, Int, String)] = []
        var tensors: [String: Tensor] = [:]
        for (name, entry) in header where name != "__metadata__" {
            guard let e = entry as? [String: Any], let dtype = e["dtype"] as? String,
                  let shape = (e["shape"] as? [Any])?.compactMap(Self.exactInteger),
                  let offsets = (e["data_offsets"] as? [Any])?.compactMap(Self.exactInteger),
                  offsets.count == 2, shape.count == (e["shape"] as? [Any])?.count else {
                throw fail("tensor \(name) lacks a valid dtype, shape or data_offsets")
            }
            guard let size = dtypeSize[dtype] else { throw fail("tensor \(name) has unsupported dtype \(dtype)") }
            guard shape.allSatisfy({ $0 >= 0 }) else { throw fail("tensor \(name) has a negative extent in \(shape)") }
            let (begin, end) = (offsets[0], offsets[1])
            guard begin >= 0, begin <= end, end <= bodyCount else {
                throw fail("tensor \(name) spans bytes \(begin)..<\(end), outside the \(bodyCount) data bytes")
            }
            let count = shape.reduce(1) { $0.multipliedReportingOverflow(by: $1).overflow ? Int.max : $0 * $1 }
            guard count != Int.max, !count.multipliedReportingOverflow(by: size).overflow, count * size == end - begin else {
                throw fail("tensor \(name): shape \(shape) × \(size) bytes ≠ \(end - begin) stored bytes")
            }
            spans.append((begin, end, name))
            tensors[name] = try Tensor(shape: shape, data: Self.floats(data, from: bodyStart + begin, count: count, dtype: dtype))
        }
        spans = spans.filter { $0.0 < $0.1 }.sorted { ($0.0, $0.1) < ($1.0, $1.1) }   // empty tensors occupy nothing
        for (a, b) in zip(spans, spans.dropFirst()) where b.0 < a.1 {
            throw fail("tensors \(a.2) and \(b.2) overlap")
        }
        return (tensors, metadata)
    }

    /// A JSON integer that fits `Int`, exactly: `NSNumber.intValue` would truncate 2.7 to 2 and
    /// wrap 2⁶⁴ + 5, so a shape or offset like that is refused instead (its text must be an integer;
    /// a JSON `true` reads as 1 on Linux, and the byte-count check then catches it).
    static func exactInteger(_ value: Any) -> Int? {
        guard let n = value as? NSNumber else { return nil }
        return Int(n.stringValue)
    }

    static let dtypeSize: [String: Int] = ["F32": 4, "F64": 8, "F16": 2, "BF16": 2, "I64": 8, "I32": 4]

    /// `count` little-endian elements of `dtype` from `data[start...]`, as Float.
    static func floats(_ data: Data, from start: Int, count: Int, dtype: String) -> [Float] {
        var out = [Float](repeating: 0, count: count)
        guard count > 0 else { return out }
        data.withUnsafeBytes { (raw: UnsafeRawBufferPointer) in
            let base = raw.baseAddress! + start
            #if _endian(little)
            if dtype == "F32" {
                out.withUnsafeMutableBytes { $0.copyMemory(from: UnsafeRawBufferPointer(start: base, count: 4 * count)) }
                return
            }
            #endif
            for i in 0..<count {
                switch dtype {
                case "F32": out[i] = Float(bitPattern: UInt32(littleEndian: base.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self)))
                case "F64": out[i] = Float(Double(bitPattern: UInt64(littleEndian: base.loadUnaligned(fromByteOffset: 8 * i, as: UInt64.self))))
                case "I64": out[i] = Float(Int64(littleEndian: base.loadUnaligned(fromByteOffset: 8 * i, as: Int64.self)))
                case "I32": out[i] = Float(Int32(littleEndian: base.loadUnaligned(fromByteOffset: 4 * i, as: Int32.self)))
                case "BF16":
                    let b = UInt16(littleEndian: base.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))
                    out[i] = Float(bitPattern: UInt32(b) << 16)
                default: // F16
                    #if arch(x86_64) || arch(arm64)
                    let b = UInt16(littleEndian: base.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))
                    out[i] = Float(Float16(bitPattern: b))
                    #endif
                }
            }
        }
        return out
    }
}
