import Core
import Foundation
import Localization
import XCTest

/// `FitUncertainty.positionVariances` (separable factors, neighbours sampled once per frame,
/// stack window) against a plain transcription of the sandwich it replaced (exp per pixel and per
/// neighbour pixel, 5×5 loops): the same variance within 10⁻⁸ relative, for every accepted fit.
final class FitUncertaintyTests: XCTestCase {
    func testSandwichEqualsReferenceOnACrowdedNoisyFrame() throws {
        let width = 64, height = 64
        var rng = SeededGenerator(seed: 2026)
        // Spacing 6 px = 4σ: every window holds its neighbours' tails.
        let truth = jitteredLattice(width: width, height: height, spacing: 6, margin: 4, rng: &rng)
        let raw = renderAtoms(truth, width: width, height: height, sigma: 1.5, amplitude: 300, background: 30).map { Float(rng.poisson($0)) }
        let plane = renderAtoms(truth, width: width, height: height, sigma: 1, amplitude: 0.95).map { Float(min($0, 1)) }
        let maps = try ProbabilityMaps(classes: 2, width: width, height: height, values: twoClassMaps(plane))
        for halfWindow in [2, 3, 5] {
            let locator = try AtomLocator(minSeparation: 3, refinement: GaussianRefinement(halfWindow: halfWindow))
            let candidates = try locator.candidates(maps, frame: raw)
            let fast = raw.withUnsafeBufferPointer {
                FitUncertainty.positionVariances(candidates, frame: $0, width: width, height: height, halfWindow: halfWindow)
            }
            let spots = candidates.fits.map { f in f.flatMap { $0.outcome == .refined ? $0 : nil } }
            var compared = 0
            for (i, fit) in spots.enumerated() {
                let near = spots.indices.filter { $0 != i }.compactMap { spots[$0] }
                let reference = fit.flatMap { referenceVariance($0, near: near, frame: raw, width: width, height: height, h: halfWindow) }
                XCTAssertEqual(fast[i] == nil, reference == nil, "atom \(i), half-window \(halfWindow)")
                if let f = fast[i], let r = reference {
                    XCTAssertEqual(f, r, accuracy: 1e-8 * r, "atom \(i), half-window \(halfWindow)")
                    compared += 1
                }
            }
            XCTAssertGreaterThan(compared, truth.count / 2, "half-window \(halfWindow)")
        }
    }
}

/// The sandwich variance as first written: every neighbour's spot (within 4σ of its centre) and the
/// fit's own Gaussian evaluated pixel by pixel, B = Σ JJᵀ and M = Σ r²JJᵀ as 5×5 arrays.
private func referenceVariance(_ fit: GaussianFit, near: [GaussianFit], frame: [Float], width: Int, height: Int, h: Int) -> Double? {
    let cx = Int(fit.x.rounded()), cy = Int(fit.y.rounded())
    let xs = max(0, cx - h)...min(width - 1, cx + h), ys = max(0, cy - h)...min(height - 1, cy + h)
    guard xs.count >= 3, ys.count >= 3 else { return nil }
    let (a, s2) = (fit.amplitude, fit.sigma * fit.sigma)
    var bread = [Double](repeating: 0, count: 25), meat = bread
    for y in ys {
        for x in xs {
            var neighbours = 0.0
            for s in near where abs(Double(x) - s.x) < 4 * s.sigma && abs(Double(y) - s.y) < 4 * s.sigma {
                let dx = Double(x) - s.x, dy = Double(y) - s.y
                neighbours += s.amplitude * exp(-(dx * dx + dy * dy) / (2 * s.sigma * s.sigma))
            }
            let dx = Double(x) - fit.x, dy = Double(y) - fit.y, r2 = dx * dx + dy * dy
            let e = exp(-r2 / (2 * s2))
            let r = Double(frame[y * width + x]) - (a * e + fit.offset + neighbours)
            let j = [e, a * e * dx / s2, a * e * dy / s2, a * e * r2 / (s2 * fit.sigma), 1]
            for p in 0..<5 { for q in 0..<5 { bread[p * 5 + q] += j[p] * j[q]; meat[p * 5 + q] += r * r * j[p] * j[q] } }
        }
    }
    let n = xs.count * ys.count
    guard n > 5, let inverse = invert(bread) else { return nil }
    var v = 0.0
    for k in 1...2 { for p in 0..<5 { for q in 0..<5 { v += inverse[k * 5 + p] * meat[p * 5 + q] * inverse[q * 5 + k] } } }
    let variance = v / 2 * Double(n) / Double(n - 5)
    return variance.isFinite && variance > 0 ? variance : nil
}

/// Gauss–Jordan inverse of a 5×5 matrix with partial pivoting; nil if singular.
private func invert(_ m: [Double]) -> [Double]? {
    var a = m, inv = [Double](repeating: 0, count: 25)
    for i in 0..<5 { inv[i * 5 + i] = 1 }
    for col in 0..<5 {
        guard let pivot = (col..<5).max(by: { abs(a[$0 * 5 + col]) < abs(a[$1 * 5 + col]) }), abs(a[pivot * 5 + col]) > 1e-300 else { return nil }
        for k in 0..<5 { a.swapAt(pivot * 5 + k, col * 5 + k); inv.swapAt(pivot * 5 + k, col * 5 + k) }
        let d = a[col * 5 + col]
        for k in 0..<5 { a[col * 5 + k] /= d; inv[col * 5 + k] /= d }
        for row in 0..<5 where row != col {
            let f = a[row * 5 + col]
            for k in 0..<5 { a[row * 5 + k] -= f * a[col * 5 + k]; inv[row * 5 + k] -= f * inv[col * 5 + k] }
        }
    }
    return inv.allSatisfy(\.isFinite) ? inv : nil
}
