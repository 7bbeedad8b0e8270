import Core
import Foundation
import MicroscopyIO
import Pipeline
import XCTest

/// `class_prob` through the CLI: `calibrate` refuses bad options in one line and leaves the card as
/// it was, fits into a copy of the shipped WS2 model (card only, weights untouched), and `locate`
/// writes the column with that model.
extension CommandLineTests {
    /// A copy of a shipped model in a temp folder.
    func modelCopy(_ name: String = "tmd-ws2") throws -> URL {
        let source = repositoryRoot.appendingPathComponent("Models/\(name)")
        guard FileManager.default.fileExists(atPath: source.appendingPathComponent(TrainedModel.weightsFile).path) else {
            throw XCTSkip("shipped model \(name) not present")
        }
        let copy = try reliabilityTempDir(self).appendingPathComponent(name)
        try FileManager.default.createDirectory(at: copy, withIntermediateDirectories: true)
        for f in [TrainedModel.weightsFile, TrainedModel.cardFile] {
            try FileManager.default.copyItem(at: source.appendingPathComponent(f), to: copy.appendingPathComponent(f))
        }
        return copy
    }

    func testCalibrateRefusesBadOptionsInOneLine() throws {
        let model = try modelCopy(), card = model.appendingPathComponent(TrainedModel.cardFile)
        let before = try Data(contentsOf: card)
        let recipe = repositoryRoot.appendingPathComponent("TrainingData/tmd-ws2.json").path
        let runs: [([String], String)] = [
            (["--frames", "0"], "--frames"),
            (["--dose=-1"], "--dose"),
            (["--dose", "nan"], "--dose"),
            (["--bins", "0"], "--bins"),
            (["--samples", "/nonexistent-dir/samples.csv"], "--samples"),
        ]
        for (arguments, text) in runs {
            assertOneLineError(try atomtrack(["calibrate", "--model", model.path, "--recipe", recipe] + arguments), mentioning: text)
        }
        let graphene = repositoryRoot.appendingPathComponent("TrainingData/graphene-si.json").path
        assertOneLineError(try atomtrack(["calibrate", "--model", model.path, "--recipe", graphene, "--frames", "1"]), mentioning: "classes")
        assertOneLineError(try atomtrack(["calibrate", "--model", model.path, "--recipe", "/nonexistent.json"]), mentioning: "nonexistent")
        XCTAssertEqual(try Data(contentsOf: card), before, "a refused calibrate left the card as it was")
    }

