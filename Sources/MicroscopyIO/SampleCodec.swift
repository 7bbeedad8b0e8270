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

    @inline(__always) private static func fix<T: FixedWidthInteger>(_ v: T, _ swap: Bool) -> T {
        swap ? v.byteSwapped : v
    }

    /// Checks that every pixel fits `type` (finite and in range for integers, after rounding).
    static func checkRepresentable(_ pixels: [Float], as type: SampleType, path: String) throws {
        guard let (lo, hi) = floatBounds(type) else { return }
        var bad = 0, first: Float = 0
        pixels.withUnsafeBufferPointer { p in
            for v in p {
                let r = v.rounded()
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

    /// `v` rounded to nearest, clamped to [lo, hi]; 0 for NaN.
    @inline(__always) static func integer<T: FixedWidthInteger>(_ v: Float, _ lo: Float, _ hi: Float) -> T {
        let r = v.rounded()
        guard r == r else { return 0 }
        return T(Swift.min(Swift.max(r, lo), hi))
    }

    /// Encodes pixels as `type` (integers rounded to nearest) in the given byte order.
    /// Call `checkRepresentable` first: out-of-range values are clamped here.
    static func encode(_ pixels: [Float], as type: SampleType, bigEndian: Bool = false) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: pixels.count * type.byteCount)
        let swap = bigEndian != (1.bigEndian == 1)
        out.withUnsafeMutableBytes { raw in
            pixels.withUnsafeBufferPointer { src in
                switch type {
                case .uint8: let (l, h) = floatBounds(type)!; fill(raw, src, swap) { integer($0, l, h) as UInt8 }
                case .int8: let (l, h) = floatBounds(type)!; fill(raw, src, swap) { UInt8(bitPattern: integer($0, l, h) as Int8) }
                case .uint16: let (l, h) = floatBounds(type)!; fill(raw, src, swap) { integer($0, l, h) as UInt16 }
                case .int16: let (l, h) = floatBounds(type)!; fill(raw, src, swap) { UInt16(bitPattern: integer($0, l, h) as Int16) }
                case .uint32: let (l, h) = floatBounds(type)!; fill(raw, src, swap) { integer($0, l, h) as UInt32 }
                case .int32: let (l, h) = floatBounds(type)!; fill(raw, src, swap) { UInt32(bitPattern: integer($0, l, h) as Int32) }
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
