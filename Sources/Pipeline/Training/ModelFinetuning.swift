import Core
import Foundation
import Localization
import MicroscopyIO
import Networks
import Simulation
import Tensors

/// Fine-tunes a trained model on labelled frames of the movie it is to read (labels made from
/// the frames themselves), so that a microscope unlike the simulator's — other probe tails, scan
/// distortions, noise — is learned from the data in hand.
///
/// Each frame is split in two: the rightmost `holdOutFraction` of its columns is held out for
/// validation, and training crops (`tileSize`², augmented as in `train`: flips, rotations, scale,
/// contrast, gamma, blur, noise) are drawn from the rest only. The model is scored on the held-out
/// strips before the first step and every `validateEvery` steps; the best weights are kept, so
/// the result is never worse on the held-out strip than the model it started from.
///
/// Output directory: `model.safetensors`, `model.json` (the base card plus `finetuning`: what it
/// was tuned on), `training_log.csv`.
public struct ModelFinetuning {
    public struct Options: Codable, Sendable {
        public var steps = 200
        public var batchSize = 4
        /// Side of the training crops (px); nil: the base model's training tile, shrunk to fit.
        public var tileSize: Int?
        public var learningRate: Float = 5e-4
        public var validateEvery = 25
        /// Fraction of each frame's width (its rightmost columns) held out for validation.
        public var holdOutFraction = 0.25
        /// Label disc radius (Å), as the training recipes draw them.
        public var labelRadius = 0.5
        public var seed: UInt64 = 1
        public var threads = ProcessInfo.processInfo.activeProcessorCount
        public init() {}

        /// Refuses settings that would trap or fail after the output directory is made.
        public func validate() throws {
            let require = InputError.require
            try require((1...100_000).contains(steps), "--steps", steps, "expected 1–10⁵")
            try require((1...256).contains(batchSize), "--batch-size", batchSize, "expected 1–256")
            if let t = tileSize { try require((16...4096).contains(t), "--tile", t, "expected 16–4096 px") }
            try require(learningRate.isFinite && learningRate > 0 && learningRate <= 1, "--learning-rate", learningRate, "expected 0 < rate ≤ 1")
            try require((1...100_000).contains(validateEvery), "--validate-every", validateEvery, "expected 1–10⁵ steps")
            try require(holdOutFraction >= 0.1 && holdOutFraction <= 0.5, "--hold-out", holdOutFraction, "expected 0.1–0.5 of the width")
            try require(labelRadius > 0 && labelRadius <= 5, "--label-radius", labelRadius, "expected 0 < radius ≤ 5 Å")
            try require((1...1024).contains(threads), "--threads", threads, "expected 1–1024")
        }
    }

    /// The augmentation of fine-tuning crops: rotations, flips, scale, contrast, gamma, blur and
    /// noise as the shipped recipes draw them, without the simulator-only extras.
    public static let augmentation: Augmentation = {
        var a = Augmentation()
        a.flipsAndRotations = true
        a.zoom = [1, 1.3]
        a.contrast = [0.8, 1.2]
        a.gamma = [0.85, 1.15]
        a.blur = [0.3, 1.0]; a.blurProbability = 0.2
        a.gaussianNoise = [0, 0.03]
        return a
    }()

    public let base: TrainedModel
    public let frames: [LabelledFrame]
    public let source: ModelCard.Finetuning.Source
    public let options: Options
    public let outputDirectory: URL
    let tile: Int

    public static let logFile = "training_log.csv"
    /// A directory holding one of these holds a model.
    public static let markers = [TrainedModel.weightsFile, TrainedModel.cardFile, logFile]

    public init(base: TrainedModel, frames: [LabelledFrame], source: ModelCard.Finetuning.Source,
                options: Options, outputDirectory: URL) throws {
        try options.validate()
        guard let first = frames.first else { throw InputError("no frames to fine-tune on") }
        guard outputDirectory.standardizedFileURL.resolvingSymlinksInPath() != base.directory.standardizedFileURL.resolvingSymlinksInPath() else {
            throw InputError("\(outputDirectory.path): is the model being tuned; give another --out")
        }
        let m = 1 << base.network.modelDescription.depth
        let trainWidth = frames.map { Self.trainingWidth($0.width, holdOut: options.holdOutFraction) }.min() ?? 0
        let fits = min(trainWidth, frames.map(\.height).min() ?? first.height) / m * m
        let wanted = options.tileSize ?? base.card.training.tileSize
        guard fits >= max(16, m) else {
            throw InputError("frames of \(first.width)×\(first.height) px are too small to fine-tune on: the training part must be at least \(max(16, m)) px")
        }
        guard wanted % m == 0 else { throw InputError("--tile \(wanted) is invalid: expected a multiple of \(m) px") }
        guard wanted <= fits || options.tileSize == nil else {
            throw InputError("--tile \(wanted) is invalid: the training part of the frames allows at most \(fits) px")
        }
        guard frames.contains(where: { !$0.points.isEmpty }) else { throw InputError("the labelled frames hold no atoms to learn from") }
        tile = min(wanted, fits)
        self.base = base; self.frames = frames; self.source = source
        self.options = options; self.outputDirectory = outputDirectory
    }

