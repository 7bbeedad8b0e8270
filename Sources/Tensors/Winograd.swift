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

    /// Output tile rows per band: V (16·Cin) and M (16·Cout floats a tile) stay near
    /// `columnBudget`, as im2col's column buffer does.
    static func winogradBandTileRows(_ g: Geometry) -> Int {
        max(1, min(g.tilesY, Conv2D.columnBudget / max(1, 16 * (g.cin + g.cout) * g.tilesX)))
    }

    /// Forward pass of all images, band by band (bands shared out between cores as in
    /// `bandedForward`, each with single-threaded sgemm); bias and epilogue are applied in the
    /// output transform, while the values are in registers.
    static func winogradForward(_ x: UnsafePointer<Float>, _ wt: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>,
                                _ g: Geometry, _ pass: OutputPass) {
        let u = winogradWeights(wt, g)
        defer { u.deallocate() }
        let bandRows = winogradBandTileRows(g), bandsPerImage = (g.tilesY + bandRows - 1) / bandRows
        let tasks = g.n * bandsPerImage, shared = BLASThreads.current > 1 && tasks > 1
        let scratch = 16 * (g.cin + g.cout) * bandRows * g.tilesX
        func band(_ t: Int, _ buffer: UnsafeMutablePointer<Float>) {
            let i = t / bandsPerImage, ty0 = (t % bandsPerImage) * bandRows
            let tileRows = ty0..<min(g.tilesY, ty0 + bandRows), count = tileRows.count * g.tilesX
            let v = buffer, m = buffer + 16 * g.cin * count
            winogradInput(x + i * g.cin * g.hw, v, g, tileRows: tileRows, parallel: !shared)
            for e in 0..<16 {
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(g.cout), Int32(count), Int32(g.cin),
                            1, u + e * g.cout * g.cin, Int32(g.cin), v + e * g.cin * count, Int32(count),
                            0, m + e * g.cout * count, Int32(count))
            }
            winogradOutput(m, y + i * g.cout * g.hw, g, pass, tileRows: tileRows, parallel: !shared)
        }
        guard shared else {
            let buffer = UnsafeMutablePointer<Float>.allocate(capacity: scratch)
            defer { buffer.deallocate() }
            for t in 0..<tasks { band(t, buffer) }
            return
        }
        BLASThreads.withOneThread {
            parallelFor(tasks) { t in
                // Every element of V is written by the input transform, of M by sgemm.
                let buffer = UnsafeMutablePointer<Float>.allocate(capacity: scratch)
                defer { buffer.deallocate() }
                band(t, buffer)
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

    /// Y tile = Aᵀ m A, Aᵀ = [1 1 1 0; 0 1 −1 −1], of M[e, co, tile] for the tiles in `tileRows`,
    /// then the bias and epilogue (identity without one: (v < 0 ? v·1 : v)·1 + 0 = v exactly),
    /// written to the image rows (clipped at odd sizes). Parallel over output channels.
    static func winogradOutput(_ m: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ g: Geometry,
                               _ pass: OutputPass, tileRows: Range<Int>, parallel: Bool) {
        let count = tileRows.count * g.tilesX, tx = g.tilesX
        parallelFor(g.cout, work: parallel ? 16 * count : 0) { co in
            let out = UnsafeMutablePointer<Float>.allocate(capacity: 4 * tx)   // y00, y01, y10, y11 of each tile
            defer { out.deallocate() }
            let b = Vec(repeating: pass.bias?[co] ?? 0)
            let (slope, scale, shift) = pass.epilogue.map { ($0.slope, $0.scale[co], $0.shift[co]) } ?? (1, 1, 0)
            @inline(__always) func finish(_ y: Vec) -> Vec {
                let v = y + b
                return v.replacing(with: v * slope, where: v .< 0) * scale + shift
            }
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
