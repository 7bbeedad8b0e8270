import CBLAS
import Core
import Dispatch
import Foundation

/// 2-D convolution, stride 1, "same" zero padding (odd square kernels), dilation ≥ 1, with bias.
///
/// Weights are `[Cout, Cin, k, k]` (PyTorch layout). The forward pass and both gradients
/// are im2col/col2im plus one `cblas_sgemm` per band; a 1×1 kernel skips im2col and
/// multiplies the image planes directly; undilated 3×3 kernels go by Winograd F(2×2, 3×3)
/// (Winograd.swift) forward and in both gradients, few-tap ones (the 1-channel first layer)
/// forward directly.
public enum Conv2D {
    /// What an inference pass applies to every output value right after its GEMM band, while
    /// the band is still in cache: y ← scale[c]·act(y + bias[c]) + shift[c] with act =
    /// LeakyReLU(`slope`). It is conv → LeakyReLU → BatchNorm in eval mode (scale, shift from
    /// `BatchNorm.inferenceAffine`) in one pass instead of three.
    public struct Epilogue: Sendable {
        public var slope: Float
        public var scale: [Float]
        public var shift: [Float]
        public init(slope: Float, scale: [Float], shift: [Float]) {
            self.slope = slope; self.scale = scale; self.shift = shift
        }
    }

    /// Output of the convolution of `input` `[N, Cin, H, W]` with `weight` `[Cout, Cin, k, k]`
    /// and `bias` `[Cout]` (or nil), followed by `epilogue` when given. Shape `[N, Cout, H, W]`.
    /// Undilated 3×3 convolutions go by Winograd with `forwardTile`; `transformed` keeps their
    /// transformed weights from call to call (inference), nil transforms them in each call.
    public static func forward(_ input: Tensor, weight: Tensor, bias: Tensor?, dilation: Int = 1,
                               epilogue: Epilogue? = nil, transformed: TransformedWeights? = nil) -> Tensor {
        forward(input, weight: weight, bias: bias, dilation: dilation, epilogue: epilogue, tile: forwardTile, transformed: transformed)
    }

    /// `forward` of the channel concatenation of `a` `[N, Ca, H, W]` and `b` `[N, Cb, H, W]` (a U-Net's
    /// skip connection and upsampled path), or with `upsampling`, of `a` and `Upsample2x.forward(b)` for
    /// `b` `[N, Cb, H/2, W/2]`: the same values as `forward(ChannelConcat.forward(a, b′), …)`. An F(4×4)
    /// Winograd convolution reads `a` in place and upsamples `b` band by band as it reads it, without
    /// the full-resolution copies.
    ///
    /// With `head`, the result is the head's output on this convolution's (`head.forward`), which the
    /// F(4×4) path computes band by band, never storing this convolution's output whole.
    public static func forward(concatenating a: Tensor, _ b: Tensor, upsampling: Upsample2x.Mode? = nil, weight: Tensor,
                               bias: Tensor?, dilation: Int = 1, epilogue: Epilogue? = nil,
                               transformed: TransformedWeights? = nil, head: Head? = nil) -> Tensor {
        let (n, ca, h, w) = a.nchw, cb = b.shape[1], scale = upsampling == nil ? 1 : 2
        precondition(b.shape == [n, cb, h / scale, w / scale] && h % scale == 0 && w % scale == 0,
                     "concat: shapes \(a.shape) and \(b.shape) differ outside channels")
        let g = Geometry(shape: [n, ca + cb, h, w], weight: weight, dilation: dilation)
        precondition(head.map { $0.weight.shape == [$0.channels, g.cout, 1, 1] } ?? true, "conv: head does not fit \(g.cout) channels")
        guard g.isWinograd, forwardTile == .f4 else {
            let b2 = upsampling.map { Upsample2x.forward(b, mode: $0) } ?? b
            let y = forward(ChannelConcat.forward(a, b2), weight: weight, bias: bias, dilation: dilation, epilogue: epilogue,
                            transformed: transformed)
            return head?.forward(y) ?? y
        }
        return a.data.withUnsafeBufferPointer { ap in
            b.data.withUnsafeBufferPointer { bp in
                // Every image's planes: a's, then b's (b's at half size when upsampled).
                let planes = UnsafeMutablePointer<UnsafePointer<Float>>.allocate(capacity: n * g.cin)
                let low = UnsafeMutablePointer<UnsafePointer<Float>>.allocate(capacity: n * cb)
                defer { planes.deallocate(); low.deallocate() }
                let bPlane = (h / scale) * (w / scale)
                for i in 0..<n {
                    for c in 0..<ca { planes[i * g.cin + c] = ap.baseAddress! + (i * ca + c) * g.hw }
                    for c in 0..<cb {
                        low[i * cb + c] = bp.baseAddress! + (i * cb + c) * bPlane
                        planes[i * g.cin + ca + c] = low[i * cb + c]   // read only without upsampling
                    }
                }
                let upsampled = upsampling.map {
                    Upsampled(first: ca, planes: low, height: h / 2, width: w / 2,
                              ty: Upsample2x.taps(inputSize: h / 2, mode: $0), tx: Upsample2x.taps(inputSize: w / 2, mode: $0))
                }
                return forward(g, weight: weight, bias: bias, epilogue: epilogue, tile: .f4, transformed: transformed,
                               channels: head?.channels) { wt, y, pass, u in
                    winogradForward(nil, wt, y, g, pass, tile: .f4, planes: planes, upsampled: upsampled, transformed: u, head: head)
                }
            }
        }
    }

