import Core
import Foundation
import XCTest

/// `DecimalText` against the C library's printf (`String(format:)`), the text atoms.csv had
/// before: the same characters for every value, including the hard ones — decimal ties, values
/// one ulp either side of a rounding boundary, negative values that round to zero, NaN and ∞.
final class DecimalTextTests: XCTestCase {
    private func text(_ x: Double, _ digits: Int) -> String {
        var out: [UInt8] = []
        DecimalText.append(x, digits: digits, to: &out)
        return String(decoding: out, as: UTF8.self)
    }

    private func assertPrintfText(_ values: [Double], digits: ClosedRange<Int> = 0...6, file: StaticString = #filePath, line: UInt = #line) {
        var mismatches: [String] = []
        for x in values { for d in digits {
            let expected = String(format: "%.\(d)f", x), got = text(x, d)
            if got != expected, mismatches.count < 10 { mismatches.append("\(x) %.\(d)f: \(got) ≠ \(expected)") }
        } }
        XCTAssertEqual(mismatches, [], file: file, line: line)
    }

    func testRandomPositionsScoresAndSigmas() {
        var g = SeededGenerator(seed: 19)
        let positions = (0..<20_000).map { _ in Double.random(in: -3...1100, using: &g) }
        let scores = (0..<5_000).map { _ in Double(Float.random(in: 0...1, using: &g)) }
        let small = (0..<5_000).map { _ in Double.random(in: -1e-3...1e-2, using: &g) }
        assertPrintfText(positions + scores + small)
    }

    /// Exact decimal ties (…5 at the first dropped digit, representable in binary) go to even,
    /// and values one or two ulps beside a boundary k/10^d + ½·10^-d round to the nearer side.
    func testTiesAndNeighboursOfRoundingBoundaries() {
        let ties: [Double] = [0.5, 1.5, 2.5, 0.25, 0.75, 0.125, 0.375, 0.0625, 0.1875, 0.03125, 1023.5, 512.0625, 0.00048828125]
        var near: [Double] = []
        var g = SeededGenerator(seed: 7)
        for _ in 0..<4_000 {
            let d = Int.random(in: 1...4, using: &g)
            let boundary = (Double(Int.random(in: 0...2_000_000, using: &g)) + 0.5) / pow(10, Double(d))
            var x = boundary
            for _ in 0..<3 { x = x.nextDown }
            for _ in 0..<7 { near.append(x); x = x.nextUp }
        }
        assertPrintfText(ties + ties.map { -$0 } + near + near.map { -$0 })
    }

    func testSignsZerosAndNonFiniteValues() {
        assertPrintfText([0, -0.0, -1e-9, -0.0004, -0.00049, 1e-300, -1e-300, .leastNonzeroMagnitude, 1e15, -1e15, 3e17,
                          .greatestFiniteMagnitude, .infinity, -.infinity, .nan, 4503599627370495.5, 1125899906842623.75],
                         digits: 0...9)
    }

    func testIntegers() {
        for n in [0, 7, 10, 99, 100, 12345, -1, -10, -98765, Int.max, Int.min] {
            var out: [UInt8] = []
            DecimalText.append(n, to: &out)
            XCTAssertEqual(String(decoding: out, as: UTF8.self), "\(n)")
        }
    }
}
