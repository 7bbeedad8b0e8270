import Core

/// Winograd F(4×4, 3×3) (Lavin & Gray 2016) for the forward pass of the 3×3 convolutions.
///
/// Each 4×4 output tile is Aᵀ[(G g Gᵀ) ⊙ (Bᵀ d B)]A of its 6×6 input patch d: 36 GEMMs
/// M_e[Cout, tiles] = U_e[Cout, Cin] · V_e[Cin, tiles], 2.25 multiplies an output instead of
/// F(2×2)'s 4 and im2col's 9, and each input pixel is read 2.25 times. The transforms' entries
/// go up to 8 (Aᵀ) and down to 1/24 (G), so the rounding is a few times F(2×2)'s, still float
/// noise at the U-Net's channel counts (`GradientTests.testWinogradMatchesIm2col`). The gradients
/// keep F(2×2) (Winograd.swift), whose adjoints they are.
extension Conv2D {
    /// U[e, co, ci] = (G g Gᵀ)_e, e = 6r + c, for each 3×3 kernel g = W[co, ci], with
    /// G = [¼ 0 0; −⅙ −⅙ −⅙; −⅙ ⅙ −⅙; 1/24 1/12 ⅙; 1/24 −1/12 ⅙; 0 0 1] (computed in Double).
    static func winograd4Weights(_ wt: UnsafePointer<Float>, _ g: Geometry) -> UnsafeMutablePointer<Float> {
        let pairs = g.cout * g.cin
        let u = UnsafeMutablePointer<Float>.allocate(capacity: 36 * pairs)
        typealias Six = (Double, Double, Double, Double, Double, Double)
        @inline(__always) func gMul(_ a: Double, _ b: Double, _ c: Double) -> Six {
            (a / 4, -(a + b + c) / 6, -(a - b + c) / 6, a / 24 + b / 12 + c / 6, a / 24 - b / 12 + c / 6, c)
        }
        for p in 0..<pairs {
            let k = wt + 9 * p
            // The columns of G·g (6×3), then each of its rows times Gᵀ: row r of U.
            let c0 = gMul(Double(k[0]), Double(k[3]), Double(k[6]))
            let c1 = gMul(Double(k[1]), Double(k[4]), Double(k[7]))
            let c2 = gMul(Double(k[2]), Double(k[5]), Double(k[8]))
            @inline(__always) func row(_ r: Int, _ a: Double, _ b: Double, _ c: Double) {
                let t = gMul(a, b, c), o = u + 6 * r * pairs + p
                o[0] = Float(t.0); o[pairs] = Float(t.1); o[2 * pairs] = Float(t.2)
                o[3 * pairs] = Float(t.3); o[4 * pairs] = Float(t.4); o[5 * pairs] = Float(t.5)
            }
            row(0, c0.0, c1.0, c2.0); row(1, c0.1, c1.1, c2.1); row(2, c0.2, c1.2, c2.2)
            row(3, c0.3, c1.3, c2.3); row(4, c0.4, c1.4, c2.4); row(5, c0.5, c1.5, c2.5)
        }
        return u
    }

    /// Whether the F(4×4) input transform runs Bᵀ down the columns on the image rows as they are and
    /// splits the result into column phases in the same pass (true), or splits the rows first and
    /// transforms the split rows (false: the plain path, kept for the tests to compare with). The
    /// same sums of the same values, so the same V bit for bit; the fused pass reads and writes
    /// each row once less. Set once at start-up, not while convolving.
    nonisolated(unsafe) public static var fusedInputTransform = true

