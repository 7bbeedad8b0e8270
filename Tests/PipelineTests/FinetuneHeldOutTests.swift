import Core
import Foundation
import Localization
@testable import Pipeline
import Simulation
import XCTest

/// The held-out part of a fine-tuning frame (patches spread over it, never learnt) and the rule that keeps
/// a tuned model only when it beats the base model beyond the noise of the held-out counts.
final class FinetuneHeldOutTests: XCTestCase {
    /// A quarter of a frame: 4 disjoint cells of the 4 × 4 grid, one in each grid row and column; the
    /// training frame has no label inside them and its mask is ignore (255) over every one of their pixels
    /// (a label disc of a column just outside does not reach in).
    func testHeldOutPatchesAreSpreadAndNeverLearnt() {
        let (w, h) = (256, 200)
        let patches = ModelFinetuning.heldOutPatches(width: w, height: h, holdOut: 0.25)
        XCTAssertEqual(patches.count, 4)
        XCTAssertEqual(Set(patches.map(\.x)).count, 4, "one per grid column")
        XCTAssertEqual(Set(patches.map(\.y)).count, 4, "one per grid row")
        XCTAssertEqual(patches.map { $0.width * $0.height }.reduce(0, +), w * h / 4)
        XCTAssertEqual(ModelFinetuning.heldOutPatches(width: w, height: h, holdOut: 0.5).count, 8)
        // Labels on a 7-px grid over the whole frame.
        let points = stride(from: 2, to: h, by: 7).flatMap { y in stride(from: 2, to: w, by: 7).map { LabelledPoint(x: Double($0), y: Double(y), label: ($0 + y) % 2) } }
        let frame = LabelledFrame(image: (0..<(w * h)).map { Float($0 % 17) }, width: w, height: h, pixelSize: 0.2, points: points)
        let training = ModelFinetuning.withPatchesIgnored(frame, holdOut: 0.25, labelRadius: 0.5)
        let inPatch = { (x: Double, y: Double) in
            patches.contains { Double($0.x) - 0.5 <= x && x < Double($0.x + $0.width) - 0.5 && Double($0.y) - 0.5 <= y && y < Double($0.y + $0.height) - 0.5 }
        }
        XCTAssertFalse(training.points.contains { inPatch($0.x, $0.y) })
        XCTAssertGreaterThan(training.points.count, points.filter { !inPatch($0.x, $0.y) }.count * 8 / 10)
        var rng = SeededGenerator(seed: 1)
        let pair = Augmentation().pair(from: training, classNames: ["metal", "S2", "background"], labelRadius: 0.5, rng: &rng)
        for p in patches { for y in p.y..<(p.y + p.height) { for x in p.x..<(p.x + p.width) {
            XCTAssertEqual(pair.mask[y * w + x], TrainingPair.ignoreClass, "(\(x), \(y))")
        } } }
        // Outside the patches (beyond the ignore discs' reach) the labels are drawn as before.
        XCTAssertTrue(pair.mask.contains(0) && pair.mask.contains(1) && pair.mask.contains(2))
    }

    func row(_ c: String, tp: Int, fp: Int, fn: Int, rmse: Double) -> ModelEvaluation.Row {
        let s = DetectionMetrics.scores(truePositives: tp, falsePositives: fp, falseNegatives: fn)
        return ModelEvaluation.Row(dataset: "held-out", dose: nil, className: c, truePositives: tp, falsePositives: fp,
                                   falseNegatives: fn, precision: s.precision, recall: s.recall, f1: s.f1, rmsePx: rmse)
    }

    /// Two more of 100 columns found is noise; 30 more is a gain; a gain in one class with another class
    /// worse by more than 2σ is not taken; a lower RMSE over 300 matches is a gain by itself.
    func testOnlyAGainBeyondTheNoiseCounts() {
        typealias Gain = ModelFinetuning.Gain
        let base = (rows: [row("metal", tp: 90, fp: 5, fn: 10, rmse: 1.0), row("S2", tp: 60, fp: 5, fn: 40, rmse: 1.0)], radius: 3.0)
        let lucky = (rows: [row("metal", tp: 92, fp: 5, fn: 8, rmse: 0.99), row("S2", tp: 61, fp: 5, fn: 39, rmse: 1.0)], radius: 3.0)
        XCTAssertFalse(Gain(base, lucky).isBeyondNoise, "\(Gain(base, lucky).sigmas)")
        let better = (rows: [row("metal", tp: 90, fp: 5, fn: 10, rmse: 0.95), row("S2", tp: 90, fp: 5, fn: 10, rmse: 0.9)], radius: 3.0)
        XCTAssertTrue(Gain(base, better).isBeyondNoise, "\(Gain(base, better).sigmas)")
        let traded = (rows: [row("metal", tp: 60, fp: 30, fn: 40, rmse: 1.0), row("S2", tp: 95, fp: 2, fn: 5, rmse: 0.9)], radius: 3.0)
        XCTAssertFalse(Gain(base, traded).isBeyondNoise, "\(Gain(base, traded).sigmas)")
        let sharper = (rows: [row("metal", tp: 300, fp: 0, fn: 0, rmse: 0.8)], radius: 3.0)
        XCTAssertTrue(Gain((rows: [row("metal", tp: 300, fp: 0, fn: 0, rmse: 1.0)], radius: 3.0), sharper).isBeyondNoise)
        XCTAssertEqual(Gain(base, base).total, 0)
    }
}
