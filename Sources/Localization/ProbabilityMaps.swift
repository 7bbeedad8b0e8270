import Foundation

/// Per-class probability maps of one frame: `classes` planes of `height` rows of `width`
/// values, class-major (`values[(c * height + y) * width + x]`), as a segmenter emits them.
public struct ProbabilityMaps: Sendable, Equatable {
    public let classes: Int
    public let width: Int
    public let height: Int
    /// Class-major planes, row-major within a plane.
    public var values: [Float]

    /// - Throws: `LocalizationError` if the dimensions are empty or do not match `values.count`.
    public init(classes: Int, width: Int, height: Int, values: [Float]) throws {
        guard classes > 0 else { throw LocalizationError.invalidParameter(name: "classes", reason: "must be ≥ 1, got \(classes)") }
        guard width > 0, height > 0 else { throw LocalizationError.emptyImage(width: width, height: height) }
        guard values.count == classes * width * height else {
            throw LocalizationError.sizeMismatch(what: "probability maps", expected: classes * width * height,
                                                 actual: values.count)
        }
        self.classes = classes
        self.width = width
        self.height = height
        self.values = values
    }

    /// The probability of class `c` at pixel (x, y).
    @inlinable public subscript(c: Int, x: Int, y: Int) -> Float {
        values[(c * height + y) * width + x]
    }

    /// The plane of class `c`, row-major.
    public func plane(_ c: Int) -> ArraySlice<Float> {
        values[(c * width * height)..<((c + 1) * width * height)]
    }

    /// The most probable class at every pixel (row-major).
    public func argmax() -> [Int] {
        let n = width * height
        var best = [Int](repeating: 0, count: n)
        var bestP = Array(values[0..<n])
        for c in 1..<max(classes, 1) {
            for i in 0..<n where values[c * n + i] > bestP[i] {
                bestP[i] = values[c * n + i]; best[i] = c
            }
        }
        return best
    }

    /// The class evidence of an atom of class `k` at (x, y): the log-probability of every class at
    /// the pixel where class `k` peaks within the 3 × 3 pixels around (x, y). Softmax of it over a
    /// temperature is the class probability. The peak, not a window mean: the mean mixes in the
    /// blob's flanks, whose probabilities fall with the blob's width (on graphene the mean made
    /// 10⁶ e/Å² frames look less certain than 10⁵; a temperature fitted on the peak serves every
    /// dose, docs/ACCURACY.md).
    public func logEvidence(x: Double, y: Double, classIndex k: Int) -> [Float] {
        let cx = min(max(Int(x.rounded()), 0), width - 1), cy = min(max(Int(y.rounded()), 0), height - 1)
        var best = (cx, cy)
        for py in max(0, cy - 1)...min(height - 1, cy + 1) {
            for px in max(0, cx - 1)...min(width - 1, cx + 1) where self[k, px, py] > self[k, best.0, best.1] { best = (px, py) }
        }
        return (0..<classes).map { log(max(self[$0, best.0, best.1], Self.floor)) }
    }

    /// The smallest probability taken into a logarithm (softmax outputs can underflow to 0).
    static let floor: Float = 1e-12
}
