import Core
import Foundation
import MicroscopyIO

/// Images as PNG data URLs for the self-contained report. libpng writes files, so each image
/// passes through a temporary file in `scratch` (the output directory), removed at once.
public struct ReportImage {
    public let scratch: URL

    public init(scratch: URL) { self.scratch = scratch }

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
        return try encode { try PNGFile.writeGray(image, to: $0, scaling: .range(low: range.0, high: range.1)) }
    }

    public func rgb(_ image: RGBImage) throws -> String {
        try encode { try PNGFile.writeRGB(image, to: $0) }
    }

    private func encode(_ write: (URL) throws -> Void) throws -> String {
        let tmp = scratch.appendingPathComponent(".report-\(getpid()).png")
        defer { try? FileManager.default.removeItem(at: tmp) }
        try write(tmp)
        return HTMLReport.pngDataURL(try Data(contentsOf: tmp))
    }
}
