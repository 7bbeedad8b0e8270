import Core
import Localization
import XCTest

final class EvaluationTests: XCTestCase {
    private func points(_ xy: [(Double, Double)], _ c: Int = 0) -> [ReferencePoint] {
        xy.map { ReferencePoint(x: $0.0, y: $0.1, classIndex: c) }
    }

    func testCountsAndRMSEOnAHandMadeCase() throws {
        let truth = points([(0, 0), (10, 0), (20, 0)])
        let found = points([(0.5, 0), (10.2, 0.1), (30, 0)])
        let e = try evaluateDetections(found, reference: truth, radius: 1)
        XCTAssertEqual(e.total.truePositives, 2)
        XCTAssertEqual(e.total.falsePositives, 1)
        XCTAssertEqual(e.total.falseNegatives, 1)
        XCTAssertEqual(e.total.precision, 2.0 / 3, accuracy: 1e-12)
        XCTAssertEqual(e.total.recall, 2.0 / 3, accuracy: 1e-12)
        XCTAssertEqual(e.total.f1, 2.0 / 3, accuracy: 1e-12)
        XCTAssertEqual(e.total.rmse!, ((0.25 + 0.05) / 2).squareRoot(), accuracy: 1e-12)
        XCTAssertEqual(Set(e.matches.map { [$0.detected, $0.reference] }), [[0, 0], [1, 1]])
    }

    /// Greedy nearest-first matching pairs D0 with T1 (0.9 px) and leaves two points single;
    /// the optimal matching finds both pairs.
    func testAssignmentIsOptimalNotGreedy() throws {
        let truth = points([(0, 0), (2, 0)])
        let found = points([(1.1, 0), (3.0, 0)])
        let e = try evaluateDetections(found, reference: truth, radius: 1.2)
        XCTAssertEqual(e.total.truePositives, 2)
        XCTAssertEqual(e.total.falsePositives, 0)
        XCTAssertEqual(e.total.falseNegatives, 0)
    }

    func testClassesAreMatchedSeparately() throws {
        let truth = points([(5, 5)], 0) + points([(20, 5)], 1)
        let found = points([(5.1, 5)], 1) + points([(20, 5.2)], 1)
        let e = try evaluateDetections(found, reference: truth, radius: 1)
        XCTAssertEqual(e.perClass.map(\.classIndex), [0, 1])
        XCTAssertEqual(e.perClass[0].truePositives, 0)
        XCTAssertEqual(e.perClass[0].falseNegatives, 1)
        XCTAssertEqual(e.perClass[0].precision, 0)
        XCTAssertNil(e.perClass[0].rmse)
        XCTAssertEqual(e.perClass[1].truePositives, 1)
        XCTAssertEqual(e.perClass[1].falsePositives, 1)
        XCTAssertEqual(e.perClass[1].rmse!, 0.2, accuracy: 1e-12)
        XCTAssertTrue(e.csv.hasPrefix(DetectionMetrics.csvHeader + "\n0,0,0,1,"))
        XCTAssertTrue(e.description.contains("all"))
    }

    func testEmptyInputs() throws {
        let none: [ReferencePoint] = []
        let e = try evaluateDetections(none, reference: none, radius: 1)
        XCTAssertEqual(e.total.f1, 1)
        let missed = try evaluateDetections(none, reference: points([(1, 1)]), radius: 1)
        XCTAssertEqual(missed.total.falseNegatives, 1)
        XCTAssertEqual(missed.total.recall, 0)
        XCTAssertEqual(missed.total.f1, 0)
    }

    /// Summed counts (evaluate's table) score like the per-frame metric: an empty class is a
    /// perfect 1, a class with only false positives or only misses is 0, and F1 = 2TP/(2TP+FP+FN).
    func testScoresOfCountsMatchTheMetric() {
        let empty = DetectionMetrics.scores(truePositives: 0, falsePositives: 0, falseNegatives: 0)
        XCTAssertEqual([empty.precision, empty.recall, empty.f1], [1, 1, 1])
        let phantoms = DetectionMetrics.scores(truePositives: 0, falsePositives: 3, falseNegatives: 0)
        XCTAssertEqual([phantoms.precision, phantoms.recall, phantoms.f1], [0, 0, 0])
        let mixed = DetectionMetrics.scores(truePositives: 6, falsePositives: 2, falseNegatives: 4)
        XCTAssertEqual(mixed.precision, 0.75, accuracy: 1e-12)
        XCTAssertEqual(mixed.recall, 0.6, accuracy: 1e-12)
        XCTAssertEqual(mixed.f1, 2 * 0.75 * 0.6 / 1.35, accuracy: 1e-12)
    }

    /// Against brute force over all one-to-one matchings on random dense clusters:
    /// same number of matches and the same minimal summed distance.
    func testMatchesBruteForceOnRandomClusters() throws {
        var rng = SeededGenerator(seed: 11)
        for _ in 0..<200 {
            let nd = Int(rng.next() % 6), nt = Int(rng.next() % 6)
            let det = points((0..<nd).map { _ in (rng.uniform() * 4, rng.uniform() * 4) })
            let ref = points((0..<nt).map { _ in (rng.uniform() * 4, rng.uniform() * 4) })
            let radius = 0.5 + rng.uniform() * 2
            let e = try evaluateDetections(det, reference: ref, radius: radius)
            let best = bruteForce(det, ref, radius)
            XCTAssertEqual(e.total.truePositives, best.count)
            XCTAssertEqual(e.matches.reduce(0) { $0 + $1.distance }, best.sum, accuracy: 1e-9)
            XCTAssertEqual(Set(e.matches.map(\.detected)).count, e.matches.count)
            XCTAssertEqual(Set(e.matches.map(\.reference)).count, e.matches.count)
            XCTAssertTrue(e.matches.allSatisfy { $0.distance <= radius })
        }
    }

    private func bruteForce(_ d: [ReferencePoint], _ r: [ReferencePoint], _ radius: Double) -> (count: Int, sum: Double) {
        var best = (count: 0, sum: 0.0)
        func go(_ i: Int, _ used: Set<Int>, _ count: Int, _ sum: Double) {
            if i == d.count {
                if count > best.count || (count == best.count && sum < best.sum) { best = (count, sum) }
                return
            }
            go(i + 1, used, count, sum)
            for j in r.indices where !used.contains(j) {
                let dist = hypot(d[i].x - r[j].x, d[i].y - r[j].y)
                if dist <= radius { go(i + 1, used.union([j]), count + 1, sum + dist) }
            }
        }
        go(0, [], 0, 0)
        return best
    }

    func testBadInputIsATypedError() {
        XCTAssertThrowsError(try evaluateDetections(points([(0, 0)]), reference: points([(0, 0)]), radius: 0))
        XCTAssertThrowsError(try evaluateDetections(points([(.nan, 0)]), reference: points([(0, 0)]), radius: 1)) {
            XCTAssertEqual($0 as? LocalizationError, .nonFiniteCoordinate(what: "detection", index: 0))
        }
    }
}
