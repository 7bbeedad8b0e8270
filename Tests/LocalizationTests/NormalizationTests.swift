import Core
import Localization
import XCTest

final class NormalizationTests: XCTestCase {
    /// On 0…999 shuffled, the 1st/99.9th percentiles are 9.99 and 998.001 (linear interpolation
    /// between order statistics, as numpy.percentile computes them).
    func testPercentilesMapToZeroAndOne() throws {
        var rng = SeededGenerator(seed: 1)
        let values = (0..<1000).map(Float.init).shuffled(using: &rng)
        let norm = try FrameNormalization().normalize(values, width: 40, height: 25, frame: 3)
        XCTAssertEqual(norm.low, 9.99, accuracy: 1e-3)
        XCTAssertEqual(norm.high, 998.001, accuracy: 1e-3)
        XCTAssertFalse(norm.isConstant)
        for (v, n) in zip(values, norm.pixels) {
            let expected = min(max((v - 9.99) / (998.001 - 9.99), 0), 1)
            XCTAssertEqual(n, expected, accuracy: 1e-5)
        }
    }

    func testOutliersDoNotSetTheContrast() throws {
        var frame = [Float](repeating: 0, count: 100 * 100)
        for i in frame.indices { frame[i] = Float(i % 100) / 99 }   // ramp 0…1
        frame[5] = 1e6                                             // one hot pixel
        let norm = try FrameNormalization(lowPercentile: 1, highPercentile: 99).normalize(frame, width: 100, height: 100)
        XCTAssertLessThan(norm.high, 1.01)
        XCTAssertEqual(norm.pixels[5], 1)
        XCTAssertEqual(norm.pixels[150], (Float(50) / 99 - norm.low) / (norm.high - norm.low), accuracy: 1e-5)
    }

    func testNaNAndInfinityNameTheFrameAndPixel() {
        var frame = [Float](repeating: 1, count: 12)
        frame[7] = .nan; frame[9] = .infinity
        XCTAssertThrowsError(try FrameNormalization().normalize(frame, width: 4, height: 3, frame: 17)) { error in
            XCTAssertEqual(error as? LocalizationError, .nonFinitePixels(frame: 17, count: 2, firstX: 3, firstY: 1))
            XCTAssertTrue("\(error)".contains("frame 17"))
        }
    }

    func testConstantFrameIsReportedNotDividedByZero() throws {
        let norm = try FrameNormalization().normalize([Float](repeating: 42, count: 64), width: 8, height: 8)
        XCTAssertTrue(norm.isConstant)
        XCTAssertEqual(norm.pixels, [Float](repeating: 0, count: 64))
    }

    func testFlatFrameWithRareOutlierFallsBackToMinMax() throws {
        var frame = [Float](repeating: 5, count: 10_000)
        frame[0] = 7
        let norm = try FrameNormalization().normalize(frame, width: 100, height: 100)
        XCTAssertFalse(norm.isConstant)
        XCTAssertEqual(norm.pixels[0], 1)
        XCTAssertEqual(norm.pixels[1], 0)
    }

    func testBadInputIsATypedError() {
        XCTAssertThrowsError(try FrameNormalization(lowPercentile: 50, highPercentile: 10))
        XCTAssertThrowsError(try FrameNormalization().normalize([1, 2, 3], width: 2, height: 2)) { error in
            XCTAssertEqual(error as? LocalizationError, .sizeMismatch(what: "frame 0", expected: 4, actual: 3))
        }
        XCTAssertThrowsError(try FrameNormalization().normalize([], width: 0, height: 5))
    }
}
