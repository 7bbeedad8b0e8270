import Core
import Foundation
import Pipeline
import Simulation
import XCTest

/// `analyze --voids` on a simulated WS2 movie whose holes grow: voids.csv against the simulator's
/// truth_voids.csv; without the flag no voids.csv is written.
final class VoidsAnalysisTests: XCTestCase {
    func testAnalyzeMeasuresGrowingHolesOnlyWhenAsked() throws {
        let model = packageRoot.appendingPathComponent("Models/tmd-ws2")
        guard FileManager.default.fileExists(atPath: model.appendingPathComponent("model.safetensors").path) else {
            throw XCTSkip("shipped model tmd-ws2 not present")
        }
        let root = try temporaryDirectory("voids")
        defer { try? FileManager.default.removeItem(at: root) }
        var recipe = try Recipe.decode(Data(contentsOf: packageRoot.appendingPathComponent("TrainingData/movie-ws2-holes.json")))
        recipe.width = 256; recipe.height = 256
        recipe.movie?.frames = 4
        let movieDir = root.appendingPathComponent("movie")
        try FileManager.default.createDirectory(at: movieDir, withIntermediateDirectories: true)
        _ = try SimulationExport.writeMovie(recipe: recipe, to: movieDir, progress: false)

        func analyze(voids: Bool) throws -> URL {
            let out = root.appendingPathComponent(voids ? "with" : "without")
            try FileManager.default.createDirectory(at: out, withIntermediateDirectories: true)
            var config = AnalysisConfig(movie: movieDir.appendingPathComponent(SimulationExport.movieFile).path)
            config.model = model.path
            config.frameTime = 1
            config.voids = voids
            var analysis = try Analysis(config: config, output: out)
            analysis.progress = false
            _ = try analysis.run()
            return out
        }
        let without = try analyze(voids: false)
        XCTAssertFalse(FileManager.default.fileExists(atPath: without.appendingPathComponent(VoidTable.fileName).path))

        let out = try analyze(voids: true)
        let measured = try CSVTable(url: out.appendingPathComponent(VoidTable.fileName))
        let truth = try CSVTable(url: movieDir.appendingPathComponent("truth_voids.csv"))
        let (tFrame, tArea) = (try truth.column("frame"), try truth.column("area_A2"))
        var truthArea: [Int: Double] = [:]
        for row in truth.rows { truthArea[Int(row[tFrame])!, default: 0] += Double(row[tArea])! }
        let (mFrame, mArea) = (try measured.column("frame"), try measured.column("vacuum_area_A2"))
        XCTAssertEqual(measured.rows.count, 4)
        for row in measured.rows {
            let frame = Int(row[mFrame])!, area = Double(row[mArea])!
            let expected = try XCTUnwrap(truthArea[frame])
            XCTAssertEqual(area, expected, accuracy: 0.05 * expected, "frame \(frame)")
        }
    }
}
