import Core
import Foundation

/// 2×2 max pooling with stride 2 (odd trailing rows/columns dropped, as in PyTorch).
public enum MaxPool2x2 {
    /// Pooled tensor `[N, C, H/2, W/2]` and, per output element, the flat index of the
    /// winning input element inside its `H×W` plane (for the backward pass).
    public static func forward(_ x: Tensor) -> (output: Tensor, argmax: [Int32]) {
        let (n, c, h, w) = x.nchw
        let oh = h / 2, ow = w / 2
        var out = Tensor(shape: [n, c, oh, ow])
        var arg = [Int32](repeating: 0, count: out.count)
        x.data.withUnsafeBufferPointer { xp in
        out.data.withUnsafeMutableBufferPointer { yp in
        arg.withUnsafeMutableBufferPointer { ap in
            let xb = xp.baseAddress!, yb = yp.baseAddress!, ab = ap.baseAddress!
            parallelFor(n * c, work: x.count) { p in
                let src = xb + p * h * w, dst = yb + p * oh * ow, am = ab + p * oh * ow
                for oy in 0..<oh {
                    for ox in 0..<ow {
                        let i0 = 2 * oy * w + 2 * ox
                        var best = i0
                        if src[i0 + 1] > src[best] { best = i0 + 1 }
                        if src[i0 + w] > src[best] { best = i0 + w }
                        if src[i0 + w + 1] > src[best] { best = i0 + w + 1 }
                        dst[oy * ow + ox] = src[best]
                        am[oy * ow + ox] = Int32(best)
                    }
                }
            }
        }}}
        return (out, arg)
    }

    /// The pooled tensor alone (inference: no argmax to record).
    public static func forwardValues(_ x: Tensor) -> Tensor {
        let (n, c, h, w) = x.nchw
        let oh = h / 2, ow = w / 2
        var out = Tensor(uninitializedShape: [n, c, oh, ow])   // every element is written below
        x.data.withUnsafeBufferPointer { xp in
        out.data.withUnsafeMutableBufferPointer { yp in
            let xb = xp.baseAddress!, yb = yp.baseAddress!
            parallelFor(n * c, work: x.count) { p in
                for oy in 0..<oh {
                    let top = xb + p * h * w + 2 * oy * w, bottom = top + w, dst = yb + (p * oh + oy) * ow
                    for ox in 0..<ow {
                        dst[ox] = max(max(top[2 * ox], top[2 * ox + 1]), max(bottom[2 * ox], bottom[2 * ox + 1]))
                    }
                }
            }
        }}
        return out
    }

    /// Routes each output gradient back to the input element that won the max.
    public static func backward(gradOutput: Tensor, argmax: [Int32], inputShape: [Int]) -> Tensor {
        let (n, c, oh, ow) = gradOutput.nchw
        let hw = inputShape[2] * inputShape[3]
        var dx = Tensor(shape: inputShape)
        gradOutput.data.withUnsafeBufferPointer { gp in
        dx.data.withUnsafeMutableBufferPointer { dp in
            let gb = gp.baseAddress!, db = dp.baseAddress!
            for p in 0..<(n * c) {
                let g = gb + p * oh * ow, d = db + p * hw
                for i in 0..<(oh * ow) { d[Int(argmax[p * oh * ow + i])] += g[i] }
            }
        }}
        return dx
    }
}

/// ×2 spatial upsampling: bilinear (PyTorch `align_corners=False`) or nearest neighbour.
public enum Upsample2x {
    public enum Mode: String, Codable, Sendable { case bilinear, nearest }

    /// Per output coordinate: the two source indices and their weights.
    struct Taps {
        var i0: [Int], i1: [Int], w0: [Float], w1: [Float]
        /// `bilinearPairs`, once the taps are complete.
        var pairs = 0..<0

        /// The k whose outputs 2k and 2k + 1 read sources k − 1, k and k, k + 1 (bilinear away from
        /// the edges), as one contiguous range (empty if none): there the gathers are shifted loads.
        var bilinearPairs: Range<Int> {
            func regular(_ k: Int) -> Bool { i0[2 * k] == k - 1 && i1[2 * k] == k && i0[2 * k + 1] == k && i1[2 * k + 1] == k + 1 }
            let n = i0.count / 2
            guard let first = (0..<n).first(where: regular) else { return 0..<0 }
            var end = first
            while end < n && regular(end) { end += 1 }
            return first..<end
        }
    }

