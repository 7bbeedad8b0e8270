import Core
import DefectLibrary
import Dynamics
import Foundation
import MicroscopyIO
import Tracking

/// Defect trajectories and what they tell: linking (drift taken from the whole lattice),
/// diffusion per defect class, and the Markov model of class changes along the tracks.
public struct Kinetics {
    public struct Options: Codable, Sendable, Equatable {
        /// Largest defect move between frames, in nearest-column distances: two hops on a TMD
        /// metal sublattice (2a = 3.5 columns) still link; 2.5 cut tracks at double hops, so D came out low.
        public var maxStepColumns = 4.0
        /// Frames a defect may go unseen and keep its track.
        public var maxGap = 2
        public var minTrackLength = 5
        /// Markov lag in frames.
        public var lag = 1
        public var reversible = false
        public var bootstrapSamples = 200
        public var seed: UInt64 = 1
        /// Atoms per frame that the lattice drift is measured from (those nearest the frame
        /// centre): plenty for a median, and it keeps memory flat on large frames and long movies.
        public var driftAtomsPerFrame = 2000
        public init() {}
    }

    public struct Result {
        public var atomTracks: TrackingResult
        public var defectTracks: TrackingResult
        public var diffusion: [DiffusionResult]
        public var markov: MarkovStateModel?
        public var markovUncertainty: MarkovUncertainty?
        public var markovNote: String?
        /// The joint HMM over class evidence and steps (nil: `hmmNote` says why).
        public var hmm: DefectHMMFit?
        public var hmmNote: String?
        /// Viterbi hidden state of every point, by track id.
        public var hmmPaths: [Int: [Int]] = [:]
        public var stateNames: [String]
        /// Per linked defect, the classifier's log-likelihood of each class (trajectories.csv's loglik_ columns).
        public var evidence: [[Double]]?

        /// The defect tracks long enough to report (`Options.minTrackLength`).
        public func longTracks(minLength: Int) -> [Track] { defectTracks.tracks.filter { $0.points.count >= minLength } }
    }

    public let options: Options
    /// Å per pixel and s per frame of the written tables (tracking itself works in pixels and frames).
    public let calibration: Calibration
    /// Distance between neighbouring columns in pixels: the unit of every search distance.
    public let columnSpacingPixels: Double

    public init(options: Options, calibration: Calibration, columnSpacingPixels: Double) {
        self.options = options; self.calibration = calibration; self.columnSpacingPixels = columnSpacingPixels
    }

    /// The atoms of a frame that the lattice drift is measured from: all of them, or the
    /// `driftAtomsPerFrame` nearest the frame centre (a compact patch, so the same columns
    /// appear in consecutive frames).
    public func driftSample(_ atoms: [FrameAtom], width: Int, height: Int) -> [FrameAtom] {
        guard atoms.count > options.driftAtomsPerFrame else { return atoms }
        let cx = Double(width - 1) / 2, cy = Double(height - 1) / 2
        let distance = atoms.map { ($0.x - cx) * ($0.x - cx) + ($0.y - cy) * ($0.y - cy) }
        let nearest = atoms.indices.sorted { distance[$0] < distance[$1] || (distance[$0] == distance[$1] && $0 < $1) }
        return nearest.prefix(options.driftAtomsPerFrame).sorted().map { atoms[$0] }
    }

    /// Drift from the lattice (each frame's `driftSample`): links it frame to frame
    /// (drift-iterated) and returns its cumulative drift per frame.
    public func latticeDrift(_ atoms: [[FrameAtom]]) throws -> TrackingResult {
        let detections = atoms.flatMap { $0 }.map { Detection(frame: $0.frame, x: $0.x, y: $0.y, classLabel: $0.classIndex, score: Double($0.score)) }
        let options = TrackingOptions(maxDistance: 0.35 * columnSpacingPixels, maxGap: 0, driftIterations: 2,
                                      driftSearchDistance: 0.45 * columnSpacingPixels)
        return try Tracker.track(detections, options: options)
    }

