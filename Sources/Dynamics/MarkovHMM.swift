// A hidden Markov model over per-frame defect classes: the true class follows a
// Markov chain frame to frame, the classifier reports it with errors. Decoding
// (Viterbi) before counting stops a single misclassified frame from counting as two
// transitions (A→B→A). Gaps in a track are frames with no evidence.

import Foundation

/// Discrete hidden Markov model: hidden classes 0..<n, observed classes 0..<m.
public struct HiddenMarkovModel: Sendable {
    /// Frame-to-frame transition matrix of the hidden classes (n × n, rows sum to 1).
    public let transitionMatrix: MarkovMatrix
    /// Distribution of the hidden class in a track's first frame.
    public let initial: [Double]
    /// `emission[k][o]`: probability that hidden class k is observed as class o.
    public let emission: [[Double]]

    /// Gaps of up to this many missing frames are decoded through (frames with no
    /// evidence); longer gaps split a track into independently decoded segments, so a
    /// huge gap never costs memory.
    public let maxBridgedGap: Int

    /// Number of hidden classes.
    public var stateCount: Int { transitionMatrix.size }

    /// Validates that every distribution is non-negative and sums to 1 (±1e-6).
    public init(transitionMatrix: MarkovMatrix, initial: [Double], emission: [[Double]],
                maxBridgedGap: Int = 50) throws {
        let n = transitionMatrix.size
        func isDistribution(_ p: [Double]) -> Bool {
            p.allSatisfy { $0 >= 0 && $0.isFinite } && abs(p.reduce(0, +) - 1) <= 1e-6
        }
        guard n >= 1, transitionMatrix.rows.allSatisfy(isDistribution) else {
            throw MarkovError.invalidArgument("HMM transition matrix rows must be probability distributions")
        }
        guard initial.count == n, isDistribution(initial) else {
            throw MarkovError.invalidArgument("HMM initial distribution needs \(n) probabilities summing to 1")
        }
        guard emission.count == n, let m = emission.first?.count, m >= 1,
              emission.allSatisfy({ $0.count == m && isDistribution($0) }) else {
            throw MarkovError.invalidArgument("HMM emission needs \(n) rows of equal length, each summing to 1")
        }
        guard maxBridgedGap >= 0 else { throw MarkovError.invalidArgument("maxBridgedGap must be ≥ 0") }
        self.transitionMatrix = transitionMatrix
        self.initial = initial
        self.emission = emission
        self.maxBridgedGap = maxBridgedGap
    }

    // MARK: decoding

    /// The most probable hidden class in every observed frame of `track` (Viterbi;
    /// missing frames carry no evidence).
    public func decode(_ track: StateTrajectory) throws -> StateTrajectory {
        let rows = try emissionRows(track)
        return try StateTrajectory(frames: track.frames, states: viterbiPath(frames: track.frames, rows: rows),
                                   weight: track.weight)
    }

    /// Viterbi decoding from soft evidence: `probabilities[t][k]` is the classifier's
    /// probability of class k in frame `frames[t]` (e.g. GMM responsibilities), used as
    /// the emission likelihood up to a constant (divide by the classifier's class
    /// priors first if they were not uniform). `emission` is not used here.
    public func decode(probabilities: [[Double]], frames: [Int], weight: Double = 1) throws -> StateTrajectory {
        guard probabilities.count == frames.count else {
            throw MarkovError.mismatchedLengths(frames: frames.count, states: probabilities.count)
        }
        let n = stateCount
        if let bad = probabilities.firstIndex(where: { $0.count != n || !$0.allSatisfy({ $0 >= 0 && $0.isFinite }) || $0.allSatisfy({ $0 == 0 }) }) {
            throw MarkovError.invalidArgument("class probabilities of frame \(frames[bad]) need \(n) non-negative values, not all zero")
        }
        _ = try StateTrajectory(frames: frames, states: [Int](repeating: 0, count: frames.count)) // validates frames
        return try StateTrajectory(frames: frames, states: viterbiPath(frames: frames, rows: probabilities), weight: weight)
    }

