import Core
import XCTest
import Dynamics


/// Free 2-D Brownian tracks (D in px²/frame) observed with Gaussian localization noise σ.
private func brownianTracks(count: Int, length: Int, D: Double, sigma: Double, seed: UInt64,
                            classLabel: Int = 0) -> [DiffusionTrack] {
    var rng = SeededGenerator(seed: seed)
    let step = (2 * D).squareRoot()
    return (0..<count).map { _ in
        var x = 0.0, y = 0.0
        var xs: [Double] = [], ys: [Double] = []
        for _ in 0..<length {
            xs.append(x + sigma * rng.normal()); ys.append(y + sigma * rng.normal())
            x += step * rng.normal(); y += step * rng.normal()
        }
        return DiffusionTrack(frames: Array(0..<length), x: xs, y: ys,
                              classes: [Int](repeating: classLabel, count: length))
    }
}

final class DiffusionTests: XCTestCase {

    func testCVEAndMSDFitRecoverDAndSigma() throws {
        let tracks = brownianTracks(count: 400, length: 50, D: 0.5, sigma: 0.5, seed: 1)
        let r = try XCTUnwrap(Diffusion.analyze(tracks, options: DiffusionOptions(bootstrapSamples: 200)).first)
        XCTAssertEqual(r.tracks, 400); XCTAssertEqual(r.steps, 400 * 49)
        XCTAssertEqual(r.cve.D, 0.5, accuracy: 0.025, "CVE D within 5 %")
        XCTAssertEqual(r.cve.sigmaSquared.squareRoot(), 0.5, accuracy: 0.05, "CVE σ within 10 % (≈ 6 standard errors)")
        let fit = try XCTUnwrap(r.msdFit)
        print("truth D 0.5 σ 0.5 | CVE D \(r.cve.D) σ \(r.cve.sigmaSquared.squareRoot()) CI [\(r.ciLow), \(r.ciHigh)] | MSD fit D \(fit.D) σ \(fit.sigma) p \(fit.points)")
        XCTAssertEqual(fit.D, 0.5, accuracy: 0.025, "MSD-fit D within 5 %")
        XCTAssertEqual(fit.sigma, 0.5, accuracy: 0.05, "MSD-fit σ within 10 %")
        // x = σ²/(DΔt) = 0.5 → Michalet's p = ⌊2 + 2.3·0.5^0.52⌋ = 3 (2…4 with the fitted x).
        XCTAssertTrue((2...4).contains(fit.points))
        XCTAssertLessThan(r.ciLow, r.cve.D); XCTAssertGreaterThan(r.ciHigh, r.cve.D)
        XCTAssertEqual(r.seed, 1)
        // MSD(n) = 4Dn + 4σ², with Σ(N−n) pairs and Σ⌊(N−1)/n⌋ independent displacements.
        for p in r.msd.prefix(10) {
            XCTAssertEqual(p.msd, 4 * 0.5 * Double(p.lag) + 4 * 0.25, accuracy: 0.05 * (2 * Double(p.lag) + 1))
            XCTAssertEqual(p.pairs, 400 * (50 - p.lag))
            XCTAssertEqual(p.independent, 400 * (49 / p.lag))
        }
    }

    func testAnalyticCVEVarianceMatchesSpread() throws {
        // 400 independent single tracks of 100 steps: the empirical variance of D̂
        // must match Vestergaard's formula (sampling error of a variance ≈ 7 %).
        let D = 0.3, sigma = 0.4
        var estimates: [Double] = [], predicted: [Double] = []
        for seed in 0..<400 {
            let t = brownianTracks(count: 1, length: 101, D: D, sigma: sigma, seed: UInt64(1000 + seed))
            let e = Diffusion.cve(t)
            estimates.append(e.D)
            XCTAssertEqual(e.steps, 100)
            predicted.append(e.variance)
        }
        let mean = estimates.reduce(0, +) / 400
        let empirical = estimates.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / 399
        // Analytic variance at the true parameters (ε = σ²/D, N = 100, two axes).
        let eps = sigma * sigma / D, n = 100.0
        let truth = D * D * ((6 + 4 * eps + 2 * eps * eps) / n + 4 * (1 + eps) * (1 + eps) / (n * n)) / 2
        XCTAssertEqual(mean, D, accuracy: 3 * truth.squareRoot() / 20, "CVE is unbiased")
        print("CVE variance: empirical \(empirical), analytic \(truth), mean D \(mean)")
        XCTAssertEqual(empirical / truth, 1, accuracy: 0.25)
        let medianPredicted = predicted.sorted()[200]
        XCTAssertEqual(medianPredicted / truth, 1, accuracy: 0.35, "plug-in variance is near the truth")
    }

