import Core
/// Per-frame intensity normalization to [0, 1] by robust percentiles.
///
/// A few hot pixels or a dark corner must not set the contrast, so the frame is
/// mapped linearly so that its `lowPercentile` goes to 0 and its `highPercentile`
/// to 1, then clipped. Percentiles use linear interpolation between order
/// statistics (NumPy's default).
public struct FrameNormalization: Sendable, Equatable {
    /// Percentile (0–100) mapped to 0.
    public let lowPercentile: Double
    /// Percentile (0–100) mapped to 1.
    public let highPercentile: Double

    /// - Throws: `LocalizationError.invalidParameter` unless 0 ≤ low < high ≤ 100.
    public init(lowPercentile: Double = 1, highPercentile: Double = 99.9) throws {
        guard lowPercentile.isFinite, highPercentile.isFinite,
              lowPercentile >= 0, highPercentile <= 100, lowPercentile < highPercentile else {
            throw LocalizationError.invalidParameter(
                name: "percentiles", reason: "need 0 ≤ low < high ≤ 100, got \(lowPercentile), \(highPercentile)")
        }
        self.lowPercentile = lowPercentile
        self.highPercentile = highPercentile
    }

    /// Normalizes one frame (row-major, row = y).
    ///
    /// - Parameter frame: the frame number, used only to name the frame in errors.
    /// - Throws: `LocalizationError.nonFinitePixels` naming the frame and the first bad pixel;
    ///   size errors for inconsistent dimensions.
    /// - Returns: the normalized pixels. A constant frame is not divided by zero: it comes
    ///   back as all zeros with `isConstant` set. If the percentiles coincide but the frame is
    ///   not constant (e.g. a flat frame with rare outliers), its min/max are used instead.
    public func normalize(_ pixels: [Float], width: Int, height: Int, frame: Int = 0) throws -> NormalizedFrame {
        try bounds(pixels, width: width, height: height, frame: frame).apply(pixels, width: width, height: height)
    }

    /// The intensities `normalize` maps to 0 and 1, found without copying the frame (the
    /// percentiles by radix selection over the pixels in place), so a caller can normalize a
    /// tile at a time instead of holding a normalized copy of the whole frame.
    /// - Throws: as `normalize`.
    public func bounds(_ pixels: [Float], width: Int, height: Int, frame: Int = 0) throws -> NormalizationBounds {
        try checkImage(pixels.count, width: width, height: height, what: "frame \(frame)")
        return try pixels.withUnsafeBufferPointer { p in
            var bad = 0, firstBad = -1
            var lo = Float.infinity, hi = -Float.infinity
            for i in 0..<p.count {
                let v = p[i]
                if v.isFinite {
                    lo = min(lo, v); hi = max(hi, v)
                } else {
                    bad += 1
                    if firstBad < 0 { firstBad = i }
                }
            }
            if bad > 0 {
                throw LocalizationError.nonFinitePixels(frame: frame, count: bad, firstX: firstBad % width, firstY: firstBad / width)
            }
            if lo == hi { return NormalizationBounds(low: lo, high: hi, isConstant: true) }
            let both = OrderStatistics.percentiles(p, [lowPercentile, highPercentile])
            var (low, high) = (both[0], both[1])
            if !(high > low) { (low, high) = (lo, hi) }
            return NormalizationBounds(low: low, high: high, isConstant: false)
        }
    }
}

/// The two intensities of a frame's normalization: `low` → 0, `high` → 1, clipped in between.
public struct NormalizationBounds: Sendable, Equatable {
    public let low: Float
    public let high: Float
    /// Every pixel had the same value (normalizes to all zeros).
    public let isConstant: Bool
    /// 1 / (high − low), 0 for a constant frame.
    public let scale: Float

    public init(low: Float, high: Float, isConstant: Bool) {
        self.low = low; self.high = high; self.isConstant = isConstant
        scale = isConstant ? 0 : 1 / (high - low)
    }

