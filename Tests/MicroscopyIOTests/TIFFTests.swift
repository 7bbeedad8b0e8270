import Foundation
import MicroscopyIO
import XCTest

final class TIFFTests: XCTestCase {
    /// tifffile-written stacks of every dtype decode to the formula's values.
    func testReadsTifffileFixtures() throws {
        let cases: [(String, SampleType)] = [("u1", .uint8), ("i1", .int8), ("u2", .uint16), ("i2", .int16),
                                             ("u4", .uint32), ("i4", .int32), ("f4", .float32), ("f8", .float64)]
        for (name, type) in cases {
            let m = try Movie.open(fixtures.appendingPathComponent("tf_\(name).tif"))
            XCTAssertEqual(m.info.format, .tiff)
            XCTAssertEqual([m.frameCount, m.height, m.width], [2, 5, 7], name)
            XCTAssertEqual(m.sampleType, type)
            for k in [1, 0] { XCTAssertEqual(try m.frame(k).pixels, fixtureFrame(k, width: 7, height: 5, type), name) }
        }
        let tiled = try Movie.open(fixtures.appendingPathComponent("tf_i2_tiled.tif"))
        XCTAssertEqual([tiled.frameCount, tiled.height, tiled.width], [2, 20, 24])
        for k in 0..<2 { XCTAssertEqual(try tiled.frame(k).pixels, fixtureFrame(k, width: 24, height: 20, .int16)) }
        let big = try Movie.open(fixtures.appendingPathComponent("tf_f4_bigtiff.tif"))
        XCTAssertEqual(big.info.format, .bigTIFF)
        XCTAssertEqual(try big.frame(1).pixels, fixtureFrame(1, width: 7, height: 5, .float32))
        let zip = try Movie.open(fixtures.appendingPathComponent("tf_u2_deflate.tif"))
        XCTAssertEqual(try zip.frame(1).pixels, fixtureFrame(1, width: 7, height: 5, .uint16))
    }

    /// ImageJ files state the pixel size as XResolution per `unit=` in the description.
    func testImageJCalibration() throws {
        let m = try Movie.open(fixtures.appendingPathComponent("tf_imagej_nm.tif"))
        XCTAssertEqual(m.frameCount, 2)
        XCTAssertEqual(m.calibration?.x.unit, "nm")
        XCTAssertEqual(try XCTUnwrap(m.pixelSizeA), 0.5, accuracy: 1e-5)
        XCTAssertEqual(try m.frame(1).pixels, fixtureFrame(1, width: 7, height: 5, .float32))
    }

    /// Every dtype × layout (strips, tiles, deflate, BigTIFF) survives write → read, with the pixel size.
    func testRoundTripEveryDtypeAndLayout() throws {
        let dir = try makeTempDir(self)
        let layouts: [(String, TIFFCompression, Int?, Bool)] = [
            ("strip", .none, nil, false), ("tiled", .none, 16, false), ("deflate", .deflate, nil, false), ("big", .none, nil, true),
        ]
        for type in SampleType.allCases {
            for (name, comp, tile, big) in layouts {
                let frames = try (0..<3).map { k in
                    try GrayImage(width: 37, height: 19, pixels: extremePattern(type, count: 37 * 19, seed: UInt64(k)), pixelSizeA: 0.125)
                }
                let url = dir.appendingPathComponent("\(type)-\(name).tif")
                try TIFFFile.write(frames, to: url, sampleType: type, compression: comp, tileSize: tile, bigTIFF: big)
                let m = try Movie.open(url)
                XCTAssertEqual(m.info.format, big ? .bigTIFF : .tiff)
                XCTAssertEqual(m.sampleType, type)
                XCTAssertEqual([m.frameCount, m.width, m.height], [3, 37, 19])
                XCTAssertEqual(m.pixelSizeA, 0.125)
                for k in [2, 0, 1] {
                    let f = try m.frame(k)
                    XCTAssertEqual(f.pixels, frames[k].pixels, "\(type) \(name) frame \(k)")
                    XCTAssertEqual(f.pixelSizeA, 0.125)
                }
            }
        }
        XCTAssertFalse(listing(dir).contains { $0.hasPrefix(".") }, "temp files left: \(listing(dir))")
    }

