// Defect tracks with known kinetics at the table level, for the HMM's tests and its
// calibration study: lattice hops (Poisson number per frame, six directions), Gaussian
// localization noise, and a classifier whose per-class log-likelihoods come from a
// Gaussian feature space (with confidently wrong outliers and, optionally, a spurious class);
// optionally frames missed right after hops, and a bounded field the defects walk out of.

import Core
import Foundation

public struct HMMSyntheticSpec: Sendable {
    /// True transition matrix at one frame (row = from).
    public var transition: [[Double]]
    /// True D per state (px²/frame): hop rate per frame is 4D/ℓ².
    public var D: [Double]
    /// Hop length ℓ (px) and localization error per axis (px).
    public var hopLength = 9.0, sigma = 0.15
    /// Localization error per axis of each state (px; nil: `sigma` for all): defect classes look
    /// different, so they are located with different errors.
    public var stateSigma: [Double]?
    /// Off-lattice instead: Gaussian steps of variance 2D per axis.
    public var continuous = false
    /// Distance between class means in the classifier's feature space (3 dimensions, unit variance).
    public var separation = 3.3
    /// Fraction of frames whose features come from another class (confidently misclassified).
    public var outliers = 0.02
    /// Fraction of state-0 frames that look like an extra class (one more observed class than states; 0: none).
    public var spurious = 0.0
    public var tracks = 8, frames = 60
    /// Probability that a defect goes unseen in the frame after a hop (a tracker's gap exactly
    /// where the motion is; the last frame is always seen).
    public var missedAfterHop = 0.0
    /// Side (px) of a square field the defects start in, uniformly, and are seen in only: a track
    /// ends when its defect first leaves (nil: an unbounded field, every frame seen).
    public var field: Double?
    public init(transition: [[Double]], D: [Double]) { self.transition = transition; self.D = D }

    /// Observed classes: one per state, plus the spurious one.
    public var classCount: Int { D.count + (spurious > 0 ? 1 : 0) }
}

public enum HMMSynthetic {
    /// Tracks (positions in px, class log-likelihoods) and the true state of every frame.
    public static func generate(_ spec: HMMSyntheticSpec, seed: UInt64) -> (tracks: [HMMTrack], states: [[Int]]) {
        var rng = SeededGenerator(seed: seed)
        let m = spec.classCount, dims = max(m, 3)
        let means = (0..<m).map { c in (0..<dims).map { $0 == c ? spec.separation / 2.squareRoot() : 0.0 } }
        let stationary = stationaryDistribution(spec.transition)
        var tracks: [HMMTrack] = [], truth: [[Int]] = []
        for _ in 0..<spec.tracks {
            var state = draw(stationary, &rng), x = 0.0, y = 0.0
            if let side = spec.field { x = rng.uniform(0, side); y = rng.uniform(0, side) }
            var t = HMMTrack(frames: [], classEvidence: []), states: [Int] = [], hopped = false
            for f in 0..<spec.frames {
                if let side = spec.field, !(0...side).contains(x) || !(0...side).contains(y) { break }
                let missed = hopped && f + 1 < spec.frames && spec.missedAfterHop > 0 && rng.uniform() < spec.missedAfterHop
                if !missed {
                    t.frames.append(f); states.append(state)
                    let sigma = spec.stateSigma?[state] ?? spec.sigma
                    t.x.append(x + sigma * rng.normal()); t.y.append(y + sigma * rng.normal())
                    var shown = state
                    if spec.spurious > 0, state == 0, rng.uniform() < spec.spurious { shown = m - 1 }
                    if rng.uniform() < spec.outliers { shown = (shown + 1 + rng.int(m - 1)) % m }
                    let feature = means[shown].map { $0 + rng.normal() }
                    t.classEvidence.append(means.map { mu in -zip(feature, mu).reduce(0) { $0 + ($1.0 - $1.1) * ($1.0 - $1.1) } / 2 })
                }
                // Step with the state of this frame, then switch (as the movie simulator does).
                let hops = spec.continuous ? 0 : rng.poisson(4 * spec.D[state] / (spec.hopLength * spec.hopLength))
                if spec.continuous {
                    x += (2 * spec.D[state]).squareRoot() * rng.normal(); y += (2 * spec.D[state]).squareRoot() * rng.normal()
                }
                for _ in 0..<hops {
                    let angle = Double(rng.int(6)) * Double.pi / 3
                    x += spec.hopLength * cos(angle); y += spec.hopLength * sin(angle)
                }
                hopped = hops > 0
                state = draw(spec.transition[state], &rng)
            }
            tracks.append(t); truth.append(states)
        }
        return (tracks, truth)
    }

    static func draw(_ p: [Double], _ rng: inout SeededGenerator) -> Int {
        var u = rng.uniform()
        for (i, q) in p.enumerated() { u -= q; if u < 0 { return i } }
        return p.count - 1
    }

    /// Stationary distribution by power iteration (the small, ergodic matrices used here).
    static func stationaryDistribution(_ t: [[Double]]) -> [Double] {
        var p = [Double](repeating: 1 / Double(t.count), count: t.count)
        for _ in 0..<2000 { p = t.indices.map { j in t.indices.reduce(0) { $0 + p[$1] * t[$1][j] } } }
        return p
    }
}
