import Core
import Foundation
import XCTest

final class SeededGeneratorTests: XCTestCase {
    func testEqualSeedsGiveEqualStreamsAndIndexedStreamsDiffer() {
        var a = SeededGenerator(seed: 7), b = SeededGenerator(seed: 7), c = SeededGenerator(seed: 7, index: 1)
        let xs = (0..<100).map { _ in a.next() }
        XCTAssertEqual(xs, (0..<100).map { _ in b.next() })
        XCTAssertNotEqual(xs, (0..<100).map { _ in c.next() })
    }

    /// xoshiro256** reference output: the first values for the state SplitMix64(0) fills,
    /// computed independently (Python, the algorithm as published by Blackman & Vigna).
    func testMatchesPublishedAlgorithm() {
        var g = SeededGenerator(seed: 0)
        XCTAssertEqual((0..<3).map { _ in g.next() }, Self.reference)
    }
    static let reference: [UInt64] = [0x99EC5F36CB75F2B4, 0xBF6E1F784956452A, 0x1A5F849D4933E6E0]

    func testMomentsOfTheDistributions() {
        var g = SeededGenerator(seed: 2026)
        let n = 200_000
        func moments(_ draw: () -> Double) -> (Double, Double) {
            let v = (0..<n).map { _ in draw() }
            let m = v.reduce(0, +) / Double(n)
            return (m, v.reduce(0) { $0 + ($1 - m) * ($1 - m) } / Double(n - 1))
        }
        // Tolerances: 5 standard errors of the mean and variance estimates.
        let (mu, vu) = moments { g.uniform() }
        XCTAssertEqual(mu, 0.5, accuracy: 5 * (1.0 / 12 / Double(n)).squareRoot())
        // Var(s²) = (μ₄ − σ⁴)/n: (1/80 − 1/144)/n for U(0, 1); (3k² + 6k − k²)/n for Gamma(k).
        XCTAssertEqual(vu, 1.0 / 12, accuracy: 5 * (1.0 / 80 - 1.0 / 144).squareRoot() / Double(n).squareRoot())
        let (mn, vn) = moments { g.normal() }
        XCTAssertEqual(mn, 0, accuracy: 5 / Double(n).squareRoot())
        XCTAssertEqual(vn, 1, accuracy: 5 * (2.0 / Double(n)).squareRoot())
        let (mp, vp) = moments { Double(g.poisson(42.5)) }
        XCTAssertEqual(mp, 42.5, accuracy: 5 * (42.5 / Double(n)).squareRoot())
        XCTAssertEqual(vp, 42.5, accuracy: 5 * 42.5 * (2.0 / Double(n)).squareRoot())
        let (mg, vg) = moments { g.gamma(shape: 0.7) }
        XCTAssertEqual(mg, 0.7, accuracy: 5 * (0.7 / Double(n)).squareRoot())
        XCTAssertEqual(vg, 0.7, accuracy: 5 * ((2 * 0.49 + 6 * 0.7) / Double(n)).squareRoot())
        for _ in 0..<100_000 { let f = g.uniformFloat(); XCTAssert(f >= 0 && f < 1) }
    }
}

final class StatisticsTests: XCTestCase {
    func testQuantilesAgainstNumPyLinear() {
        // numpy.quantile([3, 1, 4, 1, 5, 9, 2, 6], q) for q = 0, 0.1, 0.5, 0.975, 1.
        let v: [Double] = [3, 1, 4, 1, 5, 9, 2, 6]
        for (q, expected) in [(0.0, 1.0), (0.1, 1.0), (0.5, 3.5), (0.975, 8.475), (1.0, 9.0)] {
            XCTAssertEqual(Statistics.quantile(v, q), expected, accuracy: 1e-12, "q = \(q)")
        }
        XCTAssertEqual(Statistics.median([5, 1, 3]), 3)
        XCTAssertEqual(Statistics.median([4, 1, 3, 2]), 2.5)
        XCTAssertEqual(Statistics.quantile(sorted: [1, 2, .infinity], 0.9), .infinity)
    }

    func testPercentileBySelectionEqualsSortedPercentile() {
        var g = SeededGenerator(seed: 3)
        for n in [1, 2, 7, 1000] {
            // Many ties (small integers) exercise the three-way partition.
            let values = (0..<n).map { _ in Float(g.int(20)) }
            for p in [0.0, 1, 50, 99.9, 100] {
                var scratch = values
                let expected = Statistics.quantile(values.map(Double.init), p / 100)
                XCTAssertEqual(Double(Statistics.percentile(&scratch, p)), expected, accuracy: 1e-4, "n \(n) p \(p)")
            }
        }
    }
}

final class ParallelTests: XCTestCase {
    struct Odd: Error, Equatable { let index: Int }

    func testParallelMapKeepsOrderAndRethrowsTheFirstError() {
        XCTAssertEqual(parallelMap(1000) { $0 * $0 }, (0..<1000).map { $0 * $0 })
        XCTAssertEqual(parallelMap(0) { $0 }, [])
        XCTAssertThrowsError(try parallelMap(100) { (i: Int) throws(Odd) -> Int in
            if i == 37 || i == 91 { throw Odd(index: i) }
            return i
        }) { XCTAssertEqual($0 as? Odd, Odd(index: 37)) }
    }

