import ArgumentParser
import Dynamics
import Foundation

/// `atomtrack bench markov`: counting + reversible MLE on a long simulated state trajectory.
struct BenchMarkov: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "markov",
        abstract: "Time transition counting + (reversible) maximum-likelihood MSM estimation.",
        discussion: """
        Samples one trajectory of --steps frames from a reversible --states-state chain \
        (W_ij = exp(-|i-j|)·(1 + (i·j mod 3)), T = W / row sums) with a 64-bit LCG, so that \
        scripts/bench_markov_deeptime.py generates exactly the same trajectory for deeptime. \
        Times counting at --lag (sliding) plus the MLE over --repeats runs and prints the median \
        and fastest run, the fixed-point iterations and a checksum of the counts to compare.
        """
    )

    @Option(help: "Trajectory length in frames.") var steps = 1_000_000
    @Option(help: "Number of states.") var states = 10
    @Option(help: "Lag time in frames.") var lag = 1
    @Option(help: "Timed runs.") var repeats = 7
    @Option(help: "Seed of the LCG that samples the trajectory.") var seed: UInt64 = 1

    func validate() throws {
        guard steps >= 2, states >= 2, lag >= 1, repeats >= 1 else {
            throw ValidationError("need --steps ≥ 2, --states ≥ 2, --lag ≥ 1, --repeats ≥ 1")
        }
    }

    func run() throws {
        let track = try StateTrajectory(states: sampleTrajectory())
        let options = MarkovCountingOptions(lag: lag)
        print("trajectory: \(steps) frames, \(states) states, lag \(lag), seed \(seed), \(ProcessInfo.processInfo.activeProcessorCount) cores")
        var counts = try TransitionCounts([track], stateCount: states, options: options)
        let checksum = (0..<states).reduce(0.0) { s, i in (0..<states).reduce(s) { $0 + Double(i * states + $1) * counts.matrix[i, $1] } }
        print("counts checksum Σ (i·n+j)·C_ij = \(Int(checksum))")
        printTiming("count", try timedRuns(repeats) { counts = try TransitionCounts([track], stateCount: states, options: options) })
        for reversible in [true, false] {
            let estimator = MarkovEstimator(reversible: reversible)
            var model = try estimator.fit(counts)
            printTiming("count + \(reversible ? "reversible" : "non-reversible") MLE", try timedRuns(repeats) {
                model = try estimator.fit(TransitionCounts([track], stateCount: states, options: options))
            })
            let pi = model.stationary.prefix(3).map { String(format: "%.6f", $0) }.joined(separator: " ")
            print("  iterations \(model.iterations), π[0..2] \(pi), slowest timescale \(String(format: "%.4f", try model.timescales()[0])) frames")
        }
    }

    /// The benchmark chain, sampled with x ← 6364136223846793005·x + 1442695040888963407 (mod 2⁶⁴).
    private func sampleTrajectory() -> [Int] {
        var rows = [[Double]]()
        for i in 0..<states {
            let w = (0..<states).map { j in exp(-Double(abs(i - j))) * Double(1 + (i * j) % 3) }
            let s = w.reduce(0, +)
            var acc = 0.0
            rows.append(w.map { acc += $0 / s; return acc })
        }
        var x = seed, s = 0
        var out = [Int](repeating: 0, count: steps)
        for k in 0..<steps {
            out[k] = s
            x = x &* 6364136223846793005 &+ 1442695040888963407
            let u = Double(x >> 11) * 0x1p-53
            s = rows[s].firstIndex { u < $0 } ?? (states - 1)
        }
        return out
    }
}
