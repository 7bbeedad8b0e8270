/// Fixed-width values into bytes, little-endian (journals, checkpoints).
public struct ByteWriter: Sendable {
    public private(set) var bytes: [UInt8] = []
    public init() {}
    public mutating func int(_ v: Int) { withUnsafeBytes(of: Int64(v).littleEndian) { bytes += $0 } }
    public mutating func uint64(_ v: UInt64) { withUnsafeBytes(of: v.littleEndian) { bytes += $0 } }
    public mutating func double(_ v: Double) { withUnsafeBytes(of: v.bitPattern.littleEndian) { bytes += $0 } }
    public mutating func float(_ v: Float) { withUnsafeBytes(of: v.bitPattern.littleEndian) { bytes += $0 } }
    public mutating func ints(_ v: [Int]) { int(v.count); for x in v { int(x) } }
    public mutating func floats(_ v: [Float]) { int(v.count); for x in v { float(x) } }
    public mutating func raw<S: Sequence>(_ v: S) where S.Element == UInt8 { bytes += v }
}

import Foundation

/// Reads fixed-width values from bytes (little-endian unless told otherwise). Every read
/// checks the remaining length, so a truncated or corrupt file ends in `Truncated`, never
/// in a trap or a huge allocation. Holds `Data`, so a memory-mapped file is not copied.
public struct ByteReader: Sendable {
    public struct Truncated: Error, Sendable {}
    public let bytes: Data
    /// The read position, counted from the first byte.
    public var offset: Int
    public var bigEndian: Bool

    public init(_ bytes: Data, at offset: Int = 0, bigEndian: Bool = false) {
        self.bytes = bytes; self.offset = offset; self.bigEndian = bigEndian
    }

    public init(_ bytes: [UInt8], at offset: Int = 0, bigEndian: Bool = false) {
        self.init(Data(bytes), at: offset, bigEndian: bigEndian)
    }

    public var remaining: Int { bytes.count - offset }

    /// The index range in `bytes` of the next `n` bytes, which are then skipped.
    public mutating func range(_ n: Int) throws(Truncated) -> Range<Data.Index> {
        guard n >= 0, offset >= 0, n <= remaining else { throw Truncated() }
        defer { offset += n }
        return (bytes.startIndex + offset)..<(bytes.startIndex + offset + n)
    }

    public mutating func raw(_ n: Int) throws(Truncated) -> [UInt8] { Array(bytes[try range(n)]) }
    public mutating func skip(_ n: Int) throws(Truncated) { _ = try range(n) }
    public mutating func byte() throws(Truncated) -> UInt8 { try raw(1)[0] }

    /// An unsigned integer of `width` bytes (1…8) in the reader's byte order.
    public mutating func unsigned(width: Int) throws(Truncated) -> UInt64 {
        guard (1...8).contains(width) else { throw Truncated() }
        let r = try range(width)
        var v: UInt64 = 0
        for i in 0..<width { v = v << 8 | UInt64(bytes[r.lowerBound + (bigEndian ? i : width - 1 - i)]) }
        return v
    }
    public mutating func uint16() throws(Truncated) -> UInt16 { UInt16(try unsigned(width: 2)) }
    public mutating func uint32() throws(Truncated) -> UInt32 { UInt32(try unsigned(width: 4)) }
    public mutating func uint64() throws(Truncated) -> UInt64 { try unsigned(width: 8) }
    public mutating func int() throws(Truncated) -> Int { Int(Int64(bitPattern: try uint64())) }
    public mutating func double() throws(Truncated) -> Double { Double(bitPattern: try uint64()) }
    public mutating func float() throws(Truncated) -> Float { Float(bitPattern: try uint32()) }

    /// An element count that the remaining bytes can hold (a corrupt count cannot allocate).
    public mutating func count(minimumBytesEach: Int) throws(Truncated) -> Int {
        let n = try int()
        guard n >= 0, n <= remaining / max(minimumBytesEach, 1) else { throw Truncated() }
        return n
    }
    public mutating func ints() throws(Truncated) -> [Int] {
        let n = try count(minimumBytesEach: 8)
        var out: [Int] = []; out.reserveCapacity(n)
        for _ in 0..<n { out.append(try int()) }
        return out
    }
    public mutating func floats() throws(Truncated) -> [Float] {
        let n = try count(minimumBytesEach: 4)
        var out: [Float] = []; out.reserveCapacity(n)
        for _ in 0..<n { out.append(try float()) }
        return out
    }
}

/// Checksums of byte sequences.
public enum Checksum {
    /// 64-bit FNV-1a (Fowler–Noll–Vo): the resume journal's record check and the model-weights
    /// fingerprint; fast, not cryptographic.
    public static func fnv1a<C: Collection>(_ bytes: C) -> UInt64 where C.Element == UInt8 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in bytes { h = (h ^ UInt64(b)) &* 0x100_0000_01b3 }
        return h
    }

    /// CRC-32 (ISO-HDLC, reflected polynomial 0xEDB88320) as PNG and zlib use it.
    public static func crc32<C: Collection>(_ bytes: C) -> UInt32 where C.Element == UInt8 {
        var c: UInt32 = 0xFFFF_FFFF
        for b in bytes {
            c ^= UInt32(b)
            for _ in 0..<8 { c = (c & 1) != 0 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
        }
        return c ^ 0xFFFF_FFFF
    }
}
