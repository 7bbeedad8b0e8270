import Core
import Localization
import XCTest

/// Band-by-band segmentation and localization (#16 item 19) against the whole-frame path,
/// and the copy-free order statistics against `Statistics.percentile`.
final class BandedLocationTests: XCTestCase {
    /// A jittered lattice of Gaussian spots (σ 1.5 px, spacing ≈ 7 px, some pairs touching) on noise.
    private func spots(width: Int, height: Int, seed: UInt64) -> [Float] {
        var rng = SeededGenerator(seed: seed)
        var frame = (0..<(width * height)).map { _ in Float(100 + 5 * rng.normal()) }
        for cy in stride(from: 3.0, to: Double(height) - 1, by: 7) {
            for cx in stride(from: 3.0, to: Double(width) - 1, by: 7) {
                let x0 = cx + rng.uniform(-1.5, 1.5), y0 = cy + rng.uniform(-1.5, 1.5), a = rng.uniform(400, 900)
                for y in max(0, Int(y0) - 6)...min(height - 1, Int(y0) + 6) {
                    for x in max(0, Int(x0) - 6)...min(width - 1, Int(x0) + 6) {
                        let r2 = (Double(x) - x0) * (Double(x) - x0) + (Double(y) - y0) * (Double(y) - y0)
                        frame[y * width + x] += Float(a * exp(-r2 / (2 * 1.5 * 1.5)))
                    }
                }
            }
        }
        return frame
    }

    /// `toySegment` (a blur + softmax: translation-equivariant, receptive field 3 px) on every tile.
    private func segmenter(_ tile: Int) -> TiledSegmenter.Segmenter {
        { tiles, count in
            var out: [Float] = []
            tiles.withUnsafeBufferPointer { t in
                for i in 0..<count {
                    out += toySegment(UnsafeBufferPointer(rebasing: t[(i * tile * tile)..<((i + 1) * tile * tile)]), width: tile, height: tile)
                }
            }
            return out
        }
    }

    private func sorted(_ atoms: [Atom]) -> [Atom] {
        atoms.sorted { ($0.classIndex, $0.y, $0.x) < ($1.classIndex, $1.y, $1.x) }
    }

    /// Small forced bands (40 core rows, many boundaries through blobs and crowded neighbours)
    /// give the whole frame's atoms: same count, classes, scores, areas and border flags,
    /// positions within float noise.
    func testBandsEqualWholeFrame() throws {
        let (width, height) = (120, 645)
        let frame = spots(width: width, height: height, seed: 16)
        let bounds = try FrameNormalization().bounds(frame, width: width, height: height)
        let tiler = try TiledSegmenter(tile: 64, overlap: 16, batchSize: 3)
        let locator = try AtomLocator(threshold: 0.5, minSeparation: 3, backgroundClass: 1,
                                      refinement: GaussianRefinement(halfWindow: 3, initialSigma: 1.5))
        let maps = try tiler.segment(frame, width: width, height: height, normalizing: bounds, segmenter: segmenter(64))
        let whole = sorted(try locator.locate(maps, frame: frame))
        XCTAssertGreaterThan(whole.count, 500)
        XCTAssertGreaterThan(whole.filter(\.refined).count, whole.count / 2)
        for bandRows in [40, 97] {
            let banded = try BandedLocation(tiler: tiler, locator: locator, bandRows: bandRows)
            XCTAssertLessThan(bandRows + banded.halo, height / 2, "needs several bands")
            let atoms = sorted(try banded.atoms(in: frame, width: width, height: height, normalizing: bounds,
                                                segmenter: segmenter(64)))
            XCTAssertEqual(atoms.count, whole.count, "band rows \(bandRows)")
            for (a, b) in zip(atoms, whole) {
                XCTAssertEqual(a.classIndex, b.classIndex)
                XCTAssertEqual(a.x, b.x, accuracy: 1e-6); XCTAssertEqual(a.y, b.y, accuracy: 1e-6)
                XCTAssertEqual(a.score, b.score); XCTAssertEqual(a.area, b.area)
                XCTAssertEqual(a.border, b.border); XCTAssertEqual(a.refinement, b.refinement)
            }
        }
        // A frame no taller than one band is the whole-frame computation, in the same order.
        let one = try BandedLocation(tiler: tiler, locator: locator, bandRows: height)
        XCTAssertEqual(try one.atoms(in: frame, width: width, height: height, normalizing: bounds, segmenter: segmenter(64)),
                       try locator.locate(maps, frame: frame))
    }