    /// Links defects (classes from the library), drift-corrected by the lattice's drift.
    /// - Parameter atoms: per frame, the atoms to measure the drift from (see `driftSample`).
    /// - Parameter logLikelihoods: per defect, the classifier's log-likelihood of each class
    ///   (nil: the HMM weighs the hard labels through a learned confusion matrix).
    public func run(atoms: [[FrameAtom]], defects: [(frame: Int, x: Double, y: Double, state: Int, probability: Double)],
                    logLikelihoods: [[Double]]? = nil, stateNames: [String]) throws -> Result {
        let lattice = try latticeDrift(atoms)
        let detections = defects.map { Detection(frame: $0.frame, x: $0.x, y: $0.y, classLabel: $0.state, score: $0.probability) }
        // Positions stay in the frame's own pixels (x, y); xCorrected/yCorrected have the lattice's drift removed.
        let defectTracks = try Tracker.track(detections, options: TrackingOptions(
            maxDistance: options.maxStepColumns * columnSpacingPixels, maxGap: options.maxGap), drift: lattice.drift)
        var result = Result(atomTracks: lattice, defectTracks: defectTracks, diffusion: [],
                            markov: nil, markovUncertainty: nil, markovNote: nil, stateNames: stateNames, evidence: logLikelihoods)
        let long = result.longTracks(minLength: options.minTrackLength)
        result.diffusion = try diffusion(of: long)
        try estimateMarkovModel(of: long, into: &result)
        var hmm = DefectHMMOptions()
        hmm.motion = .lattice(hopThreshold: Self.hopThresholdColumns * columnSpacingPixels)
        hmm.reversible = options.reversible; hmm.bootstrapSamples = options.bootstrapSamples; hmm.seed = options.seed
        (result.hmm, result.hmmPaths, result.hmmNote) = Self.fitHMM(long, classCount: stateNames.count, options: hmm) { p in
            logLikelihoods?[p.detection] ?? (0..<stateNames.count).map { $0 == p.classLabel ? 0 : -.infinity }
        }
        return result
    }

    /// A step longer than this many column spacings is a hop (noise is ~0.02 spacings, a hop ≥ 1).
    public static let hopThresholdColumns = 0.5

    /// The joint HMM over whole tracks (never cut at a class change: a class switch is what it
    /// models) on drift-corrected positions; `evidence` gives a point's per-class log-likelihoods
    /// (`positions` false: steps are not evidence). Each step carries its edge weight in the
    /// field the defects were seen in (their bounding box in the frame's own pixels): steps that
    /// left the field are never seen, which would bias D low. Returns the fit and each track's
    /// Viterbi states, or why there is no fit.
    static func fitHMM(_ tracks: [Track], classCount: Int, options: DefectHMMOptions, positions: Bool = true,
                       evidence: (TrackPoint) -> [Double]) -> (DefectHMMFit?, [Int: [Int]], String?) {
        let points = tracks.flatMap(\.points)
        let window = positions ? ObservationWindow(boundingX: points.map(\.x), y: points.map(\.y)) : nil
        let input = tracks.map { t in
            HMMTrack(frames: t.points.map(\.frame), x: positions ? t.points.map(\.xCorrected) : [],
                     y: positions ? t.points.map(\.yCorrected) : [], classEvidence: t.points.map(evidence),
                     stepWeights: window?.stepWeights(x: t.points.map(\.x), y: t.points.map(\.y)) ?? [])
        }
        do {
            guard !input.isEmpty else { throw MarkovError.invalidArgument("no tracks") }
            let fit = try DefectHMMFitter.fit(input, classCount: classCount, options: options)
            var paths: [Int: [Int]] = [:]
            for (t, h) in zip(tracks, input) { paths[t.id] = fit.model.viterbi(h) }
            return (fit, paths, nil)
        } catch {
            return (nil, [:], "no HMM: \(error)")
        }
    }

