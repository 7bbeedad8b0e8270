import ArgumentParser
import Foundation
import Pipeline

struct TrackCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "track",
        abstract: "Link atoms or defects into trajectories and estimate diffusion coefficients.",
        discussion: """
        Input: a table with frame,x,y (pixels) and optional class and score columns, such as \
        atoms.csv or defects.csv. Linking is an optimal one-to-one assignment per frame pair \
        (squared distances up to --max-distance), gaps of up to --max-gap frames are closed by a \
        second assignment, and rigid drift is estimated from the links and removed first (a link \
        longer than --hop-threshold is a hop, not drift). \
        The drift is used only when the detections can gauge it: the drift of half of the tracks must \
        lower the squared one-frame steps of the other half (a few sparse hopping defects cannot); \
        track.json and the output say which. \
        Writes trajectories.csv (track,frame,x,y,class,score[,x_A,y_A]; positions as recorded), \
        drift.csv (cumulative frame,dx,dy in px; zeros without drift correction), diffusion.csv (per class: covariance-estimator D \
        with bootstrap CI over tracks, localization σ, MSD-fit D; px²/frame, or Å²/s when \
        --pixel-size and --frame-time are given) and hops.csv (hop probability, rate, jump lengths). \
        The joint hidden Markov model (true class hidden; the class labels through a learned \
        confusion matrix and the lattice hops — steps longer than --hop-threshold — as evidence) \
        is fitted over whole tracks: its per-state D, hop rate and dwell time with bootstrap CIs \
        are the hmm_* columns of diffusion.csv, its Viterbi class the class_hmm column of \
        trajectories.csv; the covariance-estimator D on runs cut at class changes is the cross-check.
        """)

    @Argument(help: "Detections table (CSV).") var table: String
    @OptionGroup var output: OutputOptions
    @Option(help: "Largest move between frames (px).") var maxDistance: Double = 5
    @Option(help: "Frames a particle may be missed and keep its track.") var maxGap = 2
    @Option(help: "Drift iterations (0: no drift correction).") var driftIterations = 2
    @Option(help: "Shortest track kept (frames).") var minLength = 5
    @Option(parsing: .upToNextOption, help: "Only these classes (as written in the table).") var `class`: [String] = []
    @OptionGroup var pixelSize: PixelSizeOption
    @OptionGroup var frameTime: FrameTimeOption
    @Option(help: "A step longer than this (px) counts as a hop (default: half of --max-distance).") var hopThreshold: Double?
    @Option(help: "Bootstrap seed.") var seed: UInt64 = 1

    func run() throws {
        try reportingErrors {
            var o = TrackTable.Options()
            o.maxDistance = maxDistance; o.maxGap = maxGap; o.driftIterations = driftIterations; o.minLength = minLength
            o.classes = Set(`class`); o.hopThreshold = hopThreshold; o.seed = seed
            o.pixelSize = try pixelSize.checked(); o.frameTime = try frameTime.checked()
            let stage = try TrackTable(table: URL(fileURLWithPath: table), options: o)
            let r = try stage.run(to: try output.prepare(markers: TrackTable.markers, inputs: [.init(table)]))
            print("\(r.tracks) tracks of ≥ \(minLength) frames from \(r.detections) detections")
            print(r.driftNote)
            for d in r.diffusion {
                print(String(format: "  %@: D = %.4g px²/frame [%.4g, %.4g] over %d tracks (covariance estimator)", d.className, d.d, d.ciLow, d.ciHigh, d.tracks))
            }
            for h in r.hmm {
                let d = h.D.map { String(format: "%.4g %@ [%.4g, %.4g]", $0, h.unitD, h.DLow ?? .nan, h.DHigh ?? .nan) } ?? "insufficient data"
                let dwell = h.dwell.map { String(format: "%.4g", $0) } ?? h.dwellLow.map { String(format: "> %.4g", $0) } ?? "unbounded"
                print(String(format: "  HMM state %@: D = %@, dwell %@ %@", h.name, d, dwell, h.unitTime))
            }
            if let note = r.hmmNote { print(note) }
        }
    }
}

struct MarkovCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "markov",
        abstract: "Estimate the Markov transition matrix between classes along trajectories.",
        discussion: """
        Input: trajectories.csv (track,frame,class), or a trackpy table with `particle` in place of \
        `track`; states are numbered in name order (D0, D1, …, D10). Transitions are counted at --lag frames within \
        each track, never across a missing frame. Writes markov.json (lag, states, counts, \
        transition_matrix, stationary, ci_low, ci_high from a bootstrap over tracks, timescales) and \
        markov.png (heat map with counts). States outside the largest connected set are named in \
        the output, not dropped silently. markov.json's "hmm" holds the joint hidden Markov model \
        of the true class behind the labels (a learned confusion matrix absorbs misclassified \
        frames): T at lag 1 with bootstrap CIs, dwell times, implied timescales, the BIC choice of \
        states; the counting estimate above is its cross-check.
        """)

    @Argument(help: "Trajectories table (CSV with track, frame, class).") var table: String
    @OptionGroup var output: OutputOptions
    @Option(help: "Lag time in frames.") var lag = 1
    @Flag(help: "Reversible (detailed-balance) maximum-likelihood estimate.") var reversible = false
    @OptionGroup var frameTime: FrameTimeOption
    @Option(help: "Bootstrap samples for the confidence intervals.") var samples = 200
    @Option(help: "Bootstrap seed.") var seed: UInt64 = 1

    func run() throws {
        try reportingErrors {
            var o = MarkovTable.Options()
            o.lag = lag; o.reversible = reversible; o.samples = samples; o.seed = seed
            o.frameTime = try frameTime.checked()
            let stage = try MarkovTable(table: URL(fileURLWithPath: table), options: o)
            let r = try stage.run(to: try output.prepare(markers: MarkovTable.markers, inputs: [.init(table)]))
            print("transition matrix at lag \(lag) (\(r.states.joined(separator: ", "))):")
            for row in r.transitionMatrix { print("  " + row.map { String(format: "%.4f", $0) }.joined(separator: "  ")) }
            if r.states.count == 1 { print("one state (\(r.states[0])): the tracks never change class, T = [[1]]") }
            if !r.excluded.isEmpty { print("left out (not in the largest connected set): " + r.excluded.joined(separator: ", ")) }
            if let h = r.hmm {
                print("joint HMM at lag 1 (\(h.states.map(\.name).joined(separator: ", "))):")
                for row in h.transition { print("  " + row.map { String(format: "%.4f", $0) }.joined(separator: "  ")) }
                if let note = h.note { print(note) }
            }
            if let note = r.hmmNote { print(note) }
        }
    }
}