    static func forward(_ input: Tensor, weight: Tensor, bias: Tensor?, dilation: Int, epilogue: Epilogue?,
                        tile: Tile, transformed: TransformedWeights? = nil) -> Tensor {
        let g = Geometry(input: input, weight: weight, dilation: dilation)
        return input.data.withUnsafeBufferPointer { xp in
            forward(g, weight: weight, bias: bias, epilogue: epilogue, tile: tile, transformed: transformed) { wt, y, pass, u in
                forward(xp.baseAddress!, wt, y, g, pass, tile: tile, transformed: u)
            }
        }
    }

    /// The output tensor of geometry `g` (`channels` planes per image if given, else `g.cout`),
    /// written by `body(weights, output, pass, transformed weights or nil)`.
    private static func forward(_ g: Geometry, weight: Tensor, bias: Tensor?, epilogue: Epilogue?, tile: Tile,
                                transformed: TransformedWeights?, channels: Int? = nil,
                                _ body: (UnsafePointer<Float>, UnsafeMutablePointer<Float>, OutputPass, UnsafePointer<Float>?) -> Void) -> Tensor {
        precondition(epilogue.map { $0.scale.count == g.cout && $0.shift.count == g.cout } ?? true,
                     "conv: epilogue needs \(g.cout) scales and shifts")
        var out = Tensor(uninitializedShape: [g.n, channels ?? g.cout, g.h, g.w])   // every path writes all of it
        let pass = OutputPass(bias: bias?.data, epilogue: epilogue, g: g)
        let u = g.isWinograd && tile == .f4 ? transformed?.winograd4(weight, g) : nil
        // One OpenBLAS thread, the cores shared out by band: the same sums whatever the thread count.
        BLASThreads.withOneThread {
            weight.data.withUnsafeBufferPointer { wp in
            out.data.withUnsafeMutableBufferPointer { yp in
                guard let u else { return body(wp.baseAddress!, yp.baseAddress!, pass, nil) }
                u.withUnsafeBufferPointer { body(wp.baseAddress!, yp.baseAddress!, pass, $0.baseAddress!) }
            }}
        }
        return out
    }

