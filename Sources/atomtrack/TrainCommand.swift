import ArgumentParser
import CommandLineOptions
import Foundation
import Pipeline

struct Train: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Train a segmentation U-Net on simulated frames streamed from a recipe.",
        discussion: """
        Batches are simulated and augmented on the fly from the recipe (TrainingData/*.json), so \
        nothing is stored on disk. Every --validate-every steps the model is scored on a fixed \
        held-out simulated set (pixel IoU, atom precision/recall/F1, localization RMSE); the best \
        model is kept as OUT/model.safetensors with its card OUT/model.json (OUT is the model \
        directory, e.g. Models/graphene-si). OUT/checkpoint.safetensors holds the last weights and \
        optimizer state: --resume continues from it exactly.
        """)

    @Option(help: "Training recipe (JSON), e.g. TrainingData/graphene-si.json.") var recipe: String
    @OptionGroup var output: OutputOptions
    @OptionGroup var hyperparameters: TrainingHyperparameters
    @Flag(help: "Continue from OUT/checkpoint.safetensors.") var resume = false
    @Option(help: ArgumentHelp("Warm start: begin from this model's weights (e.g. Models/graphene-si; same classes as the recipe), recorded in the card.",
                               valueName: "MODEL-DIR")) var from: String?

    var options: ModelTraining.Options {
        var o = hyperparameters.options
        o.initialModel = from
        return o
    }

    func run() throws {
        try reportingErrors {
            let r = try SimulationExport.recipe(at: recipe)
            let training = try ModelTraining(recipe: r, options: options, outputDirectory: output.directory)  // checked before OUT is made
            let dir = try output.prepare(markers: ModelTraining.markers, resuming: resume,
                                         inputs: from.map { [.init($0)] } ?? [])
            if output.overwrite && !resume { ModelTraining.discardEarlierRun(in: dir) }
            let card = try training.run(resume: resume, progress: output.progress)
            print("model: \(dir.path)/model.safetensors (best step \(card.training.bestStep))")
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
