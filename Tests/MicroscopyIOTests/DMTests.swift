import Foundation
import MicroscopyIO
import XCTest

/// Real DigitalMicrograph files from openNCEM (../shared/fixtures/dm); expected values are
/// what ncempy 1.16 reports (see that folder's README.md).
final class DMTests: XCTestCase {
    private func dm(_ name: String) throws -> URL {
        let url = dmFixtures.appendingPathComponent(name)
        guard FileManager.default.fileExists(atPath: url.path) else {
            throw XCTSkip("DM fixtures absent: \(dmFixtures.path) (third-party files, not part of the package)")
        }
        return url
    }

    func testFloat32NonSquareCalibration() throws {
        for ext in ["dm3", "dm4"] {
            let m = try Movie.open(try dm("dmTest_float32_nonSquare_diffPixelSize.\(ext)"))
            XCTAssertEqual(m.info.format, ext == "dm3" ? .dm3 : .dm4)
            XCTAssertEqual([m.frameCount, m.height, m.width], [1, 64, 128])
            XCTAssertEqual(m.sampleType, .float32)
            let cal = try XCTUnwrap(m.calibration)
            XCTAssertEqual(cal.y.scale, 2, accuracy: 1e-6)
            XCTAssertEqual(cal.x.scale, 1, accuracy: 1e-6)
            XCTAssertEqual(cal.x.unit, "nm")
            XCTAssertEqual(cal.y.scaleInAngstrom ?? 0, 2, accuracy: 1e-6)  // y in Å
            XCTAssertEqual(cal.x.scaleInAngstrom ?? 0, 10, accuracy: 1e-6)
            XCTAssertNil(m.pixelSizeA, "pixels are not square")
            let f = try m.frame(0)
            XCTAssertTrue(f.pixels.allSatisfy(\.isFinite))
            XCTAssertGreaterThan(ValueStats(f.pixels).maximum, ValueStats(f.pixels).minimum)
        }
    }

    func testInt16StackCalibration() throws {
        for ext in ["dm3", "dm4"] {
            let m = try Movie.open(try dm("dmTest_3D_int16_64,65,66.\(ext)"))
            XCTAssertEqual([m.frameCount, m.height, m.width], [66, 65, 64])
            XCTAssertEqual(m.sampleType, .int16)
            let cal = try XCTUnwrap(m.calibration)
            XCTAssertEqual(cal.x.scale, 2, accuracy: 1e-6); XCTAssertEqual(cal.x.unit, "pm")
            XCTAssertEqual(cal.y.scale, 3, accuracy: 1e-6); XCTAssertEqual(cal.y.unit, "nm")
            XCTAssertEqual(cal.z?.scale ?? 0, 4, accuracy: 1e-6)
            XCTAssertTrue(["µm", "μm", "um"].contains(cal.z?.unit ?? ""), cal.z?.unit ?? "nil")
            let last = try m.frame(65)
            XCTAssertTrue(last.pixels.allSatisfy { $0 == $0.rounded() && abs($0) <= 32768 })
        }
    }

    /// DM3 and DM4 versions of one dataset hold the same pixels.
    func testDM3AndDM4Agree() throws {
        for name in ["dmTest_3D_int16_64,65,66", "dmTest_float32_nonSquare_diffPixelSize"] {
            let a = try Movie.open(try dm("\(name).dm3")), b = try Movie.open(try dm("\(name).dm4"))
            for k in Set([0, a.frameCount - 1]) { XCTAssertEqual(try a.frame(k).pixels, try b.frame(k).pixels, name) }
        }
    }

