import Core
import Foundation
import Tensors

/// Errors from building, running, training and checkpointing networks. One line each.
public enum NetworkError: Error, CustomStringConvertible, Equatable {
    case invalidDescription(String)
    case badInput(String)
    case checkpoint(String)

    public var description: String {
        switch self {
        case .invalidDescription(let m): return "invalid model description: \(m)"
        case .badInput(let m): return "bad network input: \(m)"
        case .checkpoint(let m): return "bad checkpoint: \(m)"
        }
    }
}

/// Everything needed to rebuild a model: architecture hyper-parameters and class names.
/// Serialised as JSON (into checkpoints' `__metadata__` and model cards).
public struct ModelDescription: Codable, Equatable, Sendable {
    /// `unet`: AtomAI-style U-Net. `dilatedUNet`: the same with a dilated bottleneck whose
    /// stage outputs (dilations `dilations`) are summed.
    public enum Architecture: String, Codable, Sendable { case unet, dilatedUNet }

    public var architecture: Architecture
    /// Names of the output classes, in channel order (class 0 is usually "background").
    public var classNames: [String]
    public var inputChannels: Int
    /// Filters of the first level; level i has `baseFilters · 2^i`.
    public var baseFilters: Int
    /// Number of 2×2 poolings; input sizes must be multiples of 2^depth.
    public var depth: Int
    /// Conv layers per block for levels 0…depth−1 and the bottleneck (depth+1 entries);
    /// nil means AtomAI's default `[1, 2, …, 2, 3]`.
    public var layersPerLevel: [Int]?
    public var batchNorm: Bool
    public var leakySlope: Float
    public var upsampling: Upsample2x.Mode
    /// Dropout probability in the bottleneck (0 = none).
    public var dropout: Float
    /// Dilations of the dilated bottleneck (used by `dilatedUNet`).
    public var dilations: [Int]
    /// Seed of the weight initialisation.
    public var seed: UInt64

    public init(architecture: Architecture = .unet, classNames: [String], inputChannels: Int = 1,
                baseFilters: Int = 16, depth: Int = 3, layersPerLevel: [Int]? = nil, batchNorm: Bool = true,
                leakySlope: Float = 0.01, upsampling: Upsample2x.Mode = .bilinear, dropout: Float = 0,
                dilations: [Int] = [2, 4, 6], seed: UInt64 = 0) {
        self.architecture = architecture; self.classNames = classNames; self.inputChannels = inputChannels
        self.baseFilters = baseFilters; self.depth = depth; self.layersPerLevel = layersPerLevel
        self.batchNorm = batchNorm; self.leakySlope = leakySlope; self.upsampling = upsampling
        self.dropout = dropout; self.dilations = dilations; self.seed = seed
    }

    /// Conv layers per level actually used.
    public var resolvedLayers: [Int] { layersPerLevel ?? ([1] + Array(repeating: 2, count: max(0, depth - 1)) + [3]) }