    func testParallelChunksCoverEveryIndexOnce() {
        for count in [0, 1, 255, 256, 10_000] {
            let hits = UnsafeMutableBufferPointer<Int>.allocate(capacity: max(count, 1))
            hits.initialize(repeating: 0)
            defer { hits.deallocate() }
            let shared = UncheckedSendable(hits)
            parallelChunks(count, minChunk: 64) { range in for i in range { shared.value[i] += 1 } }
            XCTAssertEqual(Array(hits.prefix(count)), [Int](repeating: 1, count: count))
        }
    }
}

final class PointMatchingTests: XCTestCase {
    /// The most pairs first: a greedy nearest match would pair a0–b0 (0.1 apart) and leave
    /// both a1 and b1 unmatched; the maximal matching pairs a0–b1 and a1–b0.
    func testMostPairsBeatsNearestFirst() {
        let a: [(x: Double, y: Double)] = [(0, 0), (-0.9, 0)]
        let b: [(x: Double, y: Double)] = [(0.1, 0), (0.95, 0)]
        let pairs = LinearAssignment.matchPoints(a, b, maxDistance: 1, objective: .mostPairs)
        XCTAssertEqual(pairs.map { [$0.0, $0.1] }, [[0, 1], [1, 0]])
        XCTAssertEqual(pairs[0].2, 0.95, accuracy: 1e-12)
        // The squared-distance objective prefers the close pair and two unmatched points.
        XCTAssertEqual(LinearAssignment.matchPoints(a, b, maxDistance: 1).count, 1)
    }

    func testMostPairsAgainstBruteForce() {
        var g = SeededGenerator(seed: 11)
        for _ in 0..<200 {
            let a = (0..<g.int(6)).map { _ in (x: g.uniform(0, 3), y: g.uniform(0, 3)) }
            let b = (0..<g.int(6)).map { _ in (x: g.uniform(0, 3), y: g.uniform(0, 3)) }
            let pairs = LinearAssignment.matchPoints(a, b, maxDistance: 1, objective: .mostPairs)
            let best = bruteForce(a, b, radius: 1)
            XCTAssertEqual(pairs.count, best.count)
            XCTAssertEqual(pairs.reduce(0) { $0 + $1.2 }, best.distance, accuracy: 1e-9)
        }
    }

    /// Every one-to-one matching within the radius: the most pairs, then the least distance.
    private func bruteForce(_ a: [(x: Double, y: Double)], _ b: [(x: Double, y: Double)], radius: Double) -> (count: Int, distance: Double) {
        var best = (count: 0, distance: 0.0)
        var used = [Bool](repeating: false, count: b.count)
        func go(_ i: Int, _ count: Int, _ distance: Double) {
            if i == a.count {
                if count > best.count || (count == best.count && distance < best.distance) { best = (count, distance) }
                return
            }
            go(i + 1, count, distance)
            for j in b.indices where !used[j] {
                let d = hypot(a[i].x - b[j].x, a[i].y - b[j].y)
                guard d <= radius else { continue }
                used[j] = true; go(i + 1, count + 1, distance + d); used[j] = false
            }
        }
        go(0, 0, 0)
        return best
    }
}

final class CSVTableTests: XCTestCase {
    func testQuotedFieldsCRLFAndBlankLines() throws {
        let text = "frame,name,x\r\n0,\"a, \"\"b\"\"\",1.5\r\n\r\n1,plain,2\n"
        let t = try CSVTable(text: text, path: "t.csv")
        XCTAssertEqual(t.header, ["frame", "name", "x"])
        XCTAssertEqual(t.rows, [["0", "a, \"b\"", "1.5"], ["1", "plain", "2"]])
        XCTAssertEqual(try t.column("x"), 2)
        XCTAssertEqual(t.column(anyOf: ["particle", "name"]), 1)
    }

    func testWriterRoundTrips() throws {
        let rows = [["id", "note"], ["1", "comma, here"], ["2", "quote \" here"], ["3", ""]]
        let t = try CSVTable(text: rows.map(CSVTable.line).joined(separator: "\n"), path: "t.csv")
        XCTAssertEqual([t.header] + t.rows, rows)
    }

