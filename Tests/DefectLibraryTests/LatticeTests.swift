import Core
import XCTest
import DefectLibrary

final class LatticeTests: XCTestCase {
    /// Honeycomb (graphene-like) atoms: rotated, jittered, some sites removed, some dopants.
    func makeHoneycomb(bond: Double, angle: Double, width: Int, height: Int, noise: Double,
                       removeEvery: Int, seed: UInt64) -> (atoms: [ClassifiedAtom], removed: [SIMD2<Double>]) {
        var rng = SeededGenerator(seed: seed)
        let a = bond * 3.0.squareRoot()
        let (c, s) = (cos(angle), sin(angle))
        func rot(_ v: SIMD2<Double>) -> SIMD2<Double> { SIMD2(c * v.x - s * v.y, s * v.x + c * v.y) }
        let a1 = rot(SIMD2(a, 0)), a2 = rot(SIMD2(a / 2, a * 3.0.squareRoot() / 2))
        let basis = [SIMD2<Double>(0, 0), rot(SIMD2(0, bond))]
        let origin = SIMD2(3.3, 2.7)
        var atoms = [ClassifiedAtom](), removed = [SIMD2<Double>]()
        var index = 0
        for n1 in -60...60 {
            for n2 in -60...60 {
                for b in basis {
                    let p = origin + b + Double(n1) * a1 + Double(n2) * a2
                    guard p.x >= -0.4, p.y >= -0.4, p.x <= Double(width) - 0.6, p.y <= Double(height) - 0.6 else { continue }
                    index += 1
                    let interior = p.x > bond && p.y > bond && p.x < Double(width - 1) - bond && p.y < Double(height - 1) - bond
                    if interior && index % removeEvery == 0 { removed.append(p); continue }
                    let jitter = SIMD2(rng.normal(), rng.normal()) * noise
                    let cls = index % 97 == 0 ? 1 : 0
                    atoms.append(ClassifiedAtom(x: p.x + jitter.x, y: p.y + jitter.y, classIndex: cls))
                }
            }
        }
        return (atoms, removed)
    }

    func testFindsEveryRemovedHoneycombSiteWithoutFalsePositives() throws {
        for (angle, seed) in [(0.3, UInt64(1)), (1.1, 2), (-0.05, 3)] {
            let (atoms, removed) = makeHoneycomb(bond: 5.2, angle: angle, width: 160, height: 130,
                                                 noise: 0.35, removeEvery: 29, seed: seed)
            let result = try DefectDetector.detect(frame: 4, atoms: atoms, width: 160, height: 130,
                                                   defectClasses: [1])
            let vacancies = result.defects.filter { if case .vacancy = $0.kind { true } else { false } }
            let dopants = result.defects.filter { $0.kind == .atom(classIndex: 1) }
            XCTAssertEqual(dopants.count, atoms.filter { $0.classIndex == 1 }.count)
            XCTAssertEqual(result.lattice?.basis.count, 2)
            XCTAssertEqual(result.lattice.map { $0.nearestSiteDistance } ?? 0, 5.2, accuracy: 0.05)
            // Every removed site found (within 1 px), and nothing else reported.
            let margin = 0.5 * 5.2
            let expected = removed.filter { $0.x >= margin && $0.y >= margin && $0.x <= 159 - margin && $0.y <= 129 - margin }
            XCTAssertGreaterThan(expected.count, 12)
            for r in expected {
                XCTAssertTrue(vacancies.contains { abs($0.x - r.x) < 1 && abs($0.y - r.y) < 1 },
                              "missed vacancy at \(r) (angle \(angle))")
            }
            XCTAssertEqual(vacancies.count, expected.count, "false positives at angle \(angle)")
            XCTAssertTrue(vacancies.allSatisfy { $0.frame == 4 })
        }
    }

    func testSquareBravaisLatticeHasOneSublattice() throws {
        var points = [SIMD2<Double>]()
        for i in 0..<20 { for j in 0..<15 where (i * 7 + j) % 31 != 0 {
            points.append(SIMD2(2 + Double(i) * 4 + 0.2 * Double(j), 3 + Double(j) * 4))
        } }
        let l = try LatticeFitter.fit(points: points)
        XCTAssertEqual(l.basis.count, 1)
        XCTAssertEqual(length2(l.a1), 4, accuracy: 0.05)
        let empty = DefectDetector.emptySites(l, atoms: points, width: 84, height: 63)
        XCTAssertEqual(empty.empty.count, (0..<20).flatMap { i in (0..<15).map { (i * 7 + $0) % 31 } }.filter { $0 == 0 }.count)
    }

    func testTooFewAtomsIsATypedError() {
        XCTAssertThrowsError(try LatticeFitter.fit(points: [SIMD2(0, 0), SIMD2(1, 1)])) {
            XCTAssertTrue("\($0)".contains("need ≥ 8 atoms"))
        }
    }

    private func length2(_ v: SIMD2<Double>) -> Double { (v.x * v.x + v.y * v.y).squareRoot() }
}
