import Core
import Foundation
import MicroscopyIO
import XCTest

/// Every numeric option of every command, set to each of 0, −1, NaN, ∞, 10³⁰ and 2⁶³, run as a
/// user would (the built executable): never a trap; a value the option cannot take is refused
/// (exit 1 with `atomtrack: error:` naming the flag, or 64 from the parser) before OUT exists.
extension CommandLineTests {
    static let sweepValues = ["0", "-1", "nan", "inf", "1e30", "9223372036854775808"]

    /// The values an option legitimately takes (anything else must be refused):
    /// `--first 0` and `--overlay 0` are the first frame; `--max-gap 0` (no gap closing) and `--drift-iterations 0`
    /// (no drift correction) are documented choices; a seed is any UInt64 (2⁶³ included).
    static let validSweepValues: [String: Set<String>] = [
        "first": ["0"], "overlay": ["0"], "max-gap": ["0"], "drift-iterations": ["0"], "seed": ["0", "9223372036854775808"],
    ]

    func testEveryNumericOptionRefusesImpossibleValuesBeforeWriting() throws {
        let (dir, movie, model, table) = try movieModelAndTable("table.csv", "frame,x,y,class\n" +
            (0..<6).map { "\($0),\(1 + Double($0) * 0.5),1,A\n" }.joined())
        let trajectories = dir.appendingPathComponent("traj.csv")
        try Data("track,frame,class\n0,0,a\n0,1,b\n0,2,a\n0,3,b\n1,0,a\n1,1,a\n1,2,b\n1,3,b\n".utf8).write(to: trajectories)
        let recipe = try tinyMovieRecipe(in: dir)
        let training = repositoryRoot.appendingPathComponent("TrainingData/tmd-ws2.json").path
        let m = ["--model", model]
        let commands: [(base: [String], options: [String])] = [
            (["segment", movie.path] + m, ["threshold", "pixel-size", "first", "count"]),
            (["locate", movie.path] + m, ["threshold", "pixel-size", "first", "count", "overlay"]),
            (["classify", movie.path, "--atoms", table.path] + m, ["threshold", "pixel-size", "crop-size", "max-classes", "seed"]),
            (["track", table.path], ["max-distance", "max-gap", "drift-iterations", "min-length", "pixel-size", "frame-time",
                                     "hop-threshold", "seed"]),
            (["markov", trajectories.path], ["lag", "frame-time", "samples", "seed"]),
            (["analyze", movie.path] + m, ["pixel-size", "frame-time", "first", "count", "lag"]),
            (["simulate", "--recipe", recipe.path], ["seed", "frames", "dose", "count"]),
            (["train", "--recipe", training, "--steps", "1", "--batch-size", "1", "--tile", "32", "--base-filters", "2",
              "--depth", "1", "--validate-every", "1", "--validation-frames", "1", "--patience", "1", "--threads", "1"],
             ["steps", "batch-size", "tile", "learning-rate", "base-filters", "depth", "validate-every", "validation-frames",
              "patience", "seed", "threads"]),
            (["evaluate", "--truth", dir.path] + m, ["threshold", "dose"]),
            (["demo", "--recipe", recipe.path] + m, ["frames"]),
            (["convert", movie.path], ["bits"]),
        ]
        // Every case gets its own OUT (and convert output), so the runs can go in parallel.
        var cases: [(arguments: [String], option: String, value: String, out: URL)] = []
        for (base, options) in commands {
            for option in options {
                for value in Self.sweepValues {
                    let out = dir.appendingPathComponent("out\(cases.count)" + (base[0] == "convert" ? ".png" : ""))
                    let outFlag = base[0] == "convert" ? [out.path] : ["--out", out.path]
                    cases.append((base + outFlag + ["--\(option)=\(value)"] + (base[0] == "evaluate" ? [] : ["--quiet"]), option, value, out))
                }
            }
        }
        let cases_ = cases
        let runs = try parallelMap(cases.count) { i in try self.atomtrack(cases_[i].arguments) }
        for (c, run) in zip(cases, runs) {
            let what = "\(c.arguments[0]) --\(c.option)=\(c.value): status \(run.status), \(run.stderr)"
            XCTAssertTrue([0, 1, 64].contains(run.status), "trap or odd status: " + what)
            if Self.validSweepValues[c.option]?.contains(c.value) == true {
                XCTAssertFalse(run.stderr.contains("--\(c.option)"), "a valid value was refused: " + what)
                continue
            }
            XCTAssertTrue([1, 64].contains(run.status), "accepted: " + what)
            XCTAssertTrue(run.stderr.contains("--\(c.option)"), "flag not named: " + what)
            if run.status == 1 { XCTAssertTrue(run.stderr.hasPrefix("atomtrack: error: "), what) }
            XCTAssertFalse(FileManager.default.fileExists(atPath: c.out.path), "output created before the error: " + what)
        }
        XCTAssertEqual(cases.count, 50 * Self.sweepValues.count)
    }

    /// movie-ws2's recipe at 32×32 px and 2 frames, so a run with a valid value takes milliseconds.
    func tinyMovieRecipe(in dir: URL) throws -> URL {
        let source = repositoryRoot.appendingPathComponent("TrainingData/movie-ws2.json")
        var r = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: source)) as? [String: Any])
        r["width"] = 32; r["height"] = 32
        var movie = try XCTUnwrap(r["movie"] as? [String: Any])
        movie["frames"] = 2; movie["count"] = 1
        r["movie"] = movie
        let url = dir.appendingPathComponent("tiny.json")
        try JSONSerialization.data(withJSONObject: r).write(to: url)
        return url
    }
}
