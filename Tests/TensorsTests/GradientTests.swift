import Core
import Tensors
import XCTest

/// Every backward pass against central finite differences of L(x) = Σ f(x) ⊙ R for a fixed
/// random R, accumulated in Double. Shapes are small, odd and batched on purpose.
final class GradientTests: XCTestCase {
    var rng = SeededGenerator(seed: 42)

    /// Σ y ⊙ r in Double.
    func dot(_ y: Tensor, _ r: Tensor) -> Double {
        zip(y.data, r.data).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
    }

    /// Checks `analytic` (dL/dx) against finite differences of `f` at `x`, on up to `samples` entries.
    func checkGradient(_ x: Tensor, _ analytic: Tensor, eps: Float = 1e-2, tol: Double = 2e-3, samples: Int = 200,
                       file: StaticString = #filePath, line: UInt = #line, _ loss: (Tensor) -> Double) {
        XCTAssertEqual(analytic.shape, x.shape, file: file, line: line)
        let stride = max(1, x.count / samples)
        var worst = 0.0
        for i in Swift.stride(from: 0, to: x.count, by: stride) {
            var xp = x, xm = x
            xp.data[i] += eps; xm.data[i] -= eps
            let numeric = (loss(xp) - loss(xm)) / Double(2 * eps)
            let err = abs(numeric - Double(analytic.data[i])) / max(1, abs(numeric))
            worst = max(worst, err)
        }
        XCTAssertLessThan(worst, tol, "worst relative gradient error", file: file, line: line)
    }

    func testConvolutionGradients() {
        // (n, cin, cout, h, w, k, dilation): odd sizes, batch > 1, dilation, 1×1.
        let cases = [(2, 3, 4, 7, 5, 3, 1), (2, 1, 3, 6, 5, 3, 1), (1, 2, 3, 9, 8, 3, 2), (2, 2, 2, 6, 7, 3, 3), (3, 4, 5, 5, 3, 1, 1), (1, 2, 2, 5, 6, 5, 1)]
        for (n, cin, cout, h, w, k, d) in cases {
            let x = Tensor.randomNormal(shape: [n, cin, h, w], generator: &rng)
            let wt = Tensor.randomNormal(shape: [cout, cin, k, k], std: 0.5, generator: &rng)
            let b = Tensor.randomNormal(shape: [cout], generator: &rng)
            let r = Tensor.randomNormal(shape: [n, cout, h, w], generator: &rng)
            let g = Conv2D.backward(x, weight: wt, gradOutput: r, dilation: d)
            checkGradient(x, g.input!) { dot(Conv2D.forward($0, weight: wt, bias: b, dilation: d), r) }
            checkGradient(wt, g.weight) { dot(Conv2D.forward(x, weight: $0, bias: b, dilation: d), r) }
            checkGradient(b, g.bias) { dot(Conv2D.forward(x, weight: wt, bias: $0, dilation: d), r) }
        }
    }

    /// Large images are convolved in bands of rows; force several bands (one or two rows each)
    /// and check both directions again.
    func testBandedConvolution() {
        let saved = Conv2D.columnBudget
        defer { Conv2D.columnBudget = saved }
        for budget in [1, 2 * 27 * 7] {
            Conv2D.columnBudget = budget
            testConvolutionGradients()
            testConvolutionMatchesDirectSum()
        }
    }

    func testConvolutionMatchesDirectSum() {
        // im2col + sgemm (3 channels), the direct kernel for few taps (1 channel, Cin·k² ≤ 9),
        // with and without dilation.
        // Winograd (3×3, undilated, Cin ≥ 2) at even and odd sizes, down to one pixel.
        for (n, cin, cout, h, w, k, d) in [(2, 3, 2, 6, 5, 3, 2), (2, 1, 3, 7, 6, 3, 1), (1, 1, 2, 5, 9, 3, 2), (1, 1, 2, 4, 4, 3, 3),
                                           (2, 3, 4, 6, 8, 3, 1), (1, 2, 3, 7, 5, 3, 1), (1, 4, 2, 1, 1, 3, 1), (1, 2, 2, 3, 2, 3, 1),
                                           // The direct kernel's 16-pixel runs, with their edge columns.
                                           (2, 1, 3, 5, 40, 3, 1), (1, 1, 2, 6, 37, 3, 2), (1, 1, 2, 3, 19, 3, 1)] {
            checkAgainstDirectSum(n: n, cin: cin, cout: cout, h: h, w: w, k: k, d: d)
        }
    }

