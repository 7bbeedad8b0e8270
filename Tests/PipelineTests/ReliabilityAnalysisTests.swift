import Foundation
import MicroscopyIO
import Pipeline
import Tracking
import XCTest

/// Rows of the bad-input table for `analyze` and its stages that need no network run.
final class ReliabilityAnalysisTests: XCTestCase {
    var ws2Model: String { repositoryRoot.appendingPathComponent("Models/tmd-ws2").path }

    func testMissingMovieIsNamed() throws {
        let dir = try reliabilityTempDir(self)
        var config = AnalysisConfig(movie: dir.appendingPathComponent("nope.tif").path)
        config.model = ws2Model
        XCTAssertThrowsError(try Analysis(config: config, output: dir).run()) {
            XCTAssertEqual("\($0)", dir.appendingPathComponent("nope.tif").path + ": no such file")
        }
    }

    func testFirstFrameOutsideTheMovie() throws {
        guard FileManager.default.fileExists(atPath: ws2Model + "/model.safetensors") else { throw XCTSkip("shipped model absent") }
        let dir = try reliabilityTempDir(self)
        let movie = dir.appendingPathComponent("m.npy")
        let frame = try GrayImage(width: 32, height: 32, pixels: (0..<1024).map { Float($0 % 7) })
        try NPYFile.write(frames: [frame, frame, frame], to: movie)
        var config = AnalysisConfig(movie: movie.path)
        config.model = ws2Model
        config.firstFrame = 3
        let out = dir.appendingPathComponent("out")
        try FileManager.default.createDirectory(at: out, withIntermediateDirectories: true)
        XCTAssertThrowsError(try Analysis(config: config, output: out).run()) {
            XCTAssertEqual("\($0)", "first frame 3 is outside the movie's 3 frames")
        }
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: out.path), [], "nothing written")
    }

    func testModelChoiceErrors() {
        XCTAssertThrowsError(try ShippedModels.resolve(model: nil, material: "unobtainium")) {
            XCTAssertEqual("\($0)", "unknown material 'unobtainium'; shipped models: graphene-si, ws2")
        }
        XCTAssertThrowsError(try ShippedModels.resolve(model: nil, material: nil)) {
            XCTAssertEqual("\($0)", "give --model DIR or --material (graphene-si, ws2)")
        }
    }

    func testTooFewDefectsToClassify() {
        let collector = DefectCollector(options: .init(), pixelSize: 0.2, columnSpacing: 1.84, classSymbols: ["W+Mo", "S", ""])
        XCTAssertThrowsError(try collector.classify()) {
            XCTAssertEqual("\($0)", "defect library: 0 defect crop(s) in 0 frames — too few to classify")
        }
    }

    func testNoDetectionsGiveNoTracks() throws {
        let r = try Tracker.track([], options: TrackingOptions(maxDistance: 2))
        XCTAssertTrue(r.tracks.isEmpty)
        XCTAssertTrue(r.drift.isEmpty)
    }

    /// Settings that would trap or are not physical, from flags or a `--config` file, are refused by
    /// `AnalysisConfig.validate` with the setting's name, before anything is written (no model or
    /// movie needed: validation comes first).
    func testImpossibleSettingsAreRefusedBeforeAnythingIsWritten() throws {
        let dir = try reliabilityTempDir(self)
        let out = dir.appendingPathComponent("out")
        try FileManager.default.createDirectory(at: out, withIntermediateDirectories: true)
        let cases: [(String, (inout AnalysisConfig) -> Void)] = [
            ("pixelSize", { $0.pixelSize = 0 }), ("pixelSize", { $0.pixelSize = 1e-30 }), ("pixelSize", { $0.pixelSize = .nan }),
            ("frameTime", { $0.frameTime = .infinity }), ("firstFrame", { $0.firstFrame = -1 }),
            ("frameCount", { $0.frameCount = -5 }), ("frameCount", { $0.frameCount = 0 }),
            ("overlayFrames", { $0.overlayFrames = [-1] }),
            ("finder.tile", { $0.finder.tile = 0 }), ("finder.tile", { $0.finder.tile = -256 }), ("finder.tile", { $0.finder.tile = 7 }),
            ("finder.threshold", { $0.finder.threshold = 2 }),
            ("finder.batchSize", { $0.finder.batchSize = 0 }), ("finder.overlap", { $0.finder.overlap = -1 }),
            ("finder.threshold", { $0.finder.threshold = .nan }), ("finder.pixelSizeTolerance", { $0.finder.pixelSizeTolerance = .infinity }),
            ("defects.cropSizeA", { $0.defects.cropSizeA = .nan }), ("defects.cropSizeA", { $0.defects.cropSizeA = 1e300 }),
            ("defects.maxClasses", { $0.defects.maxClasses = -1 }), ("defects.pcaComponents", { $0.defects.pcaComponents = 0 }),
            ("defects.intensityZ", { $0.defects.intensityZ = .nan }), ("defects.minorityFraction", { $0.defects.minorityFraction = -1 }),
            ("kinetics.driftAtomsPerFrame", { $0.kinetics.driftAtomsPerFrame = -5 }), ("kinetics.lag", { $0.kinetics.lag = 0 }),
            ("kinetics.maxGap", { $0.kinetics.maxGap = -1 }), ("kinetics.minTrackLength", { $0.kinetics.minTrackLength = -2 }),
            ("kinetics.bootstrapSamples", { $0.kinetics.bootstrapSamples = -1 }), ("kinetics.maxStepColumns", { $0.kinetics.maxStepColumns = .nan }),
        ]
        for (name, change) in cases {
            var config = AnalysisConfig(movie: dir.appendingPathComponent("never-opened.tif").path)
            config.model = ws2Model
            change(&config)
            XCTAssertThrowsError(try Analysis(config: config, output: out).run(), name) {
                XCTAssertTrue("\($0)".hasPrefix(name + " ") && "\($0)".contains("is invalid"), "\($0)")
                XCTAssertFalse("\($0)".contains("\n"))
            }
            XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: out.path), [], "\(name): nothing written")
        }
        // The same settings in a --config file.
        let json = Data(#"{"movie": "m.tif", "material": "ws2", "kinetics": {"driftAtomsPerFrame": -5}}"#.utf8)
        XCTAssertThrowsError(try AnalysisConfig.decode(json).validate()) {
            XCTAssertEqual("\($0)", "kinetics.driftAtomsPerFrame -5 is invalid: expected ≥ 1")
        }
        XCTAssertNoThrow(try AnalysisConfig(movie: "m.tif").validate(), "the defaults are valid")
        // A tile the network cannot take whole (the WS2 U-Net halves 3 times) is refused when the
        // model is loaded, not rounded to another tile silently.
        var options = AtomFinder.Options()
        options.tile = 100
        XCTAssertThrowsError(try AtomFinder(model: TrainedModel(at: URL(fileURLWithPath: ws2Model)), options: options)) {
            XCTAssertEqual("\($0)", "finder.tile 100 is invalid: expected a multiple of 8 px (the network's size divisor), 8–8192")
        }
    }

    /// A NaN or infinite position in atoms.csv names the file and line; `classify`'s crop size
    /// must be a positive, finite size that is at most 1024 px wide.
    func testNaNAtomsAndImpossibleCropSizesAreRefused() throws {
        let dir = try reliabilityTempDir(self)
        let table = dir.appendingPathComponent("atoms.csv")
        for bad in ["nan,2", "1,inf", "-inf,3"] {
            try Data("frame,x,y,class\n0,1,1,A\n1,\(bad),A\n".utf8).write(to: table)
            XCTAssertThrowsError(try AtomTable(classSymbols: ["A"], pixelSize: nil).read(table, frameCount: 2)) {
                XCTAssertTrue("\($0)".hasPrefix(table.path + ": line 3: x and y must be finite numbers"), "\($0)")
            }
        }
        for size in [Double.nan, .infinity, 0, -4.5, 1e300] {
            var o = DefectCollector.Options()
            o.cropSizeA = size
            XCTAssertThrowsError(try o.validate(pixelSize: 0.2)) { XCTAssertTrue("\($0)".hasPrefix("cropSizeA"), "\($0)") }
        }
        var wide = DefectCollector.Options()
        wide.cropSizeA = 200
        XCTAssertThrowsError(try wide.validate(pixelSize: 0.1)) { XCTAssertTrue("\($0)".contains("2000 px wide"), "\($0)") }
        XCTAssertNoThrow(try DefectCollector.Options().validate(pixelSize: 0.006), "the smallest pixel size the finder accepts")
    }
}