    /// A page larger than one strip (1 MiB strips) is written and read strip by strip,
    /// the last strip partial.
    func testMultiStripPage() throws {
        let dir = try makeTempDir(self)
        let (w, h) = (1024, 300)  // 256 rows per strip: strips of 256 and 44 rows
        let img = try GrayImage(width: w, height: h, pixels: (0..<(w * h)).map { Float($0 % 9973) - 0.5 })
        let u = dir.appendingPathComponent("big.tif")
        try TIFFFile.write([img, img], to: u)
        let m = try Movie.open(u)
        XCTAssertEqual(try m.frame(1).pixels, img.pixels)
    }

    /// The streaming writer shows nothing under the final name until finish(); cancel leaves nothing.
    func testStreamingWriterIsAtomic() throws {
        let dir = try makeTempDir(self)
        let url = dir.appendingPathComponent("movie.tif")
        let w = try TIFFStackWriter(url: url, width: 8, height: 4, pixelSizeA: 0.2)
        for k in 0..<5 { try w.append([Float](repeating: Float(k), count: 32)) }
        XCTAssertFalse(FileManager.default.fileExists(atPath: url.path))
        try w.finish()
        XCTAssertEqual(listing(dir), ["movie.tif"])
        let seeded = dir.appendingPathComponent("seeded.tif")
        try TIFFFile.write([try GrayImage(width: 2, height: 1, pixels: [1, 2])], to: seeded, metadata: ["seed": "42", "note": "a \"b\""])
        XCTAssertEqual(try Movie.open(seeded).info.metadata, ["seed": "42", "note": "a \"b\""])
        try FileManager.default.removeItem(at: seeded)
        let m = try Movie.open(url)
        XCTAssertEqual(m.frameCount, 5)
        XCTAssertEqual(try m.frame(3).pixels, [Float](repeating: 3, count: 32))

        let other = dir.appendingPathComponent("cancelled.tif")
        do {
            let w2 = try TIFFStackWriter(url: other, width: 8, height: 4)
            try w2.append([Float](repeating: 1, count: 32))
            w2.cancel()
        }
        do {
            let w3 = try TIFFStackWriter(url: dir.appendingPathComponent("dropped.tif"), width: 8, height: 4)
            try w3.append([Float](repeating: 1, count: 32))
        }  // dropped without finish()
        // A wrong-size frame fails the writer and removes its temp file.
        let w4 = try TIFFStackWriter(url: dir.appendingPathComponent("bad.tif"), width: 8, height: 4)
        assertIOError(try w4.append(try GrayImage(width: 4, height: 4, pixels: [Float](repeating: 0, count: 16))), contains: "frames differ")
        assertIOError(try w4.finish(), contains: "already finished")
        XCTAssertEqual(listing(dir), ["movie.tif"])
    }

