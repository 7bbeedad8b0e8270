import Core
import Foundation
import Localization
import MicroscopyIO
import Pipeline
import Simulation
import XCTest

/// End to end on a simulated WS2 movie whose truth we set: the shipped model, the defect
/// library, the tracks and the Markov model against the simulator's ground truth.
final class AnalysisTests: XCTestCase {
    func shippedModel(_ name: String) throws -> URL {
        let dir = packageRoot.appendingPathComponent("Models/\(name)")
        guard FileManager.default.fileExists(atPath: dir.appendingPathComponent("model.safetensors").path) else {
            throw XCTSkip("shipped model \(name) not present")
        }
        return dir
    }

    /// A simulated WS2 movie (the shipped recipe, `side`² px) in root/movie, and an empty root/analysis.
    func simulatedWS2Movie(in root: URL, seed: UInt64, side: Int, frames: Int,
                           defects: Int? = nil) throws -> (movieDir: URL, out: URL, truth: MovieTruth) {
        var recipe = try Recipe.decode(Data(contentsOf: packageRoot.appendingPathComponent("TrainingData/movie-ws2.json")))
        recipe.seed = seed
        recipe.width = side; recipe.height = side
        recipe.movie?.frames = frames
        if let defects { recipe.movie?.count = defects }
        let movieDir = root.appendingPathComponent("movie"), out = root.appendingPathComponent("analysis")
        try FileManager.default.createDirectory(at: movieDir, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(at: out, withIntermediateDirectories: true)
        return (movieDir, out, try SimulationExport.writeMovie(recipe: recipe, to: movieDir, progress: false))
    }

    func testAnalyzeRecoversAtomsDefectClassesAndTransitions() throws {
        let root = try temporaryDirectory("analyze")
        defer { try? FileManager.default.removeItem(at: root) }
        // Its own seed, so the movie does not change when the shipped recipe's seed does; checked to
        // classify ≥ 96 % of defects right for seeds 1–3 (enough defects for a stable BIC choice).
        let (movieDir, out, truth) = try simulatedWS2Movie(in: root, seed: 1, side: 192, frames: 50, defects: 5)

        var config = AnalysisConfig(movie: movieDir.appendingPathComponent(SimulationExport.movieFile).path)
        config.model = try shippedModel("tmd-ws2").path
        config.frameTime = truth.summary.frameTimeS
        var analysis = Analysis(config: config, output: out)
        analysis.progress = false
        let summary = try analysis.run()

        for file in ["atoms.csv", "defects.csv", "library.json", "trajectories.csv", "drift.csv", "diffusion.csv",
                     "markov.json", "summary.json", "config.json", "report.html", "overlay_0000.png"] {
            XCTAssertTrue(FileManager.default.fileExists(atPath: out.appendingPathComponent(file).path), "missing \(file)")
        }
        // Atoms of frame 0 against the truth (columns; S2 listed as two S atoms).
        let evaluation = ModelEvaluation(finder: try AtomFinder(model: TrainedModel(at: URL(fileURLWithPath: config.model!))))
        let rows = try evaluation.evaluate(directory: movieDir, doses: [], progress: false)
        for r in rows { XCTAssertGreaterThan(r.f1, 0.98, "\(r.className): F1 \(r.f1)") }

        // Defect classes name the true states, and the transitions come out as a stochastic matrix.
        let comparison = try TruthComparison(truthDir: movieDir, analysisDir: out, summary: summary, radius: 1.5 / summary.pixelSizeA)
        XCTAssertGreaterThan(comparison.matchedInstances, 80)
        XCTAssertGreaterThan(comparison.classAccuracy, 0.85)
        let t = try XCTUnwrap(summary.transitionMatrix)
        for row in t { XCTAssertEqual(row.reduce(0, +), 1, accuracy: 1e-9) }
        let html = try String(contentsOf: out.appendingPathComponent("report.html"), encoding: .utf8)
        for section in ["Atoms in the first frame", "Defect library", "Trajectories", "Diffusion", "Transitions", "Drift"] {
            XCTAssertTrue(html.contains(section), "report lacks \(section)")
        }
    }

    /// A frame with NaN pixels is skipped with a warning (no atoms, no defects) instead of
    /// failing the run; a movie without calibration says that its pixel size and frame time were assumed.
    func testFrameWithNaNPixelsIsSkipped() throws {
        let root = try temporaryDirectory("analyze-nan")
        defer { try? FileManager.default.removeItem(at: root) }
        let (movieDir, out, _) = try simulatedWS2Movie(in: root, seed: 7, side: 128, frames: 8)
        let movie = try Movie.open(movieDir.appendingPathComponent(SimulationExport.movieFile))
        var frames = try (0..<movie.frameCount).map { try movie.frame($0) }
        frames[3].pixels[100] = .nan
        let npy = root.appendingPathComponent("movie.npy")   // NPY: no calibration
        try NPYFile.write(frames: frames.map { try GrayImage(width: $0.width, height: $0.height, pixels: $0.pixels) }, to: npy)

        var config = AnalysisConfig(movie: npy.path)
        config.model = try shippedModel("tmd-ws2").path
        var analysis = Analysis(config: config, output: out)
        analysis.progress = false
        let summary = try analysis.run()

        XCTAssertEqual(summary.frames, 8)
        XCTAssertEqual(summary.pixelSizeSource, "assumed (model's trained pixel size)")
        XCTAssertEqual(summary.frameTimeSource, "assumed")
        XCTAssertEqual(summary.frameTimeS, 1)
        let atoms = try CSVTable(url: out.appendingPathComponent("atoms.csv"))
        let frameColumn = try atoms.column("frame")
        XCTAssertFalse(atoms.rows.contains { $0[frameColumn] == "3" }, "the NaN frame has no atoms")
        XCTAssertTrue(atoms.rows.contains { $0[frameColumn] == "4" })
    }

    /// The independent multislice frames (never used for training): WS2 columns found at 10⁵ e/Å².
    func testShippedWS2ModelOnValidationFrames() throws {
        let validation = packageRoot.deletingLastPathComponent().appendingPathComponent("shared/validation")
        guard FileManager.default.fileExists(atPath: validation.appendingPathComponent("ws2-0.npy").path) else {
            throw XCTSkip("../shared/validation is absent")
        }
        let evaluation = ModelEvaluation(finder: try AtomFinder(model: TrainedModel(at: try shippedModel("tmd-ws2"))))
        let rows = try evaluation.evaluate(directory: validation, doses: [1e5], progress: false)
        XCTAssertEqual(Set(rows.map(\.className)), ["W+Mo", "S"])
        for r in rows { XCTAssertGreaterThan(r.f1, 0.99, "\(r.className) F1 \(r.f1)") }
    }

    func testMissingModelIsAClearError() {
        XCTAssertThrowsError(try TrainedModel(at: URL(fileURLWithPath: "/nonexistent/model"))) { error in
            XCTAssertEqual("\(error)", "/nonexistent/model: model file not found")
        }
    }
}