    /// Columns of a frame of `width` px left for training (the rest is held out).
    static func trainingWidth(_ width: Int, holdOut: Double) -> Int {
        width - heldOutWidth(width, holdOut: holdOut)
    }

    static func heldOutWidth(_ width: Int, holdOut: Double) -> Int { max(1, Int((Double(width) * holdOut).rounded())) }

    /// Trains from the base weights; returns the card written (with the held-out scores before and after).
    @discardableResult
    public func run(progress: Bool = true) throws -> ModelCard {
        BLASThreads.set(options.threads)
        let start = Date()
        let network = try Checkpoint.load(from: base.directory.appendingPathComponent(TrainedModel.weightsFile)).model
        let optimizer = Optimizer(.adam(learningRate: options.learningRate),
                                  schedule: .cosine(totalSteps: options.steps, minimum: options.learningRate * 0.02))
        let trainer = Trainer(model: network, loss: .crossEntropy(classWeights: nil), optimizer: optimizer)
        let validation = heldOutItems()
        let before = try evaluate(network, on: validation)
        var best = (score: meanF1(before), step: 0, evaluation: before)
        try save(network, card: card(best: best, before: before, seconds: 0))
        var log = "step,loss,pixel_accuracy,learning_rate,val_mean_f1\n0,,,,\(best.score)\n"
        let bar = ProgressBar("finetune \(base.card.name)", total: options.steps, unit: "steps", quiet: !progress)
        var lossAverage: Double?
        for step in 1...options.steps {
            let (images, labels) = try batch(step: step - 1)
            let result = try trainer.step(images: images, labels: labels)
            lossAverage = lossAverage.map { 0.9 * $0 + 0.1 * result.loss } ?? result.loss
            var score = ""
            if step % options.validateEvery == 0 || step == options.steps {
                let e = try evaluate(network, on: validation)
                score = "\(meanF1(e))"
                if meanF1(e) > best.score {
                    best = (meanF1(e), step, e)
                    try save(network, card: card(best: best, before: before, seconds: Date().timeIntervalSince(start)))
                }
            }
            log += "\(step),\(result.loss),\(result.accuracy),\(result.learningRate),\(score)\n"
            bar.advance(status: String(format: "loss %.4f  held-out F1 %.4f (step %d)", lossAverage ?? 0, best.score, best.step))
        }
        bar.finish()
        let final = card(best: best, before: before, seconds: Date().timeIntervalSince(start))
        try AtomicFile.write(final.jsonData(), to: outputDirectory.appendingPathComponent(TrainedModel.cardFile))
        try AtomicFile.writeText(log, to: outputDirectory.appendingPathComponent(Self.logFile))
        return final
    }

    // MARK: - data

    /// Batch `step`: random training crops of random frames, augmented, normalized as inference normalizes.
    func batch(step: Int) throws -> (Tensor, LabelMaps) {
        let n = options.batchSize, t = tile
        return try TrainingPair.batch(parallelMap(n) { i in trainingPair(index: step * n + i) }, width: t, height: t)
    }

    /// Item `index`: a crop from the training part of a frame, then the augmentation; depends only on (seed, index).
    func trainingPair(index: Int) -> TrainingPair {
        var rng = SeededGenerator(seed: options.seed, index: index)
        let f = frames[rng.int(frames.count)]
        let t = tile
        let x0 = rng.int(Self.trainingWidth(f.width, holdOut: options.holdOutFraction) - t + 1), y0 = rng.int(f.height - t + 1)
        let crop = f.crop(x: x0, y: y0, width: t, height: t)
        return Self.augmentation.pair(from: crop, classNames: base.card.classes.map(\.name),
                                      labelRadius: options.labelRadius, rng: &rng)
    }