    func testBootstrapIntervalCoverage() throws {
        // 50 seeds × 60 tracks of 20 points; the 95 % interval must cover D = 0.8 in
        // 50 × 0.95 = 47.5 cases ± binomial noise (σ ≈ 1.5): accept 43…50.
        var covered = 0
        for seed in 0..<50 {
            let tracks = brownianTracks(count: 60, length: 20, D: 0.8, sigma: 0.25, seed: UInt64(77 + seed))
            let r = try Diffusion.analyze(tracks, options: DiffusionOptions(bootstrapSamples: 400, seed: UInt64(seed)))[0]
            if r.ciLow <= 0.8 && 0.8 <= r.ciHigh { covered += 1 }
        }
        print("bootstrap 95 % interval coverage: \(covered)/50")
        XCTAssertGreaterThanOrEqual(covered, 43)
    }

    func testBootstrapIsSeeded() throws {
        let tracks = brownianTracks(count: 30, length: 20, D: 0.8, sigma: 0.25, seed: 3)
        let a = try Diffusion.analyze(tracks, options: DiffusionOptions(bootstrapSamples: 100, seed: 9))[0]
        let b = try Diffusion.analyze(tracks, options: DiffusionOptions(bootstrapSamples: 100, seed: 9))[0]
        let c = try Diffusion.analyze(tracks, options: DiffusionOptions(bootstrapSamples: 100, seed: 10))[0]
        XCTAssertEqual(a.ciLow, b.ciLow); XCTAssertEqual(a.ciHigh, b.ciHigh); XCTAssertEqual(a.cve, b.cve)
        XCTAssertNotEqual(a.ciLow, c.ciLow)
    }

    func testClassesSplitAlongTracks() throws {
        // Each track spends 30 frames as class 0 (D = 0.2), then 30 as class 1 (D = 1.0).
        let slow = brownianTracks(count: 300, length: 30, D: 0.2, sigma: 0.1, seed: 5)
        let fast = brownianTracks(count: 300, length: 30, D: 1.0, sigma: 0.1, seed: 6)
        let joined = zip(slow, fast).map { s, f in
            DiffusionTrack(frames: Array(0..<60), x: s.x + f.x.map { $0 + s.x.last! },
                           y: s.y + f.y.map { $0 + s.y.last! }, classes: [Int](repeating: 0, count: 30) + [Int](repeating: 1, count: 30))
        }
        let r = try Diffusion.analyze(joined, options: DiffusionOptions(bootstrapSamples: 50))
        XCTAssertEqual(r.map(\.classLabel), [0, 1])
        XCTAssertEqual(r[0].cve.D, 0.2, accuracy: 0.02)
        XCTAssertEqual(r[1].cve.D, 1.0, accuracy: 0.08)
        XCTAssertEqual(r[0].steps, 300 * 29, "the class-changing step belongs to neither class")
        // Per track, pooled over both classes.
        let perTrack = try Diffusion.perTrack(Array(joined.prefix(3)))
        XCTAssertEqual(perTrack.count, 3)
        XCTAssertTrue(perTrack.allSatisfy { $0.ciLow < $0.cve.D && $0.cve.D < $0.ciHigh })
    }

    func testGapsSkipStepsAcrossMissingFrames() {
        let t = DiffusionTrack(frames: [0, 1, 2, 5, 6, 7], x: [0, 1, 2, 10, 11, 12], y: [0, 0, 0, 0, 0, 0])
        XCTAssertEqual(Diffusion.cve([t]).steps, 4)
        let msd = Diffusion.msd([t], maxLag: 3)
        XCTAssertEqual(msd[0].pairs, 4); XCTAssertEqual(msd[0].msd, 1)
        XCTAssertEqual(msd[2].pairs, 1, "lag 3: only frames 2→5")
        XCTAssertEqual(msd[2].msd, 64)
        XCTAssertEqual(msd[2].independent, 2, "span 7 holds ⌊7/3⌋ non-overlapping lag-3 displacements")
    }

    func testCSVUnits() throws {
        let tracks = brownianTracks(count: 100, length: 30, D: 0.5, sigma: 0.2, seed: 8)
        let r = try Diffusion.analyze(tracks, options: DiffusionOptions(bootstrapSamples: 50))
        let px = Diffusion.csv(r).split(separator: "\n")
        XCTAssertEqual(px[0], "class,n_tracks,n_steps,D,D_ci_low,D_ci_high,sigma,unit,D_msd,sigma_msd,msd_points")
        let a = Diffusion.csv(r, calibration: DiffusionCalibration(pixelSize: 0.2, frameTime: 0.5)).split(separator: "\n")
        let fpx = px[1].split(separator: ","), fa = a[1].split(separator: ",")
        XCTAssertEqual(fpx[7], "px^2/frame"); XCTAssertEqual(fa[7], "A^2/s")
        XCTAssertEqual(Double(fa[3])!, Double(fpx[3])! * 0.04 / 0.5, accuracy: 1e-4)
        XCTAssertEqual(Double(fa[6])!, Double(fpx[6])! * 0.2, accuracy: 1e-5)
        // A pixel size without a frame time: Å²/frame, never Å²/s.
        let f = Diffusion.csv(r, calibration: DiffusionCalibration(pixelSize: 0.2, frameTime: nil)).split(separator: "\n")[1].split(separator: ",")
        XCTAssertEqual(f[7], "A^2/frame")
        XCTAssertEqual(Double(f[3])!, Double(fpx[3])! * 0.04, accuracy: 1e-4)
    }

