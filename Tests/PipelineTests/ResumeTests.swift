import Core
import Foundation
import MicroscopyIO
import Pipeline
import Simulation
import XCTest

/// `analyze --resume`: an interrupted run, continued, ends with exactly the files of a run
/// that was never interrupted; and the pieces that make that possible.
final class ResumeTests: XCTestCase {
    func smallMovie(in root: URL, frames: Int = 24) throws -> AnalysisConfig { try smallWS2Analysis(in: root, frames: frames) }

    func outputDirectory(_ root: URL, _ name: String) throws -> URL {
        let dir = root.appendingPathComponent(name)
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        return dir
    }

    /// Runs the analysis in-process into `dir` (no progress bars).
    func analyze(_ config: AnalysisConfig, into dir: URL, stopAfterFrames: Int? = nil, resume: Bool = false) throws {
        var analysis = try Analysis(config: config, output: dir)
        analysis.progress = false
        analysis.stopAfterFrames = stopAfterFrames
        try analysis.run(resume: resume)
    }

    /// A straight run of the first `frames` frames into root/straight, and a run into root/resumed
    /// stopped after `stopAfter` frames; the caller resumes it (root is removed by the caller).
    func straightAndInterrupted(_ root: URL, frames: Int?, stopAfter: Int) throws -> (config: AnalysisConfig, straight: URL, resumed: URL) {
        var config = try smallMovie(in: root)
        if let frames { config.frameCount = frames }
        let straight = try outputDirectory(root, "straight"), resumed = try outputDirectory(root, "resumed")
        try analyze(config, into: straight)
        XCTAssertThrowsError(try analyze(config, into: resumed, stopAfterFrames: stopAfter)) { XCTAssertTrue($0 is Analysis.Stopped, "\($0)") }
        return (config, straight, resumed)
    }

    func assertSameFiles(_ files: [String], _ a: URL, _ b: URL, file: StaticString = #filePath, line: UInt = #line) throws {
        for name in files {
            XCTAssertTrue(try Data(contentsOf: a.appendingPathComponent(name)) == Data(contentsOf: b.appendingPathComponent(name)),
                          "\(name) differs between the straight and the resumed run", file: file, line: line)
        }
    }

    func testInterruptedAnalysisResumesToTheSameFiles() throws {
        let root = try temporaryDirectory("resume")
        defer { try? FileManager.default.removeItem(at: root) }
        let (config, straight, resumed) = try straightAndInterrupted(root, frames: nil, stopAfter: 9)
        XCTAssertTrue(Analysis.hasInterruptedRun(in: resumed))
        XCTAssertFalse(FileManager.default.fileExists(atPath: resumed.appendingPathComponent("atoms.csv").path),
                       "an unfinished atom table must not look finished")

        // A kill in the middle of the next frame: its atom rows written, its journal record cut short.
        let journalDir = resumed.appendingPathComponent(".resume")
        let table = try FileHandle(forWritingTo: journalDir.appendingPathComponent("atoms.csv"))
        try table.seekToEnd(); try table.write(contentsOf: Data("9,1.0,2.0,S,0.9,0\n9,3.0,".utf8)); try table.close()
        let journal = try FileHandle(forWritingTo: journalDir.appendingPathComponent("journal"))
        try journal.seekToEnd(); try journal.write(contentsOf: Data("ATJ1".utf8) + Data(repeating: 0x7f, count: 100)); try journal.close()

        try analyze(config, into: resumed, resume: true)

        XCTAssertFalse(Analysis.hasInterruptedRun(in: resumed), "the journal is removed once the run completes")
        try assertSameFiles(["atoms.csv", "defects.csv", "library.json", "bic.csv", "trajectories.csv", "drift.csv", "diffusion.csv",
                             "markov.json", "overlay_0000.png", "library/D0_mean.tif"], straight, resumed)
        let summaries = try [straight, resumed].map {
            try JSONDecoder().decode(AnalysisSummary.self, from: Data(contentsOf: $0.appendingPathComponent("summary.json")))
        }
        XCTAssertEqual(summaries[0].atomsPerClass, summaries[1].atomsPerClass)
        XCTAssertEqual(summaries[0].frames, 24)
        XCTAssertNotNil(summaries[0].transitionMatrix)
        XCTAssertEqual(summaries[0].transitionMatrix, summaries[1].transitionMatrix)
    }

    /// Stopped after the last frame, once atoms.csv was moved into place but before the later
    /// stages finished: `--resume` takes the table back and completes the run.
    func testResumeAfterEveryFrameWasDone() throws {
        let root = try temporaryDirectory("resume-late")
        defer { try? FileManager.default.removeItem(at: root) }
        let (config, straight, resumed) = try straightAndInterrupted(root, frames: 12, stopAfter: 12)
        try FileManager.default.moveItem(at: resumed.appendingPathComponent(".resume/atoms.csv"),
                                         to: resumed.appendingPathComponent("atoms.csv"))
        try analyze(config, into: resumed, resume: true)
        try assertSameFiles(["atoms.csv", "defects.csv", "drift.csv"], straight, resumed)
    }

