import Core
import Dynamics
import Foundation
import MicroscopyIO
import Pipeline
import XCTest

/// The table route (`track` on defects.csv, then `markov` on its trajectories.csv) on the tables
/// where it used to stop: defects that never change class.
final class TableRouteTests: XCTestCase {
    /// A defects table in the frame's pixels (`frame,x,y,class,loglik_<class>`) from synthetic tracks,
    /// each class the state the classifier's evidence favours; `shift` adds a drift per frame.
    static func defectsCSV(_ tracks: [HMMTrack], classes: [String], shift: (Int) -> (dx: Double, dy: Double) = { _ in (0, 0) }) -> String {
        var csv = "frame,x,y,class" + classes.map { ",loglik_" + $0 }.joined() + "\n"
        for t in tracks {
            for k in t.frames.indices {
                let e = t.classEvidence[k], best = e.indices.max { e[$0] < e[$1] }!, d = shift(t.frames[k])
                csv += String(format: "%ld,%.4f,%.4f,%@", t.frames[k], t.x[k] + d.dx, t.y[k] + d.dy, classes[best])
                csv += e.map { String(format: ",%.6f", $0) }.joined() + "\n"
            }
        }
        return csv
    }

    /// Defects that never change class (`analyze` chose one state in movies 26 and 49 of the
    /// 100-movie study, and `markov` refused their table): `track` and `markov` report one state,
    /// T = [[1]] with the exact no-exit bound below 1, and D with an interval covering the D set.
    func testDefectsThatNeverChangeClassGiveOneState() throws {
        let trueD = 4.05   // px²/frame: 0.2 hops per frame of 9 px
        var spec = HMMSyntheticSpec(transition: [[1]], D: [trueD])
        spec.tracks = 14; spec.frames = 150; spec.outliers = 0; spec.field = 600
        let (tracks, _) = HMMSynthetic.generate(spec, seed: 5)
        let dir = try temporaryDirectory("one-state")
        defer { try? FileManager.default.removeItem(at: dir) }
        let defects = dir.appendingPathComponent("defects.csv")
        try Self.defectsCSV(tracks, classes: ["Mo_W"]).write(to: defects, atomically: true, encoding: .utf8)

        var o = TrackTable.Options()
        o.maxDistance = 20; o.hopThreshold = 4.5; o.driftIterations = 0
        let trackDir = dir.appendingPathComponent("track")
        try FileManager.default.createDirectory(at: trackDir, withIntermediateDirectories: true)
        let tracked = try TrackTable(table: defects, options: o).run(to: trackDir)
        XCTAssertEqual(tracked.hmm.count, 1)
        let state = try XCTUnwrap(tracked.hmm.first)
        let (d, low, high) = (try XCTUnwrap(state.D), try XCTUnwrap(state.DLow), try XCTUnwrap(state.DHigh))
        XCTAssertTrue(low <= trueD && trueD <= high, "D \(d) [\(low), \(high)] vs \(trueD)")
        XCTAssertLessThan(high / low, 2)   // an interval, not everything
        XCTAssertNil(state.dwell)          // never left: no finite mean dwell time
        XCTAssertTrue(tracked.hmmNote?.hasPrefix("one state") == true, tracked.hmmNote ?? "no note")

        var m = MarkovTable.Options()
        m.samples = 40
        let markovDir = dir.appendingPathComponent("markov")
        try FileManager.default.createDirectory(at: markovDir, withIntermediateDirectories: true)
        let markov = try MarkovTable(table: trackDir.appendingPathComponent("trajectories.csv"), options: m).run(to: markovDir)
        XCTAssertEqual(markov.states, ["Mo_W"])
        XCTAssertEqual(markov.transitionMatrix, [[1]])
        let hmm = try XCTUnwrap(markov.hmm, markov.hmmNote ?? "")
        XCTAssertEqual(hmm.transition, [[1]])
        XCTAssertTrue(hmm.note?.hasPrefix("one state") == true, hmm.note ?? "no note")
        // No exit in n one-frame transitions: the stay probability's exact lower bound (α/2)^(1/n),
        // n = the frame pairs inside the tracks (every track is seen in consecutive frames here).
        let pairs = tracks.filter { $0.frames.count >= o.minLength }.reduce(0) { $0 + $1.frames.count - 1 }
        XCTAssertEqual(try XCTUnwrap(hmm.low?[0][0]), pow(0.025, 1 / Double(pairs)), accuracy: 1e-9)
        XCTAssertEqual(try XCTUnwrap(hmm.high?[0][0]), 1)
        let json = try String(contentsOf: markovDir.appendingPathComponent("markov.json"), encoding: .utf8)
        XCTAssertTrue(json.contains("\"note\" : \"one state"), json)
    }
}
