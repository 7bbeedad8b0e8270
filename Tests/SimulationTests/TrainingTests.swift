import Core
import Foundation
import Simulation
import XCTest

/// Recipes, defects and training pairs.
final class TrainingTests: XCTestCase {
    static var trainingData: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("TrainingData")
    }

    func loadRecipe(_ name: String) throws -> Recipe {
        try Recipe.decode(Data(contentsOf: Self.trainingData.appendingPathComponent(name)))
    }

    /// A shipped recipe shrunk to a small frame for speed.
    func small(_ name: String, size: Int = 64) throws -> Recipe {
        var r = try loadRecipe(name)
        r.width = size; r.height = size
        return r
    }

    func testShippedRecipesDecode() throws {
        for name in ["graphene-si.json", "tmd-ws2.json"] {
            let r = try loadRecipe(name)
            XCTAssertEqual(r.classes?.count, 2)
            XCTAssertEqual(try TrainingSetGenerator(recipe: r).classNames.last, "background")
        }
        XCTAssertThrowsError(try Recipe.decode(Data("{\"name\": 1}".utf8)))
    }

    func testSameSeedSameBytes() throws {
        let gen = try TrainingSetGenerator(recipe: small("tmd-ws2.json"))
        let a = try gen.pair(index: 3), b = try gen.pair(index: 3), c = try gen.pair(index: 4)
        XCTAssertEqual(a.image, b.image)
        XCTAssertEqual(a.mask, b.mask)
        XCTAssertNotEqual(a.image, c.image)
        let gen2 = try TrainingSetGenerator(recipe: small("tmd-ws2.json"))
        XCTAssertEqual(try gen2.frame(index: 3).image, try gen.frame(index: 3).image)
    }

    func testMaskLabelsSitAtAtomPositions() throws {
        for name in ["graphene-si.json", "tmd-ws2.json"] {
            let gen = try TrainingSetGenerator(recipe: small(name))
            var seen = Set<Int>()
            for i in 0..<6 {
                let p = try gen.pair(index: i)
                XCTAssertEqual(p.mask.count, p.width * p.height)
                XCTAssertFalse(p.points.isEmpty)
                for pt in p.points {
                    let x = Int(pt.x.rounded()), y = Int(pt.y.rounded())
                    guard x >= 0, y >= 0, x < p.width, y < p.height else { continue }
                    XCTAssertEqual(Int(p.mask[y * p.width + x]), pt.label, "\(name) pair \(i) at (\(x), \(y))")
                    seen.insert(pt.label)
                }
                let bg = p.mask.filter { Int($0) == p.classNames.count - 1 }.count
                XCTAssertGreaterThan(bg, p.mask.count / 3, "background must dominate")
                XCTAssert(p.image.allSatisfy { $0 >= 0 && $0 <= 1 })
            }
            XCTAssert(seen.contains(0), "\(name): lattice class labelled")
        }
    }

    func testMaskMatchesBrightColumnsWithoutAugmentation() throws {
        var r = try small("tmd-ws2.json", size: 96)
        r.augmentation = nil; r.dose = nil; r.distortions = nil
        r.sourceSizeRange = nil; r.defocusSpread = nil
        let gen = try TrainingSetGenerator(recipe: r)
        let f = try gen.frame(index: 0), p = try gen.pair(index: 0)
        // Mean noiseless signal under metal labels ≫ under S2 labels ≫ background.
        var sums = [Double](repeating: 0, count: 3), counts = [Double](repeating: 0, count: 3)
        for i in p.mask.indices { sums[Int(p.mask[i])] += Double(f.signal[i]); counts[Int(p.mask[i])] += 1 }
        let means = zip(sums, counts).map { $0 / $1 }
        XCTAssertGreaterThan(means[0], 2 * means[1])
        XCTAssertGreaterThan(means[1], 1.5 * means[2])
    }

    func testGaussianLabelsPeakAtAtoms() throws {
        let gen = try TrainingSetGenerator(recipe: small("graphene-si.json"))
        let p = try gen.pair(index: 1)
        let soft = p.gaussianLabels(sigma: 1.5)
        let plane = p.width * p.height
        XCTAssertEqual(soft.count, p.classNames.count * plane)
        for pt in p.points {
            let x = Int(pt.x.rounded()), y = Int(pt.y.rounded())
            guard x >= 0, y >= 0, x < p.width, y < p.height else { continue }
            XCTAssertGreaterThan(soft[pt.label * plane + y * p.width + x], 0.75)
        }
        XCTAssert(soft.allSatisfy { $0 >= 0 && $0 <= 1 })
    }

    func testAllFourRotationsAndFlipsAreDrawn() throws {
        var r = try small("graphene-si.json", size: 32)
        r.dose = nil
        let gen = try TrainingSetGenerator(recipe: r)
        var rotations = Set<Int>(), flips = Set<Bool>()
        for i in 0..<40 {
            let p = try gen.pair(index: i)
            rotations.insert(p.rotation); flips.insert(p.flipped)
        }
        XCTAssertEqual(rotations, [0, 1, 2, 3])
        XCTAssertEqual(flips, [false, true])
    }

    /// Undecided columns travel with the image through zoom, flips and rotations: their discs are
    /// `ignoreClass` wherever the same column, labelled, lands; they are not among the pair's points,
    /// the labelled discs are drawn over them, and without any the pair is what it was.
    func testIgnoredColumnsFollowTheAugmentation() throws {
        var a = Augmentation()
        a.flipsAndRotations = true; a.zoom = [1, 1.3]; a.gaussianNoise = [0, 0.03]
        var rng = SeededGenerator(seed: 11)
        let image = (0..<(48 * 48)).map { _ in Float(rng.uniform()) }
        let labelled = [LabelledPoint(x: 20, y: 22, label: 0), LabelledPoint(x: 23, y: 22, label: 1)]
        let undecided = [LabelledPoint(x: 30.3, y: 17.6, label: 0), LabelledPoint(x: 14.8, y: 31.2, label: 1)]
        let names = ["metal", "S2", "background"]
        for index in 0..<12 {
            let pair = { (points: [LabelledPoint], ignored: [LabelledPoint]) -> TrainingPair in
                var r = SeededGenerator(seed: 5, index: index)
                return a.pair(from: LabelledFrame(image: image, width: 48, height: 48, pixelSize: 0.2, points: points, ignored: ignored),
                              classNames: names, labelRadius: 0.5, rng: &r)
            }
            let withIgnored = pair(labelled, undecided), moved = pair(labelled + undecided, [])
            XCTAssertEqual(withIgnored.points, Array(moved.points.prefix(withIgnored.points.count)))
            for q in moved.points.dropFirst(labelled.count) {
                XCTAssertEqual(withIgnored.mask[Int(q.y.rounded()) * 48 + Int(q.x.rounded())], TrainingPair.ignoreClass, "pair \(index)")
            }
            for q in withIgnored.points {
                XCTAssertEqual(Int(withIgnored.mask[Int(q.y.rounded()) * 48 + Int(q.x.rounded())]), q.label)
            }
            let plain = pair(labelled, [])
            XCTAssertEqual(plain.mask, pair(labelled, []).mask)
            XCTAssertFalse(plain.mask.contains(TrainingPair.ignoreClass))
            XCTAssertEqual(plain.image, withIgnored.image)
            XCTAssertEqual(plain.mask.filter { $0 != 2 }.count, withIgnored.mask.filter { $0 < 2 }.count)
        }
    }

    func testDefectsCarryClassesAndConfigurations() throws {
        var rng = SeededGenerator(seed: 11)
        let specs = [
            DefectSpec(kind: .substitution, host: "W", element: "Mo", label: "Mo_W+V_S", density: 0.5, adjacentColumnVacancy: "S"),
            DefectSpec(kind: .columnVacancy, host: "S", label: "V_S", density: 0.5),
        ]
        let s = try buildStructure(lattice: .tmd(metal: "W", chalcogen: "S", a: 3.182), width: 60, height: 60,
                                   margin: 0, placement: Placement(), defects: specs, rng: &rng)
        let complexes = s.defects.filter { $0.state == "Mo_W+V_S" }
        XCTAssertFalse(complexes.isEmpty)
        for d in complexes {
            let members = s.columns.filter { $0.defectID == d.id }
            XCTAssertEqual(Set(members.map(\.symbol)), ["Mo", "S"])
            guard let mo = members.first(where: { $0.symbol == "Mo" }), let sv = members.first(where: { $0.symbol == "S" })
            else { continue }
            XCTAssertEqual(sv.count, 1)  // half an S2 column
            let dd = mo.position - sv.position
            XCTAssertEqual((dd * dd).sum().squareRoot(), 3.182 / 3.0.squareRoot(), accuracy: 1e-6)
        }
        for d in s.defects where d.state == "V_S" {
            XCTAssertEqual(s.columns.filter { $0.defectID == d.id }.map(\.count), [1])
        }
        // Every column keeps an element class; only defect members carry an id.
        XCTAssert(s.columns.allSatisfy { ["W", "Mo", "S"].contains($0.symbol) })
    }

    func testSiliconDopantInDivacancyIsFourFold() throws {
        var rng = SeededGenerator(seed: 5)
        let spec = DefectSpec(kind: .dopantInDivacancy, host: "C", element: "Si", label: "Si-C4", density: 0.3)
        let s = try buildStructure(lattice: .graphene(), width: 50, height: 50, margin: 3,
                                   placement: Placement(), defects: [spec], rng: &rng)
        XCTAssertFalse(s.defects.isEmpty)
        for d in s.defects {
            guard let si = s.columns.first(where: { $0.defectID == d.id }) else { XCTFail("no Si"); continue }
            let near = s.columns.filter { $0.symbol == "C" && ($0.position - si.position).squaredLength() < 2.3 * 2.3 }
            XCTAssertEqual(near.count, 4, "Si in a divacancy binds four C")
        }
    }
}

extension SIMD2 where Scalar == Double {
    func squaredLength() -> Double { (self * self).sum() }
}