    func testHopRateAndJumpLengthsOnLattice() throws {
        // Atoms on a square lattice (spacing 2 px) hop to a neighbour with probability 0.1 per frame.
        var rng = SeededGenerator(seed: 12)
        var tracks: [DiffusionTrack] = []
        for _ in 0..<200 {
            var sx = 0.0, sy = 0.0, xs: [Double] = [], ys: [Double] = []
            for _ in 0..<50 {
                xs.append(sx + 0.1 * rng.normal()); ys.append(sy + 0.1 * rng.normal())
                if rng.uniform() < 0.1 {
                    switch rng.next() % 4 { case 0: sx += 2; case 1: sx -= 2; case 2: sy += 2; default: sy -= 2 }
                }
            }
            tracks.append(DiffusionTrack(frames: Array(0..<50), x: xs, y: ys))
        }
        let h = try Diffusion.hops(tracks, threshold: 1, binWidth: 0.25)
        XCTAssertEqual(h.count, 2)
        XCTAssertEqual(h[0].steps, 200 * 49)
        XCTAssertEqual(h[0].probability, 0.1, accuracy: 3 * (0.09 / 9800).squareRoot())
        XCTAssertLessThan(h[0].probabilityLow, 0.1 + 0.01); XCTAssertGreaterThan(h[0].probabilityHigh, 0.1 - 0.01)
        XCTAssertEqual(h[0].ratePerFrame, -log(1 - h[0].probability), accuracy: 1e-12)
        // Hop lengths pile up at 2 px (bin 8), thermal steps below 0.5 px.
        let peak = h[0].histogram[4...].indices.max { h[0].histogram[$0] < h[0].histogram[$1] }!
        XCTAssertEqual(peak, 8)
        XCTAssertEqual(h[0].histogram.reduce(0, +), 9800)
        let csv = Diffusion.hopsCSV(h, calibration: DiffusionCalibration(pixelSize: 1.5, frameTime: 0.1))
        let rows = csv.split(separator: "\n", omittingEmptySubsequences: false)
        XCTAssertEqual(rows[0], "class,steps,hops,p,p_low,p_high,rate_per_frame,rate_per_s")
        let all = rows[1].split(separator: ",")
        XCTAssertEqual(all[0], "all"); XCTAssertEqual(Int(all[1]), 9800); XCTAssertEqual(Int(all[2]), h[0].hops)
        XCTAssertEqual(Double(all[7])!, h[0].ratePerFrame / 0.1, accuracy: 1e-3)
        XCTAssertTrue(csv.contains("\nclass,bin_low,bin_high,count\nall,0,0.375,"), "bin edges in Å")
    }

    func testBadInputThrows() {
        let bad = DiffusionTrack(frames: [0, 0], x: [0, 1], y: [0, 1])
        XCTAssertThrowsError(try Diffusion.analyze([bad]))
        let nan = DiffusionTrack(frames: [0, 1], x: [0, .nan], y: [0, 1])
        XCTAssertThrowsError(try Diffusion.analyze([nan]))
        XCTAssertThrowsError(try Diffusion.analyze([], options: DiffusionOptions(maxLag: 0)))
        XCTAssertThrowsError(try Diffusion.hops([], threshold: 0, binWidth: 1))
        XCTAssertEqual(try Diffusion.analyze([]).count, 0)
        let empty = DiffusionTrack(frames: [], x: [], y: [])
        XCTAssertEqual(try Diffusion.analyze([empty]).count, 0)
        XCTAssertEqual(try Diffusion.perTrack([empty]).count, 1)
        XCTAssertTrue(try Diffusion.perTrack([empty])[0].cve.D.isNaN, "no steps: NaN, not a trap")
        XCTAssertEqual(try Diffusion.hops([empty], threshold: 1, binWidth: 1)[0].steps, 0)
        let single = DiffusionTrack(frames: [3], x: [1], y: [1])
        XCTAssertTrue(Diffusion.csv(try Diffusion.perTrack([single])).contains("nan"))
    }
}
