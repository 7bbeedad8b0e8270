import Core
import Localization
import XCTest

/// Z-contrast splitting of a merged two-element class (W+Mo → W and Mo).
final class ContrastSplitTests: XCTestCase {
    /// A lattice of Gaussian columns, every seventh 0.4× as bright (Mo among W), Poisson noise at
    /// a low and a high dose: exactly the dim columns are relabelled.
    func testDimColumnsOfAMergedClassBecomeTheLightClass() throws {
        let width = 128, height = 128
        for dose in [50.0, 1000.0] {
            var rng = SeededGenerator(seed: 31)
            let sites = jitteredLattice(width: width, height: height, spacing: 10, margin: 6, rng: &rng)
            let light = Set(stride(from: 3, to: sites.count, by: 7))
            let raw = noisyColumns(sites, light: light, width: width, height: height, dose: dose, rng: &rng)
            var atoms = sites.map { Atom(x: $0.x, y: $0.y, classIndex: 0, score: 1) }
            let split = try ContrastSplit(classIndex: 0, lightClassIndex: 2, ratio: 0.4, radius: 3)
            XCTAssertEqual(split.apply(&atoms, frame: raw, width: width, height: height), light.count, "dose \(dose)")
            XCTAssertEqual(Set(atoms.indices.filter { atoms[$0].classIndex == 2 }), light, "dose \(dose)")
        }
    }

    /// Columns the frame edge cuts (centres within half a pixel of it) keep the heavy class: their
    /// disc is scaled to its full size, where a cut W would otherwise read as half a W, a Mo.
    func testColumnsCutByTheFrameEdgeStayHeavy() throws {
        let width = 100, height = 100, dose = 1000.0
        var rng = SeededGenerator(seed: 32)
        var sites: [(x: Double, y: Double)] = []
        for gy in stride(from: 0.0, through: 99, by: 11) { for gx in stride(from: 0.0, through: 99, by: 11) { sites.append((gx + 0.3, gy + 0.3)) } }
        let light = Set([45, 56])
        let raw = noisyColumns(sites, light: light, width: width, height: height, dose: dose, rng: &rng)
        var atoms = sites.map { Atom(x: $0.x, y: $0.y, classIndex: 0, score: 1) }
        // A column found half a pixel inside where it is cut off: flagged border, never split.
        atoms.append(Atom(x: 50.3, y: 0.5, classIndex: 0, score: 1, border: true))
        var shifted = raw
        for (i, v) in renderAtoms([(50.3, -1.5)], width: width, height: height, sigma: 1.5, amplitude: dose).enumerated() { shifted[i] += Float(v) }
        let split = try ContrastSplit(classIndex: 0, lightClassIndex: 2, ratio: 0.4, radius: 3)
        split.apply(&atoms, frame: shifted, width: width, height: height)
        XCTAssertEqual(Set(atoms.indices.filter { atoms[$0].classIndex == 2 }), light)
    }

    func testTooFewAtomsOrBadSettings() throws {
        var atoms = [Atom(x: 5, y: 5, classIndex: 0, score: 1)]
        let split = try ContrastSplit(classIndex: 0, lightClassIndex: 1, ratio: 0.4, radius: 3)
        XCTAssertEqual(split.apply(&atoms, frame: [Float](repeating: 1, count: 100), width: 10, height: 10), 0)
        XCTAssertThrowsError(try ContrastSplit(classIndex: 0, lightClassIndex: 1, ratio: 1.2, radius: 3))
        XCTAssertThrowsError(try ContrastSplit(classIndex: 0, lightClassIndex: 1, ratio: 0.4, radius: .nan))
    }

    /// Gaussian columns (σ 1.5 px) on a 5 % background, the `light` ones 0.4× as bright, with Poisson noise.
    private func noisyColumns(_ sites: [(x: Double, y: Double)], light: Set<Int>, width: Int, height: Int, dose: Double,
                              rng: inout SeededGenerator) -> [Float] {
        var clean = [Double](repeating: 0.05 * dose, count: width * height)
        for (k, s) in sites.enumerated() {
            let one = renderAtoms([s], width: width, height: height, sigma: 1.5, amplitude: light.contains(k) ? 0.4 * dose : dose)
            for i in clean.indices { clean[i] += one[i] }
        }
        return clean.map { Float(rng.poisson($0)) }
    }
}
