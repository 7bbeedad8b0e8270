import Core
import Foundation
import Localization
import XCTest

/// `GaussianRefinement.fit` (separable JᵀJ, stack scratch) against a plain transcription of the
/// fit it replaced (per-pixel exp and JᵀJ, arrays): same outcome, parameters within 10⁻⁴.
final class RefinementReferenceTests: XCTestCase {
    func testFitEqualsReferenceOnRandomPeaks() {
        var rng = SeededGenerator(seed: 1907)
        let width = 40, height = 40
        var compared = 0, refined = 0
        for trial in 0..<300 {
            let sigma = rng.uniform(0.8, 2.5)
            let atoms = (0..<rng.int(4) + 1).map { _ in (x: rng.uniform(-1, 41), y: rng.uniform(-1, 41)) }
            var image = renderAtoms(atoms, width: width, height: height, sigma: sigma,
                                    amplitude: rng.uniform(20, 300), background: rng.uniform(-5, 50))
            let noise = rng.uniform(0, 20)
            for i in image.indices { image[i] += noise * rng.normal() }
            let frame = image.map(Float.init)
            let refinement = GaussianRefinement(halfWindow: 2 + rng.int(3), initialSigma: rng.uniform(1, 2),
                                                maxShift: rng.uniform(0.5, 2), maxIterations: 10 + rng.int(60))
            let target = atoms[0]
            let start = (x: target.x + rng.uniform(-1, 1), y: target.y + rng.uniform(-1, 1))
            let spots = atoms.dropFirst().map { GaussianSpot(x: $0.x + rng.uniform(-0.3, 0.3), y: $0.y + rng.uniform(-0.3, 0.3),
                                                             amplitude: rng.uniform(0, 300), sigma: rng.uniform(0.8, 2.5)) }
            let fit = frame.withUnsafeBufferPointer {
                refinement.fit($0, width: width, height: height, x: start.x, y: start.y, neighbours: spots)
            }
            let reference = referenceFit(refinement, frame, width: width, height: height, x: start.x, y: start.y, neighbours: spots)
            XCTAssertEqual(fit.outcome.rawValue, reference.outcome, "trial \(trial)")
            guard fit.outcome != .windowTooSmall else { continue }
            compared += 1
            if fit.outcome == .refined { refined += 1 }
            XCTAssertEqual(fit.x, reference.p[1], accuracy: 1e-4, "trial \(trial)")
            XCTAssertEqual(fit.y, reference.p[2], accuracy: 1e-4, "trial \(trial)")
            XCTAssertEqual(fit.sigma, reference.p[3], accuracy: 1e-4, "trial \(trial)")
            XCTAssertEqual(fit.amplitude, reference.p[0], accuracy: 1e-4 * max(abs(reference.p[0]), 1), "trial \(trial)")
            XCTAssertEqual(fit.offset, reference.p[4], accuracy: 1e-4 * max(abs(reference.p[4]), 1), "trial \(trial)")
        }
        // The random cases must exercise real fits, not only rejected windows.
        XCTAssertGreaterThan(compared, 250)
        XCTAssertGreaterThan(refined, 150)
    }
}

