import Core
import Localization
import XCTest

final class AtomLocatorTests: XCTestCase {
    /// A Poisson-noisy frame of Gaussian atoms (peak `dose` counts over a 10 % background)
    /// and disc-shaped probability maps like a trained network's.
    private func scene(dose: Double, seed: UInt64, width: Int = 128, height: Int = 128)
        -> (truth: [(x: Double, y: Double)], raw: [Float], maps: ProbabilityMaps) {
        var rng = SeededGenerator(seed: seed)
        let truth = jitteredLattice(width: width, height: height, spacing: 12, margin: 8, rng: &rng)
        let clean = renderAtoms(truth, width: width, height: height, sigma: 1.5, amplitude: dose, background: 0.1 * dose)
        let raw = clean.map { Float(rng.poisson($0)) }
        let plane = discProbabilities(truth, width: width, height: height, radius: 2.5)
        return (truth, raw, try! ProbabilityMaps(classes: 2, width: width, height: height, values: twoClassMaps(plane)))
    }

    private func rmse(_ atoms: [Atom], _ truth: [(x: Double, y: Double)]) throws -> (Double, DetectionEvaluation) {
        let reference = truth.map { ReferencePoint(x: $0.x, y: $0.y, classIndex: 1) }
        let evaluation = try evaluateDetections(atoms, reference: reference, radius: 2)
        return (evaluation.total.rmse ?? .infinity, evaluation)
    }

    func testRefinementIsSubPixelAndBeatsCentroidsAtHighDose() throws {
        let (truth, raw, maps) = scene(dose: 1000, seed: 7)
        let centroids = try AtomLocator(refinement: nil).locate(maps, frame: raw)
        let refined = try AtomLocator().locate(maps, frame: raw)
        let (centroidRMSE, centroidEval) = try rmse(centroids, truth)
        let (refinedRMSE, refinedEval) = try rmse(refined, truth)
        XCTAssertEqual(centroidEval.total.truePositives, truth.count)
        XCTAssertEqual(refinedEval.total.falsePositives, 0)
        XCTAssertEqual(refinedEval.total.falseNegatives, 0)
        XCTAssertTrue(refined.allSatisfy(\.refined), "every well-separated atom should refine")
        XCTAssertTrue(centroids.allSatisfy { $0.refinement == .notAttempted })
        XCTAssertLessThanOrEqual(refinedRMSE, 0.1)
        XCTAssertLessThan(refinedRMSE, centroidRMSE)
        for atom in refined { XCTAssertEqual(atom.sigma ?? 0, 1.5, accuracy: 0.15) }
    }

    func testPeaksSplitTwoTouchingAtoms() throws {
        let width = 48, height = 40
        let truth = [(x: 20.3, y: 20.0), (x: 24.6, y: 20.4)]
        let blobs = renderAtoms(truth, width: width, height: height, sigma: 1.6, amplitude: 0.95)
        let plane = blobs.map { Float(min($0, 1)) }
        let maps = try ProbabilityMaps(classes: 2, width: width, height: height, values: twoClassMaps(plane))
        // One connected blob: with a separation larger than the pair distance it stays one atom …
        XCTAssertEqual(try AtomLocator(minSeparation: 6, refinement: nil).locate(maps).count, 1)
        // … with a smaller one the two peaks split it.
        let atoms = try AtomLocator(minSeparation: 3, refinement: nil).locate(maps)
        XCTAssertEqual(atoms.count, 2)
        let evaluation = try evaluateDetections(atoms, reference: truth.map { ReferencePoint(x: $0.x, y: $0.y, classIndex: 1) },
                                                radius: 0.5)
        XCTAssertEqual(evaluation.total.truePositives, 2, "\(atoms)")
    }

    func testSaturatedPlateauIsOneAtomWithMeanScore() throws {
        var plane = [Float](repeating: 0, count: 20 * 20)
        for y in 6...10 { for x in 8...12 { plane[y * 20 + x] = 0.8 } }
        let maps = try ProbabilityMaps(classes: 2, width: 20, height: 20, values: twoClassMaps(plane))
        let atoms = try AtomLocator(refinement: nil).locate(maps)
        XCTAssertEqual(atoms.count, 1)
        XCTAssertEqual(atoms[0].x, 10, accuracy: 1e-9)
        XCTAssertEqual(atoms[0].y, 8, accuracy: 1e-9)
        XCTAssertEqual(atoms[0].score, 0.8, accuracy: 1e-6)
        XCTAssertEqual(atoms[0].area, 25)
        XCTAssertEqual(atoms[0].classIndex, 1)
        XCTAssertFalse(atoms[0].border)
    }

