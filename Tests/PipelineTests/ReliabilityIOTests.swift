import Core
import Foundation
import MicroscopyIO
import XCTest

/// The bad-input table for the movie readers: truncated and bit-flipped files of every
/// format, absurd header dimensions, empty movies, mismatched frames and fuzz findings.
/// Every case must end in a one-line `MicroscopyIOError` naming the file, or a clean read
/// of a well-formed image — never a trap, a hang or a giant allocation.
final class ReliabilityIOTests: XCTestCase {
    /// One small valid file per format, written by the project's own writers.
    private func validFiles(in dir: URL) throws -> [URL] {
        let frames = try (0..<3).map { k in
            try GrayImage(width: 9, height: 7, pixels: (0..<63).map { Float(($0 * 37 + k * 11) % 251) })
        }
        let tif = dir.appendingPathComponent("stack.tif"), tifZ = dir.appendingPathComponent("deflate.tif")
        let npy = dir.appendingPathComponent("stack.npy"), png = dir.appendingPathComponent("image.png")
        try TIFFFile.write(frames, to: tif, sampleType: .uint16)
        try TIFFFile.write(frames, to: tifZ, sampleType: .float32, compression: .deflate)
        try NPYFile.write(frames: frames, to: npy, sampleType: .float32)
        try PNGFile.writeGray(frames[0], to: png, bitDepth: .sixteen)
        return [tif, tifZ, npy, png] + dmFiles()
    }

    /// The small real DM3/DM4 files when the machine has them (third-party, not committed).
    private func dmFiles() -> [URL] {
        ["dm3", "dm4"].map { sharedDMFixtures.appendingPathComponent("dmTest_float32_nonSquare_diffPixelSize.\($0)") }
            .filter { FileManager.default.fileExists(atPath: $0.path) }
    }

    func testTruncatedFilesGiveTypedErrors() throws {
        let dir = try reliabilityTempDir(self)
        for src in try validFiles(in: dir) {
            let data = try Data(contentsOf: src)
            XCTAssertNil(readAllFrames(src), "\(src.lastPathComponent) must read cleanly")
            // Every length up to 64 bytes, then 40 lengths spread over the rest.
            let lengths = Set(Array(0..<min(64, data.count)) + (0..<40).map { data.count * $0 / 40 } + [data.count - 1])
            for n in lengths.sorted() {
                let cut = dir.appendingPathComponent("cut-\(n)-" + src.lastPathComponent)
                try data.prefix(n).write(to: cut)
                let error = readAllFrames(cut)
                // NPY has no trailer: every strict prefix lacks pixels. The other formats can
                // end in metadata the reader does not need, so a clean read is allowed there.
                if src.pathExtension == "npy" { XCTAssertNotNil(error, "\(n) of \(data.count) bytes read without error") }
                try FileManager.default.removeItem(at: cut)
            }
        }
    }

    func testBitFlippedFilesGiveTypedErrorsOrImages() throws {
        let dir = try reliabilityTempDir(self)
        var rng = SeededGenerator(seed: 20261125)
        for src in try validFiles(in: dir) {
            let data = try Data(contentsOf: src)
            let headerSpan = min(data.count, src.pathExtension.hasPrefix("dm") ? 4096 : 512)
            for trial in 0..<120 {
                var d = data
                // Mostly in the header (where the structure lives), sometimes anywhere.
                let flips = 1 + rng.int(4)
                for _ in 0..<flips {
                    let at = trial % 4 == 0 ? rng.int(d.count) : rng.int(headerSpan)
                    d[at] ^= UInt8(1 << rng.int(8))
                }
                let bad = dir.appendingPathComponent("flip-\(trial)-" + src.lastPathComponent)
                try d.write(to: bad)
                readAllFrames(bad)
                try FileManager.default.removeItem(at: bad)
            }
        }
    }

