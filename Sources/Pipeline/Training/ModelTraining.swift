import Core
import Foundation
import Localization
import MicroscopyIO
import Networks
import Simulation
import Tensors

/// Trains a segmentation network on simulated, augmented frames streamed from a recipe,
/// validating on a fixed held-out simulated set, with checkpoints, resume and early stopping.
///
/// Output directory: `model.safetensors` (best weights + architecture), `model.json` (card),
/// `checkpoint.safetensors` (last weights + optimizer state, for `--resume`), `training_log.csv`.
public struct ModelTraining {
    /// The optimizer `train --optimizer` picks.
    public enum OptimizerChoice: String, Codable, Sendable, CaseIterable { case adam, sgd }

    public struct Options: Codable, Sendable {
        public var steps = 2000
        public var batchSize = 8
        /// Side of the training crops (px); the recipe's frames are simulated at this size.
        public var tileSize: Int?
        public var learningRate: Float = 2e-3
        /// Adam (nil, the default) or SGD with momentum: SGD keeps two runs that differ only in
        /// float rounding (e.g. one process vs MPI ranks) within rounding of each other, while Adam
        /// turns near-zero gradients into full-size steps of either sign.
        public var optimizer: OptimizerChoice?
        public var baseFilters = 16
        public var depth = 3
        public var validateEvery = 100
        public var validationFrames = 16
        /// Stop after this many validations without improvement of the mean atom F1.
        public var patience = 8
        public var seed: UInt64 = 1
        public var threads = ProcessInfo.processInfo.activeProcessorCount
        /// Stop after this step as if interrupted (checkpoint written); `--resume` continues.
        public var stopAtStep: Int?
        /// Warm start: a model directory whose weights (and architecture) are the starting point
        /// instead of a fresh initialisation; its classes must be the recipe's.
        public var initialModel: String?
        public init() {}

        /// Refuses settings that would trap, hang or fail after the output directory is made,
        /// named as the `train` flags are.
        public func validate() throws {
            let require = InputError.require
            try require((1...10_000_000).contains(steps), "--steps", steps, "expected 1–10⁷")
            try require((1...1024).contains(batchSize), "--batch-size", batchSize, "expected 1–1024")
            try require((1...8).contains(depth), "--depth", depth, "expected 1–8 pooling levels")
            if let t = tileSize {
                let m = 1 << depth
                try require(t >= max(8, m) && t <= 8192 && t % m == 0, "--tile", t, "expected a multiple of \(m) px (2^depth), \(max(8, m))–8192")
            }
            try require(learningRate.isFinite && learningRate > 0 && learningRate <= 1, "--learning-rate", learningRate, "expected 0 < rate ≤ 1")
            try require((1...1024).contains(baseFilters), "--base-filters", baseFilters, "expected 1–1024")
            try require((1...10_000_000).contains(validateEvery), "--validate-every", validateEvery, "expected 1–10⁷ steps")
            try require((1...10_000).contains(validationFrames), "--validation-frames", validationFrames, "expected 1–10000")
            try require((1...1_000_000).contains(patience), "--patience", patience, "expected 1–10⁶ validations")
            try require((1...1024).contains(threads), "--threads", threads, "expected 1–1024")
        }
    }

    /// Data-parallel training (`atomtrack-mpi train`): this process is replica `rank` of
    /// `size`. Each simulates its slice of every global batch (items rank·N/size ‥ (rank+1)·N/size − 1
    /// of batch step·N …), `Trainer` makes the step that of the whole batch, and rank 0 alone
    /// validates and writes files (the other ranks hold the same weights).
    public struct DataParallel {
        public let rank: Int, size: Int
        public let replicas: ReplicaGroup
        public init(rank: Int, size: Int, replicas: ReplicaGroup) { self.rank = rank; self.size = size; self.replicas = replicas }
    }

    public let recipe: Recipe
    public let options: Options
    public let outputDirectory: URL
    public var dataParallel: DataParallel?
    /// Whether this process writes files and validates (the only one, or rank 0).
    var isRoot: Bool { (dataParallel?.rank ?? 0) == 0 }
    let generator: TrainingSetGenerator
    let columnSpacing: Double
    /// The warm start's model (`Options.initialModel`), loaded and checked when training is set up.
    let initialModel: TrainedModel?

    public static let checkpointFile = "checkpoint.safetensors"
    public static let logFile = "training_log.csv"
    /// A directory holding one of these holds a model or a run to resume.
    public static let markers = [checkpointFile, "model.safetensors"]

    /// Removes an earlier run's checkpoint and log from `dir`, so a fresh run cannot mix with it.
    public static func discardEarlierRun(in dir: URL) {
        for f in [checkpointFile, logFile] { try? FileManager.default.removeItem(at: dir.appendingPathComponent(f)) }
    }
    /// Validation items come from an index range training never reaches.
    static let validationIndexOffset = 1 << 40

