import Core
import Foundation
import Localization
import Pipeline
import XCTest

/// The position-σ calibration's pieces against analytic truth: the maximum-likelihood law
/// recovers the scale and exponent that made synthetic errors, the card keeps it through JSON,
/// and applying it picks the law of the atom's class and kind (with the fallbacks) in the
/// network's pixels.
final class PositionCalibrationTests: XCTestCase {
    /// Raw σ log-uniform on 0.01–0.5 px, a frame feature f uniform on −1…2, a class probability p
    /// with log(1 − p) uniform on −8…−0.1; errors dx, dy ~ N(0, σ²) with
    /// log σ = a + b·log raw + c·f + d·f² + e·log(1 − p).
    func syntheticErrors(a: Double, b: Double, c: Double = 0, d: Double = 0, e: Double = 0, count: Int, seed: UInt64) -> [PositionSigmaLaw.Sample] {
        var rng = SeededGenerator(seed: seed)
        return (0..<count).map { _ in
            let raw = exp(rng.uniform(log(0.01), log(0.5))), f = rng.uniform(-1, 2), q = rng.uniform(-8, -0.1)
            let s = exp(a + b * log(raw) + c * f + d * f * f + e * q)
            let dx = s * rng.normal(), dy = s * rng.normal()
            return (raw, dx * dx + dy * dy, f, Float(1 - exp(q)))
        }
    }

    /// The normalized errors' variance per axis under `law` (the frame feature given).
    func variance(_ data: [PositionSigmaLaw.Sample], _ law: PositionSigmaLaw) -> Double {
        data.reduce(0) { $0 + $1.r2 / pow(law.sigma(raw: $1.raw, frame: $1.frame, classProbability: $1.probability), 2) } / Double(2 * data.count)
    }

    func testFittedLawRecoversAKnownScaleAndExponent() throws {
        for (a, b) in [(log(1.7), 1.0), (0.8, 1.35), (-0.9, 0.6)] {
            let data = syntheticErrors(a: a, b: b, count: 20_000, seed: 5)
            let law = try XCTUnwrap(PositionSigmaLaw.fit(data, outputClass: "W", kind: .fit))
            // Standard errors with 20 000 atoms: ≈ 0.01 on a, ≈ 0.005 on b.
            XCTAssertEqual(law.logScale, a, accuracy: 0.04, "a for (\(a), \(b))")
            XCTAssertEqual(law.exponent, b, accuracy: 0.02, "b for (\(a), \(b))")
            XCTAssertEqual(law.atoms, 20_000)
            XCTAssertNil(law.frameFeature, "no frame term asked for")
            XCTAssertNil(law.probabilityCoefficient, "no class-probability term asked for")
            // Unit variance of the normalized errors on the fit data (the stationarity in a).
            XCTAssertEqual(variance(data, law), 1, accuracy: 1e-6)
        }
        // A plain scale (every raw σ alike): b is not determined and stays 1, the scale is found.
        let same = syntheticErrors(a: 0, b: 0, count: 5_000, seed: 6).map { (raw: 0.1, r2: 9 * $0.r2, frame: $0.frame, probability: $0.probability) }
        let law = try XCTUnwrap(PositionSigmaLaw.fit(same, outputClass: "S", kind: .centroid))
        XCTAssertEqual(law.exponent, 1, accuracy: 1e-6)
        XCTAssertEqual(law.sigma(raw: 0.1), 3, accuracy: 0.1)
        XCTAssertNil(PositionSigmaLaw.fit([(0.1, 0, nil, nil)], outputClass: "S", kind: .fit), "one atom without error determines nothing")
    }