    /// Posterior probability of each hidden class in every observed frame of the track
    /// (same order as `track.frames`) and the track's log-likelihood.
    public func posteriors(_ track: StateTrajectory) throws -> (probabilities: [[Double]], logLikelihood: Double) {
        let rows = try emissionRows(track)
        var out: [[Double]] = [], logL = 0.0
        for seg in segments(track.frames) {
            let r = forwardBackward(likelihoods(seg, frames: track.frames, rows: rows))
            logL += r.logLikelihood
            for k in seg { out.append(r.gamma[track.frames[k] - track.frames[seg.lowerBound]]) }
        }
        return (out, logL)
    }

    /// Emission likelihood row of each observation: P(observed o | hidden k) over k.
    func emissionRows(_ track: StateTrajectory) throws -> [[Double]] {
        let m = emission[0].count
        return try track.states.map { o in
            guard o < m else { throw MarkovError.stateOutOfRange(state: o, stateCount: m) }
            return (0..<stateCount).map { emission[$0][o] }
        }
    }

    /// Index ranges of observations whose gaps are all ≤ `maxBridgedGap` frames.
    func segments(_ frames: [Int]) -> [Range<Int>] {
        guard !frames.isEmpty else { return [] }
        var out: [Range<Int>] = [], start = 0
        for k in 1...frames.count where k == frames.count || frames[k] - frames[k - 1] - 1 > maxBridgedGap {
            out.append(start..<k)
            start = k
        }
        return out
    }

    /// Likelihood rows over a segment's span (ones in missing frames).
    func likelihoods(_ seg: Range<Int>, frames: [Int], rows: [[Double]]) -> [[Double]] {
        let first = frames[seg.lowerBound]
        var lik = [[Double]](repeating: [Double](repeating: 1, count: stateCount),
                             count: frames[seg.upperBound - 1] - first + 1)
        for k in seg { lik[frames[k] - first] = rows[k] }
        return lik
    }

    /// Viterbi states at the observed frames, segment by segment.
    func viterbiPath(frames: [Int], rows: [[Double]]) -> [Int] {
        segments(frames).flatMap { seg -> [Int] in
            let path = viterbi(likelihoods(seg, frames: frames, rows: rows))
            return seg.map { path[frames[$0] - frames[seg.lowerBound]] }
        }
    }

    /// Most probable hidden path (log-space Viterbi).
    func viterbi(_ lik: [[Double]]) -> [Int] {
        let n = stateCount, len = lik.count
        guard len > 0 else { return [] }
        let logT = transitionMatrix.values.map { log($0) }
        var score = (0..<n).map { log(initial[$0]) + log(lik[0][$0]) }
        var back = [Int](repeating: 0, count: len * n)
        var next = [Double](repeating: 0, count: n)
        for t in 1..<max(len, 1) {
            for j in 0..<n {
                var best = -Double.infinity, arg = 0
                for i in 0..<n {
                    let s = score[i] + logT[i * n + j]
                    if s > best { best = s; arg = i }
                }
                next[j] = best + log(lik[t][j])
                back[t * n + j] = arg
            }
            swap(&score, &next)
        }
        var path = [Int](repeating: 0, count: len)
        path[len - 1] = score.indices.max { score[$0] < score[$1] } ?? 0
        for t in stride(from: len - 1, to: 0, by: -1) { path[t - 1] = back[t * n + path[t]] }
        return path
    }

    /// Scaled forward–backward: posteriors, expected transition counts and log-likelihood.
    func forwardBackward(_ lik: [[Double]]) -> (gamma: [[Double]], xi: MarkovMatrix, logLikelihood: Double) {
        let n = stateCount, len = lik.count, t = transitionMatrix
        var alpha = [[Double]](repeating: [Double](repeating: 0, count: n), count: len)
        var scale = [Double](repeating: 1, count: len)
        var xi = MarkovMatrix(size: n)
        guard len > 0 else { return ([], xi, 0) }
        for k in 0..<len {
            var a = [Double](repeating: 0, count: n)
            for j in 0..<n {
                var s = 0.0
                if k == 0 { s = initial[j] } else { for i in 0..<n { s += alpha[k - 1][i] * t[i, j] } }
                a[j] = s * lik[k][j]
            }
            let c = a.reduce(0, +)
            scale[k] = c > 0 ? c : .leastNormalMagnitude
            alpha[k] = a.map { $0 / scale[k] }
        }
        var beta = [Double](repeating: 1, count: n)
        var gamma = alpha
        for k in stride(from: len - 2, through: 0, by: -1) {
            var b = [Double](repeating: 0, count: n)
            for i in 0..<n {
                for j in 0..<n {
                    let w = t[i, j] * lik[k + 1][j] * beta[j] / scale[k + 1]
                    b[i] += w
                    xi[i, j] += alpha[k][i] * w
                }
            }
            beta = b
            gamma[k] = (0..<n).map { alpha[k][$0] * b[$0] }
        }
        gamma = gamma.map { g in let s = g.reduce(0, +); return s > 0 ? g.map { $0 / s } : g }
        return (gamma, xi, scale.reduce(0) { $0 + log($1) })
    }
}

