import Core
import Foundation
import MicroscopyIO
import XCTest

final class PNGTests: XCTestCase {
    /// Pillow-written PNGs (8-bit gray, 16-bit gray, 8-bit RGB) decode to the formula's values.
    func testReadsPillowFixtures() throws {
        let g8 = try Movie.open(fixtures.appendingPathComponent("pil_gray8.png"), singlePNG: true)
        XCTAssertEqual(g8.info.format, .png)
        XCTAssertEqual(g8.sampleType, .uint8)
        XCTAssertEqual(try g8.frame(0).pixels, fixtureFrame(0, width: 7, height: 5, .uint8))
        let g16 = try Movie.open(fixtures.appendingPathComponent("pil_gray16.png"), singlePNG: true)
        XCTAssertEqual(g16.sampleType, .uint16)
        XCTAssertEqual(try g16.frame(0).pixels, fixtureFrame(0, width: 7, height: 5, .uint16).map { $0 * 300 })
        let rgb = try Movie.readImage(fixtures.appendingPathComponent("pil_rgb.png"))
        let v = fixtureFrame(0, width: 7, height: 5, .uint8)
        for i in v.indices {
            XCTAssertEqual(rgb.pixels[i], 0.299 * v[i] + 0.587 * (255 - v[i]) + 0.114 * 17, accuracy: 1e-3)
        }
    }

    func testGrayRoundTrip8And16() throws {
        let dir = try makeTempDir(self)
        let p8 = extremePattern(.uint8, count: 33 * 17, seed: 1)
        let u8 = dir.appendingPathComponent("g8.png")
        try PNGFile.writeGray(try GrayImage(width: 33, height: 17, pixels: p8), to: u8)
        XCTAssertEqual(try Movie.readImage(u8).pixels, p8)
        let p16 = extremePattern(.uint16, count: 33 * 17, seed: 2)
        let u16 = dir.appendingPathComponent("g16.png")
        try PNGFile.writeGray(try GrayImage(width: 33, height: 17, pixels: p16), to: u16, bitDepth: .sixteen)
        let m = try Movie.open(u16, singlePNG: true)
        XCTAssertEqual(m.sampleType, .uint16)
        XCTAssertEqual(try m.frame(0).pixels, p16)
    }

    /// Scaling maps min→0 and max→top linearly; a range clamps.
    func testScaling() throws {
        let dir = try makeTempDir(self)
        let img = try GrayImage(width: 5, height: 1, pixels: [-1, 0, 0.5, 1, 3])
        let u = dir.appendingPathComponent("s.png")
        try PNGFile.writeGray(img, to: u, scaling: .minMax)
        XCTAssertEqual(try Movie.readImage(u).pixels, [0, 64, 96, 128, 255])  // (v+1)/4*255 rounded
        try PNGFile.writeGray(img, to: u, bitDepth: .sixteen, scaling: .range(low: 0, high: 1))
        XCTAssertEqual(try Movie.readImage(u).pixels, [0, 0, 32768, 65535, 65535])
        assertIOError(try PNGFile.writeGray(img, to: u), contains: "outside 0...255")
        let nan = try GrayImage(width: 2, height: 1, pixels: [.nan, 1])
        assertIOError(try PNGFile.writeGray(nan, to: dir.appendingPathComponent("n.png"), scaling: .minMax), contains: "1 NaN")
        XCTAssertEqual(listing(dir), ["s.png"])
    }

    func testRGBWriter() throws {
        let dir = try makeTempDir(self)
        var img = RGBImage(width: 4, height: 3, fill: (10, 20, 30))
        img.set(x: 3, y: 2, (255, 0, 0))
        img.set(x: 9, y: 9, (1, 1, 1))  // ignored: outside
        let u = dir.appendingPathComponent("rgb.png")
        try PNGFile.writeRGB(img, to: u)
        let d = try Data(contentsOf: u)
        XCTAssertEqual(d[25], 2, "IHDR colour type is RGB")
        XCTAssertEqual(d[24], 8, "8 bits per channel")
        let gray = try Movie.readImage(u)
        XCTAssertEqual(gray.pixels[0], 0.299 * 10 + 0.587 * 20 + 0.114 * 30, accuracy: 1e-4)
        XCTAssertEqual(gray[3, 2], 0.299 * 255, accuracy: 1e-4)
    }

    private func writeSeries(_ dir: URL, numbers: [Int], size: (Int, Int) = (6, 4), odd: Int? = nil) throws {
        for n in numbers {
            let (w, h) = n == odd ? (size.0 + 1, size.1) : size
            let px = [Float](repeating: Float(n * 10 % 256), count: w * h)
            try PNGFile.writeGray(try GrayImage(width: w, height: h, pixels: px),
                                  to: dir.appendingPathComponent(String(format: "frame_%03d.png", n)))
        }
    }