    func testBorderAtomsAreFlaggedNotDropped() throws {
        let width = 30, height = 30
        let truth = [(x: 0.4, y: 15.0), (x: 15.0, y: 15.0), (x: 28.8, y: 6.0), (x: 14.0, y: 1.0)]
        let raw = renderAtoms(truth, width: width, height: height, sigma: 1.5, amplitude: 100, background: 10).map(Float.init)
        let plane = discProbabilities(truth, width: width, height: height, radius: 2.5)
        let maps = try ProbabilityMaps(classes: 2, width: width, height: height, values: twoClassMaps(plane))
        let atoms = try AtomLocator().locate(maps, frame: raw)
        XCTAssertEqual(atoms.count, 4)
        for t in truth {
            guard let a = atoms.min(by: { hypot($0.x - t.x, $0.y - t.y) < hypot($1.x - t.x, $1.y - t.y) }) else { continue }
            XCTAssertLessThan(hypot(a.x - t.x, a.y - t.y), 1)
            XCTAssertEqual(a.border, t.x != 15, "atom at \(t)")
        }
    }

    func testFitThatMovesTooFarIsRejectedAndCentroidKept() throws {
        let width = 40, height = 40
        let raw = renderAtoms([(20, 20)], width: width, height: height, sigma: 1.5, amplitude: 100, background: 5).map(Float.init)
        // The network put the blob 1.6 px to the right of the real atom.
        let plane = discProbabilities([(21.6, 20)], width: width, height: height, radius: 2.5)
        let maps = try ProbabilityMaps(classes: 2, width: width, height: height, values: twoClassMaps(plane))
        let centroid = try AtomLocator(refinement: nil).locate(maps)[0]
        let atom = try AtomLocator().locate(maps, frame: raw)[0]
        XCTAssertEqual(atom.refinement, .movedTooFar)
        XCTAssertFalse(atom.refined)
        XCTAssertEqual(atom.x, centroid.x)
        XCTAssertEqual(atom.y, centroid.y)
        // With a generous shift limit the same fit is accepted and lands on the real atom.
        let loose = try AtomLocator(refinement: GaussianRefinement(maxShift: 3)).locate(maps, frame: raw)[0]
        XCTAssertTrue(loose.refined)
        XCTAssertEqual(loose.x, 20, accuracy: 1e-3)
    }

    func testFitOnAnEmptyRawFrameIsRejected() throws {
        var rng = SeededGenerator(seed: 3)
        let raw = (0..<(30 * 30)).map { _ in Float(10 + rng.normal()) }
        let plane = discProbabilities([(15.3, 14.6)], width: 30, height: 30, radius: 2.5)
        let maps = try ProbabilityMaps(classes: 2, width: 30, height: 30, values: twoClassMaps(plane))
        let atom = try AtomLocator().locate(maps, frame: raw)[0]
        XCTAssertFalse(atom.refined, "a fit to pure noise must not be accepted: \(atom)")
    }

    func testNaNInTheRawFrameDoesNotTrapOrRefine() throws {
        var raw = renderAtoms([(15, 15)], width: 30, height: 30, sigma: 1.5, amplitude: 100, background: 5).map(Float.init)
        raw[15 * 30 + 16] = .nan
        let plane = discProbabilities([(15, 15)], width: 30, height: 30, radius: 2.5)
        let maps = try ProbabilityMaps(classes: 2, width: 30, height: 30, values: twoClassMaps(plane))
        let atoms = try AtomLocator().locate(maps, frame: raw)
        XCTAssertEqual(atoms.count, 1)
        XCTAssertFalse(atoms[0].refined)
        XCTAssertEqual(atoms[0].x, 15, accuracy: 0.05)
        XCTAssertTrue(try AtomLocator().locate(ProbabilityMaps(classes: 2, width: 30, height: 30,
                                                                values: [Float](repeating: 0, count: 1800)), frame: raw).isEmpty)
    }

