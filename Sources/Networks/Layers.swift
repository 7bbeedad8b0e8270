import Core
import Foundation
import Tensors

/// A named tensor owned by a layer: a learnable weight (with its gradient) or a buffer
/// such as a running mean (not trainable, no gradient). Names follow PyTorch's
/// `state_dict` keys so checkpoints interoperate (e.g. `c1.block.0.weight`).
public final class Parameter {
    public let name: String
    public var value: Tensor
    public var grad: Tensor
    public let isTrainable: Bool

    public init(name: String, value: Tensor, trainable: Bool = true) {
        self.name = name
        self.value = value
        self.grad = trainable ? Tensor(shape: value.shape) : Tensor(shape: [0])
        self.isTrainable = trainable
    }
}

/// A differentiable building block. `forward` caches what `backward` needs; `backward`
/// takes the gradient of the loss with respect to the output, accumulates the gradients
/// of the layer's parameters and returns the gradient with respect to the input.
public protocol Layer: AnyObject {
    func forward(_ x: Tensor, training: Bool) -> Tensor
    func backward(_ gradOutput: Tensor) -> Tensor
    /// Every tensor of the layer (weights and buffers), in a fixed order.
    var parameters: [Parameter] { get }
}

/// Convolution, stride 1, "same" padding, with bias; PyTorch's default initialisation
/// (uniform in ±1/√fan_in for weight and bias).
public final class Conv2DLayer: Layer {
    public let weight: Parameter
    public let bias: Parameter
    public let dilation: Int
    private var input: Tensor?

    public init(name: String, inChannels: Int, outChannels: Int, kernel: Int, dilation: Int = 1, generator: inout SeededGenerator) {
        let bound = 1 / Float(inChannels * kernel * kernel).squareRoot()
        weight = Parameter(name: name + ".weight", value: .randomUniform(
            shape: [outChannels, inChannels, kernel, kernel], in: -bound...bound, generator: &generator))
        bias = Parameter(name: name + ".bias", value: .randomUniform(shape: [outChannels], in: -bound...bound, generator: &generator))
        self.dilation = dilation
    }

    public func forward(_ x: Tensor, training: Bool) -> Tensor {
        if training { input = x }
        return Conv2D.forward(x, weight: weight.value, bias: bias.value, dilation: dilation)
    }

    /// Inference only: the convolution followed by `epilogue` in the same pass.
    public func forward(_ x: Tensor, epilogue: Conv2D.Epilogue) -> Tensor {
        Conv2D.forward(x, weight: weight.value, bias: bias.value, dilation: dilation, epilogue: epilogue, transformed: transformed)
    }

    /// Inference only: `forward(_:epilogue:)` of the channel concatenation of `a` and `b` (`b` upsampled
    /// ×2 first with `upsampling`), read in place (`Conv2D.forward(concatenating:…)`).
    /// With `head`, the head's output on it, band by band.
    public func forward(concatenating a: Tensor, _ b: Tensor, upsampling: Upsample2x.Mode?, epilogue: Conv2D.Epilogue,
                        head: Conv2D.Head? = nil) -> Tensor {
        Conv2D.forward(concatenating: a, b, upsampling: upsampling, weight: weight.value, bias: bias.value, dilation: dilation,
                       epilogue: epilogue, transformed: transformed, head: head)
    }

    /// The Winograd weights of inference, transformed once (again only after the weights change).
    private let transformed = Conv2D.TransformedWeights()

    /// Training: LeakyReLU(`slope`) of the convolution, applied in the convolution's output pass.
    /// `backward` then needs the gradient with respect to the convolution's output (the
    /// activation's backward is left to the caller, see `BatchNormLayer.backward(_:leakySlope:)`).
    public func forwardTraining(_ x: Tensor, leakySlope slope: Float) -> Tensor {
        input = x
        let identity = (scale: [Float](repeating: 1, count: outChannels), shift: [Float](repeating: 0, count: outChannels))
        return Conv2D.forward(x, weight: weight.value, bias: bias.value, dilation: dilation,
                              epilogue: .init(slope: slope, scale: identity.scale, shift: identity.shift))
    }

