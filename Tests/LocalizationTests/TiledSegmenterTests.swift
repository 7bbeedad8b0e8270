import Core
import Localization
import XCTest

/// A translation-equivariant stand-in for a network: a 7×7 Gaussian blur (zero padding,
/// receptive-field radius 3) followed by a pointwise softmax over three classes.
func toySegment(_ image: UnsafeBufferPointer<Float>, width: Int, height: Int) -> [Float] {
    let radius = 3
    let kernel = (-radius...radius).map { Float(exp(-Double($0 * $0) / 2)) }
    var horizontal = [Float](repeating: 0, count: width * height)
    for y in 0..<height {
        for x in 0..<width {
            var s: Float = 0
            for k in -radius...radius where x + k >= 0 && x + k < width { s += kernel[k + radius] * image[y * width + x + k] }
            horizontal[y * width + x] = s
        }
    }
    let n = width * height
    var out = [Float](repeating: 0, count: 3 * n)
    for y in 0..<height {
        for x in 0..<width {
            var b: Float = 0
            for k in -radius...radius where y + k >= 0 && y + k < height { b += kernel[k + radius] * horizontal[(y + k) * width + x] }
            b /= 6.2   // keep the logits moderate
            let logits = [4 * b, 1 - 3 * b, 2 * b * b]
            let m = logits.max()!
            let e = logits.map { exp($0 - m) }
            let z = e.reduce(0, +)
            for c in 0..<3 { out[c * n + y * width + x] = e[c] / z }
        }
    }
    return out
}

final class TiledSegmenterTests: XCTestCase {
    private func randomFrame(width: Int, height: Int, seed: UInt64) -> [Float] {
        var rng = SeededGenerator(seed: seed)
        return (0..<(width * height)).map { _ in Float(rng.uniform()) }
    }

    private func assertTiledMatchesWhole(width: Int, height: Int, tiler: TiledSegmenter, file: StaticString = #filePath,
                                         line: UInt = #line) throws {
        let frame = randomFrame(width: width, height: height, seed: UInt64(width * 1000 + height))
        var calls = 0, largestBatch = 0
        let tiled = try tiler.segment(frame, width: width, height: height) { tiles, count in
            calls += 1; largestBatch = max(largestBatch, count)
            XCTAssertEqual(tiles.count, count * tiler.tile * tiler.tile)
            var out: [Float] = []
            tiles.withUnsafeBufferPointer { t in
                for i in 0..<count {
                    let one = UnsafeBufferPointer(rebasing: t[(i * tiler.tile * tiler.tile)..<((i + 1) * tiler.tile * tiler.tile)])
                    out += toySegment(one, width: tiler.tile, height: tiler.tile)
                }
            }
            return out
        }
        let whole = frame.withUnsafeBufferPointer { toySegment($0, width: width, height: height) }
        let expectedTiles = tiler.tileOrigins(extent: width).count * tiler.tileOrigins(extent: height).count
        XCTAssertEqual(calls, (expectedTiles + tiler.batchSize - 1) / tiler.batchSize, file: file, line: line)
        XCTAssertLessThanOrEqual(largestBatch, tiler.batchSize, file: file, line: line)
        XCTAssertEqual(tiled.classes, 3, file: file, line: line)
        XCTAssertEqual(tiled.values.count, whole.count, file: file, line: line)
        // Away from the frame border (receptive-field radius 3) the results must agree.
        var worst: Float = 0, sums: Float = 0
        for c in 0..<3 {
            for y in 3..<(height - 3) {
                for x in 3..<(width - 3) {
                    worst = max(worst, abs(tiled[c, x, y] - whole[(c * height + y) * width + x]))
                }
            }
        }
        for y in 0..<height { for x in 0..<width { sums = max(sums, abs(tiled[0, x, y] + tiled[1, x, y] + tiled[2, x, y] - 1)) } }
        XCTAssertLessThan(worst, 1e-3, file: file, line: line)
        XCTAssertLessThan(worst, 1e-5, "blending should be exact up to rounding", file: file, line: line)
        XCTAssertLessThan(sums, 1e-5, "blended probabilities must still sum to 1 everywhere", file: file, line: line)
    }

