import ArgumentParser
import Core
import Foundation
import Pipeline

// The option groups the commands share, declared once so a flag reads and behaves the same in
// every command that takes it.

/// `--out`, `--overwrite`, `--quiet`: where a command writes, and whether it may replace what an
/// earlier run left there.
struct OutputOptions: ParsableArguments {
    @Option(help: "Output directory.") var out: String
    @Flag(help: "Replace earlier results in OUT.") var overwrite = false
    @Flag(help: "No progress bars.") var quiet = false

    var directory: URL { URL(fileURLWithPath: out) }
    var progress: Bool { !quiet }

    /// Creates and locks OUT, refusing one that holds any of `markers` unless `--overwrite` (or
    /// `resuming`) was given, and one that is or would replace an input; with `--overwrite`,
    /// removes the earlier run's files first. Returns OUT.
    @discardableResult
    func prepare(markers: [String], resuming: Bool = false, inputs: [OutputDirectory.Input] = []) throws -> URL {
        // URL(fileURLWithPath: "") is the current directory: an empty --out is a mistake, not ".".
        guard !out.isEmpty else { throw OutputDirectoryError.emptyPath }
        try OutputDirectory.prepare(directory, markers: markers, allowExisting: overwrite || resuming,
                                    replace: overwrite && !resuming, inputs: inputs)
        return directory
    }
}

/// `--model` / `--material`: which trained model reads the movie.
struct ModelChoice: ParsableArguments {
    @Option(help: "Model directory (model.safetensors + model.json). Default: the shipped model for --material.")
    var model: String?
    @Option(help: "Material, to pick a shipped model: graphene-si or ws2.") var material: String?
}

/// The model and how it finds atoms: for every command that runs the network.
struct ModelOptions: ParsableArguments {
    @OptionGroup var choice: ModelChoice
    @Option(help: "Class probability threshold for atoms.") var threshold: Float = 0.5
    @Flag(help: "Skip the 2-D Gaussian refinement (plain probability-weighted centroids).") var noRefine = false
    @Flag(help: "Test-time augmentation: average the network's probabilities over the 8 flips/rotations of each tile (8× the network time).")
    var tta = false
    @Flag(help: "Keep a two-element class merged (W+Mo) instead of splitting Mo off W by Z-contrast.") var mergeDopants = false

    func finder() throws -> AtomFinder {
        try InputError.require(threshold > 0 && threshold < 1, "--threshold", threshold, "expected 0 < threshold < 1")
        var options = AtomFinder.Options()
        options.threshold = threshold
        options.refine = !noRefine
        options.tta = tta
        options.mergeDopants = mergeDopants
        let directory = try ShippedModels.resolve(model: choice.model, material: choice.material)
        return try AtomFinder(model: TrainedModel(at: directory), options: options)
    }
}

/// `--pixel-size`: Å per pixel, for a movie without a calibration or with a wrong one.
struct PixelSizeOption: ParsableArguments {
    @Option(help: "Pixel size in Å (overrides the file's calibration, if any).") var pixelSize: Double?

    /// The value, refused in one line (by `Calibration`'s range) before anything is written.
    func checked() throws -> Double? {
        try Calibration.checkFlags(pixelSize: pixelSize)
        return pixelSize
    }
}

/// `--frame-time`: seconds per frame, for rates per second.
struct FrameTimeOption: ParsableArguments {
    @Option(help: "Seconds per frame (for Å²/s and timescales in seconds).") var frameTime: Double?

    /// The value, refused in one line (by `Calibration`'s range) before anything is written.
    func checked() throws -> Double? {
        try Calibration.checkFlags(frameTime: frameTime)
        return frameTime
    }
}

/// `--signal`: which image of a multi-signal file (a Velox detector, a Berkeley EMD group).
struct SignalOption: ParsableArguments {
    @Option(help: "Image signal of a multi-signal file (Velox detector such as HAADF, DF4; Berkeley EMD group); `info` lists them. Default: HAADF, else the largest.")
    var signal: String?
}

/// `--first` and `--count`: which frames of a movie to process.
struct FrameSelection: ParsableArguments {
    @Option(help: "First frame (default: 0).") var first: Int?
    @Option(help: "Number of frames (default: all).") var count: Int?

    func range(in input: MovieInput) throws -> Range<Int> { try input.frames(first: first ?? 0, count: count) }
}

/// The movie a network command reads, opened with its model at its pixel size.
func openMovie(_ path: String, _ model: ModelOptions, _ pixelSize: PixelSizeOption, signal: String? = nil) throws -> MovieInput {
    try MovieInput(path: path, finder: model.finder(), pixelSize: pixelSize.checked(), signal: signal)
}

/// `--shard I/N`: analyse one of N contiguous frame ranges; `atomtrack merge` joins them.
struct ShardOption: ParsableArguments {
    @Option(help: ArgumentHelp("Analyse only the I-th (0-based) of N contiguous frame ranges, for `atomtrack merge`.",
                               valueName: "I/N")) var shard: String?

    func validate() throws {
        do { _ = try spec() } catch { throw ValidationError("\(error)") }
    }

    func spec() throws -> ShardSpec? { try shard.map(ShardSpec.init(parsing:)) }
}