    /// Checks the numbers make a buildable network.
    public func validate() throws {
        func fail(_ m: String) -> NetworkError { .invalidDescription(m) }
        guard classNames.count >= 1 else { throw fail("at least one class name is needed") }
        guard inputChannels >= 1, baseFilters >= 1 else { throw fail("channels and base filters must be ≥ 1") }
        guard (1...8).contains(depth) else { throw fail("depth \(depth) is outside 1…8") }
        guard resolvedLayers.count == depth + 1, resolvedLayers.allSatisfy({ $0 >= 1 }) else {
            throw fail("layersPerLevel needs \(depth + 1) entries ≥ 1, got \(resolvedLayers)")
        }
        guard dropout >= 0 && dropout < 1 else { throw fail("dropout \(dropout) is outside [0, 1)") }
        guard !dilations.isEmpty, dilations.allSatisfy({ $0 >= 1 }) else { throw fail("dilations must be ≥ 1") }
        guard leakySlope.isFinite else { throw fail("leakySlope must be finite") }
        // Sizes that multiply past memory (e.g. 2·10¹⁶ bytes of weights) would abort in the
        // allocation: estimate the weights in Double (no overflow) and refuse over 2²⁸ (1 GiB).
        guard inputChannels <= 4096, baseFilters <= 1 << 16, classNames.count <= 4096, dilations.count <= 64,
              resolvedLayers.allSatisfy({ $0 <= 64 }) else {
            throw fail("channels \(inputChannels), base filters \(baseFilters), \(classNames.count) classes, layers \(resolvedLayers) or \(dilations.count) dilations are implausibly large")
        }
        let f = (0...depth).map { Double(baseFilters) * Double(1 << $0) }
        var weights = 9 * Double(inputChannels) * f[0] + f[0] * Double(classNames.count)
        for (i, n) in resolvedLayers.enumerated() {
            weights += 9 * f[i] * f[i] * Double(4 * n + 4 + (i == depth ? dilations.count : 0))
        }
        guard weights <= Double(1 << 28) else {
            throw fail("the architecture needs about \(String(format: "%.3g", weights)) weights (\(String(format: "%.3g", 4 * weights)) bytes); at most 2²⁸ are allowed")
        }
    }

    /// The description as compact JSON with sorted keys (throws on non-finite numbers).
    public func jsonString() throws -> String {
        let enc = JSONEncoder()
        enc.outputFormatting = [.sortedKeys]
        do { return String(decoding: try enc.encode(self), as: UTF8.self) } catch {
            throw NetworkError.invalidDescription("cannot encode as JSON (\(error))")
        }
    }

    /// Decodes a description written by `jsonString()` (or by hand).
    public static func fromJSON(_ s: String) throws -> ModelDescription {
        do { return try JSONDecoder().decode(ModelDescription.self, from: Data(s.utf8)) }
        catch { throw NetworkError.invalidDescription("cannot decode JSON (\(error))") }
    }
}

/// A fully convolutional segmentation network built from a `ModelDescription`.
/// Not thread-safe: one forward/backward at a time per instance (use one model per thread).
///
/// `forward(_:training:)` maps images `[N, inputChannels, H, W]` to logits
/// `[N, classes, H, W]`; after a training-mode forward pass, `backward(_:)` takes the
/// gradient of the loss with respect to the logits and accumulates parameter gradients.
/// Parameter names match the equivalent PyTorch module (AtomAI's `Unet` for depth 3).
public final class SegmentationModel {
    public let modelDescription: ModelDescription
    private let encoders: [Sequential]
    private let pools: [MaxPoolLayer]
    private let bottleneck: Layer
    private let ups: [UpsampleBlock]
    private let decoders: [Sequential]
    private let head: Conv2DLayer
    private var skipChannels: [Int] = []

