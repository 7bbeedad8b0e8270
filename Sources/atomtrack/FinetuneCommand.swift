import ArgumentParser
import Core
import Foundation
import Pipeline

struct Finetune: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Fine-tune a trained model on labelled frames of the movie it is to read.",
        discussion: """
        Labels the chosen frames from themselves (Fourier lattice: every site of the reconstructed periodic \
        lattice that holds a column, in the class of what it holds; see `lattice`), or from --labels TABLE \
        (a frame,x,y,class table such as a checked atoms.csv), then trains from the model's weights on augmented crops of them (flips, rotations, scale, contrast, \
        gamma, blur, noise). --hold-out of each frame, as patches spread over it, is never trained on: the \
        model is scored on them before the first step and every --validate-every steps, and a step's weights \
        are kept only when they beat the model as given beyond noise (else step 0, the model as given, is \
        written): by default (--keep-rule independent) when some class's held-out F1 or RMSE is better by > 2σ \
        of its counts and none worse by > 2σ; with --keep-rule paired when, on the same held-out columns, some \
        class's paired t of the per-column loss improvement passes a one-sided 2.28 % false-keep threshold \
        shared among the checks and classes, and no class's t is below −2. training_log.csv lists both rules' \
        statistics at each check, the card which step was kept and why. OUT is a normal model directory \
        (model.safetensors, model.json, training_log.csv) whose card records the movie, frames, checksum, \
        labels, steps and the held-out scores before and after; use it with --model OUT.
        """)

    @OptionGroup var modelChoice: ModelChoice
    @Option(help: "Movie whose frames to learn from.") var movie: String
    @Option(help: "Frames to label and train on, comma-separated (e.g. 0 or 0,1,2).") var frames = "0"
    @Option(help: "Labels from a frame,x,y,class table (atoms.csv, truth_atoms.csv) in the movie's frame numbers, instead of the Fourier lattice labels.")
    var labels: String?
    @OptionGroup var pixelSize: PixelSizeOption
    @OptionGroup var signal: SignalOption
    @Option(help: "Optimizer steps.") var steps = 200
    @Option(help: "Crops per step.") var batchSize = 4
    @Option(help: "Training crop side in px (default: the model's training tile, shrunk to fit).") var tile: Int?
    @Option(help: "Adam learning rate (cosine-annealed to 2 % of it).") var learningRate: Float = 5e-4
    @Option(help: "Score on the held-out patches every N steps.") var validateEvery = 25
    @Option(help: "Fraction of each frame held out for validation (patches of a 4 × 4 grid spread over it).") var holdOut = 0.25
    @Option(help: "Seed of the crops and augmentation.") var seed: UInt64 = 1
    @Option(help: "Rule that keeps a step's weights: independent (class scores beyond 2σ of their counts, the default) or paired (per-column paired t on the same held-out columns).")
    var keepRule = ModelFinetuning.KeepRule.independent
    @Option(help: "Threads (BLAS and crops).") var threads = ProcessInfo.processInfo.activeProcessorCount
    @OptionGroup var output: OutputOptions

    var options: ModelFinetuning.Options {
        var o = ModelFinetuning.Options()
        o.steps = steps; o.batchSize = batchSize; o.tileSize = tile; o.learningRate = learningRate
        o.validateEvery = validateEvery; o.holdOutFraction = holdOut; o.seed = seed; o.threads = threads
        o.keepRule = keepRule
        return o
    }

    func run() throws {
        try reportingErrors {
            let finetuning = try Self.prepare(model: modelChoice, movie: movie, frames: Self.frameList(frames), labels: labels,
                                              pixelSize: pixelSize.checked(), signal: signal.signal, options: options,
                                              out: output.directory)
            try output.prepare(markers: ModelFinetuning.markers,
                               inputs: [.init(movie, streamed: true)] + (labels.map { [.init($0)] } ?? []) + [
                                        .init(finetuning.base.directory.appendingPathComponent(TrainedModel.weightsFile).path)])
            if output.overwrite { ModelTraining.discardEarlierRun(in: output.directory) }
            let card = try finetuning.run(progress: output.progress)
            printFinetuned(card, dir: output.directory)
        }
    }

    /// Everything checked and loaded (model, movie, frames, labels, options) before OUT is made.
    static func prepare(model: ModelChoice, movie: String, frames: [Int], labels: String?, pixelSize: Double?,
                        signal: String?, options: ModelFinetuning.Options, out: URL) throws -> ModelFinetuning {
        try options.validate()
        let base = try TrainedModel(at: ShippedModels.resolve(model: model.model, material: model.material))
        let (labelled, source) = try ModelFinetuning.labelledFrames(
            movie: movie, signal: signal, frames: frames, pixelSize: pixelSize, model: base,
            labels: FrameLabels.make(table: labels, card: base.card))
        return try ModelFinetuning(base: base, frames: labelled, source: source, options: options, outputDirectory: out)
    }

    /// `--frames 0,3,5` → [0, 3, 5]; duplicates and non-numbers are refused.
    static func frameList(_ text: String) throws -> [Int] {
        let parts = text.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
        let numbers = parts.compactMap { Int($0) }
        guard numbers.count == parts.count, !numbers.isEmpty, Set(numbers).count == numbers.count else {
            throw InputError("--frames \(text) is invalid: expected distinct frame numbers separated by commas, e.g. 0 or 0,1,2")
        }
        return numbers
    }
}

extension FrameLabels {
    /// The table's labels when one is given, else the Fourier lattice's.
    static func make(table: String?, card: ModelCard) throws -> FrameLabels {
        try table.map { try .table($0, card: card) } ?? .lattice(card: card)
    }
}

/// The fine-tuned model and its held-out scores before and after.
func printFinetuned(_ card: ModelCard, dir: URL) {
    guard let f = card.finetuning else { return }
    print("model: \(dir.path)/\(TrainedModel.weightsFile) (best step \(f.bestStep) of \(f.steps), \(f.source.labelledAtoms) labelled atoms\(f.source.undecidedSites.map { ", \($0) undecided sites" } ?? ""), \(String(format: "%.0f", f.seconds)) s)")
    if let why = f.keptBecause { print(why) }
    print("held-out patches, before → after:")
    for (b, a) in zip(f.heldOutBefore.perClass, f.heldOutAfter.perClass) {
        print(String(format: "  %-6@ F1 %.4f → %.4f  RMSE %.3f → %.3f px", a.className as NSString, b.f1, a.f1,
                     b.rmsePx ?? .nan, a.rmsePx ?? .nan))
    }
}

extension ModelFinetuning.KeepRule: ExpressibleByArgument {}