    public var outChannels: Int { weight.value.shape[0] }

    public func backward(_ g: Tensor) -> Tensor {
        guard let x = input else { preconditionFailure("\(weight.name): backward without a training forward pass") }
        let r = Conv2D.backward(x, weight: weight.value, gradOutput: g, dilation: dilation)
        weight.grad.add(r.weight)
        bias.grad.add(r.bias)
        input = nil
        return r.input!
    }

    public var parameters: [Parameter] { [weight, bias] }
}

/// Batch normalization with learned scale/shift and running statistics (PyTorch defaults).
public final class BatchNormLayer: Layer {
    public let gamma, beta, runningMean, runningVar: Parameter
    private var cache: (x: Tensor, cache: BatchNorm.Cache)?
    /// Set for data-parallel training: statistics over every replica's batch (`Trainer`).
    public var replicaSum: BatchNorm.ReplicaSum?

    public init(name: String, channels: Int) {
        gamma = Parameter(name: name + ".weight", value: Tensor(shape: [channels], repeating: 1))
        beta = Parameter(name: name + ".bias", value: Tensor(shape: [channels]))
        runningMean = Parameter(name: name + ".running_mean", value: Tensor(shape: [channels]), trainable: false)
        runningVar = Parameter(name: name + ".running_var", value: Tensor(shape: [channels], repeating: 1), trainable: false)
    }

    public func forward(_ x: Tensor, training: Bool) -> Tensor {
        let r = BatchNorm.forward(x, gamma: gamma.value, beta: beta.value, runningMean: &runningMean.value,
                                  runningVar: &runningVar.value, training: training, replicaSum: replicaSum)
        if training { cache = (x, r.cache) }
        return r.output
    }

    public func backward(_ g: Tensor) -> Tensor { backward(g, leakySlope: 1) }

    /// The input gradient taken on through the LeakyReLU (`slope` > 0) that produced this layer's
    /// input, in the same pass.
    public func backward(_ g: Tensor, leakySlope: Float) -> Tensor {
        guard let c = cache else { preconditionFailure("\(gamma.name): backward without a training forward pass") }
        let r = BatchNorm.backward(c.x, gradOutput: g, gamma: gamma.value, cache: c.cache, replicaSum: replicaSum,
                                   leakySlope: leakySlope)
        gamma.grad.add(r.gamma)
        beta.grad.add(r.beta)
        cache = nil
        return r.input
    }

    public var parameters: [Parameter] { [gamma, beta, runningMean, runningVar] }
}

/// LeakyReLU (slope 0 gives ReLU).
public final class LeakyReLULayer: Layer {
    public let slope: Float
    private var input: Tensor?
    public init(slope: Float) { self.slope = slope }

    public func forward(_ x: Tensor, training: Bool) -> Tensor {
        if training { input = x }
        return Activation.leakyReLU(x, slope: slope)
    }

    public func backward(_ g: Tensor) -> Tensor {
        defer { input = nil }
        return Activation.leakyReLUBackward(input!, gradOutput: g, slope: slope)
    }

    public var parameters: [Parameter] { [] }
}

/// Inverted dropout, active only in training; its mask stream is seeded.
public final class DropoutLayer: Layer {
    public let p: Float
    private var generator: SeededGenerator
    private var mask: [Float]?
    public init(p: Float, seed: UInt64) { self.p = p; generator = SeededGenerator(seed: seed) }

    public func forward(_ x: Tensor, training: Bool) -> Tensor {
        guard training, p > 0 else { return x }
        let r = Dropout.forward(x, p: p, generator: &generator)
        mask = r.mask
        return r.output
    }

    public func backward(_ g: Tensor) -> Tensor {
        guard let m = mask else { return g }
        mask = nil
        return Dropout.backward(gradOutput: g, mask: m)
    }

    public var parameters: [Parameter] { [] }
}

/// Layers applied one after the other.
public final class Sequential: Layer {
    public let layers: [Layer]
    public init(_ layers: [Layer]) { self.layers = layers }

