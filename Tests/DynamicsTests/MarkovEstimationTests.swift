import Core
import Foundation
import Dynamics
import XCTest

final class MarkovEstimationTests: XCTestCase {
    // MARK: counting

    func testGapsAreRespectedUnlessBridged() throws {
        // Frame 3 missing: 0→1, 1→0 and 1→1 count at lag 1, the 0→1 "across" 2→4 does not.
        let track = try StateTrajectory(frames: [0, 1, 2, 4, 5], states: [0, 1, 0, 1, 1])
        let c1 = try TransitionCounts([track], options: MarkovCountingOptions(lag: 1))
        XCTAssertEqual(c1.matrix.rows, [[0, 1], [1, 1]])
        XCTAssertEqual(c1.pairCount, 3)
        // Lag 2 without bridging: only 0→0 (frames 0→2); bridged adds 2→4 (0→1).
        let c2 = try TransitionCounts([track], options: MarkovCountingOptions(lag: 2))
        XCTAssertEqual(c2.matrix.rows, [[1, 0], [0, 0]])
        let b2 = try TransitionCounts([track], options: MarkovCountingOptions(lag: 2, bridgeGaps: true))
        XCTAssertEqual(b2.matrix.rows, [[1, 1], [0, 0]])
    }

    func testCountingMatchesBruteForceOnRandomGappyTracks() throws {
        var rng = SeededGenerator(seed: 21)
        for trial in 0..<30 {
            var frames: [Int] = [], f = Int(rng.next() % 5)
            for _ in 0..<(5 + Int(rng.next() % 60)) {
                frames.append(f)
                f += rng.uniform() < 0.15 ? 2 + Int(rng.next() % 4) : 1
            }
            let states = frames.map { _ in Int(rng.next() % 3) }
            let track = try StateTrajectory(frames: frames, states: states)
            let at = Dictionary(uniqueKeysWithValues: zip(frames, states))
            // Start of the gap-free run holding frame f.
            func runStart(_ f: Int) -> Int { var s = f; while at[s - 1] != nil { s -= 1 }; return s }
            for lag in 1...4 {
                for mode in [MarkovCountingMode.sliding, .sample] {
                    for bridge in [false, true] {
                        var expected = [[Double]](repeating: [0, 0, 0], count: 3)
                        for g in frames {
                            guard let b = at[g + lag] else { continue }
                            let origin = bridge ? frames[0] : runStart(g)
                            if !bridge, (g...(g + lag)).contains(where: { at[$0] == nil }) { continue }
                            if mode == .sample, (g - origin) % lag != 0 { continue }
                            expected[at[g]!][b] += 1
                        }
                        let c = try TransitionCounts([track], stateCount: 3,
                                                     options: MarkovCountingOptions(lag: lag, mode: mode, bridgeGaps: bridge))
                        XCTAssertEqual(c.matrix.rows, expected, "trial \(trial) lag \(lag) \(mode) bridge \(bridge)")
                    }
                }
            }
        }
        // A huge gap costs nothing when bridging.
        let far = try StateTrajectory(frames: [0, 1, 1_000_000_000_000, 1_000_000_000_001], states: [0, 1, 1, 0])
        let c = try TransitionCounts([far], options: MarkovCountingOptions(lag: 1, bridgeGaps: true))
        XCTAssertEqual(c.matrix.rows, [[0, 1], [1, 0]])
    }

    func testSampleModeAndWeights() throws {
        let a = try StateTrajectory(states: [0, 1, 1, 0, 1, 0, 0], weight: 2.5)
        let sample = try TransitionCounts([a], options: MarkovCountingOptions(lag: 2, mode: .sample))
        // Pairs (0,2) (2,4) (4,6): 0→1, 1→1, 1→0; each weighted 2.5 (deeptime's "sample" mode).
        XCTAssertEqual(sample.matrix.rows, [[0, 2.5], [2.5, 2.5]])
        XCTAssertEqual(sample.pairCount, 3)
        let sliding = try TransitionCounts([a], options: MarkovCountingOptions(lag: 2))
        XCTAssertEqual(sliding.pairCount, 5)
        XCTAssertEqual(sliding.matrix.values.reduce(0, +), 12.5)
    }

