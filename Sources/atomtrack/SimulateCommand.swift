import ArgumentParser
import Core
import Foundation
import Pipeline

struct Simulate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Simulate a STEM movie with ground truth, or a training set, from a recipe.",
        discussion: """
        A recipe with a "movie" section writes OUT/movie.tif (float32 stack, pixel size in Å in its \
        metadata), movie.json, truth_atoms.csv (frame,x,y,class,defect_id), truth_defects.csv \
        (frame,defect_id,x,y,state) and truth.json (pixel size, frame time, dose, probe, classes, \
        true D per state, true transition matrix, seed). Any other recipe writes --count training \
        pairs: images.tif, masks.tif (class per pixel, background last), points.csv. \
        The same recipe and seed give byte-identical files.
        """)

    @Option(help: "Recipe (JSON), e.g. TrainingData/movie-ws2.json.") var recipe: String
    @OptionGroup var output: OutputOptions
    @Option(help: "Override the recipe's seed.") var seed: UInt64?
    @Option(help: "Override the number of movie frames.") var frames: Int?
    @Option(help: "Override the movie dose (e/Å²).") var dose: Double?
    @Option(help: "Training pairs to write (training recipes).") var count = 16

    func run() throws {
        try reportingErrors {
            let r = try SimulationExport.recipe(at: recipe, seed: seed, frames: frames, dose: dose)
            try InputError.require((1...1_000_000).contains(count), "--count", count, "expected 1–10⁶ training pairs")
            let dir = try output.prepare(markers: SimulationExport.markers, inputs: [.init(recipe)])
            switch try SimulationExport.write(recipe: r, trainingPairs: count, to: dir, progress: output.progress) {
            case let .movie(frames, width, height, pixelSize):
                print("movie: \(dir.path)/\(SimulationExport.movieFile)  (\(frames) frames, \(width)×\(height) px, \(pixelSize) Å/px)")
            case let .trainingSet(pairs):
                print("training set: \(dir.path) (\(pairs) pairs)")
            }
        }
    }
}