    /// V[e, c, tile] = (Bᵀ d B)_e for the 6×6 patches d (zero outside the image) of the output
    /// tiles in `tileRows`, with Bᵀ as in `bt6`. Parallel over channels. Bᵀ d is kept split into the
    /// four phases of its padded columns (phase r holds padded columns 4j + r, padded column q =
    /// image column q − 1), so that tile t reads P0[t], P1[t], P2[t], P3[t], P0[t+1], P1[t+1]:
    /// unit-stride SIMD loops.
    /// Channels from `upsampled.first` on are not in `planes` but upsampled on the fly (`Upsampled`).
    static func winograd4Input(_ planes: UnsafePointer<UnsafePointer<Float>>, _ v: UnsafeMutablePointer<Float>, _ g: Geometry,
                               tileRows: Range<Int>, parallel: Bool, upsampled: Upsampled? = nil) {
        let tx = g.tiles(.f4).x, count = tileRows.count * tx, quarter = tx + 1, row = 4 * quarter
        // The image rows the band's 6×6 patches read.
        let imageRows = max(0, 4 * tileRows.lowerBound - 1)..<min(g.h, 4 * tileRows.upperBound + 1)
        let fused = fusedInputTransform
        parallelFor(g.cin, work: parallel ? 36 * count : 0) { c in
            // 6 rows of input (upsampled, or split into phases), 6 of Bᵀ d, one of zeros.
            let rows = UnsafeMutablePointer<Float>.allocate(capacity: 13 * row)
            defer { rows.deallocate() }
            let lines = upsampled.flatMap { c >= $0.first ? $0.lines(channel: c - $0.first, rows: imageRows) : nil }
            defer { lines?.deallocate() }
            let s = rows + 6 * row, zeros = rows + 12 * row
            zeros.update(repeating: 0, count: row)
            for ty in tileRows {
                if fused {
                    // Bᵀ d down the columns of the six image rows, into phases ...
                    func source(_ k: Int) -> UnsafePointer<Float> {
                        let sy = 4 * ty - 1 + k
                        guard sy >= 0 && sy < g.h else { return UnsafePointer(zeros) }
                        guard let lines else { return planes[c] + sy * g.w }
                        return UnsafePointer(lines.row(sy, into: rows + k * row))
                    }
                    transformColumnsSplitting((source(0), source(1), source(2), source(3), source(4), source(5)), g.w, quarter,
                                              (s, s + row, s + 2 * row, s + 3 * row, s + 4 * row, s + 5 * row))
                } else {
                    splitThenTransformColumns(planes[c], lines, rows, g, ty: ty, quarter: quarter)
                }
                // ... then B along the rows.
                let base = (ty - tileRows.lowerBound) * tx, step = g.cin * count
                for i in 0..<6 {
                    let p = UnsafePointer(s + i * row), o = v + (6 * i * g.cin + c) * count + base
                    simdMap6(tx, (p, p + quarter, p + 2 * quarter, p + 3 * quarter, p + 1, p + quarter + 1),
                             (o, o + step, o + 2 * step, o + 3 * step, o + 4 * step, o + 5 * step), bt6)
                }
            }
        }
    }

    typealias SixRows<P> = (P, P, P, P, P, P)

    /// s.k = (Bᵀ d)_k for the six image rows d (`width` values each), stored split into the four
    /// phases of the padded columns (`quarter` values each, zero beyond the image): 16 columns at a
    /// time, each transformed vector split by SIMD shuffles as `deinterleave4` splits a row.
    @inline(__always)
    static func transformColumnsSplitting(_ d: SixRows<UnsafePointer<Float>>, _ width: Int, _ quarter: Int,
                                          _ s: SixRows<UnsafeMutablePointer<Float>>) {
        let full = width / 4
        @inline(__always) func split(_ t: Vec, _ p: UnsafeMutablePointer<Float>, _ j: Int) {
            // Image columns 4j … 4j + 15 are P1, P2, P3 [j …] and P0 [j + 1 …].
            let even = t.evenHalf, odd = t.oddHalf
            store4(even.evenHalf, p + quarter + j); store4(odd.evenHalf, p + 2 * quarter + j)
            store4(even.oddHalf, p + 3 * quarter + j); store4(odd.oddHalf, p + 1 + j)
        }
        var j = 0
        while j + 4 <= full {
            let t = bt6((load(d.0 + 4 * j), load(d.1 + 4 * j), load(d.2 + 4 * j), load(d.3 + 4 * j), load(d.4 + 4 * j), load(d.5 + 4 * j)))
            split(t.0, s.0, j); split(t.1, s.1, j); split(t.2, s.2, j); split(t.3, s.3, j); split(t.4, s.4, j); split(t.5, s.5, j)
            j += 4
        }
        // The rest one padded column at a time: P0[0] (image column −1), what the vectors left, the zeros beyond.
        @inline(__always) func column(_ r: Int, _ jj: Int) {
            let q = 4 * jj + r - 1
            @inline(__always) func value(_ p: UnsafePointer<Float>) -> Vec { Vec(repeating: q >= 0 && q < width ? p[q] : 0) }
            let t = bt6((value(d.0), value(d.1), value(d.2), value(d.3), value(d.4), value(d.5)))
            let at = r * quarter + jj
            s.0[at] = t.0[0]; s.1[at] = t.1[0]; s.2[at] = t.2[0]; s.3[at] = t.3[0]; s.4[at] = t.4[0]; s.5[at] = t.5[0]
        }
        column(0, 0)
        for jj in (j + 1)..<quarter { column(0, jj) }
        for r in 1..<4 { for jj in j..<quarter { column(r, jj) } }
    }

