import Core
import DefectLibrary
import Dynamics
import Foundation
import Localization
import MicroscopyIO
import Tracking

/// Every parameter of an `analyze` run; written to OUT/config.json so a run can be repeated
/// exactly with `--config`.
public struct AnalysisConfig: Codable, Sendable {
    public var movie: String
    /// Model directory; nil picks the shipped model for `material`.
    public var model: String?
    public var material: String?
    /// Å per pixel; nil uses the file's calibration.
    public var pixelSize: Double?
    /// Seconds per frame (for Å²/s and timescales in s).
    public var frameTime: Double = 1
    public var firstFrame = 0
    public var frameCount: Int?
    public var finder = AtomFinder.Options()
    public var defects = DefectCollector.Options()
    public var kinetics = Kinetics.Options()
    public var overlayFrames: [Int] = [0]
    public init(movie: String) { self.movie = movie }

    /// Reads a configuration (e.g. an earlier run's config.json). Settings it lacks take their
    /// defaults, so files from older versions keep working; an unknown setting is an error
    /// (a misspelt key would otherwise be ignored silently).
    public static func decode(_ data: Data) throws -> AnalysisConfig {
        guard let given = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw InputError("not a JSON object")
        }
        let defaults = try JSONSerialization.jsonObject(with: JSONEncoder().encode(AnalysisConfig(movie: ""))) as! [String: Any]
        let merged = try merge(given, over: defaults, path: "")
        do { return try JSONDecoder().decode(AnalysisConfig.self, from: JSONSerialization.data(withJSONObject: merged)) } catch {
            throw InputError("a setting has the wrong type (\(error))")
        }
    }

    private static func merge(_ given: [String: Any], over defaults: [String: Any], path: String) throws -> [String: Any] {
        var out = defaults
        for (key, value) in given {
            let name = path + key
            // Optional settings (model, material, pixelSize, frameCount) are absent from the defaults.
            let optional = ["model", "material", "pixelSize", "frameCount"].contains(name)
            guard defaults[key] != nil || optional else { throw InputError("unknown setting '\(name)'") }
            if let inner = value as? [String: Any], let base = defaults[key] as? [String: Any] {
                out[key] = try merge(inner, over: base, path: name + ".")
            } else {
                out[key] = value
            }
        }
        return out
    }
}