    static func taps(inputSize n: Int, mode: Mode) -> Taps {
        var t = Taps(i0: [], i1: [], w0: [], w1: [])
        for o in 0..<(2 * n) {
            switch mode {
            case .nearest:
                t.i0.append(o / 2); t.i1.append(o / 2); t.w0.append(1); t.w1.append(0)
            case .bilinear:
                let src = max(0, (Float(o) + 0.5) / 2 - 0.5)
                let i0 = min(Int(src), n - 1)
                let i1 = i0 < n - 1 ? i0 + 1 : i0
                let l1 = src - Float(i0)
                t.i0.append(i0); t.i1.append(i1); t.w0.append(1 - l1); t.w1.append(l1)
            }
        }
        t.pairs = t.bilinearPairs
        return t
    }

    /// `[N, C, 2H, 2W]` from `[N, C, H, W]`. Each input row is interpolated along x once (into a
    /// plane of 2W-wide rows), then every output row is a weighted sum of two of those rows: the
    /// same products in the same order as per output pixel, a quarter of the gathers.
    public static func forward(_ x: Tensor, mode: Mode) -> Tensor {
        let (n, c, h, w) = x.nchw
        let ty = taps(inputSize: h, mode: mode), tx = taps(inputSize: w, mode: mode)
        let oh = 2 * h, ow = 2 * w
        var out = Tensor(uninitializedShape: [n, c, oh, ow])   // every output row is written below
        x.data.withUnsafeBufferPointer { xp in
        out.data.withUnsafeMutableBufferPointer { yp in
        tx.i0.withUnsafeBufferPointer { i0 in tx.i1.withUnsafeBufferPointer { i1 in
        tx.w0.withUnsafeBufferPointer { w0 in tx.w1.withUnsafeBufferPointer { w1 in
            let xb = xp.baseAddress!, yb = yp.baseAddress!
            parallelFor(n * c, work: 4 * x.count) { p in
                let src = xb + p * h * w, dst = yb + p * oh * ow
                let rows = UnsafeMutablePointer<Float>.allocate(capacity: h * ow)
                defer { rows.deallocate() }
                for y in 0..<h {
                    let r = src + y * w, d = rows + y * ow
                    for ox in 0..<ow { d[ox] = w0[ox] * r[i0[ox]] + w1[ox] * r[i1[ox]] }
                }
                for oy in 0..<oh {
                    let r0 = rows + ty.i0[oy] * ow, r1 = rows + ty.i1[oy] * ow, a0 = ty.w0[oy], a1 = ty.w1[oy]
                    let d = dst + oy * ow
                    for ox in 0..<ow { d[ox] = a0 * r0[ox] + a1 * r1[ox] }
                }
            }
        }}}}}}
        return out
    }

    /// The adjoint of `forward`: scatters each output gradient onto its source taps.
    public static func backward(gradOutput: Tensor, mode: Mode, inputShape: [Int]) -> Tensor {
        let (n, c, h, w) = (inputShape[0], inputShape[1], inputShape[2], inputShape[3])
        let ty = taps(inputSize: h, mode: mode), tx = taps(inputSize: w, mode: mode)
        let oh = 2 * h, ow = 2 * w
        var dx = Tensor(shape: inputShape)
        gradOutput.data.withUnsafeBufferPointer { gp in
        dx.data.withUnsafeMutableBufferPointer { dp in
            let gb = gp.baseAddress!, db = dp.baseAddress!
            parallelFor(n * c, work: 4 * n * c * h * w) { p in
                let g = gb + p * oh * ow, d = db + p * h * w
                for oy in 0..<oh {
                    let r0 = d + ty.i0[oy] * w, r1 = d + ty.i1[oy] * w
                    let a0 = ty.w0[oy], a1 = ty.w1[oy]
                    let gr = g + oy * ow
                    for ox in 0..<ow {
                        let j0 = tx.i0[ox], j1 = tx.i1[ox], v = gr[ox]
                        r0[j0] += a0 * tx.w0[ox] * v; r0[j1] += a0 * tx.w1[ox] * v
                        r1[j0] += a1 * tx.w0[ox] * v; r1[j1] += a1 * tx.w1[ox] * v
                    }
                }
            }
        }}
        return dx
    }
}

