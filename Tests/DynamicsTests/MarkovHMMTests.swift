import Core
import Dynamics
import Foundation
import XCTest

final class MarkovHMMTests: XCTestCase {
    private let truth: [[Double]] = [[0.98, 0.01, 0.01], [0.02, 0.97, 0.01], [0.01, 0.02, 0.97]]
    private let errorRate = 0.03

    /// A slow chain whose frames are misclassified independently with `errorRate`.
    private func noisyTracks(count: Int, steps: Int) -> (clean: [[Int]], noisy: [StateTrajectory]) {
        var rng = SeededGenerator(seed: 77)
        var clean: [[Int]] = [], noisy: [StateTrajectory] = []
        for k in 0..<count {
            let s = sampleChain(truth, steps: steps, start: k % 3, seed: UInt64(500 + k))
            let o = s.map { x -> Int in rng.uniform() < errorRate ? (x + 1 + Int(rng.next() % 2)) % 3 : x }
            clean.append(s)
            noisy.append(try! StateTrajectory(states: o))
        }
        return (clean, noisy)
    }

    private func transitions(_ s: [Int]) -> Int { zip(s, s.dropFirst()).filter { $0 != $1 }.count }

    func testViterbiRemovesSingleFrameMisclassifications() throws {
        let (clean, noisy) = noisyTracks(count: 4, steps: 5000)
        let off = errorRate / 2
        let hmm = try HiddenMarkovModel(
            transitionMatrix: try MarkovMatrix(rows: truth), initial: [1.0 / 3, 1.0 / 3, 1.0 / 3],
            emission: (0..<3).map { k in (0..<3).map { $0 == k ? 1 - errorRate : off } })
        var correct = 0, total = 0, rawJumps = 0, decodedJumps = 0, trueJumps = 0
        for (s, o) in zip(clean, noisy) {
            let d = try hmm.decode(o)
            XCTAssertEqual(d.frames, o.frames)
            correct += zip(d.states, s).filter { $0 == $1 }.count
            total += s.count
            rawJumps += transitions(o.states); decodedJumps += transitions(d.states); trueJumps += transitions(s)
        }
        XCTAssertGreaterThan(Double(correct) / Double(total), 0.99)
        // ~6% of frames start a spurious A→B→A pair in the raw labels; decoding removes them.
        XCTAssertGreaterThan(rawJumps, 3 * trueJumps)
        XCTAssertEqual(Double(decodedJumps), Double(trueJumps), accuracy: 0.15 * Double(trueJumps))
    }

    func testBaumWelchLearnsEmissionAndTransitions() throws {
        let (_, noisy) = noisyTracks(count: 8, steps: 5000)
        let (model, logL, iterations) = try HiddenMarkovModel.learn(noisy, initialError: 0.1, maxIterations: 100, tolerance: 1e-7)
        XCTAssertTrue(logL.isFinite)
        XCTAssertGreaterThan(iterations, 1)
        for k in 0..<3 {
            XCTAssertEqual(model.emission[k][k], 1 - errorRate, accuracy: 0.01, "emission[\(k)][\(k)]")
            for j in 0..<3 { XCTAssertEqual(model.transitionMatrix[k, j], truth[k][j], accuracy: 0.006, "T[\(k),\(j)]") }
        }
        // The raw labels' MSM overestimates the off-diagonal rates several-fold.
        let raw = try MarkovEstimator(reversible: false).fit(noisy, options: MarkovCountingOptions(lag: 1))
        XCTAssertGreaterThan(raw.transitionMatrix[0, 1], 2 * truth[0][1])
    }

    func testGapsAndSoftEvidence() throws {
        let hmm = try HiddenMarkovModel(
            transitionMatrix: try MarkovMatrix(rows: [[0.95, 0.05], [0.05, 0.95]]), initial: [0.5, 0.5],
            emission: [[0.9, 0.1], [0.1, 0.9]])
        // A lone "1" between 0s is smoothed away; the gap at frames 3–4 is bridged.
        let track = try StateTrajectory(frames: [0, 1, 2, 5, 6, 7], states: [0, 0, 1, 0, 0, 0])
        XCTAssertEqual(try hmm.decode(track).states, [0, 0, 0, 0, 0, 0])
        let post = try hmm.posteriors(track)
        XCTAssertEqual(post.probabilities.count, 6)
        XCTAssertGreaterThan(post.probabilities[2][0], 0.5)
        // A huge gap splits the track instead of allocating its span.
        let far = try StateTrajectory(frames: [0, 1, 2, 1_000_000_000_000, 1_000_000_000_001], states: [1, 1, 1, 0, 0])
        XCTAssertEqual(try hmm.decode(far).states, [1, 1, 1, 0, 0])
        for p in post.probabilities { XCTAssertEqual(p.reduce(0, +), 1, accuracy: 1e-12) }
        // Soft evidence: confident frames decide, an ambiguous frame follows its neighbours.
        let soft = try hmm.decode(probabilities: [[0.1, 0.9], [0.55, 0.45], [0.05, 0.95]], frames: [0, 1, 2])
        XCTAssertEqual(soft.states, [1, 1, 1])
        XCTAssertThrowsError(try hmm.decode(probabilities: [[0, 0]], frames: [0]))
        XCTAssertThrowsError(try HiddenMarkovModel(transitionMatrix: try MarkovMatrix(rows: [[0.5, 0.4], [0, 1]]),
                                                   initial: [0.5, 0.5], emission: [[1, 0], [0, 1]]))
    }
}