    public init(_ d: ModelDescription) throws {
        try d.validate()
        modelDescription = d
        var rng = SeededGenerator(seed: d.seed)
        let layers = d.resolvedLayers
        let f = { (level: Int) in d.baseFilters << level }
        func block(_ name: String, _ cin: Int, _ cout: Int, _ n: Int, dropout: Float = 0) -> Sequential {
            var list: [Layer] = []
            for i in 0..<n {
                list.append(Conv2DLayer(name: "\(name).block.\(list.count)", inChannels: i == 0 ? cin : cout,
                                        outChannels: cout, kernel: 3, generator: &rng))
                if dropout > 0 { list.append(DropoutLayer(p: dropout, seed: rng.next())) }
                list.append(LeakyReLULayer(slope: d.leakySlope))
                if d.batchNorm { list.append(BatchNormLayer(name: "\(name).block.\(list.count)", channels: cout)) }
            }
            return Sequential(list)
        }
        encoders = (0..<d.depth).map { i in block("c\(i + 1)", i == 0 ? d.inputChannels : f(i - 1), f(i), layers[i]) }
        pools = (0..<d.depth).map { _ in MaxPoolLayer() }
        switch d.architecture {
        case .unet:
            bottleneck = block("bn", f(d.depth - 1), f(d.depth), layers[d.depth], dropout: d.dropout)
        case .dilatedUNet:
            var stages: [Sequential] = []
            for (k, dil) in d.dilations.enumerated() {
                var list: [Layer] = [Conv2DLayer(name: "bn.stages.\(k).0", inChannels: k == 0 ? f(d.depth - 1) : f(d.depth),
                                                 outChannels: f(d.depth), kernel: 3, dilation: dil, generator: &rng)]
                if d.dropout > 0 { list.append(DropoutLayer(p: d.dropout, seed: rng.next())) }
                list.append(LeakyReLULayer(slope: d.leakySlope))
                if d.batchNorm { list.append(BatchNormLayer(name: "bn.stages.\(k).\(list.count)", channels: f(d.depth))) }
                stages.append(Sequential(list))
            }
            bottleneck = DilatedBlock(stages: stages)
        }
        var ups: [UpsampleBlock] = [], decs: [Sequential] = []
        for (j, level) in (0..<d.depth).reversed().enumerated() {
            ups.append(UpsampleBlock(name: "upsample_block\(j + 1)", inChannels: f(level + 1), outChannels: f(level),
                                     mode: d.upsampling, generator: &rng))
            decs.append(block("c\(d.depth + j + 1)", f(level + 1), f(level), layers[level]))
        }
        self.ups = ups
        decoders = decs
        head = Conv2DLayer(name: "px", inChannels: f(0), outChannels: d.classNames.count, kernel: 1, generator: &rng)
    }

    /// Number of output classes.
    public var classCount: Int { modelDescription.classNames.count }

    /// Checks an input batch's shape against the model description.
    public func validateInput(_ x: Tensor) throws {
        guard x.rank == 4 else { throw NetworkError.badInput("expected [N, C, H, W], got shape \(x.shape)") }
        let m = 1 << modelDescription.depth
        guard x.shape[1] == modelDescription.inputChannels else {
            throw NetworkError.badInput("model takes \(modelDescription.inputChannels) channel(s), input has \(x.shape[1])")
        }
        guard x.shape[0] >= 1, x.shape[2] >= m, x.shape[3] >= m, x.shape[2] % m == 0, x.shape[3] % m == 0 else {
            throw NetworkError.badInput("height and width must be positive multiples of \(m), got \(x.shape[2])×\(x.shape[3])")
        }
    }

    /// Logits `[N, classes, H, W]`. `training` uses batch statistics and dropout and caches
    /// activations for `backward`; otherwise the pass is pure inference.
    public func forward(_ x: Tensor, training: Bool) throws -> Tensor {
        try validateInput(x)
        guard training else { return inference(x, probabilities: false) }
        var (h, skips) = encode(x, training: true)
        skipChannels = []
        for (up, dec) in zip(ups, decoders) {
            let skip = skips.removeLast()
            skipChannels.append(skip.shape[1])
            h = dec.forward(ChannelConcat.forward(skip, up.forward(h, training: true)), training: true)
        }
        return head.forward(h, training: true)
    }

    /// The encoders, pools and bottleneck: the bottleneck's output and each encoder's (the skips).
    private func encode(_ x: Tensor, training: Bool) -> (Tensor, [Tensor]) {
        var skips: [Tensor] = []
        var h = x
        for (enc, pool) in zip(encoders, pools) {
            h = enc.forward(h, training: training)
            skips.append(h)
            h = pool.forward(h, training: training)
        }
        return (bottleneck.forward(h, training: training), skips)
    }

