import XCTest
import Core
import Tracking

extension SeededGenerator {
    /// Fisher–Yates shuffle with this generator.
    mutating func shuffle<T>(_ a: inout [T]) {
        guard a.count > 1 else { return }
        for i in stride(from: a.count - 1, to: 0, by: -1) { a.swapAt(i, int(i + 1)) }
    }
}


/// Asserts that tracks group the detections exactly as the truth labels do.
func assertSameGrouping(_ result: TrackingResult, truth: [Int], file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertEqual(result.trackOfDetection.count, truth.count, file: file, line: line)
    var truthOfTrack: [Int: Int] = [:], trackOfTruth: [Int: Int] = [:]
    var wrong = 0
    for (i, t) in result.trackOfDetection.enumerated() {
        if let seen = truthOfTrack[t], seen != truth[i] { wrong += 1 }
        if let seen = trackOfTruth[truth[i]], seen != t { wrong += 1 }
        truthOfTrack[t] = truth[i]; trackOfTruth[truth[i]] = t
    }
    XCTAssertEqual(wrong, 0, "detections grouped differently from the truth", file: file, line: line)
}

/// Number of consecutive-in-track links that agree with the truth, and the number of true links.
func linkCounts(_ result: TrackingResult, truth: [Int]) -> (correct: Int, found: Int, trueLinks: Int) {
    var correct = 0, found = 0
    for track in result.tracks {
        for (a, b) in zip(track.points, track.points.dropFirst()) {
            found += 1
            if truth[a.detection] == truth[b.detection] { correct += 1 }
        }
    }
    var lastFrame: [Int: Int] = [:]
    var trueLinks = 0
    for (i, t) in truth.enumerated() { _ = i; lastFrame[t, default: 0] += 1 }
    for (_, n) in lastFrame { trueLinks += n - 1 }
    return (correct, found, trueLinks)
}