    /// The frame term: (a, b, c) recovered from errors drawn with that law; c is referred to the
    /// samples' mean feature f̄ (0.5 here), so the fitted logScale is a + c·f̄.
    func testFittedLawRecoversAKnownFrameCoefficient() throws {
        for (a, b, c) in [(0.3, 0.7, 0.5), (-0.5, 1.2, -0.8)] {
            let data = syntheticErrors(a: a, b: b, c: c, count: 20_000, seed: 7)
            let law = try XCTUnwrap(PositionSigmaLaw.fit(data, outputClass: "C", kind: .fit, terms: .init(feature: .classSigma)))
            let reference = try XCTUnwrap(law.frameReference)
            XCTAssertEqual(reference, data.reduce(0) { $0 + $1.frame! } / 20_000, accuracy: 1e-9)
            XCTAssertEqual(law.frameFeature, .classSigma)
            XCTAssertEqual(try XCTUnwrap(law.frameCoefficient), c, accuracy: 0.03, "c for (\(a), \(b), \(c))")
            XCTAssertEqual(law.exponent, b, accuracy: 0.02, "b for (\(a), \(b), \(c))")
            XCTAssertEqual(law.logScale - c * reference, a, accuracy: 0.05, "a for (\(a), \(b), \(c))")
            XCTAssertEqual(variance(data, law), 1, accuracy: 1e-6)
            // Per frame-feature tercile the normalized errors have unit variance; the law of σ_raw
            // alone misses them by e^{±2c·Δf}.
            let plain = try XCTUnwrap(PositionSigmaLaw.fit(data, outputClass: "C", kind: .fit))
            for (low, high) in [(-1.0, 0.0), (0, 1), (1, 2)] {
                let part = data.filter { (low..<high).contains($0.frame!) }
                XCTAssertEqual(variance(part, law), 1, accuracy: 0.06, "tercile \(low)–\(high)")
                XCTAssertGreaterThan(abs(variance(part, plain) - 1), low == 0 ? 0 : 0.3, "σ_raw alone at tercile \(low)–\(high)")
            }
            // A sample without a feature takes the reference.
            XCTAssertEqual(law.sigma(raw: 0.1, frame: nil), law.sigma(raw: 0.1, frame: reference), accuracy: 1e-15)
        }
    }

    /// All terms: (a, b, c, d, e) recovered, with g = f − f̄ and q − q̄ the law's variables:
    /// log σ = a + c·f̄ + d·f̄² + e·q̄ + b·log raw + (c + 2d·f̄)·g + d·g² + e·(q − q̄).
    func testFittedLawRecoversCurvatureAndClassProbabilityTerms() throws {
        let (a, b, c, d, e) = (0.2, 0.8, -0.4, 0.3, 0.15)
        let data = syntheticErrors(a: a, b: b, c: c, d: d, e: e, count: 30_000, seed: 8)
        let law = try XCTUnwrap(PositionSigmaLaw.fit(data, outputClass: "S", kind: .centroid,
                                                      terms: .init(feature: .frameSignal, curvature: true, probability: true)))
        let f0 = try XCTUnwrap(law.frameReference), q0 = try XCTUnwrap(law.probabilityReference)
        XCTAssertEqual(law.exponent, b, accuracy: 0.02)
        XCTAssertEqual(try XCTUnwrap(law.frameCurvature), d, accuracy: 0.03)
        XCTAssertEqual(try XCTUnwrap(law.frameCoefficient), c + 2 * d * f0, accuracy: 0.04)
        XCTAssertEqual(try XCTUnwrap(law.probabilityCoefficient), e, accuracy: 0.01)
        XCTAssertEqual(law.logScale, a + c * f0 + d * f0 * f0 + e * q0, accuracy: 0.05)
        XCTAssertEqual(variance(data, law), 1, accuracy: 1e-6)
        // Beyond the fit range the frame term stays as at its edge.
        let high = try XCTUnwrap(law.frameRange?.last)
        XCTAssertEqual(law.sigma(raw: 0.1, frame: high + 5, classProbability: 0.9), law.sigma(raw: 0.1, frame: high, classProbability: 0.9))
        XCTAssertEqual(law.sigma(raw: 0.1, frame: 0.5, classProbability: nil), law.sigma(raw: 0.1, frame: 0.5, classProbability: Float(1 - exp(q0))),
                       accuracy: 1e-6, "an unknown class probability takes the reference")
    }

