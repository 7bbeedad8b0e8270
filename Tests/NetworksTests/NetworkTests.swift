import Core
import Foundation
import Networks
import Tensors
import XCTest

final class NetworkTests: XCTestCase {
    var rng = SeededGenerator(seed: 99)

    func randomLabels(n: Int, h: Int, w: Int, classes: Int) -> LabelMaps {
        try! LabelMaps(n: n, height: h, width: w, labels: (0..<(n * h * w)).map { _ in Int32(rng.next() % UInt64(classes)) })
    }

    /// ‖numeric − analytic‖ / ‖numeric‖ over the sampled entries (robust to a rare activation kink).
    func relativeError(_ x: Tensor, _ analytic: Tensor, eps: Float, samples: Int, _ loss: (Tensor) throws -> Double) rethrows -> Double {
        var num = 0.0, den = 0.0
        let stride = max(1, x.count / samples)
        for i in Swift.stride(from: 0, to: x.count, by: stride) {
            var xp = x, xm = x
            xp.data[i] += eps; xm.data[i] -= eps
            let numeric = (try loss(xp) - loss(xm)) / Double(2 * eps)
            num += (numeric - Double(analytic.data[i])) * (numeric - Double(analytic.data[i]))
            den += numeric * numeric
        }
        return (num / max(den, 1e-30)).squareRoot()
    }

    func testLossGradients() throws {
        let logits = Tensor.randomNormal(shape: [2, 3, 4, 5], generator: &rng)
        let labels = randomLabels(n: 2, h: 4, w: 5, classes: 3)
        for loss in [Loss.crossEntropy(classWeights: nil), .crossEntropy(classWeights: [0.5, 1, 2]),
                     .focal(gamma: 2, classWeights: nil), .focal(gamma: 1.5, classWeights: [1, 2, 3]), .dice] {
            let g = try loss.evaluate(logits: logits, labels: labels).gradient
            let err = try relativeError(logits, g, eps: 1e-2, samples: 120) { try loss.evaluate(logits: $0, labels: labels).loss }
            XCTAssertLessThan(err, 1e-3, "\(loss)")
        }
        // Focal with γ = 0 is cross-entropy; a perfect prediction has (near) zero dice loss.
        let ce = try Loss.crossEntropy(classWeights: nil).evaluate(logits: logits, labels: labels).loss
        XCTAssertEqual(try Loss.focal(gamma: 0, classWeights: nil).evaluate(logits: logits, labels: labels).loss, ce, accuracy: 1e-6)
        var perfect = Tensor(shape: [2, 3, 4, 5], repeating: -30)
        for i in 0..<2 { for j in 0..<20 { perfect.data[(i * 3 + Int(labels.labels[i * 20 + j])) * 20 + j] = 30 } }
        XCTAssertEqual(try Loss.dice.evaluate(logits: perfect, labels: labels).loss, 0, accuracy: 1e-6)
        XCTAssertEqual(pixelAccuracy(logits: perfect, labels: labels), 1)
    }

    /// Ignored pixels add nothing: every loss's gradient still matches finite differences, is zero
    /// at the ignored pixels, and the logits there do not change the loss; cross-entropy is the
    /// mean −log p_y over the counted pixels alone.
    func testIgnoredPixelsAddNothingToTheLoss() throws {
        var logits = Tensor.randomNormal(shape: [2, 3, 4, 5], generator: &rng)
        var labels = randomLabels(n: 2, h: 4, w: 5, classes: 3)
        let ignored = Set(stride(from: 1, to: 40, by: 3))
        for j in ignored { labels.labels[j] = LabelMaps.ignore }
        XCTAssertEqual(labels.countedPixels, 40 - ignored.count)
        for loss in [Loss.crossEntropy(classWeights: nil), .crossEntropy(classWeights: [0.5, 1, 2]),
                     .focal(gamma: 2, classWeights: nil), .dice] {
            let (value, g) = try loss.evaluate(logits: logits, labels: labels)
            let err = try relativeError(logits, g, eps: 1e-2, samples: 120) { try loss.evaluate(logits: $0, labels: labels).loss }
            XCTAssertLessThan(err, 1e-3, "\(loss)")
            var moved = logits
            for j in ignored {
                let (i, p) = (j / 20, j % 20)
                for k in 0..<3 {
                    XCTAssertEqual(g.data[(i * 3 + k) * 20 + p], 0, "\(loss)")
                    moved.data[(i * 3 + k) * 20 + p] += Float(k + 1) * 3
                }
            }
            XCTAssertEqual(try loss.evaluate(logits: moved, labels: labels).loss, value, accuracy: 1e-9, "\(loss)")
        }
        var manual = 0.0
        for j in 0..<40 where !ignored.contains(j) {
            let (i, p) = (j / 20, j % 20)
            let z = (0..<3).map { Double(logits.data[(i * 3 + $0) * 20 + p]) }
            manual += log(z.map(exp).reduce(0, +)) - z[Int(labels.labels[j])]
        }
        let ce = try Loss.crossEntropy(classWeights: nil).evaluate(logits: logits, labels: labels).loss
        XCTAssertEqual(ce, manual / Double(40 - ignored.count), accuracy: 1e-5)
        // Accuracy counts only the decided pixels: logits set to the labels score 1.
        for j in 0..<40 where !ignored.contains(j) {
            let (i, p) = (j / 20, j % 20)
            for k in 0..<3 { logits.data[(i * 3 + k) * 20 + p] = k == Int(labels.labels[j]) ? 9 : -9 }
        }
        XCTAssertEqual(pixelAccuracy(logits: logits, labels: labels), 1)
        XCTAssertThrowsError(try Loss.dice.evaluate(logits: logits, labels: LabelMaps(n: 2, height: 4, width: 5,
                                                                                       labels: [Int32](repeating: -2, count: 40))))
    }

