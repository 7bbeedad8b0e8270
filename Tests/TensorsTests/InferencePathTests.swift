import Core
import Tensors
import XCTest

/// The inference-only shortcuts of the forward pass give exactly the values of the plain kernels
/// they replace (same products, same order): a concatenation read in place, an upsampled path
/// interpolated inside the next convolution, Winograd weights kept between calls.
final class InferencePathTests: XCTestCase {
    var rng = SeededGenerator(seed: 7)

    /// `forward(concatenating:_:upsampling:)` against `forward(ChannelConcat.forward(a, Upsample2x.forward(b)))`,
    /// bit for bit: both tiles (F(2×2) concatenates first), bilinear, nearest and no upsampling, sizes
    /// that are not multiples of the tile, two images, bands of one tile row and whole images.
    func testConcatenatedConvolutionEqualsConcatThenConvolve() {
        let saved = (Conv2D.columnBudget, Conv2D.forwardTile)
        defer { (Conv2D.columnBudget, Conv2D.forwardTile) = saved }
        for (n, ca, cb, cout, h, w) in [(2, 4, 3, 5, 18, 22), (1, 16, 16, 8, 10, 6), (1, 2, 3, 4, 2, 2)] {
            let a = Tensor.randomNormal(shape: [n, ca, h, w], generator: &rng)
            let wt = Tensor.randomNormal(shape: [cout, ca + cb, 3, 3], std: 0.3, generator: &rng)
            let bias = Tensor.randomNormal(shape: [cout], generator: &rng)
            let epilogue = Conv2D.Epilogue(slope: 0.01, scale: (0..<cout).map { _ in Float.random(in: 0.5...2, using: &rng) },
                                           shift: (0..<cout).map { _ in Float.random(in: -1...1, using: &rng) })
            for mode in [Upsample2x.Mode.bilinear, .nearest, nil] {
                let b = Tensor.randomNormal(shape: mode == nil ? [n, cb, h, w] : [n, cb, h / 2, w / 2], generator: &rng)
                let joined = ChannelConcat.forward(a, mode.map { Upsample2x.forward(b, mode: $0) } ?? b)
                for (tile, budget) in [(Conv2D.Tile.f4, 1), (.f4, 1 << 19), (.f2, 1)] {
                    (Conv2D.forwardTile, Conv2D.columnBudget) = (tile, budget)
                    let reference = Conv2D.forward(joined, weight: wt, bias: bias, epilogue: epilogue)
                    let fused = Conv2D.forward(concatenating: a, b, upsampling: mode, weight: wt, bias: bias, epilogue: epilogue)
                    XCTAssertEqual(fused.shape, reference.shape)
                    XCTAssertEqual(fused.data, reference.data, "\(n)×(\(ca)+\(cb))→\(cout) \(h)×\(w), \(String(describing: mode)), \(tile), band \(budget)")
                }
            }
        }
    }

    /// The F(4×4) input transform that splits the columns as it transforms them (`Conv2D.fusedInputTransform`)
    /// against the plain path that splits the rows first, bit for bit: widths below one 16-column vector,
    /// with and without a remainder of columns, heights that are not multiples of the tile, plain and
    /// upsampled channels (the upsampling's shifted loads against `Upsample2x.forward`'s gathers), a class
    /// head per band, two images, bands of one tile row and whole images.
    func testFusedInputTransformEqualsThePlainPath() {
        let saved = (Conv2D.columnBudget, Conv2D.forwardTile, Conv2D.fusedInputTransform)
        defer { (Conv2D.columnBudget, Conv2D.forwardTile, Conv2D.fusedInputTransform) = saved }
        Conv2D.forwardTile = .f4
        for (n, ca, cb, cout, h, w) in [(2, 3, 2, 4, 18, 22), (1, 4, 4, 3, 10, 70), (1, 2, 2, 2, 8, 64), (1, 3, 1, 2, 6, 6), (2, 2, 2, 3, 34, 130)] {
            let a = Tensor.randomNormal(shape: [n, ca, h, w], generator: &rng)
            let b = Tensor.randomNormal(shape: [n, cb, h / 2, w / 2], generator: &rng)
            let wt = Tensor.randomNormal(shape: [cout, ca + cb, 3, 3], std: 0.3, generator: &rng)
            let plainWeight = Tensor.randomNormal(shape: [cout, ca, 3, 3], std: 0.3, generator: &rng)
            let bias = Tensor.randomNormal(shape: [cout], generator: &rng)
            let head = Conv2D.Head(weight: Tensor.randomNormal(shape: [3, cout, 1, 1], generator: &rng),
                                   bias: Tensor.randomNormal(shape: [3], generator: &rng), softmax: true)
            let upsampledReference = ChannelConcat.forward(a, Upsample2x.forward(b, mode: .bilinear))
            for budget in [1, 1 << 19] {
                Conv2D.columnBudget = budget
                Conv2D.fusedInputTransform = false
                let plain = Conv2D.forward(a, weight: plainWeight, bias: bias)
                let joined = Conv2D.forward(upsampledReference, weight: wt, bias: bias)
                let withHead = Conv2D.forward(concatenating: a, b, upsampling: .bilinear, weight: wt, bias: bias, head: head)
                Conv2D.fusedInputTransform = true
                let what = "\(n)×(\(ca)+\(cb))→\(cout) \(h)×\(w), band \(budget)"
                XCTAssertEqual(Conv2D.forward(a, weight: plainWeight, bias: bias).data, plain.data, "plain " + what)
                XCTAssertEqual(Conv2D.forward(concatenating: a, b, upsampling: .bilinear, weight: wt, bias: bias).data, joined.data,
                               "upsampled " + what)
                XCTAssertEqual(Conv2D.forward(concatenating: a, b, upsampling: .bilinear, weight: wt, bias: bias, head: head).data,
                               withHead.data, "head " + what)
            }
        }
    }