    /// Headers that claim 10⁹ × 10⁹ pixels (or 10⁹ frames) are refused from the header,
    /// before the reader allocates: peak memory stays far below one such frame.
    func testAbsurdDimensionsFailFastWithoutAllocating() throws {
        let dir = try reliabilityTempDir(self)
        let before = peakResidentBytes()
        var cases: [URL] = []

        // TIFF: ImageWidth/ImageLength patched to 10⁹.
        let tif = dir.appendingPathComponent("small.tif")
        try TIFFFile.write([try GrayImage(width: 4, height: 3, pixels: Array(repeating: 1, count: 12))], to: tif, sampleType: .uint8)
        var t = try Data(contentsOf: tif)
        try patchTIFFTag(&t, tag: 256, value: 1_000_000_000)
        try patchTIFFTag(&t, tag: 257, value: 1_000_000_000)
        cases.append(dir.appendingPathComponent("huge.tif")); try t.write(to: cases.last!)

        // PNG: IHDR 10⁹ × 10⁹ with a correct CRC, so only the size is wrong.
        let png = dir.appendingPathComponent("small.png")
        try PNGFile.writeGray(try GrayImage(width: 4, height: 3, pixels: Array(repeating: 1, count: 12)), to: png)
        var p = try Data(contentsOf: png)
        for o in [16, 20] { for b in 0..<4 { p[o + b] = UInt8((1_000_000_000 >> (8 * (3 - b))) & 0xFF) } }
        let crc = Checksum.crc32(Array(p[12..<29]))
        for b in 0..<4 { p[29 + b] = UInt8((crc >> (8 * UInt32(3 - b))) & 0xFF) }
        cases.append(dir.appendingPathComponent("huge.png")); try p.write(to: cases.last!)

        // NPY: 2-D 10⁹ × 10⁹, 3-D 10⁹ frames of 10⁹ × 10⁹, and 4 GB (10⁹ × 1) — each with 64 data bytes.
        for (name, shape) in [("huge2d", "(1000000000, 1000000000)"), ("huge3d", "(1000000000, 1000000000, 1000000000)"),
                              ("long", "(1000000000, 1)"), ("frames", "(1000000000, 4, 4)"),
                              ("overflow", "(4611686018427387904, 4611686018427387904)")] {
            cases.append(try npyWithShape(shape, dir.appendingPathComponent("\(name).npy")))
        }
        for url in cases {
            let error = readAllFrames(url)
            XCTAssertNotNil(error, "\(url.lastPathComponent) was accepted")
        }
        XCTAssertLessThan(peakResidentBytes() - before, 256 << 20, "a refused header must not allocate its frame")
    }

    func testEmptyMoviesAreRefused() throws {
        let dir = try reliabilityTempDir(self)
        for shape in ["(0, 4, 4)", "(3, 0, 4)", "(0,)", "()"] {
            let url = try npyWithShape(shape, dir.appendingPathComponent("empty.npy"))
            XCTAssertNotNil(readAllFrames(url), "shape \(shape) accepted")
        }
        // A streaming writer finished without frames leaves no file behind, or one the reader refuses.
        for ext in ["tif", "npy"] {
            let url = dir.appendingPathComponent("none.\(ext)")
            if ext == "tif" {
                let w = try TIFFStackWriter(url: url, width: 4, height: 4)
                do { try w.finish() } catch { XCTAssertTrue(error is MicroscopyIOError, "\(error)") }
            } else {
                let w = try NPYStackWriter(url: url, width: 4, height: 4)
                do { try w.finish() } catch { XCTAssertTrue(error is MicroscopyIOError, "\(error)") }
            }
            if FileManager.default.fileExists(atPath: url.path) { XCTAssertNotNil(readAllFrames(url), "0-frame \(ext) read as a movie") }
        }
        XCTAssertNotNil(readAllFrames(dir.appendingPathComponent("zero-bytes.tif").touch()))
        XCTAssertNotNil(readAllFrames(dir.appendingPathComponent("zero-bytes.png").touch()))
        XCTAssertNotNil(readAllFrames(dir.appendingPathComponent("zero-bytes.npy").touch()))
        XCTAssertNotNil(readAllFrames(dir.appendingPathComponent("zero-bytes.dm4").touch()))
    }