    /// The normalized value of one raw pixel.
    @inlinable public func callAsFunction(_ v: Float) -> Float {
        min(max((v - low) * scale, 0), 1)
    }

    /// The whole frame normalized.
    public func apply(_ pixels: [Float], width: Int, height: Int) -> NormalizedFrame {
        let out = isConstant ? [Float](repeating: 0, count: pixels.count) : pixels.map { self($0) }
        return NormalizedFrame(pixels: out, width: width, height: height, low: low, high: high, isConstant: isConstant)
    }
}

/// Exact order statistics of Float values without copying or reordering them: a radix
/// selection on the values' order-preserving 32-bit keys, one pass for the upper 16 bits and
/// one for the lower 16 of the chosen buckets (2 × 256 KiB of counts, whatever the count).
public enum OrderStatistics {
    /// The `ps`-th percentiles (0–100) of finite `values` by linear interpolation between order
    /// statistics, exactly as `Statistics.percentile` (NumPy's default), in two passes for all.
    public static func percentiles(_ values: UnsafeBufferPointer<Float>, _ ps: [Double]) -> [Float] {
        precondition(!values.isEmpty, "percentile of no values")
        let n = values.count
        let positions = ps.map { p -> (k: Int, fraction: Float) in
            let position = p / 100 * Double(n - 1)
            let k = min(Int(position.rounded(.down)), n - 1)
            return (k, Float(position - Double(k)))
        }
        let ranks = positions.flatMap { [$0.k, min($0.k + 1, n - 1)] }
        let order = smallest(values, ranks: ranks)
        return positions.indices.map { i in
            let (below, next, fraction) = (order[2 * i], order[2 * i + 1], positions[i].fraction)
            guard fraction > 0, positions[i].k + 1 < n else { return below }
            return below + fraction * (next - below)
        }
    }

    /// The `ranks`-th smallest values (0-based, each < `values.count`), in the order asked.
    public static func smallest(_ values: UnsafeBufferPointer<Float>, ranks: [Int]) -> [Float] {
        var high = [Int](repeating: 0, count: 1 << 16)
        for v in values { high[Int(key(v) >> 16)] += 1 }
        // The bucket of each rank and the rank within it.
        let targets = ranks.map { rank -> (bucket: Int, rank: Int) in
            var below = 0, bucket = 0
            while below + high[bucket] <= rank { below += high[bucket]; bucket += 1 }
            return (bucket, rank - below)
        }
        let buckets = Array(Set(targets.map(\.bucket))).sorted()
        var low = [[Int]](repeating: [Int](repeating: 0, count: 1 << 16), count: buckets.count)
        for v in values {
            let k = key(v)
            if let b = buckets.firstIndex(of: Int(k >> 16)) { low[b][Int(k & 0xFFFF)] += 1 }
        }
        return targets.map { t in
            let counts = low[buckets.firstIndex(of: t.bucket)!]
            var below = 0, bits = 0
            while below + counts[bits] <= t.rank { below += counts[bits]; bits += 1 }
            return value(UInt32(t.bucket) << 16 | UInt32(bits))
        }
    }

    /// Unsigned keys in the order of the Float values (negative values bit-flipped).
    @inline(__always) static func key(_ v: Float) -> UInt32 {
        let b = v.bitPattern
        return b & 0x8000_0000 != 0 ? ~b : b | 0x8000_0000
    }

    @inline(__always) static func value(_ k: UInt32) -> Float {
        Float(bitPattern: k & 0x8000_0000 != 0 ? k & 0x7FFF_FFFF : ~k)
    }
}

/// A frame after `FrameNormalization`, with the intensities that were mapped to 0 and 1.
public struct NormalizedFrame: Sendable, Equatable {
    /// Values in [0, 1], row-major.
    public var pixels: [Float]
    public let width: Int
    public let height: Int
    /// Raw intensity mapped to 0.
    public let low: Float
    /// Raw intensity mapped to 1.
    public let high: Float
    /// True when every pixel had the same value (the output is all zeros).
    public let isConstant: Bool
}