    func testBadInputsGiveClearErrors() {
        XCTAssertThrowsError(try StateTrajectory(frames: [0, 2, 2], states: [0, 1, 0])) {
            XCTAssertEqual($0 as? MarkovError, .framesNotIncreasing(index: 2, previous: 2, frame: 2))
        }
        XCTAssertThrowsError(try StateTrajectory(frames: [0, 1], states: [0])) {
            XCTAssertEqual($0 as? MarkovError, .mismatchedLengths(frames: 2, states: 1))
        }
        XCTAssertThrowsError(try StateTrajectory(states: [0, -1]))
        XCTAssertThrowsError(try MarkovMatrix(rows: [[1, 0], [1]]))
        XCTAssertThrowsError(try TransitionCounts(matrix: MarkovMatrix(rows: [[1, .nan], [1, 1]]), options: MarkovCountingOptions(lag: 1)))
        XCTAssertThrowsError(try StateTrajectory(states: [0, 1], weight: .nan))
        let t = try! StateTrajectory(states: [0, 3, 1])
        XCTAssertThrowsError(try TransitionCounts([t], stateCount: 2, options: MarkovCountingOptions(lag: 1))) {
            XCTAssertEqual($0 as? MarkovError, .stateOutOfRange(state: 3, stateCount: 2))
        }
        XCTAssertThrowsError(try TransitionCounts([t], options: MarkovCountingOptions(lag: 0))) {
            XCTAssertEqual($0 as? MarkovError, .invalidLag(0))
        }
        // Too short for the lag: no transitions.
        XCTAssertThrowsError(try MarkovEstimator().fit([t], options: MarkovCountingOptions(lag: 5))) {
            XCTAssertEqual($0 as? MarkovError, .noTransitions(lag: 5))
            XCTAssertTrue("\($0)".contains("lag 5"))
        }
    }

    // MARK: connectivity

    func testDisconnectedStatesAreReportedByName() throws {
        let names = ["pristine", "V_S", "V_S2", "adatom"]
        // {0,1} exchange; 2 only leaves to 0 (transient); 3 never seen.
        let tracks = [try StateTrajectory(states: [0, 1, 0, 1, 1, 0, 0]), try StateTrajectory(states: [2, 2, 0, 0])]
        let model = try MarkovEstimator(reversible: true).fit(tracks, options: MarkovCountingOptions(lag: 1),
                                                               stateNames: names)
        XCTAssertEqual(model.activeStates, [0, 1])
        XCTAssertEqual(model.excludedStates, [2, 3])
        XCTAssertEqual(model.connectivity.components.count, 3)
        let json = try model.json()
        XCTAssertTrue(json.contains("\"adatom\"") && json.contains("\"V_S2\""))
        XCTAssertThrowsError(try MarkovEstimator(requireConnected: true).fit(
            tracks, options: MarkovCountingOptions(lag: 1), stateNames: names)) { error in
            let text = "\(error)"
            XCTAssertTrue(text.contains("{pristine, V_S}") && text.contains("{adatom}"), text)
        }
    }

    /// Tracks that never change state: the one-state model T = [[1]] (was a refusal), the
    /// declared state never seen left out, no timescale.
    func testTracksThatNeverChangeGiveOneState() throws {
        let t = try StateTrajectory(states: [1, 1, 1, 1])
        for reversible in [false, true] {
            let model = try MarkovEstimator(reversible: reversible).fit([t, t], options: MarkovCountingOptions(lag: 1), stateNames: ["a", "b"])
            XCTAssertEqual(model.activeStateNames, ["b"])
            XCTAssertEqual(model.excludedStates, [0])
            XCTAssertEqual(model.transitionMatrix.rows, [[1]])
            XCTAssertEqual(model.stationary, [1])
            XCTAssertEqual(try model.timescales(), [])
            XCTAssertEqual(model.counts.rows, [[6]])
        }
    }

    // MARK: estimators

