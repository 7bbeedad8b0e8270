import Core
import DefectLibrary
import Foundation
import Simulation

/// Recovered versus true kinetics for a simulated movie: each defect class of the library is
/// named after the true state most of its instances sit on (nearest true defect within
/// `radius` px in the same frame), then D and the transition matrix are set side by side.
public struct TruthComparison {
    public struct StateRow: Codable, Sendable {
        public var state: String
        public var libraryClasses: [String]
        /// The D the movie's defects really had: Γ·d²/4 less the hops crowding refused
        /// (`StateDiffusion.effectiveDA2PerSecond`); `nominalDA2PerS` is Γ·d²/4 itself.
        public var trueDA2PerS: Double
        public var nominalDA2PerS: Double
        public var recoveredDA2PerS: Double?
        public var ciLowA2PerS: Double?, ciHighA2PerS: Double?
    }
    public var truth: MovieSummary
    /// Library class name → true state name (nil when it matched no true defect).
    public var classToState: [String: String]
    /// Fraction of library instances whose class maps to the state they sit on.
    public var classAccuracy: Double
    public var matchedInstances: Int
    /// Adjusted Rand index between library classes and true states over the matched instances.
    public var adjustedRand: Double
    public var states: [StateRow]
    /// Transition matrix between true states, from the recovered one (classes merged by state).
    public var recoveredTransitions: [[Double]]?
    /// Bootstrap interval of the recovered matrix (same merge), when the classes map one to one.
    public var recoveredLow: [[Double]]?, recoveredHigh: [[Double]]?
    /// Whether D and T come from the joint HMM (else the cross-checks: CVE and counting MLE).
    public var fromHMM = false, transitionsFromHMM = false

    /// - Parameters: truthDir holds truth.json and truth_defects.csv; analysisDir holds an analyze run.
    public init(truthDir: URL, analysisDir: URL, summary: AnalysisSummary, radius: Double) throws {
        truth = try JSONDecoder().decode(MovieSummary.self, from: Data(contentsOf: truthDir.appendingPathComponent("truth.json")))
        let trueDefects = try CSVTable(url: truthDir.appendingPathComponent("truth_defects.csv"))
        let found = try CSVTable(url: analysisDir.appendingPathComponent("defects.csv"))
        let tf = try trueDefects.column("frame"), tx = try trueDefects.column("x"), ty = try trueDefects.column("y"), ts = try trueDefects.column("state")
        var byFrame: [Int: [(Double, Double, String)]] = [:]
        for r in trueDefects.rows { if let f = Int(r[tf]), let x = Double(r[tx]), let y = Double(r[ty]) { byFrame[f, default: []].append((x, y, r[ts])) } }
        let ff = try found.column("frame"), fx = try found.column("x"), fy = try found.column("y"), fc = try found.column("class")
        var votes: [String: [String: Int]] = [:]
        var pairs: [(String, String)] = []
        for r in found.rows {
            guard let f = Int(r[ff]), let x = Double(r[fx]), let y = Double(r[fy]) else { continue }
            let name = r[fc]
            guard let nearest = byFrame[f]?.min(by: { hypot($0.0 - x, $0.1 - y) < hypot($1.0 - x, $1.1 - y) }),
                  hypot(nearest.0 - x, nearest.1 - y) <= radius else { continue }
            votes[name, default: [:]][nearest.2, default: 0] += 1
            pairs.append((name, nearest.2))
        }
        let mapping = votes.compactMapValues { $0.max { $0.value < $1.value }?.key }
        classToState = mapping
        matchedInstances = pairs.count
        classAccuracy = pairs.isEmpty ? 0 : Double(pairs.filter { mapping[$0.0] == $0.1 }.count) / Double(pairs.count)
        let classIDs = Array(Set(pairs.map(\.0))).sorted(), stateIDs = Array(Set(pairs.map(\.1))).sorted()
        adjustedRand = pairs.isEmpty ? 0 : adjustedRandIndex(pairs.map { classIDs.firstIndex(of: $0.0)! },
                                                             pairs.map { stateIDs.firstIndex(of: $0.1)! })
        // A hidden state of the joint HMM stands for the true state most of its classes map to.
        let hidden = summary.hmmStates ?? []
        let hiddenToState = hidden.map { h in
            Dictionary(grouping: h.classes.compactMap { mapping[$0] }, by: { $0 }).max { $0.value.count < $1.value.count }?.key
        }
        states = truth.diffusion.map { d in
            let classes = mapping.filter { $0.value == d.state }.map(\.key).sorted()
            if let h = hidden.indices.filter({ hiddenToState[$0] == d.state }).max(by: { hidden[$0].frames < hidden[$1].frames }) {
                return StateRow(state: d.state, libraryClasses: hidden[h].classes, trueDA2PerS: d.effectiveDA2PerSecond,
                                nominalDA2PerS: d.diffusionA2PerSecond, recoveredDA2PerS: hidden[h].D, ciLowA2PerS: hidden[h].DLow, ciHighA2PerS: hidden[h].DHigh)
            }
            // Without the HMM, the best-populated class of the state carries its D (CVE).
            let best = summary.diffusion.filter { classes.contains($0.state) }.max { $0.steps < $1.steps }
            return StateRow(state: d.state, libraryClasses: classes, trueDA2PerS: d.effectiveDA2PerSecond,
                            nominalDA2PerS: d.diffusionA2PerSecond, recoveredDA2PerS: best?.dA2PerS, ciLowA2PerS: best?.ciLowA2PerS, ciHighA2PerS: best?.ciHighA2PerS)
        }
        fromHMM = !hidden.isEmpty
        let order = truth.states.map { s in hiddenToState.firstIndex(of: s) }
        if let t = summary.hmmTransitionMatrix, hidden.count == truth.states.count, order.allSatisfy({ $0 != nil }) {
            // One hidden state per true state: the HMM's matrix and intervals, reordered.
            let o = order.map { $0! }
            transitionsFromHMM = true
            recoveredTransitions = o.map { i in o.map { t[i][$0] } }
            if let lo = summary.hmmTransitionCILow, let hi = summary.hmmTransitionCIHigh {
                recoveredLow = o.map { i in o.map { lo[i][$0] ?? .nan } }; recoveredHigh = o.map { i in o.map { hi[i][$0] ?? .nan } }
            }
        } else if let t = summary.transitionMatrix {
            // Merge classes that map to one state: average their rows weighted equally, sum columns.
            let n = truth.states.count
            var m = [[Double]](repeating: [Double](repeating: 0, count: n), count: n), rows = [Int](repeating: 0, count: n)
            for (i, from) in summary.markovStates.enumerated() {
                guard let si = mapping[from].flatMap({ truth.states.firstIndex(of: $0) }) else { continue }
                rows[si] += 1
                for (j, to) in summary.markovStates.enumerated() {
                    if let sj = mapping[to].flatMap({ truth.states.firstIndex(of: $0) }) { m[si][sj] += t[i][j] }
                }
            }
            recoveredTransitions = m.enumerated().map { i, r in r.map { rows[i] > 0 ? $0 / Double(rows[i]) : .nan } }
            // Intervals carry over only when every state is one library class.
            if rows.allSatisfy({ $0 == 1 }), let lo = summary.transitionCILow, let hi = summary.transitionCIHigh {
                var l = m, h = m
                for (i, from) in summary.markovStates.enumerated() {
                    guard let si = mapping[from].flatMap({ truth.states.firstIndex(of: $0) }) else { continue }
                    for (j, to) in summary.markovStates.enumerated() {
                        if let sj = mapping[to].flatMap({ truth.states.firstIndex(of: $0) }) { l[si][sj] = lo[i][j]; h[si][sj] = hi[i][j] }
                    }
                }
                recoveredLow = l; recoveredHigh = h
            }
        }
    }

