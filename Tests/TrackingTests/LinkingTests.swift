import Core
import XCTest
import Tracking

/// Linking cases modelled on trackpy's own test suite, plus crossings, births,
/// deaths and missed detections. Truth is set by construction.
final class LinkingTests: XCTestCase {

    private func detections(_ rows: [(frame: Int, x: Double, y: Double, id: Int)]) -> ([Detection], [Int]) {
        (rows.map { Detection(frame: $0.frame, x: $0.x, y: $0.y) }, rows.map(\.id))
    }

    func testOneTrivialStepper() throws {
        let (d, truth) = detections((0..<5).map { (frame: $0, x: Double($0), y: 5, id: 0) })
        let r = try Tracker.track(d, options: TrackingOptions(maxDistance: 5))
        XCTAssertEqual(r.tracks.count, 1)
        XCTAssertEqual(r.tracks[0].points.map(\.frame), [0, 1, 2, 3, 4])
        assertSameGrouping(r, truth: truth)
    }

    func testTwoIsolatedSteppersAndStartAtLaterFrame() throws {
        var rows: [(frame: Int, x: Double, y: Double, id: Int)] = []
        for t in 3..<8 { rows.append((t, Double(t), 5, 0)); rows.append((t, Double(t), 25, 1)) }
        let (d, truth) = detections(rows)
        let r = try Tracker.track(d, options: TrackingOptions(maxDistance: 5))
        XCTAssertEqual(r.tracks.count, 2)
        XCTAssertEqual(r.tracks.map(\.firstFrame), [3, 3])
        XCTAssertEqual(r.drift.first?.frame, 3)
        assertSameGrouping(r, truth: truth)
    }

    func testGappedStepperNeedsMemory() throws {
        var rows: [(frame: Int, x: Double, y: Double, id: Int)] = []
        for t in 0..<6 {
            rows.append((t, Double(t), 5, 0))
            if t != 2 && t != 3 { rows.append((t, Double(t), 25, 1)) }
        }
        let (d, truth) = detections(rows)
        let noMemory = try Tracker.track(d, options: TrackingOptions(maxDistance: 5))
        XCTAssertEqual(noMemory.tracks.count, 3, "without gap closing the gapped particle splits")
        let tooShort = try Tracker.track(d, options: TrackingOptions(maxDistance: 5, maxGap: 1))
        XCTAssertEqual(tooShort.tracks.count, 3, "a two-frame gap is not closed with maxGap 1")
        let memory = try Tracker.track(d, options: TrackingOptions(maxDistance: 5, maxGap: 2))
        XCTAssertEqual(memory.tracks.count, 2)
        assertSameGrouping(memory, truth: truth)
    }

    func testBlankFrame() throws {
        let rows = (0..<6).filter { $0 != 3 }.map { (frame: $0, x: Double($0), y: 5.0, id: 0) }
        let (d, truth) = detections(rows)
        XCTAssertEqual(try Tracker.track(d, options: TrackingOptions(maxDistance: 5)).tracks.count, 2)
        let r = try Tracker.track(d, options: TrackingOptions(maxDistance: 5, maxGap: 1))
        XCTAssertEqual(r.tracks.count, 1)
        assertSameGrouping(r, truth: truth)
    }

    func testJumpBeyondSearchRangeStartsNewTrack() throws {
        let rows = [(frame: 0, x: 0.0, y: 0.0, id: 0), (frame: 1, x: 1.0, y: 0.0, id: 0),
                    (frame: 2, x: 8.0, y: 0.0, id: 1), (frame: 3, x: 9.0, y: 0.0, id: 1)]
        let (d, truth) = detections(rows)
        let r = try Tracker.track(d, options: TrackingOptions(maxDistance: 5))
        XCTAssertEqual(r.tracks.count, 2)
        assertSameGrouping(r, truth: truth)
    }

    /// Random walkers with shuffled input rows; `spacing` sets isolated vs packed. Confined
    /// walkers relax halfway back to their lattice site each frame (atoms jiggling on a
    /// lattice), so packed neighbours never truly meet and the truth stays recoverable.
    private func walkers(count: Int, frames: Int, spacing: Double, step: Double, seed: UInt64,
                         confined: Bool = false) -> ([Detection], [Int]) {
        var rng = SeededGenerator(seed: seed)
        let side = Int(Double(count).squareRoot().rounded(.up))
        var rows: [(frame: Int, x: Double, y: Double, id: Int)] = []
        for p in 0..<count {
            let homeX = Double(p % side) * spacing, homeY = Double(p / side) * spacing
            var x = homeX, y = homeY
            for t in 0..<frames {
                rows.append((t, x, y, p))
                if confined { x = homeX + 0.5 * (x - homeX); y = homeY + 0.5 * (y - homeY) }
                x += step * rng.normal(); y += step * rng.normal()
            }
        }
        rng.shuffle(&rows)
        return detections(rows)
    }

