import Foundation
import Tensors

/// Integer label maps `[N, H, W]` (row-major), one class index per pixel, or `ignore`.
public struct LabelMaps: Equatable, Sendable {
    public let n, height, width: Int
    public var labels: [Int32]

    /// A pixel whose class is unknown (labels read off a frame that could not decide it): it adds
    /// nothing to any loss, its gradient or the pixel accuracy.
    public static let ignore: Int32 = -1

    /// Pixels that count (not `ignore`): the denominator of a per-pixel mean.
    public var countedPixels: Int { labels.reduce(0) { $0 + ($1 == Self.ignore ? 0 : 1) } }

    public init(n: Int, height: Int, width: Int, labels: [Int32]) throws {
        guard n * height * width == labels.count else {
            throw NetworkError.badInput("label maps \(n)×\(height)×\(width) need \(n * height * width) labels, got \(labels.count)")
        }
        self.n = n; self.height = height; self.width = width; self.labels = labels
    }
}

/// Segmentation losses on logits `[N, C, H, W]`, each with its gradient with respect to the logits.
public enum Loss: Codable, Equatable, Sendable {
    /// Mean cross-entropy; with class weights the mean is Σ w_y·(−log p_y) / Σ w_y (as PyTorch).
    case crossEntropy(classWeights: [Float]?)
    /// Focal loss −w_y (1 − p_y)^γ log p_y, averaged over pixels.
    case focal(gamma: Float, classWeights: [Float]?)
    /// Soft dice: 1 − mean over classes of (2 Σ p·g + ε) / (Σ p + Σ g + ε), ε = 1, over the counted pixels.
    case dice

    /// A plain mean over pixels (so a batch split into parts has the parts' pixel-weighted mean):
    /// unweighted cross-entropy or focal loss. Data-parallel training relies on it.
    public var isPixelMean: Bool {
        switch self {
        case .crossEntropy(let w), .focal(_, let w): return w == nil
        case .dice: return false
        }
    }

    /// The loss value and its gradient with respect to `logits`.
    public func evaluate(logits: Tensor, labels: LabelMaps) throws -> (loss: Double, gradient: Tensor) {
        let (n, c, h, w) = logits.nchw
        guard labels.n == n, labels.height == h, labels.width == w else {
            throw NetworkError.badInput("labels \(labels.n)×\(labels.height)×\(labels.width) do not match logits \(logits.shape)")
        }
        if let bad = labels.labels.first(where: { ($0 < 0 && $0 != LabelMaps.ignore) || Int($0) >= c }) {
            throw NetworkError.badInput("label \(bad) is outside 0..<\(c)")
        }
        let probs = ChannelSoftmax.forward(logits)
        switch self {
        case .crossEntropy(let weights):
            try Self.checkWeights(weights, c)
            return Self.focal(probs, labels, gamma: 0, weights: weights, normalizeByWeight: true)
        case .focal(let gamma, let weights):
            try Self.checkWeights(weights, c)
            guard gamma >= 0 else { throw NetworkError.badInput("focal gamma must be ≥ 0") }
            return Self.focal(probs, labels, gamma: gamma, weights: weights, normalizeByWeight: false)
        case .dice:
            return Self.dice(probs, labels)
        }
    }

    private static func checkWeights(_ w: [Float]?, _ c: Int) throws {
        guard let w else { return }
        guard w.count == c, w.allSatisfy({ $0 >= 0 && $0.isFinite }), w.contains(where: { $0 > 0 }) else {
            throw NetworkError.badInput("class weights must be \(c) finite non-negative numbers, not all zero")
        }
    }

