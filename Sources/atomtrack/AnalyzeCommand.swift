import Core
import ArgumentParser
import Foundation
import MicroscopyIO
import Pipeline

struct Analyze: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Movie → atoms → defect library → trajectories → diffusion → Markov model, with an HTML report.",
        discussion: """
        Writes into OUT: atoms.csv, overlay_NNNN.png, defects.csv, library.json, bic.csv, library/ (class
        means as TIFF/PNG, mosaics), trajectories.csv, drift.csv, diffusion.csv, markov.json, markov.png,
        summary.json, config.json (every parameter: repeat with --config) and report.html.
        Frames stream one at a time; memory stays bounded by the defect crops. Every finished frame is
        journaled in OUT/.resume/: after an interruption (Ctrl-C, kill, power cut), rerun with --resume
        to continue from the last finished frame. The journal is removed when the run completes.
        """)

    @Argument(help: "Movie: TIFF stack, PNG series (file or folder), NPY, DM3/DM4.") var movie: String?
    @Option(help: "Model directory (default: the shipped model for --material).") var model: String?
    @Option(help: "Material, to pick a shipped model: graphene-si or ws2.") var material: String?
    @Option(help: "Pixel size in Å (overrides the file's calibration).") var pixelSize: Double?
    @Option(help: "Seconds per frame (for Å²/s and timescales in seconds).") var frameTime: Double?
    @Option(help: "First frame.") var first: Int?
    @Option(help: "Number of frames (default: all).") var count: Int?
    @Option(help: "Markov lag in frames.") var lag: Int?
    @Option(help: "Run configuration (JSON, e.g. an earlier run's config.json); flags override it.") var config: String?
    @Option(help: "Output directory.") var out: String
    @Flag(help: "Replace earlier results in OUT.") var overwrite = false
    @Flag(help: "Continue an interrupted run in OUT from its last finished frame (same settings, movie and model).") var resume = false
    @Flag(help: "No progress bars.") var quiet = false

    func run() throws {
        try reportingErrors {
            var c: AnalysisConfig
            if let config {
                let data = try readFile(config)
                do { c = try AnalysisConfig.decode(data) } catch let e as InputError {
                    throw InputError("\(config): not an analysis configuration: \(e)")
                }
                if let movie { c.movie = movie }
            } else {
                guard let movie else { throw InputError("give a MOVIE (or --config)") }
                c = AnalysisConfig(movie: movie)
            }
            if let model { c.model = model }
            if let material { c.material = material }
            if let pixelSize { c.pixelSize = pixelSize }
            if let frameTime { c.frameTime = frameTime }
            if let first { c.firstFrame = first }
            if let count { c.frameCount = count }
            if let lag { c.kinetics.lag = lag }
            if c.model == nil && c.material == nil { throw InputError("give --model DIR or --material graphene-si|ws2") }
            let dir = URL(fileURLWithPath: out)
            if resume && overwrite { throw InputError("--resume and --overwrite contradict each other; give one") }
            let interrupted = Analysis.hasInterruptedRun(in: dir)
            if resume && !interrupted {
                if FileManager.default.fileExists(atPath: dir.appendingPathComponent("summary.json").path) {
                    throw InputError("\(out): holds a finished analysis; nothing to resume")
                }
                FileHandle.standardError.write(Data("note: \(out) holds no interrupted run; starting from the first frame\n".utf8))
            }
            if interrupted && !resume && !overwrite {
                throw InputError("\(out): holds an interrupted analysis; pass --resume to continue it or --overwrite to start over")
            }
            try OutputDirectory.prepare(dir, markers: Analysis.resultMarkers, allowExisting: overwrite || resume)
            var analysis = Analysis(config: c, output: dir)
            analysis.progress = !quiet
            let s = try analysis.run(resume: resume)
            printSummary(s, dir: dir)
        }
    }
}

func printSummary(_ s: AnalysisSummary, dir: URL) {
    print("analyzed \(s.frames) frames: \(s.atomsPerClass.sorted { $0.key < $1.key }.map { "\($0.value) \($0.key)" }.joined(separator: ", "))")
    print("defect library: \(s.defects) instances in \(s.defectClasses.count) classes (\(zip(s.defectClasses, s.defectClassCounts).map { "\($0) ×\($1)" }.joined(separator: ", ")))")
    for d in s.diffusion {
        print(String(format: "D %@ = %.4g Å²/s  [%.4g, %.4g]  (%.4g px²/frame, %d tracks)", d.state, d.dA2PerS ?? .nan, d.ciLowA2PerS ?? .nan, d.ciHighA2PerS ?? .nan, d.dPx2PerFrame ?? .nan, d.tracks))
    }
    if let t = s.transitionMatrix {
        print("transition matrix (\(s.markovStates.joined(separator: ", "))):")
        for row in t { print("  " + row.map { String(format: "%.3f", $0) }.joined(separator: "  ")) }
    } else if let note = s.markovNote { print(note) }
    print("report: \(dir.appendingPathComponent("report.html").path)")
}