    func testSeriesFromFileAndDirectory() throws {
        let dir = try makeTempDir(self)
        try writeSeries(dir, numbers: Array(0..<12))
        for m in [try Movie.open(dir), try Movie.open(dir.appendingPathComponent("frame_005.png"))] {
            XCTAssertEqual(m.info.format, .pngSeries)
            XCTAssertEqual(m.frameCount, 12)
            XCTAssertEqual([m.width, m.height], [6, 4])
            for k in [0, 7, 11] { XCTAssertEqual(try m.frame(k).pixels[0], Float(k * 10)) }  // numeric order
        }
        // Zero-padded numbering fixes the digit count: img_07.png is not part of frame_…, nor is frame_0012.png.
        try PNGFile.writeGray(try GrayImage(width: 9, height: 9, pixels: [Float](repeating: 0, count: 81)), to: dir.appendingPathComponent("frame_0012.png"))
        XCTAssertEqual(try Movie.open(dir.appendingPathComponent("frame_000.png")).frameCount, 12)
        // Unpadded numbering (shot1 … shot10) is ordered numerically.
        for n in 1...10 {
            try PNGFile.writeGray(try GrayImage(width: 2, height: 1, pixels: [Float(n), 0]), to: dir.appendingPathComponent("shot\(n).png"))
        }
        let shots = try Movie.open(dir.appendingPathComponent("shot3.png"))
        XCTAssertEqual(shots.frameCount, 10)
        XCTAssertEqual(try shots.frame(9).pixels[0], 10)
        // A plain name is a single image.
        try PNGFile.writeGray(try GrayImage(width: 2, height: 2, pixels: [1, 2, 3, 4]), to: dir.appendingPathComponent("plain.png"))
        XCTAssertEqual(try Movie.open(dir.appendingPathComponent("plain.png")).frameCount, 1)
    }

    func testSeriesBadInputs() throws {
        let dir = try makeTempDir(self)
        let gap = dir.appendingPathComponent("gap"), mixed = dir.appendingPathComponent("mixed")
        let empty = dir.appendingPathComponent("empty")
        for d in [gap, mixed, empty] { try FileManager.default.createDirectory(at: d, withIntermediateDirectories: true) }
        try writeSeries(gap, numbers: [0, 1, 2, 4, 5])
        assertIOError(try Movie.open(gap), contains: "frame_…3 is missing")
        assertIOError(try Movie.open(gap.appendingPathComponent("frame_000.png")), contains: "gap in PNG series")
        try writeSeries(mixed, numbers: [0, 1, 2], odd: 1)
        assertIOError(try Movie.open(mixed), contains: "frames differ")
        assertIOError(try Movie.open(empty), contains: "is a directory")
    }

    func testCorruptPNG() throws {
        let dir = try makeTempDir(self)
        let good = dir.appendingPathComponent("good.png")
        try PNGFile.writeGray(try GrayImage(width: 64, height: 64, pixels: extremePattern(.uint8, count: 4096, seed: 3)), to: good)
        let d = try Data(contentsOf: good)
        let cut = dir.appendingPathComponent("cut.png")
        try d.prefix(d.count / 2).write(to: cut)
        XCTAssertThrowsError(try Movie.readImage(cut)) { XCTAssertTrue("\($0)".contains("cut.png"), "\($0)") }
        let junk = dir.appendingPathComponent("junk.png")
        try Data("not a png at all, just text".utf8).write(to: junk)
        assertIOError(try Movie.open(junk), contains: "junk.png")
        // IHDR claiming 1,000,000 × 1,000,000 (CRC fixed up so only the size is wrong).
        var huge = d
        for (o, v) in [(16, 1_000_000), (20, 1_000_000)] {
            for b in 0..<4 { huge[o + b] = UInt8((v >> (8 * (3 - b))) & 0xFF) }
        }
        let crc = Checksum.crc32(Array(huge[12..<29]))
        for b in 0..<4 { huge[29 + b] = UInt8((crc >> (8 * UInt32(3 - b))) & 0xFF) }
        let hugeURL = dir.appendingPathComponent("huge.png")
        try huge.write(to: hugeURL)
        assertIOError(try Movie.open(hugeURL), contains: "huge.png")
    }

