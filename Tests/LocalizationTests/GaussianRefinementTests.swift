import Localization
import XCTest

final class GaussianRefinementTests: XCTestCase {
    /// Same windows, same start: our Levenberg–Marquardt lands where SciPy's MINPACK does.
    func testFitsAgreeWithSciPy() {
        XCTAssertEqual(scipyGaussianCases.count, 8)
        let refinement = GaussianRefinement(maxShift: 2)
        for (k, c) in scipyGaussianCases.enumerated() {
            let fit = c.window.withUnsafeBufferPointer { refinement.fit($0, width: 7, height: 7, x: 3, y: 3) }
            XCTAssertEqual(fit.outcome, .refined, "case \(k)")
            XCTAssertEqual(fit.x, c.fit[1], accuracy: 1e-4, "case \(k)")
            XCTAssertEqual(fit.y, c.fit[2], accuracy: 1e-4, "case \(k)")
            XCTAssertEqual(fit.sigma, abs(c.fit[3]), accuracy: 1e-4, "case \(k)")
            XCTAssertEqual(fit.amplitude, c.fit[0], accuracy: 1e-4 * abs(c.fit[0]), "case \(k)")
            XCTAssertEqual(fit.offset, c.fit[4], accuracy: 1e-3, "case \(k)")
        }
    }

    /// Noise-free data: the fit recovers every parameter.
    func testNoiseFreeFitIsExact() {
        let truth = (x: 10.37, y: 9.71)
        let frame = renderAtoms([truth], width: 21, height: 21, sigma: 1.8, amplitude: 250, background: 40).map(Float.init)
        let fit = frame.withUnsafeBufferPointer { GaussianRefinement().fit($0, width: 21, height: 21, x: 10.1, y: 10.2) }
        XCTAssertEqual(fit.outcome, .refined)
        XCTAssertEqual(fit.x, truth.x, accuracy: 1e-4)
        XCTAssertEqual(fit.y, truth.y, accuracy: 1e-4)
        XCTAssertEqual(fit.sigma, 1.8, accuracy: 1e-4)
        XCTAssertEqual(fit.amplitude, 250, accuracy: 0.05)
        XCTAssertEqual(fit.offset, 40, accuracy: 0.05)
    }

    func testWindowOutsideTheFrameIsReported() {
        let frame = [Float](repeating: 1, count: 4 * 4)
        let fit = frame.withUnsafeBufferPointer { GaussianRefinement(halfWindow: 1).fit($0, width: 4, height: 4, x: 0, y: 0) }
        XCTAssertEqual(fit.outcome, .windowTooSmall)
        XCTAssertEqual(fit.x, 0)
    }
}