    /// The inference epilogue (bias, LeakyReLU, eval-mode batch norm in one pass) equals the three
    /// kernels run one after the other, for the GEMM, 1×1 and direct paths, in bands too.
    func testFusedEpilogueMatchesSeparateKernels() {
        for (cin, k, budget) in [(3, 3, 1 << 19), (3, 3, 2 * 27 * 7), (4, 1, 1 << 19), (1, 3, 1 << 19)] {
            let saved = Conv2D.columnBudget
            defer { Conv2D.columnBudget = saved }
            Conv2D.columnBudget = budget
            let x = Tensor.randomNormal(shape: [2, cin, 7, 9], generator: &rng)
            let wt = Tensor.randomNormal(shape: [5, cin, k, k], std: 0.5, generator: &rng)
            let b = Tensor.randomNormal(shape: [5], generator: &rng)
            let gamma = Tensor.randomNormal(shape: [5], generator: &rng), beta = Tensor.randomNormal(shape: [5], generator: &rng)
            var mean = Tensor.randomNormal(shape: [5], generator: &rng)
            var variance = Tensor.randomUniform(shape: [5], in: 0.5...2, generator: &rng)
            let separate = BatchNorm.forward(Activation.leakyReLU(Conv2D.forward(x, weight: wt, bias: b), slope: 0.01),
                                             gamma: gamma, beta: beta, runningMean: &mean, runningVar: &variance,
                                             training: false).output
            let affine = BatchNorm.inferenceAffine(gamma: gamma, beta: beta, runningMean: mean, runningVar: variance)
            let fused = Conv2D.forward(x, weight: wt, bias: b,
                                       epilogue: .init(slope: 0.01, scale: affine.scale, shift: affine.shift))
            XCTAssertEqual(fused.shape, separate.shape)
            let worst = zip(fused.data, separate.data).map { abs($0 - $1) }.max() ?? .infinity
            XCTAssertLessThan(worst, 1e-5, "Cin \(cin), k \(k), band budget \(budget)")
        }
    }

    /// Winograd F(2×2, 3×3) and F(4×4, 3×3) against im2col + sgemm at the U-Net's channel counts
    /// (sizes that are not multiples of the tile, several images, bands of one tile row, with and
    /// without the epilogue): the largest difference is float rounding, relative to the output's
    /// scale (F(4×4)'s transforms, with entries up to 8 and down to 1/24, round a few times more).
    func testWinogradMatchesIm2col() {
        let saved = (Conv2D.winograd, Conv2D.columnBudget, Conv2D.forwardTile)
        defer { (Conv2D.winograd, Conv2D.columnBudget, Conv2D.forwardTile) = saved }
        for (n, cin, cout, h, w, budget) in [(1, 32, 16, 64, 64, 1 << 19), (2, 16, 32, 33, 19, 1 << 19),
                                             (1, 128, 64, 17, 15, 1), (3, 64, 128, 8, 8, 1 << 19), (1, 32, 16, 6, 7, 1)] {
            let x = Tensor.randomNormal(shape: [n, cin, h, w], generator: &rng)
            let wt = Tensor.randomNormal(shape: [cout, cin, 3, 3], std: 0.1, generator: &rng)
            let b = Tensor.randomNormal(shape: [cout], generator: &rng)
            let e = Conv2D.Epilogue(slope: 0.01, scale: (0..<cout).map { _ in Float.random(in: 0.5...2, using: &rng) },
                                    shift: (0..<cout).map { _ in Float.random(in: -1...1, using: &rng) })
            for epilogue in [nil, e] {
                Conv2D.columnBudget = budget
                Conv2D.winograd = false
                let reference = Conv2D.forward(x, weight: wt, bias: b, epilogue: epilogue)
                let scale = reference.data.map(abs).max()!
                Conv2D.winograd = true
                for (tile, tolerance) in [(Conv2D.Tile.f2, 2e-6), (.f4, 1e-5)] as [(Conv2D.Tile, Float)] {
                    Conv2D.forwardTile = tile
                    let fast = Conv2D.forward(x, weight: wt, bias: b, epilogue: epilogue)
                    let worst = zip(fast.data, reference.data).map { abs($0 - $1) }.max()!
                    XCTAssertLessThan(worst / scale, tolerance, "\(tile) \(n)×\(cin)→\(cout) \(h)×\(w), epilogue \(epilogue != nil)")
                }
            }
        }
    }

