import Foundation
import Simulation
import XCTest

/// Kinetic Monte Carlo movies against their set rates.
final class MovieTests: XCTestCase {
    /// A one-defect movie on a tiny field (the walk is independent of what is in view), many frames.
    func recipe(lattice: String, host: String, states: String, matrix: String, frames: Int, size: Int = 16) throws -> Recipe {
        let json = """
        {"name": "kmc-test", "seed": 99, "lattice": "\(lattice)", "width": \(size), "height": \(size),
         "pixelSize": [0.5, 0.5], "microscope": {}, "defects": [],
         "movie": {"frames": \(frames), "frameTime": 0.5, "pixelSize": 0.5, "host": "\(host)", "count": 1,
                   "states": \(states), "transitionMatrix": \(matrix)}}
        """
        return try Recipe.decode(Data(json.utf8))
    }

    func testHopRateAndTransitionFrequenciesMatchSetValues() throws {
        let states = """
        [{"defect": {"kind": "substitution", "host": "C", "element": "Si", "label": "Si-C3"}, "hopRate": 2.0},
         {"defect": {"kind": "dopantInDivacancy", "host": "C", "element": "Si", "label": "Si-C4"}, "hopRate": 0.5}]
        """
        let T = [[0.8, 0.2], [0.3, 0.7]]
        let sim = try MovieSimulator(recipe: recipe(lattice: "graphene", host: "C", states: states,
                                                    matrix: "[[0.8, 0.2], [0.3, 0.7]]", frames: 3000))
        var track: [DefectFrame] = []
        _ = try sim.run { track.append(contentsOf: $0.defects) }
        XCTAssertEqual(track.count, 3000)
        let d = sim.diffusion
        XCTAssertEqual(d[0].hopDistanceA, 2.46 / 3.0.squareRoot(), accuracy: 1e-9)
        XCTAssertEqual(d[0].diffusionA2PerSecond, 2.0 * d[0].hopDistanceA * d[0].hopDistanceA / 4, accuracy: 1e-12)
        XCTAssertEqual(d[0].diffusionPx2PerFrame, d[0].diffusionA2PerSecond * 0.5 / 0.25, accuracy: 1e-12)
        // Mean squared step per frame in state s is Γ_s·Δt·d² (hops are uncorrelated, each of length d).
        var sq: [[Double]] = [[], []]
        var counts = [[Double]](repeating: [0, 0], count: 2)
        for (a, b) in zip(track, track.dropFirst()) {
            let r = b.latticePosition - a.latticePosition
            sq[a.state].append((r * r).sum())
            counts[a.state][b.state] += 1
        }
        for s in 0..<2 {
            let n = Double(sq[s].count)
            let mean = sq[s].reduce(0, +) / n
            let sd = (sq[s].reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / (n - 1)).squareRoot()
            let expected = 4 * d[s].diffusionA2PerSecond * 0.5
            XCTAssertEqual(mean, expected, accuracy: 4 * sd / n.squareRoot(), "state \(s)")
            let rowTotal = counts[s].reduce(0, +)
            for j in 0..<2 {
                let p = T[s][j]
                XCTAssertEqual(counts[s][j] / rowTotal, p, accuracy: 4 * (p * (1 - p) / rowTotal).squareRoot(), "T[\(s)][\(j)]")
            }
        }
    }