    /// Diffusion per class on the drift-corrected positions.
    func diffusion(of tracks: [Track]) throws -> [DiffusionResult] {
        guard !tracks.isEmpty else { return [] }
        return try Diffusion.analyze(tracks.map(DiffusionTrack.init), options: DiffusionOptions(seed: options.seed))
    }

    /// The Markov model of class changes along the tracks, or the reason there is none.
    func estimateMarkovModel(of tracks: [Track], into result: inout Result) throws {
        let stateNames = result.stateNames
        let trajectories = try tracks.map { try StateTrajectory(frames: $0.points.map(\.frame), states: $0.points.map(\.classLabel)) }
        do {
            let estimator = MarkovEstimator(reversible: options.reversible)
            let model = try estimator.fit(trajectories, stateCount: stateNames.count,
                                          options: MarkovCountingOptions(lag: options.lag), stateNames: stateNames)
            result.markov = model
            result.markovUncertainty = try? estimator.uncertainty(of: model, trajectories: trajectories, method: .bootstrapTracks,
                                                                  samples: options.bootstrapSamples, seed: options.seed)
        } catch {
            result.markovNote = "no Markov model: \(error)"
        }
    }

    /// Links the library's defects (class = library class, score = its probability).
    public func run(atoms: [[FrameAtom]], library: DefectClassLibrary, stateNames: [String]) throws -> Result {
        let labels = library.classification.labels, probabilities = library.classification.probabilities
        let kept = library.defects.indices.filter { labels[$0] != DefectClassification.none }
        let defects = kept.map { i in
            (frame: library.defects[i].frame, x: library.defects[i].x, y: library.defects[i].y,
             state: labels[i], probability: probabilities[i])
        }
        // Evidence indexed like `defects` (the "none" members are left out of both).
        let evidence = kept.map { library.classification.classLogLikelihoods[$0] }
        return try run(atoms: atoms, defects: defects, logLikelihoods: evidence, stateNames: stateNames)
    }

    /// trajectories.csv (tracks of ≥ `minTrackLength` frames), drift.csv, diffusion.csv and,
    /// when a Markov model was estimated, markov.json and markov.png.
    public func write(_ r: Result, names: [String], to output: URL) throws {
        func file(_ name: String) -> URL { output.appendingPathComponent(name) }
        try AtomicFile.writeText(TableStages.trajectoriesCSV(r.longTracks(minLength: options.minTrackLength), classes: names,
                                                             pixelSize: calibration.pixelSize, hmm: r.hmm.map { ($0, r.hmmPaths) },
                                                             evidence: r.evidence),
                                 to: file("trajectories.csv"))
        try AtomicFile.writeText(TrackingCSV.drift(r.atomTracks), to: file("drift.csv"))
        let units = DiffusionCalibration(pixelSize: calibration.pixelSize, frameTime: calibration.knownFrameTime)
        try AtomicFile.writeText(Diffusion.csv(r.diffusion, calibration: units, classNames: names, hmm: r.hmm), to: file("diffusion.csv"))
        guard let m = r.markov else { return }
        let hmm = r.hmm.map { HMMReport($0, classNames: names, calibration: units) }
        try MarkovTable.write(m, uncertainty: r.markovUncertainty, hmm: hmm, frameTime: calibration.knownFrameTime, to: output)
    }
}

extension DiffusionTrack {
    /// A track's drift-corrected positions and per-point classes: diffusion is measured in
    /// the lattice frame. Here because Pipeline is where Tracking and Dynamics meet.
    public init(_ track: Track) {
        self.init(frames: track.points.map(\.frame), x: track.points.map(\.xCorrected),
                  y: track.points.map(\.yCorrected), classes: track.points.map(\.classLabel))
    }
}

extension MarkovStateModel {
    /// Writes `heatMap(scale:)` as an RGB PNG (markov.png): Dynamics draws, MicroscopyIO encodes.
    public func writeHeatMapPNG(to url: URL, scale: Int = 2) throws {
        let raster = heatMap(scale: scale)
        var image = RGBImage(width: raster.width, height: raster.height)
        image.bytes = raster.pixels
        try PNGFile.writeRGB(image, to: url)
    }
}
