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
    static func winogradInput(_ x: UnsafePointer<Float>, _ v: UnsafeMutablePointer<Float>, _ g: Geometry,
                              tileRows: Range<Int>, parallel: Bool) {
        let count = tileRows.count * g.tilesX, tx = g.tilesX
        let pw = 2 * tx + 2   // padded row: image columns −1 … 2·tilesX
        parallelFor(g.cin, work: parallel ? 16 * count : 0) { c in
            let rows = UnsafeMutablePointer<Float>.allocate(capacity: 8 * pw)
            defer { rows.deallocate() }
            let s = rows + 4 * pw, plane = x + c * g.hw
            for ty in tileRows {
                for k in 0..<4 {
                    let row = rows + k * pw, sy = 2 * ty - 1 + k
                    row.update(repeating: 0, count: pw)
                    if sy >= 0 && sy < g.h { (row + 1).update(from: plane + sy * g.w, count: g.w) }
                }
                // Bᵀ d down the columns, then B along the rows tile by tile.
                let r0 = rows, r1 = rows + pw, r2 = rows + 2 * pw, r3 = rows + 3 * pw
                let s0 = s, s1 = s + pw, s2 = s + 2 * pw, s3 = s + 3 * pw
                for j in 0..<pw {
                    s0[j] = r0[j] - r2[j]; s1[j] = r1[j] + r2[j]; s2[j] = r2[j] - r1[j]; s3[j] = r1[j] - r3[j]
                }
                let base = (ty - tileRows.lowerBound) * tx
                for i in 0..<4 {
                    let si = s + i * pw, o = v + (4 * i * g.cin + c) * count + base, step = g.cin * count
                    for t in 0..<tx {
                        let p = 2 * t
                        o[t] = si[p] - si[p + 2]
                        o[step + t] = si[p + 1] + si[p + 2]
                        o[2 * step + t] = si[p + 2] - si[p + 1]
                        o[3 * step + t] = si[p + 1] - si[p + 3]
                    }
                }
            }
        }
    }

    /// Y tile = Aᵀ m A, Aᵀ = [1 1 1 0; 0 1 −1 −1], of M[e, co, tile] for the tiles in `tileRows`,
    /// then the bias and epilogue, written to the image rows (clipped at odd sizes). Parallel over
    /// output channels.
    static func winogradOutput(_ m: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ g: Geometry,
                               _ pass: OutputPass, tileRows: Range<Int>, parallel: Bool) {
        let count = tileRows.count * g.tilesX, tx = g.tilesX, pw = 2 * tx
        parallelFor(g.cout, work: parallel ? 16 * count : 0) { co in
            let out = UnsafeMutablePointer<Float>.allocate(capacity: 2 * pw)
            defer { out.deallocate() }
            let b = pass.bias?[co] ?? 0
            let (slope, scale, shift) = pass.epilogue.map { ($0.slope, $0.scale[co], $0.shift[co]) } ?? (1, 1, 0)
            let step = g.cout * count
            for ty in tileRows {
                let base = m + co * count + (ty - tileRows.lowerBound) * tx
                for t in 0..<tx {
                    let m0 = base[t], m1 = base[step + t], m2 = base[2 * step + t], m3 = base[3 * step + t]
                    let m4 = base[4 * step + t], m5 = base[5 * step + t], m6 = base[6 * step + t], m7 = base[7 * step + t]
                    let m8 = base[8 * step + t], m9 = base[9 * step + t], m10 = base[10 * step + t], m11 = base[11 * step + t]
                    let m12 = base[12 * step + t], m13 = base[13 * step + t], m14 = base[14 * step + t], m15 = base[15 * step + t]
                    // Aᵀ down the columns (rows of m are e = 4r + c) ...
                    let a0 = m0 + m4 + m8, a1 = m1 + m5 + m9, a2 = m2 + m6 + m10, a3 = m3 + m7 + m11
                    let b0 = m4 - m8 - m12, b1 = m5 - m9 - m13, b2 = m6 - m10 - m14, b3 = m7 - m11 - m15
                    // ... then A along the rows.
                    out[2 * t] = a0 + a1 + a2; out[2 * t + 1] = a1 - a2 - a3
                    out[pw + 2 * t] = b0 + b1 + b2; out[pw + 2 * t + 1] = b1 - b2 - b3
                }
                for r in 0..<2 where 2 * ty + r < g.h {
                    let src = out + r * pw, dst = y + co * g.hw + (2 * ty + r) * g.w
                    if pass.epilogue != nil {
                        for j in 0..<g.w { let v = src[j] + b; dst[j] = (v < 0 ? v * slope : v) * scale + shift }
                    } else {
                        for j in 0..<g.w { dst[j] = src[j] + b }
                    }
                }
            }
        }
    }
}