    func testBirthDeathTimescalesMatchAnalyticEigenvalues() throws {
        let n = 6, p = 0.2, q = 0.1
        let t = birthDeath(states: n, up: p, down: q)
        // Expected counts of a long stationary run are π_i T_ij × N: MLE must return T.
        let pi = try MarkovMatrix(rows: t).stationaryDistribution()
        var c = MarkovMatrix(size: n)
        for i in 0..<n { for j in 0..<n { c[i, j] = 1e6 * pi[i] * t[i][j] } }
        for reversible in [true, false] {
            let model = try MarkovEstimator(reversible: reversible, tolerance: 1e-13)
                .fit(countsWith(c, lag: 3))
            let analytic = (1..<n).map { k in 1 - p - q + 2 * (p * q).squareRoot() * cos(Double.pi * Double(k) / Double(n)) }
            let expected = analytic.map { -3 / log($0) }
            let got = try model.timescales()
            for (g, e) in zip(got, expected) { XCTAssertEqual(g, e, accuracy: 1e-7 * e) }
            for i in 0..<n { for j in 0..<n { XCTAssertEqual(model.transitionMatrix[i, j], t[i][j], accuracy: 1e-9) } }
        }
    }

    func testSampledThreeStateChainIsRecoveredWithinStatisticalError() throws {
        let states = sampleChain(threeState, steps: 200_000, seed: 7)
        let model = try MarkovEstimator(reversible: false).fit([StateTrajectory(states: states)],
                                                              options: MarkovCountingOptions(lag: 1))
        for i in 0..<3 {
            let ni = model.counts.rowSum(i)
            for j in 0..<3 {
                let p = threeState[i][j], sigma = (p * (1 - p) / ni).squareRoot()
                XCTAssertEqual(model.transitionMatrix[i, j], p, accuracy: 4 * sigma, "T[\(i),\(j)]")
            }
        }
        let truePi = try MarkovMatrix(rows: threeState).stationaryDistribution()
        for i in 0..<3 { XCTAssertEqual(model.stationary[i], truePi[i], accuracy: 0.01) }
    }

    func testReversibleMLEObeysDetailedBalanceAndRecoversReversibleChain() throws {
        let t = birthDeath(states: 5, up: 0.15, down: 0.25)
        let states = sampleChain(t, steps: 300_000, start: 2, seed: 11)
        let model = try MarkovEstimator(reversible: true, tolerance: 1e-12)
            .fit([StateTrajectory(states: states)], options: MarkovCountingOptions(lag: 1))
        XCTAssertTrue(model.converged)
        let tm = model.transitionMatrix, pi = model.stationary
        for i in 0..<5 {
            XCTAssertEqual(tm.rowSum(i), 1, accuracy: 1e-12)
            for j in 0..<5 {
                XCTAssertEqual(pi[i] * tm[i, j], pi[j] * tm[j, i], accuracy: 1e-12)
                let sigma = (max(t[i][j] * (1 - t[i][j]), 1e-12) / model.counts.rowSum(i)).squareRoot()
                XCTAssertEqual(tm[i, j], t[i][j], accuracy: 4 * sigma + 1e-12)
            }
        }
        // π is the left eigenvector of T.
        for j in 0..<5 { XCTAssertEqual((0..<5).reduce(0) { $0 + pi[$1] * tm[$1, j] }, pi[j], accuracy: 1e-10) }
    }

    func testEigenvaluesOfCycleAndRandomMatrix() throws {
        let cycle = try MarkovMatrix(rows: [[0, 1, 0], [0, 0, 1], [1, 0, 0]])
        let ev = try cycle.eigenvalues()
        XCTAssertEqual(ev.count, 3)
        for e in ev { XCTAssertEqual(e.magnitude, 1, accuracy: 1e-12) }
        XCTAssertEqual(ev.map(\.im).sorted()[0], -(3.0).squareRoot() / 2, accuracy: 1e-12)
        // Random 8×8: Σλ = trace and Σλ² = trace(A²).
        var rng = SeededGenerator(seed: 3)
        var a = MarkovMatrix(size: 8)
        for k in a.values.indices { a.values[k] = rng.uniform() - 0.5 }
        let e = try a.eigenvalues()
        let trace = (0..<8).reduce(0) { $0 + a[$1, $1] }, a2 = a.multiplied(by: a)
        let trace2 = (0..<8).reduce(0) { $0 + a2[$1, $1] }
        XCTAssertEqual(e.reduce(0) { $0 + $1.re }, trace, accuracy: 1e-10)
        XCTAssertEqual(e.reduce(0) { $0 + $1.im }, 0, accuracy: 1e-10)
        XCTAssertEqual(e.reduce(0) { $0 + $1.re * $1.re - $1.im * $1.im }, trace2, accuracy: 1e-10)
    }

