import Core
import Dynamics
import Foundation
import MicroscopyIO
import Tracking

/// `track`: any detections table (`frame,x,y[,class,score]`, e.g. atoms.csv or defects.csv)
/// linked into trajectories, with the drift removed first; then diffusion and hop statistics per
/// class. Writes trajectories.csv, drift.csv, diffusion.csv, hops.csv and track.json (how the drift
/// was treated: a few sparse defects cannot gauge it, `DriftGauge`).
public struct TrackTable {
    public struct Options: Sendable {
        /// Largest move between frames (px).
        public var maxDistance = 5.0
        /// Frames a particle may be missed and keep its track.
        public var maxGap = 2
        /// Drift iterations (0: no drift correction).
        public var driftIterations = 2
        /// Shortest track kept (frames).
        public var minLength = 5
        /// Only these classes (as named in the table); empty keeps all.
        public var classes: Set<String> = []
        /// Å per pixel and s per frame: with both, diffusion is in Å²/s as well.
        public var pixelSize: Double?, frameTime: Double?
        /// A step longer than this (px) counts as a hop; nil: half of `maxDistance`.
        public var hopThreshold: Double?
        /// Bootstrap seed.
        public var seed: UInt64 = 1
        public init() {}

        /// Refuses what would fail only after the first files are written, or is not physical,
        /// named as the `track` flags are.
        public func validate() throws {
            let require = InputError.require
            try require(maxDistance.isFinite && maxDistance > 0 && maxDistance <= 1e6, "--max-distance", maxDistance, "expected 0 < px ≤ 10⁶")
            try require((0...1_000_000).contains(maxGap), "--max-gap", maxGap, "expected 0–10⁶ frames")
            try require((0...100).contains(driftIterations), "--drift-iterations", driftIterations, "expected 0–100")
            try require(minLength >= 1, "--min-length", minLength, "expected at least 1 frame")
            if let h = hopThreshold { try require(h.isFinite && h > 0 && h <= 1e6, "--hop-threshold", h, "expected 0 < px ≤ 10⁶") }
            try Calibration.checkFlags(pixelSize: pixelSize, frameTime: frameTime)
        }
    }

    /// A directory holding this file holds tracks.
    public static let markers = ["trajectories.csv"]

    /// track.json: the run's settings and whether the drift was estimated, and why.
    struct Metadata: Encodable {
        struct Drift: Encodable {
            let estimated: Bool, note: String
            let heldOutLinks: Int?, meanSquareWithDrift: Double?, meanSquareWithout: Double?, gainError: Double?
            enum CodingKeys: String, CodingKey {
                case estimated, note, heldOutLinks = "held_out_links", gainError = "held_out_gain_error_px2"
                case meanSquareWithDrift = "held_out_mean_square_with_drift_px2", meanSquareWithout = "held_out_mean_square_without_px2"
            }
        }
        let drift: Drift, driftIterations: Int, hopThreshold: Double, maxDistance: Double, maxGap: Int, minLength: Int
        enum CodingKeys: String, CodingKey {
            case drift, driftIterations = "drift_iterations", hopThreshold = "hop_threshold_px", maxDistance = "max_distance_px"
            case maxGap = "max_gap", minLength = "min_length"
        }
    }

    public let options: Options
    let detections: [Detection]
    let classes: [String]
    /// Per detection, the table's loglik_<class> values (nil: the HMM weighs the hard labels).
    let evidence: [[Double]]?

    /// Reads the table now, so a bad one is refused before anything is written.
    public init(table: URL, options: Options) throws {
        try options.validate()
        self.options = options
        (detections, classes, evidence) = try TableStages.detections(CSVTable(url: table), only: options.classes)
    }

    public struct ClassDiffusion: Sendable {
        public var className: String
        /// Covariance-estimator D (px²/frame) and its bootstrap interval.
        public var d: Double, ciLow: Double, ciHigh: Double
        public var tracks: Int
    }

    public struct Result: Sendable {
        public var tracks: Int
        public var detections: Int
        /// Covariance estimator per class (the cross-check).
        public var diffusion: [ClassDiffusion]
        /// The joint HMM's hidden states (D in px²/frame, or Å²/s with a calibration), and why there
        /// are none or that there is one ("one state: …").
        public var hmm: [HMMReport.State]
        public var hmmNote: String?
        /// How the drift was treated (estimated from the detections, or not and why).
        public var driftNote: String
    }

