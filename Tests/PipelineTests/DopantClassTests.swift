import Core
import Foundation
import Localization
import Pipeline
import Simulation
import XCTest

/// Mo as its own class through `locate` (atoms.csv), with `--merge-dopants` keeping `W+Mo`: one
/// output class list (`OutputClasses`) names the classes everywhere.
final class DopantClassTests: XCTestCase {
    func model(_ name: String) throws -> TrainedModel {
        let dir = packageRoot.appendingPathComponent("Models/\(name)")
        guard FileManager.default.fileExists(atPath: dir.appendingPathComponent("model.safetensors").path) else {
            throw XCTSkip("shipped model \(name) not present")
        }
        return try TrainedModel(at: dir)
    }

    func testOutputClassesSplitMoOffWAndKeepTheBackgroundLast() throws {
        let ws2 = try model("tmd-ws2").card, graphene = try model("graphene-si").card
        XCTAssertEqual(ws2.classes.map(\.symbol), ["W+Mo", "S", "background"])
        let split = OutputClasses(card: ws2, mergeDopants: false)
        XCTAssertEqual(split.symbols, ["W", "S", "Mo", "background"])
        XCTAssertEqual(split.dopant?.mergedClass, 0)
        XCTAssertEqual(split.dopant?.lightClass, 2)
        XCTAssertEqual(split.atomClasses, 0..<3)
        XCTAssertEqual(split.classIndex(ofElement: "Mo", card: ws2), 2)
        XCTAssertEqual(split.classIndex(ofElement: "W", card: ws2), 0)
        XCTAssertEqual(OutputClasses(card: ws2, mergeDopants: true).symbols, ["W+Mo", "S", "background"])
        XCTAssertEqual(OutputClasses(card: ws2, mergeDopants: true).classIndex(ofElement: "Mo", card: ws2), 0)
        // Graphene's Si is a network class of its own: nothing to split, and nothing to merge.
        XCTAssertEqual(OutputClasses(card: graphene, mergeDopants: false).symbols, ["C", "Si", "background"])
        var merge = AtomFinder.Options()
        merge.mergeDopants = true
        XCTAssertThrowsError(try AtomFinder(model: model("graphene-si"), options: merge)) { error in
            XCTAssertTrue("\(error)".contains("--merge-dopants"), "\(error)")
        }
    }

    /// 4 simulated WS2 frames of 160² px at 0.2 Å/px (the movie recipe: 6 Mo dopants each, 24 in
    /// all) at 10⁵ e/Å², through `locate` into atoms.csv: the `Mo` rows match the true Mo
    /// (interior, within 0.4 column distances) with F1 ≥ 0.95; with `mergeDopants` the table holds
    /// `W+Mo` and no `Mo`, as many metal atoms as W and Mo together.
    func testLocateWritesMoAsItsOwnClass() throws {
        let ws2 = try model("tmd-ws2")
        let root = try temporaryDirectory("dopant-class")
        defer { try? FileManager.default.removeItem(at: root) }
        var recipe = try Recipe.decode(Data(contentsOf: packageRoot.appendingPathComponent("TrainingData/movie-ws2.json")))
        recipe.seed = 11250
        recipe.width = 160; recipe.height = 160
        recipe.movie?.frames = 4
        let movieDir = root.appendingPathComponent("movie")
        try FileManager.default.createDirectory(at: movieDir, withIntermediateDirectories: true)
        _ = try SimulationExport.writeMovie(recipe: recipe, to: movieDir, progress: false)
        let moviePath = movieDir.appendingPathComponent(SimulationExport.movieFile).path

        var counts: [Bool: [String: Int]] = [:]
        for merged in [false, true] {
            var options = AtomFinder.Options()
            options.mergeDopants = merged
            let input = try MovieInput(path: moviePath, finder: AtomFinder(model: ws2, options: options), pixelSize: nil)
            let out = root.appendingPathComponent(merged ? "merged" : "split")
            try FileManager.default.createDirectory(at: out, withIntermediateDirectories: true)
            _ = try MovieLocator.locate(input, frames: 0..<4, overlays: [0], to: out, progress: false)
            let table = try CSVTable(url: out.appendingPathComponent(AtomTable.fileName))
            let c = try table.column("class")
            counts[merged] = Dictionary(grouping: table.rows, by: { $0[c] }).mapValues(\.count)
            guard !merged else { continue }
            let atoms = try AtomTable(classSymbols: input.atomSymbols, pixelSize: nil)
                .read(out.appendingPathComponent(AtomTable.fileName), frameCount: 4)
            let f1 = try moF1(atoms, truth: movieDir.appendingPathComponent("truth_atoms.csv"), moClass: 2,
                              radius: 0.4 * ws2.card.columnSpacingPixels(pixelSize: 0.2), side: 160)
            print(String(format: "Mo through locate at 10^5: TP %d FP %d FN %d, F1 %.3f", f1.tp, f1.fp, f1.fn, f1.f1))
            XCTAssertGreaterThanOrEqual(f1.tp + f1.fn, 20, "at least 20 true Mo in the interior")
            XCTAssertGreaterThanOrEqual(f1.f1, 0.95)
        }
        let split = try XCTUnwrap(counts[false]), merged = try XCTUnwrap(counts[true])
        XCTAssertEqual(Set(split.keys), ["W", "S", "Mo"])
        XCTAssertEqual(Set(merged.keys), ["W+Mo", "S"])
        XCTAssertEqual((split["W"] ?? 0) + (split["Mo"] ?? 0), merged["W+Mo"], "the split only renames metal atoms")
        XCTAssertEqual(split["S"], merged["S"])
    }

