import Core
import Dynamics
import Foundation
import MicroscopyIO

/// `markov`: the transition matrix between classes along the tracks of a `trajectories.csv`
/// (`track,frame,class`), with bootstrap-over-tracks intervals. Writes markov.json and markov.png.
public struct MarkovTable {
    public struct Options: Sendable {
        /// Lag time in frames.
        public var lag = 1
        /// Reversible (detailed-balance) maximum-likelihood estimate.
        public var reversible = false
        /// Seconds per frame (timescales in s as well).
        public var frameTime: Double?
        /// Bootstrap samples and seed.
        public var samples = 200
        public var seed: UInt64 = 1
        public init() {}

        /// Refuses what would fail only after OUT is created, named as the `markov` flags are.
        public func validate() throws {
            try InputError.require((1...1_000_000).contains(lag), "--lag", lag, "expected 1–10⁶ frames")
            try InputError.require((2...100_000).contains(samples), "--samples", samples, "expected 2–100000 bootstrap samples")
            try Calibration.checkFlags(frameTime: frameTime)
        }
    }

    /// A directory holding this file holds a Markov model.
    public static let markers = ["markov.json"]

    public let options: Options
    let tracks: [StateTrajectory]
    let states: [String]
    /// Per track and point, the table's loglik_<state> values (nil: hard labels).
    let evidence: [[[Double]]]?

    /// Reads the table now, so a bad one is refused before anything is written.
    public init(table: URL, options: Options) throws {
        try options.validate()
        self.options = options
        (tracks, states, evidence) = try TableStages.stateTrajectories(CSVTable(url: table))
    }

    public struct Result: Sendable {
        /// Names of the states in the matrix (the largest connected set).
        public var states: [String]
        /// Row = from.
        public var transitionMatrix: [[Double]]
        /// States left out because they are not in the largest connected set.
        public var excluded: [String]
        /// The joint HMM on the labels (markov.json "hmm"), or why there is none.
        public var hmm: HMMReport?
        public var hmmNote: String?
    }

    public func run(to dir: URL) throws -> Result {
        let estimator = MarkovEstimator(reversible: options.reversible)
        let model = try estimator.fit(tracks, stateCount: states.count, options: MarkovCountingOptions(lag: options.lag), stateNames: states)
        let uncertainty = try estimator.uncertainty(of: model, trajectories: tracks, method: .bootstrapTracks,
                                                    samples: options.samples, seed: options.seed)
        let (hmm, note) = fitHMM()
        try Self.write(model, uncertainty: uncertainty, hmm: hmm, frameTime: options.frameTime, to: dir)
        return Result(states: model.activeStateNames, transitionMatrix: model.transitionMatrix.rows,
                      excluded: model.excludedStates.map { model.stateNames[$0] }, hmm: hmm, hmmNote: note)
    }

    /// The joint HMM on the classifier's evidence (loglik_ columns) or else the class labels (a
    /// learned confusion matrix absorbs misclassified frames), at lag 1; the counting estimate
    /// above is its cross-check.
    func fitHMM() -> (HMMReport?, String?) {
        var o = DefectHMMOptions()
        o.reversible = options.reversible; o.bootstrapSamples = options.samples; o.seed = options.seed
        let input = tracks.enumerated().map { i, t in
            evidence.map { HMMTrack(frames: t.frames, classEvidence: $0[i]) } ?? HMMTrack(frames: t.frames, labels: t.states, classCount: states.count)
        }
        do {
            let fit = try DefectHMMFitter.fit(input, classCount: states.count, options: o)
            return (HMMReport(fit, classNames: states, calibration: options.frameTime.map { DiffusionCalibration(pixelSize: 1, frameTime: $0) }), nil)
        } catch {
            return (nil, "no HMM: \(error)")
        }
    }

    /// markov.json and markov.png (the matrix as a heat map with the counts in its cells).
    static func write(_ model: MarkovStateModel, uncertainty: MarkovUncertainty?, hmm: HMMReport? = nil, frameTime: Double?, to dir: URL) throws {
        try AtomicFile.writeText(try model.json(uncertainty: uncertainty, frameTime: frameTime, hmm: hmm),
                                 to: dir.appendingPathComponent("markov.json"))
        try model.writeHeatMapPNG(to: dir.appendingPathComponent("markov.png"))
    }
}
