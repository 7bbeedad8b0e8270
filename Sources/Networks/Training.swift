import Foundation
import Tensors

/// What one training step measured.
public struct StepResult: Sendable {
    public let loss: Double
    /// Pixel accuracy of the batch (arg-max of the logits before the update).
    public let accuracy: Double
    public let learningRate: Float
}

/// The replicas of a data-parallel run (e.g. MPI ranks): sums in place over all of them, every
/// replica receiving the same result (MPI_Allreduce with MPI_SUM and MPI_IN_PLACE).
public struct ReplicaGroup {
    public var sumFloats: (UnsafeMutableBufferPointer<Float>) -> Void
    public var sumDoubles: BatchNorm.ReplicaSum

    public init(sumFloats: @escaping (UnsafeMutableBufferPointer<Float>) -> Void, sumDoubles: @escaping BatchNorm.ReplicaSum) {
        self.sumFloats = sumFloats; self.sumDoubles = sumDoubles
    }
}

/// Couples a model, a loss and an optimizer: `step(images:labels:)` runs one forward pass
/// in training mode, the loss and its gradient, the backward pass and the update.
///
/// With `replicas` each replica passes its slice of a global batch and the step is that of
/// the global batch: batch norm uses the global statistics, the loss is the global mean
/// (each replica's gradient weighted by its share of the pixels) and the parameter gradients
/// are summed over the replicas before every replica takes the same optimizer step.
public final class Trainer {
    public let model: SegmentationModel
    public let loss: Loss
    public let optimizer: Optimizer
    public let replicas: ReplicaGroup?

    public init(model: SegmentationModel, loss: Loss = .crossEntropy(classWeights: nil), optimizer: Optimizer,
                replicas: ReplicaGroup? = nil) {
        self.model = model
        self.loss = loss
        self.optimizer = optimizer
        self.replicas = replicas
        for bn in model.batchNormLayers { bn.replicaSum = replicas?.sumDoubles }
    }

    /// One optimisation step on images `[N, C, H, W]` and their label maps `[N, H, W]`.
    @discardableResult
    public func step(images: Tensor, labels: LabelMaps) throws -> StepResult {
        let lr = optimizer.currentLearningRate
        let logits = try model.forward(images, training: true)
        var (value, grad) = try loss.evaluate(logits: logits, labels: labels)
        var accuracy = pixelAccuracy(logits: logits, labels: labels)
        if let replicas {
            guard loss.isPixelMean else {
                throw NetworkError.badInput("data-parallel training needs a per-pixel mean loss (cross-entropy or focal, unweighted)")
            }
            let pixels = Double(labels.countedPixels)
            var totals = [value * pixels, accuracy * pixels, pixels]
            totals.withUnsafeMutableBufferPointer { replicas.sumDoubles($0) }
            (value, accuracy) = (totals[0] / totals[2], totals[1] / totals[2])
            let share = Float(pixels / totals[2])
            for i in grad.data.indices { grad.data[i] *= share }
        }
        guard value.isFinite else { throw NetworkError.badInput("loss is not finite (\(value)); lower the learning rate") }
        model.zeroGradients()
        model.backward(grad)
        if let replicas { sumGradients(over: replicas) }
        optimizer.step(model.parameters)
        return StepResult(loss: value, accuracy: accuracy, learningRate: lr)
    }

    /// Every trainable parameter's gradient summed over the replicas, in one buffer (one
    /// all-reduce per step rather than one per tensor).
    func sumGradients(over replicas: ReplicaGroup) {
        let parameters = model.parameters
        var flat: [Float] = []
        flat.reserveCapacity(model.parameterCount)
        for p in parameters { flat += p.grad.data }
        flat.withUnsafeMutableBufferPointer { replicas.sumFloats($0) }
        var offset = 0
        for p in parameters {
            let k = p.grad.data.count
            p.grad.data.withUnsafeMutableBufferPointer { g in _ = g.update(fromContentsOf: flat[offset..<(offset + k)]) }
            offset += k
        }
    }
}

/// Checkpoints: model weights and buffers under their PyTorch names, the model description
/// (`__metadata__["atomtrack.model"]`, JSON), and optionally the optimizer state
/// (`optimizer.m.*` / `optimizer.v.*` tensors plus `atomtrack.optimizer` metadata) — one
/// safetensors file that `safetensors.torch.load_file` reads.
public enum Checkpoint {
    static let modelKey = "atomtrack.model"
    static let optimizerKey = "atomtrack.optimizer"

    struct OptimizerRecord: Codable {
        var config: OptimizerConfig
        var schedule: LRSchedule
        var stepCount: Int
    }

    /// Writes the model (and the optimizer, for resuming) atomically to `url`.
    public static func save(model: SegmentationModel, optimizer: Optimizer? = nil, extraMetadata: [String: String] = [:],
                            to url: URL) throws {
        var tensors: [String: Tensor] = [:]
        for p in model.namedTensors { tensors[p.name] = p.value }
        var meta = extraMetadata
        meta["format"] = "pt"
        meta[modelKey] = try model.modelDescription.jsonString()
        if let optimizer {
            for (k, t) in optimizer.stateTensors { tensors[k] = t }
            let rec = OptimizerRecord(config: optimizer.config, schedule: optimizer.schedule, stepCount: optimizer.stepCount)
            meta[optimizerKey] = String(decoding: try JSONEncoder().encode(rec), as: UTF8.self)
        }
        try SafeTensors.write(tensors, metadata: meta, to: url)
    }

    /// Rebuilds the model from the description in the file and loads its weights; also
    /// returns the optimizer with its state when the checkpoint holds one.
    public static func load(from url: URL) throws -> (model: SegmentationModel, optimizer: Optimizer?, metadata: [String: String]) {
        let (tensors, meta) = try SafeTensors.read(url)
        guard let json = meta[modelKey] else {
            throw NetworkError.checkpoint("\(url.lastPathComponent) has no \(modelKey) description in its metadata")
        }
        let model = try SegmentationModel(try ModelDescription.fromJSON(json))
        try model.load(tensors: tensors)
        var optimizer: Optimizer?
        if let o = meta[optimizerKey] {
            let rec: OptimizerRecord
            do { rec = try JSONDecoder().decode(OptimizerRecord.self, from: Data(o.utf8)) } catch {
                throw NetworkError.checkpoint("\(url.lastPathComponent): optimizer record is not valid JSON")
            }
            let opt = Optimizer(rec.config, schedule: rec.schedule)
            let shapes = Dictionary(uniqueKeysWithValues: model.parameters.map { ($0.name, $0.value.shape) })
            let state = tensors.filter { $0.key.hasPrefix("optimizer.") }
            for (k, t) in state {
                let param = String(k.dropFirst(12))
                guard shapes[param] == t.shape else {
                    throw NetworkError.checkpoint("\(url.lastPathComponent): optimizer tensor \(k) does not match a model parameter")
                }
            }
            opt.restore(stateTensors: state, stepCount: rec.stepCount)
            optimizer = opt
        }
        return (model, optimizer, meta)
    }
}
