import Foundation
import Simulation
import XCTest

/// Bad input gives one clear typed error, never a trap.
final class BadInputTests: XCTestCase {
    func base() -> Recipe {
        Recipe(name: "t", seed: 1, lattice: "WS2", width: 32, height: 32, pixelSize: [0.2, 0.3])
    }

    func message(_ r: Recipe) -> String? {
        do { _ = try Recipe.decode(r.encoded()); return nil } catch { return "\(error)" }
    }

    func testRecipeRoundTripsThroughJSON() throws {
        let r = base()
        XCTAssertEqual(try Recipe.decode(r.encoded()), r)
    }

    func testBadRecipesAreRejectedWithAClearLine() {
        var r = base(); r.lattice = "graphite"
        XCTAssert(message(r)?.contains("unknown lattice 'graphite'") == true)
        r = base(); r.pixelSize = [0.3, 0.2]
        XCTAssert(message(r)?.contains("pixelSize") == true)
        r = base(); r.dose = [-1, 10]
        XCTAssert(message(r)?.contains("dose") == true)
        r = base(); r.width = 3
        XCTAssert(message(r)?.contains("frame size") == true)
        r = base(); r.defects = [DefectSpec(kind: .substitution, host: "W", element: "Xx", label: "bad", density: 1)]
        XCTAssert(message(r)?.contains("defect 'bad'") == true)
        r = base(); r.labelRadius = -1
        XCTAssert(message(r)?.contains("labelRadius") == true)
        r = base(); r.microscope.detectorOuter = 10
        XCTAssert(message(r)?.contains("invalid simulation parameter") == true)
        let state = MovieState(defect: DefectSpec(kind: .substitution, host: "W", element: "Mo", label: "Mo_W"), hopRate: 1)
        r = base(); r.movie = MovieSpec(frames: 3, frameTime: 1, host: "W", count: 1, states: [state],
                                        transitionMatrix: [[0.5]], pixelSize: 0.2)
        XCTAssert(message(r)?.contains("row 0") == true)
        r.movie?.transitionMatrix = [[0.5, 0.5]]
        XCTAssert(message(r)?.contains("1×1") == true)
        r.movie?.transitionMatrix = [[1]]; r.movie?.host = "C"
        XCTAssertThrowsError(try MovieSimulator(recipe: r)) { XCTAssert("\($0)".contains("host 'C'")) }
        XCTAssertThrowsError(try MovieSimulator(recipe: base())) { XCTAssert("\($0)".contains("no movie section")) }
        XCTAssertThrowsError(try Recipe.decode(Data("not json".utf8))) { XCTAssert("\($0)".contains("cannot decode JSON")) }
    }

    func testSingleFrameTruthListsAtomsAndDefects() throws {
        var r = base()
        r.width = 64; r.height = 64
        r.defects = [DefectSpec(kind: .columnVacancy, host: "S", label: "V_S", density: 2)]
        let f = try TrainingSetGenerator(recipe: r).frame(index: 0)
        let atoms = f.truthAtomsCSV.split(separator: "\n")
        XCTAssertEqual(atoms.first, "frame,x,y,class,defect_id")
        XCTAssertGreaterThan(atoms.count, 50)
        let defects = f.truthDefectsCSV.split(separator: "\n").dropFirst()
        XCTAssertFalse(defects.isEmpty)
        XCTAssert(defects.allSatisfy { $0.hasSuffix(",V_S") })
    }
}