    /// Issue #16 item 10: gAMA, tRNS and an alpha channel leave the stored gray values untouched
    /// (the simplified libpng API turned 16-bit 1666 into 20 under gAMA, composited gray+alpha onto
    /// black and read the tRNS gray value as 0).
    func testStoredValuesIgnoreGammaTransparencyAndAlpha() throws {
        let dir = try makeTempDir(self)
        let w = 5, h = 3
        let g8: [Int] = (0..<(w * h)).map { [0, 7, 100, 200, 255][$0 % 5] }
        let g16: [Int] = (0..<(w * h)).map { [0, 1666, 7, 40000, 65535][$0 % 5] }
        let alpha8: [Int] = (0..<(w * h)).map { [0, 255, 128, 1, 0][$0 % 5] }
        let alpha16: [Int] = alpha8.map { $0 * 257 }
        func chunk(_ type: String, _ data: [UInt8]) -> [UInt8] {
            let body = Array(type.utf8) + data
            return be32(data.count) + body + be32(Int(Checksum.crc32(body)))
        }
        func gAMA(_ g: Int) -> [UInt8] { chunk("gAMA", be32(g)) }
        func tRNS(_ v: Int) -> [UInt8] { chunk("tRNS", [UInt8(v >> 8), UInt8(v & 0xFF)]) }
        /// A PNG of colour type `colorType` with one array per channel in `samples` (row-major), extra chunks before IDAT.
        func png(_ name: String, depth: Int, colorType: Int, samples: [[Int]], chunks: [UInt8]) throws -> URL {
            var raw: [UInt8] = []
            for y in 0..<h {
                raw.append(0)  // filter: none
                for x in 0..<w {
                    for c in samples {
                        let v = c[y * w + x]
                        raw += depth == 16 ? [UInt8(v >> 8), UInt8(v & 0xFF)] : [UInt8(v)]
                    }
                }
            }
            let ihdr = be32(w) + be32(h) + [UInt8(depth), UInt8(colorType), 0, 0, 0]
            let bytes = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A] + chunk("IHDR", ihdr) + chunks
                + chunk("IDAT", zlibStored(raw)) + chunk("IEND", [])
            let u = dir.appendingPathComponent(name)
            try Data(bytes).write(to: u)
            return u
        }
        let f8 = g8.map(Float.init), f16 = g16.map(Float.init)
        let cases: [(String, Int, Int, [[Int]], [UInt8], [Float])] = [
            ("gama16.png", 16, 0, [g16], gAMA(45455), f16),  // 1/2.2
            ("gama8.png", 8, 0, [g8], gAMA(100_000), f8),   // linear
            ("trns16.png", 16, 0, [g16], tRNS(1666), f16),
            ("trns8.png", 8, 0, [g8], tRNS(7), f8),
            ("ga8.png", 8, 4, [g8, alpha8], [], f8),
            ("ga16.png", 16, 4, [g16, alpha16], gAMA(45455), f16),
            // Colour: equal R, G, B give the gray value back through the luma weights.
            ("rgba8.png", 8, 6, [g8, g8, g8, alpha8], gAMA(100_000), f8),
            // Palette entries 0...4 hold the gray levels; tRNS gives them alphas 0, 255, 128, 1, 0.
            ("pal8.png", 8, 3, [(0..<(w * h)).map { $0 % 5 }],
             chunk("PLTE", [0, 7, 100, 200, 255].flatMap { [UInt8($0), UInt8($0), UInt8($0)] })
                + chunk("tRNS", [0, 255, 128, 1, 0]), f8),
        ]
        for (name, depth, type, samples, chunks, want) in cases {
            let u = try png(name, depth: depth, colorType: type, samples: samples, chunks: chunks)
            let m = try Movie.open(u, singlePNG: true)
            XCTAssertEqual(m.sampleType, depth == 16 ? .uint16 : .uint8, name)
            let got = try m.frame(0).pixels
            XCTAssertEqual(got.count, want.count, name)
            for (a, b) in zip(got, want) { XCTAssertEqual(a, b, accuracy: 0.01, name) }  // luma sums in Float
        }
    }

    private func be32(_ v: Int) -> [UInt8] { (0..<4).map { UInt8((v >> (8 * (3 - $0))) & 0xFF) } }

    /// zlib stream of one stored (uncompressed) deflate block: no compressor needed in the test.
    private func zlibStored(_ d: [UInt8]) -> [UInt8] {
        precondition(d.count < 65536)
        var a: UInt32 = 1, b: UInt32 = 0
        for x in d { a = (a + UInt32(x)) % 65521; b = (b + a) % 65521 }
        let n = UInt16(d.count)
        return [0x78, 0x01, 0x01, UInt8(n & 0xFF), UInt8(n >> 8), UInt8(~n & 0xFF), UInt8(~n >> 8)] + d
            + be32(Int(b << 16 | a))
    }
}
