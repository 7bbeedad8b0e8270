import Core
import Foundation
import Localization
import XCTest

/// Centroid vs Gaussian-refined localization error over a range of doses, on simulated
/// frames whose truth we set. Prints the table recorded in docs (ACCURACY):
/// `swift test -c release --filter LocalizationTests.RefinementAccuracyTests`.
final class RefinementAccuracyTests: XCTestCase {
    struct Row { let dose: Double; let atoms: Int; let found: Int; let centroid: Double; let refined: Double; let refinedShare: Double }

    /// Three 128×128 frames per dose, ~100 atoms each (σ = 1.5 px, spacing 12 px, random
    /// sub-pixel offsets), Poisson noise with `dose` counts at an atom's peak over a 10 %
    /// background; probability maps are rasterized discs (radius 2.5 px, 3×3-smoothed).
    func sweep(doses: [Double]) throws -> [Row] {
        let width = 128, height = 128
        return try doses.map { dose in
            var centroidSq = 0.0, refinedSq = 0.0, n = 0, atomsTotal = 0, refinedCount = 0, found = 0
            for seed in 0..<3 as Range<UInt64> {
                var rng = SeededGenerator(seed: 1000 + seed)
                let truth = jitteredLattice(width: width, height: height, spacing: 12, margin: 8, rng: &rng)
                let clean = renderAtoms(truth, width: width, height: height, sigma: 1.5, amplitude: dose, background: 0.1 * dose)
                let raw = clean.map { Float(rng.poisson($0)) }
                let plane = discProbabilities(truth, width: width, height: height, radius: 2.5)
                let maps = try ProbabilityMaps(classes: 2, width: width, height: height, values: twoClassMaps(plane))
                let reference = truth.map { ReferencePoint(x: $0.x, y: $0.y, classIndex: 1) }
                let centroids = try AtomLocator(refinement: nil).locate(maps, frame: raw)
                let refined = try AtomLocator().locate(maps, frame: raw)
                // Same blobs, so compare atom by atom against the truth matched to the centroid.
                XCTAssertEqual(centroids.count, refined.count)
                let matches = try evaluateDetections(centroids, reference: reference, radius: 2).matches
                for m in matches {
                    let t = truth[m.reference], r = refined[m.detected]
                    centroidSq += m.distance * m.distance
                    refinedSq += (r.x - t.x) * (r.x - t.x) + (r.y - t.y) * (r.y - t.y)
                    if r.refined { refinedCount += 1 }
                }
                n += matches.count; atomsTotal += truth.count; found += centroids.count
            }
            return Row(dose: dose, atoms: atomsTotal, found: n, centroid: (centroidSq / Double(n)).squareRoot(),
                       refined: (refinedSq / Double(n)).squareRoot(), refinedShare: Double(refinedCount) / Double(n))
        }
    }

    func testRefinementAccuracyOverDose() throws {
        let rows = try sweep(doses: [10, 30, 100, 300, 1000, 3000, 10000])
        print("dose (peak counts) | atoms | matched | centroid RMSE px | refined RMSE px | fits accepted")
        for r in rows {
            print(String(format: "%18.0f | %5d | %7d | %16.4f | %15.4f | %12.1f%%", r.dose, r.atoms, r.found, r.centroid,
                         r.refined, 100 * r.refinedShare))
        }
        for r in rows {
            XCTAssertEqual(r.found, r.atoms, "every atom found at dose \(r.dose)")
            if r.dose >= 100 { XCTAssertLessThan(r.refined, r.centroid, "dose \(r.dose)") }
            if r.dose >= 1000 { XCTAssertLessThanOrEqual(r.refined, 0.1, "dose \(r.dose)") }
        }
    }
}

/// The same comparison on a dense lattice (spacing 5 px = 3.3σ), where every atom's fit
/// window holds its neighbours' tails: fitted alone the atoms are biased, with neighbour
/// subtraction they are not.
final class DenseLatticeAccuracyTests: XCTestCase {
    func testNeighbourSubtractionOnADenseLattice() throws {
        let width = 96, height = 96
        print("dense lattice 5 px | dose | centroid RMSE px | refined alone | 2 neighbour rounds | 8 rounds (default)")
        for dose in [100.0, 1000.0, 10000.0] {
            var rng = SeededGenerator(seed: 77)
            let truth = jitteredLattice(width: width, height: height, spacing: 5, margin: 6, rng: &rng)
            let clean = renderAtoms(truth, width: width, height: height, sigma: 1.5, amplitude: dose, background: 0.1 * dose)
            let raw = clean.map { Float(rng.poisson($0)) }
            // Gaussian blobs (σ 1 px): disc labels would merge at this spacing.
            let plane = renderAtoms(truth, width: width, height: height, sigma: 1, amplitude: 0.95).map { Float(min($0, 1)) }
            let maps = try ProbabilityMaps(classes: 2, width: width, height: height, values: twoClassMaps(plane))
            let reference = truth.map { ReferencePoint(x: $0.x, y: $0.y, classIndex: 1) }
            func rmse(_ locator: AtomLocator) throws -> Double {
                let e = try evaluateDetections(try locator.locate(maps, frame: raw), reference: reference, radius: 1.5)
                XCTAssertEqual(e.total.truePositives, truth.count, "dose \(dose)")
                return e.total.rmse ?? .infinity
            }
            let centroid = try rmse(AtomLocator(minSeparation: 3, refinement: nil))
            let alone = try rmse(AtomLocator(minSeparation: 3, refinement: GaussianRefinement(neighbourRounds: 0)))
            let two = try rmse(AtomLocator(minSeparation: 3, refinement: GaussianRefinement(neighbourRounds: 2)))
            let together = try rmse(AtomLocator(minSeparation: 3))
            print(String(repeating: " ", count: 18)
                + String(format: " | %4.0f | %16.4f | %13.4f | %18.4f | %18.4f", dose, centroid, alone, two, together))
            XCTAssertLessThan(together, alone, "dose \(dose)")
            XCTAssertLessThan(together, centroid, "dose \(dose)")
            if dose >= 1000 { XCTAssertLessThanOrEqual(together, 0.1, "dose \(dose)") }
        }
    }
}