    func testEigenvaluesMatchAnalyticRealAndComplexSpectra() throws {
        // Companion matrix of (λ − 1)(λ − 2)(λ − 3) = λ³ − 6λ² + 11λ − 6: non-symmetric, real spectrum.
        let companion = try MarkovMatrix(rows: [[6, -11, 6], [1, 0, 0], [0, 1, 0]]).eigenvalues()
        for (e, want) in zip(companion, [3.0, 2, 1]) {
            XCTAssertEqual(e.re, want, accuracy: 1e-12)
            XCTAssertEqual(e.im, 0, accuracy: 1e-12)
        }
        // Lazy 3-cycle T = (1 − a)I + aP: eigenvalues 1 and 1 − a + a·e^(±2πi/3).
        let a = 0.3
        let lazy = try MarkovMatrix(rows: [[1 - a, a, 0], [0, 1 - a, a], [a, 0, 1 - a]])
        let ev = try lazy.eigenvalues()
        XCTAssertEqual(ev[0].re, 1, accuracy: 1e-12)
        XCTAssertEqual(ev[0].im, 0, accuracy: 1e-12)
        let pair = ev.dropFirst().sorted { $0.im < $1.im }
        for (e, sign) in zip(pair, [-1.0, 1]) {
            XCTAssertEqual(e.re, 1 - 1.5 * a, accuracy: 1e-12)
            XCTAssertEqual(e.im, sign * a * 3.0.squareRoot() / 2, accuracy: 1e-12)
        }
        // Both complex eigenvalues give the same implied timescale −τ / ln|λ|.
        let model = try MarkovEstimator(reversible: false).fit(countsWith(
            MarkovMatrix(rows: lazy.rows.map { $0.map { 1000 * $0 } }), lag: 1))
        let modulus = ((1 - 1.5 * a) * (1 - 1.5 * a) + 0.75 * a * a).squareRoot()
        for t in try model.timescales() { XCTAssertEqual(t, -1 / log(modulus), accuracy: 1e-10) }
        // The pure 3-cycle (a = 1) is periodic: every |λ| = 1, so both timescales are infinite.
        let cycle = try MarkovEstimator(reversible: false).fit(countsWith(
            MarkovMatrix(rows: [[0, 5, 0], [0, 0, 5], [5, 0, 0]]), lag: 1))
        XCTAssertEqual(try cycle.timescales(), [.infinity, .infinity])
    }

    // MARK: validation

    func testChapmanKolmogorovPassesForMarkovAndFailsForLumpedChain() throws {
        let est = MarkovEstimator(reversible: true)
        let markov = [try StateTrajectory(states: sampleChain(threeState, steps: 100_000, seed: 5))]
        let m = try est.fit(markov, options: MarkovCountingOptions(lag: 1))
        let ck = try est.chapmanKolmogorov(m, trajectories: markov, steps: 4)
        XCTAssertEqual(ck.predicted.count, 4)
        XCTAssertLessThan(ck.maxDeviation.max()!, 0.02)
        XCTAssertGreaterThanOrEqual(ck.fractionWithin(z: 4).min()!, 0.85)

        // Lumping a 4-state chain with a slow hidden split into 2 observed states is not
        // Markovian: T(1)^k misses T(k) far beyond the statistical error.
        let hidden: [[Double]] = [
            [0.99, 0.01, 0, 0], [0.01, 0.59, 0.4, 0], [0, 0.4, 0.59, 0.01], [0, 0, 0.01, 0.99],
        ]
        let lumped = sampleChain(hidden, steps: 100_000, seed: 9).map { $0 < 2 ? 0 : 1 }
        let tr = [try StateTrajectory(states: lumped)]
        let lm = try est.fit(tr, options: MarkovCountingOptions(lag: 1))
        let lck = try est.chapmanKolmogorov(lm, trajectories: tr, steps: 5)
        XCTAssertLessThan(lck.fractionWithin(z: 4).last!, 0.5)
        XCTAssertGreaterThan(lck.maxDeviation.last!, 0.1)
    }

