import Foundation

/// Runs a fully convolutional segmenter on frames of any size, tile by tile, and blends
/// the tiles without seams.
///
/// The frame is reflect-padded by `overlap / 2` on every side (so its border pixels sit
/// inside a tile, not at its edge) and then up to the tile grid (stride `tile − overlap`);
/// frames smaller than one tile become one padded tile. Tiles go to the segmenter in
/// batches of at most `batchSize`; only the frame-sized accumulators and one batch are in
/// memory.
///
/// Blending: along each axis a tile's outermost `overlap / 4` pixels get weight 0 (the
/// network's unreliable receptive-field margin), the next `overlap / 2` pixels a
/// raised-cosine ramp (sin² up, cos² down), the rest 1. Neighbouring ramps are
/// complementary, so the weights of a row of tiles sum to 1; the accumulated probabilities
/// are still divided by the summed weights (which also covers the frame's outer tiles).
/// Hence a translation-equivariant segmenter whose receptive-field radius is ≤ `overlap / 4`
/// gives exactly the whole-frame result away from the frame border.
public struct TiledSegmenter: Sendable {
    /// Tile side in pixels (what the network sees).
    public let tile: Int
    /// Overlap of neighbouring tiles in pixels.
    public let overlap: Int
    /// Most tiles handed to the segmenter in one call.
    public let batchSize: Int

    /// A segmenter: `count` tiles of `tile × tile` Floats in one buffer → their
    /// `count × classes × tile × tile` probabilities (tile-major, then class, then row).
    public typealias Segmenter = (_ tiles: [Float], _ count: Int) throws -> [Float]

    /// - Parameters:
    ///   - multiple: the network's size divisor (2^levels for a U-Net); `tile` must be a multiple of it.
    /// - Throws: `LocalizationError.invalidParameter` for a tile < 1, an overlap outside
    ///   0…tile/2, a batch size < 1, or a tile that is not a multiple of `multiple`.
    public init(tile: Int = 256, overlap: Int = 32, batchSize: Int = 4, multiple: Int = 1) throws {
        guard tile >= 1 else { throw LocalizationError.invalidParameter(name: "tile", reason: "must be ≥ 1, got \(tile)") }
        guard overlap >= 0, 2 * overlap <= tile else {
            throw LocalizationError.invalidParameter(name: "overlap", reason: "must be in 0…tile/2 = 0…\(tile / 2), got \(overlap)")
        }
        guard batchSize >= 1 else {
            throw LocalizationError.invalidParameter(name: "batch size", reason: "must be ≥ 1, got \(batchSize)")
        }
        guard multiple >= 1, tile % multiple == 0 else {
            throw LocalizationError.invalidParameter(name: "tile", reason: "\(tile) is not a multiple of the network's \(multiple)")
        }
        self.tile = tile
        self.overlap = overlap
        self.batchSize = batchSize
    }

    /// Where the tiles of one axis start, in frame coordinates (negative = in the padding).
    public func tileOrigins(extent: Int) -> [Int] {
        let margin = overlap / 2
        let stride = tile - overlap
        let needed = extent + 2 * margin
        let count = needed <= tile ? 1 : (needed - tile + stride - 1) / stride + 1
        return (0..<count).map { $0 * stride - margin }
    }

    /// The blending weight of each tile position along one axis.
    public func window() -> [Float] {
        let discard = overlap / 4
        let ramp = overlap - 2 * discard
        func up(_ i: Int) -> Float {   // rising edge at tile position i
            if i < discard { return 0 }
            if i >= discard + ramp { return 1 }
            let s = sin(Double.pi * (Double(i - discard) + 0.5) / Double(2 * ramp))
            return Float(s * s)
        }
        return (0..<tile).map { i in up(i) * up(tile - 1 - i) }
    }