    func testBadInputs() throws {
        let dir = try makeTempDir(self)
        let src = try Data(contentsOf: fixtures.appendingPathComponent("tf_f4.tif"))
        // Truncated: header present, image data and the second IFD cut off.
        let cut = dir.appendingPathComponent("cut.tif")
        try src.prefix(200).write(to: cut)
        XCTAssertThrowsError(try { let m = try Movie.open(cut); for k in 0..<m.frameCount { _ = try m.frame(k) } }()) { e in
            XCTAssertTrue("\(e)".contains("cut.tif"), "\(e)")
        }
        // Only the magic survives.
        let stub = dir.appendingPathComponent("stub.tif")
        try src.prefix(6).write(to: stub)
        assertIOError(try Movie.open(stub), contains: "stub.tif")
        // Not a TIFF at all.
        let junk = dir.appendingPathComponent("junk.tif")
        try Data(repeating: 0x41, count: 100).write(to: junk)
        assertIOError(try Movie.open(junk), contains: "not a readable TIFF")
        // Unsupported sample formats and layouts.
        assertIOError(try Movie.open(fixtures.appendingPathComponent("tf_rgb.tif")), contains: "3 samples per pixel")
        assertIOError(try Movie.open(fixtures.appendingPathComponent("tf_f2.tif")), contains: "16-bit float")
        // Pages of different sizes.
        assertIOError(try Movie.open(fixtures.appendingPathComponent("tf_mixed.tif")), contains: "page 1 is 7×6")
        // Absurd dimensions in the IFD: refused before allocating.
        var huge = try Data(contentsOf: fixtures.appendingPathComponent("tf_u1.tif"))
        try patchTag(&huge, tag: 256, value: 1_000_000)  // ImageWidth
        try patchTag(&huge, tag: 257, value: 1_000_000)  // ImageLength
        let hugeURL = dir.appendingPathComponent("huge.tif")
        try huge.write(to: hugeURL)
        assertIOError(try Movie.open(hugeURL), contains: "huge.tif")
        // Zero width.
        var zero = try Data(contentsOf: fixtures.appendingPathComponent("tf_u1.tif"))
        try patchTag(&zero, tag: 256, value: 0)
        let zeroURL = dir.appendingPathComponent("zero.tif")
        try zero.write(to: zeroURL)
        assertIOError(try Movie.open(zeroURL), contains: "zero.tif")
        // A directory where a file is expected.
        let sub = dir.appendingPathComponent("folder.tif")
        try FileManager.default.createDirectory(at: sub, withIntermediateDirectories: true)
        assertIOError(try Movie.open(sub), contains: "is a directory")
        // Writers: integer overflow and non-finite values are refused, nothing is left behind.
        let out = dir.appendingPathComponent("out.tif")
        let img = try GrayImage(width: 2, height: 1, pixels: [300, 1])
        assertIOError(try TIFFFile.write([img], to: out, sampleType: .uint8), contains: "outside uint8 range")
        XCTAssertFalse(FileManager.default.fileExists(atPath: out.path))
        assertIOError(try TIFFFile.write([img], to: dir.appendingPathComponent("no/such/dir.tif")), contains: "does not exist")
    }

    /// Issue #16 item 11: MinIsWhite pages (larger value = darker) are inverted so counts read bright,
    /// within the type's range: max − v (unsigned), −1 − v (signed), −v (float).
    func testMinIsWhiteIsInverted() throws {
        let dir = try makeTempDir(self)
        let cases: [(SampleType, (Float) -> Float)] = [
            (.uint8, { 255 - $0 }), (.uint16, { 65535 - $0 }), (.int16, { -1 - $0 }), (.float32, { -$0 }),
        ]
        for (type, flip) in cases {
            let px = extremePattern(type, count: 9 * 4, seed: 7)
            let u = dir.appendingPathComponent("miw_\(type).tif")
            try TIFFFile.write([try GrayImage(width: 9, height: 4, pixels: px)], to: u, sampleType: type)
            XCTAssertEqual(try Movie.readImage(u).pixels, px, "MinIsBlack as stored")
            var d = try Data(contentsOf: u)
            try patchTag(&d, tag: 262, value: 0)  // PhotometricInterpretation = MinIsWhite
            try d.write(to: u)
            XCTAssertEqual(try Movie.readImage(u).pixels, px.map(flip), "\(type)")
        }
    }

