import Foundation

/// Runs a fully convolutional segmenter on frames of any size, tile by tile, and blends
/// the tiles without seams.
///
/// The frame is reflect-padded by `overlap / 2` on every side (so its border pixels sit
/// inside a tile, not at its edge) and then up to the tile grid (stride `tile − overlap`);
/// frames smaller than one tile become one padded tile. Tiles go to the segmenter in
/// batches of at most `batchSize`; only the accumulators of the rows still being blended
/// (about one tile row) and one batch are in memory (`segmentRows`).
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
    /// - Parameter bounds: normalize each tile as it is cut (the frame stays raw); nil: as is.
    /// - Throws: size errors for the frame; `LocalizationError.segmenterOutput` if the closure
    ///   returns a buffer that is not `count × classes × tile²` with the same `classes` every
    ///   call, or non-finite values; anything the closure throws.
    public func segment(_ frame: [Float], width: Int, height: Int, normalizing bounds: NormalizationBounds? = nil,
                        segmenter: Segmenter) throws -> ProbabilityMaps {
        var values: [Float] = [], classes = 0
        try segmentRows(frame, width: width, height: height, normalizing: bounds, segmenter: segmenter) { first, band in
            if values.isEmpty { classes = band.classes; values = [Float](repeating: 0, count: classes * width * height) }
            for c in 0..<classes {
                values.replaceSubrange((c * height + first) * width..<(c * height + first + band.height) * width, with: band.plane(c))
            }
        }
        return try ProbabilityMaps(classes: classes, width: width, height: height, values: values)
    }

    /// Segments one frame as `segment` does, handing over its probabilities in consecutive
    /// bands of finished rows, top to bottom (`rows(firstRow, band)`), so only the rows still
    /// blended (about one tile row) are held at a time. The values are `segment`'s, bit for bit.
    public func segmentRows(_ frame: [Float], width: Int, height: Int, normalizing bounds: NormalizationBounds? = nil,
                            segmenter: Segmenter, rows emit: (_ firstRow: Int, _ band: ProbabilityMaps) throws -> Void) throws {
        try checkImage(frame.count, width: width, height: height, what: "frame")
        let xs = tileOrigins(extent: width), ys = tileOrigins(extent: height)
        let origins = ys.flatMap { oy in xs.map { ox in (ox, oy) } }
        let w1 = window(), area = tile * tile
        var blend = Blend(width: width)
        var batch = [Float](repeating: 0, count: min(batchSize, origins.count) * area)

        for start in stride(from: 0, to: origins.count, by: batchSize) {
            let chunk = origins[start..<min(start + batchSize, origins.count)]
            let count = chunk.count
            if batch.count != count * area { batch = [Float](repeating: 0, count: count * area) }
            for (t, (ox, oy)) in chunk.enumerated() {
                cutTile(frame, width: width, height: height, x0: ox, y0: oy, normalizing: bounds, into: &batch, at: t * area)
            }
            let out = try segmenter(batch, count)
            if blend.classes == 0 {
                guard out.count > 0, out.count % (count * area) == 0 else {
                    throw LocalizationError.segmenterOutput(
                        "\(out.count) values for \(count) tile(s) of \(tile)×\(tile) is not a whole number of classes")
                }
                blend.classes = out.count / (count * area)
            }
            guard out.count == count * blend.classes * area else {
                throw LocalizationError.sizeMismatch(what: "segmenter output for \(count) tile(s) × \(blend.classes) classes",
                                                     expected: count * blend.classes * area, actual: out.count)
            }
            // Scanned through a buffer pointer: Array.firstIndex keeps an index check per value.
            if let bad = out.withUnsafeBufferPointer({ $0.firstIndex { !$0.isFinite } }) {
                throw LocalizationError.segmenterOutput("non-finite value at index \(bad)")
            }
            for (t, (ox, oy)) in chunk.enumerated() {
                blend.extend(to: min(height, oy + tile))
                accumulate(out, tileIndex: t, x0: ox, y0: oy, width: width, height: height, window: w1, into: &blend)
            }
            // Rows above the next unfinished tile row's first positive weight get nothing more.
            let doneTileRows = (start + count) / xs.count
            let finished = doneTileRows < ys.count ? min(height, ys[doneTileRows] + overlap / 4) : height
            if finished > blend.first { try emit(blend.first, try blend.take(upTo: finished)) }
        }
    }

    /// Copies the tile with top-left frame coordinate (x0, y0) into `buffer`, reflecting outside
    /// the frame and normalizing with `bounds` when given.
    private func cutTile(_ frame: [Float], width: Int, height: Int, x0: Int, y0: Int, normalizing bounds: NormalizationBounds?,
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
                        if let bounds {
                            for tx in 0..<tile { dst[tx] = bounds(src[cols[tx]]) }
                        } else {
                            for tx in 0..<tile { dst[tx] = src[cols[tx]] }
                        }
                    }
                }
            }
        }
    }

    /// Adds one tile's weighted probabilities to the accumulators (frame pixels only).
    private func accumulate(_ out: [Float], tileIndex t: Int, x0: Int, y0: Int, width: Int, height: Int,
                            window w1: [Float], into blend: inout Blend) {
        let area = tile * tile, classes = blend.classes, first = blend.first
        let txs = max(0, -x0)..<min(tile, width - x0)
        let tys = max(0, -y0)..<min(tile, height - y0)
        guard !txs.isEmpty, !tys.isEmpty else { return }
        // Row pointers starting at the first column inside the frame keep bounds and overflow
        // checks out of the per-pixel loops (with `cutTile`, most of the tiler's own cost).
        let x = txs.lowerBound, len = txs.count
        out.withUnsafeBufferPointer { o in
            blend.sum.withUnsafeMutableBufferPointer { s in
                blend.weights.withUnsafeMutableBufferPointer { wsum in
                    w1.withUnsafeBufferPointer { wp in
                        let wx = wp.baseAddress! + x
                        for ty in tys {
                            let wy = wp[ty]
                            guard wy > 0 else { continue }
                            let row = y0 + ty - first, column = x0 + x
                            let wRow = wsum.baseAddress! + row * width + column
                            for i in 0..<len { wRow[i] += wy * wx[i] }
                            for c in 0..<classes {
                                let src = o.baseAddress! + (t * classes + c) * area + ty * tile + x
                                let dst = s.baseAddress! + (row * classes + c) * width + column
                                for i in 0..<len { dst[i] += wy * wx[i] * src[i] }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// The weighted sums of the rows still being blended, `first ..< first + rows`: row-major,
/// the classes of a row side by side (`sum[(row * classes + c) * width + x]`), so whole rows
/// are appended and dropped at the ends.
private struct Blend {
    let width: Int
    var classes = 0
    var first = 0
    var sum: [Float] = []
    var weights: [Float] = []

    init(width: Int) { self.width = width }

    var end: Int { first + weights.count / width }

    mutating func extend(to row: Int) {
        guard row > end else { return }
        sum += repeatElement(0, count: (row - end) * classes * width)
        weights += repeatElement(0, count: (row - end) * width)
    }

    /// The blended probabilities of rows `first ..< row` (every one lies in some tile's
    /// positive-weight region, see `TiledSegmenter`), dropped from the sums.
    mutating func take(upTo row: Int) throws -> ProbabilityMaps {
        extend(to: row)
        let rows = row - first, n = rows * width
        var values = [Float](repeating: 0, count: classes * n)
        values.withUnsafeMutableBufferPointer { v in
            sum.withUnsafeBufferPointer { s in
                weights.withUnsafeBufferPointer { w in
                    for r in 0..<rows {
                        for c in 0..<classes {
                            let src = s.baseAddress! + (r * classes + c) * width, wr = w.baseAddress! + r * width
                            let dst = v.baseAddress! + c * n + r * width
                            for x in 0..<width { dst[x] = src[x] / wr[x] }
                        }
                    }
                }
            }
        }
        sum.removeFirst(classes * n)
        weights.removeFirst(n)
        first = row
        return try ProbabilityMaps(classes: classes, width: width, height: rows, values: values)
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
