import Core
import Foundation
import MicroscopyIO
import Pipeline
import XCTest

/// Tables as other tools write them, and one naming of things across files.
final class ConventionsTests: XCTestCase {
    /// A trajectory table written by trackpy (`particle`, an unnamed index column, D1 before D0 in
    /// the rows) gives markov.json the transition counts pandas counted, in state order D0, D1.
    func testMarkovReadsATrackpyTable() throws {
        let fixtures = packageRoot.appendingPathComponent("Tests/PipelineTests/Fixtures")
        struct Expected: Decodable { let states: [String]; let counts: [[Int]] }
        let expected = try JSONDecoder().decode(Expected.self, from: Data(contentsOf: fixtures.appendingPathComponent("trackpy_counts.json")))
        let out = try temporaryDirectory("trackpy-markov")
        defer { try? FileManager.default.removeItem(at: out) }
        var options = MarkovTable.Options()
        options.samples = 10
        let result = try MarkovTable(table: fixtures.appendingPathComponent("trackpy_tracks.csv"), options: options).run(to: out)
        XCTAssertEqual(result.states, expected.states)
        let json = try JSONSerialization.jsonObject(with: Data(contentsOf: out.appendingPathComponent("markov.json"))) as! [String: Any]
        XCTAssertEqual(json["counts"] as? [[Int]], expected.counts)
        XCTAssertEqual((json["states"] as? [[String: Any]])?.compactMap { $0["name"] as? String }, expected.states)
    }

    /// A table naming neither `track` nor `particle` is refused by name.
    func testMarkovNamesTheMissingTrackColumn() throws {
        let dir = try temporaryDirectory("no-track")
        defer { try? FileManager.default.removeItem(at: dir) }
        let table = dir.appendingPathComponent("t.csv")
        try "id,frame,class\n0,0,D0\n0,1,D1\n".write(to: table, atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try MarkovTable(table: table, options: .init())) {
            XCTAssert("\($0)".contains("'track' (or trackpy's 'particle')"), "\($0)")
        }
    }
}

extension CommandLineTests {
    /// `--threads` out of range is a usage error; `--material mos2` is refused rather than read with
    /// the WS2 model; neither writes anything. `--threads 1` runs a command.
    func testThreadsAndMaterialAreCheckedBeforeAnythingIsWritten() throws {
        let dir = try temporaryDirectory("threads-material")
        defer { try? FileManager.default.removeItem(at: dir) }
        let movie = try smallMovie(in: dir), out = dir.appendingPathComponent("out")
        for bad in [["--threads", "0"], ["--threads=x"], ["--threads"]] {
            let run = try atomtrack(bad + ["locate", movie.path, "--material", "ws2", "--out", out.path])
            XCTAssertEqual(run.status, 64, run.stderr)
            XCTAssertTrue(run.stderr.hasPrefix("atomtrack: error: --threads"), run.stderr)
        }
        assertOneLineError(try atomtrack(["locate", movie.path, "--material", "mos2", "--out", out.path]), mentioning: "no shipped MoS2 model")
        XCTAssertFalse(FileManager.default.fileExists(atPath: out.path))
        let info = try atomtrack(["info", movie.path, "--threads", "1"])
        XCTAssertEqual(info.status, 0, info.stderr)
        XCTAssertTrue(info.stdout.contains("32"), info.stdout)
    }

    /// probabilities.tif names its classes: in the description (read back here) and per page
    /// (PageName `frame 0 W+Mo`, …; checked with tifffile, docs/ACCURACY.md).
    func testProbabilityPagesAreNamed() throws {
        let dir = try temporaryDirectory("named-pages")
        defer { try? FileManager.default.removeItem(at: dir) }
        let movie = try smallMovie(in: dir), out = dir.appendingPathComponent("out")
        let run = try atomtrack(["segment", movie.path, "--material", "ws2", "--out", out.path, "--quiet"])
        guard run.status == 0 else {
            if run.stderr.contains("not found") { throw XCTSkip("shipped ws2 model not present") }
            return XCTFail(run.stderr)
        }
        let stack = try Movie.open(out.appendingPathComponent("probabilities.tif"))
        XCTAssertEqual(stack.info.metadata["classes"], "W+Mo,S,background")
        XCTAssertEqual(stack.frameCount, 2 * 3)
    }
}