/// What `analyze` found, also written as OUT/summary.json.
public struct AnalysisSummary: Codable, Sendable {
    public struct ClassDiffusion: Codable, Sendable {
        public var state: String
        public var tracks: Int, steps: Int
        /// nil where the estimate is undefined (too few steps).
        public var dPx2PerFrame: Double?, ciLowPx2PerFrame: Double?, ciHighPx2PerFrame: Double?
        public var dA2PerS: Double?, ciLowA2PerS: Double?, ciHighA2PerS: Double?
        public var sigmaPx: Double?
    }
    public var atomtrackVersion: String
    public var movie: String
    public var model: String
    public var pixelSizeA: Double
    public var pixelSizeSource: String
    public var frameTimeS: Double
    public var frames: Int
    public var width: Int, height: Int
    public var atomsPerClass: [String: Int]
    public var defects: Int
    public var defectCropsSkippedAtBorder: Int
    public var defectClasses: [String]
    public var defectClassCounts: [Int]
    public var bicChosenK: Int
    public var tracks: Int
    public var diffusion: [ClassDiffusion]
    public var markovStates: [String]
    public var transitionMatrix: [[Double]]?
    public var transitionCILow: [[Double]]?
    public var transitionCIHigh: [[Double]]?
    public var markovNote: String?
    public var seeds: [String: UInt64]
    public var secondsPerStage: [String: Double]
}

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

    public init(config: AnalysisConfig, output: URL) {
        self.config = config
        self.output = output
    }

    /// Whether OUT holds an interrupted run that `run(resume: true)` would continue.
    public static func hasInterruptedRun(in output: URL) -> Bool {
        FileManager.default.fileExists(atPath: AnalysisJournal.journalURL(in: output).path)
    }

    /// What the per-frame stages keep of each frame.
    struct FrameTotals {
        var atomsPerClass: [Int]
        var driftAtoms: [[FrameAtom]] = []
        var firstAtoms: [FrameAtom] = []
        /// Frames absorbed so far (one drift sample each).
        var frames: Int { driftAtoms.count }
    }

    /// Runs the analysis; with `resume`, continues an interrupted run in OUT from its last
    /// finished frame (a run of other settings, movie or model is refused).
    @discardableResult
    public func run(resume: Bool = false) throws -> AnalysisSummary {
        var seconds: [String: Double] = [:]
        var clock = Date()
        func lap(_ stage: String) { seconds[stage] = Date().timeIntervalSince(clock); clock = Date() }

        let movie = try Movie.open(URL(fileURLWithPath: config.movie))
        let model = try TrainedModel(at: try ShippedModels.resolve(model: config.model, material: config.material))
        let finder = try AtomFinder(model: model, options: config.finder)
        let (pixelSize, pixelSource) = calibration(movie, card: model.card)
        guard config.firstFrame >= 0, config.firstFrame < movie.frameCount else {
            throw InputError("first frame \(config.firstFrame) is outside the movie's \(movie.frameCount) frames")
        }
        let frames = config.firstFrame..<min(movie.frameCount, config.firstFrame + (config.frameCount ?? movie.frameCount))
        try AtomicFile.writeJSON(config, to: output.appendingPathComponent("config.json"))

        // Stage 1–3 streamed per frame: atoms, defect crops, drift samples; journaled per frame.
        let symbols = model.card.classes.map(\.symbol)
        let collector = DefectCollector(options: config.defects, pixelSize: pixelSize,
                                        columnSpacing: model.card.columnSpacing, classSymbols: symbols)
        let kinetics = Kinetics(options: config.kinetics, pixelSize: pixelSize, frameTime: config.frameTime,
                                columnSpacing: model.card.columnSpacing)
        var totals = FrameTotals(atomsPerClass: Array(repeating: 0, count: symbols.count))
        func absorb(_ r: AnalysisJournal.FrameRecord) {
            for (c, n) in r.classCounts.enumerated() where c < totals.atomsPerClass.count { totals.atomsPerClass[c] += n }
            let isFirst = r.frame == frames.lowerBound
            if isFirst { totals.firstAtoms = r.atoms }
            totals.driftAtoms.append(isFirst ? kinetics.driftSample(r.atoms, width: movie.width, height: movie.height) : r.atoms)
            collector.append(r.defects)
        }

        var locator = MovieLocator(finder: finder, pixelSize: pixelSize)
        locator.keepAtoms = false
        // Overlays of the requested frames, or of the first analysed one when none is in range.
        locator.overlayFrames = Set(config.overlayFrames.filter(frames.contains))
        if locator.overlayFrames.isEmpty { locator.overlayFrames = [frames.lowerBound] }

        let identity = try runIdentity(movie: movie, model: model, frames: frames)
        let journal: AnalysisJournal
        if resume, let (j, records) = try AnalysisJournal.resume(in: output, identity: identity) {
            journal = j
            records.forEach(absorb)
        } else {
            journal = try AnalysisJournal.create(in: output, identity: identity)
            try journal.atomTable.write(locator.tableHeader)
        }
        let remaining = (frames.lowerBound + totals.frames)..<frames.upperBound
        _ = try locator.run(movie: movie, frames: remaining, to: output, table: journal.atomTable,
                            progress: progress, alreadyDone: totals.frames) { index, image, found in
            var counts = Array(repeating: 0, count: symbols.count)
            for a in found { counts[a.classIndex] += 1 }
            let record = AnalysisJournal.FrameRecord(
                frame: index, atomTableBytes: journal.atomTable.size, classCounts: counts,
                atoms: index == frames.lowerBound ? found : kinetics.driftSample(found, width: image.width, height: image.height),
                defects: try collector.collect(frame: index, pixels: image.pixels, width: image.width, height: image.height, atoms: found))
            try journal.append(record)
            absorb(record)
            if let stop = stopAfterFrames, totals.frames >= stop { throw Stopped(framesDone: totals.frames) }
        }
        try journal.commitAtomTable(to: output.appendingPathComponent(MovieLocator.atomsFile))
        lap("segment+locate+crop")

        // Stage 4: the defect library.
        let library = try collector.classify()
        let names = library.classes.map { "D\($0.id)" }
        try DefectLibraryWriter.write(library, names: names, to: output)
        lap("defect library")

        // Stage 5–6: trajectories, diffusion, Markov.
        let labels = library.classification.labels, probs = library.classification.probabilities
        let defectRows = library.defects.indices.map { i in
            (frame: library.defects[i].frame, x: library.defects[i].x, y: library.defects[i].y,
             state: labels[i], probability: probs[i])
        }
        // Frame numbers stay the movie's own throughout (atoms.csv, defects.csv, trajectories.csv).
        let result = try kinetics.run(atoms: totals.driftAtoms, defects: defectRows, stateNames: names)
        try writeKinetics(result, names: names, pixelSize: pixelSize)
        lap("track+diffusion+markov")

        var perClass: [String: Int] = [:]
        for (c, n) in totals.atomsPerClass.enumerated() where n > 0 { perClass[symbols[c], default: 0] += n }
        let summary = makeSummary(movie: movie, model: model, pixelSize: pixelSize, pixelSource: pixelSource,
                                  frames: frames.count, atomsPerClass: perClass, library: library, names: names,
                                  skippedAtBorder: collector.skippedAtBorder, kinetics: result, seconds: seconds)
        try AtomicFile.writeJSON(summary, to: output.appendingPathComponent("summary.json"))
        try ReportBuilder(output: output, summary: summary, config: config, card: model.card).write(
            firstFrame: try movie.frame(frames.lowerBound).pixels, width: movie.width, height: movie.height,
            firstAtoms: totals.firstAtoms, library: library, names: names, kinetics: result)
        journal.remove()
        return summary
    }

    /// What a journal must match to be resumed: every setting, the movie's size and the model's weights.
    func runIdentity(movie: Movie, model: TrainedModel, frames: Range<Int>) throws -> Data {
        struct Identity: Encodable {
            var config: AnalysisConfig
            var movie: String
            var model: String
        }
        let movieBytes = (try? FileManager.default.attributesOfItem(atPath: movie.url.path)[.size] as? Int) ?? nil
        let weights = FileManager.default.contents(atPath: model.directory.appendingPathComponent(TrainedModel.weightsFile).path) ?? Data()
        let identity = Identity(
            config: config,
            movie: "\(movie.frameCount) frames of \(movie.width)×\(movie.height), \(movieBytes.map(String.init) ?? "?") bytes, analysing \(frames)",
            model: String(AnalysisJournal.fnv1a(weights), radix: 16))
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return try encoder.encode(identity)
    }

    func calibration(_ movie: Movie, card: ModelCard) -> (Double, String) {
        if let p = config.pixelSize { return (p, "command line") }
        if let p = movie.pixelSizeA { return (p, "file metadata") }
        FileHandle.standardError.write(Data("warning: \(movie.url.lastPathComponent) has no pixel calibration; assuming \(String(format: "%.3f", card.preferredPixelSize)) Å/px (the model's); pass --pixel-size\n".utf8))
        return (card.preferredPixelSize, "assumed (model's trained pixel size)")
    }

    func writeKinetics(_ r: Kinetics.Result, names: [String], pixelSize: Double) throws {
        let long = r.defectTracks.tracks.filter { $0.points.count >= config.kinetics.minTrackLength }
        try AtomicFile.writeText(TableStages.trajectoriesCSV(long, classes: names, pixelSize: pixelSize),
                                 to: output.appendingPathComponent("trajectories.csv"))
        try AtomicFile.writeText(TrackingCSV.drift(r.atomTracks), to: output.appendingPathComponent("drift.csv"))
        let cal = DiffusionCalibration(pixelSize: pixelSize, frameTime: config.frameTime)
        try AtomicFile.writeText(TableStages.namingClasses(Diffusion.csv(r.diffusion, calibration: cal), names),
                                 to: output.appendingPathComponent("diffusion.csv"))
        if let m = r.markov {
            try AtomicFile.writeText(try m.json(uncertainty: r.markovUncertainty, frameTime: config.frameTime),
                                     to: output.appendingPathComponent("markov.json"))
            try m.writeHeatMapPNG(to: output.appendingPathComponent("markov.png"))
        }
    }

    func makeSummary(movie: Movie, model: TrainedModel, pixelSize: Double, pixelSource: String, frames: Int,
                     atomsPerClass perClass: [String: Int], library: DefectClassLibrary, names: [String], skippedAtBorder: Int,
                     kinetics r: Kinetics.Result, seconds: [String: Double]) -> AnalysisSummary {
        let toA2s = pixelSize * pixelSize / config.frameTime
        let diffusion = r.diffusion.map { d in
            AnalysisSummary.ClassDiffusion(state: names.indices.contains(d.classLabel) ? names[d.classLabel] : "\(d.classLabel)",
                                           tracks: d.tracks, steps: d.steps,
                                           dPx2PerFrame: finite(d.cve.D), ciLowPx2PerFrame: finite(d.ciLow), ciHighPx2PerFrame: finite(d.ciHigh),
                                           dA2PerS: finite(d.cve.D * toA2s), ciLowA2PerS: finite(d.ciLow * toA2s),
                                           ciHighA2PerS: finite(d.ciHigh * toA2s), sigmaPx: finite(max(0, d.cve.sigmaSquared).squareRoot()))
        }
        return AnalysisSummary(
            atomtrackVersion: atomTrackVersion, movie: config.movie, model: model.directory.path,
            pixelSizeA: pixelSize, pixelSizeSource: pixelSource, frameTimeS: config.frameTime, frames: frames,
            width: movie.width, height: movie.height, atomsPerClass: perClass, defects: library.defects.count,
            defectCropsSkippedAtBorder: skippedAtBorder, defectClasses: names, defectClassCounts: library.classes.map(\.count),
            bicChosenK: library.classification.selection.bestByBIC,
            tracks: r.defectTracks.tracks.filter { $0.points.count >= config.kinetics.minTrackLength }.count,
            diffusion: diffusion, markovStates: r.markov?.activeStateNames ?? [],
            transitionMatrix: r.markov?.transitionMatrix.rows.map { $0.map { finite($0) ?? 0 } },
            transitionCILow: r.markovUncertainty?.transitionLow.rows.map { $0.map { finite($0) ?? 0 } },
            transitionCIHigh: r.markovUncertainty?.transitionHigh.rows.map { $0.map { finite($0) ?? 1 } }, markovNote: r.markovNote,
            seeds: ["defect_mixture": config.defects.seed, "kinetics_bootstrap": config.kinetics.seed],
            secondsPerStage: seconds)
    }
}

