import Foundation
import MicroscopyIO
import Pipeline
import Simulation
import XCTest

/// The shared options of the `atomtrack` commands, run as a user would (the executable built
/// beside the tests): `--overwrite` on convert, and flag values refused before anything is written.
final class CommandLineTests: XCTestCase {
    struct Run { var status: Int32; var stdout: String; var stderr: String }

    /// Runs the executable; `environment` sets (or, with nil, removes) variables of the child only;
    /// `launcher` (e.g. setpriv and its options) runs it through another program.
    func atomtrack(_ arguments: [String], environment: [String: String?] = [:], launcher: [String] = []) throws -> Run {
        // The executable is built into the same products directory as the test bundle.
        let products = Bundle.main.executableURL?.deletingLastPathComponent() ?? Bundle(for: Self.self).bundleURL
        let binary = products.appendingPathComponent("atomtrack")
        guard FileManager.default.isExecutableFile(atPath: binary.path) else {
            throw XCTSkip("atomtrack executable not built beside the tests (\(binary.path))")
        }
        let p = Process(), out = Pipe(), err = Pipe()
        p.executableURL = launcher.isEmpty ? binary : URL(fileURLWithPath: launcher[0])
        p.arguments = launcher.isEmpty ? arguments : launcher.dropFirst() + [binary.path] + arguments
        if !environment.isEmpty {
            var env = ProcessInfo.processInfo.environment
            for (name, value) in environment { env[name] = value }
            p.environment = env
        }
        p.standardOutput = out
        p.standardError = err
        try p.run()
        let stdout = out.fileHandleForReading.readDataToEndOfFile(), stderr = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return Run(status: p.terminationStatus, stdout: String(decoding: stdout, as: UTF8.self), stderr: String(decoding: stderr, as: UTF8.self))
    }

    /// A 2-frame 32×32 float movie with a pixel size.
    func smallMovie(in dir: URL) throws -> URL {
        let url = dir.appendingPathComponent("movie.tif")
        let frames = try (0..<2).map { k in
            try GrayImage(width: 32, height: 32, pixels: (0..<(32 * 32)).map { Float(($0 * 7 + k) % 13) }, pixelSizeA: 0.2)
        }
        try TIFFFile.write(frames, to: url)
        return url
    }

    func assertOneLineError(_ run: Run, mentioning text: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(run.status, 1, run.stderr, file: file, line: line)
        XCTAssertEqual(run.stderr.split(separator: "\n").count, 1, "one line: \(run.stderr)", file: file, line: line)
        XCTAssertTrue(run.stderr.hasPrefix("atomtrack: error: ") && run.stderr.contains(text), run.stderr, file: file, line: line)
    }

    func testConvertRefusesToReplaceAnOutputWithoutOverwrite() throws {
        let dir = try reliabilityTempDir(self)
        let movie = try smallMovie(in: dir)
        let npy = dir.appendingPathComponent("movie.npy")
        XCTAssertEqual(try atomtrack(["convert", movie.path, npy.path]).status, 0)
        try Data("earlier".utf8).write(to: npy)

        assertOneLineError(try atomtrack(["convert", movie.path, npy.path]), mentioning: "--overwrite")
        XCTAssertEqual(try Data(contentsOf: npy), Data("earlier".utf8), "the existing file is left alone")

        XCTAssertEqual(try atomtrack(["convert", movie.path, npy.path, "--overwrite"]).status, 0)
        XCTAssertEqual(try Movie.open(npy).frameCount, 2)

        // A PNG series is refused when any of its numbered files exists.
        let png = dir.appendingPathComponent("frame.png")
        XCTAssertEqual(try atomtrack(["convert", movie.path, png.path]).status, 0)
        assertOneLineError(try atomtrack(["convert", movie.path, png.path]), mentioning: "frame_000.png")
        XCTAssertEqual(try atomtrack(["convert", movie.path, png.path, "--overwrite"]).status, 0)
    }

    /// A temporary folder with a small movie, the shipped WS2 model's path and a table `name` holding `csv`.
    func movieModelAndTable(_ name: String, _ csv: String) throws -> (dir: URL, movie: URL, model: String, table: URL) {
        let dir = try reliabilityTempDir(self)
        let table = dir.appendingPathComponent(name)
        try Data(csv.utf8).write(to: table)
        return (dir, try smallMovie(in: dir), repositoryRoot.appendingPathComponent("Models/tmd-ws2").path, table)
    }

