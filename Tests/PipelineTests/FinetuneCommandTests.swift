import Foundation
import Pipeline
import XCTest

/// `atomtrack finetune` and `analyze --finetune-first-frame` run as a user would.
extension CommandLineTests {
    /// A 2-frame WS2 movie from a study recipe, with its truth table.
    func simulatedShiftMovie(in dir: URL) throws -> URL {
        let sim = dir.appendingPathComponent("sim")
        let run = try atomtrack(["simulate", "--recipe", packageRoot.appendingPathComponent("TrainingData/finetune-study/shift-scan.json").path,
                                 "--frames", "2", "--out", sim.path, "--quiet"])
        XCTAssertEqual(run.status, 0, run.stderr)
        return sim
    }

    func testFinetuneRefusesBadOptionsBeforeWriting() throws {
        let dir = try reliabilityTempDir(self)
        let sim = try simulatedShiftMovie(in: dir)
        let movie = sim.appendingPathComponent("movie.tif").path, truth = sim.appendingPathComponent("truth_atoms.csv").path
        let out = dir.appendingPathComponent("out")
        let model = packageRoot.appendingPathComponent("Models/tmd-ws2").path
        let base = ["finetune", "--model", model, "--movie", movie, "--labels", truth, "--out", out.path]
        for (extra, text) in [(["--steps", "0"], "--steps"), (["--frames", "5"], "outside the movie"),
                              (["--frames", "0,x"], "--frames"), (["--hold-out", "0.9"], "--hold-out"),
                              (["--tile", "250"], "--tile"), (["--learning-rate", "0"], "--learning-rate")] {
            assertOneLineError(try atomtrack(base + extra), mentioning: text)
        }
        assertOneLineError(try atomtrack(["finetune", "--model", model, "--movie", movie, "--labels", dir.appendingPathComponent("none.csv").path,
                                          "--out", out.path]), mentioning: "none.csv")
        assertOneLineError(try atomtrack(["finetune", "--model", model, "--movie", movie, "--labels", truth, "--out", model]),
                           mentioning: "is the model being tuned")
        XCTAssertFalse(FileManager.default.fileExists(atPath: out.path), "nothing written")
        assertOneLineError(try atomtrack(["analyze", movie, "--model", model, "--out", out.path, "--finetune-labels", truth]),
                           mentioning: "--finetune-first-frame")
        XCTAssertFalse(FileManager.default.fileExists(atPath: out.path), "nothing written")
    }

    /// Fourier labels of a frame whose lattice is not the material's at the given pixel size (the study's
    /// probe frame at --pixel-size 0.3 Å, 1.5× its own) are refused, in one line, before OUT is made.
    func testFinetuneRefusesAFrameItCannotLabel() throws {
        let dir = try reliabilityTempDir(self)
        let sim = dir.appendingPathComponent("sim")
        let run = try atomtrack(["simulate", "--recipe", packageRoot.appendingPathComponent("TrainingData/finetune-study/shift-probe.json").path,
                                 "--frames", "1", "--out", sim.path, "--quiet"])
        XCTAssertEqual(run.status, 0, run.stderr)
        let out = dir.appendingPathComponent("out")
        let refused = try atomtrack(["finetune", "--model", packageRoot.appendingPathComponent("Models/tmd-ws2").path,
                                     "--movie", sim.appendingPathComponent("movie.tif").path, "--pixel-size", "0.3", "--out", out.path])
        // One error line, after the calibration's own warning that 0.3 Å disagrees with the atoms' spacing.
        let lines = refused.stderr.split(separator: "\n")
        XCTAssertEqual(refused.status, 1, refused.stderr)
        XCTAssertTrue(lines.last?.hasPrefix("atomtrack: error: no labels from the frame's lattice") == true
                      && refused.stderr.contains("give labels from a table"), refused.stderr)
        XCTAssertTrue(lines.dropLast().allSatisfy { $0.hasPrefix("warning: ") }, refused.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: out.path), "nothing written")
    }

    /// A tuned model directory is a normal model (evaluate reads it) whose card names the movie and
    /// frame; `analyze --finetune-first-frame` writes one into OUT and analyses with it.
    func testFinetuneWritesAModelAndAnalyzeUsesIt() throws {
        let dir = try reliabilityTempDir(self)
        let sim = try simulatedShiftMovie(in: dir)
        let movie = sim.appendingPathComponent("movie.tif").path, truth = sim.appendingPathComponent("truth_atoms.csv").path
        let tuned = dir.appendingPathComponent("tuned")
        let model = packageRoot.appendingPathComponent("Models/tmd-ws2").path
        let run = try atomtrack(["finetune", "--model", model, "--movie", movie, "--labels", truth, "--frames", "1",
                                 "--steps", "2", "--batch-size", "1", "--tile", "64", "--out", tuned.path, "--quiet", "--threads", "2"])
        XCTAssertEqual(run.status, 0, run.stderr)
        XCTAssertTrue(run.stdout.contains("held-out patches, before → after"), run.stdout)
        let card = try ModelCard.load(tuned.appendingPathComponent(TrainedModel.cardFile))
        XCTAssertEqual(card.finetuning?.source.frames, [1])
        XCTAssertEqual(card.finetuning?.source.movie, movie)
        XCTAssertEqual(try atomtrack(["evaluate", "--model", tuned.path, "--truth", sim.path]).status, 0)
        assertOneLineError(try atomtrack(["finetune", "--model", model, "--movie", movie, "--labels", truth, "--out", tuned.path]),
                           mentioning: "--overwrite")

        let out = dir.appendingPathComponent("analysis")
        let analyze = try atomtrack(["analyze", movie, "--model", model, "--out", out.path, "--finetune-first-frame",
                                     "--finetune-labels", truth, "--finetune-steps", "1", "--quiet", "--threads", "2"])
        XCTAssertEqual(analyze.status, 0, analyze.stderr)
        let config = try String(contentsOf: out.appendingPathComponent("config.json"), encoding: .utf8)
        XCTAssertTrue(config.contains(Analysis.finetunedModelFolder), config)
        XCTAssertNotNil(try ModelCard.load(out.appendingPathComponent("\(Analysis.finetunedModelFolder)/model.json")).finetuning)
    }
}