    func testIsolatedRandomWalksShuffled() throws {
        let (d, truth) = walkers(count: 30, frames: 50, spacing: 100, step: 1, seed: 1)
        let r = try Tracker.track(d, options: TrackingOptions(maxDistance: 10))
        XCTAssertEqual(r.tracks.count, 30)
        assertSameGrouping(r, truth: truth)
    }

    func testPackedRandomWalksShuffled() throws {
        // Walkers 3 px apart, search range 3.2 px: neighbours sit inside each other's range,
        // so frame pairs form large components that need the full assignment.
        let (d, truth) = walkers(count: 400, frames: 30, spacing: 3, step: 0.3, seed: 2, confined: true)
        let r = try Tracker.track(d, options: TrackingOptions(maxDistance: 3.2))
        XCTAssertEqual(r.tracks.count, 400)
        assertSameGrouping(r, truth: truth)
    }

    func testSquaredNotLinearCost() throws {
        // trackpy's quadrature case: the optimum flips with the sign of ε only under squared costs.
        for (eps, swapped) in [(0.1, true), (-0.1, false)] {
            let d = [Detection(frame: 0, x: 10, y: 11), Detection(frame: 0, x: 10, y: 8),
                     Detection(frame: 1, x: 9, y: 10), Detection(frame: 1, x: 12, y: 10 + eps)]
            let r = try Tracker.track(d, options: TrackingOptions(maxDistance: 5))
            // Σd² : A→C,B→D = 2 + (4 + (2+ε)²); A→D,B→C = (4 + (1−ε)²) + 5. Linear sums prefer A→C for both signs.
            let aGoesTo = r.tracks.first { $0.points.first?.detection == 0 }!.points[1].detection
            XCTAssertEqual(aGoesTo, swapped ? 3 : 2, "ε = \(eps)")
        }
    }

    func testContractingGrid() throws {
        // trackpy's contracting grid: 21×21 points, spacing 2, contracted by 0.9; identity is optimal.
        var d: [Detection] = [], truth: [Int] = []
        for frame in 0..<2 {
            for i in -10...10 { for j in -10...10 {
                let s = frame == 0 ? 2.0 : 1.8
                d.append(Detection(frame: frame, x: 200 + Double(i) * s, y: 200 + Double(j) * s))
                truth.append((i + 10) * 21 + j + 10)
            } }
        }
        // The outer ring contracts onto the second ring, so with cheap births/deaths the
        // optimum leaves the corners unlinked; with costly ones (a full assignment) the
        // identity is the unique optimum (rearrangement inequality) — one 441×441 component.
        let r = try Tracker.track(d, options: TrackingOptions(maxDistance: 3, deathCost: 100, birthCost: 100))
        XCTAssertEqual(r.tracks.count, 441)
        assertSameGrouping(r, truth: truth)
        // With default costs (4.5 each) the solution must cost no more than the identity.
        let cheap = try Tracker.track(d, options: TrackingOptions(maxDistance: 3))
        func cost(_ result: TrackingResult) -> Double {
            var c = 0.0, linked = 0
            for t in result.tracks where t.points.count == 2 {
                let dx = t.points[1].x - t.points[0].x, dy = t.points[1].y - t.points[0].y
                c += dx * dx + dy * dy; linked += 1
            }
            return c + Double(2 * (441 - linked)) * 4.5
        }
        XCTAssertLessThanOrEqual(cost(cheap), cost(r) + 1e-9)
        XCTAssertLessThan(cost(cheap), cost(r) - 1, "the corners' contraction makes unlinking cheaper")
    }

    func testDenseDiagonalBlock() throws {
        // A 30×30 block with unit spacing moves by (0.35, 0.3) per frame: each point has
        // several candidates within range, all in one component; translation keeps identity optimal.
        var d: [Detection] = [], truth: [Int] = []
        for t in 0..<6 { for i in 0..<30 { for j in 0..<30 {
            d.append(Detection(frame: t, x: Double(i) + 0.35 * Double(t), y: Double(j) + 0.3 * Double(t)))
            truth.append(i * 30 + j)
        } } }
        let r = try Tracker.track(d, options: TrackingOptions(maxDistance: 1.2))
        XCTAssertEqual(r.tracks.count, 900)
        assertSameGrouping(r, truth: truth)
    }