/// Batch normalization over (N, H, W) per channel, with learned scale/shift and running statistics.
public enum BatchNorm {
    /// What the backward pass needs from a training-mode forward pass.
    public struct Cache: Sendable {
        public var mean: [Float]
        public var invStd: [Float]
        public var training: Bool
    }

    /// Sums per-channel totals in place over the replicas of a data-parallel run (e.g.
    /// MPI_Allreduce): batch statistics then cover the global batch (synchronized batch norm).
    public typealias ReplicaSum = (UnsafeMutableBufferPointer<Double>) -> Void

    /// Normalizes `x` `[N, C, H, W]`. In training mode uses batch statistics and updates the
    /// running ones (`momentum` as in PyTorch; the running variance is unbiased);
    /// otherwise uses the running statistics. With `replicaSum` the batch is every replica's.
    public static func forward(_ x: Tensor, gamma: Tensor, beta: Tensor, runningMean: inout Tensor,
                               runningVar: inout Tensor, training: Bool, momentum: Float = 0.1,
                               eps: Float = 1e-5, replicaSum: ReplicaSum? = nil) -> (output: Tensor, cache: Cache) {
        let (n, c, h, w) = x.nchw
        let hw = h * w
        var mean = [Float](repeating: 0, count: c), invStd = [Float](repeating: 0, count: c)
        var out = Tensor(uninitializedShape: x.shape)   // every element written below
        if training {
            // Σx per channel (and the count), then Σ(x − μ)² around the batch mean: two passes.
            var sums = [Double](repeating: 0, count: c + 1)
            sums[c] = Double(n * hw)
            channelSums(x, into: &sums) { p, _ in PlaneReduce.sum(p, hw) }
            sums.withUnsafeMutableBufferPointer { replicaSum?($0) }
            let m = sums[c]
            for ch in 0..<c { mean[ch] = Float(sums[ch] / m) }
            var squares = [Double](repeating: 0, count: c)
            channelSums(x, into: &squares) { p, ch in PlaneReduce.centredSquares(p, hw, mean[ch]) }
            squares.withUnsafeMutableBufferPointer { replicaSum?($0) }
            let unbias = m > 1 ? Float(m) / Float(m - 1) : 1
            for ch in 0..<c {
                let variance = Float(squares[ch] / m)
                invStd[ch] = 1 / (variance + eps).squareRoot()
                runningMean.data[ch] = (1 - momentum) * runningMean.data[ch] + momentum * mean[ch]
                runningVar.data[ch] = (1 - momentum) * runningVar.data[ch] + momentum * variance * unbias
            }
        } else {
            for ch in 0..<c {
                mean[ch] = runningMean.data[ch]
                invStd[ch] = 1 / (runningVar.data[ch] + eps).squareRoot()
            }
        }
        x.data.withUnsafeBufferPointer { xp in
        out.data.withUnsafeMutableBufferPointer { yp in
            let xb = xp.baseAddress!, yb = yp.baseAddress!
            parallelFor(n * c, work: x.count) { p in
                let ch = p % c
                let scale = gamma.data[ch] * invStd[ch], shift = beta.data[ch] - mean[ch] * scale
                let s = xb + p * hw, d = yb + p * hw
                for j in 0..<hw { d[j] = s[j] * scale + shift }
            }
        }}
        return (out, Cache(mean: mean, invStd: invStd, training: training))
    }

    /// The eval-mode normalization as y = scale·x + shift per channel, computed exactly as
    /// `forward(training: false)` computes it (so a fused epilogue gives the same values).
    public static func inferenceAffine(gamma: Tensor, beta: Tensor, runningMean: Tensor, runningVar: Tensor,
                                       eps: Float = 1e-5) -> (scale: [Float], shift: [Float]) {
        let c = gamma.count
        var scale = [Float](repeating: 0, count: c), shift = [Float](repeating: 0, count: c)
        for ch in 0..<c {
            let invStd = 1 / (runningVar.data[ch] + eps).squareRoot()
            scale[ch] = gamma.data[ch] * invStd
            shift[ch] = beta.data[ch] - runningMean.data[ch] * scale[ch]
        }
        return (scale, shift)
    }

