/// Everything that can go wrong between a raw frame and a list of atoms.
/// Each case prints one line that names the problem.
public enum LocalizationError: Error, CustomStringConvertible, Equatable {
    /// The frame holds NaN or ±Inf pixels.
    case nonFinitePixels(frame: Int, count: Int, firstX: Int, firstY: Int)
    /// A frame or map has a zero or negative dimension.
    case emptyImage(width: Int, height: Int)
    /// A buffer does not hold the number of values its dimensions promise.
    case sizeMismatch(what: String, expected: Int, actual: Int)
    /// A parameter is outside its valid range.
    case invalidParameter(name: String, reason: String)
    /// The segmenter closure returned a buffer of the wrong size or with non-finite values.
    case segmenterOutput(String)
    /// A point handed to the evaluation has a non-finite coordinate.
    case nonFiniteCoordinate(what: String, index: Int)

    public var description: String {
        switch self {
        case let .nonFinitePixels(frame, count, x, y):
            return "frame \(frame): \(count) NaN/Inf pixel(s), the first at (x \(x), y \(y))"
        case let .emptyImage(width, height):
            return "empty image: \(width)×\(height) pixels"
        case let .sizeMismatch(what, expected, actual):
            return "\(what): expected \(expected) values, got \(actual)"
        case let .invalidParameter(name, reason):
            return "invalid \(name): \(reason)"
        case let .segmenterOutput(reason):
            return "segmenter output: \(reason)"
        case let .nonFiniteCoordinate(what, index):
            return "\(what) #\(index) has a NaN/Inf coordinate"
        }
    }
}

/// Checks that `count` values describe a `width`×`height` image.
func checkImage(_ count: Int, width: Int, height: Int, what: String) throws {
    guard width > 0, height > 0 else { throw LocalizationError.emptyImage(width: width, height: height) }
    let (expected, overflow) = width.multipliedReportingOverflow(by: height)
    guard !overflow, count == expected else {
        throw LocalizationError.sizeMismatch(what: what, expected: overflow ? Int.max : expected, actual: count)
    }
}
