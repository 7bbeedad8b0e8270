import Core
import Foundation
import Localization
import MicroscopyIO
import Pipeline
import Simulation
import XCTest

/// `sigma_px` against simulator truth through the whole finder (network, refinement, weighing,
/// Mo split): two WS2 frames of 160² px (the movie recipe without scan jitter and flyback, whose
/// line shifts move a column's apparent centre by more than its photon error) at 10⁴, 10⁵ and
/// 10⁶ e/Å²; per class and dose the variance of error/σ per axis over the interior atoms.
/// The target is 1 ± 0.1; what is reached is in docs/ACCURACY.md (not met for every
/// class and dose). Asserted: W and S (≈ 400 axes per dose) within a factor 2 of 1 — the cards
/// before session 10's frame terms gave S 0.40 at 10⁵ on the study's frames (docs/ACCURACY.md,
/// "issue #18, position σ, session 10") — and Mo (24 axes) within a factor 6.
final class PositionSigmaTests: XCTestCase {
    func testNormalizedErrorsOnSimulatedWS2Frames() throws {
        let dir = packageRoot.appendingPathComponent("Models/tmd-ws2")
        guard FileManager.default.fileExists(atPath: dir.appendingPathComponent("model.safetensors").path) else {
            throw XCTSkip("shipped model tmd-ws2 not present")
        }
        let finder = try AtomFinder(model: TrainedModel(at: dir))
        let classes = finder.outputClasses
        let root = try temporaryDirectory("position-sigma")
        defer { try? FileManager.default.removeItem(at: root) }
        for dose in [1e4, 1e5, 1e6] {
            var recipe = try Recipe.decode(Data(contentsOf: packageRoot.appendingPathComponent("TrainingData/movie-ws2.json")))
            recipe.seed = 11250
            recipe.width = 160; recipe.height = 160
            recipe.movie?.frames = 2
            recipe.movie?.dose = dose
            recipe.distortions?.scanJitter = 0
            recipe.distortions?.flybackAmplitude = 0
            let movieDir = root.appendingPathComponent("movie-\(Int(dose))")
            try FileManager.default.createDirectory(at: movieDir, withIntermediateDirectories: true)
            _ = try SimulationExport.writeMovie(recipe: recipe, to: movieDir, progress: false)
            let movie = try Movie.open(movieDir.appendingPathComponent(SimulationExport.movieFile))
            let table = try CSVTable(url: movieDir.appendingPathComponent("truth_atoms.csv"))
            let f = try table.column("frame"), x = try table.column("x"), y = try table.column("y"), e = try table.column("class")
            var squares = [Int: [Double]]()
            for i in 0..<movie.frameCount {
                let frame = try movie.frame(i)
                // Columns: an S2 column is listed as two S atoms at one place.
                var seen = Set<String>()
                let truth = table.rows.filter { Int($0[f]) == i && seen.insert("\($0[x]),\($0[y]),\($0[e])").inserted }.compactMap { r in
                    classes.classIndex(ofElement: r[e], card: finder.model.card).map { ReferencePoint(x: Double(r[x])!, y: Double(r[y])!, classIndex: $0) }
                }
                let atoms = try finder.atoms(in: frame.pixels, width: frame.width, height: frame.height, pixelSize: movie.pixelSizeA)
                    .filter { min($0.x, $0.y) >= 3 && max($0.x, $0.y) <= Double(frame.width - 4) }
                let radius = 0.4 * finder.model.card.columnSpacingPixels(pixelSize: movie.pixelSizeA)
                for m in try evaluateDetections(atoms, reference: truth, radius: radius).matches {
                    let a = atoms[m.detected], t = truth[m.reference]
                    let s = try XCTUnwrap(a.positionSigma)
                    squares[a.classIndex, default: []] += [pow((a.x - t.x) / s, 2), pow((a.y - t.y) / s, 2)]
                }
            }
            for (c, z2) in squares.sorted(by: { $0.key < $1.key }) {
                let variance = z2.reduce(0, +) / Double(z2.count)
                print(String(format: "dose %.0e %@: %d axes, variance of error/σ %.3f", dose, classes.symbols[c], z2.count, variance))
                let factor = z2.count >= 200 ? 2.0 : 6
                XCTAssertTrue((1 / factor...factor).contains(variance), "\(classes.symbols[c]) at \(dose): \(variance)")
            }
        }
    }
}
