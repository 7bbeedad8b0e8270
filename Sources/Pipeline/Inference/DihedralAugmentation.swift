import Localization

/// One of the 8 symmetries of the square (the dihedral group D4) acting on a square tile:
/// output pixel (x, y) takes input pixel (sx, sy), where (u, v) = transposed ? (y, x) : (x, y),
/// sx = flipX ? n − 1 − u : u and sy = flipY ? n − 1 − v : v. Pixels are only permuted, so a
/// transform followed by its inverse gives back every value bit for bit.
public struct DihedralTransform: Sendable, Equatable, CustomStringConvertible {
    public var transposed: Bool, flipX: Bool, flipY: Bool

    public init(transposed: Bool, flipX: Bool, flipY: Bool) {
        self.transposed = transposed; self.flipX = flipX; self.flipY = flipY
    }

    /// All 8, the identity first.
    public static let all: [DihedralTransform] = [false, true].flatMap { t in
        [false, true].flatMap { fx in [false, true].map { fy in DihedralTransform(transposed: t, flipX: fx, flipY: fy) } }
    }

    /// The transform that undoes this one: flips undo themselves; after a transposition the flips
    /// act on the other axis.
    public var inverse: DihedralTransform {
        transposed ? DihedralTransform(transposed: true, flipX: flipY, flipY: flipX) : self
    }

    public var description: String { "D4(transposed: \(transposed), flipX: \(flipX), flipY: \(flipY))" }

    /// `planes` square planes of side `n` (plane-major, row-major), each transformed.
    public func apply(_ values: [Float], side n: Int, planes: Int = 1) -> [Float] {
        precondition(values.count == planes * n * n, "expected \(planes) planes of \(n)²")
        var out = values
        values.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                for p in 0..<planes {
                    let base = p * n * n
                    for y in 0..<n { for x in 0..<n {
                        let (u, v) = transposed ? (y, x) : (x, y)
                        let sx = flipX ? n - 1 - u : u, sy = flipY ? n - 1 - v : v
                        dst[base + y * n + x] = src[base + sy * n + sx]
                    } }
                }
            }
        }
        return out
    }
}

/// Test-time augmentation: the segmenter runs on all 8 dihedral views of every tile and each
/// view's class probabilities are turned back into the tile's own orientation and averaged.
/// Lattices have these symmetries but the trained network only approximately so; averaging
/// the views cancels part of the shot noise's random errors (8× the network time).
public enum TestTimeAugmentation {
    /// `segmenter` wrapped so that it returns the mean over the 8 views (tiles of side `tile`).
    public static func dihedral(_ segmenter: @escaping TiledSegmenter.Segmenter, tile: Int) -> TiledSegmenter.Segmenter {
        { tiles, count in
            let area = tile * tile
            var sum: [Float] = []
            for t in DihedralTransform.all {
                let views = t.apply(tiles, side: tile, planes: count)
                let probabilities = try segmenter(views, count)
                guard count > 0, probabilities.count % (count * area) == 0 else { return probabilities }  // the tiler reports the size error
                let back = t.inverse.apply(probabilities, side: tile, planes: probabilities.count / area)
                if sum.isEmpty { sum = back } else { for i in sum.indices { sum[i] += back[i] } }
            }
            let n = Float(DihedralTransform.all.count)
            return sum.map { $0 / n }
        }
    }
}