    /// Read chunk by chunk — chunks that split a CRLF, a quoted field, a doubled quote and a
    /// multi-byte character — a file gives the rows of the table read whole, and the same errors.
    func testStreamedRowsEqualTheWholeTable() throws {
        let text = "frame,name,x\r\n0,\"a, \"\"b\"\"\",1.5\r\n\r\n1,Å ü,2\n2,\"line\nbreak\",3"
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("csv-\(UUID().uuidString).csv")
        defer { try? FileManager.default.removeItem(at: url) }
        try Data(text.utf8).write(to: url)
        let whole = try CSVTable(text: text, path: url.path)
        for chunk in 1...9 {
            var rows: [[String]] = [], lines: [Int] = []
            let header = try CSVTable.forEachRow(in: url, chunkBytes: chunk) { _, line, fields in rows.append(fields); lines.append(line) }
            XCTAssertEqual(header, whole.header, "chunk \(chunk)")
            XCTAssertEqual(rows, whole.rows, "chunk \(chunk)")
            XCTAssertEqual(lines, [2, 4, 5], "chunk \(chunk)")
        }
        try Data("a,b\n1,2\n3\n".utf8).write(to: url)
        XCTAssertThrowsError(try CSVTable.forEachRow(in: url, chunkBytes: 3) { _, _, _ in }) {
            XCTAssertEqual("\($0)", "\(url.path): line 3 has 1 fields, the header has 2")
        }
    }

    func testBadTablesNameTheFileAndLine() {
        func message(_ text: String) -> String {
            do { _ = try CSVTable(text: text, path: "bad.csv"); return "no error" } catch { return "\(error)" }
        }
        XCTAssertEqual(message(""), "bad.csv: empty table")
        XCTAssertEqual(message("a,b\n1,2\n3\n"), "bad.csv: line 3 has 1 fields, the header has 2")
        XCTAssertEqual(message("a,b\n\"1,2\n"), "bad.csv: line 2: unterminated quoted field")
        XCTAssertThrowsError(try CSVTable(text: "a\n1\n", path: "t").column("b"))
    }
}

final class BytesTests: XCTestCase {
    func testRoundTripAndByteOrder() throws {
        var w = ByteWriter()
        w.int(-3); w.double(2.5); w.float(-1.25); w.ints([1, 2]); w.floats([0.5])
        var r = ByteReader(w.bytes)
        XCTAssertEqual(try r.int(), -3); XCTAssertEqual(try r.double(), 2.5); XCTAssertEqual(try r.float(), -1.25)
        XCTAssertEqual(try r.ints(), [1, 2]); XCTAssertEqual(try r.floats(), [0.5]); XCTAssertEqual(r.remaining, 0)
        var be = ByteReader([0x12, 0x34, 0x56, 0x78], bigEndian: true)
        XCTAssertEqual(try be.uint32(), 0x1234_5678)
        var le = ByteReader([0x12, 0x34, 0x56, 0x78])
        XCTAssertEqual(try le.uint32(), 0x7856_3412)
    }

    /// The standard check values of both checksums for "123456789" (CRC catalogue; FNV test vectors).
    func testChecksumsAgainstPublishedCheckValues() {
        XCTAssertEqual(Checksum.crc32(Array("123456789".utf8)), 0xCBF4_3926)
        XCTAssertEqual(Checksum.fnv1a(Array("".utf8)), 0xcbf2_9ce4_8422_2325)
        XCTAssertEqual(Checksum.fnv1a(Array("a".utf8)), 0xaf63_dc4c_8601_ec8c)
    }

    func testTruncationAndAbsurdCountsThrow() {
        var r = ByteReader([1, 2, 3])
        XCTAssertThrowsError(try r.uint32())
        var w = ByteWriter()
        w.int(1 << 40)   // a count no file of this size can hold
        var c = ByteReader(w.bytes)
        XCTAssertThrowsError(try c.floats())
    }
}

final class CalibrationTests: XCTestCase {
    func testPrecedenceAndSources() throws {
        let all = try Calibration.resolve(pixelSizeFlag: 0.1, pixelSizeFromFile: 0.2, modelPixelSize: 0.3, frameTimeFlag: 0.5)
        XCTAssertEqual(all, Calibration(pixelSize: 0.1, pixelSizeSource: .flag, frameTime: 0.5, frameTimeSource: .flag))
        let file = try Calibration.resolve(pixelSizeFromFile: 0.2, modelPixelSize: 0.3, frameTimeFromFile: 2)
        XCTAssertEqual(file.pixelSizeSource, .file); XCTAssertEqual(file.frameTime, 2); XCTAssertEqual(file.frameTimeSource, .file)
        let fallback = try Calibration.resolve(pixelSizeFromFile: 0, modelPixelSize: 0.3)
        XCTAssertEqual(fallback.pixelSize, 0.3); XCTAssertEqual(fallback.pixelSizeSource, .model)
        XCTAssertEqual(fallback.frameTime, 1); XCTAssertEqual(fallback.frameTimeSource, .assumed)
        XCTAssertEqual(fallback.pixels(ångström: 3.15), 10.5, accuracy: 1e-12)
    }

    func testAbsurdFlagsAreRefused() {
        for bad in [0, -1, 1e-30, .nan, .infinity, 1e3] {
            XCTAssertThrowsError(try Calibration.resolve(pixelSizeFlag: bad, modelPixelSize: 0.1), "\(bad)")
        }
        XCTAssertThrowsError(try Calibration.resolve(modelPixelSize: 0.1, frameTimeFlag: 0))
        XCTAssertThrowsError(try Calibration.resolve())
    }
}