    /// The side-by-side table printed by `atomtrack demo`.
    public var text: String {
        var s = "defect classes → true states: " + classToState.sorted { $0.key < $1.key }.map { "\($0.key)→\($0.value)" }.joined(separator: ", ")
        s += String(format: "  (%.1f %% of %d matched instances on their state; adjusted Rand index %.3f)\n",
                    100 * classAccuracy, matchedInstances, adjustedRand)
        s += "diffusion coefficient D (Å²/s)\(fromHMM ? ", joint HMM" : ""):\n"
        for r in states {
            let rec = r.recoveredDA2PerS.map { String(format: "%.3f  [%.3f, %.3f]", $0, r.ciLowA2PerS ?? .nan, r.ciHighA2PerS ?? .nan) } ?? "not recovered"
            s += "  \(r.state.padding(toLength: 10, withPad: " ", startingAt: 0))  true \(String(format: "%.3f", r.trueDA2PerS))   recovered \(rec)"
            s += r.nominalDA2PerS > 0 ? String(format: "   (Γd²/4 = %.3f; crowding refused %.0f %% of hops)\n",
                                               r.nominalDA2PerS, 100 * (1 - r.trueDA2PerS / r.nominalDA2PerS)) : "\n"
        }
        s += "transition matrix per frame (rows: from, columns: to; \(truth.states.joined(separator: ", "))\(transitionsFromHMM ? "; joint HMM" : "")):\n"
        for (i, row) in truth.transitionMatrix.enumerated() {
            var rec = recoveredTransitions.map { $0[i].map { String(format: "%.3f", $0) }.joined(separator: " ") } ?? "-"
            if let lo = recoveredLow, let hi = recoveredHigh {
                rec += "   95 % CI " + zip(lo[i], hi[i]).map { String(format: "[%.3f, %.3f]", $0, $1) }.joined(separator: " ")
            }
            s += "  true " + row.map { String(format: "%.3f", $0) }.joined(separator: " ") + "   recovered " + rec + "\n"
        }
        return s
    }
}