    /// The plain path of `winograd4Input` for one channel and tile row: the six image rows split
    /// into phases (`rows`), then Bᵀ down their columns into `rows + 6 · row`.
    static func splitThenTransformColumns(_ plane: UnsafePointer<Float>, _ lines: Upsampled.Lines?, _ rows: UnsafeMutablePointer<Float>,
                                          _ g: Geometry, ty: Int, quarter: Int) {
        let row = 4 * quarter, full = g.w / 4, s = rows + 6 * row
        for k in 0..<6 {
            let dst = rows + k * row, sy = 4 * ty - 1 + k
            guard sy >= 0 && sy < g.h else { dst.update(repeating: 0, count: row); continue }
            // P1, P2, P3 [j] and P0 [j + 1] are image columns 4j … 4j + 3; then the edges.
            let src = lines?.row(sy) ?? plane + sy * g.w
            deinterleave4(src, full, (dst + quarter, dst + 2 * quarter, dst + 3 * quarter, dst + 1))
            dst[0] = 0
            for r in 0..<4 {
                for j in (r == 0 ? full + 1 : full)..<quarter { let q = 4 * j + r - 1; dst[r * quarter + j] = q < g.w ? src[q] : 0 }
            }
        }
        let d = UnsafePointer(rows)
        simdMap6(row, (d, d + row, d + 2 * row, d + 3 * row, d + 4 * row, d + 5 * row),
                 (s, s + row, s + 2 * row, s + 3 * row, s + 4 * row, s + 5 * row), bt6)
    }

    /// Input channels `first…` of one image as `Upsample2x.forward` would give them from `planes`
    /// (`height` × `width` each, half the convolution's size), computed band by band as the input
    /// transform reads them instead of written out whole: a decoder's upsampled path is never
    /// stored at full resolution. The same products and sums as `Upsample2x.forward`, so the same values.
    struct Upsampled {
        let first: Int
        let planes: UnsafePointer<UnsafePointer<Float>>
        let height: Int, width: Int
        let ty: Upsample2x.Taps, tx: Upsample2x.Taps

        /// The same channels of image `i` (`planes` holds `cin − first` planes per image).
        func image(_ i: Int, cin: Int) -> Upsampled {
            Upsampled(first: first, planes: planes + i * (cin - first), height: height, width: width, ty: ty, tx: tx)
        }