    /// One graphene frame at 10⁴ e/Å² (where some atoms are wrong, so the temperature is
    /// determined): the fit runs end to end, stores a temperature and its held-out check in the
    /// card, and the position-σ laws; keeps the weights byte for byte; `locate` then reports
    /// class_prob in (0, 1] and a sigma_px that is the raw σ (the same atoms located before the
    /// calibration) through one of the card's laws for the atom's class.
    func testCalibrateWritesTheCardAndLocateWritesClassProbability() throws {
        let model = try modelCopy("graphene-si")
        let weights = try Data(contentsOf: model.appendingPathComponent(TrainedModel.weightsFile))
        let dir = model.deletingLastPathComponent(), movie = dir.appendingPathComponent("sim")
        let simulated = try atomtrack(["simulate", "--recipe", repositoryRoot.appendingPathComponent("TrainingData/movie-graphene-si.json").path,
                                       "--out", movie.path, "--frames", "1", "--quiet"])
        XCTAssertEqual(simulated.status, 0, simulated.stderr)
        func locate(_ name: String) throws -> CSVTable {
            let out = dir.appendingPathComponent(name)
            let located = try atomtrack(["locate", movie.appendingPathComponent("movie.tif").path, "--model", model.path, "--out", out.path, "--quiet"])
            XCTAssertEqual(located.status, 0, located.stderr)
            return try CSVTable(url: out.appendingPathComponent("atoms.csv"))
        }
        var uncalibrated = try ModelCard.load(model.appendingPathComponent(TrainedModel.cardFile))
        uncalibrated.classCalibration = nil; uncalibrated.positionCalibration = nil
        try uncalibrated.jsonData().write(to: model.appendingPathComponent(TrainedModel.cardFile))
        let raw = try locate("raw")

        let recipe = repositoryRoot.appendingPathComponent("TrainingData/graphene-si.json").path
        let samples = dir.appendingPathComponent("samples.csv")
        let run = try atomtrack(["calibrate", "--model", model.path, "--recipe", recipe, "--frames", "1", "--dose", "1e4", "--quiet",
                                 "--samples", samples.path])
        XCTAssertEqual(run.status, 0, run.stderr)
        // --samples: every matched atom of the σ fit and check frames, one row each.
        let dump = try CSVTable(url: samples)
        XCTAssertEqual(dump.header, ["set", "dose", "item", "class", "kind", "raw_px", "spacing_px", "frame_signal", "class_sigma",
                                     "score", "class_prob", "fit_sigma_px", "dx", "dy"])
        XCTAssertEqual(Set(dump.rows.map { $0[0] }), ["fit", "held"])
        XCTAssertGreaterThan(dump.rows.count, 200)
        let card = try ModelCard.load(model.appendingPathComponent(TrainedModel.cardFile))
        let calibration = try XCTUnwrap(card.classCalibration)
        XCTAssertTrue((0.05...20).contains(calibration.temperature), "\(calibration.temperature)")
        XCTAssertEqual(calibration.heldOut.map(\.dose), [1e4])
        XCTAssertNil(calibration.contrastAtoms, "graphene has no class split by contrast")
        XCTAssertGreaterThan(calibration.atoms, 100)
        let positions = try XCTUnwrap(card.positionCalibration)
        XCTAssertGreaterThan(positions.atoms, 100)
        XCTAssertTrue(positions.laws.contains { $0.outputClass == "C" }, "\(positions.laws)")
        XCTAssertEqual(Set(positions.heldOut.compactMap(\.dose)), [1e4])
        XCTAssertEqual(try Data(contentsOf: model.appendingPathComponent(TrainedModel.weightsFile)), weights)

        let table = try locate("located")
        XCTAssertEqual(table.header.last, "class_prob")
        let probabilities = table.rows.compactMap { Double($0[table.header.count - 1]) }
        XCTAssertEqual(probabilities.count, table.rows.count, "every atom has a class_prob")
        XCTAssertGreaterThan(probabilities.count, 500)
        XCTAssertTrue(probabilities.allSatisfy { $0 > 0 && $0 <= 1 })
        // sigma_px: the same atoms as before the calibration, each σ its raw σ through the law of its
        // class and kind with the frame's features, found here from the uncalibrated finder's atoms in process.
        XCTAssertEqual(table.rows.count, raw.rows.count)
        let s = try XCTUnwrap(table.header.firstIndex(of: "sigma_px"))
        var rawCard = card
        rawCard.positionCalibration = nil
        let finder = try AtomFinder(model: TrainedModel(directory: model, card: rawCard, network: TrainedModel(at: model).network))
        let movieFile = try Movie.open(movie.appendingPathComponent("movie.tif")), frame = try movieFile.frame(0)
        var atoms = try finder.atoms(in: frame.pixels, width: frame.width, height: frame.height, pixelSize: movieFile.pixelSizeA)
        XCTAssertEqual(atoms.count, table.rows.count)
        let spacing = card.columnSpacingPixels(pixelSize: movieFile.pixelSizeA)
        let signal = FrameSignal.logSignalToNoise(atoms: atoms, frame: frame.pixels, width: frame.width, height: frame.height, columnSpacingPixels: spacing)
        PositionSigma(outputClasses: finder.outputClasses, calibration: positions).apply(&atoms, frameSignal: signal, columnSpacingPixels: spacing)
        var changed = 0
        for ((after, before), atom) in zip(zip(table.rows, raw.rows), atoms) {
            guard let r = Double(before[s]) else { XCTAssertEqual(after[s], "", "no σ before, none after"); continue }
            let sigma = try XCTUnwrap(Double(after[s])), expected = try XCTUnwrap(atom.positionSigma)
            XCTAssertEqual(sigma, expected, accuracy: 5.1e-5, "raw \(r)")
            if abs(sigma - r) > 1e-3 { changed += 1 }
        }
        XCTAssertGreaterThan(changed, table.rows.count / 2, "the calibration changes σ")
    }
}
