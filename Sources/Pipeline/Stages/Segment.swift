import Foundation
import Localization
import MicroscopyIO

/// `segment`: the class probability maps of every frame, streamed to `probabilities.tif`.
/// Frames are normalized, tiled and blended as for `locate`, but never resampled, so the maps
/// have the frame's own pixels.
public struct Segmentation {
    public static let outputFile = "probabilities.tif"

    public let input: MovieInput
    public let frames: Range<Int>

    public init(_ input: MovieInput, frames: Range<Int>) {
        self.input = input
        self.frames = frames
    }

    /// Writes `dir/probabilities.tif` one frame at a time (nothing is left on failure); returns
    /// the class symbols in page order.
    @discardableResult
    public func run(to dir: URL, progress: Bool = true) throws -> [String] {
        let stack = try ProbabilityStack(dir.appendingPathComponent(Self.outputFile), like: input)
        let bar = ProgressBar("segment", total: frames.count, quiet: !progress)
        try writingStacks([stack.writer]) {
            for i in frames {
                let frame = try input.movie.frame(i)
                let (maps, _) = try input.finder.probabilities(frame.pixels, width: frame.width, height: frame.height, frame: i)
                try stack.append(maps, frame: i)
                bar.advance()
            }
        }
        bar.finish()
        return input.classSymbols
    }
}

/// `probabilities.tif`: float32 pages in [0, 1], one per class in the model's order (background
/// last) for each frame, i.e. page = frame × classes + class; the movie's pixel size when known.
/// Each page is named (PageName tag, e.g. `frame 3 W+Mo`), and the description lists the classes.
struct ProbabilityStack {
    let writer: TIFFStackWriter
    let classes: [String]

    init(_ url: URL, like input: MovieInput) throws {
        classes = input.classSymbols
        writer = try TIFFStackWriter(url: url, width: input.movie.width, height: input.movie.height,
                                     sampleType: .float32, pixelSizeA: input.pixelSize,
                                     metadata: ["classes": classes.joined(separator: ","), "pages": "frame × classes + class"])
    }

    func append(_ maps: ProbabilityMaps, frame: Int) throws {
        for c in 0..<maps.classes {
            try writer.append(Array(maps.plane(c)), pageName: "frame \(frame) \(classes.indices.contains(c) ? classes[c] : "class \(c)")")
        }
    }
}