    /// `--pixel-size 0` (and a zero `--frame-time`) is one line on stderr, before OUT is created,
    /// in every command that takes the flag.
    func testImpossibleCalibrationFlagsAreRefusedBeforeAnythingIsWritten() throws {
        let (dir, movie, model, table) = try movieModelAndTable("table.csv", "frame,x,y,class\n0,1,1,A\n1,1.5,1,A\n")
        let out = dir.appendingPathComponent("out")
        let runs: [([String], String)] = [
            (["locate", movie.path, "--model", model, "--pixel-size", "0"], "--pixel-size"),
            (["analyze", movie.path, "--model", model, "--pixel-size", "0"], "--pixel-size"),
            (["analyze", movie.path, "--model", model, "--frame-time", "0"], "--frame-time"),
            (["segment", movie.path, "--model", model, "--pixel-size", "1e9"], "--pixel-size"),
            (["track", table.path, "--pixel-size", "nan"], "--pixel-size"),
            (["markov", table.path, "--frame-time", "0"], "--frame-time"),
        ]
        for (arguments, flag) in runs {
            assertOneLineError(try atomtrack(arguments + ["--out", out.path]), mentioning: flag)
            XCTAssertFalse(FileManager.default.fileExists(atPath: out.path), "\(arguments[0]) created OUT")
        }
    }

