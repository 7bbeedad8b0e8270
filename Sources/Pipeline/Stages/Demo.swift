import Core
import Foundation
import Simulation

/// `demo`: a movie simulated with known kinetics, analysed like any movie, and the recovered
/// kinetics set beside the true ones. It owns its folder: every run starts afresh in
/// `root/movie` and `root/analysis`.
public struct DemoRun {
    public let recipe: Recipe
    /// Model directory; nil picks the shipped model for `material`.
    public var model: String?
    /// nil: the shipped model for the recipe's lattice.
    public var material: String?

    public init(recipeFile: String, frames: Int) throws {
        recipe = try SimulationExport.recipe(at: recipeFile, frames: frames)
        guard recipe.movie != nil else { throw InputError("\(recipeFile): not a movie recipe (it has no \"movie\" section)") }
    }

    public struct Result {
        public var summary: AnalysisSummary
        public var comparison: TruthComparison
        public var analysisDirectory: URL
    }

    public func run(in root: URL, progress: Bool = true) throws -> Result {
        let movieDir = root.appendingPathComponent("movie"), analysisDir = root.appendingPathComponent("analysis")
        try OutputDirectory.prepare(root, markers: [], allowExisting: true)  // locked before its folders are replaced
        for dir in [movieDir, analysisDir] {
            try? FileManager.default.removeItem(at: dir)
            try OutputDirectory.prepare(dir, markers: [], allowExisting: false)
        }
        let truth = try SimulationExport.writeMovie(recipe: recipe, to: movieDir, progress: progress).summary
        var config = AnalysisConfig(movie: movieDir.appendingPathComponent(SimulationExport.movieFile).path)
        config.model = model
        config.material = material ?? (recipe.lattice.lowercased().contains("graphene") ? "graphene-si" : "ws2")
        config.frameTime = truth.frameTimeS
        var analysis = try Analysis(config: config, output: analysisDir)
        analysis.progress = progress
        let summary = try analysis.run()
        let comparison = try TruthComparison(truthDir: movieDir, analysisDir: analysisDir, summary: summary,
                                             radius: Self.matchRadius(truth))
        return Result(summary: summary, comparison: comparison, analysisDirectory: analysisDir)
    }

    /// Half a defect hop (px, at the movie's own pixel size): a defect found nearer than that
    /// to a true one sits on its site, not on a neighbouring one.
    static func matchRadius(_ truth: MovieSummary) -> Double {
        let hop = truth.diffusion.map(\.hopDistanceA).max() ?? 0
        return hop / 2 / truth.pixelSizeA
    }
}