    /// Issue #16 item 9: an 8-page TIFF missing its last 100 bytes is an error naming the file and
    /// the page, not a 7-frame movie; so is a page whose strip reaches past the end of the file.
    func testTruncatedMultiPageIsAnError() throws {
        let dir = try makeTempDir(self)
        let frames = try (0..<8).map { try GrayImage(width: 16, height: 16, pixels: fixtureFrame($0, width: 16, height: 16, .uint16)) }
        let full = dir.appendingPathComponent("full.tif")
        try TIFFFile.write(frames, to: full, sampleType: .uint16)
        XCTAssertEqual(try Movie.open(full).frameCount, 8)
        let d = try Data(contentsOf: full)
        let cut = dir.appendingPathComponent("cut.tif")
        try d.prefix(d.count - 100).write(to: cut)
        assertIOError(try Movie.open(cut), contains: "cut.tif")
        assertIOError(try Movie.open(cut), contains: "page 7")
        // IFD intact, pixel data cut: first page's strip offset moved past the end of the file.
        var far = try Data(contentsOf: full)
        try patchTag(&far, tag: 273, value: UInt32(far.count - 100))  // StripOffsets
        let farURL = dir.appendingPathComponent("far.tif")
        try far.write(to: farURL)
        assertIOError(try Movie.open(farURL), contains: "page 0 strip 0: bytes")
    }

    /// Rewrites the first value of a SHORT/LONG tag in the first IFD of a little-endian classic TIFF.
    private func patchTag(_ d: inout Data, tag: UInt16, value: UInt32) throws {
        func u16(_ o: Int) -> Int { Int(d[o]) | Int(d[o + 1]) << 8 }
        func u32(_ o: Int) -> Int { u16(o) | u16(o + 2) << 16 }
        XCTAssertEqual(d[0], 0x49)
        let ifd = u32(4)
        for i in 0..<u16(ifd) {
            let e = ifd + 2 + 12 * i
            guard u16(e) == Int(tag) else { continue }
            // Make it a LONG so any 32-bit value fits.
            d[e + 2] = 4; d[e + 3] = 0
            for b in 0..<4 { d[e + 8 + b] = UInt8((value >> (8 * UInt32(b))) & 0xFF) }
            return
        }
        XCTFail("tag \(tag) not found")
    }

    /// `info`'s value scan reads a TIFF page band by band — ≤ 1 MiB of rows by scanline, or a
    /// row of tiles — never the whole frame (#16 item 19: a 16384² page peaked at 1.1 GB, 1.6 GB
    /// as one deflate strip). The bands, in order, are the frame exactly, and the report's range
    /// is the frame's.
    func testValueScanReadsInBands() throws {
        let dir = try makeTempDir(self)
        // 256-wide: bands of 2^18 / 256 = 1024 rows. The writer's strips hold 2^20 bytes: 1024
        // float32 rows, or all 2500 uint8 rows in one (deflate) strip. Tiles of 32: rows of 32, 32, 6.
        let cases: [(String, Int, Int, Int?, SampleType, Int)] = [
            ("strips", 256, 2500, nil, .float32, 1024), ("one-strip", 256, 2500, nil, .uint8, 1024),
            ("tiles", 100, 70, 32, .float32, 32),
        ]
        for (name, w, h, tile, type, band) in cases {
            var pixels = (0..<(w * h)).map { Float(($0 * 7919) % 256) }
            if type == .float32 { pixels[5] = .nan; pixels[w * h - 1] = .infinity; pixels[w * band + 3] = -.infinity }
            let url = dir.appendingPathComponent(name + ".tif")
            let writer = try TIFFStackWriter(url: url, width: w, height: h, sampleType: type,
                                             compression: name == "one-strip" ? .deflate : .none, tileSize: tile)
            try writer.append(pixels); try writer.finish()
            let movie = try Movie.open(url)
            var bands: [Int] = [], joined: [Float] = []
            try movie.forEachBand(ofFrame: 0) { bands.append($0.count); joined.append(contentsOf: $0) }
            XCTAssertEqual(bands, stride(from: 0, to: h, by: band).map { min(band, h - $0) * w }, name)
            XCTAssertEqual(joined.map(\.bitPattern), pixels.map(\.bitPattern), name)
            let report = try MovieReport(movie: movie), whole = ValueStats(pixels)
            XCTAssertEqual([report.min, report.max], [Double(whole.minimum), Double(whole.maximum)], name)
            XCTAssertEqual(report.mean!, whole.mean, accuracy: 1e-9 * abs(whole.mean), name)
            XCTAssertEqual([report.nanCount, report.infCount], type == .float32 ? [1, 2] : [0, 0], name)
        }
    }
}
