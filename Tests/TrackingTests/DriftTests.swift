import Core
import Foundation
import XCTest
import Tracking

final class DriftTests: XCTestCase {

    /// A 20×20 lattice (spacing 4 px) with thermal jitter, a few vacancies, and a
    /// random-walk drift of ~1.2 px per frame — larger than the 0.6 px link range.
    private func driftingLattice(seed: UInt64) -> (detections: [Detection], truth: [Int], drift: [(Double, Double)]) {
        var rng = SeededGenerator(seed: seed)
        var drift: [(Double, Double)] = [(0, 0)]
        for _ in 1..<25 {
            let last = drift.last!
            drift.append((last.0 + 1.0 + 0.2 * rng.normal(), last.1 - 0.6 + 0.2 * rng.normal()))
        }
        var d: [Detection] = [], truth: [Int] = []
        for (t, shift) in drift.enumerated() {
            for i in 0..<20 { for j in 0..<20 where rng.uniform() > 0.01 || t == 0 {
                d.append(Detection(frame: t, x: 10 + 4 * Double(i) + shift.0 + 0.08 * rng.normal(),
                                   y: 90 + 4 * Double(j) + shift.1 + 0.08 * rng.normal()))
                truth.append(i * 20 + j)
            } }
        }
        return (d, truth, drift)
    }

    func testDriftRecoveredOnDriftingLattice() throws {
        let (d, truth, drift) = driftingLattice(seed: 4)
        let plain = try Tracker.track(d, options: TrackingOptions(maxDistance: 0.6, maxGap: 2))
        XCTAssertLessThan(linkCounts(plain, truth: truth).found, truth.count / 10, "uncorrected drift breaks linking")

        let options = TrackingOptions(maxDistance: 0.6, maxGap: 2, driftIterations: 2, driftSearchDistance: 1.9)
        let r = try Tracker.track(d, options: options)
        XCTAssertEqual(r.drift.count, drift.count)
        for (est, truth) in zip(r.drift, drift) {
            XCTAssertEqual(est.dx, truth.0, accuracy: 0.03, "frame \(est.frame)")
            XCTAssertEqual(est.dy, truth.1, accuracy: 0.03, "frame \(est.frame)")
        }
        assertSameGrouping(r, truth: truth)
        // Corrected positions of one atom stay put to within the jitter.
        let track = r.tracks.max { $0.points.count < $1.points.count }!
        let xs = track.points.map(\.xCorrected)
        XCTAssertLessThan(xs.max()! - xs.min()!, 0.8)
        // drift.csv is cumulative, one row per frame.
        let csv = TrackingCSV.drift(r).split(separator: "\n")
        XCTAssertEqual(csv.first, "frame,dx,dy")
        XCTAssertEqual(csv.count, 26)
        XCTAssertTrue(csv[1].hasPrefix("0,0.0000,0.0000"))
    }

    /// Five defects hopping 15.8 px on a lattice (0.2 hops per frame each) over a drift of 0.25 px
    /// per frame: few enough that pinning frames to the tracks' mean positions reads the hops as
    /// drift; split at the hops, the tracks' segments pin it to well below the hop threshold (no stay
    /// becomes a hop): under 1.5 px in every frame.
    func testHoppingDefectsAreNoDrift() throws {
        var rng = SeededGenerator(seed: 9)
        let frames = 94
        var drift: [(Double, Double)] = [], sites: [(Double, Double)] = [], d: [Detection] = []
        for t in 0..<frames { drift.append((0.25 * Double(t), -0.15 * Double(t))) }
        for k in 0..<5 { sites.append((40 + 30 * Double(k), k % 2 == 0 ? 60 : 80)) }
        for t in 0..<frames {
            for (k, s) in sites.enumerated() {
                let x: Double = s.0 + drift[t].0 + 0.2 * rng.normal()
                let y: Double = s.1 + drift[t].1 + 0.2 * rng.normal()
                d.append(Detection(frame: t, x: x, y: y))
                if rng.uniform() < 0.2 {
                    let a = Double(rng.int(6)) * Double.pi / 3
                    let hop: (Double, Double) = (15.8 * cos(a), 15.8 * sin(a))
                    sites[k] = (s.0 + hop.0, s.1 + hop.1)
                }
            }
        }
        var options = TrackingOptions(maxDistance: 36.8, maxGap: 2, driftIterations: 2)
        func worst(_ r: TrackingResult) -> Double {
            zip(r.drift, drift).map { e, t in max(abs(e.dx - t.0), abs(e.dy - t.1)) }.max() ?? .infinity
        }
        XCTAssertGreaterThan(worst(try Tracker.track(d, options: options)), 3, "track means take hops for drift")
        options.driftSegmentBreak = 4.6
        XCTAssertLessThan(worst(try Tracker.track(d, options: options)), 1.5)
    }

    /// A drift measured elsewhere (e.g. on the lattice) links as well as one estimated from the
    /// points themselves, and positions stay exactly as given.
    func testKnownDriftIsUsedAsGiven() throws {
        let (d, truth, drift) = driftingLattice(seed: 5)
        let known = drift.enumerated().map { DriftStep(frame: $0.offset, dx: $0.element.0, dy: $0.element.1) }
        let r = try Tracker.track(d, options: TrackingOptions(maxDistance: 0.6, maxGap: 2), drift: known)
        assertSameGrouping(r, truth: truth)
        XCTAssertEqual(r.drift, known)
        for p in r.tracks.flatMap({ $0.points }) {
            XCTAssertEqual(p.x, d[p.detection].x)
            XCTAssertEqual(p.xCorrected, d[p.detection].x - drift[p.frame].0)
        }
    }
}

