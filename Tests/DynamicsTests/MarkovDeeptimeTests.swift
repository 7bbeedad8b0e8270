import Dynamics
import Foundation
import XCTest

/// Compares with deeptime 0.4.5 on committed fixtures (scripts/compare_markov_deeptime.py).
final class MarkovDeeptimeTests: XCTestCase {
    private struct Fixture: Decodable {
        struct MSM: Decodable {
            let name: String
            let counts: [[Double]]
            let reversible: Bool
            let active_states: [Int]
            let transition_matrix: [[Double]]
            let stationary: [Double]
            let timescales: [Double]
        }
        struct Counting: Decodable {
            let name: String
            let dtrajs: [[Int]]
            let lag: Int
            let mode: String
            let n_states: Int
            let counts: [[Double]]
        }
        let msm: [MSM]
        let counting: [Counting]
    }

    private func fixture() throws -> Fixture {
        let url = try XCTUnwrap(Bundle.module.url(forResource: "markov_deeptime", withExtension: "json",
                                                  subdirectory: "Fixtures"))
        return try JSONDecoder().decode(Fixture.self, from: Data(contentsOf: url))
    }

    func testMaximumLikelihoodMSMAgreesWithDeeptime() throws {
        let cases = try fixture().msm
        XCTAssertEqual(cases.count, 7)
        for ref in cases {
            let label = "\(ref.name) reversible=\(ref.reversible)"
            let counts = try TransitionCounts(matrix: MarkovMatrix(rows: ref.counts), options: MarkovCountingOptions(lag: 1))
            let model = try MarkovEstimator(reversible: ref.reversible).fit(counts)
            XCTAssertEqual(model.activeStates, ref.active_states, label)
            for (i, row) in ref.transition_matrix.enumerated() {
                for (j, v) in row.enumerated() {
                    XCTAssertEqual(model.transitionMatrix[i, j], v, accuracy: 1e-7, "\(label) T[\(i),\(j)]")
                }
            }
            for (a, b) in zip(model.stationary, ref.stationary) { XCTAssertEqual(a, b, accuracy: 1e-7, label) }
            let ts = try model.timescales()
            XCTAssertEqual(ts.count, ref.timescales.count, label)
            for (a, b) in zip(ts, ref.timescales) { XCTAssertEqual(a, b, accuracy: 1e-6 * b, label) }
        }
    }

    func testTransitionCountsAgreeWithDeeptime() throws {
        for ref in try fixture().counting {
            let tracks = try ref.dtrajs.map { try StateTrajectory(states: $0) }
            let mode: MarkovCountingMode = ref.mode == "sample" ? .sample : .sliding
            let c = try TransitionCounts(tracks, stateCount: ref.n_states,
                                         options: MarkovCountingOptions(lag: ref.lag, mode: mode))
            XCTAssertEqual(c.matrix.rows, ref.counts, ref.name)
        }
    }
}
