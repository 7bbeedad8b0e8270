import Foundation
import MicroscopyIO
import XCTest

final class MovieTests: XCTestCase {
    func testOpenByExtensionAndMagic() throws {
        let dir = try makeTempDir(self)
        let img = try GrayImage(width: 3, height: 2, pixels: [1, 2, 3, 4, 5, 6])
        // A TIFF and an NPY without their extensions are recognised by magic bytes.
        let t = dir.appendingPathComponent("a.tif"), n = dir.appendingPathComponent("b.npy")
        try TIFFFile.write([img], to: t)
        try NPYFile.write(img, to: n)
        for (src, name, format) in [(t, "tiff-data", MovieFormat.tiff), (n, "npy-data", .npy)] {
            let u = dir.appendingPathComponent(name)
            try FileManager.default.copyItem(at: src, to: u)
            let m = try Movie.open(u)
            XCTAssertEqual(m.info.format, format)
            XCTAssertEqual(try m.frame(0).pixels, img.pixels)
        }
        let txt = dir.appendingPathComponent("notes.txt")
        try Data("hello".utf8).write(to: txt)
        assertIOError(try Movie.open(txt), contains: "unknown format")
        let m = try Movie.open(t)
        assertIOError(try m.frame(1), contains: "frame 1 out of range 0..<1")
        assertIOError(try m.frame(-1), contains: "out of range")
        assertIOError(try Movie.open(dir.appendingPathComponent("missing.tif")), contains: "no such file")
        assertIOError(try GrayImage(width: 0, height: 3, pixels: []), contains: "invalid argument")
    }

    /// Converting through every writable format and back preserves pixels, size and frames.
    func testConvertRoundTrips() throws {
        let dir = try makeTempDir(self)
        let frames = try (0..<4).map { k in
            try GrayImage(width: 9, height: 7, pixels: extremePattern(.uint16, count: 63, seed: UInt64(k)), pixelSizeA: 0.3)
        }
        let src = dir.appendingPathComponent("src.tif")
        try TIFFFile.write(frames, to: src, sampleType: .uint16)
        let movie = try Movie.open(src)
        let npy = dir.appendingPathComponent("x.npy")
        try MovieConverter.convert(movie, to: npy)
        let pngs = try MovieConverter.convert(movie, to: dir.appendingPathComponent("x.png"))
        XCTAssertEqual(pngs.map(\.lastPathComponent), ["x_000.png", "x_001.png", "x_002.png", "x_003.png"])
        let tif = dir.appendingPathComponent("y.tiff")
        try MovieConverter.convert(try Movie.open(pngs[0]), to: tif, options: .init(sampleType: .float32))
        for url in [npy, pngs[0], tif] {
            let m = try Movie.open(url)
            XCTAssertEqual([m.frameCount, m.width, m.height], [4, 9, 7], url.lastPathComponent)
            for k in 0..<4 { XCTAssertEqual(try m.frame(k).pixels, frames[k].pixels, url.lastPathComponent) }
        }
        XCTAssertEqual(try Movie.open(tif).sampleType, .float32)
        // The pixel size travels TIFF → TIFF.
        let t2 = dir.appendingPathComponent("t2.tif")
        try MovieConverter.convert(movie, to: t2, options: .init(frames: 1..<3))
        let m2 = try Movie.open(t2)
        XCTAssertEqual(m2.frameCount, 2)
        XCTAssertEqual(m2.pixelSizeA ?? 0, 0.3, accuracy: 1e-6)
        XCTAssertEqual(try m2.frame(0).pixels, frames[1].pixels)
    }

    func testConvertFailuresLeaveNothing() throws {
        let dir = try makeTempDir(self)
        let src = dir.appendingPathComponent("f.npy")
        // Frame 2 holds a NaN: PNG output fails, integer TIFF output fails.
        let frames = try (0..<3).map { k in try GrayImage(width: 2, height: 2, pixels: [0, 1, 2, k == 2 ? .nan : 3]) }
        try NPYFile.write(frames: frames, to: src)
        let m = try Movie.open(src)
        assertIOError(try MovieConverter.convert(m, to: dir.appendingPathComponent("o.png")), contains: "1 NaN")
        assertIOError(try MovieConverter.convert(m, to: dir.appendingPathComponent("o.tif"), options: .init(sampleType: .uint8)), contains: "NaN/Inf")
        assertIOError(try MovieConverter.convert(m, to: dir.appendingPathComponent("o.png"), options: .init(scaling: .none, frames: 0..<3)), contains: "NaN")
        assertIOError(try MovieConverter.convert(m, to: dir.appendingPathComponent("o.jpg")), contains: "unknown format")
        assertIOError(try MovieConverter.convert(m, to: src), contains: "is the input file")
        assertIOError(try MovieConverter.convert(m, to: dir.appendingPathComponent("o.npy"), options: .init(frames: 2..<5)), contains: "not within")
        XCTAssertEqual(listing(dir), ["f.npy"])
        // Float32 output keeps NaN as NaN.
        try MovieConverter.convert(m, to: dir.appendingPathComponent("ok.tif"))
        XCTAssertTrue(try Movie.open(dir.appendingPathComponent("ok.tif")).frame(2).pixels[3].isNaN)
    }

