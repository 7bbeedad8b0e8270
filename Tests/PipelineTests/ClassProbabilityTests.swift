import Core
import Foundation
import Localization
import Pipeline
import XCTest

/// The class probability's pieces against analytic truth: temperature scaling recovers the
/// temperature that made synthetic labels, the ECE of calibrated outcomes is ≈ 0 and that of
/// known miscalibration is its analytic value, and the contrast posterior is calibrated on
/// Gaussian ratios.
final class ClassProbabilityTests: XCTestCase {
    /// Logits z ~ N(0, 3²) over 3 classes (background last); labels drawn from softmax(z / T + b·[background]).
    func syntheticLabels(temperature: Double, bias: Double, count: Int, seed: UInt64) -> (evidence: [[Float]], truth: [Int]) {
        var rng = SeededGenerator(seed: seed)
        var evidence: [[Float]] = [], truth: [Int] = []
        for _ in 0..<count {
            let z = (0..<3).map { _ in Float(3 * rng.normal()) }
            let p = ClassProbability.softmax(z, temperature: temperature, backgroundBias: bias)
            let u = rng.uniform()
            truth.append(u < p[0] ? 0 : u < p[0] + p[1] ? 1 : 2)
            evidence.append(z)
        }
        return (evidence, truth)
    }

    func testTemperatureScalingRecoversAKnownTemperatureAndBias() {
        for t in [0.5, 1.0, 2.5] {
            let (evidence, truth) = syntheticLabels(temperature: t, bias: 0, count: 20_000, seed: 7)
            XCTAssertEqual(TemperatureScaling.fit(evidence: evidence, truth: truth, fitBias: false).temperature, t, accuracy: 0.05 * t, "T = \(t)")
        }
        let (evidence, truth) = syntheticLabels(temperature: 1.6, bias: -1.5, count: 10_000, seed: 9)
        let fitted = TemperatureScaling.fit(evidence: evidence, truth: truth)
        XCTAssertEqual(fitted.temperature, 1.6, accuracy: 0.1)
        XCTAssertEqual(fitted.backgroundBias, -1.5, accuracy: 0.15)
        // Binary log-odds: outcomes drawn from σ(L / 1.8).
        var rng = SeededGenerator(seed: 3)
        let logOdds = (0..<20_000).map { _ in 4 * rng.normal() }
        let outcome = logOdds.map { rng.uniform() < 1 / (1 + exp(-$0 / 1.8)) }
        XCTAssertEqual(TemperatureScaling.fit(logOdds: logOdds, outcome: outcome), 1.8, accuracy: 0.09)
        XCTAssertEqual(try XCTUnwrap(TemperatureScaling.fitWithinRange(logOdds: logOdds, outcome: outcome)), 1.8, accuracy: 0.09)
        // Every outcome on the side of its log-odds' sign: no temperature is determined.
        XCTAssertNil(TemperatureScaling.fitWithinRange(logOdds: logOdds, outcome: logOdds.map { $0 > 0 }))
    }

    func testSoftmaxOverATemperatureIsThePowerOfTheProbabilities() {
        let p: [Double] = [0.7, 0.2, 0.1], t = 2.0
        let q = ClassProbability.softmax(p.map { Float(log($0)) }, temperature: t)
        let powered = p.map { pow($0, 1 / t) }, sum = powered.reduce(0, +)
        for (a, b) in zip(q, powered) { XCTAssertEqual(a, b / sum, accuracy: 1e-6) }
    }

    func testExpectedCalibrationErrorOfKnownSets() {
        var rng = SeededGenerator(seed: 11)
        let confidence = (0..<200_000).map { _ in rng.uniform(0.3, 1) }
        let calibrated = confidence.map { rng.uniform() < $0 }
        XCTAssertLessThan(ReliabilityBins(confidences: confidence, correct: calibrated, count: 15).expectedCalibrationError, 0.005)
        // Outcomes at c²: the ECE is E[c − c²] over c uniform on [0.3, 1] (the gap has one sign):
        // (1/0.7)·[c²/2 − c³/3] from 0.3 to 1 = 0.1883.
        let squared = confidence.map { rng.uniform() < $0 * $0 }
        XCTAssertEqual(ReliabilityBins(confidences: confidence, correct: squared, count: 15).expectedCalibrationError, 0.1883, accuracy: 0.006)
        let bins = ReliabilityBins(confidences: [0.1, 0.2, 0.3, 0.4, 0.5], correct: [false, false, true, true, true], count: 2).bins
        XCTAssertEqual(bins.map(\.count), [2, 3], "equal mass")
        XCTAssertEqual(bins[1].accuracy, 1)
    }