    /// The Winograd backward pass (weight gradient as the adjoint of F(2×2, 3×3), input gradient by
    /// the flipped kernel) against im2col's at the U-Net's channel counts: odd sizes, several
    /// images, bands of one tile row, one BLAS thread and two (bands shared out, one dU per
    /// worker). The finite-difference checks above cover the same paths at small sizes.
    func testWinogradBackwardMatchesIm2col() {
        let saved = (Conv2D.winograd, Conv2D.columnBudget, BLASThreads.current)
        defer { (Conv2D.winograd, Conv2D.columnBudget) = (saved.0, saved.1); BLASThreads.set(saved.2) }
        for (n, cin, cout, h, w, budget) in [(2, 32, 16, 64, 64, 1 << 19), (3, 16, 32, 33, 19, 1 << 19),
                                             (2, 128, 64, 17, 15, 1), (1, 64, 128, 8, 8, 1 << 19)] {
            let x = Tensor.randomNormal(shape: [n, cin, h, w], generator: &rng)
            let wt = Tensor.randomNormal(shape: [cout, cin, 3, 3], std: 0.1, generator: &rng)
            let dy = Tensor.randomNormal(shape: [n, cout, h, w], generator: &rng)
            Conv2D.columnBudget = budget
            Conv2D.winograd = false
            let reference = Conv2D.backward(x, weight: wt, gradOutput: dy)
            Conv2D.winograd = true
            for threads in [1, 2] {
                BLASThreads.set(threads)
                let fast = Conv2D.backward(x, weight: wt, gradOutput: dy)
                for (name, a, b) in [("input", fast.input!, reference.input!), ("weight", fast.weight, reference.weight),
                                     ("bias", fast.bias, reference.bias)] {
                    let scale = b.data.map(abs).max()!
                    let worst = zip(a.data, b.data).map { abs($0 - $1) }.max()!
                    XCTAssertLessThan(worst / scale, 2e-6, "\(name) gradient, \(n)×\(cin)→\(cout) \(h)×\(w), \(threads) threads")
                }
            }
        }
    }

    func testMaxPoolValuesEqualTheArgmaxPass() {
        let x = Tensor.randomNormal(shape: [2, 3, 7, 10], generator: &rng)
        XCTAssertEqual(MaxPool2x2.forwardValues(x), MaxPool2x2.forward(x).output)
    }

    /// Independent truth: the textbook 7-loop convolution with zero padding.
    func checkAgainstDirectSum(n: Int, cin: Int, cout: Int, h: Int, w: Int, k: Int, d: Int,
                               file: StaticString = #filePath, line: UInt = #line) {
        let x = Tensor.randomNormal(shape: [n, cin, h, w], generator: &rng)
        let wt = Tensor.randomNormal(shape: [cout, cin, k, k], generator: &rng)
        let b = Tensor.randomNormal(shape: [cout], generator: &rng)
        let y = Conv2D.forward(x, weight: wt, bias: b, dilation: d)
        let p = d * (k - 1) / 2
        for i in 0..<n { for co in 0..<cout { for oy in 0..<h { for ox in 0..<w {
            var s = Double(b.data[co])
            for ci in 0..<cin { for ky in 0..<k { for kx in 0..<k {
                let sy = oy + ky * d - p, sx = ox + kx * d - p
                guard sy >= 0, sy < h, sx >= 0, sx < w else { continue }
                s += Double(x.data[((i * cin + ci) * h + sy) * w + sx]) * Double(wt.data[((co * cin + ci) * k + ky) * k + kx])
            }}}
            XCTAssertEqual(Double(y.data[((i * cout + co) * h + oy) * w + ox]), s, accuracy: 1e-4, file: file, line: line)
        }}}}
    }