    public func forward(_ x: Tensor, training: Bool) -> Tensor {
        guard !training else { return trainingForward(x) }
        return inferenceForward(x, from: 0)
    }

    /// Inference of the channel concatenation of `a` and `b`, `b` upsampled ×2 first with `upsampling`
    /// (a U-Net decoder's input): when the first layers fuse into one convolution, it reads the two
    /// in place (`Conv2D.forward(concatenating:…)`).
    /// With `head`, the head's output on the block's: band by band inside the convolution when that is
    /// the whole block.
    public func forward(concatenating a: Tensor, _ b: Tensor, upsampling: Upsample2x.Mode? = nil, head: Conv2D.Head? = nil) -> Tensor {
        guard let (conv, epilogue, used) = fusedConvolution(at: 0) else {
            let b2 = upsampling.map { Upsample2x.forward(b, mode: $0) } ?? b
            let h = forward(ChannelConcat.forward(a, b2), training: false)
            return head?.forward(h) ?? h
        }
        if used == layers.count { return conv.forward(concatenating: a, b, upsampling: upsampling, epilogue: epilogue, head: head) }
        let h = inferenceForward(conv.forward(concatenating: a, b, upsampling: upsampling, epilogue: epilogue), from: used)
        return head?.forward(h) ?? h
    }

    /// Inference from `layers[start]` on.
    private func inferenceForward(_ x: Tensor, from start: Int) -> Tensor {
        var h = x, i = start
        while i < layers.count {
            if let (conv, epilogue, used) = fusedConvolution(at: i) {
                h = conv.forward(h, epilogue: epilogue)
                i += used
            } else {
                h = layers[i].forward(h, training: false)
                i += 1
            }
        }
        return h
    }

    /// Inference: conv [→ dropout (identity in eval)] → LeakyReLU [→ BatchNorm] starting at
    /// `layers[i]` as one convolution with an epilogue (one pass over the output instead of
    /// three, no intermediate tensors), and the number of layers it replaces.
    private func fusedConvolution(at i: Int) -> (Conv2DLayer, Conv2D.Epilogue, Int)? {
        guard let conv = layers[i] as? Conv2DLayer else { return nil }
        var j = i + 1
        if j < layers.count, layers[j] is DropoutLayer { j += 1 }
        guard j < layers.count, let act = layers[j] as? LeakyReLULayer else { return nil }
        j += 1
        var affine = (scale: [Float](repeating: 1, count: conv.outChannels), shift: [Float](repeating: 0, count: conv.outChannels))
        if j < layers.count, let bn = layers[j] as? BatchNormLayer {
            affine = BatchNorm.inferenceAffine(gamma: bn.gamma.value, beta: bn.beta.value,
                                               runningMean: bn.runningMean.value, runningVar: bn.runningVar.value)
            j += 1
        }
        return (conv, Conv2D.Epilogue(slope: act.slope, scale: affine.scale, shift: affine.shift), j - i)
    }

    /// Training: conv → LeakyReLU (slope > 0) → BatchNorm runs as the convolution with the
    /// activation in its output pass, then batch norm, whose backward takes the gradient on
    /// through the activation (`backward`): two passes over the activation and two of its
    /// tensors fewer each way. Other layers run one by one.
    private func trainingForward(_ x: Tensor) -> Tensor {
        var h = x, i = 0
        while i < layers.count {
            if let (conv, act, bn) = convActivationNorm(at: i) {
                h = bn.forward(conv.forwardTraining(h, leakySlope: act.slope), training: true)
                i += 3
            } else {
                h = layers[i].forward(h, training: true)
                i += 1
            }
        }
        return h
    }

    /// conv → LeakyReLU (slope > 0) → BatchNorm at `layers[i...]`, the triple `trainingForward` fuses.
    private func convActivationNorm(at i: Int) -> (Conv2DLayer, LeakyReLULayer, BatchNormLayer)? {
        guard i >= 0, i + 2 < layers.count, let conv = layers[i] as? Conv2DLayer,
              let act = layers[i + 1] as? LeakyReLULayer, act.slope > 0, let bn = layers[i + 2] as? BatchNormLayer else { return nil }
        return (conv, act, bn)
    }

