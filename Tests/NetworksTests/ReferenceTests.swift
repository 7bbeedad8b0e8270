import Foundation
import Networks
import Tensors
import XCTest

/// Forward results against PyTorch, from fixtures written by scripts/make_nn_fixtures.py.
final class ReferenceTests: XCTestCase {
    func fixture(_ name: String) throws -> [String: Tensor] {
        let url = try XCTUnwrap(Bundle.module.url(forResource: "Fixtures/\(name)", withExtension: "safetensors"))
        return try SafeTensors.read(url).tensors
    }

    func assertClose(_ a: Tensor, _ b: Tensor, tol: Float = 1e-4, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(a.shape, b.shape, file: file, line: line)
        let worst = zip(a.data, b.data).map { abs($0 - $1) / max(1, abs($1)) }.max() ?? 0
        XCTAssertLessThan(worst, tol, "worst relative difference", file: file, line: line)
    }

    func testConvolutionMatchesPyTorch() throws {
        let f = try fixture("conv")
        assertClose(Conv2D.forward(f["x"]!, weight: f["w"]!, bias: f["b"]!, dilation: 2), f["y"]!)
        assertClose(Conv2D.forward(f["x"]!, weight: f["w1"]!, bias: f["b1"]!), f["y1"]!)
    }

    func testBatchNormMatchesPyTorch() throws {
        let f = try fixture("batchnorm")
        var rm = f["running_mean0"]!, rv = f["running_var0"]!
        let eval = BatchNorm.forward(f["x"]!, gamma: f["gamma"]!, beta: f["beta"]!, runningMean: &rm, runningVar: &rv, training: false)
        assertClose(eval.output, f["y_eval"]!)
        let train = BatchNorm.forward(f["x"]!, gamma: f["gamma"]!, beta: f["beta"]!, runningMean: &rm, runningVar: &rv, training: true)
        assertClose(train.output, f["y_train"]!)
        assertClose(rm, f["running_mean1"]!)
        assertClose(rv, f["running_var1"]!)
    }

    func testUpsamplingAndCrossEntropyMatchPyTorch() throws {
        let f = try fixture("ops")
        assertClose(Upsample2x.forward(f["xu"]!, mode: .bilinear), f["bilinear"]!)
        assertClose(Upsample2x.forward(f["xu"]!, mode: .nearest), f["nearest"]!)
        let logits = f["logits"]!
        let labels = try LabelMaps(n: 2, height: 4, width: 5, labels: f["labels"]!.data.map { Int32($0) })
        let ce = try Loss.crossEntropy(classWeights: nil).evaluate(logits: logits, labels: labels).loss
        XCTAssertEqual(ce, Double(f["ce"]!.data[0]), accuracy: 1e-5)
        let w = f["class_weights"]!.data
        let cew = try Loss.crossEntropy(classWeights: w).evaluate(logits: logits, labels: labels).loss
        XCTAssertEqual(cew, Double(f["ce_weighted"]!.data[0]), accuracy: 1e-5)
    }

    func testOptimizersMatchPyTorch() throws {
        let f = try fixture("optimizers")
        let configs: [(String, OptimizerConfig)] = [
            ("adam", .adam(learningRate: 0.01, weightDecay: 0.1)),
            ("adamw", .adam(learningRate: 0.01, weightDecay: 0.1, decoupledWeightDecay: true)),
            ("sgd", .sgd(learningRate: 0.1, momentum: 0.9, weightDecay: 0.01)),
        ]
        for (name, config) in configs {
            let p = Parameter(name: "p", value: f["p0"]!)
            let opt = Optimizer(config)
            for s in 0..<3 {
                p.grad = try Tensor(shape: [6], data: Array(f["grads"]!.data[(6 * s)..<(6 * s + 6)]))
                opt.step([p])
            }
            assertClose(p.value, f[name]!, tol: 1e-5)
        }
    }

    func testWholeNetworksMatchPyTorch() throws {
        for (name, arch) in [("unet", ModelDescription.Architecture.unet), ("dilated_unet", .dilatedUNet)] {
            let f = try fixture(name)
            let model = try SegmentationModel(ModelDescription(architecture: arch, classNames: ["a", "b", "c"], baseFilters: 4))
            try model.load(tensors: f)
            assertClose(try model.forward(f["input"]!, training: false), f["logits_eval"]!)
            let logits = try model.forward(f["input"]!, training: true)
            assertClose(logits, f["logits_train"]!)
            // The whole backward pass against PyTorch autograd.
            let labels = try LabelMaps(n: 2, height: 16, width: 16, labels: f["labels"]!.data.map { Int32($0) })
            model.zeroGradients()
            model.backward(try Loss.crossEntropy(classWeights: nil).evaluate(logits: logits, labels: labels).gradient)
            for p in model.parameters {
                let expected = try XCTUnwrap(f["grad." + p.name], p.name)
                let scale = expected.data.map { abs($0) }.max() ?? 0
                let worst = zip(p.grad.data, expected.data).map { abs($0 - $1) }.max() ?? 0
                XCTAssertLessThan(worst, 1e-3 * max(scale, 1e-3), "\(name) \(p.name)")
            }
        }
    }
}