    /// Crowded defects: a hop onto a site next to another defect is refused, so the walk is slower
    /// than Γd²/4. The truth records the refused share, and the mean squared step follows it.
    func testCrowdingLowersTheRecordedD() throws {
        let states = """
        [{"defect": {"kind": "substitution", "host": "W", "element": "Mo", "label": "Mo_W"}, "hopRate": 0.6}]
        """
        var r = try recipe(lattice: "WS2", host: "W", states: states, matrix: "[[1.0]]", frames: 200, size: 80)
        r.movie!.count = 30  // as many as fit 2.5 lattice constants apart in 40 Å × 40 Å; 0.3 hops per frame
        let sim = try MovieSimulator(recipe: r)
        var frames: [[DefectFrame]] = []
        let truth = try sim.run { frames.append($0.defects) }
        let d = truth.summary.diffusion[0], blocked = try XCTUnwrap(d.blockedHopShare)
        XCTAssertGreaterThan(blocked, 0.05)
        XCTAssertEqual(d.effectiveDA2PerSecond, d.diffusionA2PerSecond * (1 - blocked), accuracy: 1e-12)
        var sq: [Double] = []
        for (a, b) in zip(frames, frames.dropFirst()) {
            for (p, q) in zip(a, b) { let s = q.latticePosition - p.latticePosition; sq.append((s * s).sum()) }
        }
        let n = Double(sq.count), mean = sq.reduce(0, +) / n
        let sd = (sq.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / (n - 1)).squareRoot()
        // ⟨Δr²⟩ per frame = 4·D·Δt.
        XCTAssertEqual(mean, 4 * d.effectiveDA2PerSecond * 0.5, accuracy: 4 * sd / n.squareRoot())
        XCTAssertLessThan(abs(mean - 4 * d.effectiveDA2PerSecond * 0.5), abs(mean - 4 * d.diffusionA2PerSecond * 0.5))
    }

    /// Why the "realized walk" of the calibration study (⟨Δr²⟩ of truth_defects.csv, i.e. of steps
    /// whose two ends are both in view) came out below Γd²/4·(1 − blocked): the walk itself has
    /// the recorded D — every step, in view or not — but a step that crosses the field's edge is
    /// never in view at both ends, so the in-view steps hold too few hops.
    func testStepsCrossingTheEdgeAreWhatTheInViewWalkMisses() throws {
        let states = """
        [{"defect": {"kind": "substitution", "host": "W", "element": "Mo", "label": "Mo_W"}, "hopRate": 0.6}]
        """
        var r = try recipe(lattice: "WS2", host: "W", states: states, matrix: "[[1.0]]", frames: 600, size: 64)
        r.movie!.count = 6  // a 32 Å field, as the study's 160–192 px at 0.2 Å; 0.3 hops per frame
        var frames: [[DefectFrame]] = []
        let truth = try MovieSimulator(recipe: r).run { frames.append($0.defects) }
        let d = truth.summary.diffusion[0]
        var all: [Double] = [], inView: [Double] = []
        for (a, b) in zip(frames, frames.dropFirst()) {
            for (p, q) in zip(a, b) {
                let s = q.latticePosition - p.latticePosition, r2 = (s * s).sum()
                all.append(r2)
                if p.visible && q.visible { inView.append(r2) }
            }
        }
        func meanAndError(_ v: [Double]) -> (Double, Double) {
            let n = Double(v.count), m = v.reduce(0, +) / n
            return (m, (v.reduce(0) { $0 + ($1 - m) * ($1 - m) } / (n - 1) / n).squareRoot())
        }
        let (mAll, eAll) = meanAndError(all), (mView, eView) = meanAndError(inView)
        let effective = 4 * d.effectiveDA2PerSecond * 0.5
        XCTAssertEqual(mAll, effective, accuracy: 3 * eAll, "every step: the recorded D")
        XCTAssertGreaterThan(inView.count, 1000)
        print("edge: every step \(mAll) ± \(eAll), in view \(mView) ± \(eView), effective \(effective), n \(all.count) / \(inView.count)")
        XCTAssertLessThan(mView, 0.95 * mAll, "steps in view at both ends: too few hops")
    }

