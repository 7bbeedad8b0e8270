import ArgumentParser
import Core
import Foundation
import Pipeline

struct Analyze: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Movie → atoms → defect library → trajectories → diffusion → Markov model, with an HTML report.",
        discussion: """
        Writes into OUT: atoms.csv, overlay_NNNN.png, defects.csv, library.json, bic.csv, library/ (class \
        means as TIFF/PNG, mosaics), trajectories.csv, drift.csv, diffusion.csv, markov.json, markov.png, \
        summary.json, config.json (every parameter: repeat with --config) and report.html. \
        Frames stream one at a time; memory stays bounded by the defect crops. Every finished frame is \
        journaled in OUT/.resume/: after an interruption (Ctrl-C, kill, power cut), rerun with --resume \
        to continue from the last finished frame. The journal is removed when the run completes.
        """)

    @Argument(help: "Movie: TIFF stack, PNG series (file or folder), NPY, DM3/DM4, EMD, Nion, TIA, MRC (see info --help).") var movie: String?
    @OptionGroup var modelChoice: ModelChoice
    @Flag(help: "Keep a two-element class merged (W+Mo) instead of splitting Mo off W by Z-contrast (config.json finder.mergeDopants).")
    var mergeDopants = false
    @OptionGroup var pixelSize: PixelSizeOption
    @OptionGroup var frameTime: FrameTimeOption
    @OptionGroup var signal: SignalOption
    @OptionGroup var selection: FrameSelection
    @Option(help: "Markov lag in frames.") var lag: Int?
    @Option(help: "Existing library.json: assign defects to its classes instead of building a new library.") var library: String?
    @Flag(help: "Also measure holes and vacancy clusters per frame by the Fourier lattice analysis (voids.csv, WS2 and graphene models; about as costly as locating).") var voids = false
    @Flag(help: "Test-time augmentation: average the network's probabilities over the 8 flips/rotations of each tile (8× the network time).")
    var tta = false
    @Option(help: "Run configuration (JSON, e.g. an earlier run's config.json); flags override it.") var config: String?
    @OptionGroup var output: OutputOptions
    @Flag(help: "Continue an interrupted run in OUT from its last finished frame (same settings, movie and model).") var resume = false
    @OptionGroup var sharding: ShardOption
    @OptionGroup var finetune: FinetuneFirstFrameOptions

    func run() throws {
        try reportingErrors {
            let c = try configuration()
            let shard = try sharding.spec()
            try finetune.checkFlags(shard: shard)
            try checkResumeAndOverwrite(finishedMarker: shard == nil ? "summary.json" : ShardManifest.fileName)
            let markers = shard == nil ? Analysis.resultMarkers : Analysis.shardMarkers
            var analysis = try Analysis(config: c, output: output.directory)  // movie and model checked before OUT exists
            let finetuning = try finetune.prepare(c, shard: shard, output: output.directory)
            try output.prepare(markers: markers, resuming: resume,
                               inputs: [.init(c.movie, streamed: true)] + (config.map { [.init($0)] } ?? [])
                                   + (finetune.labels.map { [.init($0)] } ?? []))
            if let finetuning {
                analysis = try Analysis(config: finetune.run(finetuning, config: c, resume: resume, progress: output.progress),
                                        output: output.directory)
            }
            Interruption.resumeHint = "continue from the last finished frame: " + Self.resumeCommand()
            analysis.progress = output.progress
            if let shard {
                let m = try analysis.runShard(shard, resume: resume)
                print("shard \(m.shard): frames \(m.frames) of \(m.analysedFrames) in \(output.out) (join the shards with atomtrack merge)")
            } else {
                printSummary(try analysis.run(resume: resume), dir: output.directory)
            }
        }
    }

    /// The run's settings: the --config file's (or the defaults), then the flags given.
    func configuration() throws -> AnalysisConfig {
        var c: AnalysisConfig
        if let config { c = try Self.load(config) } else {
            guard let movie else { throw InputError("give a MOVIE (or --config)") }
            c = AnalysisConfig(movie: movie)
        }
        if let movie { c.movie = movie }
        if let model = modelChoice.model { c.model = model }
        if let material = modelChoice.material { c.material = material }
        if let p = try pixelSize.checked() { c.pixelSize = p }
        if let t = try frameTime.checked() { c.frameTime = t }
        if let s = signal.signal { c.signal = s }
        if let first = selection.first {
            guard first >= 0 else { throw InputError("--first \(first) is invalid: expected a frame number ≥ 0") }
            c.firstFrame = first
        }
        if let count = selection.count {
            guard count >= 1 else { throw InputError("--count \(count) is invalid: expected at least 1 frame") }
            c.frameCount = count
        }
        if let lag {
            try InputError.require((1...1_000_000).contains(lag), "--lag", lag, "expected 1–10⁶ frames")
            c.kinetics.lag = lag
        }
        if voids { c.voids = true }
        if tta { c.finder.tta = true }
        if mergeDopants { c.finder.mergeDopants = true }
        if let library { c.defects = try c.defects.using(library: library) }
        if c.model == nil && c.material == nil { throw InputError("give --model DIR or --material graphene-si|ws2") }
        try c.validate()  // before OUT is created
        return c
    }

    static func load(_ path: String) throws -> AnalysisConfig {
        let data = try InputFile.read(path)
        let c: AnalysisConfig
        do { c = try AnalysisConfig.decode(data) } catch let e as InputError {
            throw InputError("\(path): not an analysis configuration: \(e)")
        }
        do { try c.validate() } catch let e as InputError { throw InputError("\(path): \(e)") }
        return c
    }

    /// This command line with --resume instead of --overwrite.
    static func resumeCommand() -> String {
        let args = CommandLine.arguments.dropFirst().filter { $0 != "--overwrite" && $0 != "--resume" }
        return (["atomtrack"] + args + ["--resume"]).map { $0.contains(" ") ? "'\($0)'" : $0 }.joined(separator: " ")
    }

    /// An interrupted run in OUT is continued with --resume or replaced with --overwrite, never both
    /// and never silently.
    /// A finished shard (`finishedMarker` shard.json) resumes to itself: a requeued array task succeeds.
    func checkResumeAndOverwrite(finishedMarker: String) throws {
        let out = output.out
        if resume && output.overwrite { throw InputError("--resume and --overwrite contradict each other; give one") }
        let interrupted = Analysis.hasInterruptedRun(in: output.directory)
        if resume && !interrupted {
            if FileManager.default.fileExists(atPath: output.directory.appendingPathComponent(finishedMarker).path) {
                if finishedMarker == ShardManifest.fileName { return }
                throw InputError("\(out): holds a finished analysis; nothing to resume")
            }
            FileHandle.standardError.write(Data("note: \(out) holds no interrupted run; starting from the first frame\n".utf8))
        }
        if interrupted && !resume && !output.overwrite {
            throw InputError("\(out): holds an interrupted analysis; pass --resume to continue it or --overwrite to start over")
        }
    }
}