    /// Writers refuse frames whose size differs from the stack's, and leave no file.
    func testMismatchedFrameSizesAreRefusedByWriters() throws {
        let dir = try reliabilityTempDir(self)
        let a = try GrayImage(width: 4, height: 4, pixels: Array(repeating: 1, count: 16))
        let b = try GrayImage(width: 5, height: 4, pixels: Array(repeating: 1, count: 20))
        for ext in ["tif", "npy"] {
            let url = dir.appendingPathComponent("mixed.\(ext)")
            XCTAssertThrowsError(ext == "tif" ? try TIFFFile.write([a, b], to: url) : try NPYFile.write(frames: [a, b], to: url)) {
                XCTAssertTrue($0 is MicroscopyIOError, "\($0)")
            }
            XCTAssertFalse(FileManager.default.fileExists(atPath: url.path), "half-written \(ext) left behind")
        }
        XCTAssertThrowsError(try GrayImage(width: 4, height: 4, pixels: [1, 2, 3]))
    }

    /// Findings still open in the readers (see docs/RELIABILITY.md). They would trap or allocate
    /// gigabytes and take the whole test process down, so they run only with
    /// ATOMTRACK_RUN_KNOWN_CRASHERS=1; remove a name here once its fix lands. Both fuzz findings
    /// so far (a TIFF tile sized from its tags, a DM4 size field overflowing) are fixed.
    static let openFindings: Set<String> = []

    /// Every input the fuzzers found (Fixtures/*-fuzz-*) gives a typed error or an image,
    /// without a large allocation.
    func testFuzzFindingsStayFixed() throws {
        let dir = try reliabilityTempDir(self)
        let runOpen = ProcessInfo.processInfo.environment["ATOMTRACK_RUN_KNOWN_CRASHERS"] == "1"
        let files = try FileManager.default.contentsOfDirectory(at: reliabilityFixtures, includingPropertiesForKeys: nil)
            .filter { $0.lastPathComponent.contains("-fuzz-") && !$0.lastPathComponent.hasSuffix(".safetensors") }
            .filter { runOpen || !Self.openFindings.contains($0.lastPathComponent) }
        if files.isEmpty { throw XCTSkip("every committed reader finding is still open; set ATOMTRACK_RUN_KNOWN_CRASHERS=1") }
        let before = peakResidentBytes()
        for f in files {
            // Copy so the error message names a file the test controls.
            let copy = dir.appendingPathComponent(f.lastPathComponent)
            try FileManager.default.copyItem(at: f, to: copy)
            readAllFrames(copy)
            XCTAssertLessThan(peakResidentBytes() - before, 512 << 20, "\(f.lastPathComponent) made the reader allocate > 512 MiB")
        }
    }

    // MARK: helpers

    private func npyWithShape(_ shape: String, _ url: URL) throws -> URL {
        var header = "{'descr': '<f4', 'fortran_order': False, 'shape': \(shape), }"
        header += String(repeating: " ", count: 117 - header.utf8.count) + "\n"
        var d = Data([0x93] + Array("NUMPY".utf8) + [1, 0, UInt8(header.utf8.count), 0])
        d.append(contentsOf: Array(header.utf8) + [UInt8](repeating: 0, count: 64))
        try d.write(to: url)
        return url
    }

    /// Rewrites a SHORT/LONG tag of the first IFD of a little-endian classic TIFF as a LONG.
    private func patchTIFFTag(_ d: inout Data, tag: UInt16, value: UInt32) throws {
        func u16(_ o: Int) -> Int { Int(d[o]) | Int(d[o + 1]) << 8 }
        func u32(_ o: Int) -> Int { u16(o) | u16(o + 2) << 16 }
        guard d[0] == 0x49, u16(2) == 42 else { throw XCTSkip("writer did not produce little-endian classic TIFF") }
        let ifd = u32(4)
        for i in 0..<u16(ifd) where u16(ifd + 2 + 12 * i) == Int(tag) {
            let e = ifd + 2 + 12 * i
            d[e + 2] = 4; d[e + 3] = 0
            for b in 0..<4 { d[e + 8 + b] = UInt8((value >> (8 * UInt32(b))) & 0xFF) }
            return
        }
        XCTFail("tag \(tag) not found")
    }
}

private extension URL {
    /// Creates an empty file here and returns the URL.
    func touch() -> URL { FileManager.default.createFile(atPath: path, contents: Data()); return self }
}