    /// forEachFrame reuses one buffer, yet frames a caller keeps stay intact (copy on write).
    func testForEachFrameKeepsFramesIntact() throws {
        let dir = try makeTempDir(self)
        let u = dir.appendingPathComponent("k.npy")
        let frames = try (0..<5).map { k in try GrayImage(width: 3, height: 2, pixels: [Float](repeating: Float(k), count: 6)) }
        try NPYFile.write(frames: frames, to: u)
        var kept: [GrayImage] = []
        try Movie.open(u).forEachFrame { i, f in XCTAssertEqual(f.pixels[0], Float(i)); kept.append(f) }
        XCTAssertEqual(kept.map(\.pixels), frames.map(\.pixels))
        var buf: [Float] = [1]
        try Movie.open(u).readFrame(4, into: &buf)
        XCTAssertEqual(buf, frames[4].pixels)
    }

    func testReportCountsNonFinite() throws {
        let dir = try makeTempDir(self)
        let u = dir.appendingPathComponent("r.tif")
        let a = try GrayImage(width: 2, height: 2, pixels: [1, .nan, -.infinity, 5], pixelSizeA: 0.5)
        let b = try GrayImage(width: 2, height: 2, pixels: [.nan, 2, 3, 4], pixelSizeA: 0.5)
        try TIFFFile.write([a, b], to: u)
        let r = try MovieReport(movie: Movie.open(u))
        XCTAssertEqual(r.nanCount, 2); XCTAssertEqual(r.infCount, 1)
        XCTAssertEqual(r.min, 1); XCTAssertEqual(r.max, 5); XCTAssertEqual(r.mean ?? 0, 3, accuracy: 1e-12)
        XCTAssertEqual(r.pixelSizeA, 0.5)
        XCTAssertTrue(r.text.contains("2 NaN, 1 Inf"), r.text)
        XCTAssertTrue(r.text.contains("0.5 Å/pixel"), r.text)
        let h = try MovieReport(movie: Movie.open(u), scanPixels: false)
        XCTAssertNil(h.nanCount)
        XCTAssertEqual(h.frames, 2)
    }

    func testAtomicFileHelpers() throws {
        let dir = try makeTempDir(self)
        let csv = dir.appendingPathComponent("t.csv")
        try AtomicFile.writeCSV(header: ["x", "label"], rows: [["1.5", "a,b"], ["2", "say \"hi\""]], to: csv)
        XCTAssertEqual(try String(contentsOf: csv, encoding: .utf8), "x,label\n1.5,\"a,b\"\n2,\"say \"\"hi\"\"\"\n")
        struct S: Codable, Equatable { var seed: UInt64; var name: String }
        let json = dir.appendingPathComponent("s.json")
        try AtomicFile.writeJSON(S(seed: 7, name: "run"), to: json)
        XCTAssertEqual(try JSONDecoder().decode(S.self, from: Data(contentsOf: json)), S(seed: 7, name: "run"))
        // Overwrite is atomic (rename), and a failing write leaves the old file untouched.
        try AtomicFile.writeText("new\n", to: csv)
        XCTAssertEqual(try String(contentsOf: csv, encoding: .utf8), "new\n")
        assertIOError(try AtomicFile.writeText("x", to: dir.appendingPathComponent("nope/x.txt")), contains: "write failed")
        let sub = dir.appendingPathComponent("sub")
        try FileManager.default.createDirectory(at: sub, withIntermediateDirectories: true)
        XCTAssertThrowsError(try AtomicFile.writeText("x", to: sub))
        XCTAssertEqual(listing(dir), ["s.json", "sub", "t.csv"])
    }

    /// A FIFO given as a movie, alone or inside a PNG series, is refused by its file type before
    /// anything opens it (an open for reading would wait for a writer forever). The opens run on
    /// another thread with a deadline, so a regression fails this test instead of hanging the suite.
    func testFIFOIsRefusedWithoutBlocking() throws {
        let dir = try makeTempDir(self)
        let fifo = dir.appendingPathComponent("pipe.tif")
        XCTAssertEqual(mkfifo(fifo.path, 0o600), 0)
        let series = dir.appendingPathComponent("series")
        try FileManager.default.createDirectory(at: series, withIntermediateDirectories: true)
        try PNGFile.writeGray(try GrayImage(width: 4, height: 4, pixels: [Float](repeating: 1, count: 16)), to: series.appendingPathComponent("frame_000.png"))
        let member = series.appendingPathComponent("frame_001.png")
        XCTAssertEqual(mkfifo(member.path, 0o600), 0)
        let lone = dir.appendingPathComponent("lone.png")
        XCTAssertEqual(mkfifo(lone.path, 0o600), 0)
        for (url, named) in [(fifo, fifo), (lone, lone), (series, member), (series.appendingPathComponent("frame_000.png"), member)] {
            let error = openWithDeadline(url, fifos: [fifo, member, lone])
            guard case MicroscopyIOError.unsupported(let path, let detail)? = error as? MicroscopyIOError else {
                XCTFail("\(url.lastPathComponent): \(String(describing: error))"); continue
            }
            XCTAssertEqual(path, named.path)
            XCTAssertTrue(detail.contains("FIFO"), detail)
        }
    }

    /// The error of `Movie.open(url)`, run on another thread; after 20 s the test fails and the
    /// FIFOs are opened for writing once, which frees a reader stuck in open(2).
    private func openWithDeadline(_ url: URL, fifos: [URL]) -> Error? {
        final class Box: @unchecked Sendable { var error: Error? }
        let box = Box(), done = DispatchSemaphore(value: 0)
        Thread.detachNewThread {
            do { _ = try Movie.open(url) } catch { box.error = error }
            done.signal()
        }
        if done.wait(timeout: .now() + 20) == .timedOut {
            XCTFail("opening \(url.path) blocked")
            for f in fifos { let fd = open(f.path, O_WRONLY | O_NONBLOCK); if fd >= 0 { close(fd) } }
            _ = done.wait(timeout: .now() + 5)
        }
        return box.error
    }
}