extension HiddenMarkovModel {
    /// Learns transition matrix, initial distribution and emission from observed class
    /// sequences by Baum–Welch (EM), with hidden classes = observed classes. The start
    /// emission is (1 − `initialError`) on the diagonal, spread evenly elsewhere, which
    /// ties hidden class k to observed class k. Returns the model, the final
    /// log-likelihood and the EM iterations used.
    public static func learn(_ tracks: [StateTrajectory], stateCount: Int? = nil, initialError: Double = 0.05,
                             maxIterations: Int = 200, tolerance: Double = 1e-8, maxBridgedGap: Int = 50) throws
        -> (model: HiddenMarkovModel, logLikelihood: Double, iterations: Int) {
        let counts = try TransitionCounts(tracks, stateCount: stateCount, options: MarkovCountingOptions(lag: 1))
        let n = counts.stateCount
        guard n >= 2 else { throw MarkovError.invalidArgument("an HMM needs at least 2 classes") }
        guard initialError > 0, initialError < 1 - 1.0 / Double(n) else {
            throw MarkovError.invalidArgument("initialError must lie in (0, 1 − 1/n), got \(initialError)")
        }
        guard counts.pairCount > 0 else { throw MarkovError.noTransitions(lag: 1) }
        var c = counts.matrix
        for k in c.values.indices { c.values[k] += 1 }          // keep every transition possible at the start
        let off = initialError / Double(n - 1)
        var model = try HiddenMarkovModel(
            transitionMatrix: markovRowNormalized(c), initial: [Double](repeating: 1 / Double(n), count: n),
            emission: (0..<n).map { k in (0..<n).map { $0 == k ? 1 - initialError : off } },
            maxBridgedGap: maxBridgedGap)
        var previous = -Double.infinity, logL = 0.0, iterations = 0
        while iterations < maxIterations {
            iterations += 1
            var xiSum = MarkovMatrix(size: n), start = [Double](repeating: 0, count: n)
            var emit = [[Double]](repeating: [Double](repeating: 0, count: n), count: n)
            logL = 0
            for track in tracks {
                let rows = try model.emissionRows(track)
                for seg in model.segments(track.frames) {
                    let r = model.forwardBackward(model.likelihoods(seg, frames: track.frames, rows: rows))
                    logL += r.logLikelihood
                    for k in 0..<n { start[k] += r.gamma[0][k] }
                    for k in xiSum.values.indices { xiSum.values[k] += r.xi.values[k] }
                    let first = track.frames[seg.lowerBound]
                    for k in seg {
                        for h in 0..<n { emit[h][track.states[k]] += r.gamma[track.frames[k] - first][h] }
                    }
                }
            }
            // A hidden class that was never occupied keeps its previous rows.
            var t = markovRowNormalized(xiSum)
            for i in 0..<n where xiSum.rowSum(i) <= 0 { for j in 0..<n { t[i, j] = model.transitionMatrix[i, j] } }
            let e = emit.enumerated().map { k, row -> [Double] in
                let total = row.reduce(0, +)
                return total > 0 ? row.map { $0 / total } : model.emission[k]
            }
            let s = start.reduce(0, +)
            model = try HiddenMarkovModel(transitionMatrix: t, initial: start.map { $0 / s }, emission: e,
                                          maxBridgedGap: maxBridgedGap)
            if abs(logL - previous) <= tolerance * abs(logL) { break }
            previous = logL
        }
        return (model, logL, iterations)
    }
}
