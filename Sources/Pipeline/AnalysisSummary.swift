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
        public var dA2PerS: Double?, ciLowA2PerS: Double?, ciHighA2PerS: Double?
        public var sigmaPx: Double?
    }
    public var atomtrackVersion: String
    public var movie: String
    public var model: String
    public var pixelSizeA: Double
    public var pixelSizeSource: String
    public var frameTimeS: Double
    /// Where the frame time came from: `command line`, or `assumed` (1 s; nothing gave one).
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
}

extension AnalysisSummary {
    /// The summary of a finished run, from what its stages returned.
    init(config: AnalysisConfig, inputs: Analysis.Inputs, totals: Analysis.FrameTotals, skippedAtBorder: Int,
         library: DefectClassLibrary, names: [String], kinetics r: Kinetics.Result, seconds: [String: Double]) {
        let calibration = inputs.calibration
        let toA2s = calibration.pixelSize * calibration.pixelSize / calibration.frameTime
        let hmm = r.hmm.map { HMMReport($0, classNames: names, calibration: DiffusionCalibration(pixelSize: calibration.pixelSize,
                                                                                                  frameTime: calibration.frameTime)) }
        var perClass: [String: Int] = [:]
        for (c, n) in totals.atomsPerClass.enumerated() where n > 0 { perClass[inputs.symbols[c], default: 0] += n }
        self.init(
            atomtrackVersion: atomTrackVersion, movie: config.movie, model: inputs.model.directory.path,
            pixelSizeA: calibration.pixelSize, pixelSizeSource: calibration.pixelSizeSource.summaryText,
            frameTimeS: calibration.frameTime, frameTimeSource: calibration.frameTimeSource.summaryText,
            frames: inputs.frames.count, width: inputs.movie.width, height: inputs.movie.height, atomsPerClass: perClass,
            defects: library.defects.count, defectCropsSkippedAtBorder: skippedAtBorder, defectClasses: names,
            defectClassCounts: library.classes.map(\.count), bicChosenK: library.classification.selection.bestByBIC,
            tracks: r.longTracks(minLength: config.kinetics.minTrackLength).count,
            diffusion: r.diffusion.map { Self.classDiffusion($0, names: names, toA2s: toA2s) },
            markovStates: r.markov?.activeStateNames ?? [],
            transitionMatrix: r.markov?.transitionMatrix.rows.map { $0.map { finite($0) ?? 0 } },
            transitionCILow: r.markovUncertainty?.transitionLow.rows.map { $0.map { finite($0) ?? 0 } },
            transitionCIHigh: r.markovUncertainty?.transitionHigh.rows.map { $0.map { finite($0) ?? 1 } }, markovNote: r.markovNote,
            hmmStates: hmm?.states, hmmTransitionMatrix: hmm?.transition, hmmTransitionCILow: hmm?.low,
            hmmTransitionCIHigh: hmm?.high, hmmNote: r.hmmNote,
            seeds: ["defect_mixture": config.defects.seed, "kinetics_bootstrap": config.kinetics.seed],
            secondsPerStage: seconds)
    }

    static func classDiffusion(_ d: DiffusionResult, names: [String], toA2s: Double) -> ClassDiffusion {
        ClassDiffusion(state: names.indices.contains(d.classLabel) ? names[d.classLabel] : "\(d.classLabel)",
                       tracks: d.tracks, steps: d.steps,
                       dPx2PerFrame: finite(d.cve.D), ciLowPx2PerFrame: finite(d.ciLow), ciHighPx2PerFrame: finite(d.ciHigh),
                       dA2PerS: finite(d.cve.D * toA2s), ciLowA2PerS: finite(d.ciLow * toA2s),
                       ciHighA2PerS: finite(d.ciHigh * toA2s), sigmaPx: finite(max(0, d.cve.sigmaSquared).squareRoot()))
    }
}

/// JSON has no NaN/∞: undefined estimates are written as null.
func finite(_ v: Double) -> Double? { v.isFinite ? v : nil }