    /// Frame ranges, `--config` settings and a crop size that would trap or are not physical are
    /// one line on stderr before OUT is created; a count running past Int.max means "to the end".
    func testImpossibleRunSettingsAreRefusedBeforeAnythingIsWritten() throws {
        let (dir, movie, model, table) = try movieModelAndTable("atoms.csv", "frame,x,y,class\n0,1,1,S2\n")
        let zeroPixel = dir.appendingPathComponent("zero.json"), negativeDrift = dir.appendingPathComponent("drift.json")
        try Data(#"{"movie": "\#(movie.path)", "model": "\#(model)", "pixelSize": 0}"#.utf8).write(to: zeroPixel)
        try Data(#"{"movie": "\#(movie.path)", "model": "\#(model)", "kinetics": {"driftAtomsPerFrame": -5}}"#.utf8).write(to: negativeDrift)
        let out = dir.appendingPathComponent("out")
        let runs: [([String], String)] = [
            (["analyze", movie.path, "--model", model, "--pixel-size", "1e-30"], "--pixel-size"),
            (["analyze", movie.path, "--model", model, "--count=-5"], "--count -5"),
            (["analyze", movie.path, "--model", model, "--first=-1"], "--first -1"),
            (["analyze", "--config", zeroPixel.path], zeroPixel.path + ": pixelSize 0.0"),
            (["analyze", "--config", negativeDrift.path], negativeDrift.path + ": kinetics.driftAtomsPerFrame -5"),
            (["classify", movie.path, "--atoms", table.path, "--model", model, "--crop-size", "nan"], "--crop-size nan"),
            (["classify", movie.path, "--atoms", table.path, "--model", model, "--crop-size", "0"], "--crop-size 0.0"),
            (["classify", movie.path, "--atoms", table.path, "--model", model, "--crop-size", "inf"], "--crop-size inf"),
        ]
        for (arguments, text) in runs {
            assertOneLineError(try atomtrack(arguments + ["--out", out.path]), mentioning: text)
            XCTAssertFalse(FileManager.default.fileExists(atPath: out.path), "\(arguments) created OUT")
        }
        // first + count overflows Int: saturated to the movie's end, not a trap.
        let located = try atomtrack(["locate", movie.path, "--model", model, "--first", "1", "--count", "9223372036854775807",
                                     "--out", out.path])
        XCTAssertEqual(located.status, 0, located.stderr)
    }

    /// A second run into an OUT that another process holds is refused in one line (flock on
    /// OUT/.atomtrack.lock); once the holder is gone the same command runs.
    func testConcurrentRunIntoTheSameOutIsRefused() throws {
        let (dir, _, _, table) = try movieModelAndTable("table.csv", "frame,x,y\n0,1,1\n1,1.5,1\n")
        let out = dir.appendingPathComponent("out")
        try OutputDirectory.prepare(out, markers: [], allowExisting: true)  // this process holds the lock now
        assertOneLineError(try atomtrack(["track", table.path, "--out", out.path]), mentioning: "another atomtrack run is writing")
        XCTAssertFalse(FileManager.default.fileExists(atPath: out.appendingPathComponent("trajectories.csv").path))
        OutputDirectory.unlock(out)
        XCTAssertEqual(try atomtrack(["track", table.path, "--out", out.path]).status, 0)
    }

    /// `--overwrite` leaves no file of the earlier run beside the new one: it removes what the
    /// earlier runs' manifest (`.atomtrack.files`) lists, and nothing else, even under AtomTrack's
    /// names (a user's own `config.json`); any run removes the temp files a killed run left, in
    /// OUT and OUT/library.
    func testOverwriteRemovesTheEarlierRunAndStaleTempFiles() throws {
        let (dir, _, _, table) = try movieModelAndTable("table.csv", "frame,x,y\n0,1,1\n1,1.5,1\n")
        let out = dir.appendingPathComponent("out"), library = out.appendingPathComponent("library")
        try FileManager.default.createDirectory(at: library, withIntermediateDirectories: true)
        let earlier = ["markov.json", "markov.png", "summary.json", "overlay_0003.png", "trajectories.csv", "library/D1_mean.png"]
        let stale = [".atoms.csv.1a2b3c4d.tmp", "library/.D1_mean.png.5e6f7a8b.tmp"]
        for name in earlier + stale + ["notes.txt", "config.json"] { try Data("x".utf8).write(to: out.appendingPathComponent(name)) }
        func exists(_ name: String) -> Bool { FileManager.default.fileExists(atPath: out.appendingPathComponent(name).path) }

        // No manifest: the files may be the user's, so --overwrite is refused and removes nothing.
        assertOneLineError(try atomtrack(["track", table.path, "--out", out.path, "--overwrite"]), mentioning: ".atomtrack.files")
        XCTAssertTrue((earlier + ["config.json"]).allSatisfy(exists))
        // The earlier run's manifest, as AtomicFile writes it (duplicates and a hostile line included).
        try Data((earlier + ["markov.json", "../table.csv"]).map { $0 + "\n" }.joined().utf8)
            .write(to: out.appendingPathComponent(".atomtrack.files"))

        // Without --overwrite: refused (it holds trajectories.csv), but the stale temp files go.
        assertOneLineError(try atomtrack(["track", table.path, "--out", out.path]), mentioning: "--overwrite")
        for name in stale { XCTAssertFalse(exists(name), "stale \(name) survived") }
        XCTAssertTrue(earlier.allSatisfy(exists))

        let run = try atomtrack(["track", table.path, "--out", out.path, "--overwrite"])
        XCTAssertEqual(run.status, 0, run.stderr)
        for name in earlier where name != "trajectories.csv" { XCTAssertFalse(exists(name), "\(name) of the earlier run survived") }
        XCTAssertFalse(exists("library"))
        XCTAssertTrue(exists("notes.txt"), "a file AtomTrack does not write is left alone")
        XCTAssertTrue(exists("config.json"), "a file of an AtomTrack name that no run wrote is left alone")
        XCTAssertTrue(FileManager.default.fileExists(atPath: table.path), "a manifest line outside OUT is ignored")
        XCTAssertEqual(try String(contentsOf: out.appendingPathComponent("trajectories.csv"), encoding: .utf8).prefix(5), "track")
        // The new run's manifest lists exactly what it wrote.
        let listed = try String(contentsOf: out.appendingPathComponent(".atomtrack.files"), encoding: .utf8).split(separator: "\n")
        let present = try FileManager.default.contentsOfDirectory(atPath: out.path).filter { !$0.hasPrefix(".") }
        XCTAssertEqual(Set(listed.map(String.init)), Set(present).subtracting(["notes.txt", "config.json"]))
        XCTAssertTrue(listed.contains("trajectories.csv"))
    }

    /// OUT may not be an input's folder or replace an input; `--out ""` is not the current directory.
    func testOutputPathsThatWouldReplaceAnInputAreRefused() throws {
        let (dir, movie, model, table) = try movieModelAndTable("table.csv", "frame,x,y\n0,1,1\n")
        let frames = try Movie.open(movie)
        let series = dir.appendingPathComponent("series")
        try FileManager.default.createDirectory(at: series, withIntermediateDirectories: true)
        for i in 0..<2 { try PNGFile.writeGray(try frames.frame(i), to: series.appendingPathComponent(String(format: "frame_%03d.png", i))) }
        let overlay = dir.appendingPathComponent("overlay_0000.png")
        try PNGFile.writeGray(try frames.frame(0), to: overlay)
        let before = try Data(contentsOf: overlay)

        assertOneLineError(try atomtrack(["locate", overlay.path, "--model", model, "--out", dir.path, "--pixel-size", "0.2"]),
                           mentioning: "holds the input overlay_0000.png")
        assertOneLineError(try atomtrack(["locate", overlay.path, "--model", model, "--out", dir.path, "--pixel-size", "0.2", "--overwrite"]),
                           mentioning: "holds the input overlay_0000.png")
        XCTAssertEqual(try Data(contentsOf: overlay), before, "the input is untouched")
        assertOneLineError(try atomtrack(["locate", series.path, "--model", model, "--out", series.path, "--pixel-size", "0.2"]),
                           mentioning: "is an input of this run")
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: series.path).sorted(), ["frame_000.png", "frame_001.png"])
        assertOneLineError(try atomtrack(["track", table.path, "--out", ""]), mentioning: "--out is empty")
        XCTAssertFalse(FileManager.default.fileExists(atPath: "trajectories.csv"), "nothing written into the current directory")
    }