final class RobustDriftTests: XCTestCase {
    /// 10 % of the atoms slide coherently by +0.3 px/frame in x on top of the drift (a moving
    /// defect row): a mean would be biased by 0.03 px per frame (0.33 px by the last frame);
    /// the median-based estimate must ignore them.
    func testDriftIgnoresMobileMinority() throws {
        var rng = SeededGenerator(seed: 21)
        var drift: [(Double, Double)] = [(0, 0)]
        for _ in 1..<12 { drift.append((drift.last!.0 + 0.5, drift.last!.1 + 0.3)) }
        var offsets = [(Double, Double)](repeating: (0, 0), count: 400)
        var d: [Detection] = []
        for (t, shift) in drift.enumerated() {
            for k in 0..<400 {
                if k % 10 == 0 && t > 0 {
                    offsets[k].0 += 0.3 + 0.05 * rng.normal(); offsets[k].1 += 0.05 * rng.normal()
                }
                d.append(Detection(frame: t, x: 5 * Double(k % 20) + shift.0 + offsets[k].0 + 0.05 * rng.normal(),
                                   y: 5 * Double(k / 20) + shift.1 + offsets[k].1 + 0.05 * rng.normal()))
            }
        }
        let r = try Tracker.track(d, options: TrackingOptions(maxDistance: 1.5, driftIterations: 2))
        for (est, truth) in zip(r.drift, drift) {
            XCTAssertEqual(est.dx, truth.0, accuracy: 0.03, "frame \(est.frame)")
            XCTAssertEqual(est.dy, truth.1, accuracy: 0.03, "frame \(est.frame)")
        }
    }
}

final class DriftGaugeTests: XCTestCase {
    /// The true drift's step in every frame against the estimate's: the root-mean-square error (px).
    private func stepError(_ r: TrackingResult, velocity v: (Double, Double)) -> Double {
        let e = zip(r.drift, r.drift.dropFirst()).map { a, b in
            let ex = b.dx - a.dx - v.0, ey = b.dy - a.dy - v.1
            return ex * ex + ey * ey
        }
        return (e.reduce(0, +) / Double(max(e.count, 1))).squareRoot()
    }

    /// A few sparse hopping defects with a small drift (as the calibration study's movie with 238
    /// detections in 192 frames, where `track` took 57 px of false drift from them): the held-out
    /// check finds they cannot gauge it and none is used, which is nearer the truth frame by frame
    /// than the estimate taken regardless.
    func testSparseHoppingDefectsCannotGaugeTheDrift() throws {
        var rng = SeededGenerator(seed: 12)
        let frames = 192, v = (0.25, -0.15)
        var sites = (0..<5).map { _ in (rng.uniform(20, 140), rng.uniform(20, 140)) }, d: [Detection] = []
        for t in 0..<frames {
            for k in sites.indices {
                if rng.uniform() < 0.25 {
                    d.append(Detection(frame: t, x: sites[k].0 + v.0 * Double(t) + 0.2 * rng.normal(),
                                       y: sites[k].1 + v.1 * Double(t) + 0.2 * rng.normal()))
                }
                if rng.uniform() < 0.2 {
                    let a = Double(rng.int(6)) * Double.pi / 3
                    sites[k] = (sites[k].0 + 15.8 * cos(a), sites[k].1 + 15.8 * sin(a))
                }
            }
        }
        var options = TrackingOptions(maxDistance: 36.8, maxGap: 2, driftIterations: 2)
        options.driftSegmentBreak = 4.6
        let unchecked = try Tracker.track(d, options: options)
        XCTAssertNil(unchecked.driftGauge)
        options.driftCheck = true
        let checked = try Tracker.track(d, options: options)
        let gauge = try XCTUnwrap(checked.driftGauge)
        XCTAssertFalse(gauge.used, gauge.summary)
        XCTAssertTrue(gauge.summary.hasPrefix("no drift correction"), gauge.summary)
        XCTAssertTrue(checked.drift.allSatisfy { $0.dx == 0 && $0.dy == 0 })
        XCTAssertLessThan(stepError(checked, velocity: v), stepError(unchecked, velocity: v))
    }

    /// A dense lattice of atoms with a real drift (0.6, −0.4 px per frame, jittered): the check keeps
    /// the drift, and it is removed as before.
    func testDenseDriftIsStillRemoved() throws {
        var rng = SeededGenerator(seed: 3)
        var drift: [(Double, Double)] = [(0, 0)]
        for _ in 1..<30 { drift.append((drift.last!.0 + 0.6 + 0.1 * rng.normal(), drift.last!.1 - 0.4 + 0.1 * rng.normal())) }
        var d: [Detection] = []
        for (t, shift) in drift.enumerated() {
            for i in 0..<15 { for j in 0..<15 {
                d.append(Detection(frame: t, x: 20 + 8 * Double(i) + shift.0 + 0.1 * rng.normal(),
                                   y: 20 + 8 * Double(j) + shift.1 + 0.1 * rng.normal()))
            } }
        }
        var options = TrackingOptions(maxDistance: 3, maxGap: 2, driftIterations: 2)
        options.driftSegmentBreak = 1.5; options.driftCheck = true
        let r = try Tracker.track(d, options: options)
        let gauge = try XCTUnwrap(r.driftGauge)
        XCTAssertTrue(gauge.used, gauge.summary)
        XCTAssertGreaterThan(gauge.meanSquareWithout, 10 * gauge.meanSquareWithDrift)
        let worst = zip(r.drift, drift).map { e, t in max(abs(e.dx - t.0), abs(e.dy - t.1)) }.max()!
        XCTAssertLessThan(worst, 0.05)
    }
}
