import Core
import Foundation
import Simulation
import XCTest

/// Timing report (not an assertion): run with ATOMTRACK_SIM_BENCH=1 to print how long frames take.
final class SpeedReport: XCTestCase {
    func testReportFrameTimes() throws {
        guard ProcessInfo.processInfo.environment["ATOMTRACK_SIM_BENCH"] == "1" else {
            throw XCTSkip("set ATOMTRACK_SIM_BENCH=1 for the timing report")
        }
        for (lattice, p) in [("graphene", 0.1), ("graphene", 0.2), ("WS2", 0.1), ("WS2", 0.2)] {
            var m = Microscope(); m.sourceSize = 0.4
            let renderer = try Renderer(microscope: m)
            let g = FrameGeometry(width: 512, height: 512, pixelSize: p)
            var times: [Double] = []
            for seed in 0..<5 {
                let t0 = Date()
                var rng = SeededGenerator(seed: UInt64(seed))
                let s = try buildStructure(lattice: Lattice.named(lattice), width: g.fieldWidth, height: g.fieldHeight,
                                           margin: 7, placement: Placement(rotation: 0.3), defects: [], rng: &rng)
                let signal = renderer.render(s.columns, geometry: g, scan: .jitter(rms: 0.3, lines: 512, rng: &rng))
                _ = Noise.poisson(signal, dose: 1e5, pixelSize: p, rng: &rng)
                times.append(Date().timeIntervalSince(t0))
            }
            times.sort()
            print(String(format: "512x512 %@ pixel %.2f A: median %.3f s per frame (structure + render + Poisson)", lattice, p, times[2]))
        }
        for name in ["graphene-si.json", "tmd-ws2.json"] {
            let r = try Recipe.decode(Data(contentsOf: TrainingTests.trainingData.appendingPathComponent(name)))
            let t0 = Date()
            let gen = try TrainingSetGenerator(recipe: r)
            let t1 = Date()
            for i in 0..<10 { _ = try gen.pair(index: i) }
            print(String(format: "%@: generator set-up %.2f s, %.3f s per 256x256 training pair", name,
                         t1.timeIntervalSince(t0), Date().timeIntervalSince(t1) / 10))
        }
    }
}

/// Writes a few training pairs and a movie frame as raw float32/uint8 files for looking at
/// (ATOMTRACK_SIM_EXPORT=<dir>); not part of the normal test run.
final class ExportSamples: XCTestCase {
    func testExportSamples() throws {
        guard let dir = ProcessInfo.processInfo.environment["ATOMTRACK_SIM_EXPORT"] else {
            throw XCTSkip("set ATOMTRACK_SIM_EXPORT=<dir> to export samples")
        }
        let out = URL(fileURLWithPath: dir)
        try FileManager.default.createDirectory(at: out, withIntermediateDirectories: true)
        for name in ["graphene-si", "tmd-ws2"] {
            let r = try Recipe.decode(Data(contentsOf: TrainingTests.trainingData.appendingPathComponent(name + ".json")))
            let gen = try TrainingSetGenerator(recipe: r)
            for i in 0..<3 {
                let p = try gen.pair(index: i)
                try p.image.withUnsafeBytes { try Data($0).write(to: out.appendingPathComponent("\(name)-\(i)-\(p.width)x\(p.height).f32")) }
                try Data(p.mask).write(to: out.appendingPathComponent("\(name)-\(i)-\(p.width)x\(p.height).u8"))
            }
        }
        for name in ["movie-ws2", "movie-graphene-si"] {
            var r = try Recipe.decode(Data(contentsOf: TrainingTests.trainingData.appendingPathComponent(name + ".json")))
            r.movie?.frames = 2
            let m = try MovieSimulator(recipe: r).simulate()
            try m.frames[1].image.withUnsafeBytes { try Data($0).write(to: out.appendingPathComponent("\(name)-\(r.width)x\(r.height).f32")) }
            try Data(m.truth.defectsCSV.utf8).write(to: out.appendingPathComponent("\(name)-defects.csv"))
            try m.truth.json().write(to: out.appendingPathComponent("\(name)-truth.json"))
        }
    }
}
