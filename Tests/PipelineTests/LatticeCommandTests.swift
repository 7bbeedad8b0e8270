import Core
import Foundation
import MicroscopyIO
import Pipeline
import Simulation
import XCTest

/// `atomtrack lattice` as a user runs it: bad input refused in one line before OUT exists; a simulated WS2
/// frame gives its pixel size within 1 % and the files the command promises.
extension CommandLineTests {
    func testLatticeCommandRefusesBadInputBeforeWritingAndMeasuresASimulatedFrame() throws {
        let dir = try reliabilityTempDir(self)
        let out = dir.appendingPathComponent("lattice")
        var rng = SeededGenerator(seed: 1)
        let noise = dir.appendingPathComponent("noise.tif")  // shot noise, no lattice
        try TIFFFile.write([GrayImage(width: 64, height: 64, pixels: (0..<4096).map { _ in Float(rng.poisson(20)) })], to: noise)
        assertOneLineError(try atomtrack(["lattice", noise.path, "--material", "ws2", "--out", out.path]), mentioning: "no periodic lattice")
        assertOneLineError(try atomtrack(["lattice", noise.path, "--material", "mos3", "--out", out.path]), mentioning: "unknown material 'mos3'")
        assertOneLineError(try atomtrack(["lattice", noise.path, "--material", "ws2", "--frame", "2", "--out", out.path]), mentioning: "--frame 2")
        assertOneLineError(try atomtrack(["lattice", noise.path, "--material", "ws2", "--pixel-size", "0", "--out", out.path]), mentioning: "--pixel-size")
        XCTAssertFalse(FileManager.default.fileExists(atPath: out.path))

        var m = Microscope(); m.voltage = 80_000; m.sourceSize = 0.3
        let recipe = Recipe(name: "t", seed: 3, lattice: "WS2", width: 128, height: 128, pixelSize: [0.17, 0.17], dose: [1e5, 1e5],
                            microscope: m, defects: [DefectSpec(kind: .substitution, host: "W", element: "Mo", label: "Mo_W", density: 0.5)])
        let f = try TrainingSetGenerator(recipe: recipe).frame(index: 0)
        let movie = dir.appendingPathComponent("ws2.tif")
        try TIFFFile.write([GrayImage(width: 128, height: 128, pixels: f.image)], to: movie)
        let run = try atomtrack(["lattice", movie.path, "--material", "ws2", "--out", out.path])
        XCTAssertEqual(run.status, 0, run.stderr)
        let summary = try JSONDecoder().decode(LatticeFrameStage.Summary.self, from: Data(contentsOf: out.appendingPathComponent("lattice.json")))
        XCTAssertEqual(summary.pixelSizeEstimateA, 0.17, accuracy: 0.0017)
        XCTAssertEqual(summary.pixelSizeSource, "lattice")
        XCTAssertEqual(summary.angleDegrees, 60, accuracy: 1)
        for name in LatticeFrameStage.markers { XCTAssert(FileManager.default.fileExists(atPath: out.appendingPathComponent(name).path), name) }
        let departures = try String(contentsOf: out.appendingPathComponent("departures.csv"), encoding: .utf8)
        XCTAssertEqual(departures.split(separator: "\n").first, "x,y,site,kind,contrast,x_A,y_A")
        assertOneLineError(try atomtrack(["lattice", movie.path, "--material", "ws2", "--out", out.path]), mentioning: "--overwrite")
    }
}
