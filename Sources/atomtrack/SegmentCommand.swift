import ArgumentParser
import Foundation
import MicroscopyIO
import Pipeline

struct Segment: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Class probability maps of every frame (float32 TIFF).",
        discussion: """
        Writes OUT/probabilities.tif: for each frame, one page per class in the model's order
        (background last), i.e. page = frame × classes + class; values in [0, 1] summing to 1 over
        the classes of a pixel. Frames are normalized (1st/99.9th percentiles), cut into overlapping
        tiles and blended without seams. Frames stream through one at a time.
        """)

    @Argument(help: "Movie: TIFF stack, PNG series, NPY, DM3/DM4.") var movie: String
    @OptionGroup var modelOptions: ModelOptions
    @Option(help: "Output directory.") var out: String
    @OptionGroup var selection: FrameSelection
    @Flag(help: "Replace earlier results in OUT.") var overwrite = false
    @Flag(help: "No progress bar.") var quiet = false

    func run() throws {
        try reportingErrors {
            let m = try Movie.open(URL(fileURLWithPath: movie))
            let finder = try modelOptions.finder()
            let frames = try selection.range(in: m)
            let dir = URL(fileURLWithPath: out)
            try OutputDirectory.prepare(dir, markers: ["probabilities.tif"], allowExisting: overwrite)
            let writer = try TIFFStackWriter(url: dir.appendingPathComponent("probabilities.tif"), width: m.width, height: m.height,
                                             sampleType: .float32, pixelSizeA: modelOptions.calibration(of: m))
            let bar = ProgressBar("segment", total: frames.count, quiet: quiet)
            do {
                for i in frames {
                    let frame = try m.frame(i)
                    let (maps, _) = try finder.probabilities(frame.pixels, width: frame.width, height: frame.height, frame: i)
                    for c in 0..<maps.classes { try writer.append(Array(maps.plane(c))) }
                    bar.advance()
                }
                try writer.finish()
            } catch {
                writer.cancel()
                throw error
            }
            bar.finish()
            print("probabilities: \(dir.path)/probabilities.tif (\(frames.count) frames × \(finder.model.card.classes.count) classes: \(finder.model.card.classes.map(\.symbol).joined(separator: ", ")))")
        }
    }
}
