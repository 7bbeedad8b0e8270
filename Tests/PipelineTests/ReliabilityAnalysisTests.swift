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
}