    public init(recipe: Recipe, options: Options, outputDirectory: URL) throws {
        try options.validate()
        var r = recipe
        if let t = options.tileSize { r.width = t; r.height = t }
        self.recipe = r
        self.outputDirectory = outputDirectory
        let generator = try TrainingSetGenerator(recipe: r)
        self.generator = generator
        columnSpacing = try Lattice.named(r.lattice).nearestColumnDistance
        initialModel = try options.initialModel.map { try Self.warmStart(from: $0, classNames: generator.classNames) }
        var o = options
        if let base = initialModel?.network.modelDescription { o.baseFilters = base.baseFilters; o.depth = base.depth; o.seed = base.seed }
        self.options = o
        let m = 1 << o.depth
        guard r.width % m == 0, r.height % m == 0 else {
            throw ModelError.mismatch("training tiles \(r.width)×\(r.height) must be multiples of \(m) for a depth-\(o.depth) U-Net")
        }
    }

    /// The model at `path`, refused unless it segments the recipe's classes (in its order).
    static func warmStart(from path: String, classNames: [String]) throws -> TrainedModel {
        let model = try TrainedModel(at: URL(fileURLWithPath: path))
        let classes = model.network.modelDescription.classNames
        guard classes == classNames else {
            throw ModelError.mismatch("--from \(path): the model's classes \(classes) are not the recipe's \(classNames)")
        }
        return model
    }

    /// Runs (or resumes) training; returns the card of the best model written.
    @discardableResult
    public func run(resume: Bool, progress: Bool = true) throws -> ModelCard {
        BLASThreads.set(options.threads)
        if let p = dataParallel, options.batchSize < p.size {
            throw ModelError.mismatch("a global batch of \(options.batchSize) cannot be split over \(p.size) processes; give --batch-size ≥ \(p.size)")
        }
        let start = Date()
        var state = try resume ? loadCheckpoint() : freshState()
        let validation = isRoot ? try validationSet() : []
        let bar = ProgressBar("train \(recipe.name)", total: options.steps, unit: "steps", quiet: !progress || !isRoot)
        if state.step > 0 { bar.advance(by: state.step, status: "resumed at step \(state.step)") }
        var log = state.step == 0 ? "step,loss,pixel_accuracy,learning_rate,val_mean_f1,val_metrics\n" : ""
        let trainer = Trainer(model: state.model, loss: .crossEntropy(classWeights: nil), optimizer: state.optimizer,
                              replicas: dataParallel?.replicas)
        var lossAverage: Double?

        while state.step < min(options.steps, options.stopAtStep ?? .max) && state.stale < options.patience {
            let (images, labels) = try batch(step: state.step)
            let result = try trainer.step(images: images, labels: labels)
            lossAverage = lossAverage.map { 0.95 * $0 + 0.05 * result.loss } ?? result.loss
            state.step += 1
            var line = "\(state.step),\(result.loss),\(result.accuracy),\(result.learningRate),,"
            if state.step % options.validateEvery == 0 || state.step == options.steps || state.step == options.stopAtStep {
                let evaluation = isRoot ? try validate(state.model, on: validation) : nil
                let score = rootsValue(evaluation.map { $0.perClass.map(\.f1).reduce(0, +) / Double(max(1, $0.perClass.count)) } ?? 0)
                line = "\(state.step),\(result.loss),\(result.accuracy),\(result.learningRate),\(score),"
                    + (evaluation?.perClass ?? []).map { "\($0.className):F1=\(String(format: "%.4f", $0.f1))" }.joined(separator: " ")
                if score > state.bestScore {
                    state.bestScore = score; state.bestStep = state.step; state.stale = 0
                    let card = makeCard(evaluation: evaluation, bestStep: state.step, seconds: state.seconds + Date().timeIntervalSince(start))
                    if isRoot { try saveBest(model: state.model, card: card) }
                } else {
                    state.stale += 1
                }
                if isRoot {
                    try appendLog(log + line + "\n")
                    try saveCheckpoint(state, trainer: trainer, seconds: state.seconds + Date().timeIntervalSince(start))
                }
                log = ""
            } else {
                log += line + "\n"
            }
            bar.advance(status: String(format: "loss %.4f  best F1 %.4f", lossAverage ?? 0, max(state.bestScore, 0)))
        }
        if !log.isEmpty && isRoot { try appendLog(log) }
        bar.finish(status: state.stale >= options.patience ? "early stop at step \(state.step)" : "")
        _ = rootsValue(0)   // the other ranks wait until rank 0 has written everything
        return try ModelCard.load(outputDirectory.appendingPathComponent(TrainedModel.cardFile))
    }

