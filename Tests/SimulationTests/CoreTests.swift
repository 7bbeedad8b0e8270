import Core
import Foundation
import Simulation
import XCTest

/// Lattices, the probe, rendering and noise against analytic truth.
final class CoreTests: XCTestCase {
    func testLatticeConstantsAndNeighbourDistances() throws {
        let g = try Lattice.named("graphene")
        XCTAssertEqual(g.a, 2.46, accuracy: 1e-9)
        let gn = g.hopNeighbours(of: 0)
        XCTAssertEqual(gn.offsets.count, 3)
        XCTAssertEqual(gn.distance, 1.4203, accuracy: 1e-3)  // C–C bond
        let ws2 = try Lattice.named("WS2")
        XCTAssertEqual(ws2.a, 3.182, accuracy: 1e-9)
        let metal = ws2.hopNeighbours(of: 0)  // W–W: six at a
        XCTAssertEqual(metal.offsets.count, 6)
        XCTAssertEqual(metal.distance, ws2.a, accuracy: 1e-9)
        let mx = ws2.nearest(to: 0) { ws2.basis[$0].species == 1 }  // W–S2 projected: three at a/√3
        XCTAssertEqual(mx.offsets.count, 3)
        XCTAssertEqual(mx.distance, 3.182 / 3.0.squareRoot(), accuracy: 1e-9)
        XCTAssertEqual(ws2.species[1].count, 2)
        let hbn = try Lattice.named("hBN")
        XCTAssertEqual(hbn.hopNeighbours(of: 0).distance, hbn.a, accuracy: 1e-9)  // B hops to B
        for name in ["MoS2", "MoSe2", "WSe2"] {
            let l = try Lattice.named(name)
            XCTAssert((3.15...3.30).contains(l.a), name)
        }
        XCTAssertThrowsError(try Lattice.named("unobtainium"))
    }

    func testTiledSitesFillFieldAtDensity() throws {
        let g = Lattice.graphene()
        let sites = g.sites(covering: 100, 80, margin: 0, transform: Placement(rotation: 0.3))
        let density = Double(sites.count) / (100 * 80)
        let expected = 2 / (g.a * g.a * 3.0.squareRoot() / 2)  // two atoms per cell
        XCTAssertEqual(density, expected, accuracy: expected * 0.03)
    }

    func testPlacementInverse() {
        let p = Placement(rotation: 0.7, shift: Vec2(3, -2), strain: SIMD3(0.01, -0.02, 0.005))
        let v = Vec2(1.3, 4.2)
        let back = p.inverse(p.apply(v))
        XCTAssertEqual(back.x, v.x, accuracy: 1e-12)
        XCTAssertEqual(back.y, v.y, accuracy: 1e-12)
    }

    func testAberrationFreeProbeIsAiry() throws {
        var m = Microscope()
        m.voltage = 60_000; m.convergenceSemiangle = 30; m.cs = 0; m.defocus = 0
        XCTAssertEqual(m.wavelength, 0.048_66, accuracy: 1e-4)
        let probe = ProbeProfile(microscope: m, cutoff: 6)
        let alpha = 0.030
        XCTAssertEqual(probe.fwhm, 0.5145 * m.wavelength / alpha, accuracy: 0.005 * probe.fwhm)
        // Airy peak intensity of a unit-normalised probe is π(α/λ)²; encircled energy 1 − J0²(v) − J1²(v).
        XCTAssertEqual(probe.values[0], Double.pi * pow(alpha / m.wavelength, 2), accuracy: 0.005 * probe.values[0])
        let v = 2 * Double.pi * alpha * probe.cutoff / m.wavelength
        XCTAssertEqual(probe.enclosedFraction, 1 - j0(v) * j0(v) - j1(v) * j1(v), accuracy: 2e-3)
    }

    /// The Hankel-transform probe against a brute-force 2-D Fourier sum over the aperture, with aberrations.
    func testAberratedProbeMatchesDirectTwoDimensionalSum() {
        var m = Microscope()
        m.voltage = 80_000; m.convergenceSemiangle = 25; m.defocus = 40; m.cs = 0.5e7  // 0.5 mm
        let probe = ProbeProfile(microscope: m, cutoff: 4)
        let lambda = m.wavelength, kMax = m.convergenceSemiangle * 1e-3 / lambda
        let n = 120, dk = kMax / Double(n)
        var ks: [(Double, Double, Double)] = []  // kx, ky, χ
        for j in -n...n { for i in -n...n {
            let kx = Double(i) * dk, ky = Double(j) * dk, k2 = kx * kx + ky * ky
            if k2 <= kMax * kMax { ks.append((kx, ky, Double.pi * lambda * k2 * (0.5 * m.cs * lambda * lambda * k2 - m.defocus))) }
        } }
        for r in [0.0, 0.4, 0.8, 1.5] {
            var re = 0.0, im = 0.0
            for (kx, _, chi) in ks { let ph = 2 * Double.pi * kx * r - chi; re += cos(ph); im += sin(ph) }
            let direct = (re * re + im * im) * dk * dk * dk * dk / (Double.pi * kMax * kMax)
            XCTAssertEqual(probe.intensity(at: r), direct, accuracy: 0.01 * probe.values[0], "r = \(r)")
        }
        // The aberrations matter at these settings: the peak drops below the aberration-free Airy peak.
        XCTAssertLessThan(probe.values[0], 0.95 * Double.pi * kMax * kMax)
    }

