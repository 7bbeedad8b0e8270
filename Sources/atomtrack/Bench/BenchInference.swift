import ArgumentParser
import Core
import Foundation
import Networks
import Tensors

/// `atomtrack bench inference`: whole-frame U-Net inference (the network alone) and where its
/// time goes, layer by layer. Compare with `scripts/bench_inference_pytorch.py` ("whole" rows).
struct BenchInference: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inference",
        abstract: "Whole-frame U-Net inference time per frame size, and the time of each layer.",
        discussion: """
        Builds the default U-Net (16 base filters, 3 pools, batch norm, bilinear up, 3 classes; \
        594 067 parameters) and times softmax probabilities of one random 1×S×S frame (batch 1, \
        eval mode: fused conv → LeakyReLU → BatchNorm) for each --sizes S, --repeats times after a \
        warm-up. With --layers, also every layer of that forward pass alone on tensors of its shape, \
        as inference runs them (a decoder's first convolution reads its skip connection and the \
        upsampled path in place; the last one runs the class head and softmax band by band) \
        (least CPU time of the runs; their sum differs from the whole pass by allocation and cache effects).
        """)

    @Option(parsing: .upToNextOption, help: "Frame sides (multiples of 8).") var sizes = [512, 1024]
    @Option(help: "Timed runs per measurement.") var repeats = 5
    @Flag(help: "Also time each layer alone.") var layers = false
    @Option(help: "Floats per im2col band (Conv2D.columnBudget).") var columnBudget = Conv2D.columnBudget
    @Flag(help: "Run the 3×3 convolutions by im2col + sgemm instead of Winograd (for comparison).") var noWinograd = false
    @Option(help: "Winograd output tile of the 3×3 convolutions: 4 (F(4×4, 3×3)) or 2 (F(2×2, 3×3), for comparison).")
    var winogradTile = 4

    func run() throws {
        guard sizes.allSatisfy({ $0 >= 8 && $0 % 8 == 0 }), repeats >= 1, [2, 4].contains(winogradTile) else {
            throw ValidationError("sizes must be positive multiples of 8, repeats ≥ 1, --winograd-tile 2 or 4")
        }
        // Threads: the global `--threads N` (ThreadsOption) sets OpenBLAS and the parallel loops alike.
        Conv2D.forwardTile = winogradTile == 4 ? .f4 : .f2
        Conv2D.columnBudget = max(1, columnBudget)
        Conv2D.winograd = !noWinograd
        let model = try SegmentationModel(ModelDescription(classNames: ["background", "atom", "defect"]))
        print("AtomTrack bench inference — OpenBLAS core \(BLASThreads.coreName), \(BLASThreads.current) BLAS threads, "
              + "U-Net \(model.parameterCount) parameters, batch 1, band \(Conv2D.columnBudget) floats, 3×3 by \(Conv2D.winograd ? "Winograd F(\(winogradTile)×\(winogradTile), 3×3)" : "im2col")")
        var rng = SeededGenerator(seed: 1)
        for s in sizes {
            let x = Tensor.randomNormal(shape: [1, 1, s, s], generator: &rng)
            _ = try model.probabilities(x, batchSize: 1)   // warm-up
            var cpu: [Double] = []
            let ms = try timedRuns(repeats) {
                let c0 = processCPUSeconds()
                _ = try model.probabilities(x, batchSize: 1)
                cpu.append(1000 * (processCPUSeconds() - c0))
            }
            print(String(format: "%5d×%-5d whole frame: wall median %8.1f ms, fastest %8.1f ms; CPU (all threads) median %8.1f ms, least %8.1f ms",
                         s, s, Statistics.median(ms), ms.min()!, Statistics.median(cpu), cpu.min()!))
            if layers { layerTable(size: s, &rng) }
        }
    }

    /// Each layer of the default U-Net's eval forward pass at frame side `s`, timed alone.
    func layerTable(size s: Int, _ rng: inout SeededGenerator) {
        func t(_ c: Int, _ side: Int) -> Tensor { .randomNormal(shape: [1, c, side, side], generator: &rng) }
        // As inference runs them: Winograd weights kept between calls, each decoder's first convolution
        // reading the skip and the upsampled path in place, the last one running the head and softmax per band.
        func weights(_ cin: Int, _ cout: Int, _ k: Int) -> (Tensor, Tensor, Conv2D.Epilogue, Conv2D.TransformedWeights) {
            (Tensor.randomNormal(shape: [cout, cin, k, k], std: 0.1, generator: &rng), Tensor(shape: [cout]),
             Conv2D.Epilogue(slope: 0.01, scale: .init(repeating: 1, count: cout), shift: .init(repeating: 0, count: cout)),
             Conv2D.TransformedWeights())
        }
        func conv(_ cin: Int, _ cout: Int, _ k: Int, _ side: Int, fused: Bool = true) -> () -> Void {
            let x = t(cin, side), (w, b, e, kept) = weights(cin, cout, k)
            return { _ = Conv2D.forward(x, weight: w, bias: b, epilogue: fused ? e : nil, transformed: kept) }
        }
        func decoder(_ c: Int, _ cout: Int, _ side: Int, head: Bool = false) -> () -> Void {
            let skip = t(c, side), low = t(c, side / 2), (w, b, e, kept) = weights(2 * c, cout, 3)
            let classes = Conv2D.Head(weight: .randomNormal(shape: [3, cout, 1, 1], generator: &rng), bias: Tensor(shape: [3]), softmax: true)
            return { _ = Conv2D.forward(concatenating: skip, low, upsampling: .bilinear, weight: w, bias: b, epilogue: e,
                                        transformed: kept, head: head ? classes : nil) }
        }
        func pool(_ c: Int, _ side: Int) -> () -> Void { let x = t(c, side); return { _ = MaxPool2x2.forwardValues(x) } }
        let h = s / 2, q = s / 4, e = s / 8
        let ops: [(String, () -> Void)] = [
            ("c1 conv 1→16 3×3 @\(s)", conv(1, 16, 3, s)), ("pool 16 @\(s)", pool(16, s)),
            ("c2 conv 16→32 3×3 @\(h)", conv(16, 32, 3, h)), ("c2 conv 32→32 3×3 @\(h)", conv(32, 32, 3, h)), ("pool 32 @\(h)", pool(32, h)),
            ("c3 conv 32→64 3×3 @\(q)", conv(32, 64, 3, q)), ("c3 conv 64→64 3×3 @\(q)", conv(64, 64, 3, q)), ("pool 64 @\(q)", pool(64, q)),
            ("bn conv 64→128 3×3 @\(e)", conv(64, 128, 3, e)), ("bn conv 128→128 3×3 @\(e) (first)", conv(128, 128, 3, e)),
            ("bn conv 128→128 3×3 @\(e) (second)", conv(128, 128, 3, e)),
            ("up1 conv 128→64 1×1 @\(e)", conv(128, 64, 1, e, fused: false)),
            ("c5 conv (64 + up1 64)→64 3×3 @\(q)", decoder(64, 64, q)), ("c5 conv 64→64 3×3 @\(q)", conv(64, 64, 3, q)),
            ("up2 conv 64→32 1×1 @\(q)", conv(64, 32, 1, q, fused: false)),
            ("c6 conv (32 + up2 32)→32 3×3 @\(h)", decoder(32, 32, h)), ("c6 conv 32→32 3×3 @\(h)", conv(32, 32, 3, h)),
            ("up3 conv 32→16 1×1 @\(h)", conv(32, 16, 1, h, fused: false)),
            ("c7 (16 + up3 16)→16, head, softmax @\(s)", decoder(16, 16, s, head: true)),
        ]
        var times: [(String, Double)] = []   // least CPU ms of the runs (wall time on a shared box is mostly waiting)
        for (name, body) in ops {
            body()
            let cpu = (0..<repeats).map { _ in let c0 = processCPUSeconds(); body(); return 1000 * (processCPUSeconds() - c0) }
            times.append((name, cpu.min()!))
        }
        let sum = times.reduce(0) { $0 + $1.1 }
        for (name, ms) in times {
            print("  " + name.padding(toLength: 40, withPad: " ", startingAt: 0) + String(format: " %8.2f ms  %5.1f %%", ms, 100 * ms / sum))
        }
        print(String(format: "  sum of the layers (CPU) %23.1f ms", sum))
    }
}