    func testTiledEqualsWholeFrameAwayFromTheBorder() throws {
        try assertTiledMatchesWhole(width: 150, height: 97, tiler: TiledSegmenter(tile: 64, overlap: 32, batchSize: 3))
        try assertTiledMatchesWhole(width: 200, height: 64, tiler: TiledSegmenter(tile: 48, overlap: 16, batchSize: 4, multiple: 16))
    }

    func testFrameSmallerThanOneTileIsPadded() throws {
        try assertTiledMatchesWhole(width: 21, height: 13, tiler: TiledSegmenter(tile: 32, overlap: 16, batchSize: 2))
        try assertTiledMatchesWhole(width: 7, height: 7, tiler: TiledSegmenter(tile: 64, overlap: 32))
    }

    /// Blending divides by the summed weights: a segmenter that outputs a constant gives
    /// that constant everywhere, border and tile seams included.
    func testWeightsNormalizeToConstantOutput() throws {
        let tiler = try TiledSegmenter(tile: 32, overlap: 12, batchSize: 5)
        let maps = try tiler.segment([Float](repeating: 0.3, count: 77 * 45), width: 77, height: 45) { _, count in
            [Float](repeating: 0.25, count: count * 32 * 32)
        }
        XCTAssertEqual(maps.classes, 1)
        XCTAssertTrue(maps.values.allSatisfy { abs($0 - 0.25) < 1e-6 })
    }

    func testWindowRampsAreComplementary() throws {
        let tiler = try TiledSegmenter(tile: 64, overlap: 32)
        let w = tiler.window(), stride = 64 - 32
        for j in 0..<32 { XCTAssertEqual(w[stride + j] + w[j], 1, accuracy: 1e-6) }
        XCTAssertEqual(w[0], 0)       // the receptive-field margin is discarded
        XCTAssertEqual(w[32], 1)
    }

    func testReflectPaddingFeedsMirroredPixels() throws {
        let tiler = try TiledSegmenter(tile: 8, overlap: 4, batchSize: 1)
        let frame: [Float] = (0..<16).map(Float.init)   // 4×4
        var first: [Float] = []
        _ = try tiler.segment(frame, width: 4, height: 4) { tiles, count in
            if first.isEmpty { first = tiles }
            return [Float](repeating: 0, count: count * 64)
        }
        // The first tile starts at (−2, −2): row −2 reflects to row 2, column −2 to column 2.
        XCTAssertEqual(first[0], frame[2 * 4 + 2])
        XCTAssertEqual(first[2 * 8 + 2], frame[0])
        XCTAssertEqual(first[2 * 8 + 6], frame[2])   // column 4 reflects to column 2
    }

    func testBadSegmenterOutputIsATypedError() throws {
        let tiler = try TiledSegmenter(tile: 16, overlap: 4)
        let frame = [Float](repeating: 0, count: 20 * 20)
        XCTAssertThrowsError(try tiler.segment(frame, width: 20, height: 20) { _, count in
            [Float](repeating: 0, count: count * 16 * 16 + 1)
        }) { XCTAssertTrue($0 is LocalizationError, "\($0)") }
        XCTAssertThrowsError(try tiler.segment(frame, width: 20, height: 20) { _, count in
            [Float](repeating: .nan, count: count * 16 * 16)
        }) { XCTAssertEqual($0 as? LocalizationError, .segmenterOutput("non-finite value at index 0")) }
        struct Boom: Error {}
        XCTAssertThrowsError(try tiler.segment(frame, width: 20, height: 20) { _, _ in throw Boom() }) { XCTAssertTrue($0 is Boom) }
        XCTAssertThrowsError(try tiler.segment(frame, width: 19, height: 20) { _, c in [Float](repeating: 0, count: c * 256) })
    }

    func testInvalidConfigurationIsATypedError() {
        XCTAssertThrowsError(try TiledSegmenter(tile: 64, overlap: 40))
        XCTAssertThrowsError(try TiledSegmenter(tile: 100, overlap: 8, multiple: 16))
        XCTAssertThrowsError(try TiledSegmenter(tile: 64, overlap: 8, batchSize: 0))
    }
}
