import CBLAS
import Core

/// Winograd F(2×2, 3×3) for the stride-1, undilated 3×3 convolutions (Lavin & Gray 2016).
///
/// Each 2×2 output tile is Aᵀ[(G g Gᵀ) ⊙ (Bᵀ d B)]A of its 4×4 input patch d: the 16 products
/// of all tiles, input and output channels become 16 GEMMs M_e[Cout, tiles] = U_e[Cout, Cin] ·
/// V_e[Cin, tiles] (OpenBLAS), 16 multiplies per tile instead of im2col's 36 (2.25× fewer
/// FLOPs), and the input is read 4 times a pixel instead of copied 9 times. The transforms
/// only add and subtract (G's halves are exact), so the result differs from im2col by rounding.
extension Conv2D {
    /// Whether eligible convolutions use Winograd (`Geometry.isWinograd`). Set once at start-up
    /// (benchmarks and tests compare against im2col), not while convolving.
    nonisolated(unsafe) public static var winograd = true

    /// Winograd's output tile: F(2×2, 3×3) (16 products a tile, 4 multiplies an output) or
    /// F(4×4, 3×3) (36 a tile, 2.25 an output; WinogradF4.swift).
    public enum Tile: Sendable {
        case f2, f4
        /// Output tile side m; the input patch is m + 2.
        var side: Int { self == .f2 ? 2 : 4 }
        /// Products per tile, (m + 2)².
        var elements: Int { (side + 2) * (side + 2) }
    }

    /// The tile of the forward pass (the gradients use F(2×2)). Set once at start-up
    /// (benchmarks and tests compare the two), not while convolving.
    nonisolated(unsafe) public static var forwardTile = Tile.f4

    /// Output tile rows per band: V (E·Cin) and M (E·Cout floats a tile, E = (m + 2)²) stay near
    /// `columnBudget`, as im2col's column buffer does.
    static func winogradBandTileRows(_ g: Geometry, _ tile: Tile = .f2) -> Int {
        let (tx, ty) = g.tiles(tile)
        return max(1, min(ty, Conv2D.columnBudget / max(1, tile.elements * (g.cin + g.cout) * tx)))
    }