    public func backward(_ gradient: Tensor) -> Tensor {
        var g = gradient, i = layers.count - 1
        while i >= 0 {
            if let (conv, act, bn) = convActivationNorm(at: i - 2) {
                g = conv.backward(bn.backward(g, leakySlope: act.slope))
                i -= 3
            } else {
                g = layers[i].backward(g)
                i -= 1
            }
        }
        return g
    }

    public var parameters: [Parameter] { layers.flatMap(\.parameters) }
}

/// Max pooling 2×2 as a layer.
public final class MaxPoolLayer: Layer {
    private var saved: (argmax: [Int32], shape: [Int])?
    public init() {}

    public func forward(_ x: Tensor, training: Bool) -> Tensor {
        guard training else { return MaxPool2x2.forwardValues(x) }
        let r = MaxPool2x2.forward(x)
        saved = (r.argmax, x.shape)
        return r.output
    }

    public func backward(_ g: Tensor) -> Tensor {
        defer { saved = nil }
        return MaxPool2x2.backward(gradOutput: g, argmax: saved!.argmax, inputShape: saved!.shape)
    }

    public var parameters: [Parameter] { [] }
}

/// AtomAI's upsampling block: ×2 interpolation, then a 1×1 convolution (`<name>.conv`).
public final class UpsampleBlock: Layer {
    public let mode: Upsample2x.Mode
    public let conv: Conv2DLayer
    private var inputShape: [Int]?

    public init(name: String, inChannels: Int, outChannels: Int, mode: Upsample2x.Mode, generator: inout SeededGenerator) {
        self.mode = mode
        conv = Conv2DLayer(name: name + ".conv", inChannels: inChannels, outChannels: outChannels, kernel: 1, generator: &generator)
    }

    /// In inference the 1×1 convolution runs first, at a quarter of the pixels, and the
    /// interpolation on its (fewer) output channels: both are linear and every output pixel's
    /// interpolation weights sum to 1 (bias included), so the order changes only the rounding.
    public func forward(_ x: Tensor, training: Bool) -> Tensor {
        guard training else { return Upsample2x.forward(beforeInterpolation(x), mode: mode) }
        inputShape = x.shape
        return conv.forward(Upsample2x.forward(x, mode: mode), training: true)
    }

    /// Inference: the block's output before the interpolation (the 1×1 convolution), for a
    /// consumer that interpolates as it reads (`Sequential.forward(concatenating:_:upsampling:)`).
    public func beforeInterpolation(_ x: Tensor) -> Tensor { conv.forward(x, training: false) }

    public func backward(_ g: Tensor) -> Tensor {
        defer { inputShape = nil }
        return Upsample2x.backward(gradOutput: conv.backward(g), mode: mode, inputShape: inputShape!)
    }

    public var parameters: [Parameter] { conv.parameters }
}

/// A chain of dilated stages (conv → LeakyReLU → BN each); the block's output is the sum
/// of every stage's output, so each dilation adds its receptive field to the next.
public final class DilatedBlock: Layer {
    public let stages: [Sequential]
    public init(stages: [Sequential]) { self.stages = stages }

    public func forward(_ x: Tensor, training: Bool) -> Tensor {
        var h = x
        var sum: Tensor?
        for s in stages {
            h = s.forward(h, training: training)
            if sum == nil { sum = h } else { sum!.add(h) }
        }
        return sum!
    }

    public func backward(_ g: Tensor) -> Tensor {
        // out = s1 + s2 + …; stage k's output gradient is g plus what flows back from stage k+1.
        var upstream: Tensor?
        for s in stages.reversed() {
            var gk = g
            if let u = upstream { gk.add(u) }
            upstream = s.backward(gk)
        }
        return upstream!
    }

    public var parameters: [Parameter] { stages.flatMap(\.parameters) }
}
