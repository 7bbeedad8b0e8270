import Core
import ArgumentParser
import Dynamics
import Foundation
import MicroscopyIO
import Pipeline
import Tracking

struct TrackCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "track",
        abstract: "Link atoms or defects into trajectories and estimate diffusion coefficients.",
        discussion: """
        Input: a table with frame,x,y (pixels) and optional class and score columns, such as
        atoms.csv or defects.csv. Linking is an optimal one-to-one assignment per frame pair
        (squared distances up to --max-distance), gaps of up to --max-gap frames are closed by a
        second assignment, and rigid drift is estimated from the links and removed first.
        Writes trajectories.csv (track,frame,x,y,class,score[,x_A,y_A]; positions as recorded),
        drift.csv (cumulative frame,dx,dy in px), diffusion.csv (per class: covariance-estimator D
        with bootstrap CI over tracks, localization σ, MSD-fit D; px²/frame, or Å²/s when
        --pixel-size and --frame-time are given) and hops.csv (hop probability, rate, jump lengths).
        """)

    @Argument(help: "Detections table (CSV).") var table: String
    @Option(help: "Output directory.") var out: String
    @Option(help: "Largest move between frames (px).") var maxDistance: Double = 5
    @Option(help: "Frames a particle may be missed and keep its track.") var maxGap = 2
    @Option(help: "Drift iterations (0: no drift correction).") var driftIterations = 2
    @Option(help: "Shortest track kept (frames).") var minLength = 5
    @Option(parsing: .upToNextOption, help: "Only these classes (as written in the table).") var `class`: [String] = []
    @Option(help: "Pixel size in Å.") var pixelSize: Double?
    @Option(help: "Seconds per frame.") var frameTime: Double?
    @Option(help: "A step longer than this (px) counts as a hop (default: half of --max-distance).") var hopThreshold: Double?
    @Option(help: "Bootstrap seed.") var seed: UInt64 = 1
    @Flag(help: "Replace earlier results in OUT.") var overwrite = false

    func run() throws {
        try reportingErrors {
            let input = try CSVTable(url: URL(fileURLWithPath: table))
            let (detections, classes) = try TableStages.detections(input, only: Set(`class`))
            let dir = URL(fileURLWithPath: out)
            try OutputDirectory.prepare(dir, markers: ["trajectories.csv"], allowExisting: overwrite)
            let result = try Tracker.track(detections, options: TrackingOptions(
                maxDistance: maxDistance, maxGap: maxGap, driftIterations: driftIterations))
            let long = result.tracks.filter { $0.points.count >= minLength }
            try AtomicFile.writeText(TableStages.trajectoriesCSV(long, classes: classes, pixelSize: pixelSize),
                                     to: dir.appendingPathComponent("trajectories.csv"))
            try AtomicFile.writeText(TrackingCSV.drift(result), to: dir.appendingPathComponent("drift.csv"))
            let tracks = long.map { DiffusionTrack(frames: $0.points.map(\.frame), x: $0.points.map(\.xCorrected),
                                                   y: $0.points.map(\.yCorrected), classes: $0.points.map(\.classLabel)) }
            let calibration = pixelSize.flatMap { p in frameTime.map { DiffusionCalibration(pixelSize: p, frameTime: $0) } }
            var text = "\(long.count) tracks of ≥ \(minLength) frames from \(detections.count) detections"
            if !tracks.isEmpty {
                let diffusion = try Diffusion.analyze(tracks, options: DiffusionOptions(seed: seed))
                try AtomicFile.writeText(Diffusion.csv(diffusion, calibration: calibration, classNames: classes),
                                         to: dir.appendingPathComponent("diffusion.csv"))
                let hops = try Diffusion.hops(tracks, threshold: hopThreshold ?? maxDistance / 2, binWidth: 0.25)
                try AtomicFile.writeText(Diffusion.hopsCSV(hops, calibration: calibration, classNames: classes),
                                         to: dir.appendingPathComponent("hops.csv"))
                for d in diffusion {
                    text += String(format: "\n  %@: D = %.4g px²/frame [%.4g, %.4g] over %d tracks",
                                   classes.indices.contains(d.classLabel) ? classes[d.classLabel] : "\(d.classLabel)",
                                   d.cve.D, d.ciLow, d.ciHigh, d.tracks)
                }
            }
            print(text)
        }
    }
}

struct MarkovCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "markov",
        abstract: "Estimate the Markov transition matrix between classes along trajectories.",
        discussion: """
        Input: trajectories.csv (track,frame,class). Transitions are counted at --lag frames within
        each track, never across a missing frame. Writes markov.json (lag, states, counts,
        transition_matrix, stationary, ci_low, ci_high from a bootstrap over tracks, timescales) and
        markov.png (heat map with counts). States outside the largest connected set are named in
        the output, not dropped silently.
        """)

    @Argument(help: "Trajectories table (CSV with track, frame, class).") var table: String
    @Option(help: "Output directory.") var out: String
    @Option(help: "Lag time in frames.") var lag = 1
    @Flag(help: "Reversible (detailed-balance) maximum-likelihood estimate.") var reversible = false
    @Option(help: "Seconds per frame (timescales in s).") var frameTime: Double?
    @Option(help: "Bootstrap samples for the confidence intervals.") var samples = 200
    @Option(help: "Bootstrap seed.") var seed: UInt64 = 1
    @Flag(help: "Replace earlier results in OUT.") var overwrite = false

    func run() throws {
        try reportingErrors {
            let (tracks, states) = try TableStages.stateTrajectories(CSVTable(url: URL(fileURLWithPath: table)))
            let dir = URL(fileURLWithPath: out)
            try OutputDirectory.prepare(dir, markers: ["markov.json"], allowExisting: overwrite)
            let estimator = MarkovEstimator(reversible: reversible)
            let model = try estimator.fit(tracks, stateCount: states.count, options: MarkovCountingOptions(lag: lag), stateNames: states)
            let uncertainty = try estimator.uncertainty(of: model, trajectories: tracks, method: .bootstrapTracks, samples: samples, seed: seed)
            try AtomicFile.writeText(try model.json(uncertainty: uncertainty, frameTime: frameTime), to: dir.appendingPathComponent("markov.json"))
            let raster = model.heatMap(scale: 2)
            var image = RGBImage(width: raster.width, height: raster.height)
            image.bytes = raster.pixels
            try PNGFile.writeRGB(image, to: dir.appendingPathComponent("markov.png"))
            print("transition matrix at lag \(lag) (\(model.activeStateNames.joined(separator: ", "))):")
            for row in model.transitionMatrix.rows { print("  " + row.map { String(format: "%.4f", $0) }.joined(separator: "  ")) }
            if !model.excludedStates.isEmpty {
                print("left out (not in the largest connected set): " + model.excludedStates.map { model.stateNames[$0] }.joined(separator: ", "))
            }
        }
    }
}