    /// Focal loss (γ = 0 is cross-entropy). d/dz_k of −(1−p)^γ log p with p = p_y:
    /// [γ(1−p)^(γ−1) log p − (1−p)^γ / p] · p (δ_yk − p_k). Ignored pixels are left out of the sum
    /// and of the mean's denominator (their gradient stays zero).
    private static func focal(_ probs: Tensor, _ labels: LabelMaps, gamma: Float, weights: [Float]?,
                              normalizeByWeight: Bool) -> (Double, Tensor) {
        let (n, c, h, w) = probs.nchw
        let hw = h * w
        var grad = Tensor(shape: probs.shape)
        var total = 0.0, weightSum = 0.0, counted = 0
        let tiny: Float = 1e-12
        for i in 0..<n {
            for j in 0..<hw where labels.labels[i * hw + j] != LabelMaps.ignore {
                counted += 1
                let y = Int(labels.labels[i * hw + j])
                let wy = weights?[y] ?? 1
                let p = max(probs.data[(i * c + y) * hw + j], tiny)
                let q = 1 - p
                let logp = Foundation.log(p)
                let l = -(gamma == 0 ? 1 : Foundation.pow(q, gamma)) * logp
                total += Double(wy * l)
                weightSum += Double(wy)
                // (1−p)^(γ−1) is infinite at p = 1 for γ < 1, but there log p = 0: the term vanishes.
                let qPow = q > 0 ? Foundation.pow(q, gamma - 1) : 0
                let dLdp = gamma == 0 ? -1 / p : gamma * qPow * logp - Foundation.pow(q, gamma) / p
                for k in 0..<c {
                    let idx = (i * c + k) * hw + j
                    grad.data[idx] = wy * dLdp * p * ((k == y ? 1 : 0) - probs.data[idx])
                }
            }
        }
        let denom = normalizeByWeight ? max(weightSum, 1e-12) : Double(max(counted, 1))
        let scale = Float(1 / denom)
        for i in 0..<grad.count { grad.data[i] *= scale }
        return (total / denom, grad)
    }

    private static func dice(_ probs: Tensor, _ labels: LabelMaps) -> (Double, Tensor) {
        let (n, c, h, w) = probs.nchw
        let hw = h * w, eps = 1.0
        var inter = [Double](repeating: 0, count: c), psum = inter, gsum = inter
        for i in 0..<n {
            for k in 0..<c {
                for j in 0..<hw where labels.labels[i * hw + j] != LabelMaps.ignore {
                    let p = Double(probs.data[(i * c + k) * hw + j])
                    let g = labels.labels[i * hw + j] == k ? 1.0 : 0.0
                    inter[k] += p * g; psum[k] += p; gsum[k] += g
                }
            }
        }
        var loss = 0.0
        var dLdp = [Double](repeating: 0, count: 2 * c)   // per class: coefficient for g=1 and g=0
        for k in 0..<c {
            let s = psum[k] + gsum[k] + eps
            loss += 1 - (2 * inter[k] + eps) / s
            // d dice_k / d p = (2 g s − (2 I + ε)) / s²; loss = mean_k (1 − dice_k)
            dLdp[2 * k] = -(2 * s - (2 * inter[k] + eps)) / (s * s) / Double(c)
            dLdp[2 * k + 1] = (2 * inter[k] + eps) / (s * s) / Double(c)
        }
        var gp = Tensor(shape: probs.shape)
        for i in 0..<n {
            for k in 0..<c {
                for j in 0..<hw where labels.labels[i * hw + j] != LabelMaps.ignore {
                    let isK = labels.labels[i * hw + j] == k
                    gp.data[(i * c + k) * hw + j] = Float(isK ? dLdp[2 * k] : dLdp[2 * k + 1])
                }
            }
        }
        return (loss / Double(c), ChannelSoftmax.backward(output: probs, gradOutput: gp))
    }
}

/// Fraction of the counted (not ignored) pixels whose arg-max class equals the label.
public func pixelAccuracy(logits: Tensor, labels: LabelMaps) -> Double {
    let (n, c, h, w) = logits.nchw
    let hw = h * w
    var correct = 0
    for i in 0..<n {
        for j in 0..<hw where labels.labels[i * hw + j] != LabelMaps.ignore {
            var best = 0
            for k in 1..<max(c, 1) where logits.data[(i * c + k) * hw + j] > logits.data[(i * c + best) * hw + j] { best = k }
            if best == Int(labels.labels[i * hw + j]) { correct += 1 }
        }
    }
    return Double(correct) / Double(max(1, labels.countedPixels))
}