    /// Per channel, the sum over images of `plane(image plane, channel)` (Float within a plane,
    /// Double across), added into `sums[channel]`; channels in parallel.
    private static func channelSums(_ x: Tensor, into sums: inout [Double],
                                    _ plane: (UnsafePointer<Float>, Int) -> Float) {
        let (n, c, h, w) = x.nchw
        x.data.withUnsafeBufferPointer { xp in
        sums.withUnsafeMutableBufferPointer { sp in
            let xb = xp.baseAddress!
            parallelFor(c, work: x.count) { ch in
                var s = 0.0
                for i in 0..<n { s += Double(plane(xb + (i * c + ch) * h * w, ch)) }
                sp[ch] += s
            }
        }}
    }

    /// Gradients with respect to the input, gamma and beta. With `replicaSum` (as in the
    /// forward pass) the input gradient is that of the global batch; gamma's and beta's stay
    /// this replica's share (they are summed with the other parameters' gradients).
    /// `leakySlope` > 0 takes the input gradient on through the LeakyReLU whose output `x` is,
    /// in the same pass (x < 0 exactly where that LeakyReLU's input was; 1 leaves it alone).
    public static func backward(_ x: Tensor, gradOutput: Tensor, gamma: Tensor, cache: Cache, replicaSum: ReplicaSum? = nil,
                                leakySlope: Float = 1) -> (input: Tensor, gamma: Tensor, beta: Tensor) {
        precondition(leakySlope > 0, "batch norm backward: a fused LeakyReLU needs a positive slope")
        let (n, c, h, w) = x.nchw
        let hw = h * w
        var dx = Tensor(uninitializedShape: x.shape)   // every element written below
        // Σdy and Σdy·x̂ per channel (then the count).
        var sums = [Double](repeating: 0, count: 2 * c + 1)
        sums[2 * c] = Double(n * hw)
        x.data.withUnsafeBufferPointer { xp in
        gradOutput.data.withUnsafeBufferPointer { gp in
        sums.withUnsafeMutableBufferPointer { sp in
            let xb = xp.baseAddress!, gb = gp.baseAddress!
            parallelFor(c, work: x.count) { ch in
                let mu = cache.mean[ch], istd = cache.invStd[ch]
                var sumG = 0.0, sumGX = 0.0
                for i in 0..<n {
                    let xs = xb + (i * c + ch) * hw, gs = gb + (i * c + ch) * hw
                    let (a, b) = PlaneReduce.sumAndCentredDot(gs, xs, hw, mu)
                    sumG += Double(a); sumGX += Double(b) * Double(istd)
                }
                sp[ch] = sumG; sp[c + ch] = sumGX
            }
        }}}
        var dgamma = Tensor(shape: [c]), dbeta = Tensor(shape: [c])
        for ch in 0..<c { dgamma.data[ch] = Float(sums[c + ch]); dbeta.data[ch] = Float(sums[ch]) }
        if cache.training { sums.withUnsafeMutableBufferPointer { replicaSum?($0) } }
        let m = Float(sums[2 * c])
        x.data.withUnsafeBufferPointer { xp in
        gradOutput.data.withUnsafeBufferPointer { gp in
        dx.data.withUnsafeMutableBufferPointer { dp in
            let xb = xp.baseAddress!, gb = gp.baseAddress!, db = dp.baseAddress!
            parallelFor(c, work: x.count) { ch in
                let mu = cache.mean[ch], istd = cache.invStd[ch], g = gamma.data[ch]
                // Training: dx = γ·istd·(dy − mean(dy) − x̂·mean(dy·x̂)); eval: dx = γ·istd·dy.
                let k1 = cache.training ? Float(sums[ch]) / m : 0
                let k2 = cache.training ? Float(sums[c + ch]) / m : 0
                for i in 0..<n {
                    let xs = xb + (i * c + ch) * hw, gs = gb + (i * c + ch) * hw, ds = db + (i * c + ch) * hw
                    for j in 0..<hw {
                        let xhat = (xs[j] - mu) * istd, v = g * istd * (gs[j] - k1 - xhat * k2)
                        ds[j] = xs[j] < 0 ? v * leakySlope : v
                    }
                }
            }
        }}}
        return (dx, dgamma, dbeta)
    }
}

/// Element-wise activations. ReLU is LeakyReLU with slope 0.
public enum Activation {
    /// max(x, 0) + slope·min(x, 0).
    public static func leakyReLU(_ x: Tensor, slope: Float) -> Tensor {
        var y = Tensor(uninitializedShape: x.shape)   // every element written below
        x.data.withUnsafeBufferPointer { xp in
        y.data.withUnsafeMutableBufferPointer { yp in
            let xb = xp.baseAddress!, yb = yp.baseAddress!
            parallelChunks(xp.count, minChunk: 1 << 15, maxChunks: activeProcessors) { r in
                for i in r { let v = xb[i]; yb[i] = v < 0 ? v * slope : v }
            }
        }}
        return y
    }

