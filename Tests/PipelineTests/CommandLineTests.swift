import Foundation
import MicroscopyIO
import XCTest

/// The shared options of the `atomtrack` commands, run as a user would (the executable built
/// beside the tests): `--overwrite` on convert, and flag values refused before anything is written.
final class CommandLineTests: XCTestCase {
    struct Run { var status: Int32; var stdout: String; var stderr: String }

    /// Runs the executable; `environment` sets (or, with nil, removes) variables of the child only.
    func atomtrack(_ arguments: [String], environment: [String: String?] = [:]) throws -> Run {
        // The executable is built into the same products directory as the test bundle.
        let products = Bundle.main.executableURL?.deletingLastPathComponent() ?? Bundle(for: Self.self).bundleURL
        let binary = products.appendingPathComponent("atomtrack")
        guard FileManager.default.isExecutableFile(atPath: binary.path) else {
            throw XCTSkip("atomtrack executable not built beside the tests (\(binary.path))")
        }
        let p = Process(), out = Pipe(), err = Pipe()
        p.executableURL = binary
        p.arguments = arguments
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
}
