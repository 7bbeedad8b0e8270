import Core
import FourierLattice
import Foundation
import Simulation
import XCTest

/// The Fourier lattice analysis against the simulator's truth: pixel size, point defects, labels.
final class FourierDetectorTests: XCTestCase {
    /// WS2 frames at 10⁵ e/Å² with every point defect the tmd-ws2 recipe makes (but adatoms, which sit off
    /// the lattice), random rotation, pixel size 0.15–0.25 Å, thermal and scan jitter, 5 % contamination.
    static func ws2Recipe(dose: Double = 1e5) -> Recipe {
        var d = Distortions()
        d.randomRotation = true; d.thermalJitter = 0.03; d.scanJitter = 0.2; d.contamination = 0.05
        var m = Microscope()
        m.voltage = 80_000; m.sourceSize = 0.3
        return Recipe(name: "fourier-ws2", seed: 23, lattice: "WS2", width: 256, height: 256, pixelSize: [0.15, 0.25],
                      dose: [dose, dose], microscope: m, defects: [
                          DefectSpec(kind: .substitution, host: "W", element: "Mo", label: "Mo_W", density: 0.3),
                          DefectSpec(kind: .substitution, host: "W", element: "Mo", label: "Mo_W+V_S", density: 0.1, adjacentColumnVacancy: "S"),
                          DefectSpec(kind: .columnVacancy, host: "S", label: "V_S", density: 0.3),
                          DefectSpec(kind: .vacancy, host: "S", label: "V_S2", density: 0.1, relaxation: -0.05),
                          DefectSpec(kind: .vacancy, host: "W", label: "V_W", density: 0.1),
                      ], distortions: d)
    }

    struct Score { var found = 0, total = 0, falseDepartures = 0, departures = 0, worstPixelError = 0.0 }

    /// A true defect is found when a departure lies within 0.65 lattice constants of its centre (an Mo_W+V_S shows its thinned S column at a/√3 = 0.58 a); a departure
    /// is false when no true defect lies that near. Sites within 4 px of the frame edge are not scored.
    static func score(frames: Range<Int>, recipe: Recipe, material: LatticeMaterial) throws -> (Score, [String: (Int, Int)]) {
        let generator = try TrainingSetGenerator(recipe: recipe)
        var s = Score(), perState: [String: (Int, Int)] = [:]
        for index in frames {
            let f = try generator.frame(index: index)
            let p = f.geometry.pixelSize
            let analysis = try LatticeAnalysis(frame: f.image, width: 256, height: 256, material: material)
            s.worstPixelError = max(s.worstPixelError, abs(analysis.fit.pixelSize - p) / p)
            let radius = 0.65 * material.lattice.a / p
            let departures = analysis.departures.map { Vec2($0.x, $0.y) }
            let inside = { (q: Vec2) in q.x > 6 && q.y > 6 && q.x < 249 && q.y < 249 }
            let truth = f.structure.defects.map { $0.position / p }.filter(inside)
            for (d, q) in zip(f.structure.defects, f.structure.defects.map { $0.position / p }) where inside(q) {
                let hit = departures.contains { length($0 - q) < radius }
                s.total += 1; s.found += hit ? 1 : 0
                perState[d.state, default: (0, 0)].0 += hit ? 1 : 0
                perState[d.state, default: (0, 0)].1 += 1
            }
            for q in departures where q.x > 8 && q.y > 8 && q.x < 247 && q.y < 247 {
                s.departures += 1
                if !truth.contains(where: { length($0 - q) < radius }) { s.falseDepartures += 1 }
            }
        }
        return (s, perState)
    }

    static func length(_ v: Vec2) -> Double { (v * v).sum().squareRoot() }

    func testFindsPointDefectsAndPixelSizeOfWS2At1e5() throws {
        let (s, perState) = try Self.score(frames: 0..<6, recipe: Self.ws2Recipe(), material: .named("ws2"))
        let recall = Double(s.found) / Double(s.total)
        print("Fourier detector, WS2 10^5 e/Å², 6 frames: found \(s.found)/\(s.total) = \(String(format: "%.3f", recall)); "
              + "false departures \(s.falseDepartures)/\(s.departures); worst pixel-size error \(String(format: "%.4f", s.worstPixelError)); "
              + "per state \(perState.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value.0)/\($0.value.1)" }.joined(separator: ", "))")
        XCTAssertGreaterThan(s.total, 60)
        XCTAssertGreaterThanOrEqual(recall, 0.95)
        XCTAssertLessThan(s.worstPixelError, 0.01)
        XCTAssertLessThan(Double(s.falseDepartures), 0.1 * Double(s.departures) + 2)
    }
}
