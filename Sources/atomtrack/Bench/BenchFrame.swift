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
        abstract: "Per-frame time of locate's and analyze's stages: read, normalize, network (tiled), locate, refine, rows, defects, overlay.",
        discussion: """
        Runs the stages `locate` runs on the first --frames frames of MOVIE, one at a time, with the \
        model's default finder settings, and prints per stage the median and fastest frame, wall and CPU time (all threads) \
        and its cores (all threads' CPU over the calling thread's: 1 = serial, 2 = spread over two). \
        "network" is the tiled, blended segmentation (AtomFinder.probabilities) less the normalization \
        it starts with; "refine" is locate with Gaussian refinement less locate without it; "rows" \
        formats the atoms.csv rows (the write itself is a buffered append). analyze adds per frame \
        "defects" (defect objects and their crops, DefectCollector.collect with the default \
        settings, plus the drift sample) and, for its first frame only, "overlay" (render and write \
        overlay_NNNN.png). Frames that would be resampled to the model's pixel size are refused \
        (time them at the model's size).
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
        let table = AtomTable(classSymbols: input.atomSymbols, pixelSize: input.pixelSize)
        let calibration = try Calibration.resolve(for: input.movie, finder: finder, pixelSizeFlag: input.pixelSize,
                                                  frameTimeFlag: nil, usesFrameTime: false)
        let defects = DefectCollector(options: .init(), calibration: calibration, card: finder.model.card, classSymbols: input.atomSymbols)
        let kinetics = Kinetics(options: .init(), calibration: calibration,
                                columnSpacingPixels: finder.model.card.columnSpacingPixels(pixelSize: calibration.pixelSize))
        let locator = MovieLocator(finder: finder, pixelSize: input.pixelSize)
        let overlay = FileManager.default.temporaryDirectory.appendingPathComponent("atomtrack-bench-overlay-\(getpid()).png")
        defer { try? FileManager.default.removeItem(at: overlay) }
        var ms: [String: [Double]] = [:], cpu: [String: [Double]] = [:], caller: [String: [Double]] = [:]
        func time<T>(_ stage: String, _ body: () throws -> T) rethrows -> T {
            let start = DispatchTime.now().uptimeNanoseconds, c0 = processCPUSeconds(), t0 = threadCPUSeconds()
            let r = try body()
            cpu[stage, default: []].append(1000 * (processCPUSeconds() - c0))
            caller[stage, default: []].append(1000 * (threadCPUSeconds() - t0))
            ms[stage, default: []].append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6)
            return r
        }
        let range = try input.frames(count: frames)
        print("AtomTrack bench frame — \(movie), \(input.movie.width)×\(input.movie.height), frames \(range), "
              + "OpenBLAS \(BLASThreads.coreName) × \(BLASThreads.current) threads")
        for i in range {
            let image = try time("read") { try input.movie.frame(i) }
            let normalized = try time("normalize") {
                try finder.normalization.normalize(image.pixels, width: image.width, height: image.height, frame: i)
            }
            let (maps, _) = try time("segment") {
                try finder.probabilities(image.pixels, width: image.width, height: image.height, frame: i)
            }
            _ = try time("locate") { try plain.locate(maps, frame: image.pixels) }
            let atoms = try time("locate+refine") { try withRefinement.locate(maps, frame: image.pixels) }
            let found = atoms.map { FrameAtom(frame: i, $0) }
            _ = time("rows") { table.rows(found) }
            _ = try time("defects") {
                (try defects.collect(frame: i, pixels: image.pixels, normalized: normalized.pixels, width: image.width,
                                     height: image.height, atoms: found), kinetics.driftSample(found, width: image.width, height: image.height))
            }
            try time("overlay") { try locator.writeOverlay(image, found, to: overlay) }
        }
        let n = range.count
        // Per frame: stage time, network = segment − normalize, refine = (locate+refine) − locate.
        func per(_ table: [String: [Double]], _ a: String, minus b: String? = nil) -> [Double] {
            (0..<n).map { k in table[a]![k] - (b.map { table[$0]![k] } ?? 0) }
        }
        let stages: [(String, String, String?)] = [
            ("read (decode frame)", "read", nil), ("normalize", "normalize", nil),
            ("network (tile, U-Net, blend)", "segment", "normalize"), ("locate (threshold, peaks, centroids)", "locate", nil),
            ("refine (2-D Gaussian fits)", "locate+refine", "locate"), ("rows (atoms.csv text)", "rows", nil),
            ("defects (analyze: objects, crops, drift)", "defects", nil), ("overlay (analyze: first frame only)", "overlay", nil),
        ]
        let wall = stages.map { per(ms, $0.1, minus: $0.2) }, work = stages.map { per(cpu, $0.1, minus: $0.2) }
        let own = stages.map { per(caller, $0.1, minus: $0.2) }
        func total(_ t: [[Double]]) -> [Double] { (0..<n).map { k in t.reduce(0) { $0 + $1[k] } } }
        // cores = all threads' CPU / the calling thread's: 1 = serial, 2 = spread evenly over two cores.
        print("stage".padding(toLength: 40, withPad: " ", startingAt: 0)
              + "   wall median / fastest ms    CPU median / least ms   CPU share   cores")
        for (name, (w, (c, o))) in zip(stages.map(\.0) + ["total"], zip(wall + [total(wall)], zip(work + [total(work)], own + [total(own)]))) {
            let share = 100 * Statistics.median(c) / Statistics.median(total(work))
            print(name.padding(toLength: 40, withPad: " ", startingAt: 0)
                  + String(format: " %10.1f / %-10.1f %10.1f / %-10.1f %6.1f %%   %5.2f", Statistics.median(w), w.min()!,
                           Statistics.median(c), c.min()!, share, c.reduce(0, +) / max(o.reduce(0, +), 1e-9)))
        }
    }
}