    /// Inference: the logits, or with `probabilities` their softmax. Each decoder reads its skip
    /// connection and the upsampled path in place (`Sequential.forward(concatenating:…)`); for
    /// probabilities the last one also runs the head and the softmax band by band (`Conv2D.Head`).
    private func inference(_ x: Tensor, probabilities: Bool) -> Tensor {
        var (h, skips) = encode(x, training: false)
        let classes = Conv2D.Head(weight: head.weight.value, bias: head.bias.value, softmax: true)
        for (k, (up, dec)) in zip(ups, decoders).enumerated() {
            let last = probabilities && k == decoders.count - 1
            h = dec.forward(concatenating: skips.removeLast(), up.beforeInterpolation(h), upsampling: up.mode, head: last ? classes : nil)
        }
        return probabilities ? h : head.forward(h, training: false)
    }

    /// Back-propagates the gradient of the loss with respect to the logits of the last
    /// training forward pass; parameter gradients accumulate (call `zeroGradients()` first).
    public func backward(_ gradLogits: Tensor) {
        var g = head.backward(gradLogits)
        var skipGrads: [Tensor] = []
        for (k, (up, dec)) in zip(ups, decoders).enumerated().reversed() {
            let (gSkip, gUp) = ChannelConcat.backward(dec.backward(g), channelsA: skipChannels[k])
            skipGrads.append(gSkip)
            g = up.backward(gUp)
        }
        g = bottleneck.backward(g)
        // The last decoder consumed the level-0 skip, so skipGrads[level] belongs to `level`.
        for (level, (enc, pool)) in zip(encoders, pools).enumerated().reversed() {
            g = pool.backward(g)
            g.add(skipGrads[level])
            g = enc.backward(g)
        }
    }

    /// Softmax class probabilities `[N, classes, H, W]` in inference mode, `batchSize` images at a time.
    public func probabilities(_ x: Tensor, batchSize: Int = 8) throws -> Tensor {
        try validateInput(x)
        let (n, _, h, w) = x.nchw
        // One chunk: no copies in or out.
        if batchSize >= n { return inference(x, probabilities: true) }
        let per = x.count / n, outPer = classCount * h * w
        var out = [Float](); out.reserveCapacity(n * outPer)
        var start = 0
        while start < n {
            let end = min(n, start + max(1, batchSize))
            let chunk = try Tensor(shape: [end - start, x.shape[1], h, w], data: Array(x.data[(start * per)..<(end * per)]))
            out.append(contentsOf: ChannelSoftmax.forward(try forward(chunk, training: false)).data)
            start = end
        }
        return try Tensor(shape: [n, classCount, h, w], data: out)
    }

    /// The top-level layers in a fixed order.
    private var layers: [Layer] { encoders + [bottleneck] + zip(ups, decoders).flatMap { [$0 as Layer, $1 as Layer] } + [head] }

    /// Every tensor of the model (weights and buffers) in a fixed order, with PyTorch names.
    public var namedTensors: [Parameter] { layers.flatMap(\.parameters) }

    /// The batch-norm layers (data-parallel training synchronizes their statistics).
    public var batchNormLayers: [BatchNormLayer] {
        func inside(_ layer: Layer) -> [BatchNormLayer] {
            switch layer {
            case let bn as BatchNormLayer: return [bn]
            case let s as Sequential: return s.layers.flatMap(inside)
            case let d as DilatedBlock: return d.stages.flatMap(inside)
            default: return []
            }
        }
        return layers.flatMap(inside)
    }

    /// The trainable parameters.
    public var parameters: [Parameter] { namedTensors.filter(\.isTrainable) }

    /// Number of trainable scalars.
    public var parameterCount: Int { parameters.reduce(0) { $0 + $1.value.count } }

    public func zeroGradients() { for p in parameters { p.grad.zero() } }

    /// Copies weights/buffers by name (from a checkpoint). Every model tensor must be
    /// present with the right shape; extra names are ignored.
    public func load(tensors: [String: Tensor]) throws {
        for p in namedTensors {
            guard let t = tensors[p.name] else { throw NetworkError.checkpoint("tensor \(p.name) is missing") }
            guard t.shape == p.value.shape else {
                throw NetworkError.checkpoint("tensor \(p.name) has shape \(t.shape), the model needs \(p.value.shape)")
            }
            p.value = t
        }
    }
}
