import Foundation
import Localization
import MicroscopyIO
import Pipeline
import XCTest

/// The bad-input table for the pipeline: output directories, a full disk, and frames that
/// are tiny, constant, non-finite or of absurd calibration.
final class ReliabilityPipelineTests: XCTestCase {
    // MARK: output directory

    func testOutputDirectoryThatIsAFileOrHoldsResults() throws {
        let dir = try reliabilityTempDir(self)
        let file = dir.appendingPathComponent("file.txt")
        try Data("x".utf8).write(to: file)
        XCTAssertThrowsError(try OutputDirectory.prepare(file, markers: ["atoms.csv"], allowExisting: false)) {
            XCTAssertTrue("\($0)".contains("not a directory"), "\($0)")
        }
        let out = dir.appendingPathComponent("run")
        try OutputDirectory.prepare(out, markers: ["atoms.csv"], allowExisting: false)   // created
        try Data("frame,x,y\n".utf8).write(to: out.appendingPathComponent("atoms.csv"))
        XCTAssertThrowsError(try OutputDirectory.prepare(out, markers: ["tracks.csv", "atoms.csv"], allowExisting: false)) {
            XCTAssertTrue("\($0)".contains("already holds results (atoms.csv)"), "\($0)")
        }
        XCTAssertNoThrow(try OutputDirectory.prepare(out, markers: ["atoms.csv"], allowExisting: true))
    }