    /// Killed while writing the first frame's record: nothing to keep, the resumed run starts
    /// afresh and its atom table has its header.
    func testResumeWhenNoFrameFinished() throws {
        let root = try temporaryDirectory("resume-none")
        defer { try? FileManager.default.removeItem(at: root) }
        let (config, straight, resumed) = try straightAndInterrupted(root, frames: 3, stopAfter: 1)
        // Spoil the one frame record's checksum, as a kill in mid-write would.
        let journal = try FileHandle(forUpdating: resumed.appendingPathComponent(".resume/journal"))
        let end = try journal.seekToEnd()
        try journal.seek(toOffset: end - 1)
        let last = try XCTUnwrap(journal.readToEnd())
        try journal.seek(toOffset: end - 1)
        try journal.write(contentsOf: Data([last[0] ^ 0xff]))
        try journal.close()

        try analyze(config, into: resumed, resume: true)
        try assertSameFiles(["atoms.csv"], straight, resumed)
    }

    /// The real thing: `atomtrack analyze` stopped by SIGINT mid-run exits 130 at once, leaves
    /// only finished files and its journal, and `--resume` finishes the run.
    func testCommandLineInterruptAndResume() throws {
        // The executable is built into the same products directory as the test bundle.
        let products = Bundle.main.executableURL?.deletingLastPathComponent() ?? Bundle(for: Self.self).bundleURL
        let binary = products.appendingPathComponent("atomtrack")
        guard FileManager.default.isExecutableFile(atPath: binary.path) else {
            throw XCTSkip("atomtrack executable not built beside the tests (\(binary.path))")
        }
        let root = try temporaryDirectory("resume-cli")
        defer { try? FileManager.default.removeItem(at: root) }
        let config = try smallMovie(in: root, frames: 40)
        let out = root.appendingPathComponent("out")
        func analyze(_ extra: [String]) throws -> Process {
            let p = Process()
            p.executableURL = binary
            p.arguments = ["analyze", config.movie, "--model", config.model!, "--out", out.path, "--quiet"] + extra
            p.standardOutput = FileHandle.nullDevice
            p.standardError = FileHandle.nullDevice
            try p.run()
            return p
        }
        let first = try analyze([])
        // Interrupt once a few frames are journaled (the atom table has grown past its header).
        let table = out.appendingPathComponent(".resume/atoms.csv")
        let deadline = Date().addingTimeInterval(300)
        while first.isRunning, Date() < deadline,
              ((try? FileManager.default.attributesOfItem(atPath: table.path)[.size] as? Int) ?? 0) ?? 0 < 20_000 {
            usleep(20_000)
        }
        XCTAssertTrue(first.isRunning, "the run ended before it could be interrupted")
        kill(first.processIdentifier, SIGINT)
        first.waitUntilExit()
        XCTAssertEqual(first.terminationReason, .uncaughtSignal, "dies of the signal (the shell shows 130)")
        XCTAssertEqual(first.terminationStatus, SIGINT)
        let left = try FileManager.default.contentsOfDirectory(atPath: out.path)
        XCTAssertFalse(left.contains { $0.hasSuffix(".tmp") }, "temp files left: \(left)")
        XCTAssertFalse(left.contains("atoms.csv"))
        XCTAssertTrue(Analysis.hasInterruptedRun(in: out))

        let refused = try analyze([])
        refused.waitUntilExit()
        XCTAssertEqual(refused.terminationStatus, 1, "an interrupted run is not overwritten without --overwrite")

        let second = try analyze(["--resume"])
        second.waitUntilExit()
        XCTAssertEqual(second.terminationStatus, 0)
        let summary = try JSONDecoder().decode(AnalysisSummary.self, from: Data(contentsOf: out.appendingPathComponent("summary.json")))
        XCTAssertEqual(summary.frames, 40)
        XCTAssertFalse(Analysis.hasInterruptedRun(in: out))
        // The same files as a run never interrupted (run by the CLI too: it picks OpenBLAS's
        // kernels itself, which changes the last bits of the network's output).
        let straight = root.appendingPathComponent("straight")
        let third = try analyze(["--out", straight.path])
        third.waitUntilExit()
        XCTAssertEqual(third.terminationStatus, 0)
        for file in ["atoms.csv", "defects.csv", "trajectories.csv", "drift.csv"] {
            XCTAssertTrue(try Data(contentsOf: out.appendingPathComponent(file)) == Data(contentsOf: straight.appendingPathComponent(file)),
                          "\(file) differs from an uninterrupted run's")
        }
    }

