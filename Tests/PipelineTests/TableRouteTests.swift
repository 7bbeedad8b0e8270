import Core
import Dynamics
import Foundation
import MicroscopyIO
import Pipeline
import XCTest

/// The table route (`track` on defects.csv, then `markov` on its trajectories.csv) on the tables
/// where it used to stop or go wrong: defects that never change class, and a few sparse hopping
/// defects that cannot gauge the drift.
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

    /// `track` with its default drift estimation on a sparse table: six hopping defects in a
    /// 160 px field that they walk out of, drifting 0.25 / −0.15 px per frame (the study's
    /// simulator drift) for 192 frames. The defects cannot gauge the drift, so none is removed
    /// (said in the output and in track.json) and both states' D intervals cover the D set.
    func testSparseDefectsDoNotGaugeTheDrift() throws {
        let trueD = [12.48, 1.248]   // 0.2 and 0.02 hops per frame of 15.8 px
        var spec = HMMSyntheticSpec(transition: [[0.9, 0.1], [0.2, 0.8]], D: trueD)
        spec.tracks = 6; spec.frames = 192; spec.hopLength = 15.8; spec.field = 160; spec.outliers = 0
        let (tracks, _) = HMMSynthetic.generate(spec, seed: 3)
        let dir = try temporaryDirectory("sparse-drift")
        defer { try? FileManager.default.removeItem(at: dir) }
        let defects = dir.appendingPathComponent("defects.csv")
        try Self.defectsCSV(tracks, classes: ["D0", "D1"], shift: { (0.25 * Double($0), -0.15 * Double($0)) })
            .write(to: defects, atomically: true, encoding: .utf8)
        var o = TrackTable.Options()
        o.maxDistance = 36.8; o.hopThreshold = 4.6
        let out = dir.appendingPathComponent("track")
        try FileManager.default.createDirectory(at: out, withIntermediateDirectories: true)
        let r = try TrackTable(table: defects, options: o).run(to: out)
        XCTAssertTrue(r.driftNote.hasPrefix("no drift correction"), r.driftNote)
        let meta = try JSONSerialization.jsonObject(with: Data(contentsOf: out.appendingPathComponent("track.json"))) as? [String: Any]
        let drift = try XCTUnwrap(meta?["drift"] as? [String: Any])
        XCTAssertEqual(drift["estimated"] as? Bool, false)
        XCTAssertEqual(drift["note"] as? String, r.driftNote)
        XCTAssertEqual(r.hmm.count, 2)
        for s in r.hmm {
            let k = s.name == "D0" ? 0 : 1
            let low = try XCTUnwrap(s.DLow), high = try XCTUnwrap(s.DHigh)
            XCTAssertTrue(low <= trueD[k] && trueD[k] <= high, "\(s.name): D \(s.D ?? .nan) [\(low), \(high)] vs \(trueD[k])")
        }
    }

    /// A dense table (a lattice of 225 atoms, 8 px apart) drifting 0.6 / −0.4 px per frame: the
    /// check keeps the drift and `track` removes it (drift.csv within 0.05 px of the truth).
    func testDenseTableStillHasItsDriftRemoved() throws {
        var rng = SeededGenerator(seed: 4)
        var csv = "frame,x,y,class\n"
        for t in 0..<30 {
            for i in 0..<15 { for j in 0..<15 {
                csv += String(format: "%ld,%.4f,%.4f,atom\n", t, 20 + 8 * Double(i) + 0.6 * Double(t) + 0.1 * rng.normal(),
                              20 + 8 * Double(j) - 0.4 * Double(t) + 0.1 * rng.normal())
            } }
        }
        let dir = try temporaryDirectory("dense-drift")
        defer { try? FileManager.default.removeItem(at: dir) }
        let atoms = dir.appendingPathComponent("atoms.csv")
        try csv.write(to: atoms, atomically: true, encoding: .utf8)
        var o = TrackTable.Options()
        o.maxDistance = 3
        let out = dir.appendingPathComponent("track")
        try FileManager.default.createDirectory(at: out, withIntermediateDirectories: true)
        let r = try TrackTable(table: atoms, options: o).run(to: out)
        XCTAssertTrue(r.driftNote.hasPrefix("drift estimated"), r.driftNote)
        let drift = try CSVTable(url: out.appendingPathComponent("drift.csv"))
        let f = try drift.column("frame"), x = try drift.column("dx"), y = try drift.column("dy")
        XCTAssertEqual(drift.rows.count, 30)
        for row in drift.rows {
            let t = Double(row[f])!
            XCTAssertEqual(Double(row[x])!, 0.6 * t, accuracy: 0.05)
            XCTAssertEqual(Double(row[y])!, -0.4 * t, accuracy: 0.05)
        }
    }
}