    func testOutputDirectoryThatCannotBeWritten() throws {
        let dir = try reliabilityTempDir(self)
        let file = dir.appendingPathComponent("file.txt")
        try Data("x".utf8).write(to: file)
        // Below a regular file: cannot be created, for root too.
        XCTAssertThrowsError(try OutputDirectory.prepare(file.appendingPathComponent("out"), markers: [], allowExisting: false)) {
            XCTAssertTrue("\($0)".contains("not writable"), "\($0)")
        }
        // A read-only directory (root ignores permission bits, so only checked for other users).
        let ro = dir.appendingPathComponent("readonly")
        try FileManager.default.createDirectory(at: ro, withIntermediateDirectories: true)
        try FileManager.default.setAttributes([.posixPermissions: 0o555], ofItemAtPath: ro.path)
        defer { try? FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: ro.path) }
        if geteuid() != 0 {
            XCTAssertThrowsError(try OutputDirectory.prepare(ro, markers: [], allowExisting: false)) {
                XCTAssertTrue("\($0)".contains("not writable"), "\($0)")
            }
            XCTAssertThrowsError(try StreamingTextFile(ro.appendingPathComponent("atoms.csv")))
            XCTAssertThrowsError(try AtomicFile.write(Data("x".utf8), to: ro.appendingPathComponent("a.json")))
        }
    }

    // MARK: disk full

    /// Runs `body` with the file-size limit at `bytes` (writes beyond it fail with EFBIG,
    /// as on a full disk), SIGXFSZ ignored, and restores both afterwards.
    private func withFileSizeLimit<T>(_ bytes: rlim_t, _ body: () throws -> T) rethrows -> T {
        var old = rlimit()
        getrlimit(Int32(RLIMIT_FSIZE.rawValue), &old)
        let oldHandler = signal(SIGXFSZ, SIG_IGN)
        var limited = old
        limited.rlim_cur = bytes
        setrlimit(Int32(RLIMIT_FSIZE.rawValue), &limited)
        defer {
            setrlimit(Int32(RLIMIT_FSIZE.rawValue), &old)
            signal(SIGXFSZ, oldHandler)
        }
        return try body()
    }

    /// Everything in `dir` (hidden temp files included).
    private func listing(_ dir: URL) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? []).sorted()
    }

    func testDiskFullDuringAtomicWriteLeavesNothing() throws {
        let dir = try reliabilityTempDir(self)
        let dest = dir.appendingPathComponent("summary.json")
        let big = Data(repeating: 0x41, count: 256 << 10)
        try withFileSizeLimit(64 << 10) {
            XCTAssertThrowsError(try AtomicFile.write(big, to: dest)) {
                XCTAssertTrue($0 is MicroscopyIOError && "\($0)".contains("summary.json"), "\($0)")
            }
            XCTAssertThrowsError(try TIFFFile.write([try GrayImage(width: 256, height: 256, pixels: Array(repeating: 1, count: 65536))],
                                                    to: dir.appendingPathComponent("frames.tif"))) {
                XCTAssertTrue($0 is MicroscopyIOError, "\($0)")
            }
            XCTAssertThrowsError(try NPYFile.write(try GrayImage(width: 256, height: 256, pixels: Array(repeating: 1, count: 65536)),
                                                   to: dir.appendingPathComponent("frames.npy"))) {
                XCTAssertTrue($0 is MicroscopyIOError, "\($0)")
            }
        }
        XCTAssertEqual(listing(dir), [], "no destination and no temp file may remain")
        // An earlier good file survives a failed overwrite untouched.
        try AtomicFile.write(Data("old".utf8), to: dest)
        try withFileSizeLimit(64 << 10) { XCTAssertThrowsError(try AtomicFile.write(big, to: dest)) }
        XCTAssertEqual(try String(contentsOf: dest, encoding: .utf8), "old")
        XCTAssertEqual(listing(dir), ["summary.json"])
    }

    func testDiskFullDuringStreamingWriteLeavesNothing() throws {
        let dir = try reliabilityTempDir(self)
        let dest = dir.appendingPathComponent("atoms.csv")
        let row = String(repeating: "1,2.000,3.000,C,0.9000,0\n", count: 4096)   // ~100 kB
        withFileSizeLimit(256 << 10) {
            do {
                let table = try StreamingTextFile(dest)
                XCTAssertThrowsError(try { for _ in 0..<40 { try table.write(row) }; try table.finish() }()) {
                    XCTAssertTrue("\($0)".contains("atoms.csv") && "\($0)".contains("disk full"), "\($0)")
                }
                table.cancel()
            } catch { XCTFail("\(error)") }
        }
        XCTAssertEqual(listing(dir), [], "no destination and no temp file may remain")
        // Dropped without cancel(): deinit removes the temp file too.
        withFileSizeLimit(256 << 10) {
            do {
                let table = try StreamingTextFile(dest)
                XCTAssertThrowsError(try { for _ in 0..<40 { try table.write(row) } }())
            } catch { XCTFail("\(error)") }
        }
        XCTAssertEqual(listing(dir), [])
    }

    // MARK: frames

    private func shippedFinder() throws -> AtomFinder {
        let dir = repositoryRoot.appendingPathComponent("Models/graphene-si")
        guard FileManager.default.fileExists(atPath: dir.appendingPathComponent("model.safetensors").path) else {
            throw XCTSkip("shipped model absent")
        }
        return try AtomFinder(model: try TrainedModel(at: dir))
    }

    /// Tiny, constant and all-zero frames give atoms (possibly none) or a typed error.
    func testTinyConstantAndZeroFrames() throws {
        let finder = try shippedFinder()
        for (w, h) in [(1, 1), (1, 9), (9, 1), (2, 3), (5, 5), (17, 3)] {
            let pixels = (0..<(w * h)).map { Float(($0 * 7) % 5) }
            do {
                let atoms = try finder.atoms(in: pixels, width: w, height: h, pixelSize: nil)
                for a in atoms {
                    XCTAssertTrue(a.x.isFinite && a.y.isFinite, "\(w)×\(h): \(a)")
                    XCTAssertTrue(a.x >= -0.5 && a.x <= Double(w) - 0.5 && a.y >= -0.5 && a.y <= Double(h) - 0.5, "\(w)×\(h): \(a)")
                }
            } catch {
                XCTAssertTrue(error is LocalizationError, "\(w)×\(h): untyped \(error)")
            }
        }
        for value: Float in [0, 42] {
            let atoms = try finder.atoms(in: Array(repeating: value, count: 48 * 40), width: 48, height: 40, pixelSize: nil)
            XCTAssertEqual(atoms.count, 0, "a constant frame (\(value)) holds no atoms")
        }
        XCTAssertThrowsError(try finder.atoms(in: [], width: 0, height: 0, pixelSize: nil)) {
            XCTAssertTrue($0 is LocalizationError, "\($0)")
        }
        XCTAssertThrowsError(try finder.atoms(in: [1, 2, 3], width: 2, height: 2, pixelSize: nil)) {
            XCTAssertTrue($0 is LocalizationError, "\($0)")
        }
    }

    /// Blank frames hold no atoms with the shipped WS2 model too, which (fed the all-zero input a
    /// constant frame normalizes to) reported 3 S "atoms" at 256² and 5 at 64² before
    /// `AtomFinder` honoured `isConstant` (#16 item 12). Also when the frame is resampled.
    func testBlankFramesGiveNoAtomsWithTheWS2Model() throws {
        let dir = repositoryRoot.appendingPathComponent("Models/tmd-ws2")
        guard FileManager.default.fileExists(atPath: dir.appendingPathComponent("model.safetensors").path) else {
            throw XCTSkip("shipped model absent")
        }
        let finder = try AtomFinder(model: try TrainedModel(at: dir))
        for side in [256, 64] {
            for value: Float in [0, 1000] {
                for pixelSize: Double? in [nil, 0.05] {  // 0.05 Å/px lies outside the card's 0.12–0.35 Å: resampled
                    let (atoms, normalized) = try finder.locate(in: Array(repeating: value, count: side * side), width: side, height: side,
                                                                pixelSize: pixelSize)
                    XCTAssertEqual(atoms.count, 0, "\(side)² of \(value) at \(pixelSize.map { "\($0) Å/px" } ?? "no pixel size")")
                    XCTAssertTrue(normalized.isConstant)
                }
            }
        }
    }

    func testNonFinitePixelsNameTheFrame() throws {
        let finder = try shippedFinder()
        var pixels = [Float](repeating: 1, count: 32 * 32)
        pixels[5 * 32 + 3] = .nan
        XCTAssertThrowsError(try finder.atoms(in: pixels, width: 32, height: 32, pixelSize: nil, frame: 12)) {
            XCTAssertEqual("\($0)", "frame 12: 1 NaN/Inf pixel(s), the first at (x 3, y 5)")
        }
        pixels[5 * 32 + 3] = -.infinity
        XCTAssertThrowsError(try finder.atoms(in: pixels, width: 32, height: 32, pixelSize: 0.1, frame: 3)) {
            XCTAssertTrue("\($0)".hasPrefix("frame 3:"), "\($0)")
        }
    }

    /// A movie with a NaN frame: `MovieLocator` skips it (warning naming it on stderr) and
    /// still writes the table; an empty frame range writes a header-only table.
    func testMovieLocatorSkipsBadFramesAndHandlesNoFrames() throws {
        let finder = try shippedFinder()
        let dir = try reliabilityTempDir(self)
        let frames = try (0..<3).map { k -> GrayImage in
            var p = (0..<(40 * 40)).map { Float(($0 * 13 + k) % 17) }
            if k == 1 { p[0] = .nan }
            return try GrayImage(width: 40, height: 40, pixels: p)
        }
        let movieURL = dir.appendingPathComponent("movie.npy")
        try NPYFile.write(frames: frames, to: movieURL)
        let movie = try Movie.open(movieURL)
        let out = dir.appendingPathComponent("out")
        try FileManager.default.createDirectory(at: out, withIntermediateDirectories: true)
        var locator = MovieLocator(finder: finder, pixelSize: nil)
        locator.overlayFrames = []
        var seen: [Int] = []
        let atoms = try locator.run(movie: movie, frames: 0..<3, to: out, progress: false, onFrame: { i, _, _ in seen.append(i) })
        XCTAssertEqual(seen, [0, 1, 2], "the NaN frame is skipped (warning on stderr), the movie goes on")
        XCTAssertEqual(atoms.count, 3)
        XCTAssertEqual(atoms[1].count, 0)
        let rows = try String(contentsOf: out.appendingPathComponent(MovieLocator.atomsFile), encoding: .utf8).split(separator: "\n")
        XCTAssertFalse(rows.dropFirst().contains { $0.hasPrefix("1,") }, "no atoms for the NaN frame")
        let none = dir.appendingPathComponent("none")
        try FileManager.default.createDirectory(at: none, withIntermediateDirectories: true)
        XCTAssertEqual(try locator.run(movie: movie, frames: 0..<0, to: none, progress: false).count, 0)
        let table = try String(contentsOf: none.appendingPathComponent(MovieLocator.atomsFile), encoding: .utf8)
        XCTAssertEqual(table.split(separator: "\n").count, 1, "header only")
        // Every frame skipped (#16): an error, and no atoms.csv that looks like "no atoms here".
        let allNaN = dir.appendingPathComponent("all-nan")
        try FileManager.default.createDirectory(at: allNaN, withIntermediateDirectories: true)
        locator.overlayFrames = [1]
        XCTAssertThrowsError(try locator.run(movie: movie, frames: 1..<2, to: allNaN, progress: false)) {
            XCTAssertEqual("\($0)", "every frame (1) was skipped; the first: frame 1: 1 NaN/Inf pixel(s), the first at (x 0, y 0)")
        }
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: allNaN.path), [], "no atoms.csv, no overlay")
    }

    /// A calibration far outside the model's range (e.g. a file that says 1000 Å/px, or
    /// +∞) must give a typed error, not resample a 64×64 frame to 10⁶×10⁶ pixels.
    func testAbsurdPixelSizeIsRefused() throws {
        let finder = try shippedFinder()
        let pixels = (0..<(64 * 64)).map { Float($0 % 7) }
        for p in [1000.0, 1e12, .infinity] {
            XCTAssertThrowsError(try finder.atoms(in: pixels, width: 64, height: 64, pixelSize: p), "pixel size \(p)")
        }
        // Far too small would shrink the frame to 1×1: refused as a wrong calibration, no trap.
        for p in [1e-9, Double.leastNonzeroMagnitude, 0, -1, .nan] {
            XCTAssertThrowsError(try finder.atoms(in: pixels, width: 64, height: 64, pixelSize: p), "pixel size \(p)") { error in
                XCTAssertTrue("\(error)".contains("pixel size"), "\(error)")
            }
        }
    }
}