    /// Forward pass of all images, band by band (bands shared out between cores as in
    /// `bandedForward`, each with single-threaded sgemm); bias and epilogue are applied in the
    /// output transform, while the values are in registers.
    ///
    /// - Parameters:
    ///   - planes: for F(4×4), where each input channel plane of each image lies (`n · cin` pointers, image
    ///     by image), so that a concatenation is read in place; nil: the planes of `x`, one after the other.
    ///   - upsampled: input channels upsampled on the fly (F(4×4) only); their `planes` entries are not read.
    ///   - head: a 1×1 convolution (and softmax) run on each band of the output while it is in cache
    ///     (F(4×4) only); `y` then receives the head's output, `head.channels` planes per image.
    ///   - transformed: U of `winograd4Weights` for these weights (F(4×4) only), computed once for as
    ///     long as they do not change; nil: computed here.
    static func winogradForward(_ x: UnsafePointer<Float>?, _ wt: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>,
                                _ g: Geometry, _ pass: OutputPass, tile: Tile, planes: UnsafePointer<UnsafePointer<Float>>? = nil,
                                upsampled: Upsampled? = nil, transformed: UnsafePointer<Float>? = nil, head: Head? = nil) {
        let e = tile.elements, tx = g.tiles(tile).x
        precondition(tile == .f4 || (planes == nil && upsampled == nil && transformed == nil && head == nil),
                     "winograd: planes, upsampled channels and transformed weights are F(4×4)'s")
        let computed = transformed == nil ? (tile == .f4 ? winograd4Weights(wt, g) : winogradWeights(wt, g)) : nil
        defer { computed?.deallocate() }
        let u = transformed ?? UnsafePointer(computed!)
        let inputPlanes = planes ?? UnsafePointer(Self.planes(of: x!, g))
        defer { if planes == nil { inputPlanes.deallocate() } }
        let bandRows = winogradBandTileRows(g, tile), bandsPerImage = (g.tiles(tile).y + bandRows - 1) / bandRows
        let tasks = g.n * bandsPerImage, shared = parallelThreadLimit > 1 && tasks > 1
        let bandPixels = 4 * bandRows * g.w, scratch = e * (g.cin + g.cout) * bandRows * tx + (head == nil ? 0 : g.cout * bandPixels)
        func band(_ t: Int, _ buffer: UnsafeMutablePointer<Float>) {
            let i = t / bandsPerImage, ty0 = (t % bandsPerImage) * bandRows
            let tileRows = ty0..<min(g.tiles(tile).y, ty0 + bandRows), count = tileRows.count * tx
            let v = buffer, m = buffer + e * g.cin * count
            let yi = y + i * g.cout * g.hw
            if tile == .f4 {
                winograd4Input(inputPlanes + i * g.cin, v, g, tileRows: tileRows, parallel: !shared,
                               upsampled: upsampled?.image(i, cin: g.cin))
            } else {
                winogradInput(x! + i * g.cin * g.hw, v, g, tileRows: tileRows, parallel: !shared)
            }
            for k in 0..<e {
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(g.cout), Int32(count), Int32(g.cin),
                            1, u + k * g.cout * g.cin, Int32(g.cin), v + k * g.cin * count, Int32(count),
                            0, m + k * g.cout * count, Int32(count))
            }
            if let head {
                // The band's output, then the head on it while it is in cache, into the head's rows of y.
                let band = m + e * g.cout * count, rows = (4 * ty0)..<min(g.h, 4 * tileRows.upperBound)
                winograd4Output(m, band, g, pass, tileRows: tileRows, parallel: !shared, planeStride: rows.count * g.w, firstRow: rows.lowerBound)
                head.apply(band, rows: rows, of: g, into: y + i * head.channels * g.hw)
            } else if tile == .f4 {
                winograd4Output(m, yi, g, pass, tileRows: tileRows, parallel: !shared)
            } else {
                winogradOutput(m, yi, g, pass, tileRows: tileRows, parallel: !shared)
            }
        }
        // Every element of V is written by the input transform, of M by sgemm.
        forEachBand(tasks, scratch: scratch, shared: shared, band)
    }

    /// Weight gradient of all images, accumulated into `dw` `[Cout, Cin, 3, 3]`: the adjoint of
    /// the forward pass. Per band, V = Bᵀ d B (the forward's input transform, recomputed rather
    /// than kept) and dM = A dY Aᵀ (the adjoint of the output transform); then 16 GEMMs
    /// dU_e[Cout, Cin] += dM_e[Cout, tiles] · V_e[Cin, tiles]ᵀ (16 multiplies a tile instead of
    /// im2col's 36) and dW += Gᵀ dU G. With more than one BLAS thread the bands are shared out
    /// as in `winogradForward`, each worker summing into its own dU.
    static func winogradWeightGradient(_ x: UnsafePointer<Float>, _ dy: UnsafePointer<Float>, _ dw: UnsafeMutablePointer<Float>,
                                       _ g: Geometry) {
        let bandRows = winogradBandTileRows(g), bandsPerImage = (g.tilesY + bandRows - 1) / bandRows
        let tasks = g.n * bandsPerImage, pairs = g.cout * g.cin
        let workers = BLASThreads.current > 1 ? min(tasks, BLASThreads.current) : 1
        let scratch = 16 * (g.cin + g.cout) * bandRows * g.tilesX
        // One dU (16 · pairs) per worker, then its scratch (V, dM).
        let stride = 16 * pairs + scratch
        let buffer = UnsafeMutablePointer<Float>.allocate(capacity: workers * stride)
        defer { buffer.deallocate() }
        func accumulate(_ range: Range<Int>, _ du: UnsafeMutablePointer<Float>, parallel: Bool) {
            du.update(repeating: 0, count: 16 * pairs)
            let v = du + 16 * pairs
            for t in range {
                let i = t / bandsPerImage, ty0 = (t % bandsPerImage) * bandRows
                let tileRows = ty0..<min(g.tilesY, ty0 + bandRows), count = tileRows.count * g.tilesX
                let dm = v + 16 * g.cin * count
                winogradInput(x + i * g.cin * g.hw, v, g, tileRows: tileRows, parallel: parallel)
                winogradOutputAdjoint(dy + i * g.cout * g.hw, dm, g, tileRows: tileRows, parallel: parallel)
                for e in 0..<16 {
                    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(g.cout), Int32(g.cin), Int32(count),
                                1, dm + e * g.cout * count, Int32(count), v + e * g.cin * count, Int32(count),
                                1, du + e * pairs, Int32(g.cin))
                }
            }
        }
        if workers == 1 {
            accumulate(0..<tasks, buffer, parallel: true)
        } else {
            BLASThreads.withOneThread {
                parallelFor(workers) { k in
                    accumulate((k * tasks / workers)..<((k + 1) * tasks / workers), buffer + k * stride, parallel: false)
                }
            }
            for k in 1..<workers { cblas_saxpy(Int32(16 * pairs), 1, buffer + k * stride, 1, buffer, 1) }
        }
        winogradWeightsAdjoint(buffer, dw, pairs: pairs)
    }

    /// dW[p] += Gᵀ dU_p G (3×3 from 4×4) for every kernel p = (co, ci): the adjoint of `winogradWeights`.
    /// Gᵀ = [1 ½ ½ 0; 0 ½ −½ 0; 0 ½ ½ 1].
    static func winogradWeightsAdjoint(_ du: UnsafePointer<Float>, _ dw: UnsafeMutablePointer<Float>, pairs: Int) {
        @inline(__always) func gt(_ a: Float, _ b: Float, _ c: Float, _ d: Float) -> (Float, Float, Float) {
            (a + (b + c) / 2, (b - c) / 2, (b + c) / 2 + d)
        }
        for p in 0..<pairs {
            @inline(__always) func column(_ c: Int) -> (Float, Float, Float) {
                gt(du[c * pairs + p], du[(4 + c) * pairs + p], du[(8 + c) * pairs + p], du[(12 + c) * pairs + p])
            }
            // Gᵀ down the columns of dU, then G along the rows.
            let (s0, s1, s2, s3) = (column(0), column(1), column(2), column(3))
            let r0 = gt(s0.0, s1.0, s2.0, s3.0), r1 = gt(s0.1, s1.1, s2.1, s3.1), r2 = gt(s0.2, s1.2, s2.2, s3.2)
            let k = dw + 9 * p
            k[0] += r0.0; k[1] += r0.1; k[2] += r0.2
            k[3] += r1.0; k[4] += r1.1; k[5] += r1.2
            k[6] += r2.0; k[7] += r2.1; k[8] += r2.2
        }
    }

    /// dM[e, co, tile] = (A dy Aᵀ)_e, A = [1 0; 1 1; 1 −1; 0 −1], for the 2×2 tiles dy of dY (zero
    /// outside the image) in `tileRows`: the adjoint of `winogradOutput`. Parallel over channels.
    static func winogradOutputAdjoint(_ dy: UnsafePointer<Float>, _ dm: UnsafeMutablePointer<Float>, _ g: Geometry,
                                      tileRows: Range<Int>, parallel: Bool) {
        let count = tileRows.count * g.tilesX, tx = g.tilesX
        parallelFor(g.cout, work: parallel ? 16 * count : 0) { co in
            let rows = UnsafeMutablePointer<Float>.allocate(capacity: 4 * tx)   // even, odd columns of the tile's two rows
            defer { rows.deallocate() }
            let plane = dy + co * g.hw, step = g.cout * count
            for ty in tileRows {
                for r in 0..<2 {
                    let even = rows + 2 * r * tx, odd = even + tx, sy = 2 * ty + r
                    guard sy < g.h else { even.update(repeating: 0, count: 2 * tx); continue }
                    let src = plane + sy * g.w
                    for j in 0..<g.w / 2 { even[j] = src[2 * j]; odd[j] = src[2 * j + 1] }
                    if g.w % 2 == 1 { even[tx - 1] = src[g.w - 1]; odd[tx - 1] = 0 }
                }
                let o = dm + co * count + (ty - tileRows.lowerBound) * tx
                let (e0, o0, e1, o1) = (rows, rows + tx, rows + 2 * tx, rows + 3 * tx)
                @inline(__always) func tile(_ store: (Int, Vec) -> Void, _ a: Vec, _ b: Vec, _ c: Vec, _ d: Vec) {
                    // A down the columns: row r of A·dy is (p, q) = (a, b), (a + c, b + d), (a − c, b − d), (−c, −d) ...
                    @inline(__always) func row(_ r: Int, _ p: Vec, _ q: Vec) {
                        // ... then Aᵀ along it: (p, p + q, p − q, −q).
                        store(4 * r, p); store(4 * r + 1, p + q); store(4 * r + 2, p - q); store(4 * r + 3, -q)
                    }
                    row(0, a, b); row(1, a + c, b + d); row(2, a - c, b - d); row(3, -c, -d)
                }
                var t = 0
                while t + Vec.scalarCount <= tx {
                    tile({ e, v in Self.store(v, o + e * step + t) }, load(e0 + t), load(o0 + t), load(e1 + t), load(o1 + t))
                    t += Vec.scalarCount
                }
                while t < tx {
                    tile({ e, v in o[e * step + t] = v[0] },
                         Vec(repeating: e0[t]), Vec(repeating: o0[t]), Vec(repeating: e1[t]), Vec(repeating: o1[t]))
                    t += 1
                }
            }
        }
    }

    /// U[e, co, ci] = (G g Gᵀ)_e for each 3×3 kernel g = W[co, ci], G = [1 0 0; ½ ½ ½; ½ −½ ½; 0 0 1].
    static func winogradWeights(_ wt: UnsafePointer<Float>, _ g: Geometry) -> UnsafeMutablePointer<Float> {
        let pairs = g.cout * g.cin
        let u = UnsafeMutablePointer<Float>.allocate(capacity: 16 * pairs)
        for p in 0..<pairs {
            let k = wt + 9 * p
            // Rows of G·g (4×3), then each row times Gᵀ (4 values).
            for r in 0..<4 {
                let (a, b, c): (Float, Float, Float)
                switch r {
                case 0: (a, b, c) = (k[0], k[1], k[2])
                case 3: (a, b, c) = (k[6], k[7], k[8])
                default:
                    let s: Float = r == 1 ? 1 : -1
                    (a, b, c) = ((k[0] + k[6] + s * k[3]) / 2, (k[1] + k[7] + s * k[4]) / 2, (k[2] + k[8] + s * k[5]) / 2)
                }
                let o = u + 4 * r * pairs + p
                o[0] = a; o[pairs] = (a + b + c) / 2; o[2 * pairs] = (a - b + c) / 2; o[3 * pairs] = c
            }
        }
        return u
    }

    /// V[e, c, tile] = (Bᵀ d B)_e, Bᵀ = [1 0 −1 0; 0 1 1 0; 0 −1 1 0; 0 1 0 −1], for the 4×4
    /// patches d (zero outside the image) of the output tiles in `tileRows`. Parallel over channels.
    /// Each input row is split into its even and odd padded columns (padded column q = image
    /// column q − 1), so that tile t reads E[t], O[t], E[t+1], O[t+1]: unit-stride SIMD loops.
    static func winogradInput(_ x: UnsafePointer<Float>, _ v: UnsafeMutablePointer<Float>, _ g: Geometry,
                              tileRows: Range<Int>, parallel: Bool) {
        let count = tileRows.count * g.tilesX, tx = g.tilesX, half = tx + 1, row = 2 * half
        parallelFor(g.cin, work: parallel ? 16 * count : 0) { c in
            let rows = UnsafeMutablePointer<Float>.allocate(capacity: 8 * row)   // 4 input rows, then Bᵀ d
            defer { rows.deallocate() }
            let s = rows + 4 * row, plane = x + c * g.hw
            for ty in tileRows {
                for k in 0..<4 {
                    let even = rows + k * row, odd = even + half, sy = 2 * ty - 1 + k
                    even.update(repeating: 0, count: row)
                    guard sy >= 0 && sy < g.h else { continue }
                    let src = plane + sy * g.w
                    for j in 0..<half where 2 * j < g.w { odd[j] = src[2 * j] }
                    for j in 1..<half where 2 * j - 1 < g.w { even[j] = src[2 * j - 1] }
                }
                // Bᵀ d down the columns ...
                simdMap(row, rows, rows + row, rows + 2 * row, rows + 3 * row, s, s + row, s + 2 * row, s + 3 * row) {
                    ($0 - $2, $1 + $2, $2 - $1, $1 - $3)
                }
                // ... then B along the rows.
                let base = (ty - tileRows.lowerBound) * tx, step = g.cin * count
                for i in 0..<4 {
                    let even = s + i * row, odd = even + half, o = v + (4 * i * g.cin + c) * count + base
                    simdMap(tx, even, odd, even + 1, odd + 1, o, o + step, o + 2 * step, o + 3 * step) {
                        ($0 - $2, $1 + $2, $2 - $1, $1 - $3)
                    }
                }
            }
        }
    }

    /// (d0, d1, d2, d3)[j] = f(a[j], b[j], c[j], d[j]) for j < n, 16 lanes at a time.
    @inline(__always)
    static func simdMap(_ n: Int, _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ c: UnsafePointer<Float>,
                        _ d: UnsafePointer<Float>, _ d0: UnsafeMutablePointer<Float>, _ d1: UnsafeMutablePointer<Float>,
                        _ d2: UnsafeMutablePointer<Float>, _ d3: UnsafeMutablePointer<Float>,
                        _ f: (Vec, Vec, Vec, Vec) -> (Vec, Vec, Vec, Vec)) {
        var j = 0
        while j + Vec.scalarCount <= n {
            let r = f(load(a + j), load(b + j), load(c + j), load(d + j))
            store(r.0, d0 + j); store(r.1, d1 + j); store(r.2, d2 + j); store(r.3, d3 + j)
            j += Vec.scalarCount
        }
        while j < n {
            let r = f(Vec(repeating: a[j]), Vec(repeating: b[j]), Vec(repeating: c[j]), Vec(repeating: d[j]))
            d0[j] = r.0[0]; d1[j] = r.1[0]; d2[j] = r.2[0]; d3[j] = r.3[0]
            j += 1
        }
    }

    typealias Vec = SIMD16<Float>
    @inline(__always) static func load(_ p: UnsafePointer<Float>) -> Vec { UnsafeRawPointer(p).loadUnaligned(as: Vec.self) }
    @inline(__always) static func store(_ v: Vec, _ p: UnsafeMutablePointer<Float>) { UnsafeMutableRawPointer(p).storeBytes(of: v, as: Vec.self) }

    /// The bias and epilogue of output channel `co` on 16 outputs at a time (identity without
    /// them: (v < 0 ? v·1 : v)·1 + 0 = v exactly); both Winograd output transforms end with it.
    struct ChannelFinish {
        let bias: Vec, slope: Float, scale: Float, shift: Float

        init(_ pass: OutputPass, channel co: Int) {
            bias = Vec(repeating: pass.bias?[co] ?? 0)
            (slope, scale, shift) = pass.epilogue.map { ($0.slope, $0.scale[co], $0.shift[co]) } ?? (1, 1, 0)
        }

        @inline(__always) func callAsFunction(_ y: Vec) -> Vec {
            let v = y + bias
            return v.replacing(with: v * slope, where: v .< 0) * scale + shift
        }
    }

    /// Y tile = Aᵀ m A, Aᵀ = [1 1 1 0; 0 1 −1 −1], of M[e, co, tile] for the tiles in `tileRows`,
    /// then the bias and epilogue (`ChannelFinish`),
    /// written to the image rows (clipped at odd sizes). Parallel over output channels.
    static func winogradOutput(_ m: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ g: Geometry,
                               _ pass: OutputPass, tileRows: Range<Int>, parallel: Bool) {
        let count = tileRows.count * g.tilesX, tx = g.tilesX
        parallelFor(g.cout, work: parallel ? 16 * count : 0) { co in
            let out = UnsafeMutablePointer<Float>.allocate(capacity: 4 * tx)   // y00, y01, y10, y11 of each tile
            defer { out.deallocate() }
            let finish = ChannelFinish(pass, channel: co)
            let step = g.cout * count
            for ty in tileRows {
                let mt = m + co * count + (ty - tileRows.lowerBound) * tx
                var t = 0
                func tiles(_ e: (Int) -> Vec) -> (Vec, Vec, Vec, Vec) {
                    // Aᵀ down the columns (m's rows are e = 4r + c) ...
                    let a0 = e(0) + e(4) + e(8), a1 = e(1) + e(5) + e(9), a2 = e(2) + e(6) + e(10), a3 = e(3) + e(7) + e(11)
                    let b0 = e(4) - e(8) - e(12), b1 = e(5) - e(9) - e(13), b2 = e(6) - e(10) - e(14), b3 = e(7) - e(11) - e(15)
                    // ... then A along the rows.
                    return (finish(a0 + a1 + a2), finish(a1 - a2 - a3), finish(b0 + b1 + b2), finish(b1 - b2 - b3))
                }
                while t + Vec.scalarCount <= tx {
                    let r = tiles { load(mt + $0 * step + t) }
                    store(r.0, out + t); store(r.1, out + tx + t); store(r.2, out + 2 * tx + t); store(r.3, out + 3 * tx + t)
                    t += Vec.scalarCount
                }
                while t < tx {
                    let r = tiles { Vec(repeating: mt[$0 * step + t]) }
                    out[t] = r.0[0]; out[tx + t] = r.1[0]; out[2 * tx + t] = r.2[0]; out[3 * tx + t] = r.3[0]
                    t += 1
                }
                for r in 0..<2 where 2 * ty + r < g.h {
                    let even = out + 2 * r * tx, odd = even + tx, dst = y + co * g.hw + (2 * ty + r) * g.w
                    for j in 0..<g.w / 2 { dst[2 * j] = even[j]; dst[2 * j + 1] = odd[j] }
                    if g.w % 2 == 1 { dst[g.w - 1] = even[tx - 1] }
                }
            }
        }
    }
}