/// `analyze --finetune-first-frame`: tune the model on the first analysed frame, then analyse with it.
struct FinetuneFirstFrameOptions: ParsableArguments {
    @Flag(help: "Fine-tune the model on the first analysed frame first (into OUT/finetuned-model, see `finetune`) and analyse with it.")
    var finetuneFirstFrame = false
    @Option(name: .customLong("finetune-labels"), help: "With --finetune-first-frame: labels from a frame,x,y,class table instead of the Fourier lattice's (see `finetune --labels`).")
    var labels: String?
    @Option(name: .customLong("finetune-steps"), help: "With --finetune-first-frame: optimizer steps.") var steps = 200

    /// The flags' combinations, refused before the movie is opened.
    func checkFlags(shard: ShardSpec?) throws {
        if !finetuneFirstFrame && labels != nil { throw InputError("--finetune-labels needs --finetune-first-frame") }
        if finetuneFirstFrame && shard != nil {
            throw InputError("--finetune-first-frame cannot be sharded: run finetune once, then analyze --model with each shard")
        }
    }

    /// The fine-tuning, with its frame labelled and every setting checked, before OUT is made.
    func prepare(_ c: AnalysisConfig, shard: ShardSpec?, output: URL) throws -> ModelFinetuning? {
        guard finetuneFirstFrame else { return nil }
        try InputError.require((1...100_000).contains(steps), "--finetune-steps", steps, "expected 1–10⁵")
        var o = ModelFinetuning.Options()
        o.steps = steps
        return try Analysis.finetuningFirstFrame(of: c, output: output, options: o) { try FrameLabels.make(table: labels, card: $0) }
    }