    /// Frames of 200 metal columns, 10 % light: ratios N(0.4, 0.15²) and N(1, 0.15²). The
    /// posterior from the frame's own spread and light share is calibrated against which were light.
    func testContrastPosteriorIsCalibratedOnGaussianRatios() throws {
        let split = try ContrastSplit(classIndex: 0, lightClassIndex: 2, ratio: 0.4, radius: 2)
        var rng = SeededGenerator(seed: 5)
        var posterior: [Double] = [], light: [Bool] = []
        for _ in 0..<100 {
            let isLight = (0..<200).map { _ in rng.uniform() < 0.1 }
            let ratios = isLight.enumerated().map { (index: $0.offset, ratio: ($0.element ? 0.4 : 1) + 0.15 * rng.normal()) }
            let odds = ClassProbability.contrastLogOdds(ratios, count: 200, split: split)
            posterior += odds.map { 1 / (1 + exp(-$0!)) }
            light += isLight
        }
        let ece = ReliabilityBins(confidences: posterior, correct: light, count: 15).expectedCalibrationError
        XCTAssertLessThan(ece, 0.02)
        XCTAssertEqual(posterior.reduce(0, +) / Double(posterior.count), 0.1, accuracy: 0.01, "mean posterior = light share")
    }
}

/// The frame term of the class probability: the fit recovers a known slope in the frame signal,
/// and the signal of a synthetic frame is its analytic value.
final class FrameSignalTests: XCTestCase {
    /// Labels drawn from softmax(z / 0.8 + (−0.5 + 1.2·(s − 2))·[background]), s per frame of 200 samples.
    func testFitRecoversAKnownFrameSlope() throws {
        var rng = SeededGenerator(seed: 21)
        var evidence: [[Float]] = [], truth: [Int] = [], signal: [Double] = []
        for _ in 0..<60 {
            let s = rng.uniform(1, 3)
            for _ in 0..<200 {
                let z = (0..<3).map { _ in Float(3 * rng.normal()) }
                let p = ClassProbability.softmax(z, temperature: 0.8, backgroundBias: -0.5 + 1.2 * (s - 2))
                let u = rng.uniform()
                truth.append(u < p[0] ? 0 : u < p[0] + p[1] ? 1 : 2); evidence.append(z); signal.append(s)
            }
        }
        let fit = TemperatureScaling.fit(evidence: evidence, truth: truth, frameSignal: signal)
        XCTAssertEqual(fit.temperature, 0.8, accuracy: 0.05)
        XCTAssertEqual(fit.coefficient, 1.2, accuracy: 0.15)
        // The bias at the reference (the samples' mean signal) is the generating bias there.
        XCTAssertEqual(fit.backgroundBias, -0.5 + 1.2 * (fit.reference - 2), accuracy: 0.12)
        let url = repositoryRoot.appendingPathComponent("Models/graphene-si/\(TrainedModel.cardFile)")
        guard FileManager.default.fileExists(atPath: url.path) else { throw XCTSkip("shipped graphene-si card not present") }
        let classes = OutputClasses(card: try ModelCard.load(url), mergeDopants: false)
        let probability = ClassProbability(outputClasses: classes, temperature: fit.temperature,
                                           backgroundBias: fit.backgroundBias, frameSignal: (fit.coefficient, fit.reference))
        XCTAssertEqual(probability.backgroundBias(frameSignal: fit.reference + 1), fit.backgroundBias + fit.coefficient, accuracy: 1e-12)
        XCTAssertEqual(probability.backgroundBias(frameSignal: nil), fit.backgroundBias, accuracy: 1e-12)
    }

    /// Gaussian atoms (σ 4 px, amplitude A, 20 px apart) on a background of 100 with white noise of
    /// σ_n: the signal is log((A + 1.645 σ_n) / σ_n) + log 20 — the centres sit at A above the
    /// background, the 5th percentile 1.645 σ_n below it, and the neighbour residual of such broad
    /// atoms is almost pure noise.
    func testSignalOfASyntheticFrame() throws {
        let side = 200, spacing = 20
        for (amplitude, noise) in [(50.0, 5.0), (20.0, 10.0)] {
            var rng = SeededGenerator(seed: 4)
            var frame = [Float](repeating: 0, count: side * side), atoms: [Atom] = []
            for cy in stride(from: 10, to: side, by: spacing) { for cx in stride(from: 10, to: side, by: spacing) {
                atoms.append(Atom(x: Double(cx), y: Double(cy), classIndex: 0, score: 1))
            } }
            for y in 0..<side { for x in 0..<side {
                let dx = Double((x - 10 + 100 * spacing) % spacing), dy = Double((y - 10 + 100 * spacing) % spacing)
                let rx = min(dx, Double(spacing) - dx), ry = min(dy, Double(spacing) - dy)
                frame[y * side + x] = Float(100 + amplitude * exp(-(rx * rx + ry * ry) / 32) + noise * rng.normal())
            } }
            let s = try XCTUnwrap(FrameSignal.logSignalToNoise(atoms: atoms, frame: frame, width: side, height: side,
                                                               columnSpacingPixels: Double(spacing)))
            XCTAssertEqual(s, log((amplitude + 1.645 * noise) / noise) + log(Double(spacing)), accuracy: 0.06, "A \(amplitude), σ_n \(noise)")
        }
        XCTAssertNil(FrameSignal.logSignalToNoise(atoms: [], frame: [Float](repeating: 1, count: 100), width: 10, height: 10, columnSpacingPixels: 5))
        XCTAssertNil(FrameSignal.logSignalToNoise(atoms: [Atom(x: 5, y: 5, classIndex: 0, score: 1)], frame: [Float](repeating: 1, count: 100),
                                                  width: 10, height: 10, columnSpacingPixels: 5), "a flat frame has no noise")
    }
}
