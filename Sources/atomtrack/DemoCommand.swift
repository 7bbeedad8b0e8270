import ArgumentParser
import Foundation
import Pipeline
import Simulation

struct Demo: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Simulate a WS2 movie with known kinetics, analyze it, and compare with the truth.",
        discussion: """
        Runs `simulate` on TrainingData/movie-ws2.json (Mo dopants hopping on the W sublattice and
        switching between Mo_W and Mo_W+V_S), then `analyze` with the shipped tmd-ws2 model, and
        prints the recovered diffusion coefficients and transition matrix next to the true ones.
        OUT/movie holds the movie and its truth, OUT/analysis the results and report.html.
        """)

    @Option(help: "Movie recipe.") var recipe = "TrainingData/movie-ws2.json"
    @Option(help: "Frames to simulate.") var frames = 100
    @Option(help: "Output directory.") var out = "demo-out"
    @Option(help: "Model directory (default: shipped model for the recipe's lattice).") var model: String?
    @Flag(help: "No progress bars.") var quiet = false

    func run() throws {
        try reportingErrors {
            var r = try Recipe.decode(try readFile(recipe))
            r.movie?.frames = frames
            let root = URL(fileURLWithPath: out)
            let movieDir = root.appendingPathComponent("movie"), analysisDir = root.appendingPathComponent("analysis")
            // The demo owns its folder: it always starts afresh.
            try? FileManager.default.removeItem(at: movieDir)
            try? FileManager.default.removeItem(at: analysisDir)
            try OutputDirectory.prepare(movieDir, markers: [], allowExisting: false)
            try OutputDirectory.prepare(analysisDir, markers: [], allowExisting: false)
            let truth = try SimulationExport.writeMovie(recipe: r, to: movieDir, progress: !quiet)
            var config = AnalysisConfig(movie: movieDir.appendingPathComponent(SimulationExport.movieFile).path)
            config.model = model
            config.material = r.lattice.lowercased().contains("graphene") ? "graphene-si" : "ws2"
            config.frameTime = truth.summary.frameTimeS
            var analysis = Analysis(config: config, output: analysisDir)
            analysis.progress = !quiet
            let summary = try analysis.run()
            printSummary(summary, dir: analysisDir)
            let spacing = summary.pixelSizeA > 0 ? 1.5 / summary.pixelSizeA : 5
            let comparison = try TruthComparison(truthDir: movieDir, analysisDir: analysisDir, summary: summary, radius: spacing)
            print("\n— recovered vs true —")
            print(comparison.text, terminator: "")
        }
    }
}
