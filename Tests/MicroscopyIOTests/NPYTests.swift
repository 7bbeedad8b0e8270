import Foundation
import MicroscopyIO
import XCTest

final class NPYTests: XCTestCase {
    /// numpy-written files of every dtype and byte order decode to the formula's values.
    func testReadsNumpyFixtures() throws {
        let cases: [(String, SampleType)] = [
            ("np_u1", .uint8), ("np_i1", .int8), ("np_le_u2", .uint16), ("np_be_u2", .uint16),
            ("np_le_i2", .int16), ("np_be_i2", .int16), ("np_le_u4", .uint32), ("np_be_u4", .uint32),
            ("np_le_i4", .int32), ("np_be_i4", .int32), ("np_le_f4", .float32), ("np_be_f4", .float32),
            ("np_le_f8", .float64), ("np_be_f8", .float64), ("np_v2_f4", .float32),
        ]
        for (name, type) in cases {
            let m = try Movie.open(fixtures.appendingPathComponent("\(name).npy"))
            XCTAssertEqual(m.info.format, .npy)
            XCTAssertEqual([m.frameCount, m.height, m.width], [2, 5, 7], name)
            XCTAssertEqual(m.sampleType, type, name)
            for k in 0..<2 {
                XCTAssertEqual(try m.frame(k).pixels, fixtureFrame(k, width: 7, height: 5, type), "\(name) frame \(k)")
            }
        }
        let two = try Movie.open(fixtures.appendingPathComponent("np_2d_f4.npy"))
        XCTAssertEqual([two.frameCount, two.height, two.width], [1, 5, 7])
        XCTAssertEqual(try two.frame(0).pixels, fixtureFrame(0, width: 7, height: 5, .float32))
    }

    /// Every dtype × byte order survives write → read, 2-D and 3-D.
    func testRoundTripEveryDtype() throws {
        let dir = try makeTempDir(self)
        for type in SampleType.allCases {
            for big in [false, true] {
                let frames = try (0..<3).map { k in
                    try GrayImage(width: 6, height: 4, pixels: extremePattern(type, count: 24, seed: UInt64(k)))
                }
                let url = dir.appendingPathComponent("\(type)-\(big).npy")
                try NPYFile.write(frames: frames, to: url, sampleType: type, bigEndian: big)
                let m = try Movie.open(url)
                XCTAssertEqual(m.sampleType, type)
                XCTAssertEqual(m.frameCount, 3)
                for k in 0..<3 { XCTAssertEqual(try m.frame(k).pixels, frames[k].pixels, "\(type) big=\(big)") }
                let url2 = dir.appendingPathComponent("\(type)-\(big)-2d.npy")
                try NPYFile.write(frames[1], to: url2, sampleType: type, bigEndian: big)
                XCTAssertEqual(try Movie.readImage(url2).pixels, frames[1].pixels)
            }
        }
        XCTAssertFalse(listing(dir).contains { $0.hasPrefix(".") }, "temp files left: \(listing(dir))")
    }

    /// The header we write is the one numpy's format spec asks for (64-byte aligned, v1.0).
    func testHeaderLayout() throws {
        let dir = try makeTempDir(self)
        let url = dir.appendingPathComponent("h.npy")
        try NPYFile.write(try GrayImage(width: 3, height: 2, pixels: [1, 2, 3, 4, 5, 6]), to: url)
        let d = try Data(contentsOf: url)
        XCTAssertEqual(Array(d.prefix(8)), [0x93] + Array("NUMPY".utf8) + [1, 0])
        let len = Int(d[8]) | Int(d[9]) << 8
        XCTAssertEqual((10 + len) % 64, 0)
        let text = String(decoding: d[10..<(10 + len)], as: UTF8.self)
        XCTAssertTrue(text.contains("'descr': '<f4'") && text.contains("'shape': (2, 3)") && text.hasSuffix("\n"), text)
        XCTAssertEqual(d.count, 10 + len + 24)
    }

