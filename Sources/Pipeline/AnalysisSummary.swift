import DefectLibrary
import Dynamics
import Foundation

/// What `analyze` found, also written as OUT/summary.json.
public struct AnalysisSummary: Codable, Sendable {
    public struct ClassDiffusion: Codable, Sendable {
        public var state: String
        public var tracks: Int, steps: Int
        /// nil where the estimate is undefined (too few steps).
        public var dPx2PerFrame: Double?, ciLowPx2PerFrame: Double?, ciHighPx2PerFrame: Double?
        /// In Å²/s only when the frame time is known (file or flag), else nil and D is in Å²/frame.
        public var dA2PerS: Double?, ciLowA2PerS: Double?, ciHighA2PerS: Double?
        public var dA2PerFrame: Double?, ciLowA2PerFrame: Double?, ciHighA2PerFrame: Double?
        public var sigmaPx: Double?
    }
    public var atomtrackVersion: String
    public var movie: String
    public var model: String
    public var pixelSizeA: Double
    public var pixelSizeSource: String
    /// nil when neither the file nor `--frame-time` gave one (rates are then per frame).
    public var frameTimeS: Double?
    /// Where the frame time came from: `command line`, `file metadata (<key>)`, or `unknown`.
    public var frameTimeSource: String
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
    /// The joint HMM (markov.json "hmm"): per hidden state D (Å²/s), hop rate (1/s), dwell time (s)
    /// with bootstrap intervals, and its transition matrix; `hmmNote` says why there is none.
    public var hmmStates: [HMMReport.State]?
    public var hmmTransitionMatrix: [[Double]]?
    public var hmmTransitionCILow: [[Double?]]?, hmmTransitionCIHigh: [[Double?]]?
    public var hmmNote: String?
    public var seeds: [String: UInt64]
    public var secondsPerStage: [String: Double]
    /// Set only by `merge --allow-partial`: which frames the result lacks.
    public var partialResult: String?
}

extension AnalysisSummary {
    /// The summary of a finished run, from what its stages returned.
    init(config: AnalysisConfig, inputs: Analysis.Inputs, totals: Analysis.FrameTotals, skippedAtBorder: Int,
         library: DefectClassLibrary, names: [String], kinetics r: Kinetics.Result, seconds: [String: Double]) {
        let calibration = inputs.calibration
        let toA2 = calibration.pixelSize * calibration.pixelSize, frameTime = calibration.knownFrameTime
        let timeSource = frameTime == nil ? "unknown (D in Å²/frame, timescales in frames)"
            : calibration.frameTimeSource == .file ? "file metadata (\(inputs.movie.frameTime?.key ?? "?"))" : calibration.frameTimeSource.summaryText
        let hmm = r.hmm.map { HMMReport($0, classNames: names, calibration: DiffusionCalibration(pixelSize: calibration.pixelSize,
                                                                                                  frameTime: frameTime)) }
        var perClass: [String: Int] = [:]
        for (c, n) in totals.atomsPerClass.enumerated() where n > 0 { perClass[inputs.symbols[c], default: 0] += n }
        self.init(
            atomtrackVersion: atomTrackVersion, movie: config.movie, model: inputs.model.directory.path,
            pixelSizeA: calibration.pixelSize, pixelSizeSource: calibration.pixelSizeSource.summaryText,
            frameTimeS: frameTime, frameTimeSource: timeSource,
            frames: totals.frames, width: inputs.movie.width, height: inputs.movie.height, atomsPerClass: perClass,
            defects: library.defects.count, defectCropsSkippedAtBorder: skippedAtBorder, defectClasses: names,
            defectClassCounts: library.classes.map(\.count), bicChosenK: library.classification.selection.bestByBIC,
            tracks: r.longTracks(minLength: config.kinetics.minTrackLength).count,
            diffusion: r.diffusion.map { Self.classDiffusion($0, names: names, toA2: toA2, frameTime: frameTime) },
            markovStates: r.markov?.activeStateNames ?? [],
            transitionMatrix: r.markov?.transitionMatrix.rows.map { $0.map { finite($0) ?? 0 } },
            transitionCILow: r.markovUncertainty?.transitionLow.rows.map { $0.map { finite($0) ?? 0 } },
            transitionCIHigh: r.markovUncertainty?.transitionHigh.rows.map { $0.map { finite($0) ?? 1 } }, markovNote: r.markovNote,
            hmmStates: hmm?.states, hmmTransitionMatrix: hmm?.transition, hmmTransitionCILow: hmm?.low,
            hmmTransitionCIHigh: hmm?.high, hmmNote: r.hmmNote,
            seeds: ["defect_mixture": config.defects.seed, "kinetics_bootstrap": config.kinetics.seed],
            secondsPerStage: seconds)
    }

    static func classDiffusion(_ d: DiffusionResult, names: [String], toA2: Double, frameTime: Double?) -> ClassDiffusion {
        let perSecond = { (v: Double) in frameTime.flatMap { finite(v * toA2 / $0) } }
        return ClassDiffusion(state: names.indices.contains(d.classLabel) ? names[d.classLabel] : "\(d.classLabel)",
                              tracks: d.tracks, steps: d.steps,
                              dPx2PerFrame: finite(d.cve.D), ciLowPx2PerFrame: finite(d.ciLow), ciHighPx2PerFrame: finite(d.ciHigh),
                              dA2PerS: perSecond(d.cve.D), ciLowA2PerS: perSecond(d.ciLow), ciHighA2PerS: perSecond(d.ciHigh),
                              dA2PerFrame: finite(d.cve.D * toA2), ciLowA2PerFrame: finite(d.ciLow * toA2),
                              ciHighA2PerFrame: finite(d.ciHigh * toA2), sigmaPx: finite(max(0, d.cve.sigmaSquared).squareRoot()))
    }

    /// "D = … Å²/s [low, high]", or per frame when the frame time is unknown.
    public func diffusionText(_ d: ClassDiffusion) -> String {
        let (v, lo, hi, unit) = frameTimeS == nil ? (d.dA2PerFrame, d.ciLowA2PerFrame, d.ciHighA2PerFrame, "Å²/frame")
            : (d.dA2PerS, d.ciLowA2PerS, d.ciHighA2PerS, "Å²/s")
        return String(format: "%.4g %@ [%.4g, %.4g] (%.4g px²/frame, %d tracks)", v ?? .nan, unit, lo ?? .nan, hi ?? .nan, d.dPx2PerFrame ?? .nan, d.tracks)
    }
}

/// JSON has no NaN/∞: undefined estimates are written as null.
func finite(_ v: Double) -> Double? { v.isFinite ? v : nil }