    /// Whole-network backward pass against finite differences of the loss along a random unit
    /// direction v per parameter tensor: (L(θ+εv) − L(θ−εv)) / 2ε vs ⟨∇L, v⟩. Float round-off
    /// and max-pool kinks limit this to a coarse wiring check (slope 1 removes the LeakyReLU kink; (a wrong or missing
    /// a wrong or missing term gives O(1) errors); ReferenceTests compares every gradient with PyTorch to 1e-3.
    func testModelGradientsMatchFiniteDifferences() throws {
        for (slope, eps, tol) in [(Float(1), Float(1e-3), 0.15)] {
            for arch in [ModelDescription.Architecture.unet, .dilatedUNet] {
                let desc = ModelDescription(architecture: arch, classNames: ["bg", "a", "b"], baseFilters: 2, depth: 2,
                                            leakySlope: slope, dilations: [1, 2], seed: 5)
                let model = try SegmentationModel(desc)
                let x = Tensor.randomNormal(shape: [2, 1, 8, 8], generator: &rng)
                let labels = randomLabels(n: 2, h: 8, w: 8, classes: 3)
                let loss = Loss.crossEntropy(classWeights: nil)
                let logits = try model.forward(x, training: true)
                model.zeroGradients()
                model.backward(try loss.evaluate(logits: logits, labels: labels).gradient)
                for p in model.parameters {
                    let saved = p.value
                    var v = Tensor.randomNormal(shape: saved.shape, generator: &rng)
                    let norm = Float(v.data.reduce(0) { $0 + Double($1 * $1) }.squareRoot())
                    for i in 0..<v.count { v.data[i] /= norm }   // unit step: ε moves θ by ε in total
                    let analytic = zip(p.grad.data, v.data).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
                    func lossAt(_ sign: Float) throws -> Double {
                        var t = saved
                        for i in 0..<t.count { t.data[i] += sign * eps * v.data[i] }
                        p.value = t
                        defer { p.value = saved }
                        return try loss.evaluate(logits: try model.forward(x, training: true), labels: labels).loss
                    }
                    let numeric = (try lossAt(1) - lossAt(-1)) / Double(2 * eps)
                    XCTAssertLessThan(abs(numeric - analytic), tol * abs(analytic) + 1e-3,
                                      "\(arch) slope \(slope) \(p.name): numeric \(numeric) analytic \(analytic)")
                }
            }
        }
    }

    func testDescriptionJSONRoundTripAndValidation() throws {
        let d = ModelDescription(architecture: .dilatedUNet, classNames: ["bg", "atom"], baseFilters: 8, depth: 2, seed: 3)
        XCTAssertEqual(try ModelDescription.fromJSON(try d.jsonString()), d)
        XCTAssertThrowsError(try SegmentationModel(ModelDescription(classNames: [])))
        XCTAssertThrowsError(try SegmentationModel(ModelDescription(classNames: ["a"], depth: 2, layersPerLevel: [1, 2])))
        XCTAssertThrowsError(try ModelDescription.fromJSON("{not json"))
        XCTAssertThrowsError(try ModelDescription(classNames: ["a"], leakySlope: .nan).jsonString())
        // Focal loss stays finite for γ < 1 even when a pixel is predicted with certainty.
        var sure = Tensor(shape: [1, 2, 1, 2], repeating: 0)
        sure.data = [200, -200, -200, 200]
        let focal = try Loss.focal(gamma: 0.5, classWeights: nil).evaluate(
            logits: sure, labels: LabelMaps(n: 1, height: 1, width: 2, labels: [0, 1]))
        XCTAssertTrue(focal.loss.isFinite && focal.gradient.data.allSatisfy(\.isFinite))
        let model = try SegmentationModel(ModelDescription(classNames: ["a", "b"], baseFilters: 2, depth: 2))
        XCTAssertThrowsError(try model.forward(Tensor(shape: [1, 1, 10, 8]), training: false)) { e in
            XCTAssertTrue("\(e)".contains("multiples of 4"), "\(e)")
        }
        XCTAssertThrowsError(try model.forward(Tensor(shape: [1, 2, 8, 8]), training: false))
        XCTAssertThrowsError(try Loss.crossEntropy(classWeights: nil).evaluate(
            logits: Tensor(shape: [1, 2, 2, 2]), labels: LabelMaps(n: 1, height: 2, width: 2, labels: [0, 1, 2, 0])))
        XCTAssertThrowsError(try LabelMaps(n: 1, height: 2, width: 2, labels: [0]))
    }