    /// Mo detection scores of atoms.csv rows against truth_atoms.csv, atoms and truth more than
    /// 3 px inside the frame.
    func moF1(_ atoms: [[FrameAtom]], truth url: URL, moClass: Int, radius: Double, side: Int)
        throws -> (tp: Int, fp: Int, fn: Int, f1: Double) {
        let table = try CSVTable(url: url)
        let f = try table.column("frame"), x = try table.column("x"), y = try table.column("y"), c = try table.column("class")
        let inside = { (x: Double, y: Double) in min(x, y) >= 3 && max(x, y) <= Double(side - 4) }
        var tp = 0, fp = 0, fn = 0
        for frame in atoms.indices {
            let truth = table.rows.filter { Int($0[f]) == frame && $0[c] == "Mo" }
                .map { ReferencePoint(x: Double($0[x])!, y: Double($0[y])!, classIndex: moClass) }.filter { inside($0.x, $0.y) }
            let found = atoms[frame].filter { $0.classIndex == moClass && inside($0.x, $0.y) }
                .map { ReferencePoint(x: $0.x, y: $0.y, classIndex: moClass) }
            let m = try evaluateDetections(found, reference: truth, radius: radius).total
            tp += m.truePositives; fp += m.falsePositives; fn += m.falseNegatives
        }
        return (tp, fp, fn, DetectionMetrics.scores(truePositives: tp, falsePositives: fp, falseNegatives: fn).f1)
    }
}

extension CommandLineTests {
    /// `--merge-dopants` with a model that has nothing to merge is refused in one line before OUT
    /// exists (`locate` and `analyze`); the setting is recorded in config.json as `finder.mergeDopants`.
    func testMergeDopantsIsValidatedAndRecorded() throws {
        let dir = try reliabilityTempDir(self)
        let movie = try smallMovie(in: dir)
        for command in ["locate", "analyze"] {
            let out = dir.appendingPathComponent("out-\(command)")
            assertOneLineError(try atomtrack([command, movie.path, "--material", "graphene", "--merge-dopants", "--out", out.path]),
                               mentioning: "--merge-dopants")
            XCTAssertFalse(FileManager.default.fileExists(atPath: out.path), "\(command): OUT created")
        }
        var config = AnalysisConfig(movie: movie.path)
        config.finder.mergeDopants = true
        let json = try JSONSerialization.jsonObject(with: JSONEncoder().encode(config)) as? [String: Any]
        XCTAssertEqual((json?["finder"] as? [String: Any])?["mergeDopants"] as? Bool, true)
        let reread = try AnalysisConfig.decode(JSONEncoder().encode(config))
        XCTAssertTrue(reread.finder.mergeDopants)
        XCTAssertFalse(try AnalysisConfig.decode(Data(#"{"movie": "m.tif"}"#.utf8)).finder.mergeDopants, "older files: split")
    }
}
