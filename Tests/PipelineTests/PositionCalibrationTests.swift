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
    /// Raw σ log-uniform on 0.01–0.5 px; errors dx, dy ~ N(0, σ²) with σ = e^a · raw^b.
    func syntheticErrors(a: Double, b: Double, count: Int, seed: UInt64) -> [(raw: Double, r2: Double)] {
        var rng = SeededGenerator(seed: seed)
        return (0..<count).map { _ in
            let raw = exp(rng.uniform(log(0.01), log(0.5))), s = exp(a + b * log(raw))
            let dx = s * rng.normal(), dy = s * rng.normal()
            return (raw, dx * dx + dy * dy)
        }
    }

    func testFittedLawRecoversAKnownScaleAndExponent() throws {
        for (a, b) in [(log(1.7), 1.0), (0.8, 1.35), (-0.9, 0.6)] {
            let data = syntheticErrors(a: a, b: b, count: 20_000, seed: 5)
            let law = try XCTUnwrap(PositionSigmaLaw.fit(data, outputClass: "W", kind: .fit))
            // Standard errors with 20 000 atoms: ≈ 0.01 on a, ≈ 0.005 on b.
            XCTAssertEqual(law.logScale, a, accuracy: 0.04, "a for (\(a), \(b))")
            XCTAssertEqual(law.exponent, b, accuracy: 0.02, "b for (\(a), \(b))")
            XCTAssertEqual(law.atoms, 20_000)
            // Unit variance of the normalized errors on the fit data (the stationarity in a).
            let variance = data.reduce(0) { $0 + $1.r2 / pow(law.sigma(raw: $1.raw), 2) } / Double(2 * data.count)
            XCTAssertEqual(variance, 1, accuracy: 1e-6)
        }
        // A plain scale (every raw σ alike): b is not determined and stays 1, the scale is found.
        let same = syntheticErrors(a: 0, b: 0, count: 5_000, seed: 6).map { (raw: 0.1, r2: 9 * $0.r2) }
        let law = try XCTUnwrap(PositionSigmaLaw.fit(same, outputClass: "S", kind: .centroid))
        XCTAssertEqual(law.exponent, 1, accuracy: 1e-6)
        XCTAssertEqual(law.sigma(raw: 0.1), 3, accuracy: 0.1)
        XCTAssertNil(PositionSigmaLaw.fit([(0.1, 0)], outputClass: "S", kind: .fit), "one atom without error determines nothing")
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
        // Without a calibration nothing changes.
        var plain = [Atom(x: 1, y: 1, classIndex: c, score: 1, sigma: 1.2, positionSigma: 0.1)]
        PositionSigma(outputClasses: classes, calibration: nil).apply(&plain)
        XCTAssertEqual(plain[0].positionSigma, 0.1)
    }
}