    func testBadInputs() throws {
        let dir = try makeTempDir(self)
        // Truncated data.
        let good = try Data(contentsOf: fixtures.appendingPathComponent("np_le_f4.npy"))
        let cut = dir.appendingPathComponent("cut.npy")
        try good.prefix(good.count - 9).write(to: cut)
        assertIOError(try Movie.open(cut), contains: "truncated")
        // Truncated header.
        let cutHeader = dir.appendingPathComponent("cuthead.npy")
        try good.prefix(40).write(to: cutHeader)
        assertIOError(try Movie.open(cutHeader), contains: "truncated")
        // Bad magic.
        let junk = dir.appendingPathComponent("junk.npy")
        try Data("hello world, not numpy".utf8).write(to: junk)
        assertIOError(try Movie.open(junk), contains: "magic")
        // Unsupported layouts and dtypes.
        // Fortran (column-major) order reads as the same image as numpy's C-ordered copy.
        let fortran = try Movie.open(fixtures.appendingPathComponent("np_fortran.npy")).frame(0)
        let cOrder = try Movie.open(fixtures.appendingPathComponent("np_2d_f4.npy")).frame(0)
        XCTAssertEqual(fortran, cOrder)
        assertIOError(try Movie.open(fixtures.appendingPathComponent("np_c8.npy")), contains: "dtype '<c8'")
        assertIOError(try Movie.open(fixtures.appendingPathComponent("np_1d.npy")), contains: "not an image")
        // Absurd and zero shapes: refused from the header, before any allocation.
        func withShape(_ shape: String, _ name: String) throws -> URL {
            var header = "{'descr': '<f4', 'fortran_order': False, 'shape': \(shape), }"
            header += String(repeating: " ", count: 117 - header.utf8.count) + "\n"
            var d = Data([0x93] + Array("NUMPY".utf8) + [1, 0, UInt8(header.utf8.count), 0])
            d.append(contentsOf: Array(header.utf8) + [UInt8](repeating: 0, count: 64))
            let u = dir.appendingPathComponent(name)
            try d.write(to: u)
            return u
        }
        assertIOError(try Movie.open(try withShape("(1000000000, 1000000000)", "huge.npy")), contains: "implausible")
        assertIOError(try Movie.open(try withShape("(0, 5)", "zero.npy")), contains: "empty")
        assertIOError(try Movie.open(try withShape("(2, 3, 4, 5)", "4d.npy")), contains: "not an image")
    }

    func testNaNIsReportedNotFixed() throws {
        let dir = try makeTempDir(self)
        let url = dir.appendingPathComponent("nan.npy")
        try NPYFile.write(try GrayImage(width: 2, height: 2, pixels: [1, .nan, .infinity, -4]), to: url)
        let img = try Movie.readImage(url)
        XCTAssertTrue(img.pixels[1].isNaN)
        XCTAssertEqual(img.pixels[2], .infinity)
        let s = ValueStats(img.pixels)
        XCTAssertEqual([s.nanCount, s.infCount, s.finiteCount], [1, 1, 2])
        XCTAssertEqual(s.minimum, -4); XCTAssertEqual(s.maximum, 1); XCTAssertEqual(s.mean, -1.5)
        // Integer outputs refuse NaN instead of inventing a value; no partial file remains.
        let bad = dir.appendingPathComponent("nan16.npy")
        assertIOError(try NPYFile.write(img, to: bad, sampleType: .int16), contains: "NaN")
        XCTAssertEqual(listing(dir), ["nan.npy"])
    }

    /// A Fortran-order float64 array converts to float64 NPY/TIFF bit for bit (it went through
    /// Float32: 1e300 became inf; #16 item 16). Element (y, x) of shape (3, 4) is stored at y + 3x.
    func testFortranFloat64ConvertsExactly() throws {
        let dir = try makeTempDir(self)
        var header = "{'descr': '<f8', 'fortran_order': True, 'shape': (3, 4), }"
        while (10 + header.count + 1) % 64 != 0 { header += " " }
        var d = Data([0x93] + Array("NUMPY".utf8) + [1, 0, UInt8(header.count + 1), 0])
        d.append(Data((header + "\n").utf8))
        for x in 0..<4 { for y in 0..<3 { withUnsafeBytes(of: float64Only[y * 4 + x].bitPattern.littleEndian) { d.append(contentsOf: $0) } } }
        let url = dir.appendingPathComponent("fortran.npy")
        try d.write(to: url)
        try assertConvertsFloat64Exactly(url, expected: float64Only, dir: dir)
    }
}