    /// Each frame's held-out strip (its rightmost columns) with its labels; atoms found at its
    /// undecided sites are not scored (neither hits nor false positives).
    func heldOutItems() -> [ModelEvaluation.Item] {
        frames.enumerated().map { i, f in
            let w = Self.heldOutWidth(f.width, holdOut: options.holdOutFraction)
            let strip = f.crop(x: f.width - w, y: 0, width: w, height: f.height)
            return ModelEvaluation.Item(name: "held-out strip \(i)", pixels: strip.image, width: w, height: f.height,
                                        pixelSize: f.pixelSize,
                                        truth: strip.points.map { ReferencePoint(x: $0.x, y: $0.y, classIndex: $0.label) },
                                        unscored: strip.ignored.map { ($0.x, $0.y) })
        }
    }

    func evaluate(_ network: SegmentationModel, on items: [ModelEvaluation.Item]) throws -> ModelCard.Evaluation {
        let model = TrainedModel(directory: outputDirectory, card: base.card, network: network)
        let evaluation = ModelEvaluation(finder: try AtomFinder(model: model))
        let rows = try evaluation.score(items, dataset: "held-out", dose: nil, progress: false)
        let radius = evaluation.radiusFraction * base.card.columnSpacingPixels(pixelSize: frames[0].pixelSize)
        return ModelCard.Evaluation(
            dataset: "held-out strips (rightmost \(Int(options.holdOutFraction * 100)) % of the columns) of the labelled frames, against their labels",
            matchRadiusPx: radius,
            perClass: rows.map { ModelCard.ClassMetrics(className: $0.className, pixelIoU: nil, precision: $0.precision,
                                                          recall: $0.recall, f1: $0.f1, rmsePx: $0.rmsePx) },
            note: nil)
    }

    func meanF1(_ e: ModelCard.Evaluation) -> Double { e.perClass.map(\.f1).reduce(0, +) / Double(max(1, e.perClass.count)) }

    // MARK: - output

    func save(_ network: SegmentationModel, card: ModelCard) throws {
        try Checkpoint.save(model: network, to: outputDirectory.appendingPathComponent(TrainedModel.weightsFile))
        try AtomicFile.write(card.jsonData(), to: outputDirectory.appendingPathComponent(TrainedModel.cardFile))
    }

    func card(best: (score: Double, step: Int, evaluation: ModelCard.Evaluation), before: ModelCard.Evaluation,
              seconds: Double) -> ModelCard {
        var c = base.card
        c.name = outputDirectory.lastPathComponent
        c.description = "\(base.card.name) fine-tuned on frame(s) \(source.frames.map(String.init).joined(separator: ", ")) of \(URL(fileURLWithPath: source.movie).lastPathComponent)"
        c.evaluations = [best.evaluation] + base.card.evaluations
        // Tuned weights void the base model's class-probability calibration (`atomtrack calibrate` refits it).
        c.classCalibration = best.step == 0 ? base.card.classCalibration : nil
        c.finetuning = ModelCard.Finetuning(
            baseModel: base.card.name, baseDirectory: base.directory.path, source: source,
            steps: options.steps, bestStep: best.step, batchSize: options.batchSize, tileSize: tile,
            learningRate: options.learningRate, holdOutFraction: options.holdOutFraction, seed: options.seed,
            seconds: seconds, date: ISO8601DateFormatter().string(from: Date()), atomtrackVersion: atomTrackVersion,
            heldOutBefore: before, heldOutAfter: best.evaluation)
        return c
    }
}

extension LabelledFrame {
    /// The window (x, y, width, height) of this frame, with the labelled and undecided columns inside it in its pixels.
    func crop(x x0: Int, y y0: Int, width w: Int, height h: Int) -> LabelledFrame {
        var pixels = [Float](repeating: 0, count: w * h)
        for y in 0..<h {
            let row = (y0 + y) * width + x0
            pixels.replaceSubrange(y * w..<(y + 1) * w, with: image[row..<row + w])
        }
        let inside = { (points: [LabelledPoint]) in
            points.map { LabelledPoint(x: $0.x - Double(x0), y: $0.y - Double(y0), label: $0.label) }
                .filter { $0.x > -0.5 && $0.y > -0.5 && $0.x < Double(w) - 0.5 && $0.y < Double(h) - 0.5 }
        }
        return LabelledFrame(image: pixels, width: w, height: h, pixelSize: pixelSize, points: inside(points),
                             ignored: inside(ignored), dose: dose)
    }
}
