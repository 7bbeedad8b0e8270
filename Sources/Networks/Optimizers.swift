import Foundation
import Tensors

/// Learning-rate schedules, as a function of the optimizer step (0-based).
public enum LRSchedule: Codable, Equatable, Sendable {
    case constant
    /// Multiply by `gamma` every `every` steps.
    case step(every: Int, gamma: Float)
    /// Cosine annealing from the base rate to `minimum` over `totalSteps`, then flat.
    case cosine(totalSteps: Int, minimum: Float)

    public func rate(base: Float, step: Int) -> Float {
        switch self {
        case .constant: return base
        case .step(let every, let gamma):
            return base * Foundation.pow(gamma, Float(step / max(1, every)))
        case .cosine(let total, let minimum):
            let t = Float(min(step, total)) / Float(max(1, total))
            return minimum + (base - minimum) * 0.5 * (1 + Foundation.cos(Float.pi * t))
        }
    }
}

/// The optimizer's hyper-parameters (stored in checkpoints).
public enum OptimizerConfig: Codable, Equatable, Sendable {
    /// Adam; `decoupledWeightDecay` gives AdamW, otherwise decay is added to the gradient (L2).
    case adam(learningRate: Float, beta1: Float = 0.9, beta2: Float = 0.999, epsilon: Float = 1e-8,
              weightDecay: Float = 0, decoupledWeightDecay: Bool = false)
    /// SGD with (heavy-ball, PyTorch-style) momentum and L2 weight decay.
    case sgd(learningRate: Float, momentum: Float = 0.9, weightDecay: Float = 0)

    public var learningRate: Float {
        switch self {
        case .adam(let lr, _, _, _, _, _), .sgd(let lr, _, _): return lr
        }
    }
}

/// Adam or SGD+momentum over a model's parameters, with a learning-rate schedule.
/// State (moments / velocities and the step count) is keyed by parameter name so it can
/// be saved in and restored from a checkpoint.
public final class Optimizer {
    public let config: OptimizerConfig
    public let schedule: LRSchedule
    /// Number of completed `step()` calls.
    public private(set) var stepCount: Int = 0
    /// Moment buffers per parameter: Adam's m and v, or SGD's velocity (in `first`).
    private var first: [String: Tensor] = [:]
    private var second: [String: Tensor] = [:]

    public init(_ config: OptimizerConfig, schedule: LRSchedule = .constant) {
        self.config = config
        self.schedule = schedule
    }

    /// The learning rate the next step will use.
    public var currentLearningRate: Float { schedule.rate(base: config.learningRate, step: stepCount) }

    /// Updates every trainable parameter from its accumulated gradient.
    public func step(_ parameters: [Parameter]) {
        let lr = currentLearningRate
        stepCount += 1
        for p in parameters where p.isTrainable {
            switch config {
            case let .adam(_, b1, b2, eps, wd, decoupled):
                var m = first[p.name] ?? Tensor(shape: p.value.shape)
                var v = second[p.name] ?? Tensor(shape: p.value.shape)
                let c1 = 1 - Foundation.pow(b1, Float(stepCount)), c2 = 1 - Foundation.pow(b2, Float(stepCount))
                let a = lr / c1
                p.value.data.withUnsafeMutableBufferPointer { w in
                p.grad.data.withUnsafeBufferPointer { g in
                m.data.withUnsafeMutableBufferPointer { mp in
                v.data.withUnsafeMutableBufferPointer { vp in
                    for i in 0..<w.count {
                        var gi = g[i]
                        if wd != 0 { if decoupled { w[i] -= lr * wd * w[i] } else { gi += wd * w[i] } }
                        mp[i] = b1 * mp[i] + (1 - b1) * gi
                        vp[i] = b2 * vp[i] + (1 - b2) * gi * gi
                        w[i] -= a * mp[i] / ((vp[i] / c2).squareRoot() + eps)
                    }
                }}}}
                first[p.name] = m; second[p.name] = v
            case let .sgd(_, mu, wd):
                var b = first[p.name] ?? Tensor(shape: p.value.shape)
                let fresh = first[p.name] == nil
                p.value.data.withUnsafeMutableBufferPointer { w in
                p.grad.data.withUnsafeBufferPointer { g in
                b.data.withUnsafeMutableBufferPointer { bp in
                    for i in 0..<w.count {
                        let gi = g[i] + wd * w[i]
                        bp[i] = fresh ? gi : mu * bp[i] + gi
                        w[i] -= lr * (mu == 0 ? gi : bp[i])
                    }
                }}}
                first[p.name] = b
            }
        }
    }

    /// The state as named tensors (`optimizer.m.<param>`, `optimizer.v.<param>`) for checkpoints.
    public var stateTensors: [String: Tensor] {
        var out: [String: Tensor] = [:]
        for (k, t) in first { out["optimizer.m." + k] = t }
        for (k, t) in second { out["optimizer.v." + k] = t }
        return out
    }

    /// Restores moments and step count saved by `stateTensors` / `stepCount`.
    public func restore(stateTensors: [String: Tensor], stepCount: Int) {
        first = [:]; second = [:]
        for (k, t) in stateTensors {
            if k.hasPrefix("optimizer.m.") { first[String(k.dropFirst(12))] = t }
            if k.hasPrefix("optimizer.v.") { second[String(k.dropFirst(12))] = t }
        }
        self.stepCount = stepCount
    }
}
