@testable import Pipeline
import XCTest

/// `AtomFinder.tiler`: the fewest tiles that cover a frame with its blending margin, and no more
/// pixels per network call than the batch budget (so a larger tile does not raise peak memory).
final class TilingTests: XCTestCase {
    func testFramesUpTo1024AreOneTileAndLargeTilesGoOneAtATime() throws {
        let finder = try AtomFinder(model: TrainedModel(at: packageRoot.appendingPathComponent("Models/tmd-ws2")))
        let overlap = finder.options.overlap
        for (side, tiles, tile, batch) in [(512, 1, 544, 4), (1024, 1, 1056, 1), (1500, 2, 784, 1), (2048, 2, 1056, 1), (256, 1, 288, 4)] {
            let tiler = try finder.tiler(width: side, height: side)
            XCTAssertEqual(tiler.tileOrigins(extent: side).count, tiles, "\(side)²")
            XCTAssertEqual(tiler.tile, tile, "\(side)²")
            XCTAssertEqual(tiler.batchSize, batch, "\(side)²")
            // Every frame pixel lies at least overlap/2 inside the padded grid.
            let origins = tiler.tileOrigins(extent: side)
            XCTAssertLessThanOrEqual(origins[0], -overlap / 2)
            XCTAssertGreaterThanOrEqual(origins.last! + tile, side + overlap / 2)
            XCTAssertLessThanOrEqual(tiler.batchSize * tile * tile, max(tile * tile, AtomFinder.batchPixels))
        }
        // Small tiles still go in batches of up to `batchSize`.
        var options = AtomFinder.Options()
        options.tile = 256
        let small = try AtomFinder(model: finder.model, options: options).tiler(width: 1024, height: 1024)
        XCTAssertEqual(small.batchSize, options.batchSize)
    }
}