    /// Segments one frame (row-major, row = y).
    ///
    /// - Throws: size errors for the frame; `LocalizationError.segmenterOutput` if the closure
    ///   returns a buffer that is not `count × classes × tile²` with the same `classes` every
    ///   call, or non-finite values; anything the closure throws.
    public func segment(_ frame: [Float], width: Int, height: Int, segmenter: Segmenter) throws -> ProbabilityMaps {
        try checkImage(frame.count, width: width, height: height, what: "frame")
        let xs = tileOrigins(extent: width), ys = tileOrigins(extent: height)
        let origins = ys.flatMap { oy in xs.map { ox in (ox, oy) } }
        let w1 = window()
        let area = tile * tile, n = width * height
        var classes = 0
        var sum: [Float] = []
        var weightSum = [Float](repeating: 0, count: n)
        var batch = [Float](repeating: 0, count: min(batchSize, origins.count) * area)

        for start in stride(from: 0, to: origins.count, by: batchSize) {
            let chunk = origins[start..<min(start + batchSize, origins.count)]
            let count = chunk.count
            if batch.count != count * area { batch = [Float](repeating: 0, count: count * area) }
            for (t, (ox, oy)) in chunk.enumerated() {
                cutTile(frame, width: width, height: height, x0: ox, y0: oy, into: &batch, at: t * area)
            }
            let out = try segmenter(batch, count)
            if classes == 0 {
                guard out.count > 0, out.count % (count * area) == 0 else {
                    throw LocalizationError.segmenterOutput(
                        "\(out.count) values for \(count) tile(s) of \(tile)×\(tile) is not a whole number of classes")
                }
                classes = out.count / (count * area)
                sum = [Float](repeating: 0, count: classes * n)
            }
            guard out.count == count * classes * area else {
                throw LocalizationError.sizeMismatch(what: "segmenter output for \(count) tile(s) × \(classes) classes",
                                                     expected: count * classes * area, actual: out.count)
            }
            // Scanned through a buffer pointer: Array.firstIndex keeps an index check per value.
            if let bad = out.withUnsafeBufferPointer({ $0.firstIndex { !$0.isFinite } }) {
                throw LocalizationError.segmenterOutput("non-finite value at index \(bad)")
            }
            for (t, (ox, oy)) in chunk.enumerated() {
                accumulate(out, tileIndex: t, classes: classes, x0: ox, y0: oy, width: width, height: height,
                           window: w1, into: &sum, weights: &weightSum)
            }
        }
        // Every frame pixel lies in some tile's positive-weight region (see the type's comment).
        sum.withUnsafeMutableBufferPointer { s in
            weightSum.withUnsafeBufferPointer { w in
                for c in 0..<classes {
                    let plane = s.baseAddress! + c * n   // pointer: no overflow check per pixel
                    for i in 0..<n { plane[i] /= w[i] }
                }
            }
        }
        return try ProbabilityMaps(classes: classes, width: width, height: height, values: sum)
    }

    /// Copies the tile with top-left frame coordinate (x0, y0) into `buffer`, reflecting outside the frame.
    private func cutTile(_ frame: [Float], width: Int, height: Int, x0: Int, y0: Int,
                         into buffer: inout [Float], at offset: Int) {
        let columns = (0..<tile).map { reflect(x0 + $0, width) }
        // Row pointers keep bounds and overflow checks out of the per-pixel loop (every column
        // index is in 0..<width by `reflect`).
        frame.withUnsafeBufferPointer { f in
            buffer.withUnsafeMutableBufferPointer { b in
                columns.withUnsafeBufferPointer { cols in
                    for ty in 0..<tile {
                        let src = f.baseAddress! + reflect(y0 + ty, height) * width
                        let dst = b.baseAddress! + offset + ty * tile
                        for tx in 0..<tile { dst[tx] = src[cols[tx]] }
                    }
                }
            }
        }
    }

    /// Adds one tile's weighted probabilities to the frame accumulators (frame pixels only).
    private func accumulate(_ out: [Float], tileIndex t: Int, classes: Int, x0: Int, y0: Int, width: Int, height: Int,
                            window w1: [Float], into sum: inout [Float], weights: inout [Float]) {
        let area = tile * tile, n = width * height
        let txs = max(0, -x0)..<min(tile, width - x0)
        let tys = max(0, -y0)..<min(tile, height - y0)
        guard !txs.isEmpty, !tys.isEmpty else { return }
        // Row pointers starting at the first column inside the frame keep bounds and overflow
        // checks out of the per-pixel loops (with `cutTile`, most of the tiler's own cost).
        let x = txs.lowerBound, len = txs.count
        out.withUnsafeBufferPointer { o in
            sum.withUnsafeMutableBufferPointer { s in
                weights.withUnsafeMutableBufferPointer { wsum in
                    w1.withUnsafeBufferPointer { wp in
                        let wx = wp.baseAddress! + x
                        for ty in tys {
                            let wy = wp[ty]
                            guard wy > 0 else { continue }
                            let frameRow = (y0 + ty) * width + x0 + x
                            let wRow = wsum.baseAddress! + frameRow
                            for i in 0..<len { wRow[i] += wy * wx[i] }
                            for c in 0..<classes {
                                let src = o.baseAddress! + (t * classes + c) * area + ty * tile + x
                                let dst = s.baseAddress! + c * n + frameRow
                                for i in 0..<len { dst[i] += wy * wx[i] * src[i] }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// Reflects index `i` into 0..<n without repeating the edge pixel (NumPy's "reflect"), for any i.
@inline(__always) func reflect(_ i: Int, _ n: Int) -> Int {
    if n == 1 { return 0 }
    let period = 2 * (n - 1)
    var j = i % period
    if j < 0 { j += period }
    return j < n ? j : period - j
}