    /// A class head (1×1 convolution, softmax or not, bias or not) run band by band inside the convolution
    /// equals the head run on the whole output, bit for bit.
    func testHeadPerBandEqualsHeadOnTheWholeOutput() {
        let saved = Conv2D.columnBudget
        defer { Conv2D.columnBudget = saved }
        let (n, ca, cb, cout, h, w) = (2, 6, 5, 7, 14, 18)
        let a = Tensor.randomNormal(shape: [n, ca, h, w], generator: &rng)
        let b = Tensor.randomNormal(shape: [n, cb, h / 2, w / 2], generator: &rng)
        let wt = Tensor.randomNormal(shape: [cout, ca + cb, 3, 3], std: 0.3, generator: &rng)
        let bias = Tensor.randomNormal(shape: [cout], generator: &rng)
        let epilogue = Conv2D.Epilogue(slope: 0.01, scale: [Float](repeating: 1.5, count: cout), shift: [Float](repeating: 0.1, count: cout))
        for (softmax, withBias, budget) in [(true, true, 1), (false, true, 1 << 19), (true, false, 1 << 19)] {
            Conv2D.columnBudget = budget
            let head = Conv2D.Head(weight: Tensor.randomNormal(shape: [3, cout, 1, 1], generator: &rng),
                                   bias: withBias ? Tensor.randomNormal(shape: [3], generator: &rng) : nil, softmax: softmax)
            let whole = Conv2D.forward(concatenating: a, b, upsampling: .bilinear, weight: wt, bias: bias, epilogue: epilogue)
            let reference = head.forward(whole)
            let banded = Conv2D.forward(concatenating: a, b, upsampling: .bilinear, weight: wt, bias: bias, epilogue: epilogue, head: head)
            XCTAssertEqual(banded.shape, [n, 3, h, w])
            XCTAssertEqual(banded.data, reference.data, "softmax \(softmax), bias \(withBias), band \(budget)")
        }
    }

    /// Kept Winograd weights give the values of weights transformed in the call, and follow the
    /// weights when they change (in place, as an optimizer step changes them, or replaced).
    func testTransformedWeightsFollowTheWeights() {
        let x = Tensor.randomNormal(shape: [1, 8, 12, 12], generator: &rng)
        var wt = Tensor.randomNormal(shape: [4, 8, 3, 3], std: 0.3, generator: &rng)
        let bias = Tensor.randomNormal(shape: [4], generator: &rng)
        let kept = Conv2D.TransformedWeights()
        for step in 0..<3 {
            let fresh = Conv2D.forward(x, weight: wt, bias: bias)
            XCTAssertEqual(Conv2D.forward(x, weight: wt, bias: bias, transformed: kept).data, fresh.data, "step \(step)")
            XCTAssertEqual(Conv2D.forward(x, weight: wt, bias: bias, transformed: kept).data, fresh.data, "step \(step), kept")
            if step == 0 { wt.data[5] += 0.25 } else { wt = Tensor.randomNormal(shape: [4, 8, 3, 3], std: 0.3, generator: &rng) }
            XCTAssertNotEqual(Conv2D.forward(x, weight: wt, bias: bias).data, fresh.data)
        }
    }
}