    /// Rank 0's `value` on every rank (the others pass 0); the value itself in a single process.
    func rootsValue(_ value: Double) -> Double {
        guard let p = dataParallel else { return value }
        var v = [isRoot ? value : 0]
        v.withUnsafeMutableBufferPointer { p.replicas.sumDoubles($0) }
        return v[0]
    }

    // MARK: - batches

    /// Batch `step`: items `step·N … step·N+N−1` of the recipe's stream (this rank's slice of
    /// them when data-parallel), simulated in parallel, normalized exactly as inference normalizes frames.
    func batch(step: Int) throws -> (Tensor, LabelMaps) {
        let n = options.batchSize, w = recipe.width, h = recipe.height
        let generator = self.generator
        let mine = dataParallel.map { ($0.rank * n / $0.size)..<(($0.rank + 1) * n / $0.size) } ?? 0..<n
        let pairs = try parallelMap(mine.count) { i in try generator.pair(index: step * n + mine.lowerBound + i) }
        return try TrainingPair.batch(pairs, width: w, height: h)
    }

    struct ValidationItem {
        var image: [Float]
        var mask: [UInt8]
        var points: [ReferencePoint]
        var pixelSize: Double
    }

    func validationSet() throws -> [ValidationItem] {
        try (0..<options.validationFrames).map { i in
            let p = try generator.pair(index: Self.validationIndexOffset + i)
            return ValidationItem(image: p.image, mask: p.mask,
                                  points: p.points.map { ReferencePoint(x: $0.x, y: $0.y, classIndex: $0.label) },
                                  pixelSize: p.pixelSize)
        }
    }

    /// Pixel IoU and atom-level precision/recall/F1/RMSE per atom class on the held-out set.
    func validate(_ network: SegmentationModel, on items: [ValidationItem]) throws -> ModelCard.Evaluation {
        let card = makeCard(evaluation: nil, bestStep: 0, seconds: 0)
        let finder = try AtomFinder(model: TrainedModel(directory: outputDirectory, card: card, network: network))
        let classes = card.classes.count - 1
        var intersection = [Int](repeating: 0, count: classes), union = [Int](repeating: 0, count: classes)
        var detected: [Atom] = [], reference: [ReferencePoint] = []
        var offsetX = 0.0
        for item in items {
            let (maps, normalized) = try finder.probabilities(item.image, width: recipe.width, height: recipe.height)
            let predicted = maps.argmax()
            for (p, t) in zip(predicted, item.mask) where Int(t) < classes || p < classes {
                if p == Int(t) { intersection[p] += 1; union[p] += 1 } else {
                    if p < classes { union[p] += 1 }
                    if Int(t) < classes { union[Int(t)] += 1 }
                }
            }
            let atoms = try finder.makeLocator(pixelSize: item.pixelSize).locate(maps, frame: normalized.pixels)
            // Frames are matched together: shift each frame far apart so matches stay within a frame.
            detected += atoms.map { var a = $0; a.x += offsetX; return a }
            reference += item.points.map { ReferencePoint(x: $0.x + offsetX, y: $0.y, classIndex: $0.classIndex) }
            offsetX += Double(recipe.width) * 4
        }
        let radius = Self.matchRadius(columnSpacing: columnSpacing, pixelSize: items.map(\.pixelSize).min() ?? 0.2)
        let result = try evaluateDetections(detected, reference: reference, radius: radius)
        let metrics = (0..<classes).map { c -> ModelCard.ClassMetrics in
            let m = result.perClass.first { $0.classIndex == c }
            return ModelCard.ClassMetrics(className: card.classes[c].name,
                                          pixelIoU: union[c] > 0 ? Double(intersection[c]) / Double(union[c]) : nil,
                                          precision: m?.precision ?? 0, recall: m?.recall ?? 0, f1: m?.f1 ?? 0, rmsePx: m?.rmse)
        }
        return ModelCard.Evaluation(dataset: "held-out simulated frames (\(items.count), recipe \(recipe.name), items from index 2^40)",
                                    matchRadiusPx: radius, perClass: metrics, note: nil)
    }

    /// Detections count as correct within 40 % of the nearest column distance.
    static func matchRadius(columnSpacing: Double, pixelSize: Double) -> Double { 0.4 * columnSpacing / pixelSize }

    // MARK: - state, checkpoints, card

    struct State {
        var model: SegmentationModel
        var optimizer: Optimizer
        var step = 0
        var bestScore = -1.0
        var bestStep = 0
        var stale = 0
        var seconds = 0.0
    }

    func freshState() throws -> State {
        let description = ModelDescription(classNames: generator.classNames, baseFilters: options.baseFilters,
                                           depth: options.depth, seed: options.seed)
        let config: OptimizerConfig = options.optimizer == .sgd ? .sgd(learningRate: options.learningRate)
                                                               : .adam(learningRate: options.learningRate)
        let optimizer = Optimizer(config,
                                  schedule: .cosine(totalSteps: options.steps, minimum: options.learningRate * 0.02))
        return State(model: try initialModel?.network ?? SegmentationModel(description), optimizer: optimizer)
    }

