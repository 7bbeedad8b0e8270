import Core
import Foundation
import Pipeline
import XCTest

/// A defect library built on one simulated movie, applied to a second movie of the same recipe
/// (another seed): its defects land in the classes that hold their true state in the first movie.
extension AnalysisTests {
    func testLibraryFromOneMovieClassifiesTheNext() throws {
        let model = try shippedModel("tmd-ws2").path
        let root = try temporaryDirectory("library-reuse")
        defer { try? FileManager.default.removeItem(at: root) }

        func analyze(seed: UInt64, library: String?) throws -> (movieDir: URL, out: URL, summary: AnalysisSummary) {
            let (movieDir, out, truth) = try simulatedWS2Movie(in: root.appendingPathComponent("seed\(seed)"), seed: seed,
                                                               side: 192, frames: 20, defects: 10)
            var config = AnalysisConfig(movie: movieDir.appendingPathComponent(SimulationExport.movieFile).path)
            config.model = model
            config.frameTime = truth.summary.frameTimeS
            if let library { config.defects = try config.defects.using(library: library) }
            var analysis = try Analysis(config: config, output: out)
            analysis.progress = false
            return (movieDir, out, try analysis.run())
        }
        let built = try analyze(seed: 2, library: nil)
        let libraryFile = built.out.appendingPathComponent("library.json").path
        let applied = try analyze(seed: 3, library: libraryFile)
        XCTAssertFalse(FileManager.default.fileExists(atPath: applied.out.appendingPathComponent("library.json").path),
                       "an applied library is not written again")

        // A movie at another pixel size, or read by a model of other atom classes, is refused by name.
        let options = try DefectCollector.Options().using(library: libraryFile)
        XCTAssertThrowsError(try options.validate(pixelSize: 0.3)) { XCTAssert("\($0)".contains("more than 5 % apart"), "\($0)") }
        XCTAssertThrowsError(try options.validate(pixelSize: built.summary.pixelSizeA, atomClasses: ["C", "Si", "background"])) {
            XCTAssert("\($0)".contains("built with atom classes"), "\($0)")
        }

        // Which true state each class holds, from the movie the library was built on.
        let radius = 1.5 / built.summary.pixelSizeA
        var votes: [String: [String: Int]] = [:]
        for (c, s) in try matchedDefects(built.movieDir, built.out, radius: radius) { votes[c, default: [:]][s, default: 0] += 1 }
        let stateOf = votes.compactMapValues { $0.max { $0.value < $1.value }?.key }
        XCTAssertEqual(Set(stateOf.values), ["Mo_W", "Mo_W+V_S"], "the library's classes name both true states")

        // The second movie's defects, classified with that library: right when their class holds
        // their true state; `none` counts as wrong.
        let pairs = try matchedDefects(applied.movieDir, applied.out, radius: radius)
        let right = pairs.filter { stateOf[$0.0] == $0.1 }.count
        let accuracy = Double(right) / Double(max(pairs.count, 1))
        print("library reuse: \(right)/\(pairs.count) defects of the second movie in the right class (\(String(format: "%.1f", 100 * accuracy)) %), \(pairs.filter { $0.0 == "none" }.count) none")
        XCTAssertGreaterThan(pairs.count, 40)
        XCTAssertGreaterThanOrEqual(accuracy, 0.95)
    }

    /// (class in defects.csv, true state) of every found defect within `radius` px of a true one.
    func matchedDefects(_ truthDir: URL, _ analysisDir: URL, radius: Double) throws -> [(String, String)] {
        let truth = try CSVTable(url: truthDir.appendingPathComponent("truth_defects.csv"))
        let found = try CSVTable(url: analysisDir.appendingPathComponent("defects.csv"))
        let tf = try truth.column("frame"), tx = try truth.column("x"), ty = try truth.column("y"), ts = try truth.column("state")
        var byFrame: [Int: [(x: Double, y: Double, state: String)]] = [:]
        for r in truth.rows { byFrame[Int(r[tf])!, default: []].append((Double(r[tx])!, Double(r[ty])!, r[ts])) }
        let ff = try found.column("frame"), fx = try found.column("x"), fy = try found.column("y"), fc = try found.column("class")
        return found.rows.compactMap { r in
            let x = Double(r[fx])!, y = Double(r[fy])!
            guard let t = byFrame[Int(r[ff])!]?.min(by: { hypot($0.x - x, $0.y - y) < hypot($1.x - x, $1.y - y) }),
                  hypot(t.x - x, t.y - y) <= radius else { return nil }
            return (r[fc], t.state)
        }
    }
}