    /// The gradient of `leakyReLU` at input `x` (the sign of the output is that of the input).
    public static func leakyReLUBackward(_ x: Tensor, gradOutput: Tensor, slope: Float) -> Tensor {
        var dx = Tensor(uninitializedShape: x.shape)   // every element written below
        x.data.withUnsafeBufferPointer { xp in
        gradOutput.data.withUnsafeBufferPointer { gp in
        dx.data.withUnsafeMutableBufferPointer { dp in
            let xb = xp.baseAddress!, gb = gp.baseAddress!, db = dp.baseAddress!
            parallelChunks(xp.count, minChunk: 1 << 15, maxChunks: activeProcessors) { r in
                for i in r { db[i] = xb[i] < 0 ? gb[i] * slope : gb[i] }
            }
        }}}
        return dx
    }

    public static func relu(_ x: Tensor) -> Tensor { leakyReLU(x, slope: 0) }
    public static func reluBackward(_ x: Tensor, gradOutput: Tensor) -> Tensor {
        leakyReLUBackward(x, gradOutput: gradOutput, slope: 0)
    }
}

/// Inverted dropout: zeroes each element with probability `p` and scales survivors by 1/(1−p).
public enum Dropout {
    /// The output and the mask (0 or 1/(1−p) per element) for the backward pass.
    public static func forward(_ x: Tensor, p: Float, generator: inout SeededGenerator) -> (output: Tensor, mask: [Float]) {
        precondition(p >= 0 && p < 1, "dropout probability must be in [0, 1)")
        let keep = 1 / (1 - p)
        var mask = [Float](repeating: 0, count: x.count)
        var y = x
        for i in 0..<mask.count {
            mask[i] = generator.uniformFloat() >= p ? keep : 0
            y.data[i] *= mask[i]
        }
        return (y, mask)
    }

    public static func backward(gradOutput: Tensor, mask: [Float]) -> Tensor {
        var dx = gradOutput
        for i in 0..<mask.count { dx.data[i] *= mask[i] }
        return dx
    }
}

/// Concatenation along channels (U-Net skip connections) and its adjoint, the split.
public enum ChannelConcat {
    /// `[N, Ca+Cb, H, W]` from `[N, Ca, H, W]` and `[N, Cb, H, W]`.
    public static func forward(_ a: Tensor, _ b: Tensor) -> Tensor {
        let (n, ca, h, w) = a.nchw
        let cb = b.shape[1]
        precondition(b.shape == [n, cb, h, w], "concat: shapes \(a.shape) and \(b.shape) differ outside channels")
        let hw = h * w
        var out = [Float](); out.reserveCapacity(a.count + b.count)
        for i in 0..<n {
            out.append(contentsOf: a.data[(i * ca * hw)..<((i + 1) * ca * hw)])
            out.append(contentsOf: b.data[(i * cb * hw)..<((i + 1) * cb * hw)])
        }
        return Tensor(uncheckedShape: [n, ca + cb, h, w], data: out)
    }

    /// Splits a gradient `[N, Ca+Cb, H, W]` into its `[N, Ca, …]` and `[N, Cb, …]` parts.
    public static func backward(_ g: Tensor, channelsA ca: Int) -> (Tensor, Tensor) {
        let (n, c, h, w) = g.nchw
        let cb = c - ca, hw = h * w
        var a = [Float](), b = [Float]()
        a.reserveCapacity(n * ca * hw); b.reserveCapacity(n * cb * hw)
        for i in 0..<n {
            a.append(contentsOf: g.data[(i * c * hw)..<((i * c + ca) * hw)])
            b.append(contentsOf: g.data[((i * c + ca) * hw)..<((i + 1) * c * hw)])
        }
        return (Tensor(uncheckedShape: [n, ca, h, w], data: a), Tensor(uncheckedShape: [n, cb, h, w], data: b))
    }
}