    func loadCheckpoint() throws -> State {
        let url = outputDirectory.appendingPathComponent(Self.checkpointFile)
        guard FileManager.default.fileExists(atPath: url.path) else {
            throw ModelError.missing(url.path + " (nothing to resume)")
        }
        let (model, optimizer, meta) = try Checkpoint.load(from: url)
        guard let optimizer, let step = meta["step"].flatMap(Int.init) else {
            throw ModelError.invalid(url.path, "checkpoint lacks optimizer state or step")
        }
        return State(model: model, optimizer: optimizer, step: step,
                     bestScore: meta["best_score"].flatMap(Double.init) ?? -1,
                     bestStep: meta["best_step"].flatMap(Int.init) ?? 0,
                     stale: meta["stale"].flatMap(Int.init) ?? 0,
                     seconds: meta["seconds"].flatMap(Double.init) ?? 0)
    }

    func saveCheckpoint(_ s: State, trainer: Trainer, seconds: Double) throws {
        try Checkpoint.save(model: s.model, optimizer: trainer.optimizer,
                            extraMetadata: ["step": "\(s.step)", "best_score": "\(s.bestScore)", "best_step": "\(s.bestStep)",
                                            "stale": "\(s.stale)", "seconds": "\(seconds)"],
                            to: outputDirectory.appendingPathComponent(Self.checkpointFile))
    }

    func saveBest(model: SegmentationModel, card: ModelCard) throws {
        try Checkpoint.save(model: model, to: outputDirectory.appendingPathComponent(TrainedModel.weightsFile))
        try AtomicFile.write(card.jsonData(), to: outputDirectory.appendingPathComponent(TrainedModel.cardFile))
    }

    func appendLog(_ text: String) throws {
        let url = outputDirectory.appendingPathComponent(Self.logFile)
        let old = (try? String(contentsOf: url, encoding: .utf8)) ?? ""
        try AtomicFile.writeText(old + text, to: url)
    }

    func makeCard(evaluation: ModelCard.Evaluation?, bestStep: Int, seconds: Double) -> ModelCard {
        let classes = (recipe.classes ?? []).map { ModelCard.ClassInfo(name: $0.name, elements: $0.elements) }
            + [ModelCard.ClassInfo(name: "background", elements: [])]
        let training = ModelCard.Training(
            recipe: recipe.name, recipeSeed: recipe.seed, steps: options.steps, batchSize: options.batchSize,
            tileSize: recipe.width, learningRate: options.learningRate, loss: "cross-entropy",
            seconds: seconds, threads: options.threads, bestStep: bestStep,
            date: ISO8601DateFormatter().string(from: Date()), atomtrackVersion: atomTrackVersion,
            startedFrom: initialModel.map { base in
                let t = base.card.training
                return "\(options.initialModel ?? base.directory.path) (\(base.card.name): recipe \(t.recipe) seed \(t.recipeSeed), \(t.steps) steps, best step \(t.bestStep), \(t.date))"
            })
        return ModelCard(name: recipe.name, description: "U-Net segmenter trained on AtomTrack's simulated \(recipe.lattice) frames",
                         architecture: initialModel?.network.modelDescription
                             ?? ModelDescription(classNames: classes.map(\.name), baseFilters: options.baseFilters,
                                                 depth: options.depth, seed: options.seed),
                         classes: classes, pixelSizeRange: recipe.pixelSize, doseRange: recipe.dose,
                         columnSpacing: columnSpacing, training: training, evaluations: evaluation.map { [$0] } ?? [])
    }
}

extension Lattice {
    /// Shortest projected distance between two distinct columns (Å).
    var nearestColumnDistance: Double {
        (0..<basis.count).map { b in nearest(to: b) { _ in true }.distance }.min() ?? a
    }
}

extension TrainingPair {
    /// Pairs of one size as the network's input and targets: each image normalized exactly as
    /// inference normalizes frames; the ignore class (undecided fine-tuning labels) as `LabelMaps.ignore`.
    static func batch(_ pairs: [TrainingPair], width: Int, height: Int) throws -> (Tensor, LabelMaps) {
        let normalization = try FrameNormalization()
        var images = [Float](), labels = [Int32]()
        images.reserveCapacity(pairs.count * width * height); labels.reserveCapacity(pairs.count * width * height)
        for p in pairs {
            images += try normalization.normalize(p.image, width: p.width, height: p.height).pixels
            labels += p.mask.map { $0 == ignoreClass ? LabelMaps.ignore : Int32($0) }
        }
        return (try Tensor(shape: [pairs.count, 1, height, width], data: images),
                try LabelMaps(n: pairs.count, height: height, width: width, labels: labels))
    }
}