    func testMaxPoolGradient() {
        // Distinct, well separated values so no finite step flips an arg-max.
        let shape = [2, 3, 6, 7]
        var values = (0..<shape.reduce(1, *)).map { Float($0) * 0.1 }
        values.shuffle(using: &rng)
        let x = try! Tensor(shape: shape, data: values)
        let (y, arg) = MaxPool2x2.forward(x)
        XCTAssertEqual(y.shape, [2, 3, 3, 3])
        let r = Tensor.randomNormal(shape: y.shape, generator: &rng)
        let g = MaxPool2x2.backward(gradOutput: r, argmax: arg, inputShape: shape)
        checkGradient(x, g, eps: 1e-2) { dot(MaxPool2x2.forward($0).output, r) }
        // The pooled value is the maximum of its window.
        XCTAssertEqual(y.data[0], [x.data[0], x.data[1], x.data[7], x.data[8]].max())
    }

    func testUpsampleGradients() {
        for mode in [Upsample2x.Mode.bilinear, .nearest] {
            let x = Tensor.randomNormal(shape: [2, 2, 3, 5], generator: &rng)
            let r = Tensor.randomNormal(shape: [2, 2, 6, 10], generator: &rng)
            let g = Upsample2x.backward(gradOutput: r, mode: mode, inputShape: x.shape)
            checkGradient(x, g) { dot(Upsample2x.forward($0, mode: mode), r) }
        }
    }

    func testBilinearUpsampleKnownValues() {
        // PyTorch (align_corners=False) on [[0, 1]] gives [0, 0.25, 0.75, 1] per row.
        let x = try! Tensor(shape: [1, 1, 1, 2], data: [0, 1])
        let y = Upsample2x.forward(x, mode: .bilinear)
        XCTAssertEqual(y.data, [0, 0.25, 0.75, 1, 0, 0.25, 0.75, 1])
        XCTAssertEqual(Upsample2x.forward(x, mode: .nearest).data, [0, 0, 1, 1, 0, 0, 1, 1])
    }

    func testBatchNormGradientsTrainAndEval() {
        for training in [true, false] {
            let x = Tensor.randomNormal(shape: [3, 2, 5, 3], generator: &rng)
            let gamma = Tensor.randomNormal(shape: [2], generator: &rng)
            let beta = Tensor.randomNormal(shape: [2], generator: &rng)
            var rm = Tensor.randomNormal(shape: [2], std: 0.3, generator: &rng)
            var rv = Tensor(shape: [2], repeating: 1.5)
            let r = Tensor.randomNormal(shape: x.shape, generator: &rng)
            let f = { (x: Tensor, gm: Tensor, bt: Tensor) -> Tensor in
                var m = rm, v = rv
                return BatchNorm.forward(x, gamma: gm, beta: bt, runningMean: &m, runningVar: &v, training: training).output
            }
            let (_, cache) = BatchNorm.forward(x, gamma: gamma, beta: beta, runningMean: &rm, runningVar: &rv, training: training)
            let g = BatchNorm.backward(x, gradOutput: r, gamma: gamma, cache: cache)
            checkGradient(x, g.input) { dot(f($0, gamma, beta), r) }
            checkGradient(gamma, g.gamma) { dot(f(x, $0, beta), r) }
            checkGradient(beta, g.beta) { dot(f(x, gamma, $0), r) }
        }
    }

    /// Batch norm's backward taken on through the LeakyReLU that produced its input (the training
    /// fusion of conv → LeakyReLU → BatchNorm) against finite differences of BN(LeakyReLU(v)).
    func testBatchNormGradientThroughLeakyReLU() {
        var v = Tensor.randomNormal(shape: [3, 2, 5, 3], generator: &rng)
        for i in 0..<v.count where abs(v.data[i]) < 0.05 { v.data[i] = -0.3 }   // stay off the kink
        let gamma = Tensor.randomNormal(shape: [2], generator: &rng), beta = Tensor.randomNormal(shape: [2], generator: &rng)
        let r = Tensor.randomNormal(shape: v.shape, generator: &rng)
        func bn(_ a: Tensor) -> (output: Tensor, cache: BatchNorm.Cache) {
            var m = Tensor(shape: [2]), s = Tensor(shape: [2], repeating: 1)
            return BatchNorm.forward(a, gamma: gamma, beta: beta, runningMean: &m, runningVar: &s, training: true)
        }
        let a = Activation.leakyReLU(v, slope: 0.1)
        let g = BatchNorm.backward(a, gradOutput: r, gamma: gamma, cache: bn(a).cache, leakySlope: 0.1)
        checkGradient(v, g.input) { dot(bn(Activation.leakyReLU($0, slope: 0.1)).output, r) }
    }