    /// Writes the tuned model into OUT/finetuned-model (kept when resuming) and returns the
    /// configuration that analyses with it.
    func run(_ f: ModelFinetuning, config: AnalysisConfig, resume: Bool, progress: Bool) throws -> AnalysisConfig {
        let dir = f.outputDirectory
        let done = FileManager.default.fileExists(atPath: dir.appendingPathComponent(TrainedModel.cardFile).path)
        if !(resume && done) {
            try OutputDirectory.prepare(dir, markers: ModelFinetuning.markers, allowExisting: true)
            printFinetuned(try f.run(progress: progress), dir: dir)
        }
        var c = config
        c.model = dir.path
        c.material = nil
        return c
    }
}

func printSummary(_ s: AnalysisSummary, dir: URL) {
    print("analyzed \(s.frames) frames: \(s.atomsPerClass.sorted { $0.key < $1.key }.map { "\($0.value) \($0.key)" }.joined(separator: ", "))")
    print("defect library: \(s.defects) instances in \(s.defectClasses.count) classes (\(zip(s.defectClasses, s.defectClassCounts).map { "\($0) ×\($1)" }.joined(separator: ", ")))")
    printKinetics(s)
    // The estimators the joint HMM replaced, kept to compare (diffusion.csv, markov.json).
    if !s.diffusion.isEmpty { print("cross-check, D on runs cut at every class change (CVE):") }
    for d in s.diffusion {
        print("  D \(d.state) = \(s.diffusionText(d))")
    }
    if let t = s.transitionMatrix {
        print("cross-check, transition matrix counted from the per-frame classes (\(s.markovStates.joined(separator: ", "))):")
        for row in t { print("  " + row.map { String(format: "%.3f", $0) }.joined(separator: "  ")) }
    } else if let note = s.markovNote { print(note) }
    print("report: \(dir.appendingPathComponent("report.html").path)")
}

/// The joint HMM's estimates, the ones to report: per state D, hop rate and dwell time, and T,
/// each with its 95 % interval ("–" where the model has none).
func printKinetics(_ s: AnalysisSummary) {
    guard let states = s.hmmStates, let t = s.hmmTransitionMatrix else {
        if let note = s.hmmNote { print(note) }
        return
    }
    func ci(_ x: Double?, _ low: Double?, _ high: Double?, _ format: String = "%.4g") -> String {
        func v(_ y: Double?) -> String { y.map { String(format: format, $0) } ?? "–" }
        return "\(v(x)) [\(v(low)), \(v(high))]"
    }
    print("defect kinetics, joint HMM (95 % intervals):")
    for k in states {
        let merged = k.classes == [k.name] ? "" : " (\(k.classes.joined(separator: "+")))"
        print("  \(k.name)\(merged): D \(ci(k.D, k.DLow, k.DHigh)) \(k.unitD.replacingOccurrences(of: "A^2", with: "Å²")), "
              + "hop rate \(ci(k.hopRate, k.hopRateLow, k.hopRateHigh)) \(k.unitRate), dwell \(ci(k.dwell, k.dwellLow, k.dwellHigh)) \(k.unitTime)")
    }
    print("  transition matrix per frame (rows: from; \(states.map(\.name).joined(separator: ", "))):")
    for (i, row) in t.enumerated() {
        print("    " + row.indices.map { j in ci(row[j], s.hmmTransitionCILow?[i][j], s.hmmTransitionCIHigh?[i][j], "%.3f") }
            .joined(separator: "  "))
    }
}