    /// The tiler hands over consecutive row bands that together are `segment`'s maps, none
    /// taller than a tile row plus its overlap (what bounds the memory).
    func testSegmentRowsCoverTheFrameInShortBands() throws {
        let (width, height) = (70, 203)
        let frame = spots(width: width, height: height, seed: 3)
        let tiler = try TiledSegmenter(tile: 48, overlap: 16, batchSize: 2)
        var next = 0, values: [[Float]] = [[], [], []]
        try tiler.segmentRows(frame, width: width, height: height, segmenter: segmenter(48)) { first, band in
            XCTAssertEqual(first, next)
            XCTAssertLessThanOrEqual(band.height, tiler.tile + tiler.overlap)
            next += band.height
            for c in 0..<3 { values[c] += band.plane(c) }
        }
        XCTAssertEqual(next, height)
        let whole = try tiler.segment(frame, width: width, height: height, segmenter: segmenter(48))
        XCTAssertEqual(values.flatMap { $0 }, whole.values)
    }

    /// Normalizing each tile as it is cut equals cutting the normalized frame.
    func testNormalizingTilesEqualsNormalizedFrame() throws {
        let (width, height) = (90, 77)
        let frame = spots(width: width, height: height, seed: 5)
        let normalization = try FrameNormalization()
        let bounds = try normalization.bounds(frame, width: width, height: height)
        let normalized = try normalization.normalize(frame, width: width, height: height)
        let tiler = try TiledSegmenter(tile: 32, overlap: 8, batchSize: 4)
        XCTAssertEqual(try tiler.segment(frame, width: width, height: height, normalizing: bounds, segmenter: segmenter(32)),
                       try tiler.segment(normalized.pixels, width: width, height: height, segmenter: segmenter(32)))
    }

    /// Radix selection equals quickselect (`Statistics`) on data with ties, negatives and ±0.
    func testOrderStatisticsEqualStatisticsPercentile() throws {
        var rng = SeededGenerator(seed: 19)
        let sets: [[Float]] = [
            (0..<10_001).map { _ in Float(rng.normal() * 1e3) },
            (0..<5000).map { _ in Float(Int(rng.uniform() * 40)) - 20 },   // many ties
            (0..<777).map { _ in Float(rng.uniform()) * 1e-30 },
            [3], [-1, 1], [0, -0.0, 5, -7, 1e30, -1e30],
        ]
        for values in sets {
            for p in [0, 1, 12.5, 50, 99.9, 100] {
                var scratch = values
                let expected = Statistics.percentile(&scratch, p)
                let got = values.withUnsafeBufferPointer { OrderStatistics.percentiles($0, [p])[0] }
                XCTAssertEqual(got, expected, "p \(p), n \(values.count)")
            }
            let ranks = [0, values.count / 3, values.count - 1]
            let sorted = values.sorted()
            XCTAssertEqual(values.withUnsafeBufferPointer { OrderStatistics.smallest($0, ranks: ranks) }, ranks.map { sorted[$0] })
        }
    }

    /// `normalize` maps the 1st/99.9th percentiles (by `Statistics.percentile`) to 0 and 1.
    func testNormalizeMatchesPercentileDefinition() throws {
        let frame = spots(width: 64, height: 50, seed: 7)
        let n = try FrameNormalization().normalize(frame, width: 64, height: 50)
        var scratch = frame
        let low = Statistics.percentile(&scratch, 1), high = Statistics.percentile(&scratch, 99.9)
        XCTAssertEqual(n.low, low); XCTAssertEqual(n.high, high)
        let scale = 1 / (high - low)
        XCTAssertEqual(n.pixels, frame.map { min(max(($0 - low) * scale, 0), 1) })
    }

    func testBandRowsMustBePositive() throws {
        let tiler = try TiledSegmenter(tile: 32, overlap: 8)
        XCTAssertThrowsError(try BandedLocation(tiler: tiler, locator: try AtomLocator(), bandRows: 0))
    }
}
