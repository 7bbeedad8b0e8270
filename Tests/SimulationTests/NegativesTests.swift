import Core
import Foundation
@testable import Simulation
import XCTest

/// Negative training frames (no lattice, all background) and the low-dose weighting of recipes.
final class NegativesTests: XCTestCase {
    func graphene(size: Int = 64) throws -> Recipe {
        var r = try Recipe.decode(Data(contentsOf: TrainingTests.trainingData.appendingPathComponent("graphene-si.json")))
        r.width = size; r.height = size
        return r
    }

    func testNegativePairsAreAllBackground() throws {
        for kind in NegativeKind.allCases {
            var r = try graphene()
            r.negatives = Negatives(fraction: 1, kinds: [kind])
            let gen = try TrainingSetGenerator(recipe: r)
            let background = UInt8(gen.classNames.count - 1)
            for index in 0..<3 {
                let frame = try gen.frame(index: index), pair = try gen.pair(index: index)
                XCTAssertTrue(frame.structure.columns.isEmpty, "\(kind)")
                XCTAssertEqual(frame.truthAtomsCSV, "frame,x,y,class,defect_id\n", "\(kind): no truth atoms")
                XCTAssertTrue(pair.points.isEmpty, "\(kind)")
                XCTAssertTrue(pair.mask.allSatisfy { $0 == background }, "\(kind): the truth mask is empty")
                XCTAssertNotNil(frame.dose, "\(kind): dosed like the lattice frames")
                let (lo, hi) = (frame.image.min()!, frame.image.max()!)
                if kind == .blank {
                    XCTAssertEqual([lo, hi], [0, 0], "a blank frame is all zero")
                } else {
                    XCTAssertLessThan(lo, hi, "\(kind): a frame with contrast")
                }
            }
        }
    }

    /// Amorphous carbon: no two atoms of a layer closer than 1.3 Å and about 0.35 atoms/Å² per
    /// layer (random sequential adsorption jams near 0.41 at this distance).
    func testAmorphousCarbonSpacingAndDensity() {
        var rng = SeededGenerator(seed: 7)
        let (w, h) = (40.0, 30.0)
        let atoms = NegativeSpecimen.amorphousCarbon(width: w, height: h, margin: 0, layers: 1, rng: &rng)
        let density = Double(atoms.count) / (w * h)
        XCTAssertEqual(density, NegativeSpecimen.layerDensity, accuracy: 0.01)
        var closest = Double.infinity
        for i in atoms.indices { for j in atoms.indices where j > i {
            let d = atoms[i].position - atoms[j].position
            closest = min(closest, (d.x * d.x + d.y * d.y).squareRoot())
        } }
        XCTAssertGreaterThanOrEqual(closest, NegativeSpecimen.minDistance)
        let twoLayers = NegativeSpecimen.amorphousCarbon(width: w, height: h, margin: 0, layers: 2, rng: &rng)
        XCTAssertEqual(Double(twoLayers.count) / (w * h), 2 * NegativeSpecimen.layerDensity, accuracy: 0.02)
    }

    /// Lattice frames come out exactly as without negatives, and the fraction of negatives is the asked one.
    func testLatticeFramesUnchangedAndFractionHonoured() throws {
        let plain = try TrainingSetGenerator(recipe: graphene(size: 32))
        var r = try graphene(size: 32)
        r.negatives = Negatives(fraction: 0.3)
        let mixed = try TrainingSetGenerator(recipe: r)
        let kinds = (0..<4000).map { r.negatives!.kind(seed: r.seed, index: $0) }
        XCTAssertEqual(Double(kinds.filter { $0 != nil }.count) / 4000, 0.3, accuracy: 0.03)  // 4.1 σ
        for kind in NegativeKind.allCases { XCTAssertGreaterThan(kinds.filter { $0 == kind }.count, 200, "\(kind) drawn") }
        let lattice = try XCTUnwrap(kinds.firstIndex { $0 == nil })
        XCTAssertEqual(try mixed.pair(index: lattice).image, try plain.pair(index: lattice).image)
        XCTAssertFalse(try mixed.pair(index: lattice).points.isEmpty)
    }

    /// doseBias b: the log-dose fraction t has P(t < f) = f^(1/b); b = 1 is the old log-uniform draw, bit for bit.
    func testDoseBiasDistribution() throws {
        var r = try graphene()
        r.doseBias = 2
        var rng = SeededGenerator(seed: 11)
        let n = 20_000
        let t = (0..<n).map { _ in log10(r.drawDose(rng: &rng)! / 1e4) / 2 }
        for f in [0.1, 0.25, 0.5, 0.8] {
            let expected = pow(f, 0.5)
            XCTAssertEqual(Double(t.filter { $0 < f }.count) / Double(n), expected, accuracy: 4 * (expected * (1 - expected) / Double(n)).squareRoot() + 1e-3)
        }
        r.doseBias = nil
        var a = SeededGenerator(seed: 12), b = SeededGenerator(seed: 12)
        for _ in 0..<100 { XCTAssertEqual(r.drawDose(rng: &a), b.logUniform(1e4, 1e6)) }
        r.doseBias = 0
        XCTAssertThrowsError(try r.validate())
        r.doseBias = 1; r.negatives = Negatives(fraction: 1.5)
        XCTAssertThrowsError(try r.validate())
    }

    /// The recorded counts are Poisson(signal · dose · pixel²): mean and variance both match λ
    /// (Pearson χ² per pixel ≈ 1) on lattice and amorphous frames at 10⁴ e/Å².
    func testCountsArePoisson() throws {
        var r = try graphene(size: 96)
        r.dose = [1e4, 1e4]
        r.distortions?.contamination = 0; r.distortions?.readNoise = 0
        for negatives in [nil, Negatives(fraction: 1, kinds: [.amorphousCarbon])] {
            r.negatives = negatives
            let gen = try TrainingSetGenerator(recipe: r)
            for index in 0..<2 {
                let f = try gen.frame(index: index)
                let scale = f.dose! * f.geometry.pixelSize * f.geometry.pixelSize
                var total = 0.0, expected = 0.0, chi2 = 0.0, pixels = 0.0
                for (k, s) in zip(f.image, f.signal) {
                    let lambda = Double(s) * scale
                    guard lambda > 0.5 else { continue }
                    total += Double(k); expected += lambda; pixels += 1
                    chi2 += (Double(k) - lambda) * (Double(k) - lambda) / lambda
                }
                XCTAssertEqual(total, expected, accuracy: 5 * expected.squareRoot(), "mean counts = λ")
                XCTAssertEqual(chi2 / pixels, 1, accuracy: 5 * (2 / pixels).squareRoot() + 0.02, "variance = mean")
            }
        }
    }
}