    /// A card written before the frame term (main of session 9: laws without `frameFeature`) loads
    /// and gives its old law exactly, whatever the frame.
    func testOldCardLoadsWithItsOldLaw() throws {
        let json = #"{"atoms": 10, "atomtrackVersion": "0.1.0", "date": "2026-12-01", "fittedOn": "old", "heldOut": [],"#
            + #" "laws": [{"atoms": 10082, "exponent": 1.2277875198484078, "kind": "fit", "logScale": 1.1368326529885637, "outputClass": "W"}]}"#
        let old = try JSONDecoder().decode(PositionCalibration.self, from: Data(json.utf8))
        let law = try XCTUnwrap(old.laws.first)
        XCTAssertNil(law.frameFeature); XCTAssertNil(law.frameCoefficient); XCTAssertNil(law.frameReference)
        for raw in [0.01, 0.1, 0.7] {
            let expected = exp(1.1368326529885637 + 1.2277875198484078 * log(raw))
            for frame in [nil, -3.0, 0, 4] { XCTAssertEqual(law.sigma(raw: raw, frame: frame), expected, accuracy: 1e-15 * expected) }
        }
        let url = repositoryRoot.appendingPathComponent("Models/tmd-ws2/\(TrainedModel.cardFile)")
        guard FileManager.default.fileExists(atPath: url.path) else { throw XCTSkip("shipped tmd-ws2 card not present") }
        let classes = OutputClasses(card: try ModelCard.load(url), mergeDopants: false)
        let sigma = PositionSigma(outputClasses: classes, calibration: old)
        let w = try XCTUnwrap(classes.symbols.firstIndex(of: "W"))
        var atoms = [Atom(x: 5, y: 5, classIndex: w, score: 1, sigma: 1, positionSigma: 0.05)]
        sigma.apply(&atoms, frameSignal: 2, columnSpacingPixels: 9)
        XCTAssertEqual(try XCTUnwrap(atoms[0].positionSigma), exp(1.1368326529885637 + 1.2277875198484078 * log(0.05)), accuracy: 1e-15)
    }

    func calibration() -> PositionCalibration {
        PositionCalibration(laws: [PositionSigmaLaw(outputClass: "C", kind: .fit, logScale: log(2), exponent: 1, atoms: 100),
                                   PositionSigmaLaw(outputClass: "C", kind: .any, logScale: log(3), exponent: 1, atoms: 120),
                                   PositionSigmaLaw(outputClass: "*", kind: .centroid, logScale: 0, exponent: 0.5, atoms: 40)],
                            fittedOn: "synthetic", atoms: 140,
                            heldOut: [PositionCheck(outputClass: "C", dose: 1e4, atoms: 10, varianceBefore: 2.5, varianceAfter: 1.02, rmse: 0.2)],
                            date: "2026-12-01", atomtrackVersion: "test")
    }

    func testCardRoundTripsThePositionCalibration() throws {
        let url = repositoryRoot.appendingPathComponent("Models/graphene-si/\(TrainedModel.cardFile)")
        guard FileManager.default.fileExists(atPath: url.path) else { throw XCTSkip("shipped graphene-si card not present") }
        var card = try ModelCard.load(url)
        card.positionCalibration = calibration()
        let copy = try reliabilityTempDir(self).appendingPathComponent("model.json")
        try card.jsonData().write(to: copy)
        XCTAssertEqual(try ModelCard.load(copy).positionCalibration, calibration())
        card.positionCalibration = nil
        try card.jsonData().write(to: copy)
        XCTAssertNil(try ModelCard.load(copy).positionCalibration, "a card without one reads as uncalibrated")
    }

