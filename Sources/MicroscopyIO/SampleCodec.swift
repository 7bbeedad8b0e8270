import Foundation

/// Converts raw stored samples to Float32 and back.
enum SampleCodec {
    /// Decodes `dst.count` samples of `type` from `src` (byte order `bigEndian`) into `dst`.
    static func decode(_ src: UnsafeRawBufferPointer, type: SampleType, bigEndian: Bool,
                       into dst: UnsafeMutableBufferPointer<Float>) {
        let n = dst.count
        precondition(src.count >= n * type.byteCount)
        let swap = bigEndian != (1.bigEndian == 1)
        switch type {
        case .uint8: for i in 0..<n { dst[i] = Float(src.load(fromByteOffset: i, as: UInt8.self)) }
        case .int8: for i in 0..<n { dst[i] = Float(src.load(fromByteOffset: i, as: Int8.self)) }
        case .uint16:
            for i in 0..<n { dst[i] = Float(fix(src.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self), swap)) }
        case .int16:
            for i in 0..<n { dst[i] = Float(Int16(bitPattern: fix(src.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self), swap))) }
        case .uint32:
            for i in 0..<n { dst[i] = Float(fix(src.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self), swap)) }
        case .int32:
            for i in 0..<n { dst[i] = Float(Int32(bitPattern: fix(src.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self), swap))) }
        case .float32:
            if !swap { UnsafeMutableRawBufferPointer(dst).copyMemory(from: UnsafeRawBufferPointer(rebasing: src[0..<(4 * n)])); return }
            for i in 0..<n { dst[i] = Float(bitPattern: fix(src.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self), swap)) }
        case .float64:
            for i in 0..<n { dst[i] = Float(Double(bitPattern: fix(src.loadUnaligned(fromByteOffset: 8 * i, as: UInt64.self), swap))) }
        }
    }

    /// As `decode(…into: Float)`, into Float64: float64 samples keep their value (1e300 stays
    /// 1e300, no Float32 rounding); every other type converts exactly.
    static func decode(_ src: UnsafeRawBufferPointer, type: SampleType, bigEndian: Bool,
                       into dst: UnsafeMutableBufferPointer<Double>) {
        guard type == .float64 else {
            var narrow = [Float](repeating: 0, count: dst.count)
            narrow.withUnsafeMutableBufferPointer { decode(src, type: type, bigEndian: bigEndian, into: $0) }
            for i in 0..<dst.count { dst[i] = Double(narrow[i]) }
            return
        }
        precondition(src.count >= 8 * dst.count)
        let swap = bigEndian != (1.bigEndian == 1)
        for i in 0..<dst.count { dst[i] = Double(bitPattern: fix(src.loadUnaligned(fromByteOffset: 8 * i, as: UInt64.self), swap)) }
    }

    /// Float64 values as float64 samples in the given byte order.
    static func encode(float64 pixels: [Double], bigEndian: Bool = false) -> [UInt8] {
        let swap = bigEndian != (1.bigEndian == 1)
        var out = [UInt8](repeating: 0, count: 8 * pixels.count)
        out.withUnsafeMutableBytes { raw in
            let dst = raw.bindMemory(to: UInt64.self)
            for i in 0..<pixels.count { dst[i] = swap ? pixels[i].bitPattern.byteSwapped : pixels[i].bitPattern }
        }
        return out
    }

    @inline(__always) private static func fix<T: FixedWidthInteger>(_ v: T, _ swap: Bool) -> T {
        swap ? v.byteSwapped : v
    }

    /// Checks that every pixel fits `type` (finite and in range for integers, after rounding).
    static func checkRepresentable(_ pixels: [Float], as type: SampleType, path: String) throws {
        guard let (lo, hi) = floatBounds(type) else { return }
        var bad = 0, first: Float = 0
        pixels.withUnsafeBufferPointer { p in
            for v in p {
                let r = v.rounded(.toNearestOrEven)
                if !(r >= lo && r <= hi) {  // also true for NaN
                    if bad == 0 { first = v }
                    bad += 1
                }
            }
        }
        if bad > 0 {
            let range = type.integerRange!
            throw MicroscopyIOError.unrepresentable(
                path: path, detail: "\(bad) pixel(s) (e.g. \(first)) are NaN/Inf or outside \(type.rawValue) range \(Int64(range.lowerBound))...\(Int64(range.upperBound)); rescale first")
        }
    }

    /// The integer range of `type` as Floats that convert back without trapping (the
    /// largest Float not above Int32.max is 2147483520); nil for float types.
    static func floatBounds(_ type: SampleType) -> (Float, Float)? {
        switch type {
        case .uint8: return (0, 255)
        case .int8: return (-128, 127)
        case .uint16: return (0, 65535)
        case .int16: return (-32768, 32767)
        case .uint32: return (0, Float(UInt32.max).nextDown)
        case .int32: return (-2_147_483_648, Float(Int32.max).nextDown)
        case .float32, .float64: return nil
        }
    }

    /// Stores `src` as integers `T`: rounded half to even (as numpy does), clamped to the
    /// range, 0 for NaN, byte-swapped when asked.
    @inline(__always)
    private static func encodeIntegers<T: FixedWidthInteger>(_ src: UnsafeBufferPointer<Float>, _ raw: UnsafeMutableRawBufferPointer,
                                                             _: T.Type, _ type: SampleType, _ swap: Bool) {
        let (lo, hi) = floatBounds(type)!
        let dst = raw.bindMemory(to: T.self)
        for i in 0..<src.count {
            let r = src[i].rounded(.toNearestOrEven)
            // Via Int64: a concrete conversion (the generic Float → T one is ~10× slower).
            let v = T(truncatingIfNeeded: Int64(r == r ? Swift.min(Swift.max(r, lo), hi) : 0))
            dst[i] = swap ? v.byteSwapped : v
        }
    }

    /// Encodes pixels as `type` (integers rounded half to even) in the given byte order.
    /// Call `checkRepresentable` first: out-of-range values are clamped here.
    static func encode(_ pixels: [Float], as type: SampleType, bigEndian: Bool = false) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: pixels.count * type.byteCount)
        let swap = bigEndian != (1.bigEndian == 1)
        out.withUnsafeMutableBytes { raw in
            pixels.withUnsafeBufferPointer { src in
                switch type {
                case .uint8: encodeIntegers(src, raw, UInt8.self, type, swap)
                case .int8: encodeIntegers(src, raw, Int8.self, type, swap)
                case .uint16: encodeIntegers(src, raw, UInt16.self, type, swap)
                case .int16: encodeIntegers(src, raw, Int16.self, type, swap)
                case .uint32: encodeIntegers(src, raw, UInt32.self, type, swap)
                case .int32: encodeIntegers(src, raw, Int32.self, type, swap)
                case .float32:
                    if swap { fill(raw, src, swap) { $0.bitPattern } } else { raw.copyMemory(from: UnsafeRawBufferPointer(src)) }
                case .float64: fill(raw, src, swap) { Double($0).bitPattern }
                }
            }
        }
        return out
    }

    /// Stores `convert(src[i])` as the i-th `T` of `raw`, byte-swapped when asked.
    @inline(__always)
    private static func fill<T: FixedWidthInteger>(_ raw: UnsafeMutableRawBufferPointer, _ src: UnsafeBufferPointer<Float>,
                                                   _ swap: Bool, _ convert: (Float) -> T) {
        let dst = raw.bindMemory(to: T.self)
        if swap { for i in 0..<src.count { dst[i] = convert(src[i]).byteSwapped } }
        else { for i in 0..<src.count { dst[i] = convert(src[i]) } }
    }

}

/// Float32 or Float64: what a reader decodes a frame into (the Float64 path keeps float64
/// samples unrounded), so one generic reader serves both.
protocol DecodedSample: BinaryFloatingPoint {
    static func decode(_ src: UnsafeRawBufferPointer, type: SampleType, bigEndian: Bool, into dst: UnsafeMutableBufferPointer<Self>)
}
extension Float: DecodedSample {
    static func decode(_ src: UnsafeRawBufferPointer, type: SampleType, bigEndian: Bool, into dst: UnsafeMutableBufferPointer<Float>) {
        SampleCodec.decode(src, type: type, bigEndian: bigEndian, into: dst)
    }
}
extension Double: DecodedSample {
    static func decode(_ src: UnsafeRawBufferPointer, type: SampleType, bigEndian: Bool, into dst: UnsafeMutableBufferPointer<Double>) {
        SampleCodec.decode(src, type: type, bigEndian: bigEndian, into: dst)
    }
}
