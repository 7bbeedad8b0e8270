import Core
import Foundation
import MicroscopyIO
import Pipeline
import XCTest

/// `MovieLocator.run` (the frame loop of `locate` and `analyze`): the atoms do not depend on the
/// threads allowed (the refinement fits atoms in parallel runs), `onFrame` sees every frame in
/// order with its own pixels, and an error from `onFrame` stops the loop at that frame.
final class FrameLoopTests: XCTestCase {
    private func ws2Movie() throws -> (MovieInput, URL) {
        let root = try reliabilityTempDir(self)
        let config = try smallWS2Analysis(in: root, frames: 5)
        let input = try MovieInput(path: config.movie, finder: try AtomFinder(model: TrainedModel(at: URL(fileURLWithPath: config.model!))),
                                   pixelSize: nil)
        return (input, root)
    }

    /// Runs the locator into a fresh folder with at most `threads` parallel threads; returns the
    /// table and the frames `onFrame` saw, with their atom counts.
    private func locate(_ input: MovieInput, in root: URL, threads: Int, name: String) throws -> (String, [[Int]]) {
        let saved = parallelThreadLimit
        parallelThreadLimit = threads
        defer { parallelThreadLimit = saved }
        let out = root.appendingPathComponent(name)
        try FileManager.default.createDirectory(at: out, withIntermediateDirectories: true)
        var seen: [[Int]] = []
        _ = try MovieLocator(finder: input.finder, pixelSize: input.pixelSize)
            .run(movie: input.movie, frames: 0..<input.movie.frameCount, to: out, progress: false) { i, image, atoms in
                XCTAssertEqual(image.pixels, try input.movie.frame(i).pixels, "frame \(i) handed over with its own pixels")
                seen.append([i, atoms.count])
            }
        return (try String(contentsOf: out.appendingPathComponent(MovieLocator.atomsFile), encoding: .utf8), seen)
    }

    func testOneThreadAndTwoWriteTheSameTable() throws {
        let (input, root) = try ws2Movie()
        let (serialTable, serialSeen) = try locate(input, in: root, threads: 1, name: "serial")
        let (table, seen) = try locate(input, in: root, threads: max(2, activeProcessors), name: "parallel")
        XCTAssertEqual(seen.map { $0[0] }, Array(0..<5))
        XCTAssertGreaterThan(seen.map { $0[1] }.min() ?? 0, 50, "every frame has atoms")
        XCTAssertEqual(seen, serialSeen)
        XCTAssertEqual(table, serialTable, "byte for byte")
    }

    /// An error from `onFrame` (analyze's stop after N frames, a full disk) ends the run at that
    /// frame: no later frame is handed over.
    func testErrorInOnFrameStopsTheLoop() throws {
        struct Stop: Error {}
        let (input, root) = try ws2Movie()
        let out = root.appendingPathComponent("stopped")
        try FileManager.default.createDirectory(at: out, withIntermediateDirectories: true)
        var seen: [Int] = []
        XCTAssertThrowsError(try MovieLocator(finder: input.finder, pixelSize: input.pixelSize)
            .run(movie: input.movie, frames: 0..<5, to: out, progress: false) { i, _, _ in
                seen.append(i)
                if i == 1 { throw Stop() }
            }) { XCTAssertTrue($0 is Stop) }
        XCTAssertEqual(seen, [0, 1])
    }
}