    func testImpliedTimescalesAreFlatInLagForMarkovData() throws {
        let t = birthDeath(states: 3, up: 0.05, down: 0.08)
        let tracks = try (0..<20).map { try StateTrajectory(states: sampleChain(t, steps: 10_000, start: $0 % 3, seed: UInt64(100 + $0))) }
        let its = try MarkovEstimator().impliedTimescales(tracks, lags: [1, 2, 4, 8])
        let exact = -1 / log(1 - 0.05 - 0.08 + 2 * (0.05 * 0.08).squareRoot() * cos(Double.pi / 3))
        for point in its {
            XCTAssertNil(point.failure)
            XCTAssertEqual(point.timescales[0], exact, accuracy: 0.1 * exact, "lag \(point.lag)")
        }
        let tooLong = try MarkovEstimator().impliedTimescales(tracks, lags: [20_000])
        XCTAssertNotNil(tooLong[0].failure)
    }

    // MARK: uncertainty and export

    func testUncertaintiesCoverTruthAndAreReproducible() throws {
        let tracks = try (0..<40).map { try StateTrajectory(states: sampleChain(threeState, steps: 500, start: $0 % 3, seed: UInt64($0))) }
        let est = MarkovEstimator(reversible: false)
        let m = try est.fit(tracks, options: MarkovCountingOptions(lag: 1))
        for method in [MarkovUncertaintyMethod.bootstrapTracks, .dirichletPosterior(prior: 0)] {
            let u = try est.uncertainty(of: m, trajectories: tracks, method: method, samples: 300, confidence: 0.99, seed: 1)
            var covered = 0
            for i in 0..<3 {
                for j in 0..<3 {
                    XCTAssertLessThanOrEqual(u.transitionLow[i, j], m.transitionMatrix[i, j] + 1e-12)
                    XCTAssertGreaterThanOrEqual(u.transitionHigh[i, j], m.transitionMatrix[i, j] - 1e-12)
                    if u.transitionLow[i, j] <= threeState[i][j], threeState[i][j] <= u.transitionHigh[i, j] { covered += 1 }
                }
            }
            XCTAssertGreaterThanOrEqual(covered, 8, "\(method)")
            // Width close to the multinomial standard error.
            let sigma00 = (0.9 * 0.1 / m.counts.rowSum(0)).squareRoot()
            XCTAssertEqual(u.transitionStd[0, 0], sigma00, accuracy: 0.5 * sigma00, "\(method)")
            let again = try est.uncertainty(of: m, trajectories: tracks, method: method, samples: 300, confidence: 0.99, seed: 1)
            XCTAssertEqual(again.transitionLow, u.transitionLow)
        }
        XCTAssertThrowsError(try est.uncertainty(of: m, trajectories: [tracks[0]], method: .bootstrapTracks)) {
            XCTAssertEqual($0 as? MarkovError, .tooFewTracks(1))
        }
    }

    func testDirichletWidthsUseEffectiveCountsForSlidingWindows() throws {
        let tracks = [try StateTrajectory(states: sampleChain(threeState, steps: 40_000, seed: 31))]
        let est = MarkovEstimator(reversible: false)
        func std(_ mode: MarkovCountingMode) throws -> Double {
            let m = try est.fit(tracks, options: MarkovCountingOptions(lag: 4, mode: mode))
            let u = try est.uncertainty(of: m, trajectories: tracks, method: .dirichletPosterior(prior: 0), samples: 400, seed: 2)
            return u.transitionStd[0, 1]
        }
        // Sliding counts are ≈ 4× the sample-mode counts but carry the same information.
        let sliding = try std(.sliding), sample = try std(.sample)
        XCTAssertEqual(sliding, sample, accuracy: 0.2 * sample)
    }