    /// Pixels, shape, dtype and calibration agree with what ncempy reads (Fixtures/dm_reference.json).
    func testMatchesNcempy() throws {
        struct Ref: Decodable {
            var shape: [Int], dtype: String, pixelSize: [Double], pixelUnit: [String]
            var frameSums: [Double], frameMoments: [[Double]], samples: [[Double]]
        }
        let refs = try JSONDecoder().decode([String: Ref].self,
                                            from: Data(contentsOf: fixtures.appendingPathComponent("dm_reference.json")))
        XCTAssertEqual(refs.count, 4)
        for (name, r) in refs {
            let m = try Movie.open(try dm(name))
            XCTAssertEqual(m.frameCount == 1 ? [m.height, m.width] : [m.frameCount, m.height, m.width], r.shape, name)
            XCTAssertEqual(m.sampleType.rawValue, r.dtype, name)
            // ncempy lists axes slowest first: (z,) y, x.
            let cal = try XCTUnwrap(m.calibration)
            let ours = ([cal.z].compactMap { $0 } + [cal.y, cal.x])
            XCTAssertEqual(ours.map(\.scale), r.pixelSize, name)
            XCTAssertEqual(ours.map(\.unit), r.pixelUnit, name)
            for k in 0..<m.frameCount {
                let f = try m.frame(k)
                var sum = 0.0, mx = 0.0, my = 0.0
                for y in 0..<f.height { for x in 0..<f.width { let v = Double(f[x, y]); sum += v; mx += v * Double(x); my += v * Double(y) } }
                XCTAssertEqual(sum, r.frameSums[k], accuracy: 1e-6 * max(1, abs(r.frameSums[k])), "\(name) frame \(k)")
                XCTAssertEqual(mx, r.frameMoments[k][0], accuracy: 1e-6 * max(1, abs(mx)), "\(name) frame \(k)")
                XCTAssertEqual(my, r.frameMoments[k][1], accuracy: 1e-6 * max(1, abs(my)), "\(name) frame \(k)")
            }
            for s in r.samples {
                XCTAssertEqual(Double(try m.frame(Int(s[0]))[Int(s[2]), Int(s[1])]), s[3], name)
            }
        }
    }

    /// DM → TIFF keeps the per-axis calibration (x 1 nm, y 2 Å) and the pixels.
    func testConvertToTIFFKeepsCalibration() throws {
        let dir = try makeTempDir(self)
        let m = try Movie.open(try dm("dmTest_float32_nonSquare_diffPixelSize.dm4"))
        let out = dir.appendingPathComponent("c.tif")
        try MovieConverter.convert(m, to: out)
        let t = try Movie.open(out)
        XCTAssertEqual(t.calibration?.x.scaleInAngstrom ?? 0, 10, accuracy: 1e-9)
        XCTAssertEqual(t.calibration?.y.scaleInAngstrom ?? 0, 2, accuracy: 1e-9)
        XCTAssertNil(t.pixelSizeA)
        XCTAssertEqual(try t.frame(0).pixels, try m.frame(0).pixels)
    }

    func testSpectrumIsNotAnImage() throws {
        let spectrum = try dm("08_carbon.dm3")  // skips (outside the assertion) when fixtures are absent
        assertIOError(try Movie.open(spectrum), contains: "not an image")
    }

    func testTruncatedAndCorrupt() throws {
        let dir = try makeTempDir(self)
        let src = try Data(contentsOf: try dm("dmTest_float32_nonSquare_diffPixelSize.dm4"))
        for (i, keep) in [10, 200, src.count / 2, src.count - 12].enumerated() {
            let u = dir.appendingPathComponent("cut\(i).dm4")
            try src.prefix(keep).write(to: u)
            assertIOError(try Movie.open(u), contains: "cut\(i).dm4")
        }
        // Dimensions patched to 1,000,000 × 1,000,000: refused before touching the data.
        var huge = src
        let label = Data("Dimensions".utf8)
        var from = huge.startIndex, patched = 0
        while let r = huge.range(of: label, in: from..<huge.endIndex) {
            for v: UInt32 in [128, 64] {
                let le = withUnsafeBytes(of: v.littleEndian) { Data($0) }
                if let hit = huge.range(of: le, in: r.upperBound..<min(r.upperBound + 190, huge.endIndex)) {
                    huge.replaceSubrange(hit, with: withUnsafeBytes(of: UInt32(1_000_000).littleEndian) { Data($0) })
                    patched += 1
                }
            }
            from = r.upperBound
        }
        XCTAssertGreaterThanOrEqual(patched, 2)
        let hugeURL = dir.appendingPathComponent("huge.dm4")
        try huge.write(to: hugeURL)
        assertIOError(try Movie.open(hugeURL), contains: "implausible dimensions: 1000000×1000000")
        var wrongVersion = src
        wrongVersion[3] = 7
        let v = dir.appendingPathComponent("v7.dm4")
        try wrongVersion.write(to: v)
        assertIOError(try Movie.open(v), contains: "DM version field is 7")
        // Flipping bytes throughout the tag tree must give errors, never a crash.
        let src3 = try Data(contentsOf: try dm("dmTest_float32_nonSquare_diffPixelSize.dm3"))
        var g: UInt64 = 42
        for t in 0..<40 {
            var d = src3
            g = g &* 6364136223846793005 &+ 1442695040888963407
            let at = 16 + Int(g >> 33) % 4000
            d[at] ^= 0xFF
            let u = dir.appendingPathComponent("flip\(t).dm3")
            try d.write(to: u)
            if let m = try? Movie.open(u) { _ = try? m.frame(m.frameCount - 1) }
        }
    }