        /// Upsampled rows `rows` of channel `first + channel`: its source rows interpolated along x
        /// once each, then each output row on request (`Lines.row`). Deallocate when done.
        func lines(channel: Int, rows: Range<Int>) -> Lines {
            let wide = 2 * width
            let sources = ty.i0[rows.lowerBound]...ty.i1[rows.upperBound - 1]
            let buffer = UnsafeMutablePointer<Float>.allocate(capacity: (sources.count + 1) * wide)
            let plane = planes[channel]
            let pairs = tx.pairs
            tx.i0.withUnsafeBufferPointer { i0 in tx.i1.withUnsafeBufferPointer { i1 in
            tx.w0.withUnsafeBufferPointer { w0 in tx.w1.withUnsafeBufferPointer { w1 in
                for y in sources {
                    let r = plane + y * width, d = buffer + (y - sources.lowerBound) * wide
                    // Outputs 2k, 2k + 1 for k in `pairs` read r[k − 1], r[k] and r[k], r[k + 1]: 8 k at a
                    // time, the gathers as two shuffled loads; the others (edges, nearest) gathered.
                    var ox = 0
                    func gathered(upTo end: Int) { while ox < end { d[ox] = w0[ox] * r[i0[ox]] + w1[ox] * r[i1[ox]]; ox += 1 } }
                    gathered(upTo: 2 * pairs.lowerBound)
                    var k = pairs.lowerBound
                    while k + 8 <= pairs.upperBound {
                        let below = load8(r + k - 1), at = load8(r + k), above = load8(r + k + 1)
                        let a = load(w0.baseAddress! + 2 * k), b = load(w1.baseAddress! + 2 * k)
                        store(a * interleave(below, at) + b * interleave(at, above), d + 2 * k)
                        k += 8
                    }
                    ox = 2 * k
                    gathered(upTo: wide)
                }
            }}}}
            return Lines(buffer: buffer, first: sources.lowerBound, wide: wide, scratch: buffer + sources.count * wide, ty: ty)
        }

        /// The x-interpolated source rows of one channel and band, and a row for the output row asked for.
        struct Lines {
            let buffer: UnsafeMutablePointer<Float>, first: Int, wide: Int
            /// Where `row` writes (the last line of `buffer`).
            let scratch: UnsafeMutablePointer<Float>
            let ty: Upsample2x.Taps

            /// Output row `y` (valid until the next call): a0·row(i0) + a1·row(i1), as `Upsample2x.forward`.
            func row(_ y: Int) -> UnsafePointer<Float> { UnsafePointer(row(y, into: scratch)) }

            /// Output row `y` written to `out` (`wide` values), which it returns.
            func row(_ y: Int, into out: UnsafeMutablePointer<Float>) -> UnsafeMutablePointer<Float> {
                let r0 = buffer + (ty.i0[y] - first) * wide, r1 = buffer + (ty.i1[y] - first) * wide
                let a0 = ty.w0[y], a1 = ty.w1[y]
                for ox in 0..<wide { out[ox] = a0 * r0[ox] + a1 * r1[ox] }
                return out
            }

            func deallocate() { buffer.deallocate() }
        }
    }

    /// The `n · cin` channel planes of the images at `x`, one after the other (deallocate when done).
    static func planes(of x: UnsafePointer<Float>, _ g: Geometry) -> UnsafeMutablePointer<UnsafePointer<Float>> {
        let planes = UnsafeMutablePointer<UnsafePointer<Float>>.allocate(capacity: g.n * g.cin)
        for p in 0..<(g.n * g.cin) { planes[p] = x + p * g.hw }
        return planes
    }

    typealias Four<P> = (P, P, P, P)

    @inline(__always) static func load8(_ p: UnsafePointer<Float>) -> SIMD8<Float> { UnsafeRawPointer(p).loadUnaligned(as: SIMD8<Float>.self) }

    /// (a0, b0, a1, b1, …, a7, b7).
    @inline(__always) static func interleave(_ a: SIMD8<Float>, _ b: SIMD8<Float>) -> Vec {
        Vec(a[0], b[0], a[1], b[1], a[2], b[2], a[3], b[3], a[4], b[4], a[5], b[5], a[6], b[6], a[7], b[7])
    }

    /// p.r[j] = src[4j + r] for j < n (SIMD shuffles, four j at a time).
    @inline(__always)
    static func deinterleave4(_ src: UnsafePointer<Float>, _ n: Int, _ p: Four<UnsafeMutablePointer<Float>>) {
        var j = 0
        while j + 4 <= n {
            let v = load(src + 4 * j), even = v.evenHalf, odd = v.oddHalf
            store4(even.evenHalf, p.0 + j); store4(odd.evenHalf, p.1 + j); store4(even.oddHalf, p.2 + j); store4(odd.oddHalf, p.3 + j)
            j += 4
        }
        while j < n { p.0[j] = src[4 * j]; p.1[j] = src[4 * j + 1]; p.2[j] = src[4 * j + 2]; p.3[j] = src[4 * j + 3]; j += 1 }
    }