    func testSourceSizeWidensProbeAndKeepsNorm() {
        var m = Microscope(); m.sourceSize = 0.8
        let sharp = ProbeProfile(microscope: Microscope(), cutoff: 6)
        let blurred = ProbeProfile(microscope: m, cutoff: 6)
        XCTAssertGreaterThan(blurred.fwhm, sharp.fwhm)
        // Gaussian widths add in quadrature (approximately, the core is near-Gaussian).
        XCTAssertEqual(blurred.fwhm, (sharp.fwhm * sharp.fwhm + 0.64).squareRoot(), accuracy: 0.1)
        XCTAssertEqual(blurred.enclosedFraction, sharp.enclosedFraction, accuracy: 0.02)
    }

    func testSingleColumnRendersCrossSection() throws {
        let m = Microscope()
        let r = try Renderer(microscope: m)
        let g = FrameGeometry(width: 128, height: 128, pixelSize: 0.1)
        let col = Column(position: Vec2(6.35, 6.4), symbol: "Si", z: 14, count: 1, site: nil)
        let img = r.render([col], geometry: g)
        let total = img.reduce(0.0) { $0 + Double($1) } * 0.01  // Σ pixels · pixel area
        XCTAssertEqual(total, m.crossSection(z: 14), accuracy: 0.02 * m.crossSection(z: 14))
        let peak = img.indices.max { img[$0] < img[$1] }!
        XCTAssertEqual(peak % 128, 64, accuracy: 1)  // x = 6.35 Å → pixel 63.5
        XCTAssertEqual(peak / 128, 64)
        // Z contrast: a column of two S has twice one S; W/S follows (74/16)^n.
        XCTAssertEqual(m.crossSection(z: 74) / m.crossSection(z: 16), pow(74.0 / 16, m.zExponent), accuracy: 1e-9)
        // Carbon at 60 kV, 80–200 mrad scatters ~0.1 % of the beam (screened Rutherford).
        XCTAssert((5e-4...1.5e-3).contains(m.lenzCrossSection(z: 6)), "\(m.lenzCrossSection(z: 6))")
    }

    func testPoissonNoiseMeanAndVarianceAtDose() {
        for (signal, dose, pixel) in [(0.002, 1e5, 0.2), (0.01, 2e5, 0.25), (0.0005, 2e4, 0.1)] {
            var rng = SeededGenerator(seed: 7)
            let frame = [Float](repeating: Float(signal), count: 200_000)
            let counts = Noise.poisson(frame, dose: dose, pixelSize: pixel, rng: &rng)
            let expected = Double(Float(signal)) * dose * pixel * pixel
            let n = Double(counts.count)
            let mean = counts.reduce(0.0) { $0 + Double($1) } / n
            let variance = counts.reduce(0.0) { $0 + (Double($1) - mean) * (Double($1) - mean) } / (n - 1)
            XCTAssertEqual(mean, expected, accuracy: 5 * (expected / n).squareRoot())
            // Var of the sample variance of a Poisson ≈ (λ + 2λ²)/n.
            XCTAssertEqual(variance, expected, accuracy: 5 * ((expected + 2 * expected * expected) / n).squareRoot())
        }
    }

    func testGeneratorIsUniformAndSeeded() {
        var a = SeededGenerator(seed: 1), b = SeededGenerator(seed: 1), c = SeededGenerator(seed: 2)
        let xa = (0..<1000).map { _ in a.next() }
        XCTAssertEqual(xa, (0..<1000).map { _ in b.next() })
        XCTAssertNotEqual(xa, (0..<1000).map { _ in c.next() })
        var u = SeededGenerator(seed: 3)
        let m = (0..<100_000).reduce(0.0) { s, _ in s + u.uniform() } / 100_000
        XCTAssertEqual(m, 0.5, accuracy: 5 * (1.0 / 12 / 100_000).squareRoot())
    }

    func testBadParametersThrow() {
        var m = Microscope(); m.voltage = -5
        XCTAssertThrowsError(try Renderer(microscope: m)) { e in
            XCTAssert("\(e)".contains("voltage"))
        }
    }
}
