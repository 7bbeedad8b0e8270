// Basic values of the Markov-state-model part of Dynamics: state trajectories,
// a small dense matrix, errors and a seeded random generator.

import Foundation

/// One track's sequence of defect classes: the state observed in each frame where
/// the track was seen. Frames may be missing (the track was not detected or not
/// classified there); frames must be strictly increasing.
public struct StateTrajectory: Sendable, Equatable {
    /// Frame numbers (from 0), strictly increasing.
    public let frames: [Int]
    /// State (defect-class id, ≥ 0) in each of `frames`.
    public let states: [Int]
    /// Weight of every transition counted in this track (default 1).
    public let weight: Double

    /// A track with explicit frames; throws on mismatched lengths, non-increasing
    /// or negative frames, negative states or a negative/non-finite weight.
    public init(frames: [Int], states: [Int], weight: Double = 1) throws {
        guard frames.count == states.count else {
            throw MarkovError.mismatchedLengths(frames: frames.count, states: states.count)
        }
        guard weight.isFinite, weight >= 0 else { throw MarkovError.invalidWeight(weight) }
        for i in frames.indices {
            if frames[i] < 0 { throw MarkovError.negativeFrame(index: i, frame: frames[i]) }
            if i > 0, frames[i] <= frames[i - 1] {
                throw MarkovError.framesNotIncreasing(index: i, previous: frames[i - 1], frame: frames[i])
            }
            if states[i] < 0 { throw MarkovError.negativeState(index: i, state: states[i]) }
        }
        self.frames = frames
        self.states = states
        self.weight = weight
    }

    /// A gap-free track observed in frames `firstFrame, firstFrame+1, …`.
    public init(states: [Int], firstFrame: Int = 0, weight: Double = 1) throws {
        try self.init(frames: Array(firstFrame..<(firstFrame + states.count)), states: states, weight: weight)
    }
}

/// Problems with Markov-model input or estimation; each names the problem in one line.
public enum MarkovError: Error, CustomStringConvertible, Equatable {
    case mismatchedLengths(frames: Int, states: Int)
    case negativeFrame(index: Int, frame: Int)
    case framesNotIncreasing(index: Int, previous: Int, frame: Int)
    case negativeState(index: Int, state: Int)
    case invalidWeight(Double)
    case stateOutOfRange(state: Int, stateCount: Int)
    case invalidLag(Int)
    case invalidArgument(String)
    case noTransitions(lag: Int)
    case disconnected(components: [[String]])
    case emptyRow(name: String)
    case estimationFailed(String)
    case tooFewTracks(Int)

    public var description: String {
        switch self {
        case let .mismatchedLengths(f, s):
            return "state trajectory has \(f) frames but \(s) states"
        case let .negativeFrame(i, f):
            return "state trajectory frame at index \(i) is negative (\(f))"
        case let .framesNotIncreasing(i, p, f):
            return "state trajectory frames must increase strictly: frame \(f) at index \(i) follows \(p)"
        case let .negativeState(i, s):
            return "state at index \(i) is negative (\(s)); states are class ids ≥ 0"
        case let .invalidWeight(w):
            return "track weight must be finite and ≥ 0, got \(w)"
        case let .stateOutOfRange(s, n):
            return "state \(s) is outside the \(n) declared states (ids 0..<\(n))"
        case let .invalidLag(l):
            return "lag must be ≥ 1 frame, got \(l)"
        case let .invalidArgument(m):
            return m
        case let .noTransitions(l):
            return "no transitions at lag \(l): no track has two observations \(l) frames apart without a gap"
        case let .disconnected(c):
            return "the transition counts split into \(c.count) disconnected sets: "
                + c.map { "{" + $0.joined(separator: ", ") + "}" }.joined(separator: " ")
        case let .emptyRow(n):
            return "state \(n) has no outgoing transitions in the active set"
        case let .estimationFailed(m):
            return "Markov estimation failed: \(m)"
        case let .tooFewTracks(n):
            return "bootstrap over tracks needs at least 2 tracks with transitions, got \(n)"
        }
    }
}

/// A dense, row-major square matrix of doubles (counts or probabilities).
public struct MarkovMatrix: Sendable, Equatable {
    /// Number of rows (= columns).
    public let size: Int
    /// Row-major values, `size * size` of them.
    public var values: [Double]

    /// A `size × size` matrix filled with `value`.
    public init(size: Int, repeating value: Double = 0) {
        self.size = size
        values = [Double](repeating: value, count: size * size)
    }

    /// A matrix from its rows; throws unless every row has `rows.count` entries.
    public init(rows: [[Double]]) throws {
        guard rows.allSatisfy({ $0.count == rows.count }) else {
            throw MarkovError.invalidArgument("a \(rows.count)-row matrix needs \(rows.count) entries in every row")
        }
        size = rows.count
        values = rows.flatMap { $0 }
    }

    public subscript(row: Int, column: Int) -> Double {
        get { values[row * size + column] }
        set { values[row * size + column] = newValue }
    }

    /// The rows as nested arrays (for JSON and printing).
    public var rows: [[Double]] { (0..<size).map { Array(values[($0 * size)..<(($0 + 1) * size)]) } }

    /// Sum of row `i`.
    public func rowSum(_ i: Int) -> Double {
        var s = 0.0
        for j in 0..<size { s += values[i * size + j] }
        return s
    }

    /// The sub-matrix on the given row/column indices, in that order.
    public func restricted(to indices: [Int]) -> MarkovMatrix {
        var m = MarkovMatrix(size: indices.count)
        for (a, i) in indices.enumerated() {
            for (b, j) in indices.enumerated() { m[a, b] = self[i, j] }
        }
        return m
    }

    /// Matrix product `self · other`.
    public func multiplied(by other: MarkovMatrix) -> MarkovMatrix {
        precondition(size == other.size)
        var r = MarkovMatrix(size: size)
        for i in 0..<size {
            for k in 0..<size {
                let a = self[i, k]
                if a == 0 { continue }
                for j in 0..<size { r.values[i * size + j] += a * other.values[k * size + j] }
            }
        }
        return r
    }

    /// `self` raised to a non-negative integer power.
    public func power(_ k: Int) -> MarkovMatrix {
        var r = MarkovMatrix(size: size)
        for i in 0..<size { r[i, i] = 1 }
        for _ in 0..<max(k, 0) { r = r.multiplied(by: self) }
        return r
    }
}