/// JSON has no NaN/∞: undefined estimates are written as null.
func finite(_ v: Double) -> Double? { v.isFinite ? v : nil }

/// The defect library's files: defects.csv, library.json, bic.csv and library/ (class means, mosaics).
public enum DefectLibraryWriter {
        public static func write(_ library: DefectClassLibrary, names: [String], to output: URL) throws {
            try AtomicFile.writeText(library.defectsCSV(), to: output.appendingPathComponent("defects.csv"))
            try AtomicFile.writeText(library.libraryJSON(), to: output.appendingPathComponent("library.json"))
            try AtomicFile.writeText(library.classification.selection.csv, to: output.appendingPathComponent("bic.csv"))
            let dir = output.appendingPathComponent("library")
            try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
            for c in library.classes {
                let mean = try GrayImage(width: library.cropSize, height: library.cropSize, pixels: Array(c.meanCrop.prefix(library.cropSize * library.cropSize)))
                try TIFFFile.write([mean], to: dir.appendingPathComponent("\(names[c.id])_mean.tif"))
                try PNGFile.writeGray(mean, to: dir.appendingPathComponent("\(names[c.id])_mean.png"), scaling: .minMax)
                let mosaic = try library.mosaic(classID: c.id)
                try PNGFile.writeGray(try GrayImage(width: mosaic.width, height: mosaic.height, pixels: mosaic.pixels),
                                      to: dir.appendingPathComponent("\(names[c.id])_mosaic.png"), scaling: .minMax)
            }
        }
}