    func testJSONExportHasTheDocumentedKeys() throws {
        let tracks = try (0..<4).map { try StateTrajectory(states: sampleChain(threeState, steps: 300, seed: UInt64($0))) }
        let est = MarkovEstimator()
        let m = try est.fit(tracks, options: MarkovCountingOptions(lag: 2), stateNames: ["A", "B", "C"])
        let u = try est.uncertainty(of: m, trajectories: tracks, method: .dirichletPosterior(prior: 0), samples: 20, seed: 9)
        let text = try m.json(uncertainty: u, frameTime: 0.5)
        let doc = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
        for key in ["lag", "states", "counts", "transition_matrix", "stationary", "ci_low", "ci_high", "timescales"] {
            XCTAssertNotNil(doc[key], key)
        }
        XCTAssertEqual(doc["lag"] as? Int, 2)
        XCTAssertEqual(doc["lag_seconds"] as? Double, 1)
        XCTAssertEqual(doc["seed"] as? Int, 9)
        let states = try XCTUnwrap(doc["states"] as? [[String: Any]])
        XCTAssertEqual(states.map { $0["name"] as? String }, ["A", "B", "C"])
        let t = try XCTUnwrap(doc["transition_matrix"] as? [[Double]])
        XCTAssertEqual(t[1][2], m.transitionMatrix[1, 2])

        // A periodic chain has an infinite timescale: written as null.
        let flip = try StateTrajectory(states: [0, 1, 0, 1, 0, 1])
        let pm = try MarkovEstimator(reversible: false).fit([flip], options: MarkovCountingOptions(lag: 1))
        XCTAssertEqual(try pm.timescales(), [.infinity])
        let pdoc = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(try pm.json().utf8)) as? [String: Any])
        XCTAssertTrue((pdoc["timescales"] as? [Any])?.first is NSNull)
        XCTAssertTrue(pdoc["ci_low"] is NSNull)
    }

    func testHeatMapColoursCellsByProbabilityAndWritesCountsAndNames() throws {
        let c = try MarkovMatrix(rows: [[90, 10], [1, 9]])
        let m = try MarkovEstimator(reversible: false).fit(TransitionCounts(matrix: c, options: MarkovCountingOptions(lag: 1)),
                                                           stateNames: ["Mo_W", "V_S"])
        let img = m.heatMap(scale: 2)
        let (margin, cell) = (img.margin, img.cell)
        XCTAssertEqual(img.width, img.height)
        XCTAssertEqual(img.width, margin + 2 * cell)
        XCTAssertEqual(img.pixels.count, img.width * img.height * 3)
        // Corner pixels of cells (no text): T = 0.9 is darker than T = 0.1.
        let dark = img.pixel(x: margin + 2, y: margin + 2), light = img.pixel(x: margin + cell + 2, y: margin + 2)
        XCTAssertLessThan(dark.0, light.0)
        XCTAssertEqual(Double(light.0), 255 - 225 * 0.1, accuracy: 1)
        // Pixels that differ from a box's corner colour: the ink of its text.
        func ink(x0: Int, y0: Int, w: Int, h: Int) -> Int {
            let base = img.pixel(x: x0 + 1, y: y0 + 1)
            var k = 0
            for y in y0..<(y0 + h) { for x in x0..<(x0 + w) where img.pixel(x: x, y: y) != base { k += 1 } }
            return k
        }
        func cellInk(_ row: Int, _ col: Int) -> Int { ink(x0: margin + col * cell + 1, y0: margin + row * cell + 1, w: cell - 1, h: cell - 1) }
        // "90" (cell 0,0) has more ink than "1" (cell 1,0).
        XCTAssertGreaterThan(cellInk(1, 0), 0)
        XCTAssertGreaterThan(cellInk(0, 0), cellInk(1, 0))
        // The row labels are the state names drawn with the font: "Mo_W" (4 glyphs) has as much
        // ink as its glyphs, and more than "V_S".
        func glyphInk(_ s: String) -> Int { s.map { PixelFont.glyph($0).joined().filter { $0 == "#" }.count * 4 }.reduce(0, +) }
        let row0 = ink(x0: 0, y0: margin, w: margin, h: cell), row1 = ink(x0: 0, y0: margin + cell, w: margin, h: cell)
        XCTAssertEqual(row0, glyphInk("Mo_W"))
        XCTAssertEqual(row1, glyphInk("V_S"))
        XCTAssertGreaterThan(glyphInk("Mo_W"), glyphInk("V_S"))
    }

    func testHeatMapFontHasDistinctFiveBySevenGlyphs() {
        let all = PixelFont.glyphs.values.map { $0.joined() }
        XCTAssertTrue(PixelFont.glyphs.values.allSatisfy { $0.count == PixelFont.height && $0.allSatisfy { $0.count == PixelFont.width } })
        XCTAssertEqual(Set(all).count, all.count, "two characters share a glyph")
        XCTAssertEqual(PixelFont.glyph("m"), PixelFont.glyph("M"))
        XCTAssertEqual(PixelFont.glyph("ß"), PixelFont.glyph("?"))
        XCTAssertEqual(PixelFont.glyph("é"), PixelFont.glyph("?"))
    }

    private func countsWith(_ c: MarkovMatrix, lag: Int) throws -> TransitionCounts {
        try TransitionCounts(matrix: c, options: MarkovCountingOptions(lag: lag))
    }
}
