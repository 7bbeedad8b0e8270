import ArgumentParser
import Core
import Dynamics
import Foundation

/// `atomtrack bench hmm`: the joint HMM's calibration study at the table level — many
/// simulated "movies" of defect tracks with known D and T (`HMMSynthetic`), each fitted with
/// bootstrap intervals; prints the empirical coverage, bias and state-number recovery, next
/// to the cross-checks (covariance estimator on class-cut runs, counting MLE on raw labels).
struct BenchHMM: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "hmm",
        abstract: "Calibration study of the joint defect HMM on simulated tracks (coverage, bias, BIC).",
        discussion: """
        Each movie draws: 2 or 3 true states (a quarter of the 2-state movies with a spurious
        third classifier class on 3 % of state-0 frames), per-state D equal or tenfold different
        (fast state: 0.05–0.4 hops/frame of 15.8 px, i.e. Mo on WS2 at 0.2 Å/px), T with
        diagonal 0.8–0.97, dose 10⁴–10⁶ e/Å² (σ = 0.15 px·(10⁵/dose)^½, class separation
        3.3·(dose/10⁵)^¼ with 2 % confidently wrong frames), 30–300 frames, 4–20 tracks.
        """)

    @Option(help: "Number of simulated movies.") var movies = 120
    @Option(help: "Bootstrap samples per fit.") var samples = 200
    @Option(help: "EM iterations of each bootstrap refit.") var refitIterations = DefectHMMOptions().bootstrapIterations
    @Option(help: "Relative log-likelihood change that ends a bootstrap refit.") var refitTolerance = DefectHMMOptions().bootstrapTolerance
    @Option(help: "Seed of the study.") var seed: UInt64 = 1
    @Option(help: "Per-movie results as CSV (optional).") var csv: String?

    func validate() throws {
        guard movies >= 1, samples >= 20, refitIterations >= 1, refitTolerance > 0 else {
            throw ValidationError("need --movies ≥ 1, --samples ≥ 20, --refit-iterations ≥ 1, --refit-tolerance > 0")
        }
    }

    struct Tally {
        var hit = 0, total = 0
        mutating func add(_ inside: Bool) { total += 1; if inside { hit += 1 } }
        var text: String { total > 0 ? String(format: "%5.1f %% (%d/%d)", 100 * Double(hit) / Double(total), hit, total) : "    –" }
    }

    /// Coverage of every interval method, read from the same bootstrap replicates.
    struct MethodTallies {
        var D = Tally(), dwell = Tally(), timescale = Tally(), T: [String: Tally] = [:]
        /// D from the bootstrap replicates alone, before the widening to the hop count's Poisson interval.
        var bootstrapD = Tally()
    }

    func run() throws {
        let hopLength = 15.8
        var byMethod = Dictionary(uniqueKeysWithValues: HMMIntervalMethod.allCases.map { ($0, MethodTallies()) })
        var rng = SeededGenerator(seed: seed)
        var dHMM = Tally(), dCVE = Tally(), tHMM: [String: Tally] = [:], tMLE: [String: Tally] = [:]
        var statesRight = 0, negativeOrNaN = 0, bias: [Double] = [], biasCVE: [Double] = []
        var dwell = Tally(), timescale = Tally()
        var rows = "movie,true_states,classes,chosen_states,frames,tracks,dose,tenfold,quantity,truth,estimate,low,high,steps\n"
        let start = Date()
        for movie in 0..<movies {
            let n = rng.uniform() < 0.25 ? 3 : 2
            let fast = rng.uniform(0.05, 0.4) * hopLength * hopLength / 4
            let tenfold = rng.uniform() < 0.5
            let D = (0..<n).map { k in tenfold ? fast / pow(10, Double(k) / Double(n - 1)) : fast }
            let transition = (0..<n).map { i -> [Double] in
                let stay = rng.uniform(0.8, 0.97)
                let split = (0..<n).map { j in j == i ? 0 : rng.uniform(0.5, 1.5) }, s = split.reduce(0, +)
                return (0..<n).map { j in j == i ? stay : (1 - stay) * split[j] / s }
            }
            var spec = HMMSyntheticSpec(transition: transition, D: D)
            let dose = rng.logUniform(1e4, 1e6)
            spec.hopLength = hopLength; spec.sigma = 0.15 * (1e5 / dose).squareRoot()
            spec.separation = 3.3 * pow(dose / 1e5, 0.25)
            spec.spurious = n == 2 && rng.uniform() < 0.25 ? 0.03 : 0
            spec.frames = Int(rng.logUniform(30, 300)); spec.tracks = 4 + rng.int(17)
            let (tracks, _) = HMMSynthetic.generate(spec, seed: seed &* 1000 &+ UInt64(movie))
            var o = DefectHMMOptions()
            o.motion = .lattice(hopThreshold: hopLength / 2); o.bootstrapSamples = samples; o.seed = UInt64(movie + 1); o.bootstrapIterations = refitIterations
            o.bootstrapTolerance = refitTolerance
            let fit = try DefectHMMFitter.fit(tracks, classCount: spec.classCount, options: o)
            if fit.states.contains(where: { $0.D.map { !$0.isFinite || $0 < 0 } ?? false }) { negativeOrNaN += 1 }
            // Hidden state of true state j: the one holding class j.
            let of = (0..<n).map { j in fit.states.firstIndex { $0.classes.contains(j) } }
            let oneToOne = fit.states.count == n && Set(of.compactMap { $0 }).count == n
            if oneToOne { statesRight += 1 }
            let prefix = "\(movie),\(n),\(spec.classCount),\(fit.states.count),\(spec.frames),\(spec.tracks),\(String(format: "%.3g", dose)),\(tenfold),"
            func row(_ quantity: String, _ values: Double...) {
                rows += prefix + quantity + "," + values.map { String(format: "%.5g", $0) }.joined(separator: ",") + "\n"
            }
            func inside(_ ci: (low: Double, high: Double)?, _ truth: Double) -> Bool { ci.map { $0.low <= truth && truth <= $0.high } ?? false }
            for j in 0..<n {
                guard let k = of[j] else { continue }
                let s = fit.states[k]
                if oneToOne, let ci = fit.intervals?.D[k] { dHMM.add(inside(ci, D[j])) }
                if oneToOne, let d = s.D, s.steps >= 300 { bias.append(d / D[j] - 1) }
                row("D\(j)", D[j], s.D ?? .nan, fit.intervals?.D[k]?.low ?? .nan, fit.intervals?.D[k]?.high ?? .nan, s.steps)
                guard oneToOne, let ci = fit.intervals else { continue }
                let trueDwell = 1 / (1 - transition[j][j])
                dwell.add(inside(ci.dwellFrames[k], trueDwell))
                row("dwell\(j)", trueDwell, s.dwellFrames, ci.dwellFrames[k]?.low ?? .nan, ci.dwellFrames[k]?.high ?? .nan, s.frames)
            }
            if oneToOne, let ci = fit.intervals {
                for method in HMMIntervalMethod.allCases {
                    let c = HMMIntervals(point: fit, replicates: ci.replicates, method: method, confidence: ci.confidence, blockLength: ci.blockLength, seed: ci.seed)
                    for j in 0..<n {
                        let k = of[j]!
                        if let d = c.D[k] { byMethod[method]!.D.add(inside(d, D[j])) }
                        let alone = HMMIntervals.interval(fit.states[k].D, ci.replicates.map { $0.states[k].D }, method: method, confidence: ci.confidence)
                        if alone != nil { byMethod[method]!.bootstrapD.add(inside(alone, D[j])) }
                        byMethod[method]!.dwell.add(inside(c.dwellFrames[k], 1 / (1 - transition[j][j])))
                        for i in 0..<n {
                            let key = n == 2 ? "T\(i)\(j)" : (i == j ? "T_ii (3 states)" : "T_ij (3 states)"), (a, b) = (of[i]!, k)
                            byMethod[method]!.T[key, default: Tally()].add(c.transitionLow[a][b] <= transition[i][j] && transition[i][j] <= c.transitionHigh[a][b])
                        }
                    }
                    for (i, t) in DefectHMMFitter.timescales(transition).enumerated() where i < c.timescales.count {
                        byMethod[method]!.timescale.add(inside(c.timescales[i], t))
                    }
                }
                for i in 0..<n { for j in 0..<n {
                    let (a, b) = (of[i]!, of[j]!), key = n == 2 ? "T\(i)\(j)" : (i == j ? "T_ii (3 states)" : "T_ij (3 states)")
                    tHMM[key, default: Tally()].add(ci.transitionLow[a][b] <= transition[i][j] && transition[i][j] <= ci.transitionHigh[a][b])
                    row("T\(i)\(j)", transition[i][j], fit.model.transition[a][b], ci.transitionLow[a][b], ci.transitionHigh[a][b], fit.states[a].frames)
                } }
                // Implied timescales are invariant under relabelling the states.
                for (i, t) in DefectHMMFitter.timescales(transition).enumerated() where i < ci.timescales.count {
                    timescale.add(inside(ci.timescales[i], t))
                    row("timescale\(i + 1)", t, fit.timescales[i], ci.timescales[i]?.low ?? .nan, ci.timescales[i]?.high ?? .nan, 0)
                }
            }
            crossChecks(tracks, spec: spec, D: D, seed: UInt64(movie + 1), dCVE: &dCVE, tMLE: &tMLE, bias: &biasCVE)
            if movie % 10 == 9 { FileHandle.standardError.write("\(movie + 1)/\(movies) movies, \(Int(Date().timeIntervalSince(start))) s\n".data(using: .utf8)!) }
        }
        if let csv { try rows.write(toFile: csv, atomically: true, encoding: .utf8) }
        func meanSE(_ v: [Double]) -> String {
            guard v.count > 1 else { return "–" }
            let m = v.reduce(0, +) / Double(v.count), sd = (v.map { ($0 - m) * ($0 - m) }.reduce(0, +) / Double(v.count - 1)).squareRoot()
            return String(format: "%+.1f %% ± %.1f %% (mean ± s.e., %d states)", 100 * m, 100 * sd / Double(v.count).squareRoot(), v.count)
        }
        print("movies \(movies), bootstrap \(samples) samples, refits ≤ \(refitIterations) iterations to \(refitTolerance), seed \(seed), \(Int(Date().timeIntervalSince(start))) s")
        print("true number of states chosen (BIC + occupancy): \(statesRight)/\(movies)")
        print("negative or NaN D: \(negativeOrNaN) movies")
        print("coverage of nominal 95 % intervals     joint HMM              cross-check")
        print("  D                                   \(dHMM.text)   \(dCVE.text) (CVE on class-cut runs)")
        for key in Set(tHMM.keys).union(tMLE.keys).sorted() {
            print("  \(key.padding(toLength: 34, withPad: " ", startingAt: 0))  \((tHMM[key] ?? Tally()).text)   \((tMLE[key] ?? Tally()).text) (counting MLE)")
        }
        print("  dwell times                         \(dwell.text)")
        print("  implied timescales                  \(timescale.text)")
        print("coverage by interval method (same replicates):")
        for method in HMMIntervalMethod.allCases {
            let m = byMethod[method]!
            print("  \(method.rawValue): D \(m.D.text) (bootstrap alone \(m.bootstrapD.text)); " + m.T.keys.sorted().map { "\($0) \(m.T[$0]!.text)" }.joined(separator: "; ")
                  + "; dwell \(m.dwell.text); timescales \(m.timescale.text)")
        }
        print("bias of D, states with ≥ 300 steps: HMM \(meanSE(bias)); CVE \(meanSE(biasCVE))")
    }

    /// The present estimators on the raw labels (most likely class per frame): CVE per class on
    /// runs cut at class changes, counting MLE with its bootstrap over tracks.
    func crossChecks(_ tracks: [HMMTrack], spec: HMMSyntheticSpec, D: [Double], seed: UInt64,
                     dCVE: inout Tally, tMLE: inout [String: Tally], bias: inout [Double]) {
        let n = spec.D.count
        let labels = tracks.map { t in t.classEvidence.map { e in e.indices.max { e[$0] < e[$1] }! } }
        let diffusion = (try? Diffusion.analyze(zip(tracks, labels).map { DiffusionTrack(frames: $0.frames, x: $0.x, y: $0.y, classes: $1) },
                                                options: DiffusionOptions(seed: seed))) ?? []
        for r in diffusion where r.classLabel < n {
            if r.ciLow.isFinite { dCVE.add(r.ciLow <= D[r.classLabel] && D[r.classLabel] <= r.ciHigh) }
            if r.steps >= 300, r.cve.D.isFinite { bias.append(r.cve.D / D[r.classLabel] - 1) }
        }
        guard let trajectories = try? zip(tracks, labels).map({ try StateTrajectory(frames: $0.frames, states: $1) }) else { return }
        let estimator = MarkovEstimator(reversible: false)
        guard let model = try? estimator.fit(trajectories, stateCount: spec.classCount, options: MarkovCountingOptions(lag: 1)),
              let u = try? estimator.uncertainty(of: model, trajectories: trajectories, method: .bootstrapTracks, samples: 200, seed: seed)
        else { return }
        let active = model.activeStates
        for i in 0..<n { for j in 0..<n {
            guard let a = active.firstIndex(of: i), let b = active.firstIndex(of: j) else { continue }
            let key = n == 2 ? "T\(i)\(j)" : (i == j ? "T_ii (3 states)" : "T_ij (3 states)")
            let t = spec.transition[i][j]
            tMLE[key, default: Tally()].add(u.transitionLow[a, b] <= t && t <= u.transitionHigh[a, b])
        } }
    }
}