/// Softmax over the channel axis of `[N, C, H, W]` (per pixel), numerically stabilised.
public enum ChannelSoftmax {
    public static func forward(_ x: Tensor) -> Tensor {
        let (n, c, h, w) = x.nchw
        let hw = h * w
        var y = Tensor(uninitializedShape: x.shape)   // every element is written below
        // Whole channel planes at a time (contiguous, vectorisable), in pixel blocks that
        // stay in cache; parallel over (image, block).
        let block = 4096, blocks = (hw + block - 1) / block
        x.data.withUnsafeBufferPointer { xp in
        y.data.withUnsafeMutableBufferPointer { yp in
            let xb = xp.baseAddress!, yb = yp.baseAddress!
            parallelFor(n * blocks, work: x.count * 8) { t in
                let i = t / blocks, j0 = (t % blocks) * block, len = min(block, hw - j0)
                Self.block(xb + i * c * hw + j0, yb + i * c * hw + j0, channels: c, stride: hw, count: len)
            }
        }}
        return y
    }

    /// The softmax of `count` pixels whose `channels` values lie `stride` apart, from x into y (which
    /// may be x): per pixel, the maximum, exp of the differences, their sum, each times 1/sum.
    static func block(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, channels c: Int, stride: Int, count len: Int) {
        var mx = [Float](repeating: -.infinity, count: len), sum = [Float](repeating: 0, count: len)
        for k in 0..<c {
            let xs = x + k * stride
            for j in 0..<len { mx[j] = max(mx[j], xs[j]) }
        }
        for k in 0..<c {
            let xs = x + k * stride, ys = y + k * stride
            for j in 0..<len { let e = Foundation.exp(xs[j] - mx[j]); ys[j] = e; sum[j] += e }
        }
        for j in 0..<len { sum[j] = 1 / sum[j] }
        for k in 0..<c {
            let ys = y + k * stride
            for j in 0..<len { ys[j] *= sum[j] }
        }
    }

    /// dx = y ⊙ (dy − Σ_c dy·y), from the softmax output `y`.
    public static func backward(output y: Tensor, gradOutput: Tensor) -> Tensor {
        let (n, c, h, w) = y.nchw
        let hw = h * w
        var dx = Tensor(shape: y.shape)
        for i in 0..<n {
            for j in 0..<hw {
                var dot: Float = 0
                for k in 0..<c { let idx = (i * c + k) * hw + j; dot += gradOutput.data[idx] * y.data[idx] }
                for k in 0..<c { let idx = (i * c + k) * hw + j; dx.data[idx] = y.data[idx] * (gradOutput.data[idx] - dot) }
            }
        }
        return dx
    }
}

/// Per-plane reductions in sixteen interleaved partial sums (SIMD lanes): vectorised (a single
/// running Float sum is a serial dependency chain), and each partial sum holds 1/16 of the terms,
/// so it rounds no worse than one running sum.
enum PlaneReduce {
    typealias Vec = SIMD16<Float>
    @inline(__always) static func load(_ p: UnsafePointer<Float>) -> Vec { UnsafeRawPointer(p).loadUnaligned(as: Vec.self) }

    /// Σ p[j].
    @inline(__always)
    static func sum(_ p: UnsafePointer<Float>, _ n: Int) -> Float {
        var acc = Vec(), j = 0
        while j + 16 <= n { acc += load(p + j); j += 16 }
        var s = acc.sum()
        while j < n { s += p[j]; j += 1 }
        return s
    }

    /// Σ (p[j] − mu)².
    @inline(__always)
    static func centredSquares(_ p: UnsafePointer<Float>, _ n: Int, _ mu: Float) -> Float {
        var acc = Vec(), j = 0
        while j + 16 <= n { let d = load(p + j) - mu; acc += d * d; j += 16 }
        var s = acc.sum()
        while j < n { let d = p[j] - mu; s += d * d; j += 1 }
        return s
    }

    /// (Σ g[j], Σ g[j]·(x[j] − mu)).
    @inline(__always)
    static func sumAndCentredDot(_ g: UnsafePointer<Float>, _ x: UnsafePointer<Float>, _ n: Int, _ mu: Float) -> (Float, Float) {
        var a = Vec(), b = Vec(), j = 0
        while j + 16 <= n { let gv = load(g + j); a += gv; b += gv * (load(x + j) - mu); j += 16 }
        var sa = a.sum(), sb = b.sum()
        while j < n { sa += g[j]; sb += g[j] * (x[j] - mu); j += 1 }
        return (sa, sb)
    }
}
