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
/// `holdOutFraction` of each frame is held out for validation as patches spread over it (`heldOutPatches`:
/// a strip at one edge may be atypical and holds few columns): their labels are an ignore region in every
/// training crop (`tileSize`², drawn anywhere, augmented as in `train`: flips, rotations, scale, contrast,
/// gamma, blur, noise). The model is scored on the patches before the first step and every `validateEvery`
/// steps; a step's weights are kept only when they beat the model it started from beyond the noise of the
/// held-out counts (`Gain`; or, opt-in, column by column on the same held-out columns: `PairedGain`), so a
/// lucky step on a few columns is not taken for an improvement. The log records both rules' statistics.
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
        /// Fraction of each frame held out for validation (`heldOutPatches` of a 4 × 4 grid).
        public var holdOutFraction = 0.25
        /// Label disc radius (Å), as the training recipes draw them.
        public var labelRadius = 0.5
        public var seed: UInt64 = 1
        /// The rule that keeps a check step's weights (`Gain`, or `PairedGain`: opt-in, docs/ACCURACY.md "issue #23, session 10").
        public var keepRule = KeepRule.independent
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
            try require(holdOutFraction >= 0.1 && holdOutFraction <= 0.5, "--hold-out", holdOutFraction, "expected 0.1–0.5 of the frame")
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
    /// The frames with their held-out patches an ignore region (what the training crops are cut from).
    let trainingFrames: [LabelledFrame]

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
        let fits = min(frames.map(\.width).min() ?? first.width, frames.map(\.height).min() ?? first.height) / m * m
        let wanted = options.tileSize ?? base.card.training.tileSize
        guard fits >= max(16, m) else {
            throw InputError("frames of \(first.width)×\(first.height) px are too small to fine-tune on: at least \(max(16, m)) px")
        }
        guard wanted % m == 0 else { throw InputError("--tile \(wanted) is invalid: expected a multiple of \(m) px") }
        guard wanted <= fits || options.tileSize == nil else {
            throw InputError("--tile \(wanted) is invalid: the frames allow at most \(fits) px")
        }
        guard frames.contains(where: { !$0.points.isEmpty }) else { throw InputError("the labelled frames hold no atoms to learn from") }
        tile = min(wanted, fits)
        self.base = base; self.frames = frames; self.source = source
        trainingFrames = frames.map { Self.withPatchesIgnored($0, holdOut: options.holdOutFraction, labelRadius: options.labelRadius) }
        self.options = options; self.outputDirectory = outputDirectory
    }

    /// Grid cells per side of which `heldOutPatches` are held out.
    static let patchGrid = 4

    /// The held-out patches (x, y, width, height) of a `width` × `height` frame: round(fraction × 16) cells
    /// of a 4 × 4 grid, at most two per grid row and column, spread over the frame (cell (r, (3r + 1 + 2k) mod 4)
    /// for the k-th round of rows r), so that the held-out columns are not one edge's.
    static func heldOutPatches(width: Int, height: Int, holdOut: Double) -> [(x: Int, y: Int, width: Int, height: Int)] {
        let n = patchGrid, count = min(2 * n, max(1, Int((holdOut * Double(n * n)).rounded())))
        return (0..<count).map { k in
            let r = k % n, c = (3 * r + 1 + 2 * (k / n)) % n
            let x0 = c * width / n, y0 = r * height / n
            return (x0, y0, (c + 1) * width / n - x0, (r + 1) * height / n - y0)
        }
    }

    /// The frame for training: its held-out patches, grown by a label disc (`labelRadius` Å) so that no disc of a
    /// column outside reaches in, lose their labels and are covered by undecided points (ignore discs of
    /// ≥ 1 px radius on a grid of that spacing): no crop learns what the patches are scored against.
    static func withPatchesIgnored(_ f: LabelledFrame, holdOut: Double, labelRadius: Double) -> LabelledFrame {
        let pad = Int((labelRadius / f.pixelSize).rounded(.up)) + 1
        let regions = heldOutPatches(width: f.width, height: f.height, holdOut: holdOut).map {
            (x: max(0, $0.x - pad), y: max(0, $0.y - pad), right: min(f.width, $0.x + $0.width + pad), bottom: min(f.height, $0.y + $0.height + pad))
        }
        let inside = { (p: LabelledPoint) in
            regions.contains { Double($0.x) - 0.5 <= p.x && p.x < Double($0.right) - 0.5 && Double($0.y) - 0.5 <= p.y && p.y < Double($0.bottom) - 0.5 }
        }
        let spacing = max(1, Int(ignoreRadius / f.pixelSize))   // the ignore discs' radius in px, as `Augmentation.pair` draws them
        let cover = regions.flatMap { r -> [LabelledPoint] in
            let xs = Array(stride(from: r.x, to: r.right, by: spacing)) + [r.right - 1]
            let ys = Array(stride(from: r.y, to: r.bottom, by: spacing)) + [r.bottom - 1]
            return ys.flatMap { y in xs.map { x in LabelledPoint(x: Double(x), y: Double(y), label: -1) } }
        }
        return LabelledFrame(image: f.image, width: f.width, height: f.height, pixelSize: f.pixelSize,
                             points: f.points.filter { !inside($0) }, ignored: f.ignored.filter { !inside($0) } + cover, dose: f.dose)
    }

    /// Radius (Å) of the ignore discs `Augmentation.pair` draws (its default).
    static let ignoreRadius = 1.0

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
        let before = try score(network, on: validation)
        let classes = before.rows.map(\.className), tests = checkCount * classes.count
        // The independent rule never kept a step whose summed gain was ≤ 0; the paired rule keeps any that passes.
        var best = (score: options.keepRule == .paired ? -Double.infinity : 0, step: 0, evaluation: before)
        var reason = Reason(rule: options.keepRule, classes: classes, checks: checkCount)
        try save(network, card: card(best: best, before: before, reason: reason.text, seconds: 0))
        let itself = PairedGain(before.columnLosses, before.columnLosses, tests: tests)   // step 0: t = 0
        var log = Self.logHeader(classes: classes) + "0,,,,\(meanF1(before)),0,0,0,"
            + Self.logColumns(itself) + "\n"
        let bar = ProgressBar("finetune \(base.card.name)", total: options.steps, unit: "steps", quiet: !progress)
        var lossAverage: Double?
        for step in 1...options.steps {
            let (images, labels) = try batch(step: step - 1)
            let result = try trainer.step(images: images, labels: labels)
            lossAverage = lossAverage.map { 0.9 * $0 + 0.1 * result.loss } ?? result.loss
            var validationColumns = String(repeating: ",", count: 4 + 2 * classes.count)
            if isCheck(step) {
                let e = try score(network, on: validation)
                let gain = Gain(before, e), paired = PairedGain(before.columnLosses, e.columnLosses, tests: tests)
                let independentKeeps = gain.isBeyondNoise && gain.total > 0
                validationColumns = "\(meanF1(e)),\(gain.total),\(gain.worst),\(independentKeeps ? 1 : 0),"
                    + Self.logColumns(paired)
                let (keeps, merit) = options.keepRule == .paired ? (paired.isKept, paired.total) : (independentKeeps, gain.total)
                reason.record(step: step, paired: paired, gain: gain, kept: keeps && merit > best.score)
                if keeps && merit > best.score {
                    best = (merit, step, e)
                    try save(network, card: card(best: best, before: before, reason: reason.text, seconds: Date().timeIntervalSince(start)))
                }
            }
            log += "\(step),\(result.loss),\(result.accuracy),\(result.learningRate),\(validationColumns)\n"
            bar.advance(status: String(format: "loss %.4f  held-out F1 %.4f (step %d)", lossAverage ?? 0, meanF1(best.evaluation), best.step))
        }
        bar.finish()
        let final = card(best: best, before: before, reason: reason.text, seconds: Date().timeIntervalSince(start))
        try AtomicFile.write(final.jsonData(), to: outputDirectory.appendingPathComponent(TrainedModel.cardFile))
        try AtomicFile.writeText(log, to: outputDirectory.appendingPathComponent(Self.logFile))
        return final
    }

    /// Steps scored on the held-out patches: every `validateEvery`-th and the last.
    func isCheck(_ step: Int) -> Bool { step % options.validateEvery == 0 || step == options.steps }
    var checkCount: Int { (1...options.steps).filter(isCheck).count }

    /// `training_log.csv`'s header: the independent rule's summed and worst gain (σ) and whether it would keep
    /// the step, the paired t and its threshold per class, and whether the paired rule would keep the step.
    static func logHeader(classes: [String]) -> String {
        "step,loss,pixel_accuracy,learning_rate,val_mean_f1,val_gain_sigma,val_worst_sigma,independent_keep,"
            + classes.map { "paired_t_\($0)" }.joined(separator: ",") + ","
            + classes.map { "paired_threshold_\($0)" }.joined(separator: ",") + ",paired_keep\n"
    }

    static func logColumns(_ p: PairedGain) -> String {
        (p.t + p.thresholds).map { String(format: "%.4f", $0) }.joined(separator: ",") + ",\(p.isKept ? 1 : 0)"
    }

    /// Why the written step was kept (or why none was), as the card says it.
    struct Reason {
        let rule: KeepRule, classes: [String], checks: Int
        var kept: (step: Int, line: String)?
        /// The check whose best class came nearest its threshold (paired) or gained most (independent).
        var closest: (step: Int, line: String, margin: Double)?

        mutating func record(step: Int, paired: PairedGain, gain: Gain, kept isKept: Bool) {
            let line = rule == .paired ? paired.summary(classes: classes)
                : String(format: "summed gain %+.2fσ, worst %+.2fσ", gain.total, gain.worst)
            if isKept { kept = (step, line) }
            let margin = rule == .paired ? zip(paired.t, paired.thresholds).map { $0 - $1 }.max() ?? -.infinity : gain.total
            if margin > closest?.margin ?? -.infinity { closest = (step, line, margin) }
        }

        var text: String {
            let how = rule == .paired
                ? String(format: "paired rule: some class's paired t of the per-column loss improvement above the one-sided Student-t quantile at 1 − %.4f/%d (checks × classes), none below %.0f", PairedGain.falseKeepRate, checks * classes.count, PairedGain.veto)
                : "independent rule: some class score > 2σ better, none > 2σ worse"
            if let kept { return "step \(kept.step) kept (\(how)): \(kept.line)" }
            guard let closest else { return "no check yet (\(how))" }
            return "no step kept, the base weights written (\(how)); nearest: step \(closest.step), \(closest.line)"
        }
    }

    // MARK: - data

    /// Batch `step`: random training crops of random frames, augmented, normalized as inference normalizes.
    func batch(step: Int) throws -> (Tensor, LabelMaps) {
        let n = options.batchSize, t = tile
        return try TrainingPair.batch(parallelMap(n) { i in trainingPair(index: step * n + i) }, width: t, height: t)
    }

    /// Item `index`: a crop of a frame (its held-out patches an ignore region), then the augmentation;
    /// depends only on (seed, index).
    func trainingPair(index: Int) -> TrainingPair {
        var rng = SeededGenerator(seed: options.seed, index: index)
        let t = tile
        let f = trainingFrames[rng.int(frames.count)]
        let x0 = rng.int(f.width - t + 1), y0 = rng.int(f.height - t + 1)
        let crop = f.crop(x: x0, y: y0, width: t, height: t)
        return Self.augmentation.pair(from: crop, classNames: base.card.classes.map(\.name),
                                      labelRadius: options.labelRadius, rng: &rng)
    }

    /// Each frame's held-out patches with their labels, each cut out with `contextMargin` px of the frame
    /// around it (clipped to the frame) that are seen but not scored; atoms found at their undecided sites are
    /// not scored either (neither hits nor false positives).
    func heldOutItems() -> [ModelEvaluation.Item] {
        let m = Self.contextMargin
        return frames.enumerated().flatMap { i, f in
            Self.heldOutPatches(width: f.width, height: f.height, holdOut: options.holdOutFraction).map { p in
                let x0 = max(0, p.x - m), y0 = max(0, p.y - m)
                let w = min(f.width, p.x + p.width + m) - x0, h = min(f.height, p.y + p.height + m) - y0
                let patch = f.crop(x: x0, y: y0, width: w, height: h)
                return ModelEvaluation.Item(name: "held-out patch (\(p.x), \(p.y)) of frame \(i)", pixels: patch.image,
                                            width: w, height: h, pixelSize: f.pixelSize,
                                            truth: patch.points.map { ReferencePoint(x: $0.x, y: $0.y, classIndex: $0.label) },
                                            unscored: patch.ignored.map { ($0.x, $0.y) })
            }
        }
    }

    /// Frame around each held-out patch that the model sees and the score leaves out (the evaluation's border).
    static let contextMargin = 3

    /// A tuned model's held-out scores against the base model's, per class, in units of their noise: the
    /// F1 difference over √(Σ p(1 − p)/n) (binomial, n = the class's matched + missed + false atoms / 2,
    /// p shrunk by half a count so that a perfect score has noise too), the RMSE decrease over
    /// √(Σ RMSE²/(2·TP)). Beyond noise: some class gains more than 2σ and none loses more than 2σ.
    struct Gain {
        var sigmas: [Double] = []

        init(_ base: HeldOutScore, _ tuned: HeldOutScore) {
            for (a, b) in zip(base.rows, tuned.rows) {
                let f1Noise = [a, b].map { m -> Double in
                    let n = max(1, Double(2 * m.truePositives + m.falsePositives + m.falseNegatives) / 2)
                    let p = (m.f1 * n + 0.5) / (n + 1)
                    return p * (1 - p) / n
                }.reduce(0, +).squareRoot()
                sigmas.append((b.f1 - a.f1) / f1Noise)
                if let ra = a.rmsePx, let rb = b.rmsePx, a.truePositives > 0, b.truePositives > 0 {
                    let noise = (ra * ra / Double(2 * a.truePositives) + rb * rb / Double(2 * b.truePositives)).squareRoot()
                    sigmas.append((ra - rb) / max(noise, 1e-9))
                }
            }
        }

        var total: Double { sigmas.reduce(0, +) }
        var worst: Double { sigmas.min() ?? 0 }
        var isBeyondNoise: Bool { (sigmas.max() ?? 0) > 2 && worst >= -2 }
    }

    /// The network's per-class scores on the held-out patches, with the match radius (px) they used, and per class
    /// the loss of each held-out column (`ModelEvaluation.columnLosses`, the same columns for every network).
    typealias HeldOutScore = (rows: [ModelEvaluation.Row], radius: Double, columnLosses: [[Double]])

    func score(_ network: SegmentationModel, on items: [ModelEvaluation.Item]) throws -> HeldOutScore {
        let model = TrainedModel(directory: outputDirectory, card: base.card, network: network)
        var finder = AtomFinder.Options()
        finder.mergeDopants = OutputClasses.hasDopantToMerge(base.card)   // the labels are in the model's own classes
        var evaluation = ModelEvaluation(finder: try AtomFinder(model: model, options: finder))
        evaluation.borderMargin = Double(Self.contextMargin)
        let scored = try evaluation.scoreWithColumns(items, dataset: "held-out", dose: nil, progress: false)
        return (scored.rows, evaluation.radiusFraction * base.card.columnSpacingPixels(pixelSize: frames[0].pixelSize), scored.columnLosses)
    }

    /// Held-out scores as the model card records them.
    func cardEvaluation(_ score: HeldOutScore) -> ModelCard.Evaluation {
        ModelCard.Evaluation(
            dataset: "held-out patches (\(Int(options.holdOutFraction * 100)) % of each frame, spread over it) of the labelled frames, against their labels",
            matchRadiusPx: score.radius,
            perClass: score.rows.map { ModelCard.ClassMetrics(className: $0.className, pixelIoU: nil, precision: $0.precision,
                                                          recall: $0.recall, f1: $0.f1, rmsePx: $0.rmsePx) },
            note: nil)
    }

    func meanF1(_ score: HeldOutScore) -> Double { score.rows.map(\.f1).reduce(0, +) / Double(max(1, score.rows.count)) }

    // MARK: - output

    func save(_ network: SegmentationModel, card: ModelCard) throws {
        try Checkpoint.save(model: network, to: outputDirectory.appendingPathComponent(TrainedModel.weightsFile))
        try AtomicFile.write(card.jsonData(), to: outputDirectory.appendingPathComponent(TrainedModel.cardFile))
    }

    func card(best: (score: Double, step: Int, evaluation: HeldOutScore), before: HeldOutScore,
              reason: String, seconds: Double) -> ModelCard {
        var c = base.card
        c.name = outputDirectory.lastPathComponent
        c.description = "\(base.card.name) fine-tuned on frame(s) \(source.frames.map(String.init).joined(separator: ", ")) of \(URL(fileURLWithPath: source.movie).lastPathComponent)"
        c.evaluations = [cardEvaluation(best.evaluation)] + base.card.evaluations
        // Tuned weights void the base model's class-probability and position-σ calibration (`atomtrack calibrate` refits them).
        c.classCalibration = best.step == 0 ? base.card.classCalibration : nil
        c.positionCalibration = best.step == 0 ? base.card.positionCalibration : nil
        c.finetuning = ModelCard.Finetuning(
            baseModel: base.card.name, baseDirectory: base.directory.path, source: source,
            steps: options.steps, bestStep: best.step, batchSize: options.batchSize, tileSize: tile,
            learningRate: options.learningRate, holdOutFraction: options.holdOutFraction, seed: options.seed,
            seconds: seconds, date: ISO8601DateFormatter().string(from: Date()), atomtrackVersion: atomTrackVersion,
            heldOutBefore: cardEvaluation(before), heldOutAfter: cardEvaluation(best.evaluation),
            keepRule: options.keepRule.rawValue, keptBecause: reason)
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
