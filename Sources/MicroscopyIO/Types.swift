import Foundation

/// The element type of the pixels as stored in the source file.
public enum SampleType: String, Sendable, CaseIterable, Codable {
    case uint8, int8, uint16, int16, uint32, int32, float32, float64

    /// Bytes per sample.
    public var byteCount: Int {
        switch self {
        case .uint8, .int8: return 1
        case .uint16, .int16: return 2
        case .uint32, .int32, .float32: return 4
        case .float64: return 8
        }
    }

    /// True for IEEE floating point types.
    public var isFloat: Bool { self == .float32 || self == .float64 }

    /// True for signed integer types.
    public var isSignedInteger: Bool { self == .int8 || self == .int16 || self == .int32 }

    /// The representable range of an integer type (nil for floats).
    public var integerRange: ClosedRange<Double>? {
        switch self {
        case .uint8: return 0...255
        case .int8: return -128...127
        case .uint16: return 0...65535
        case .int16: return -32768...32767
        case .uint32: return 0...4_294_967_295
        case .int32: return -2_147_483_648...2_147_483_647
        case .float32, .float64: return nil
        }
    }
}

/// One grayscale frame: Float32 pixels, row-major (row = y), origin at the centre of
/// the top-left pixel.
public struct GrayImage: Sendable, Equatable {
    /// Number of columns.
    public let width: Int
    /// Number of rows.
    public let height: Int
    /// `width * height` values, row-major.
    public var pixels: [Float]
    /// Physical pixel size in Å when known (square pixels only).
    public var pixelSizeA: Double?

    /// Makes an image; fails when `pixels.count != width * height`.
    public init(width: Int, height: Int, pixels: [Float], pixelSizeA: Double? = nil) throws {
        guard width > 0, height > 0, pixels.count == width * height else {
            throw MicroscopyIOError.invalidArgument(
                detail: "image \(width)×\(height) needs \(max(0, width * height)) pixels, got \(pixels.count)")
        }
        self.width = width
        self.height = height
        self.pixels = pixels
        self.pixelSizeA = pixelSizeA
    }

    /// The pixel at column `x`, row `y`.
    @inlinable public subscript(x: Int, y: Int) -> Float { pixels[y * width + x] }
}

/// The pixel calibration of one axis as the file states it.
public struct AxisCalibration: Sendable, Equatable {
    /// Physical size of one pixel along the axis, in `unit`.
    public var scale: Double
    /// The unit as written in the file (e.g. "nm", "Å", "µm", "eV").
    public var unit: String

    public init(scale: Double, unit: String) {
        self.scale = scale
        self.unit = unit
    }

    /// The scale in Å when `unit` is a length unit, else nil.
    public var scaleInAngstrom: Double? {
        guard let f = AxisCalibration.angstromPerUnit(unit) else { return nil }
        return scale * f
    }

    /// Å per unit for the length units microscopists write.
    static func angstromPerUnit(_ unit: String) -> Double? {
        let u = unit.trimmingCharacters(in: .whitespaces)
        switch u {
        case "Å", "A", "angstrom", "Angstrom", "ang": return 1
        case "pm": return 0.01
        case "nm": return 10
        case "µm", "μm", "um", "micron": return 1e4
        case "mm": return 1e7
        case "cm": return 1e8
        case "m": return 1e10
        default: return nil
        }
    }
}

/// Pixel calibration of a frame: x (columns) and y (rows), and the frame axis of a stack.
public struct FileCalibration: Sendable, Equatable {
    public var x: AxisCalibration
    public var y: AxisCalibration
    /// The third (slowest) axis of a 3-D dataset when the file states one.
    public var z: AxisCalibration?

    public init(x: AxisCalibration, y: AxisCalibration, z: AxisCalibration? = nil) {
        self.x = x
        self.y = y
        self.z = z
    }