    func testDefaultUNetHasAtomAIShape() throws {
        let model = try SegmentationModel(ModelDescription(classNames: ["bg", "atom", "defect"]))
        let names = Set(model.namedTensors.map(\.name))
        for n in ["c1.block.0.weight", "c2.block.5.running_var", "bn.block.8.weight", "upsample_block1.conv.weight",
                  "c4.block.3.weight", "c6.block.2.bias", "px.weight"] {
            XCTAssertTrue(names.contains(n), n)
        }
        let probs = try model.probabilities(Tensor.randomNormal(shape: [3, 1, 16, 24], generator: &rng), batchSize: 2)
        XCTAssertEqual(probs.shape, [3, 3, 16, 24])
        for j in 0..<(16 * 24) {
            XCTAssertEqual(probs.data[j] + probs.data[384 + j] + probs.data[768 + j], 1, accuracy: 1e-5)
        }
    }

    /// `probabilities` of one chunk runs the class head and the softmax band by band inside the last
    /// decoder's convolution: the same values, bit for bit, as the softmax of `forward`'s logits and
    /// as chunks of one image (bands of one tile row and whole images).
    func testProbabilitiesPerBandEqualSoftmaxOfLogits() throws {
        let saved = Conv2D.columnBudget
        defer { Conv2D.columnBudget = saved }
        let model = try SegmentationModel(ModelDescription(classNames: ["bg", "atom", "defect"]))
        let x = Tensor.randomNormal(shape: [2, 1, 40, 56], generator: &rng)
        for budget in [1, 1 << 19] {
            Conv2D.columnBudget = budget
            let reference = ChannelSoftmax.forward(try model.forward(x, training: false))
            XCTAssertEqual(try model.probabilities(x, batchSize: 2).data, reference.data, "band \(budget)")
            XCTAssertEqual(try model.probabilities(x, batchSize: 1).data, reference.data, "band \(budget), chunks of 1")
        }
    }

    /// Inference runs the upsampling block's 1×1 convolution before the interpolation (a quarter
    /// of the pixels): the same as the training order, interpolation then convolution, up to
    /// rounding, for both modes and odd sizes (the border rows clamp their taps).
    func testUpsampleBlockConvolvesBeforeInterpolatingInInference() {
        for mode in [Upsample2x.Mode.bilinear, .nearest] {
            let block = UpsampleBlock(name: "up", inChannels: 6, outChannels: 3, mode: mode, generator: &rng)
            let x = Tensor.randomNormal(shape: [2, 6, 5, 7], generator: &rng)
            let reference = Conv2D.forward(Upsample2x.forward(x, mode: mode), weight: block.conv.weight.value,
                                           bias: block.conv.bias.value)
            let fast = block.forward(x, training: false)
            XCTAssertEqual(fast.shape, [2, 3, 10, 14])
            let scale = reference.data.map(abs).max()!
            let worst = zip(fast.data, reference.data).map { abs($0 - $1) }.max()!
            XCTAssertLessThan(worst / scale, 1e-6, "\(mode)")
        }
    }

    func testSchedules() {
        XCTAssertEqual(LRSchedule.step(every: 10, gamma: 0.5).rate(base: 1, step: 25), 0.25)
        XCTAssertEqual(LRSchedule.cosine(totalSteps: 100, minimum: 0.1).rate(base: 1, step: 0), 1, accuracy: 1e-6)
        XCTAssertEqual(LRSchedule.cosine(totalSteps: 100, minimum: 0.1).rate(base: 1, step: 50), 0.55, accuracy: 1e-6)
        XCTAssertEqual(LRSchedule.cosine(totalSteps: 100, minimum: 0.1).rate(base: 1, step: 200), 0.1, accuracy: 1e-6)
    }
}