    /// dst[4j + r] = p.r[j] for j < n: the inverse of `deinterleave4`.
    @inline(__always)
    static func interleave4(_ p: Four<UnsafePointer<Float>>, _ n: Int, _ dst: UnsafeMutablePointer<Float>) {
        var j = 0
        while j + 4 <= n {
            let a = load4(p.0 + j), b = load4(p.1 + j), c = load4(p.2 + j), d = load4(p.3 + j)
            store(Vec(a[0], b[0], c[0], d[0], a[1], b[1], c[1], d[1], a[2], b[2], c[2], d[2], a[3], b[3], c[3], d[3]), dst + 4 * j)
            j += 4
        }
        while j < n { dst[4 * j] = p.0[j]; dst[4 * j + 1] = p.1[j]; dst[4 * j + 2] = p.2[j]; dst[4 * j + 3] = p.3[j]; j += 1 }
    }

    @inline(__always) static func load4(_ p: UnsafePointer<Float>) -> SIMD4<Float> { UnsafeRawPointer(p).loadUnaligned(as: SIMD4<Float>.self) }
    @inline(__always) static func store4(_ v: SIMD4<Float>, _ p: UnsafeMutablePointer<Float>) {
        UnsafeMutableRawPointer(p).storeBytes(of: v, as: SIMD4<Float>.self)
    }

    typealias Six = (Vec, Vec, Vec, Vec, Vec, Vec)

    /// Bᵀ d for Bᵀ = [4 0 −5 0 1 0; 0 −4 −4 1 1 0; 0 4 −4 −1 1 0; 0 −2 −1 2 1 0; 0 2 −1 −2 1 0; 0 4 0 −5 0 1].
    @inline(__always)
    static func bt6(_ d: Six) -> Six {
        let (d0, d1, d2, d3, d4, d5) = d
        let p = d4 - 4 * d2, q = d3 - 4 * d1, r = d4 - d2, s = 2 * (d3 - d1)
        return (4 * d0 - 5 * d2 + d4, p + q, p - q, r + s, r - s, 4 * d1 - 5 * d3 + d5)
    }

    /// (d0 … d5)[j] = f(a0[j] … a5[j]) for j < n, 16 lanes at a time.
    @inline(__always)
    static func simdMap6(_ n: Int, _ a: (UnsafePointer<Float>, UnsafePointer<Float>, UnsafePointer<Float>,
                                        UnsafePointer<Float>, UnsafePointer<Float>, UnsafePointer<Float>),
                         _ d: (UnsafeMutablePointer<Float>, UnsafeMutablePointer<Float>, UnsafeMutablePointer<Float>,
                               UnsafeMutablePointer<Float>, UnsafeMutablePointer<Float>, UnsafeMutablePointer<Float>),
                         _ f: (Six) -> Six) {
        var j = 0
        while j + Vec.scalarCount <= n {
            let r = f((load(a.0 + j), load(a.1 + j), load(a.2 + j), load(a.3 + j), load(a.4 + j), load(a.5 + j)))
            store(r.0, d.0 + j); store(r.1, d.1 + j); store(r.2, d.2 + j); store(r.3, d.3 + j); store(r.4, d.4 + j); store(r.5, d.5 + j)
            j += Vec.scalarCount
        }
        while j < n {
            let r = f((Vec(repeating: a.0[j]), Vec(repeating: a.1[j]), Vec(repeating: a.2[j]),
                       Vec(repeating: a.3[j]), Vec(repeating: a.4[j]), Vec(repeating: a.5[j])))
            d.0[j] = r.0[0]; d.1[j] = r.1[0]; d.2[j] = r.2[0]; d.3[j] = r.3[0]; d.4[j] = r.4[0]; d.5[j] = r.5[0]
            j += 1
        }
    }

