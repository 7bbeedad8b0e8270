/// One detected atom (or defect) in one frame: the input of tracking.
/// Coordinates are pixels, origin at the centre of the top-left pixel.
public struct Detection: Sendable, Equatable {
    public var frame: Int
    public var x: Double
    public var y: Double
    /// Class label (atom species or defect class); carried along each track per frame.
    public var classLabel: Int
    /// Detection confidence, carried along unchanged.
    public var score: Double

    public init(frame: Int, x: Double, y: Double, classLabel: Int = 0, score: Double = 1) {
        self.frame = frame; self.x = x; self.y = y; self.classLabel = classLabel; self.score = score
    }
}

/// One point of a track: a detection, with its drift-corrected position.
public struct TrackPoint: Sendable, Equatable {
    public var frame: Int
    /// Position as detected (pixels).
    public var x: Double
    public var y: Double
    /// Position with the cumulative drift of its frame subtracted (pixels).
    public var xCorrected: Double
    public var yCorrected: Double
    public var classLabel: Int
    public var score: Double
    /// Index of the detection in the input array.
    public var detection: Int
}

/// A trajectory: points in increasing frame order, possibly with gaps
/// (missed frames closed by gap closing). The class may change along it.
public struct Track: Sendable, Equatable {
    public var id: Int
    public var points: [TrackPoint]
    public var firstFrame: Int { points.first?.frame ?? 0 }
    public var lastFrame: Int { points.last?.frame ?? 0 }
}

/// Errors of tracking, one clear line each.
public enum TrackingError: Error, CustomStringConvertible, Equatable {
    case invalidOption(String)
    case invalidDetection(index: Int, reason: String)
    case csv(line: Int, reason: String)

    public var description: String {
        switch self {
        case .invalidOption(let what): return "tracking: invalid option: \(what)"
        case .invalidDetection(let i, let why): return "tracking: detection \(i) is invalid: \(why)"
        case .csv(let line, let why): return "tracking: detections CSV line \(line): \(why)"
        }
    }
}
