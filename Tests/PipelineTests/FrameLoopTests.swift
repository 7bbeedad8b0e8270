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

    /// The pixel-size check's frame 0 is the loop's own result (located again here), and the loop
    /// takes a `located` frame instead of locating it only for that frame at that pixel size.
    func testFrameZeroFromTheCalibrationCheckIsReused() throws {
        let (input, root) = try ws2Movie()
        let frame0 = try XCTUnwrap(input.frame0, "the check located frame 0")
        XCTAssertEqual(frame0.pixelSize, input.pixelSize)
        let image = try input.movie.frame(0)
        let again = try input.finder.locateAtoms(in: image.pixels, width: image.width, height: image.height,
                                                 pixelSize: input.pixelSize, frame: 0)
        XCTAssertEqual(frame0.atoms.map { [$0.x, $0.y, Double($0.classIndex)] }, again.atoms.map { [$0.x, $0.y, Double($0.classIndex)] })
        XCTAssertGreaterThan(frame0.atoms.count, 50)

        // A marker frame 0 (one atom) shows which path the loop took.
        let marker = LocatedFrame(index: 0, pixelSize: input.pixelSize, atoms: [frame0.atoms[0]], bounds: frame0.bounds)
        func counts(pixelSize: Double?, name: String) throws -> [Int] {
            var locator = MovieLocator(finder: input.finder, pixelSize: pixelSize)
            locator.located = marker
            let out = root.appendingPathComponent(name)
            try FileManager.default.createDirectory(at: out, withIntermediateDirectories: true)
            var seen: [Int] = []
            _ = try locator.run(movie: input.movie, frames: 0..<2, to: out, progress: false) { _, _, atoms in seen.append(atoms.count) }
            return seen
        }
        let reused = try counts(pixelSize: input.pixelSize, name: "reused")
        XCTAssertEqual(reused[0], 1, "frame 0 taken from `located`")
        XCTAssertGreaterThan(reused[1], 50, "frame 1 located")
        let other = try counts(pixelSize: (input.pixelSize ?? input.calibration.pixelSize) * 1.01, name: "other")
        XCTAssertGreaterThan(other[0], 50, "another pixel size locates frame 0 again")
    }
}
