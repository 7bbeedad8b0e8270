import Core
import Foundation
import Networks
import Tensors
import XCTest

/// End to end: a small U-Net learns to segment noisy Gaussian blobs whose truth we set.
final class TrainingTests: XCTestCase {
    /// Images 64×64 with 12 Gaussian blobs (σ = 3 px) plus noise; label 1 within 4 px of a centre.
    func blobs(count: Int, generator g: inout SeededGenerator) -> (Tensor, LabelMaps) {
        let s = 64
        var img = [Float](repeating: 0, count: count * s * s)
        var lab = [Int32](repeating: 0, count: count * s * s)
        for i in 0..<count {
            let centres = (0..<12).map { _ in (Float(4 + Int(g.next() % 56)), Float(4 + Int(g.next() % 56))) }
            for y in 0..<s {
                for x in 0..<s {
                    var v: Float = 0, near = false
                    for (cx, cy) in centres {
                        let d2 = (Float(x) - cx) * (Float(x) - cx) + (Float(y) - cy) * (Float(y) - cy)
                        v += exp(-d2 / 18)
                        if d2 < 16 { near = true }
                    }
                    img[(i * s + y) * s + x] = v + 0.1 * g.normalFloat()
                    lab[(i * s + y) * s + x] = near ? 1 : 0
                }
            }
        }
        return (try! Tensor(shape: [count, 1, s, s], data: img), try! LabelMaps(n: count, height: s, width: s, labels: lab))
    }

    func testUNetLearnsGaussianBlobs() throws {
        var g = SeededGenerator(seed: 2026)
        let desc = ModelDescription(classNames: ["background", "blob"], baseFilters: 8, depth: 2, seed: 7)
        let trainer = Trainer(model: try SegmentationModel(desc), loss: .crossEntropy(classWeights: nil),
                              optimizer: Optimizer(.adam(learningRate: 1e-2), schedule: .cosine(totalSteps: 60, minimum: 1e-3)))
        for _ in 0..<60 {
            let (x, y) = blobs(count: 4, generator: &g)
            try trainer.step(images: x, labels: y)
        }
        let (x, y) = blobs(count: 4, generator: &g)
        let probs = try trainer.model.probabilities(x)
        var correct = 0, truePos = 0, fg = 0
        let hw = 64 * 64
        for i in 0..<4 {
            for j in 0..<hw {
                let predicted: Int32 = probs.data[(i * 2 + 1) * hw + j] > 0.5 ? 1 : 0
                let truth = y.labels[i * hw + j]
                if predicted == truth { correct += 1 }
                if truth == 1 { fg += 1; if predicted == 1 { truePos += 1 } }
            }
        }
        let accuracy = Double(correct) / Double(4 * hw), recall = Double(truePos) / Double(fg)
        XCTAssertGreaterThan(Double(fg) / Double(4 * hw), 0.1, "blobs should cover a real part of the image")
        XCTAssertGreaterThanOrEqual(accuracy, 0.95)
        XCTAssertGreaterThan(recall, 0.8)
    }
}