    /// Square pixel of `a` Å.
    public init(pixelSizeA a: Double) {
        self.init(x: AxisCalibration(scale: a, unit: "Å"), y: AxisCalibration(scale: a, unit: "Å"))
    }

    /// The pixel size in Å when both axes are lengths and equal (relative 1e-6), else nil.
    public var pixelSizeA: Double? {
        guard let ax = x.scaleInAngstrom, let ay = y.scaleInAngstrom, ax > 0, ax.isFinite,
              abs(ax - ay) <= 1e-6 * ax else { return nil }
        return ax
    }
}

/// Limits that make absurd headers fail fast instead of allocating.
public enum IOLimits {
    /// Largest accepted frame: 2^28 pixels (16384 × 16384, 1 GiB as Float32).
    public static let maxPixelsPerFrame = 1 << 28
    /// Largest accepted width or height.
    public static let maxSide = 1 << 20
    /// Largest accepted frame count.
    public static let maxFrames = 10_000_000

    /// Checks `width × height × frames` against the limits.
    static func check(width: Int, height: Int, frames: Int, path: String) throws {
        if width <= 0 || height <= 0 || frames <= 0 {
            throw MicroscopyIOError.emptyImage(path: path, detail: "\(width)×\(height) pixels, \(frames) frame(s)")
        }
        if width > maxSide || height > maxSide || frames > maxFrames
            || width.multipliedReportingOverflow(by: height).partialValue > maxPixelsPerFrame {
            throw MicroscopyIOError.absurdDimensions(
                path: path, detail: "\(width)×\(height) pixels, \(frames) frame(s) (limit \(maxPixelsPerFrame) pixels per frame)")
        }
    }
}

/// Min/max/mean over finite pixels and counts of NaN and ±Inf; accumulate frame by frame.
public struct ValueStats: Sendable, Equatable {
    public private(set) var minimum = Float.infinity
    public private(set) var maximum = -Float.infinity
    public private(set) var sum = 0.0
    public private(set) var finiteCount = 0
    public private(set) var nanCount = 0
    public private(set) var infCount = 0

    public init() {}

    /// Stats of one pixel buffer.
    public init(_ pixels: [Float]) { add(pixels) }

    /// Mean of the finite pixels (NaN when there are none).
    public var mean: Double { finiteCount > 0 ? sum / Double(finiteCount) : .nan }

    /// Adds the pixels of one frame.
    public mutating func add(_ pixels: [Float]) { pixels.withUnsafeBufferPointer { add($0) } }

    /// Adds a band of pixels (part of a frame).
    public mutating func add(_ pixels: UnsafeBufferPointer<Float>) {
        var lo = minimum, hi = maximum, s = 0.0, n = 0, nan = 0, inf = 0
        for v in pixels {
            if v.isFinite {
                lo = Swift.min(lo, v); hi = Swift.max(hi, v); s += Double(v); n += 1
            } else if v.isNaN { nan += 1 } else { inf += 1 }
        }
        minimum = lo; maximum = hi; sum += s; finiteCount += n; nanCount += nan; infCount += inf
    }
}

/// A writer that streams frames of one size into a file (TIFF stack, NPY array) and renames
/// it into place at `finish()`.
public protocol FrameStackWriter: AnyObject {
    var url: URL { get }
    var width: Int { get }
    var height: Int { get }
    /// Appends one frame of `width × height` pixels, row-major.
    func append(_ pixels: [Float]) throws
    func finish() throws
    /// Abandons the output and removes its temp file.
    func cancel()
}

extension FrameStackWriter {
    /// Appends one frame; a frame of another size cancels the output (nothing half-written).
    public func append(_ image: GrayImage) throws {
        guard image.width == width, image.height == height else {
            cancel()
            throw MicroscopyIOError.inconsistentFrames(path: url.path, detail: "frames are \(width)×\(height), this one is \(image.width)×\(image.height)")
        }
        try append(image.pixels)
    }
}