    func testBatchNormStatistics() {
        let x = Tensor.randomNormal(shape: [4, 3, 6, 6], std: 2, generator: &rng)
        var rm = Tensor(shape: [3]), rv = Tensor(shape: [3], repeating: 1)
        let y = BatchNorm.forward(x, gamma: Tensor(shape: [3], repeating: 1), beta: Tensor(shape: [3]),
                                  runningMean: &rm, runningVar: &rv, training: true).output
        for c in 0..<3 {
            var vals: [Double] = []
            for i in 0..<4 { for j in 0..<36 { vals.append(Double(y.data[(i * 3 + c) * 36 + j])) } }
            let mean = vals.reduce(0, +) / Double(vals.count)
            let variance = vals.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(vals.count)
            XCTAssertEqual(mean, 0, accuracy: 1e-5)
            XCTAssertEqual(variance, 1, accuracy: 1e-3)
            // Running mean after one step = 0.1 × batch mean.
            var xs: [Double] = []
            for i in 0..<4 { for j in 0..<36 { xs.append(Double(x.data[(i * 3 + c) * 36 + j])) } }
            XCTAssertEqual(Double(rm.data[c]), 0.1 * xs.reduce(0, +) / Double(xs.count), accuracy: 1e-5)
        }
    }

    func testActivationSoftmaxConcatDropoutGradients() {
        var x = Tensor.randomNormal(shape: [2, 3, 4, 5], generator: &rng)
        for i in 0..<x.count where abs(x.data[i]) < 0.05 { x.data[i] = 0.3 }   // stay off the kink
        let r = Tensor.randomNormal(shape: x.shape, generator: &rng)
        checkGradient(x, Activation.leakyReLUBackward(x, gradOutput: r, slope: 0.01)) { dot(Activation.leakyReLU($0, slope: 0.01), r) }
        checkGradient(x, Activation.reluBackward(x, gradOutput: r)) { dot(Activation.relu($0), r) }

        let y = ChannelSoftmax.forward(x)
        checkGradient(x, ChannelSoftmax.backward(output: y, gradOutput: r)) { dot(ChannelSoftmax.forward($0), r) }
        for j in 0..<20 { XCTAssertEqual((0..<3).reduce(Float(0)) { $0 + y.data[$1 * 20 + j] }, 1, accuracy: 1e-6) }

        let b = Tensor.randomNormal(shape: [2, 2, 4, 5], generator: &rng)
        let rc = Tensor.randomNormal(shape: [2, 5, 4, 5], generator: &rng)
        let (ga, gb) = ChannelConcat.backward(rc, channelsA: 3)
        checkGradient(x, ga) { dot(ChannelConcat.forward($0, b), rc) }
        checkGradient(b, gb) { dot(ChannelConcat.forward(x, $0), rc) }

        var g1 = SeededGenerator(seed: 7), g2 = SeededGenerator(seed: 7)
        let (dy, mask) = Dropout.forward(x, p: 0.3, generator: &g1)
        checkGradient(x, Dropout.backward(gradOutput: r, mask: mask)) { [g2] in
            var g = g2
            return dot(Dropout.forward($0, p: 0.3, generator: &g).output, r)
        }
        _ = g2.next()
        let kept = mask.filter { $0 > 0 }.count
        XCTAssertEqual(Double(kept) / Double(mask.count), 0.7, accuracy: 0.12)
        XCTAssertEqual(dy.data.count, x.count)
    }

    func testTensorErrors() {
        XCTAssertThrowsError(try Tensor(shape: [2, 3], data: [1, 2]))
        let t = Tensor(shape: [2, 3], repeating: 2)
        XCTAssertThrowsError(try t.reshaped([4]))
        XCTAssertEqual(try t.reshaped([3, 2]).shape, [3, 2])
        XCTAssertEqual(t.sum(), 12)
    }
}