    func testApplyPicksTheLawOfClassAndKindInTheNetworksPixels() throws {
        let url = repositoryRoot.appendingPathComponent("Models/graphene-si/\(TrainedModel.cardFile)")
        guard FileManager.default.fileExists(atPath: url.path) else { throw XCTSkip("shipped graphene-si card not present") }
        let classes = OutputClasses(card: try ModelCard.load(url), mergeDopants: false)
        let c = try XCTUnwrap(classes.symbols.firstIndex(of: "C")), si = try XCTUnwrap(classes.symbols.firstIndex(of: "Si"))
        let sigma = PositionSigma(outputClasses: classes, calibration: calibration())
        var atoms = [Atom(x: 1, y: 1, classIndex: c, score: 1, sigma: 1.2, positionSigma: 0.1),   // C, fit: its own law
                     Atom(x: 2, y: 2, classIndex: c, score: 1, positionSigma: 0.1),               // C, centroid: C's pooled law
                     Atom(x: 3, y: 3, classIndex: si, score: 1, positionSigma: 0.16),             // Si, centroid: all classes' centroid law
                     Atom(x: 4, y: 4, classIndex: si, score: 1, sigma: 1, positionSigma: 0.1),    // Si, fit: no law, raw
                     Atom(x: 5, y: 5, classIndex: c, score: 1)]                                   // no σ: none
        sigma.apply(&atoms)
        XCTAssertEqual(try XCTUnwrap(atoms[0].positionSigma), 0.2, accuracy: 1e-12)
        XCTAssertEqual(try XCTUnwrap(atoms[1].positionSigma), 0.3, accuracy: 1e-12)
        XCTAssertEqual(try XCTUnwrap(atoms[2].positionSigma), 0.4, accuracy: 1e-12)
        XCTAssertEqual(try XCTUnwrap(atoms[3].positionSigma), 0.1, accuracy: 1e-12)
        XCTAssertNil(atoms[4].positionSigma)
        // A frame resampled ×2: 0.16 frame px = 0.32 network px → √0.32 network px = √0.32 / 2 frame px.
        var resampled = [Atom(x: 3, y: 3, classIndex: si, score: 1, positionSigma: 0.16)]
        sigma.apply(&resampled, workingScale: 2)
        XCTAssertEqual(try XCTUnwrap(resampled[0].positionSigma), 0.32.squareRoot() / 2, accuracy: 1e-12)
        // The frame terms: C fit atoms by their class's median raw σ / spacing, centroids by the frame signal.
        var framed = calibration()
        framed.laws[0].frameFeature = .classSigma; framed.laws[0].frameCoefficient = 0.5; framed.laws[0].frameReference = log(0.01)
        framed.laws[2].frameFeature = .frameSignal; framed.laws[2].frameCoefficient = -1; framed.laws[2].frameReference = 3
        var frameAtoms = [Atom(x: 1, y: 1, classIndex: c, score: 1, sigma: 1.2, positionSigma: 0.1),
                          Atom(x: 2, y: 1, classIndex: c, score: 1, sigma: 1.2, positionSigma: 0.3),
                          Atom(x: 3, y: 3, classIndex: si, score: 1, positionSigma: 0.16)]
        PositionSigma(outputClasses: classes, calibration: framed).apply(&frameAtoms, frameSignal: 2.5, columnSpacingPixels: 5)
        // Median raw σ of C's fits 0.2 over 5 px: f = log(0.04), 2× the reference's 0.01 … 4×: σ × 4^0.5.
        XCTAssertEqual(try XCTUnwrap(frameAtoms[0].positionSigma), 0.2 * 2, accuracy: 1e-12)
        XCTAssertEqual(try XCTUnwrap(frameAtoms[1].positionSigma), 0.6 * 2, accuracy: 1e-12)
        XCTAssertEqual(try XCTUnwrap(frameAtoms[2].positionSigma), 0.4 * exp(0.5), accuracy: 1e-12)
        // Without a calibration nothing changes.
        var plain = [Atom(x: 1, y: 1, classIndex: c, score: 1, sigma: 1.2, positionSigma: 0.1)]
        PositionSigma(outputClasses: classes, calibration: nil).apply(&plain)
        XCTAssertEqual(plain[0].positionSigma, 0.1)
    }
}