    func testCrossingParticles() throws {
        var rows: [(frame: Int, x: Double, y: Double, id: Int)] = []
        for t in 0..<11 { rows.append((t, Double(t), 0, 0)); rows.append((t, 10 - Double(t), 0.8, 1)) }
        let (d, truth) = detections(rows)
        let r = try Tracker.track(d, options: TrackingOptions(maxDistance: 2))
        XCTAssertEqual(r.tracks.count, 2)
        assertSameGrouping(r, truth: truth)
    }

    func testBirthsDeathsAndClassesCarried() throws {
        var rows: [(frame: Int, x: Double, y: Double, id: Int)] = []
        var classes: [Int] = []
        for t in 0..<10 {
            rows.append((t, 10 + 0.5 * Double(t), 10, 0)); classes.append(t < 5 ? 1 : 2)  // changes class at 5
            if t >= 3 && t <= 6 { rows.append((t, 30, 30 + 0.2 * Double(t), 1)); classes.append(0) }  // born 3, dies 6
            if t >= 7 { rows.append((t, 50, 10, 2)); classes.append(3) }  // born 7
        }
        var (d, truth) = detections(rows)
        for i in d.indices { d[i].classLabel = classes[i]; d[i].score = Double(i) }
        let r = try Tracker.track(d, options: TrackingOptions(maxDistance: 3))
        XCTAssertEqual(r.tracks.count, 3)
        assertSameGrouping(r, truth: truth)
        let first = r.tracks.first { $0.points.count == 10 }!
        XCTAssertEqual(first.points.map(\.classLabel), [1, 1, 1, 1, 1, 2, 2, 2, 2, 2])
        XCTAssertEqual(first.points.map(\.score), first.points.map { Double($0.detection) })
        XCTAssertEqual(r.tracks.map { $0.points.count }.sorted(), [3, 4, 10])
    }

    func testMissingDetectionsClosedByGapClosing() throws {
        var rng = SeededGenerator(seed: 5)
        var (d, truth) = walkers(count: 100, frames: 40, spacing: 4, step: 0.3, seed: 9, confined: true)
        // Drop ~8 % of detections, never two in a row of one particle, never its first or last.
        let order = d.indices.sorted { (truth[$0], d[$0].frame) < (truth[$1], d[$1].frame) }
        var keep = [Bool](repeating: true, count: d.count)
        for (k, i) in order.enumerated() where d[i].frame > 0 && d[i].frame < 39 {
            if keep[order[k - 1]] && rng.uniform() < 0.08 { keep[i] = false }
        }
        let kept = d.indices.filter { keep[$0] }
        XCTAssertGreaterThan(d.count - kept.count, 200)
        d = kept.map { d[$0] }; truth = kept.map { truth[$0] }
        let withoutGaps = try Tracker.track(d, options: TrackingOptions(maxDistance: 2))
        XCTAssertGreaterThan(withoutGaps.tracks.count, 100)
        let r = try Tracker.track(d, options: TrackingOptions(maxDistance: 2, maxGap: 1))
        XCTAssertEqual(r.tracks.count, 100)
        assertSameGrouping(r, truth: truth)
        let gaps = r.tracks.flatMap { zip($0.points, $0.points.dropFirst()).map { $1.frame - $0.frame } }
        XCTAssertEqual(gaps.filter { $0 == 2 }.count, d.count == 4000 ? 0 : 4000 - d.count)
    }

    func testBadInputThrows() {
        XCTAssertThrowsError(try Tracker.track([Detection(frame: 0, x: .nan, y: 0)], options: TrackingOptions(maxDistance: 1)))
        XCTAssertThrowsError(try Tracker.track([Detection(frame: -1, x: 0, y: 0)], options: TrackingOptions(maxDistance: 1)))
        XCTAssertThrowsError(try Tracker.track([], options: TrackingOptions(maxDistance: 0)))
        XCTAssertThrowsError(try Tracker.track([], options: TrackingOptions(maxDistance: 1, maxGap: -1)))
        XCTAssertEqual(try Tracker.track([], options: TrackingOptions(maxDistance: 1)).tracks.count, 0)
    }
}
