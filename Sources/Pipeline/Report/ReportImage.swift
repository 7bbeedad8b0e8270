import Core
import Foundation
import MicroscopyIO

/// Images as PNG data URLs for the self-contained report, encoded in memory (no file is written).
public struct ReportImage {
    public init() {}

    /// An 8-bit gray PNG stretched between the `low`-th and `high`-th percentiles (0–100) of its
    /// own finite pixels, so each image uses its full contrast whatever its neighbours' range.
    public func gray(_ pixels: [Float], width: Int, height: Int, low: Double = 1, high: Double = 99.9) throws -> String {
        var finite = pixels.filter(\.isFinite)
        guard !finite.isEmpty else { return try gray(pixels.map { _ in 0 }, width: width, height: height, range: (0, 1)) }
        let lo = Statistics.percentile(&finite, low), hi = Statistics.percentile(&finite, high)
        return try gray(pixels, width: width, height: height, range: (lo, hi > lo ? hi : lo + 1))
    }

    /// An 8-bit gray PNG mapping `range` to 0…255 (clamped; NaN shown black).
    public func gray(_ pixels: [Float], width: Int, height: Int, range: (Float, Float)) throws -> String {
        let image = try GrayImage(width: width, height: height, pixels: pixels.map { $0.isFinite ? $0 : range.0 })
        return HTMLReport.pngDataURL(try PNGFile.grayData(image, scaling: .range(low: range.0, high: range.1)))
    }

    public func rgb(_ image: RGBImage) throws -> String {
        HTMLReport.pngDataURL(try PNGFile.rgbData(image))
    }
}