    public func run(to dir: URL) throws -> Result {
        var tracking = TrackingOptions(maxDistance: options.maxDistance, maxGap: options.maxGap, driftIterations: options.driftIterations)
        tracking.driftSegmentBreak = hopThreshold   // a hop is no drift
        tracking.driftCheck = true                  // a few sparse defects cannot gauge it
        let result = try Tracker.track(detections, options: tracking)
        let long = result.tracks.filter { $0.points.count >= options.minLength }
        let (hmm, paths, note) = fitHMM(long)
        try AtomicFile.writeText(TableStages.trajectoriesCSV(long, classes: classes, pixelSize: options.pixelSize,
                                                             hmm: hmm.map { ($0, paths) }, evidence: evidence),
                                 to: dir.appendingPathComponent("trajectories.csv"))
        try AtomicFile.writeText(TrackingCSV.drift(result), to: dir.appendingPathComponent("drift.csv"))
        let driftNote = result.driftGauge?.summary ?? "no drift correction (--drift-iterations 0)"
        try writeMetadata(result.driftGauge, note: driftNote, to: dir)
        let tracks = long.map(DiffusionTrack.init)
        let diffusion = tracks.isEmpty ? [] : try writeDiffusion(tracks, hmm: hmm, to: dir)
        let report = hmm.map { HMMReport($0, classNames: classes, calibration: calibration) }
        return Result(tracks: long.count, detections: detections.count, diffusion: diffusion,
                      hmm: report?.states ?? [], hmmNote: note ?? report?.note, driftNote: driftNote)
    }

    func writeMetadata(_ gauge: DriftGauge?, note: String, to dir: URL) throws {
        let drift = Metadata.Drift(estimated: gauge?.used ?? false, note: note, heldOutLinks: gauge?.links,
                                   meanSquareWithDrift: gauge.map { $0.meanSquareWithDrift }, meanSquareWithout: gauge.map { $0.meanSquareWithout },
                                   gainError: gauge.map { $0.gainError })
        let meta = Metadata(drift: drift, driftIterations: options.driftIterations, hopThreshold: hopThreshold,
                            maxDistance: options.maxDistance, maxGap: options.maxGap, minLength: options.minLength)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try AtomicFile.writeText(String(decoding: try encoder.encode(meta), as: UTF8.self) + "\n", to: dir.appendingPathComponent("track.json"))
    }

    /// A step longer than this (px) is a hop.
    var hopThreshold: Double { options.hopThreshold ?? options.maxDistance / 2 }

    var calibration: DiffusionCalibration? {
        options.pixelSize.flatMap { p in options.frameTime.map { DiffusionCalibration(pixelSize: p, frameTime: $0) } }
    }

    /// The joint HMM on the classifier's evidence (the table's loglik_ columns; without them the
    /// labels, through a learned confusion matrix) and the lattice hops of the drift-corrected
    /// steps (a hop: a step longer than the hop threshold).
    func fitHMM(_ tracks: [Track]) -> (DefectHMMFit?, [Int: [Int]], String?) {
        var o = DefectHMMOptions()
        o.motion = .lattice(hopThreshold: hopThreshold); o.seed = options.seed
        let n = classes.count
        return Kinetics.fitHMM(tracks, classCount: n, options: o) { p in
            evidence?[p.detection] ?? (0..<n).map { $0 == p.classLabel ? 0 : -.infinity }
        }
    }

    /// diffusion.csv and hops.csv, classes by name.
    func writeDiffusion(_ tracks: [DiffusionTrack], hmm: DefectHMMFit?, to dir: URL) throws -> [ClassDiffusion] {
        let calibration = options.pixelSize.map { DiffusionCalibration(pixelSize: $0, frameTime: options.frameTime) }
        let diffusion = try Diffusion.analyze(tracks, options: DiffusionOptions(seed: options.seed))
        try AtomicFile.writeText(Diffusion.csv(diffusion, calibration: calibration, classNames: classes, hmm: hmm),
                                 to: dir.appendingPathComponent("diffusion.csv"))
        let hops = try Diffusion.hops(tracks, threshold: hopThreshold, binWidth: 0.25)
        try AtomicFile.writeText(Diffusion.hopsCSV(hops, calibration: calibration, classNames: classes),
                                 to: dir.appendingPathComponent("hops.csv"))
        return diffusion.map { d in
            ClassDiffusion(className: classes.indices.contains(d.classLabel) ? classes[d.classLabel] : "\(d.classLabel)",
                           d: d.cve.D, ciLow: d.ciLow, ciHigh: d.ciHigh, tracks: d.tracks)
        }
    }
}
