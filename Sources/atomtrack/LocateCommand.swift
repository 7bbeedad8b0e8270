import ArgumentParser
import Core
import Foundation
import Pipeline

struct Locate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Find every atom in every frame: OUT/atoms.csv and overlay PNGs.",
        discussion: """
        atoms.csv columns: frame, x, y (pixels; origin at the centre of the top-left pixel, x to the \
        right), class (element symbols, a multi-element class joined with '+', e.g. W+Mo), score (mean \
        class probability), border (1 when the atom touches the frame edge), and x_A, y_A in Å when \
        the pixel size is known. Frames are read, segmented and written one at a time.
        """)

    @Argument(help: "Movie or image: TIFF stack, PNG series (file or folder), NPY, DM3/DM4, EMD, Nion, TIA, MRC (see info --help).") var movie: String
    @OptionGroup var modelOptions: ModelOptions
    @OptionGroup var signal: SignalOption
    @OptionGroup var pixelSize: PixelSizeOption
    @OptionGroup var output: OutputOptions
    @Option(parsing: .upToNextOption, help: "Frames to draw as overlay PNGs.") var overlay: [Int] = [0]
    @OptionGroup var selection: FrameSelection

    func run() throws {
        try reportingErrors {
            for f in overlay { try InputError.require(f >= 0, "--overlay", f, "expected frame numbers ≥ 0") }
            let input = try openMovie(movie, modelOptions, pixelSize, signal: signal.signal)
            let frames = try selection.range(in: input)
            let dir = try output.prepare(markers: [AtomTable.fileName], inputs: [.init(movie, streamed: true)])
            let atoms = try MovieLocator.locate(input, frames: frames, overlays: Set(overlay), to: dir, progress: output.progress)
            print("atoms: \(dir.path)/\(AtomTable.fileName) (\(atoms) atoms in \(frames.count) frames)")
        }
    }
}