    func testMetalDefectHopsOnMetalSublattice() throws {
        let states = """
        [{"defect": {"kind": "substitution", "host": "W", "element": "Mo", "label": "Mo_W+V_S", "adjacentColumnVacancy": "S"}, "hopRate": 1.0}]
        """
        let sim = try MovieSimulator(recipe: recipe(lattice: "WS2", host: "W", states: states, matrix: "[[1.0]]", frames: 400))
        var steps: [Double] = []
        var last: Vec2?
        _ = try sim.run { f in
            if let l = last { steps.append(distance(f.defects[0].latticePosition, l)) }
            last = f.defects[0].latticePosition
            // The Mo and its half-empty S column are rendered as members of the defect.
            let members = f.columns.filter { $0.defectID == 0 }
            if f.defects[0].visible { XCTAssertEqual(Set(members.map(\.symbol)), ["Mo", "S"]) }
        }
        // Every displacement is a whole metal-lattice vector: |Δr| is 0, a, √3a, 2a, …
        let a = 3.182
        for s in steps {
            let n2 = s * s / (a * a)  // |i a1 + j a2|² / a² = i² + ij + j², an integer
            XCTAssertEqual(n2, n2.rounded(), accuracy: 1e-6)
        }
        XCTAssertGreaterThan(steps.filter { $0 > 0 }.count, 100)
    }

    func distance(_ a: Vec2, _ b: Vec2) -> Double { let d = a - b; return (d * d).sum().squareRoot() }

    func testSameSeedGivesIdenticalMovieAndTruthContract() throws {
        var r = try Recipe.decode(Data(contentsOf: TrainingTests.trainingData.appendingPathComponent("movie-ws2.json")))
        r.width = 64; r.height = 64; r.movie?.frames = 4; r.movie?.count = 2
        r.defects = [DefectSpec(kind: .columnVacancy, host: "S", label: "V_S", density: 1.0)]
        let a = try MovieSimulator(recipe: r).simulate(), b = try MovieSimulator(recipe: r).simulate()
        XCTAssertEqual(a.frames.map(\.image), b.frames.map(\.image))
        XCTAssertEqual(a.truth.atomsCSV, b.truth.atomsCSV)
        XCTAssertEqual(try a.truth.json(), try b.truth.json())
        XCTAssert(a.truth.atomsCSV.hasPrefix("frame,x,y,class,defect_id\n"))
        XCTAssert(a.truth.defectsCSV.hasPrefix("frame,defect_id,x,y,state\n"))
        let summary = try JSONDecoder().decode(MovieSummary.self, from: a.truth.json())
        XCTAssertEqual(summary.states, ["Mo_W", "Mo_W+V_S"])
        XCTAssertEqual(summary.transitionMatrix, [[0.9, 0.1], [0.2, 0.8]])
        XCTAssertEqual(summary.seed, 4242)
        XCTAssertEqual(summary.diffusion[0].diffusionA2PerSecond, 0.2 * 3.182 * 3.182 / 4, accuracy: 1e-9)
        // Each visible defect's Mo atom is listed in truth_atoms with its defect id.
        let atoms = a.truth.atomsCSV.split(separator: "\n").dropFirst().map { $0.split(separator: ",", omittingEmptySubsequences: false) }
        for f in a.frames { for d in f.defects where d.visible && d.state >= 0 {
            let mo = atoms.filter { Int($0[0]) == f.index && $0[3] == "Mo" && Int($0[4]) == d.id }
            XCTAssertEqual(mo.count, 1)
        } }
        // Static defects keep their place (in the lattice frame) and are listed with their label.
        let staticRows = a.frames.map { $0.defects.filter { $0.state == -1 } }
        XCTAssertFalse(staticRows[0].isEmpty)
        XCTAssertEqual(staticRows[0].map(\.latticePosition), staticRows[3].map(\.latticePosition))
        XCTAssert(a.truth.defectsCSV.contains(",V_S\n"))
        // S2 columns appear as two rows, the S-vacancy column of a complex as one.
        XCTAssertGreaterThan(atoms.filter { $0[3] == "S" }.count, atoms.filter { $0[3] == "W" }.count)
    }
}