    func testClassesAreLocalizedSeparatelyAndBackgroundSkipped() throws {
        let width = 40, height = 30
        let a = discProbabilities([(10, 10), (30, 20)], width: width, height: height, radius: 2.5)
        let b = discProbabilities([(20, 15)], width: width, height: height, radius: 2.5)
        let background = zip(a, b).map { 1 - $0 - $1 }
        let maps = try ProbabilityMaps(classes: 3, width: width, height: height, values: background + a + b)
        let atoms = try AtomLocator(refinement: nil).locate(maps)
        XCTAssertEqual(atoms.filter { $0.classIndex == 1 }.count, 2)
        XCTAssertEqual(atoms.filter { $0.classIndex == 2 }.count, 1)
        XCTAssertEqual(atoms.filter { $0.classIndex == 0 }.count, 0)
        let withBackground = try AtomLocator(backgroundClass: nil, refinement: nil).locate(maps)
        XCTAssertGreaterThan(withBackground.filter { $0.classIndex == 0 }.count, 0)
    }

    func testBadInputIsATypedError() throws {
        let maps = try ProbabilityMaps(classes: 2, width: 8, height: 8, values: [Float](repeating: 0.5, count: 128))
        XCTAssertThrowsError(try AtomLocator().locate(maps, frame: [Float](repeating: 0, count: 63))) {
            XCTAssertEqual($0 as? LocalizationError, .sizeMismatch(what: "raw frame", expected: 64, actual: 63))
        }
        XCTAssertThrowsError(try ProbabilityMaps(classes: 2, width: 8, height: 8, values: [Float](repeating: 0, count: 100)))
        XCTAssertThrowsError(try AtomLocator(threshold: 0))
        XCTAssertThrowsError(try AtomLocator(minSeparation: 0.5))
        XCTAssertThrowsError(try AtomLocator(refinement: GaussianRefinement(halfWindow: 0)))
    }
}

final class NeighbourRefinementTests: XCTestCase {
    /// Two atoms 4 px apart (σ 1.5 px) spill into each other's fit windows. Fitted alone
    /// each is pulled towards the other; with the neighbour's Gaussian subtracted (iterated)
    /// both land on the truth.
    func testCloseNeighboursDoNotBiasTheFit() throws {
        var alone = 0.0, together = 0.0, centroid = 0.0, n = 0.0
        for k in 0..<10 {
            let truth = [(x: 20.0 + 0.07 * Double(k), y: 20.3), (x: 24.0 + 0.07 * Double(k), y: 20.3 + 0.02 * Double(k))]
            let raw = renderAtoms(truth, width: 48, height: 40, sigma: 1.5, amplitude: 1000, background: 100).map(Float.init)
            let plane = renderAtoms(truth, width: 48, height: 40, sigma: 1.2, amplitude: 0.95).map { Float(min($0, 1)) }
            let maps = try ProbabilityMaps(classes: 2, width: 48, height: 40, values: twoClassMaps(plane))
            func error(_ atoms: [Atom]) -> Double {
                XCTAssertEqual(atoms.count, 2)
                return zip(atoms.sorted { $0.x < $1.x }, truth).map { pow($0.x - $1.x, 2) + pow($0.y - $1.y, 2) }.reduce(0, +)
            }
            let joint = try AtomLocator(minSeparation: 2.5).locate(maps, frame: raw)
            XCTAssertTrue(joint.allSatisfy(\.refined))
            together += error(joint)
            alone += error(try AtomLocator(minSeparation: 2.5, refinement: GaussianRefinement(neighbourRounds: 0)).locate(maps, frame: raw))
            centroid += error(try AtomLocator(minSeparation: 2.5, refinement: nil).locate(maps))
            n += 2
        }
        let (rmsAlone, rmsTogether, rmsCentroid) = ((alone / n).squareRoot(), (together / n).squareRoot(), (centroid / n).squareRoot())
        XCTAssertLessThan(rmsTogether, 0.01)
        XCTAssertLessThan(rmsTogether, rmsCentroid)
        XCTAssertGreaterThan(rmsAlone, 0.3, "without neighbour subtraction the pair biases the fit (the case this guards)")
    }
}
