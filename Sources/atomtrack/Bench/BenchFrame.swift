import ArgumentParser
import Core
import Foundation
import Localization
import MicroscopyIO
import Pipeline
import Tensors

/// `atomtrack bench frame MOVIE`: where one frame's time goes in `locate`, stage by stage.
struct BenchFrame: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "frame",
        abstract: "Per-frame time of locate's stages: read, normalize, network (tiled), locate, refine, rows.",
        discussion: """
        Runs the stages `locate` runs on the first --frames frames of MOVIE, one at a time, with the \
        model's default finder settings, and prints per stage the median and fastest frame. \
        "network" is the tiled, blended segmentation (AtomFinder.probabilities) less the normalization \
        it starts with; "refine" is locate with Gaussian refinement less locate without it; "rows" \
        formats the atoms.csv rows (the write itself is a buffered append). Frames that would be \
        resampled to the model's pixel size are refused (time them at the model's size).
        """)

    @Argument(help: "A movie (any readable format).") var movie: String
    @OptionGroup var model: ModelOptions
    @Option(help: "Frames to time (from frame 0).") var frames = 5
    @Option(help: "OpenBLAS (and GCD work) threads.") var threads = 2

    func run() throws {
        guard frames >= 1, threads >= 1 else { throw ValidationError("--frames and --threads must be ≥ 1") }
        BLASThreads.set(threads)
        let input = try MovieInput(path: movie, finder: try model.finder(), pixelSize: nil)
        let finder = input.finder
        guard finder.workingPixelSize(for: input.pixelSize) == nil else {
            throw ValidationError("the movie's pixel size is outside the model's range (the frame would be resampled)")
        }
        let withRefinement = try finder.makeLocator(pixelSize: input.pixelSize)
        let plain = try AtomLocator(threshold: withRefinement.threshold, minSeparation: withRefinement.minSeparation,
                                    minArea: withRefinement.minArea, backgroundClass: withRefinement.backgroundClass,
                                    borderMargin: withRefinement.borderMargin, refinement: nil)
        let table = AtomTable(classSymbols: input.classSymbols, pixelSize: input.pixelSize)
        var ms: [String: [Double]] = [:]
        func time<T>(_ stage: String, _ body: () throws -> T) rethrows -> T {
            let start = DispatchTime.now().uptimeNanoseconds
            let r = try body()
            ms[stage, default: []].append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6)
            return r
        }
        let range = try input.frames(count: frames)
        print("AtomTrack bench frame — \(movie), \(input.movie.width)×\(input.movie.height), frames \(range), "
              + "OpenBLAS \(BLASThreads.coreName) × \(BLASThreads.current) threads")
        for i in range {
            let image = try time("read") { try input.movie.frame(i) }
            _ = try time("normalize") {
                try finder.normalization.normalize(image.pixels, width: image.width, height: image.height, frame: i)
            }
            let (maps, _) = try time("segment") {
                try finder.probabilities(image.pixels, width: image.width, height: image.height, frame: i)
            }
            _ = try time("locate") { try plain.locate(maps, frame: image.pixels) }
            let atoms = try time("locate+refine") { try withRefinement.locate(maps, frame: image.pixels) }
            _ = time("rows") {
                table.rows(atoms.map { FrameAtom(frame: i, x: $0.x, y: $0.y, classIndex: $0.classIndex, score: $0.score, border: $0.border) })
            }
        }
        let n = range.count
        // Per frame: stage time, network = segment − normalize, refine = (locate+refine) − locate.
        func per(_ a: String, minus b: String? = nil) -> [Double] {
            (0..<n).map { k in ms[a]![k] - (b.map { ms[$0]![k] } ?? 0) }
        }
        let rows: [(String, [Double])] = [
            ("read (decode frame)", per("read")), ("normalize", per("normalize")),
            ("network (tile, U-Net, blend)", per("segment", minus: "normalize")),
            ("locate (threshold, peaks, centroids)", per("locate")),
            ("refine (2-D Gaussian fits)", per("locate+refine", minus: "locate")), ("rows (atoms.csv text)", per("rows")),
        ]
        let total = (0..<n).map { k in rows.reduce(0) { $0 + $1.1[k] } }
        for (name, t) in rows + [("total", total)] {
            let share = 100 * Statistics.median(t) / Statistics.median(total)
            print(name.padding(toLength: 40, withPad: " ", startingAt: 0)
                  + String(format: " median %8.1f ms  fastest %8.1f ms  %5.1f %%", Statistics.median(t), t.min()!, share))
        }
    }
}
