import ArgumentParser
import Core
import Foundation
import Localization

/// `atomtrack bench localize`: speed of the probability-map → atoms stage on a simulated frame.
struct BenchLocalization: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "localize",
        abstract: "Time normalization, tiled-segmentation overhead and atom localization (centroids, Gaussian refinement).",
        discussion: """
        Simulates one frame of Gaussian atoms (σ 1.5 px, square lattice, Poisson noise, seeded) with \
        Gaussian-blob probability maps, then times each stage over --repeats runs and prints the median \
        and fastest run (and, for localization, their CPU time over all threads). The tiled-segmentation figure uses a pass-through segmenter, so it measures \
        only the cutting, reflect padding and blending around a network.
        """
    )

    @Option(help: "Frame side in pixels.") var size = 1024
    @Option(help: "Atom spacing in pixels.") var spacing = 12.0
    @Option(help: "Peak counts per atom (Poisson dose).") var dose = 1000.0
    @Option(help: "Tile side for the tiled-segmentation timing.") var tile = 256
    @Option(help: "Tile overlap.") var overlap = 32
    @Option(help: "Timed runs per stage.") var repeats = 5
    @Option(help: "Random seed of the simulated frame.") var seed: UInt64 = 1
    @Option(help: "Refitting rounds for atoms with close neighbours (0: fit each atom alone).") var neighbourRounds = 8

    func validate() throws {
        guard size >= 16, spacing >= 4, dose > 0, repeats >= 1, neighbourRounds >= 0 else {
            throw ValidationError("need --size ≥ 16, --spacing ≥ 4, --dose > 0, --repeats ≥ 1, --neighbour-rounds ≥ 0")
        }
    }

    func run() throws {
        let (raw, maps, count) = try simulate()
        print("frame \(size)×\(size), \(count) atoms, σ 1.5 px, dose \(dose), seed \(seed), \(ProcessInfo.processInfo.activeProcessorCount) cores")
        let normalization = try FrameNormalization()
        let tiler = try TiledSegmenter(tile: tile, overlap: overlap, batchSize: 4)
        let centroids = try AtomLocator(refinement: nil)
        let refined = try AtomLocator(refinement: GaussianRefinement(neighbourRounds: neighbourRounds))
        var found = 0, accepted = 0
        printTiming("normalize (1st/99.9th percentiles)", try timedRuns(repeats) { _ = try normalization.normalize(raw, width: size, height: size) })
        printTiming("tiled segment, pass-through \(tile)/\(overlap)", try timedRuns(repeats) {
            _ = try tiler.segment(raw, width: size, height: size) { tiles, _ in tiles + tiles }
        })
        printTiming("locate, centroids", try timedRunsWithCPU(repeats) { found = try centroids.locate(maps).count })
        printTiming("locate + Gaussian refinement", try timedRunsWithCPU(repeats) {
            accepted = try refined.locate(maps, frame: raw).filter(\.refined).count
        })
        print("atoms found \(found), refinements accepted \(accepted)")
    }

    /// A seeded lattice frame (Poisson counts) and its two-class Gaussian-blob probability maps.
    private func simulate() throws -> ([Float], ProbabilityMaps, Int) {
        var rng = SeededGenerator(seed: seed)
        func uniform() -> Double { rng.uniform() }
        var image = [Double](repeating: 0.1 * dose, count: size * size)
        var plane = [Float](repeating: 0, count: size * size)
        var count = 0
        for gy in stride(from: spacing / 2, to: Double(size) - 1, by: spacing) {
            for gx in stride(from: spacing / 2, to: Double(size) - 1, by: spacing) {
                let ax = gx + uniform() - 0.5, ay = gy + uniform() - 0.5
                count += 1
                for y in max(0, Int(ay) - 6)...min(size - 1, Int(ay) + 6) {
                    for x in max(0, Int(ax) - 6)...min(size - 1, Int(ax) + 6) {
                        let r2 = (Double(x) - ax) * (Double(x) - ax) + (Double(y) - ay) * (Double(y) - ay)
                        image[y * size + x] += dose * exp(-r2 / 4.5)
                        plane[y * size + x] = max(plane[y * size + x], Float(0.95 * exp(-r2 / 5.12)))
                    }
                }
            }
        }
        // Poisson counts by the normal approximation (the dose is high); enough for timing.
        let raw = image.map { mean -> Float in
            let u1 = max(uniform(), 1e-300), u2 = uniform()
            return Float(max(0, (mean + mean.squareRoot() * (-2 * log(u1)).squareRoot() * cos(2 * .pi * u2)).rounded()))
        }
        let maps = try ProbabilityMaps(classes: 2, width: size, height: size, values: plane.map { 1 - $0 } + plane)
        return (raw, maps, count)
    }
}
