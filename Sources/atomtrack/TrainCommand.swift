import ArgumentParser
import Foundation
import MicroscopyIO
import Pipeline
import Simulation

struct Train: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Train a segmentation U-Net on simulated frames streamed from a recipe.",
        discussion: """
        Batches are simulated and augmented on the fly from the recipe (TrainingData/*.json), so
        nothing is stored on disk. Every --validate-every steps the model is scored on a fixed
        held-out simulated set (pixel IoU, atom precision/recall/F1, localization RMSE); the best
        model is kept as OUT/model.safetensors with its card OUT/model.json. OUT/checkpoint.safetensors
        holds the last weights and optimizer state: --resume continues from it exactly.
        """)

    @Option(help: "Training recipe (JSON), e.g. TrainingData/graphene-si.json.") var recipe: String
    @Option(help: "Output model directory, e.g. Models/graphene-si.") var out: String
    @Option(help: "Optimizer steps.") var steps = 2000
    @Option(help: "Images per step.") var batchSize = 8
    @Option(help: "Training crop side in px (default: the recipe's frame size).") var tile: Int?
    @Option(help: "Adam learning rate (cosine-annealed to 2 % of it).") var learningRate: Float = 2e-3
    @Option(help: "U-Net filters at the first level.") var baseFilters = 16
    @Option(help: "U-Net pooling levels.") var depth = 3
    @Option(help: "Validate and checkpoint every N steps.") var validateEvery = 100
    @Option(help: "Held-out simulated frames for validation.") var validationFrames = 16
    @Option(help: "Stop after N validations without improvement.") var patience = 8
    @Option(help: "Seed of the weight initialisation.") var seed: UInt64 = 1
    @Option(help: "Threads (BLAS and simulation).") var threads = ProcessInfo.processInfo.activeProcessorCount
    @Flag(help: "Continue from OUT/checkpoint.safetensors.") var resume = false
    @Flag(help: "Replace an existing model in OUT.") var overwrite = false
    @Flag(help: "No progress bar.") var quiet = false

    func run() throws {
        try reportingErrors {
            let data = try readFile(recipe)
            var options = ModelTraining.Options()
            options.steps = steps; options.batchSize = batchSize; options.tileSize = tile
            options.learningRate = learningRate; options.baseFilters = baseFilters; options.depth = depth
            options.validateEvery = validateEvery; options.validationFrames = validationFrames
            options.patience = patience; options.seed = seed; options.threads = threads
            let outURL = URL(fileURLWithPath: out)
            try OutputDirectory.prepare(outURL, markers: [ModelTraining.checkpointFile, "model.safetensors"],
                                        allowExisting: resume || overwrite)
            if overwrite && !resume {
                for f in [ModelTraining.checkpointFile, ModelTraining.logFile] {
                    try? FileManager.default.removeItem(at: outURL.appendingPathComponent(f))
                }
            }
            let training = try ModelTraining(recipe: try Recipe.decode(data), options: options, outputDirectory: outURL)
            let card = try training.run(resume: resume, progress: !quiet)
            print("model: \(outURL.path)/model.safetensors (best step \(card.training.bestStep))")
            for e in card.evaluations {
                print("validation (\(e.dataset)), match radius \(String(format: "%.2f", e.matchRadiusPx)) px:")
                for m in e.perClass {
                    print(String(format: "  %-10@ IoU %.4f  P %.4f  R %.4f  F1 %.4f  RMSE %.3f px", m.className as NSString,
                                 m.pixelIoU ?? .nan, m.precision, m.recall, m.f1, m.rmsePx ?? .nan))
                }
            }
        }
    }
}
