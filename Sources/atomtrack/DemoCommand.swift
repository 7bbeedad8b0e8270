import ArgumentParser
import Foundation
import Pipeline

struct Demo: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Simulate a WS2 movie with known kinetics, analyze it, and compare with the truth.",
        discussion: """
        Runs `simulate` on TrainingData/movie-ws2.json (Mo dopants hopping on the W sublattice and \
        switching between Mo_W and Mo_W+V_S), then `analyze` with the shipped tmd-ws2 model, and \
        prints the recovered diffusion coefficients and transition matrix next to the true ones. \
        OUT/movie holds the movie and its truth, OUT/analysis the results and report.html. \
        Without --model or --material, the shipped model for the recipe's lattice is used.
        """)

    @Option(help: "Movie recipe.") var recipe = "TrainingData/movie-ws2.json"
    @Option(help: "Frames to simulate.") var frames = 100
    @Option(help: "Output directory.") var out = "demo-out"
    @OptionGroup var modelChoice: ModelChoice
    @Flag(help: "No progress bars.") var quiet = false

    func run() throws {
        try reportingErrors {
            var demo = try DemoRun(recipeFile: recipe, frames: frames)
            demo.model = modelChoice.model
            demo.material = modelChoice.material
            let r = try demo.run(in: URL(fileURLWithPath: out), progress: !quiet)
            printSummary(r.summary, dir: r.analysisDirectory)
            print("\n— recovered vs true —")
            print(r.comparison.text, terminator: "")
        }
    }
}
