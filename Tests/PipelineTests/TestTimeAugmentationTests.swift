import Core
import Foundation
import Localization
import Networks
import Tensors
@testable import Pipeline
import XCTest

/// `--tta`: the 8 dihedral views and their inverses, checked against segmenters whose answer
/// under a flip or turn is known.
final class TestTimeAugmentationTests: XCTestCase {
    /// Distinct values everywhere, so any misplaced pixel shows.
    func randomPlanes(_ planes: Int, side n: Int, seed: UInt64) -> [Float] {
        var rng = SeededGenerator(seed: seed)
        return (0..<(planes * n * n)).map { _ in Float(rng.uniform()) }
    }

    func testInversePairsAreIdentitiesAndTheEightViewsDiffer() {
        let n = 7, x = randomPlanes(3, side: n, seed: 1)
        var views: [[Float]] = []
        for t in DihedralTransform.all {
            let y = t.apply(x, side: n, planes: 3)
            XCTAssertEqual(t.inverse.apply(y, side: n, planes: 3), x, "\(t) then its inverse")
            XCTAssertEqual(t.apply(t.inverse.apply(x, side: n, planes: 3), side: n, planes: 3), x, "inverse of \(t) then it")
            views.append(y)
        }
        XCTAssertEqual(Set(views.map { $0.map(\.bitPattern) }).count, 8, "the 8 transforms are the 8 distinct symmetries")
        // Independent spot checks of the convention (first plane): transposition and a quarter turn.
        let one = Array(x[0..<(n * n)])
        let transposed = DihedralTransform(transposed: true, flipX: false, flipY: false).apply(one, side: n)
        XCTAssertEqual(transposed[2 * n + 5], one[5 * n + 2])
        // A quarter turn: out(x, y) = in(n − 1 − y, x); here out(4, 1) = in(5, 4).
        let turned = DihedralTransform(transposed: true, flipX: true, flipY: false).apply(one, side: n)
        XCTAssertEqual(turned[1 * n + 4], one[4 * n + 5])
    }

    /// A segmenter that commutes with every flip and turn by construction: a plus-shaped
    /// (4-neighbour, zero-padded) blur per tile, as two "class" planes p and 1 − p.
    let crossBlur: TiledSegmenter.Segmenter = { tiles, count in
        let n = Int(Double(tiles.count / max(count, 1)).squareRoot())
        var out = [Float](repeating: 0, count: 2 * tiles.count)
        for t in 0..<count {
            let base = t * n * n
            func at(_ x: Int, _ y: Int) -> Float { x < 0 || y < 0 || x >= n || y >= n ? 0 : tiles[base + y * n + x] }
            for y in 0..<n { for x in 0..<n {
                let p = (4 * at(x, y) + at(x - 1, y) + at(x + 1, y) + at(x, y - 1) + at(x, y + 1)) / 8
                out[2 * base + y * n + x] = p
                out[2 * base + n * n + y * n + x] = 1 - p
            } }
        }
        return out
    }

    func testAnEquivariantSegmenterGivesThePlainResult() throws {
        let n = 16, count = 3, tiles = randomPlanes(count, side: n, seed: 2)
        let plain = try crossBlur(tiles, count)
        let averaged = try TestTimeAugmentation.dihedral(crossBlur, tile: n)(tiles, count)
        XCTAssertEqual(averaged.count, plain.count)
        let worst = zip(plain, averaged).map { abs($0 - $1) }.max() ?? .infinity
        XCTAssertLessThan(worst, 1e-6, "TTA of an equivariant segmenter is the segmenter (float noise only)")
    }

    /// The check can fail: a segmenter that looks one pixel to its left is not equivariant, and
    /// TTA changes its answer (it averages the four neighbours instead).
    func testANonEquivariantSegmenterIsChanged() throws {
        let n = 16, tiles = randomPlanes(1, side: n, seed: 3)
        let leftNeighbour: TiledSegmenter.Segmenter = { tiles, count in
            (0..<(count * n * n)).map { i in i % n == 0 ? 0 : tiles[i - 1] }
        }
        let plain = try leftNeighbour(tiles, 1)
        let averaged = try TestTimeAugmentation.dihedral(leftNeighbour, tile: n)(tiles, 1)
        XCTAssertGreaterThan(zip(plain, averaged).map { abs($0 - $1) }.max() ?? 0, 0.1)
        // Inside the tile, the mean of the 4 neighbours (each view looks one way, two views per way).
        let (x, y) = (5, 9)
        let expected = (tiles[y * n + x - 1] + tiles[y * n + x + 1] + tiles[(y - 1) * n + x] + tiles[(y + 1) * n + x]) / 4
        XCTAssertEqual(averaged[y * n + x], expected, accuracy: 1e-6)
    }

    /// The shipped network made equivariant by construction: every k×k kernel replaced by its
    /// mean over the 8 symmetries (convolution with a symmetric kernel, 2×2 pooling and 2×
    /// upsampling all commute with flips and quarter turns of an even tile). On a random tile its
    /// TTA result is its plain result up to float rounding; a wrong inverse would turn the views
    /// the wrong way and fail. The untouched network is not equivariant, so there TTA differs.
    func testTheShippedNetworkMadeEquivariant() throws {
        let url = packageRoot.appendingPathComponent("Models/graphene-si")
        var tta = AtomFinder.Options()
        tta.tta = true
        let symmetric = try TrainedModel(at: url)
        for p in symmetric.network.namedTensors where p.value.shape.count == 4 && p.value.shape[2] == p.value.shape[3] {
            let k = p.value.shape[2], planes = p.value.shape[0] * p.value.shape[1]
            var mean = [Float](repeating: 0, count: p.value.data.count)
            for t in DihedralTransform.all {
                for (i, v) in t.apply(p.value.data, side: k, planes: planes).enumerated() { mean[i] += v / 8 }
            }
            p.value = try Tensor(shape: p.value.shape, data: mean)
        }
        let n = 64, tile = randomPlanes(1, side: n, seed: 4)
        let tiler = try TiledSegmenter(tile: n, overlap: 0, batchSize: 1, multiple: 8)
        func gap(_ model: TrainedModel) throws -> Float {
            let plain = try AtomFinder(model: model).segmenter(tiler)(tile, 1)
            let averaged = try AtomFinder(model: model, options: tta).segmenter(tiler)(tile, 1)
            XCTAssertEqual(plain.count, 3 * n * n)
            return zip(plain, averaged).map { abs($0 - $1) }.max() ?? .infinity
        }
        XCTAssertLessThan(try gap(symmetric), 1e-4, "an equivariant network: TTA = plain")
        XCTAssertGreaterThan(try gap(TrainedModel(at: url)), 1e-3, "the trained network is not exactly equivariant")
    }
}