    /// A movie the user may not read is named as such, not called corrupt. As root (who reads
    /// anything) the command runs as `nobody` through setpriv.
    /// A `--pixel-size` 15 % off the simulated frame's true 0.2 Å/px (either way) is warned about,
    /// naming the lattice's measurement; the true one passes without a word.
    func testPixelSizeThatDisagreesWithTheLatticeIsWarnedAbout() throws {
        let dir = try temporaryDirectory("pixel-mismatch")
        defer { try? FileManager.default.removeItem(at: dir) }
        let model = repositoryRoot.appendingPathComponent("Models/tmd-ws2")
        guard FileManager.default.fileExists(atPath: model.appendingPathComponent("model.safetensors").path) else {
            throw XCTSkip("shipped model tmd-ws2 not present")
        }
        var recipe = try Recipe.decode(Data(contentsOf: repositoryRoot.appendingPathComponent("TrainingData/movie-ws2.json")))
        recipe.width = 128; recipe.height = 128
        recipe.movie?.frames = 1
        _ = try SimulationExport.writeMovie(recipe: recipe, to: dir, progress: false)
        let movie = dir.appendingPathComponent(SimulationExport.movieFile).path
        for (size, warned) in [("0.2", false), ("0.23", true), ("0.17", true)] {
            let run = try atomtrack(["locate", movie, "--model", model.path, "--pixel-size", size,
                                     "--out", dir.appendingPathComponent("out-\(size)").path, "--quiet"])
            XCTAssertEqual(run.status, 0, run.stderr)
            XCTAssertEqual(run.stderr.contains("disagrees with the lattice"), warned, "--pixel-size \(size): \(run.stderr)")
        }
    }

    func testUnreadableMovieIsNotCalledCorrupt() throws {
        let dir = try reliabilityTempDir(self)
        let movie = try smallMovie(in: dir)
        try FileManager.default.setAttributes([.posixPermissions: 0o000], ofItemAtPath: movie.path)
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: dir.path)
        var launcher: [String] = []
        if geteuid() == 0 {
            guard FileManager.default.isExecutableFile(atPath: "/usr/bin/setpriv") else { throw XCTSkip("root without setpriv") }
            launcher = ["/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
        }
        assertOneLineError(try atomtrack(["info", movie.path], launcher: launcher), mentioning: "movie.tif: cannot read: permission denied")
    }

    /// `convert --dtype float64` keeps float64 values Float32 cannot hold (1e300 became inf, #16
    /// item 16). The input NPY is written byte by byte here and the output's bytes are read back
    /// directly, so neither side goes through AtomTrack's own float64 code.
    func testConvertToFloat64KeepsFloat64Values() throws {
        let dir = try reliabilityTempDir(self)
        let values: [Double] = [1e300, -1e300, 1.0000000000000002, 5e-324, 0, -2.5, 123456789.123456789, 1e-300]
        func npy(_ v: [Double]) -> Data {
            var header = "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 4), }"
            while (10 + header.count + 1) % 64 != 0 { header += " " }
            var d = Data([0x93] + Array("NUMPY".utf8) + [1, 0, UInt8((header.count + 1) & 0xFF), UInt8((header.count + 1) >> 8)])
            d.append(Data((header + "\n").utf8))
            for x in v { withUnsafeBytes(of: x.bitPattern.littleEndian) { d.append(contentsOf: $0) } }
            return d
        }
        let input = dir.appendingPathComponent("in.npy")
        try npy(values).write(to: input)
        for (name, dtype) in [("out.npy", ["--dtype", "float64"]), ("kept.npy", [])] {
            let out = dir.appendingPathComponent(name)
            let run = try atomtrack(["convert", input.path, out.path] + dtype)
            XCTAssertEqual(run.status, 0, run.stderr)
            let bytes = try Data(contentsOf: out)
            let headerLength = Int(bytes[8]) + Int(bytes[9]) << 8
            let stored = stride(from: 10 + headerLength, to: bytes.count, by: 8).map { i in
                Double(bitPattern: bytes[i..<(i + 8)].reversed().reduce(UInt64(0)) { $0 << 8 | UInt64($1) })
            }
            XCTAssertEqual(stored, values, name)
        }
        // TIFF: read back through the reader's Float64 path.
        let tif = dir.appendingPathComponent("out.tif")
        XCTAssertEqual(try atomtrack(["convert", input.path, tif.path, "--dtype", "float64"]).status, 0)
        var read: [Double] = []
        try Movie.open(tif).readFrame(0, into: &read)
        XCTAssertEqual(read, values, "one 4×2 frame (a 2-D NPY is one image)")
    }
}