    /// Aᵀ m for Aᵀ = [1 1 1 1 1 0; 0 1 −1 2 −2 0; 0 1 1 4 4 0; 0 1 −1 8 −8 1].
    @inline(__always)
    static func at6(_ m0: Vec, _ m1: Vec, _ m2: Vec, _ m3: Vec, _ m4: Vec, _ m5: Vec) -> (Vec, Vec, Vec, Vec) {
        let s = m1 + m2, t = m1 - m2, u = m3 + m4, w = m3 - m4
        return (m0 + s + u, t + 2 * w, s + 4 * u, t + 8 * w + m5)
    }

    /// Y tile = Aᵀ m A of M[e, co, tile] for the tiles in `tileRows`, then the bias and epilogue
    /// (as `winogradOutput`), written to the image rows (clipped at sizes that are not multiples
    /// of 4). Parallel over output channels.
    /// Channel co's image row r goes to `y + co · planeStride + (r − firstRow) · W` (default: whole planes).
    static func winograd4Output(_ m: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ g: Geometry,
                                _ pass: OutputPass, tileRows: Range<Int>, parallel: Bool, planeStride: Int? = nil, firstRow: Int = 0) {
        let tx = g.tiles(.f4).x, count = tileRows.count * tx
        parallelFor(g.cout, work: parallel ? 36 * count : 0) { co in
            let out = UnsafeMutablePointer<Float>.allocate(capacity: 16 * tx)   // out[(4i + j)·tx + t] = tile t's y[i][j]
            defer { out.deallocate() }
            let finish = ChannelFinish(pass, channel: co)
            let step = g.cout * count
            @inline(__always) func tiles(_ e: (Int) -> Vec, _ put: (Int, Vec) -> Void) {
                // Aᵀ down each column c of m (its rows are e = 6r + c) ...
                let c0 = at6(e(0), e(6), e(12), e(18), e(24), e(30)), c1 = at6(e(1), e(7), e(13), e(19), e(25), e(31))
                let c2 = at6(e(2), e(8), e(14), e(20), e(26), e(32)), c3 = at6(e(3), e(9), e(15), e(21), e(27), e(33))
                let c4 = at6(e(4), e(10), e(16), e(22), e(28), e(34)), c5 = at6(e(5), e(11), e(17), e(23), e(29), e(35))
                // ... then A along each of the four rows.
                @inline(__always) func row(_ i: Int, _ r: (Vec, Vec, Vec, Vec)) {
                    put(4 * i, finish(r.0)); put(4 * i + 1, finish(r.1)); put(4 * i + 2, finish(r.2)); put(4 * i + 3, finish(r.3))
                }
                row(0, at6(c0.0, c1.0, c2.0, c3.0, c4.0, c5.0)); row(1, at6(c0.1, c1.1, c2.1, c3.1, c4.1, c5.1))
                row(2, at6(c0.2, c1.2, c2.2, c3.2, c4.2, c5.2)); row(3, at6(c0.3, c1.3, c2.3, c3.3, c4.3, c5.3))
            }
            for ty in tileRows {
                let mt = m + co * count + (ty - tileRows.lowerBound) * tx
                var t = 0
                while t + Vec.scalarCount <= tx {
                    tiles({ load(mt + $0 * step + t) }, { store($1, out + $0 * tx + t) })
                    t += Vec.scalarCount
                }
                while t < tx {
                    tiles({ Vec(repeating: mt[$0 * step + t]) }, { out[$0 * tx + t] = $1[0] })
                    t += 1
                }
                for i in 0..<4 where 4 * ty + i < g.h {
                    let dst = y + co * (planeStride ?? g.hw) + (4 * ty + i - firstRow) * g.w, p = UnsafePointer(out + 4 * i * tx), full = g.w / 4
                    interleave4((p, p + tx, p + 2 * tx, p + 3 * tx), full, dst)
                    for col in 4 * full..<g.w { dst[col] = p[(col & 3) * tx + (col >> 2)] }
                }
            }
        }
    }
}
