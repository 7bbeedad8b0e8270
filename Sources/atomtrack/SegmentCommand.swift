import ArgumentParser
import Foundation
import Pipeline

struct Segment: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Class probability maps of every frame (float32 TIFF).",
        discussion: """
        Writes OUT/probabilities.tif: for each frame, one page per class in the model's order \
        (background last), i.e. page = frame × classes + class; values in [0, 1] summing to 1 over \
        the classes of a pixel. Frames are normalized (1st/99.9th percentiles), cut into overlapping \
        tiles and blended without seams. Frames stream through one at a time.
        """)

    @Argument(help: "Movie: TIFF stack, PNG series, NPY, DM3/DM4.") var movie: String
    @OptionGroup var modelOptions: ModelOptions
    @OptionGroup var pixelSize: PixelSizeOption
    @OptionGroup var output: OutputOptions
    @OptionGroup var selection: FrameSelection

    func run() throws {
        try reportingErrors {
            let input = try openMovie(movie, modelOptions, pixelSize)
            let stage = Segmentation(input, frames: try selection.range(in: input))
            let dir = try output.prepare(markers: [Segmentation.outputFile], inputs: [.init(movie, streamed: true)])
            let classes = try stage.run(to: dir, progress: output.progress)
            print("probabilities: \(dir.path)/\(Segmentation.outputFile) (\(stage.frames.count) frames × \(classes.count) classes: \(classes.joined(separator: ", ")))")
        }
    }
}