    func testResumeRefusesOtherSettings() throws {
        let root = try temporaryDirectory("resume-other")
        defer { try? FileManager.default.removeItem(at: root) }
        var config = try smallMovie(in: root)
        config.frameCount = 4
        let out = try outputDirectory(root, "out")
        XCTAssertThrowsError(try analyze(config, into: out, stopAfterFrames: 1))

        config.finder.threshold = 0.6
        XCTAssertThrowsError(try analyze(config, into: out, resume: true)) { error in
            XCTAssertTrue("\(error)".contains("other settings"), "\(error)")
            XCTAssertTrue("\(error)".contains("--overwrite"), "\(error)")
        }
        XCTAssertTrue(Analysis.hasInterruptedRun(in: out), "a refused resume leaves the journal alone")
    }

    func testConfigurationsFromOlderVersionsAndTypos() throws {
        // An older config.json lacks settings added since: they take their defaults.
        let old = #"{"movie": "m.tif", "material": "ws2", "frameTime": 0.5, "kinetics": {"lag": 2}}"#
        let c = try AnalysisConfig.decode(Data(old.utf8))
        XCTAssertEqual(c.movie, "m.tif")
        XCTAssertEqual(c.material, "ws2")
        XCTAssertEqual(c.frameTime, 0.5)
        XCTAssertEqual(c.kinetics.lag, 2)
        XCTAssertEqual(c.kinetics.maxGap, Kinetics.Options().maxGap)
        XCTAssertEqual(c.finder, AtomFinder.Options())

        XCTAssertThrowsError(try AnalysisConfig.decode(Data(#"{"movie": "m.tif", "kinetics": {"lagg": 2}}"#.utf8))) {
            XCTAssertEqual("\($0)", "unknown setting 'kinetics.lagg'")
        }
        XCTAssertThrowsError(try AnalysisConfig.decode(Data(#"{"movie": "m.tif", "frameTime": "fast"}"#.utf8)))
        XCTAssertThrowsError(try AnalysisConfig.decode(Data("[1, 2]".utf8)))
    }

    /// The lattice drift measured from a bounded patch of each frame matches the drift we impose.
    func testLatticeDriftFromACentralSample() throws {
        var options = Kinetics.Options()
        options.driftAtomsPerFrame = 300
        let kinetics = Kinetics(options: options, calibration: Calibration(pixelSize: 0.2, pixelSizeSource: .flag), columnSpacingPixels: 10)
        let width = 600, height = 600
        var truth: [(Double, Double)] = [(0, 0)]
        for t in 1..<20 { truth.append((truth[t - 1].0 + 0.7 * sin(Double(t)), truth[t - 1].1 - 0.4)) }
        var samples: [[FrameAtom]] = []
        for (t, d) in truth.enumerated() {
            var atoms: [FrameAtom] = []
            for i in 0..<60 { for j in 0..<60 {
                let x = Double(i) * 10 + d.0, y = Double(j) * 10 + d.1
                if x >= 0, x < Double(width), y >= 0, y < Double(height) {
                    atoms.append(FrameAtom(frame: t, x: x, y: y, classIndex: 0, score: 1, border: false))
                }
            } }
            let sample = kinetics.driftSample(atoms, width: width, height: height)
            XCTAssertEqual(sample.count, 300)
            let centre = Double(width - 1) / 2
            XCTAssertTrue(sample.allSatisfy { hypot($0.x - centre, $0.y - centre) < 120 }, "the sample is the central patch")
            samples.append(sample)
        }
        let drift = try kinetics.latticeDrift(samples).drift
        XCTAssertEqual(drift.count, truth.count)
        for (d, t) in zip(drift, truth) {
            XCTAssertEqual(d.dx, t.0, accuracy: 1e-9, "frame \(d.frame)")
            XCTAssertEqual(d.dy, t.1, accuracy: 1e-9, "frame \(d.frame)")
        }
    }
}

/// A small simulated WS2 movie (128², 6 defects) and a configuration for the shipped WS2 model.
func smallWS2Analysis(in root: URL, frames: Int = 24) throws -> AnalysisConfig {
    let model = packageRoot.appendingPathComponent("Models/tmd-ws2")
    guard FileManager.default.fileExists(atPath: model.appendingPathComponent("model.safetensors").path) else {
        throw XCTSkip("shipped model tmd-ws2 not present")
    }
    var recipe = try Recipe.decode(Data(contentsOf: packageRoot.appendingPathComponent("TrainingData/movie-ws2.json")))
    recipe.seed = 7
    recipe.width = 128; recipe.height = 128
    recipe.movie?.frames = frames
    recipe.movie?.count = 6
    let movieDir = root.appendingPathComponent("movie")
    try FileManager.default.createDirectory(at: movieDir, withIntermediateDirectories: true)
    _ = try SimulationExport.writeMovie(recipe: recipe, to: movieDir, progress: false)
    var config = AnalysisConfig(movie: movieDir.appendingPathComponent(SimulationExport.movieFile).path)
    config.model = model.path
    config.kinetics.minTrackLength = 3
    return config
}
