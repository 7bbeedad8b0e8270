import ArgumentParser
import Core
import CBLAS
import Foundation
import Networks
import Tensors

/// `atomtrack bench kernels`: raw sgemm rate, per-layer convolution rates of the default
/// U-Net, and the whole U-Net's train step and inference time. Compare with
/// `scripts/bench_vs_pytorch.py` (same shapes, same thread count).
struct BenchKernels: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kernels",
        abstract: "Convolution GFLOP/s per U-Net layer, sgemm peak, U-Net train step and inference time.",
        discussion: """
        Builds the default U-Net (16 base filters, 3 pools, batch norm, bilinear up) and times, at \
        the given image size and batch: raw cblas_sgemm on a 1024³ problem; forward, input-gradient \
        and weight-gradient convolution for every distinct conv shape of the network; one training \
        step (forward, cross-entropy, backward, Adam); inference per image. The OpenBLAS kernel family \
        in use is printed (the CLI selects SkylakeX on AVX-512 CPUs unless OPENBLAS_CORETYPE is set).
        """)

    @Option(help: "Image height and width.") var size = 256
    @Option(help: "Batch size.") var batch = 8
    @Option(help: "Timed repetitions per measurement (the median is reported).") var repeats = 3
    @Flag(help: "Skip the per-layer table (only sgemm and the whole network).") var networkOnly = false
    @Flag(help: "Time every figure by the process's CPU seconds (all threads), the least of the runs, instead of the median wall time (for a loaded, shared machine).")
    var cpuTime = false
    @Flag(help: "Let glibc unmap freed large blocks (default: recycle them, see MemoryTuning).") var noRecycle = false
    @Option(help: "Floats per im2col band (Conv2D.columnBudget).") var columnBudget = Conv2D.columnBudget
    @Flag(help: "Run the 3×3 convolutions by im2col + sgemm instead of Winograd F(2×2, 3×3) (for comparison).") var noWinograd = false
    @Option(help: "Also save the trained benchmark model and Adam state here (safetensors; check it with scripts/check_safetensors.py).")
    var saveCheckpoint: String?

    func run() throws {
        // Threads: the global `--threads N` (ThreadsOption), which sets OpenBLAS and the parallel loops alike.
        guard size >= 8, size % 8 == 0, batch >= 1, repeats >= 1 else {
            throw ValidationError("size must be a positive multiple of 8; batch and repeats ≥ 1")
        }
        if !noRecycle { MemoryTuning.recycleLargeAllocations() }
        Conv2D.columnBudget = max(1, columnBudget)
        Conv2D.winograd = !noWinograd
        print("AtomTrack bench kernels — OpenBLAS core \(BLASThreads.coreName), \(BLASThreads.current) BLAS threads, "
              + "image \(size)×\(size), batch \(batch), \(cpuTime ? "least CPU time" : "median") of \(repeats), band \(Conv2D.columnBudget) floats, 3×3 by \(Conv2D.winograd ? "Winograd" : "im2col"), "
              + (noRecycle ? "malloc default" : "large allocations recycled"))
        let peak = sgemmRate()
        print(String(format: "sgemm 1024×1024×1024: %.1f GFLOP/s (reference rate below)", peak))

        var rng = SeededGenerator(seed: 1)
        if !networkOnly {
            print("\nlayer (Cin→Cout k, H×W)        fwd GFLOP/s  bwd-data GFLOP/s  bwd-weight GFLOP/s  fwd %sgemm  bwd %sgemm")
            for shape in uNetConvShapes() {
                let (cin, cout, k, hw) = shape
                let x = Tensor.randomNormal(shape: [batch, cin, hw, hw], generator: &rng)
                let w = Tensor.randomNormal(shape: [cout, cin, k, k], std: 0.1, generator: &rng)
                let b = Tensor(shape: [cout])
                let gy = Tensor.randomNormal(shape: [batch, cout, hw, hw], generator: &rng)
                let flops = 2 * Double(Conv2D.macs(inputShape: x.shape, weightShape: w.shape))
                let tf = median { _ = Conv2D.forward(x, weight: w, bias: b) }
                let tw = median { _ = Conv2D.backward(x, weight: w, gradOutput: gy, needInputGrad: false) }
                let tb = median { _ = Conv2D.backward(x, weight: w, gradOutput: gy) }
                // backward with input gradient = weight-grad + data-grad; split them.
                let td = max(tb - tw, 1e-9)
                let gf = flops / tf / 1e9, gd = flops / td / 1e9, gw = flops / tw / 1e9
                let label = "\(cin)→\(cout) \(k)×\(k), \(hw)×\(hw)".padding(toLength: 30, withPad: " ", startingAt: 0)
                print(String(format: "%@ %11.1f  %16.1f  %18.1f  %9.0f%%  %9.0f%%", label, gf, gd, gw,
                             100 * gf / peak, 100 * (2 * flops / tb / 1e9) / peak))
            }
        }

        if !networkOnly { elementwiseTable(&rng) }

        let model = try SegmentationModel(ModelDescription(classNames: ["background", "atom", "defect"]))
        let trainer = Trainer(model: model, optimizer: Optimizer(.adam(learningRate: 1e-3)))
        let x = Tensor.randomNormal(shape: [batch, 1, size, size], generator: &rng)
        let labels = try LabelMaps(n: batch, height: size, width: size,
                                   labels: (0..<(batch * size * size)).map { _ in Int32(rng.next() % 3) })
        try trainer.step(images: x, labels: labels)   // warm-up
        var trainCPU: [Double] = []   // CPU time (all threads): wall time on a shared box is mostly waiting
        let tTrain = try median {
            let c0 = processCPUSeconds()
            try trainer.step(images: x, labels: labels)
            trainCPU.append(processCPUSeconds() - c0)
        }
        let tInfer = try median { _ = try model.probabilities(x, batchSize: batch) }
        print(String(format: "\nU-Net (%d parameters) train step, batch %d: %.3f s  (%.1f ms per image); CPU least %.3f s",
                     model.parameterCount, batch, tTrain, 1000 * tTrain / Double(batch), trainCPU.min()!))
        // Where a step's time goes.
        var logits = x, grad = x
        let tFwd = try median { logits = try model.forward(x, training: true) }
        let tLoss = try median { grad = try Loss.crossEntropy(classWeights: nil).evaluate(logits: logits, labels: labels).gradient }
        let tBwd = try median { model.zeroGradients(); model.backward(grad); _ = try model.forward(x, training: true) } - tFwd
        let tOpt = median { trainer.optimizer.step(model.parameters) }
        print(String(format: "  of which forward %.3f s, loss %.3f s, backward %.3f s, Adam %.3f s", tFwd, tLoss, tBwd, tOpt))
        print(String(format: "U-Net inference (softmax probabilities), batch %d: %.1f ms per image", batch, 1000 * tInfer / Double(batch)))
        if let path = saveCheckpoint {
            try Checkpoint.save(model: model, optimizer: trainer.optimizer, to: URL(fileURLWithPath: path))
            print("checkpoint written to \(path)")
        }
    }

    /// Milliseconds of the non-BLAS kernels on the largest U-Net activation, [batch, 16, size, size].
    func elementwiseTable(_ rng: inout SeededGenerator) {
        let x = Tensor.randomNormal(shape: [batch, 16, size, size], generator: &rng)
        let half = Tensor.randomNormal(shape: [batch, 16, size / 2, size / 2], generator: &rng)
        let gamma = Tensor(shape: [16], repeating: 1), beta = Tensor(shape: [16])
        var rm = Tensor(shape: [16]), rv = Tensor(shape: [16], repeating: 1)
        let (_, cache) = BatchNorm.forward(x, gamma: gamma, beta: beta, runningMean: &rm, runningVar: &rv, training: true)
        let (_, arg) = MaxPool2x2.forward(x)
        let rows: [(String, () -> Void)] = [
            ("LeakyReLU forward", { _ = Activation.leakyReLU(x, slope: 0.01) }),
            ("LeakyReLU backward", { _ = Activation.leakyReLUBackward(x, gradOutput: x, slope: 0.01) }),
            ("BatchNorm forward (train)", { _ = BatchNorm.forward(x, gamma: gamma, beta: beta, runningMean: &rm, runningVar: &rv, training: true) }),
            ("BatchNorm backward", { _ = BatchNorm.backward(x, gradOutput: x, gamma: gamma, cache: cache) }),
            ("MaxPool forward", { _ = MaxPool2x2.forward(x) }),
            ("MaxPool backward", { _ = MaxPool2x2.backward(gradOutput: half, argmax: arg, inputShape: x.shape) }),
            ("Upsample bilinear forward (from half size)", { _ = Upsample2x.forward(half, mode: .bilinear) }),
            ("Upsample bilinear backward", { _ = Upsample2x.backward(gradOutput: x, mode: .bilinear, inputShape: half.shape) }),
            ("Concat forward (16+16 channels)", { _ = ChannelConcat.forward(x, x) }),
            ("Softmax over 16 channels", { _ = ChannelSoftmax.forward(x) }),
        ]
        print("\nnon-BLAS kernels on [\(batch), 16, \(size), \(size)] (\(x.count * 4 / 1_000_000) MB):")
        for (name, body) in rows {
            print(String(format: "  %@ %8.1f ms", name.padding(toLength: 44, withPad: " ", startingAt: 0), 1000 * median(body)))
        }
    }

    /// Distinct (Cin, Cout, k, H=W) of the default U-Net's convolutions at `size`.
    func uNetConvShapes() -> [(Int, Int, Int, Int)] {
        let f = 16
        return [(1, f, 3, size), (f, 2 * f, 3, size / 2), (2 * f, 2 * f, 3, size / 2), (2 * f, 4 * f, 3, size / 4),
                (4 * f, 4 * f, 3, size / 4), (4 * f, 8 * f, 3, size / 8), (8 * f, 8 * f, 3, size / 8),
                (8 * f, 4 * f, 1, size / 4), (8 * f, 4 * f, 3, size / 4), (4 * f, 2 * f, 1, size / 2),
                (4 * f, 2 * f, 3, size / 2), (2 * f, f, 1, size), (2 * f, f, 3, size), (f, 3, 1, size)]
    }

    func sgemmRate() -> Double {
        let n = 1024
        var rng = SeededGenerator(seed: 3)
        let a = Tensor.randomNormal(shape: [n, n], generator: &rng), b = Tensor.randomNormal(shape: [n, n], generator: &rng)
        var c = [Float](repeating: 0, count: n * n)
        let t = median {
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(n), Int32(n), Int32(n), 1, a.data, Int32(n),
                        b.data, Int32(n), 0, &c, Int32(n))
        }
        return 2 * Double(n * n * n) / t / 1e9
    }

    /// Median seconds of `repeats` runs after a warm-up (with `--cpu-time`: the least CPU seconds).
    func median(_ body: () throws -> Void) rethrows -> Double {
        guard cpuTime else { return Statistics.median(try timedRuns(repeats, warmUp: true, body)) / 1000 }
        try body()
        return try (0..<repeats).map { _ in
            let c0 = processCPUSeconds()
            try body()
            return processCPUSeconds() - c0
        }.min()!
    }
}