    /// One forward call on the images at `x`.
    private static func forward(_ x: UnsafePointer<Float>, _ wt: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>,
                                _ g: Geometry, _ pass: OutputPass, tile: Tile, transformed u: UnsafePointer<Float>?) {
        if g.isWinograd { return winogradForward(x, wt, y, g, pass, tile: tile, transformed: u) }
        guard g.isPointwise || g.isDirect else { return bandedForward(x, wt, y, g, pass) }
        for i in 0..<g.n {
            let xi = x + i * g.cin * g.hw, yi = y + i * g.cout * g.hw
            if g.isDirect {
                directForward(xi, wt, yi, g)
            } else {
                // Y[Cout, HW] = W[Cout, Cin] · X[Cin, HW]
                pass.prefill(yi, rows: 0..<g.h)
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(g.cout), Int32(g.hw), Int32(g.kdim),
                            1, wt, Int32(g.kdim), xi, Int32(g.hw), pass.beta, yi, Int32(g.hw))
            }
            pass.apply(yi, rows: 0..<g.h)
        }
    }

    /// im2col + sgemm (+ epilogue) band by band, over the bands of every image. With more than one
    /// thread allowed (`parallelThreadLimit`) the bands are shared out between the cores, each
    /// running its own im2col, single-threaded sgemm and epilogue on a band still in its cache: one fork–join per layer
    /// instead of one inside OpenBLAS per sgemm call, which for the U-Net's small GEMMs (M = Cout
    /// ≤ 128, a few image rows per band) cost as much as the multiply.
    static func bandedForward(_ x: UnsafePointer<Float>, _ wt: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>,
                              _ g: Geometry, _ pass: OutputPass) {
        let bandsPerImage = (g.h + g.bandRows - 1) / g.bandRows, tasks = g.n * bandsPerImage
        let shared = parallelThreadLimit > 1 && tasks > 1
        func band(_ t: Int, _ col: UnsafeMutablePointer<Float>) {
            let i = t / bandsPerImage, y0 = (t % bandsPerImage) * g.bandRows, rows = y0..<min(g.h, y0 + g.bandRows)
            let xi = x + i * g.cin * g.hw, yi = y + i * g.cout * g.hw, cols = rows.count * g.w
            pass.prefill(yi, rows: rows)
            im2col(xi, col, g, rows: rows, parallel: !shared)
            // Y[Cout, band] = W[Cout, K] · col[K, band] (+ bias already in Y without an epilogue)
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(g.cout), Int32(cols), Int32(g.kdim),
                        1, wt, Int32(g.kdim), col, Int32(cols), pass.beta, yi + y0 * g.w, Int32(g.hw))
            pass.apply(yi, rows: rows, parallel: !shared)
        }
        // Every element of the column buffer is written by im2col before sgemm reads it.
        forEachBand(tasks, scratch: g.kdim * g.bandRows * g.w, shared: shared, band)
    }

    /// Runs `band(t, scratch)` for every task t: in order with one scratch buffer, or, when
    /// `shared`, spread over the cores, each task with a scratch buffer of its own. Called inside
    /// `forward`'s `BLASThreads.withOneThread`, so every band's sgemm is single-threaded either way.
    /// `band` must write every scratch element it reads (the buffers are not cleared).
    static func forEachBand(_ tasks: Int, scratch: Int, shared: Bool, _ band: (Int, UnsafeMutablePointer<Float>) -> Void) {
        guard shared else {
            let buffer = UnsafeMutablePointer<Float>.allocate(capacity: scratch)
            defer { buffer.deallocate() }
            for t in 0..<tasks { band(t, buffer) }
            return
        }
        parallelFor(tasks) { t in
            let buffer = UnsafeMutablePointer<Float>.allocate(capacity: scratch)
            defer { buffer.deallocate() }
            band(t, buffer)
        }
    }

    /// The bias and epilogue of one forward call. Without an epilogue the bias is written into
    /// Y before the GEMM accumulates onto it (beta 1), as before; with one, the GEMM writes Y
    /// (beta 0) and the bias is added in the epilogue's single pass.
    struct OutputPass {
        let bias: [Float]?, epilogue: Epilogue?, g: Geometry

        var beta: Float { bias != nil && epilogue == nil ? 1 : 0 }

        /// Writes the bias into image rows `rows` of every channel of Y when the GEMM adds onto it.
        func prefill(_ y: UnsafeMutablePointer<Float>, rows: Range<Int>) {
            guard let bias, epilogue == nil else { return }
            for co in 0..<g.cout { (y + co * g.hw + rows.lowerBound * g.w).update(repeating: bias[co], count: rows.count * g.w) }
        }

        /// Adds the bias (direct kernel only) or applies the epilogue to image rows `rows` of every channel.
        func apply(_ y: UnsafeMutablePointer<Float>, rows: Range<Int>, parallel: Bool = true) {
            let count = rows.count * g.w
            if let e = epilogue {
                parallelFor(g.cout, work: parallel ? g.cout * count : 0) { co in
                    let p = y + co * g.hw + rows.lowerBound * g.w
                    let b = bias?[co] ?? 0, s = e.scale[co], t = e.shift[co], slope = e.slope
                    for j in 0..<count { let v = p[j] + b; p[j] = (v < 0 ? v * slope : v) * s + t }
                }
            } else if g.isDirect, let bias {
                for co in 0..<g.cout {
                    let p = y + co * g.hw + rows.lowerBound * g.w, b = bias[co]
                    for j in 0..<count { p[j] += b }
                }
            }
        }
    }

    /// Direct convolution for few input taps (Cin·k² ≤ `directTaps`, e.g. the 1-channel first
    /// layer): im2col would copy the image k² times for a GEMM with K ≤ 16, which reaches a few
    /// per cent of the sgemm rate; instead each output pixel sums its taps in registers, 16 pixels
    /// at a time where every tap lies inside the row, in the order (channel, row, column) of the
    /// taps, those outside the image skipped. Parallel over output channels; every channel plane is
    /// written by one task.
    static func directForward(_ x: UnsafePointer<Float>, _ wt: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>,
                              _ g: Geometry) {
        parallelFor(g.cout, work: g.cout * g.kdim * g.hw) { co in
            let taps = wt + co * g.kdim, reach = (g.k - 1) * g.dilation - g.pad
            // Per input row inside the image: its pixels (shifted by −pad) and its k taps.
            var rows: [(source: UnsafePointer<Float>, taps: UnsafePointer<Float>)] = []
            for yy in 0..<g.h {
                rows.removeAll(keepingCapacity: true)
                for c in 0..<g.cin {
                    for ky in 0..<g.k where (0..<g.h).contains(yy + ky * g.dilation - g.pad) {
                        rows.append((x + c * g.hw + (yy + ky * g.dilation - g.pad) * g.w - g.pad, taps + (c * g.k + ky) * g.k))
                    }
                }
                let d = y + co * g.hw + yy * g.w
                func edge(_ j: Int) -> Float {
                    var sum: Float = 0
                    for r in rows {
                        for kx in 0..<g.k where (0..<g.w).contains(j + kx * g.dilation - g.pad) { sum += r.taps[kx] * r.source[j + kx * g.dilation] }
                    }
                    return sum
                }
                var j = 0
                while j < min(g.pad, g.w) { d[j] = edge(j); j += 1 }
                while j + Vec.scalarCount + reach <= g.w {
                    var sum = Vec()
                    for r in rows {
                        for kx in 0..<g.k { sum += r.taps[kx] * load(r.source + j + kx * g.dilation) }
                    }
                    store(sum, d + j)
                    j += Vec.scalarCount
                }
                while j < g.w { d[j] = edge(j); j += 1 }
            }
        }
    }

    /// A 1×1 convolution (weight `[C, Cin, 1, 1]`, bias), optionally followed by a softmax over its C
    /// channels, that a Winograd convolution runs on each band of its output while the band is in
    /// cache (`forward(concatenating:…, head:)`): a U-Net's last decoder and its class head, without
    /// the decoder's full-resolution output. The same values as `forward(_:weight:bias:)` (and
    /// `ChannelSoftmax.forward`) on the whole output.
    public struct Head: Sendable {
        public let weight: Tensor, bias: Tensor?, softmax: Bool
        public init(weight: Tensor, bias: Tensor?, softmax: Bool) {
            self.weight = weight; self.bias = bias; self.softmax = softmax
        }

        var channels: Int { weight.shape[0] }

        /// The head on a whole tensor, kernel by kernel.
        public func forward(_ x: Tensor) -> Tensor {
            let y = Conv2D.forward(x, weight: weight, bias: bias)
            return softmax ? ChannelSoftmax.forward(y) : y
        }

        /// Image rows `rows` of one image: `band` holds the convolution's `g.cout` planes of those rows
        /// (rows.count · W each); the head's rows go to its planes at `y` (`g.hw` apart).
        func apply(_ band: UnsafePointer<Float>, rows: Range<Int>, of g: Geometry, into y: UnsafeMutablePointer<Float>) {
            let pixels = rows.count * g.w, out = y + rows.lowerBound * g.w
            // As `Conv2D.forward`'s 1×1 path: the bias written first, the GEMM adding onto it.
            if let bias { for k in 0..<channels { (out + k * g.hw).update(repeating: bias.data[k], count: pixels) } }
            weight.data.withUnsafeBufferPointer { wp in
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(channels), Int32(pixels), Int32(g.cout),
                            1, wp.baseAddress, Int32(g.cout), band, Int32(pixels), bias == nil ? 0 : 1, out, Int32(g.hw))
            }
            if softmax { ChannelSoftmax.block(UnsafePointer(out), out, channels: channels, stride: g.hw, count: pixels) }
        }
    }

    /// The F(4×4) Winograd weights U (`winograd4Weights`) of one convolution, kept for as long as
    /// its weights stay the same: inference runs the same weights frame after frame, and the
    /// transform (in Double, with divisions) took ≈ 17 ms of a 1024² frame's network. Thread-safe.
    public final class TransformedWeights: @unchecked Sendable {
        private let lock = NSLock()
        private var source: [Float] = [], u: [Float] = []

        public init() {}

        /// U for `weight`: the kept one if `weight` holds the same values as when it was computed
        /// (`==` compares value by value unless the two share storage, which copy-on-write keeps unchanged).
        func winograd4(_ weight: Tensor, _ g: Geometry) -> [Float] {
            lock.lock(); defer { lock.unlock() }
            if u.isEmpty || source != weight.data {
                let computed = weight.data.withUnsafeBufferPointer { winograd4Weights($0.baseAddress!, g) }
                defer { computed.deallocate() }
                u = Array(UnsafeBufferPointer(start: computed, count: 36 * g.cout * g.cin))
                source = weight.data
            }
            return u
        }
    }

    /// Largest Cin·k² convolved directly instead of by im2col + sgemm (see `directForward`).
    static let directTaps = 9

    /// Gradients of a convolution given the upstream gradient `gradOutput` `[N, Cout, H, W]`.
    /// Returns the input gradient (if `needInputGrad`), the weight gradient and the bias gradient.
    public static func backward(_ input: Tensor, weight: Tensor, gradOutput: Tensor, dilation: Int = 1,
                                needInputGrad: Bool = true) -> (input: Tensor?, weight: Tensor, bias: Tensor) {
        let g = Geometry(input: input, weight: weight, dilation: dilation)
        precondition(gradOutput.shape == [g.n, g.cout, g.h, g.w], "conv backward: gradient shape \(gradOutput.shape)")
        var dW = Tensor(shape: weight.shape)
        let dB = biasGradient(gradOutput, g)
        if g.isWinograd {
            // The adjoint of the Winograd forward gives dW; the input gradient of an undilated
            // 3×3 convolution is one too (the flipped, transposed kernel over dY).
            input.data.withUnsafeBufferPointer { x in
            gradOutput.data.withUnsafeBufferPointer { dy in
            dW.data.withUnsafeMutableBufferPointer { dw in
                winogradWeightGradient(x.baseAddress!, dy.baseAddress!, dw.baseAddress!, g)
            }}}
            // F(2×2) as the weight gradient: the training step's rounding stays as it was.
            let dX = needInputGrad ? forward(gradOutput, weight: flippedTransposed(weight), bias: nil, dilation: 1,
                                             epilogue: nil, tile: .f2) : nil
            return (dX, dW, dB)
        }
        var dXdata = needInputGrad ? [Float](repeating: 0, count: input.count) : []
        var col = g.isPointwise ? [] : [Float](repeating: 0, count: g.kdim * g.bandRows * g.w)
        var dcol = (g.isPointwise || !needInputGrad) ? [] : [Float](repeating: 0, count: g.kdim * g.bandRows * g.w)
        input.data.withUnsafeBufferPointer { x in
        weight.data.withUnsafeBufferPointer { wt in
        gradOutput.data.withUnsafeBufferPointer { dy in
        dW.data.withUnsafeMutableBufferPointer { dw in
        dXdata.withUnsafeMutableBufferPointer { dx in
        col.withUnsafeMutableBufferPointer { colp in
        dcol.withUnsafeMutableBufferPointer { dcolp in
            for i in 0..<g.n {
                let xi = x.baseAddress! + i * g.cin * g.hw
                let dyi = dy.baseAddress! + i * g.cout * g.hw
                let dxi = needInputGrad ? dx.baseAddress! + i * g.cin * g.hw : nil
                if g.isPointwise {
                    // dW[Cout, Cin] += dY[Cout, HW] · X[Cin, HW]ᵀ;  dX[Cin, HW] = Wᵀ · dY
                    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(g.cout), Int32(g.kdim), Int32(g.hw),
                                1, dyi, Int32(g.hw), xi, Int32(g.hw), 1, dw.baseAddress, Int32(g.kdim))
                    if let dxi {
                        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, Int32(g.kdim), Int32(g.hw), Int32(g.cout),
                                    1, wt.baseAddress, Int32(g.kdim), dyi, Int32(g.hw), 0, dxi, Int32(g.hw))
                    }
                    continue
                }
                for y0 in stride(from: 0, to: g.h, by: g.bandRows) {
                    let y1 = min(g.h, y0 + g.bandRows), cols = (y1 - y0) * g.w
                    im2col(xi, colp.baseAddress!, g, rows: y0..<y1)
                    // dW[Cout, K] += dY[Cout, band] · col[K, band]ᵀ
                    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(g.cout), Int32(g.kdim), Int32(cols),
                                1, dyi + y0 * g.w, Int32(g.hw), colp.baseAddress, Int32(cols), 1, dw.baseAddress, Int32(g.kdim))
                    guard let dxi else { continue }
                    // dcol[K, band] = W[Cout, K]ᵀ · dY[Cout, band], scattered back by col2im.
                    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, Int32(g.kdim), Int32(cols), Int32(g.cout),
                                1, wt.baseAddress, Int32(g.kdim), dyi + y0 * g.w, Int32(g.hw), 0, dcolp.baseAddress, Int32(cols))
                    col2im(UnsafePointer(dcolp.baseAddress!), dxi, g, rows: y0..<y1)
                }
            }
        }}}}}}}
        return (needInputGrad ? Tensor(uncheckedShape: input.shape, data: dXdata) : nil, dW, dB)
    }

    /// dB[co] = Σ over images and pixels of dY[·, co].
    static func biasGradient(_ dy: Tensor, _ g: Geometry) -> Tensor {
        var dB = Tensor(shape: [g.cout])
        dy.data.withUnsafeBufferPointer { p in
            for i in 0..<g.n { for co in 0..<g.cout { dB.data[co] += PlaneReduce.sum(p.baseAddress! + (i * g.cout + co) * g.hw, g.hw) } }
        }
        return dB
    }

    /// W'[ci, co, ky, kx] = W[co, ci, k−1−ky, k−1−kx]: convolving dY with W' gives dX.
    static func flippedTransposed(_ w: Tensor) -> Tensor {
        let (cout, cin, k) = (w.shape[0], w.shape[1], w.shape[2]), kk = k * k
        var out = [Float](repeating: 0, count: w.count)
        for co in 0..<cout { for ci in 0..<cin { for t in 0..<kk {
            out[(ci * cout + co) * kk + kk - 1 - t] = w.data[(co * cin + ci) * kk + t]
        }}}
        return Tensor(uncheckedShape: [cin, cout, k, k], data: out)
    }

    /// Floats in one im2col band (default 2^19 = 2 MiB): large enough for efficient sgemm
    /// calls, small enough to stay in cache. Set once at start-up, not while convolving.
    nonisolated(unsafe) public static var columnBudget = 1 << 19

    /// Multiply–adds of one forward pass (×2 = FLOPs); backward costs twice this.
    public static func macs(inputShape s: [Int], weightShape w: [Int]) -> Int {
        s[0] * s[2] * s[3] * w[0] * w[1] * w[2] * w[3]
    }

    /// Sizes shared by the kernels of one convolution.
    struct Geometry {
        let n, cin, h, w, hw, cout, k, dilation, pad, kdim: Int
        /// Image rows per im2col band: the column buffer (K × rows·W floats) stays near
        /// `Conv2D.columnBudget`, so it is still in cache when sgemm reads it.
        let bandRows: Int
        var isPointwise: Bool { k == 1 }
        var isDirect: Bool { !isPointwise && kdim <= Conv2D.directTaps }
        /// Undilated 3×3 with more taps than the direct kernel takes (read once per call).
        let isWinograd: Bool
        /// Winograd's 2×2 output tiles across and down (the last ones clipped at odd sizes).
        var tilesX: Int { tiles(.f2).x }
        var tilesY: Int { tiles(.f2).y }
        /// Output tiles of side m across and down (the last ones clipped).
        func tiles(_ tile: Tile) -> (x: Int, y: Int) { ((w + tile.side - 1) / tile.side, (h + tile.side - 1) / tile.side) }

        init(input: Tensor, weight: Tensor, dilation: Int) {
            precondition(input.rank == 4, "expected NCHW, got shape \(input.shape)")
            self.init(shape: input.shape, weight: weight, dilation: dilation)
        }

        /// For an input of shape `[N, C, H, W]`.
        init(shape: [Int], weight: Tensor, dilation: Int) {
            let (n, c, h, w) = (shape[0], shape[1], shape[2], shape[3])
            precondition(weight.rank == 4 && weight.shape[1] == c && weight.shape[2] == weight.shape[3]
                         && weight.shape[2] % 2 == 1, "conv: weight \(weight.shape) does not fit input \(shape)")
            precondition(dilation >= 1, "conv: dilation must be ≥ 1")
            self.n = n; self.cin = c; self.h = h; self.w = w; self.hw = h * w
            self.cout = weight.shape[0]; self.k = weight.shape[2]; self.dilation = dilation
            self.pad = dilation * (k - 1) / 2
            self.kdim = c * k * k
            self.bandRows = max(1, min(h, Conv2D.columnBudget / max(1, kdim * w)))
            self.isWinograd = Conv2D.winograd && k == 3 && dilation == 1 && kdim > Conv2D.directTaps
        }
    }

    /// col[(c, ky, kx), (y − y0, x)] = x[c, y + ky·d − p, x + kx·d − p] (0 outside) for the
    /// image rows `rows`; each col row holds rows.count·W values. Parallel over channels.
    static func im2col(_ x: UnsafePointer<Float>, _ col: UnsafeMutablePointer<Float>, _ g: Geometry, rows: Range<Int>,
                       parallel: Bool = true) {
        let cols = rows.count * g.w
        parallelFor(g.cin, work: parallel ? g.kdim * cols : 0) { c in
            let plane = x + c * g.hw
            for ky in 0..<g.k {
                let dy = ky * g.dilation - g.pad
                for kx in 0..<g.k {
                    let dx = kx * g.dilation - g.pad
                    let row = col + ((c * g.k + ky) * g.k + kx) * cols
                    let x0 = max(0, -dx), x1 = min(g.w, g.w - dx)
                    for y in rows {
                        let dst = row + (y - rows.lowerBound) * g.w
                        let sy = y + dy
                        guard sy >= 0 && sy < g.h && x1 > x0 else { dst.update(repeating: 0, count: g.w); continue }
                        if x0 > 0 { dst.update(repeating: 0, count: x0) }
                        (dst + x0).update(from: plane + sy * g.w + x0 + dx, count: x1 - x0)
                        if x1 < g.w { (dst + x1).update(repeating: 0, count: g.w - x1) }
                    }
                }
            }
        }
    }

    /// The adjoint of `im2col` for the band `rows`: dx[c, y + dy, x + dx] += dcol[(c, ky, kx), (y − y0, x)].
    /// Parallel over channels (each task writes only its own channel plane).
    static func col2im(_ dcol: UnsafePointer<Float>, _ dxImage: UnsafeMutablePointer<Float>, _ g: Geometry, rows: Range<Int>) {
        let cols = rows.count * g.w
        parallelFor(g.cin, work: g.kdim * cols) { c in
            let plane = dxImage + c * g.hw
            for ky in 0..<g.k {
                let dy = ky * g.dilation - g.pad
                for kx in 0..<g.k {
                    let dx = kx * g.dilation - g.pad
                    let row = dcol + ((c * g.k + ky) * g.k + kx) * cols
                    let x0 = max(0, -dx), x1 = min(g.w, g.w - dx)
                    guard x1 > x0 else { continue }
                    for y in rows {
                        let sy = y + dy
                        guard sy >= 0 && sy < g.h else { continue }
                        let src = row + (y - rows.lowerBound) * g.w
                        let dst = plane + sy * g.w + dx
                        for x in x0..<x1 { dst[x] += src[x] }
                    }
                }
            }
        }
    }
}
