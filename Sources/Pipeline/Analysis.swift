import Core
import Foundation
import MicroscopyIO

/// The whole chain: read → segment → locate → defects → library → track → diffusion → Markov
/// → files and report. Frames stream: per frame only its atom counts, defect crops and lattice
/// drift sample are kept, so memory stays flat however long the movie. Every finished frame is
/// journaled (OUT/.resume/), so an interrupted run resumes where it stopped.
public struct Analysis {
    public let config: AnalysisConfig
    public let output: URL
    public var progress = true
    /// Stop as if interrupted once this many frames are journaled (`run(resume: true)` continues).
    public var stopAfterFrames: Int?

    /// Thrown when `stopAfterFrames` is reached.
    public struct Stopped: Error, CustomStringConvertible {
        public let framesDone: Int
        public var description: String { "stopped after \(framesDone) frames (resume with --resume)" }
    }

    public static let resultMarkers = ["summary.json", "atoms.csv", "report.html"]

    /// The movie, model and frames, opened and checked here: a run that cannot start is
    /// refused before its caller creates OUT.
    let inputs: Inputs

    public init(config: AnalysisConfig, output: URL) throws {
        try config.validate()
        self.config = config
        self.output = output
        inputs = try Inputs(config)
    }

    /// Whether OUT holds an interrupted run that `run(resume: true)` would continue.
    public static func hasInterruptedRun(in output: URL) -> Bool {
        FileManager.default.fileExists(atPath: AnalysisJournal.journalURL(in: output).path)
    }

    /// Runs the analysis; with `resume`, continues an interrupted run in OUT from its last
    /// finished frame (a run of other settings, movie or model is refused).
    @discardableResult
    public func run(resume: Bool = false) throws -> AnalysisSummary {
        var clock = StageClock()
        try AtomicFile.writeJSON(config, to: file("config.json"))
        let (collector, kinetics) = movieWideStages(inputs)
        let (totals, journal) = try locateFrames(inputs, frames: inputs.frames, collector: collector, kinetics: kinetics, resume: resume)
        clock.lap("segment+locate+crop")
        let summary = try finish(inputs, totals: totals, collector: collector, kinetics: kinetics, clock: &clock)
        journal.remove()
        return summary
    }

    /// The stages that need every frame: the defect library (one mixture over all crops) and
    /// the kinetics (drift, tracks, diffusion, Markov). They are fed frame by frame.
    func movieWideStages(_ inputs: Inputs) -> (DefectCollector, Kinetics) {
        let collector = DefectCollector(options: config.defects, calibration: inputs.calibration, card: inputs.model.card,
                                        classSymbols: inputs.symbols)
        let kinetics = Kinetics(options: config.kinetics, calibration: inputs.calibration,
                                columnSpacingPixels: inputs.model.card.columnSpacingPixels(pixelSize: inputs.calibration.pixelSize))
        return (collector, kinetics)
    }

    /// Library, kinetics, summary and report from every frame's per-frame results (after the
    /// frame loop, or after `ShardMerge` gathered the shards).
    func finish(_ inputs: Inputs, totals: FrameTotals, collector: DefectCollector, kinetics: Kinetics,
                clock: inout StageClock, partialResult: String? = nil) throws -> AnalysisSummary {
        let library = try collector.classify()
        let names = library.classes.map { "D\($0.id)" }
        try DefectLibraryWriter.write(library, names: names, collector: collector, to: output)
        clock.lap("defect library")

        let result = try kinetics.run(atoms: totals.driftAtoms, library: library, stateNames: names)
        try kinetics.write(result, names: names, to: output)
        clock.lap("track+diffusion+markov")

        try writeVoids(inputs)
        clock.lap("voids")

        var summary = AnalysisSummary(config: config, inputs: inputs, totals: totals, skippedAtBorder: collector.skippedAtBorder,
                                      library: library, names: names, kinetics: result, seconds: clock.seconds)
        summary.partialResult = partialResult
        try AtomicFile.writeJSON(summary, to: file("summary.json"))
        try ReportBuilder(output: output, summary: summary, config: config, card: inputs.model.card, classes: inputs.finder.outputClasses,
                          calibration: inputs.calibration)
            .write(movie: inputs.movie, frames: inputs.frames, library: library, names: names, kinetics: result)
        return summary
    }

    func file(_ name: String) -> URL { output.appendingPathComponent(name) }

    /// The movie, the model and the frames a run analyses, checked before anything is written.
    struct Inputs {
        let movie: Movie
        let model: TrainedModel
        let finder: AtomFinder
        /// Resolved once; every stage takes its pixel size and frame time from here.
        let calibration: Calibration
        /// Frame 0 as the pixel-size check located it (the frame loop reuses it).
        let frame0: LocatedFrame?
        let frames: Range<Int>
        /// The classes atoms carry (`OutputClasses`), background last.
        var symbols: [String] { finder.outputClasses.symbols }

        init(_ config: AnalysisConfig) throws {
            movie = try Movie.open(URL(fileURLWithPath: config.movie), signal: config.signal)
            model = try TrainedModel(at: try ShippedModels.resolve(model: config.model, material: config.material))
            finder = try AtomFinder(model: model, options: config.finder)
            (calibration, frame0) = try Calibration.resolveLocating(movie, finder: finder, pixelSizeFlag: config.pixelSize,
                                                                    frameTimeFlag: config.frameTime)
            frames = try movie.frames(first: config.firstFrame, count: config.frameCount, firstNamed: "first frame")
            try config.defects.validate(pixelSize: calibration.pixelSize, atomClasses: symbols,
                                        prefix: "defects.")
        }
    }

    /// Seconds spent per stage, for summary.json and the report.
    struct StageClock {
        private(set) var seconds: [String: Double] = [:]
        private var start = Date()

        mutating func lap(_ stage: String) {
            seconds[stage] = Date().timeIntervalSince(start)
            start = Date()
        }
    }
}
