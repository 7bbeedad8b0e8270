import Core
import ArgumentParser
import Foundation
import MicroscopyIO
import Pipeline

/// Options shared by every command that runs the network on a movie.
struct ModelOptions: ParsableArguments {
    @Option(help: "Model directory (model.safetensors + model.json). Default: the shipped model for --material.")
    var model: String?
    @Option(help: "Material, to pick a shipped model: graphene-si or ws2.") var material: String?
    @Option(help: "Pixel size in Å (overrides the file's calibration).") var pixelSize: Double?
    @Option(help: "Class probability threshold for atoms.") var threshold: Float = 0.5
    @Flag(help: "Skip the 2-D Gaussian refinement (plain probability-weighted centroids).") var noRefine = false

    func finder() throws -> AtomFinder {
        var options = AtomFinder.Options()
        options.threshold = threshold
        options.refine = !noRefine
        return try AtomFinder(model: TrainedModel(at: try ShippedModels.resolve(model: model, material: material)), options: options)
    }

    /// The pixel size to use: the flag, else the file's calibration; warns when unknown.
    func calibration(of movie: Movie) -> Double? {
        if let pixelSize { return pixelSize }
        if let p = movie.pixelSizeA { return p }
        FileHandle.standardError.write(Data("warning: \(movie.url.lastPathComponent) has no pixel calibration; assuming the model's trained pixel size (pass --pixel-size Å)\n".utf8))
        return nil
    }
}

/// `--first` and `--count`: which frames of a movie to process.
struct FrameSelection: ParsableArguments {
    @Option(help: "First frame.") var first = 0
    @Option(help: "Number of frames (default: all).") var count: Int?

    func range(in movie: Movie) throws -> Range<Int> {
        guard first >= 0, first < movie.frameCount else {
            throw InputError("--first \(first) is outside the movie's \(movie.frameCount) frames")
        }
        guard count.map({ $0 > 0 }) ?? true else { throw InputError("--count must be at least 1") }
        return first..<min(movie.frameCount, first + (count ?? movie.frameCount))
    }
}

struct Locate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Find every atom in every frame: OUT/atoms.csv and overlay PNGs.",
        discussion: """
        atoms.csv columns: frame, x, y (pixels; origin at the centre of the top-left pixel, x to the
        right), class (element symbols, a multi-element class joined with '+', e.g. W+Mo), score (mean
        class probability), border (1 when the atom touches the frame edge), and x_A, y_A in Å when
        the pixel size is known. Frames are read, segmented and written one at a time.
        """)

    @Argument(help: "Movie or image: TIFF stack, PNG series (file or folder), NPY, DM3/DM4.") var movie: String
    @OptionGroup var modelOptions: ModelOptions
    @Option(help: "Output directory.") var out: String
    @Option(parsing: .upToNextOption, help: "Frames to draw as overlay PNGs.") var overlay: [Int] = [0]
    @OptionGroup var selection: FrameSelection
    @Flag(help: "Replace earlier results in OUT.") var overwrite = false
    @Flag(help: "No progress bar.") var quiet = false

    func run() throws {
        try reportingErrors {
            let m = try Movie.open(URL(fileURLWithPath: movie))
            let finder = try modelOptions.finder()
            let frames = try selection.range(in: m)
            let dir = URL(fileURLWithPath: out)
            try OutputDirectory.prepare(dir, markers: [MovieLocator.atomsFile], allowExisting: overwrite)
            var locator = MovieLocator(finder: finder, pixelSize: modelOptions.calibration(of: m))
            locator.overlayFrames = Set(overlay)
            locator.keepAtoms = false
            var total = 0
            _ = try locator.run(movie: m, frames: frames, to: dir, progress: !quiet) { _, _, atoms in total += atoms.count }
            print("atoms: \(dir.path)/atoms.csv (\(total) atoms in \(frames.count) frames)")
        }
    }
}