    /// A number tag in `Dimensions` or `DataType` holding NaN, ±∞, a fraction or ≥ 2⁶³ (a float
    /// where DM writes integers) is a corrupt file, not a trap in the Double → Int conversion.
    func testNonIntegerDimensionsAndDataTypeAreCorrupt() throws {
        let dir = try makeTempDir(self)
        let good = dir.appendingPathComponent("good.dm4")
        try craftedDM4(dimensions: [4, 3], dataType: 2).write(to: good)
        let m = try Movie.open(good)
        XCTAssertEqual([m.width, m.height, m.frameCount], [4, 3, 1], "the crafted file itself is valid")
        let bad: [(String, [Double], Double)] = [
            ("nan-dim", [.nan, 3], 2), ("inf-dim", [4, .infinity], 2), ("neg-inf-dim", [-.infinity, 3], 2),
            ("huge-dim", [0x1p63, 3], 2), ("frac-dim", [4.5, 3], 2), ("nan-type", [4, 3], .nan),
            ("huge-type", [4, 3], 1e300), ("inf-type", [4, 3], -.infinity),
        ]
        for (name, dims, type) in bad {
            let url = dir.appendingPathComponent("\(name).dm4")
            try craftedDM4(dimensions: dims, dataType: type).write(to: url)
            XCTAssertThrowsError(try Movie.open(url), name) {
                guard case MicroscopyIOError.corrupt(let path, let detail)? = $0 as? MicroscopyIOError else {
                    return XCTFail("\(name): \($0)")
                }
                XCTAssertEqual(path, url.path)
                XCTAssertTrue(detail.contains(dims == [4, 3] ? "DataType" : "Dimensions"), detail)
            }
        }
    }

    /// A float64 DM image converts to float64 NPY/TIFF bit for bit (it went through Float32:
    /// 1e300 became inf; #16 item 16), in either byte order.
    func testFloat64ConvertsExactly() throws {
        let dir = try makeTempDir(self)
        for little in [true, false] {
            let url = dir.appendingPathComponent(little ? "le.dm4" : "be.dm4")
            try craftedDM4(dimensions: [4, 3], dataType: 12, float64: float64Only, little: little).write(to: url)
            XCTAssertEqual(try Movie.open(url).sampleType, .float64)
            try assertConvertsFloat64Exactly(url, expected: float64Only, dir: dir)
        }
    }

    /// A minimal DM4 file: ImageList → one ImageData with a 12-element `Data` array (zero
    /// float32, or the given float64 values) and `Dimensions` / `DataType` as float64 number tags.
    private func craftedDM4(dimensions: [Double], dataType: Double, float64 pixels: [Double]? = nil, little: Bool = true) -> Data {
        var body = Data()
        func be(_ v: UInt64, _ n: Int) { for i in (0..<n).reversed() { body.append(UInt8(truncatingIfNeeded: v >> (8 * UInt64(i)))) } }
        func tag(_ kind: UInt64, _ label: String) { be(kind, 1); be(UInt64(label.utf8.count), 2); body.append(contentsOf: Array(label.utf8)); be(0, 8) }
        func group(_ label: String, _ count: Int) { tag(20, label); be(0, 2); be(UInt64(count), 8) }
        func value(_ v: Double) { little ? (0..<8).forEach { body.append(UInt8(truncatingIfNeeded: v.bitPattern >> (8 * UInt64($0)))) } : be(v.bitPattern, 8) }
        func double(_ label: String, _ v: Double) {
            tag(21, label); body.append(contentsOf: Array("%%%%".utf8)); be(1, 8); be(7, 8)
            value(v)
        }
        be(0, 2); be(1, 8)  // root: one tag
        group("ImageList", 1)
        group("", 1)
        group("ImageData", 3)
        tag(21, "Data"); body.append(contentsOf: Array("%%%%".utf8)); be(3, 8); be(20, 8); be(pixels == nil ? 6 : 7, 8); be(12, 8)
        if let pixels { pixels.forEach(value) } else { body.append(Data(count: 12 * 4)) }
        group("Dimensions", dimensions.count)
        for d in dimensions { double("", d) }
        double("DataType", dataType)
        var file = Data()
        for (v, n) in [(UInt64(4), 4), (UInt64(body.count), 8), (little ? 1 : 0, 4)] {  // version, size, byte order
            for i in (0..<n).reversed() { file.append(UInt8(truncatingIfNeeded: v >> (8 * UInt64(i)))) }
        }
        return file + body
    }
}