/// The previous implementation's algorithm, kept deliberately naive: Levenberg–Marquardt with
/// Marquardt's diagonal scaling on A·exp(−r²/2σ²) + b, one exp per pixel, Gaussian elimination.
private func referenceFit(_ g: GaussianRefinement, _ frame: [Float], width: Int, height: Int, x: Double, y: Double,
                          neighbours: [GaussianSpot]) -> (outcome: String, p: [Double]) {
    let cx = Int(x.rounded()), cy = Int(y.rounded())
    let xr = max(0, cx - g.halfWindow)...min(width - 1, cx + g.halfWindow)
    let yr = max(0, cy - g.halfWindow)...min(height - 1, cy + g.halfWindow)
    guard xr.count >= 3, yr.count >= 3 else { return ("windowTooSmall", []) }
    var pixels: [(x: Double, y: Double, v: Double)] = []
    for yy in yr {
        for xx in xr {
            var v = Double(frame[yy * width + xx])
            for n in neighbours where abs(Double(xx) - n.x) < 4 * n.sigma && abs(Double(yy) - n.y) < 4 * n.sigma {
                v -= n.value(atX: Double(xx), y: Double(yy))
            }
            pixels.append((Double(xx), Double(yy), v))
        }
    }
    let values = pixels.map(\.v), background = values.min()!
    let peak = xr.contains(cx) && yr.contains(cy) ? values[(cy - yr.lowerBound) * xr.count + cx - xr.lowerBound] : values.max()!
    var p = [max(peak - background, 1e-6 * (abs(background) + 1)), x, y, g.initialSigma, background]
    func normalEquations(_ p: [Double]) -> (chi2: Double, jtj: [[Double]], jtr: [Double]) {
        var chi2 = 0.0, jtj = [[Double]](repeating: [Double](repeating: 0, count: 5), count: 5), jtr = [Double](repeating: 0, count: 5)
        for q in pixels {
            let dx = q.x - p[1], dy = q.y - p[2], e = exp(-(dx * dx + dy * dy) / (2 * p[3] * p[3]))
            let r = q.v - (p[0] * e + p[4])
            let j = [e, p[0] * e * dx / (p[3] * p[3]), p[0] * e * dy / (p[3] * p[3]), p[0] * e * (dx * dx + dy * dy) / (p[3] * p[3] * p[3]), 1]
            chi2 += r * r
            for a in 0..<5 {
                jtr[a] += j[a] * r
                for b in 0..<5 { jtj[a][b] += j[a] * j[b] }
            }
        }
        return (chi2, jtj, jtr)
    }
    var current = normalEquations(p), lambda = 1e-3, outcome = "notConverged", iterations = 0
    while iterations < g.maxIterations {
        iterations += 1
        var a = current.jtj
        for i in 0..<5 { a[i][i] += lambda * max(current.jtj[i][i], 1e-12) }
        guard let step = solve(a, current.jtr) else {
            lambda *= 10
            if lambda > 1e12 { break } else { continue }
        }
        let trial = zip(p, step).map { $0 + $1 }
        let next = trial[3] > 0.05 ? normalEquations(trial) : (.infinity, current.jtj, current.jtr)
        if next.chi2 <= current.chi2 {
            let done = (abs(step[1]) < 1e-5 && abs(step[2]) < 1e-5 && abs(step[3]) < 1e-5) || current.chi2 - next.chi2 <= 1e-12 * current.chi2
            p = trial
            if done { outcome = "refined"; break }
            lambda = max(lambda / 10, 1e-12)
            current = next
        } else {
            lambda *= 10
            if lambda > 1e12 { break }
        }
    }
    if outcome == "refined" {
        let shift = ((p[1] - x) * (p[1] - x) + (p[2] - y) * (p[2] - y)).squareRoot()
        if !(p[0] > 0) || !(p[3] > 0.3 && p[3] < Double(2 * g.halfWindow + 1)) || !p.allSatisfy(\.isFinite) {
            outcome = "implausible"
        } else if shift > g.maxShift {
            outcome = "movedTooFar"
        }
    }
    return (outcome, p)
}

/// Gaussian elimination without pivoting; nil on a non-positive pivot (for a symmetric matrix:
/// not positive definite, as Cholesky would report).
private func solve(_ a: [[Double]], _ b: [Double]) -> [Double]? {
    var m = a, v = b
    for k in 0..<5 {
        guard m[k][k] > 0, m[k][k].isFinite else { return nil }
        for i in (k + 1)..<5 {
            let f = m[i][k] / m[k][k]
            for j in k..<5 { m[i][j] -= f * m[k][j] }
            v[i] -= f * v[k]
        }
    }
    var x = [Double](repeating: 0, count: 5)
    for i in stride(from: 4, through: 0, by: -1) {
        x[i] = (v[i] - ((i + 1)..<5).reduce(0) { $0 + m[i][$1] * x[$1] }) / m[i][i]
    }
    return x
}
