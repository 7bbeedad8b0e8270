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
        try checkImage(pixels.count, width: width, height: height, what: "frame \(frame)")
        var bad = 0, firstBad = -1
        var lo = Float.infinity, hi = -Float.infinity
        for (i, v) in pixels.enumerated() {
            if v.isFinite {
                lo = min(lo, v); hi = max(hi, v)
            } else {
                bad += 1
                if firstBad < 0 { firstBad = i }
            }
        }
        if bad > 0 {
            throw LocalizationError.nonFinitePixels(frame: frame, count: bad,
                                                    firstX: firstBad % width, firstY: firstBad / width)
        }
        if lo == hi {
            return NormalizedFrame(pixels: [Float](repeating: 0, count: pixels.count), width: width, height: height,
                                   low: lo, high: hi, isConstant: true)
        }
        var scratch = pixels
        var low = Statistics.percentile(&scratch, lowPercentile)
        var high = Statistics.percentile(&scratch, highPercentile)
        if !(high > low) { (low, high) = (lo, hi) }
        let scale = 1 / (high - low)
        let out = pixels.map { min(max(($0 - low) * scale, 0), 1) }
        return NormalizedFrame(pixels: out, width: width, height: height, low: low, high: high, isConstant: false)
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
