import Core
import Dynamics
import Foundation
import MicroscopyIO
import Tracking

/// The stage commands that work on tables: `track` (atoms.csv → trajectories, drift, diffusion)
/// and `markov` (trajectories.csv → Markov model). Class columns keep their names.
public enum TableStages {
    /// Detections from a table with `frame,x,y` and optional `class` (any names), `score` and
    /// `loglik_<class>` columns (the classifier's evidence, as defects.csv writes it); `only`
    /// keeps the named classes. `evidence` (per detection, per class; nil without loglik
    /// columns) is what the joint HMM weighs.
    public static func detections(_ table: CSVTable, only: Set<String> = []) throws -> (detections: [Detection], classes: [String], evidence: [[Double]]?) {
        let f = try table.column("frame"), x = try table.column("x"), y = try table.column("y")
        let c = table.header.firstIndex(of: "class"), s = table.header.firstIndex(of: "score")
        let loglik = logLikelihoodColumns(table)
        var names = loglik.map(\.name).filter { only.isEmpty || only.contains($0) }, index: [String: Int] = [:], out: [Detection] = []
        for (k, name) in names.enumerated() { index[name] = k }
        var rows: [[String]] = []
        for (line, r) in table.rows.enumerated() {
            let name = c.map { r[$0] } ?? "atom"
            if !only.isEmpty && !only.contains(name) { continue }
            guard let frame = Int(r[f]), frame >= 0, let px = Double(r[x]), let py = Double(r[y]), px.isFinite, py.isFinite else {
                throw InputError("\(table.path): line \(line + 2): frame, x and y must be numbers")
            }
            let k = index[name] ?? { names.append(name); index[name] = names.count - 1; return names.count - 1 }()
            out.append(Detection(frame: frame, x: px, y: py, classLabel: k, score: s.flatMap { Double(r[$0]) } ?? 1))
            rows.append(r)
        }
        guard !out.isEmpty else { throw InputError("\(table.path): no detections\(only.isEmpty ? "" : " of class \(only.sorted().joined(separator: ", "))")") }
        let evidence = try loglik.isEmpty ? nil : zip(rows, out).enumerated().map { line, row in
            try evidenceRow(row.0, label: row.1.classLabel, classes: names, columns: loglik, where: "\(table.path): detection \(line + 1)")
        }
        return (out, names, evidence)
    }

    /// The `loglik_<class>` columns of a table, by class name.
    static func logLikelihoodColumns(_ table: CSVTable) -> [(name: String, column: Int)] {
        table.header.enumerated().compactMap { i, h in h.hasPrefix("loglik_") ? (String(h.dropFirst(7)), i) : nil }
    }

    /// One row's evidence per class: its loglik values; a row whose class has no loglik column
    /// (e.g. "none") is evidence for its label alone, and a class without a column gets −∞
    /// in the other rows. The HMM needs one finite value and no NaN/+∞.
    static func evidenceRow(_ r: [String], label: Int, classes: [String], columns: [(name: String, column: Int)], where place: String) throws -> [Double] {
        let column = Dictionary(uniqueKeysWithValues: columns.map { ($0.name, $0.column) })
        guard column[classes[label]] != nil else { return classes.indices.map { $0 == label ? 0 : -.infinity } }
        let e = try classes.map { name -> Double in
            guard let i = column[name] else { return -.infinity }
            guard let v = Double(r[i]), !v.isNaN, v != .infinity else { throw InputError("\(place): loglik_\(name) '\(r[i])' is not a log-likelihood (a number or -inf)") }
            return v
        }
        guard e.contains(where: \.isFinite) else { throw InputError("\(place): every loglik_ value is -inf") }
        return e
    }

    /// `trajectories.csv`: `track,frame,x,y,class,score` (+ `x_A,y_A`), positions in the frame's pixels;
    /// with `hmm`, `class_hmm` = the joint HMM's Viterbi state of the point (classes joined by `+` when merged);
    /// with `evidence` (per detection), `loglik_<class>` columns, so `markov` weighs the same evidence.
    public static func trajectoriesCSV(_ tracks: [Track], classes: [String], pixelSize: Double?,
                                       hmm: (fit: DefectHMMFit, paths: [Int: [Int]])? = nil, evidence: [[Double]]? = nil) -> String {
        var s = "track,frame,x,y,class,score" + (pixelSize != nil ? ",x_A,y_A" : "") + (hmm != nil ? ",class_hmm" : "")
        if evidence != nil { s += classes.map { ",loglik_" + $0 }.joined() }
        s += "\n"
        let hidden = hmm.map { HMMReport.stateNames($0.fit, classNames: classes) } ?? []
        for t in tracks {
            for (i, p) in t.points.enumerated() {
                let name = classes.indices.contains(p.classLabel) ? classes[p.classLabel] : "\(p.classLabel)"
                s += "\(t.id),\(p.frame),\(String(format: "%.4f,%.4f", p.x, p.y)),\(name),\(String(format: "%.4f", p.score))"
                if let a = pixelSize { s += String(format: ",%.4f,%.4f", p.x * a, p.y * a) }
                if let h = hmm { s += "," + (h.paths[t.id].map { hidden[$0[i]] } ?? "") }
                if let e = evidence?[p.detection] { s += e.map { "," + ($0.isFinite ? String(format: "%.4f", $0) : "-inf") }.joined() }
                s += "\n"
            }
        }
        return s
    }

    /// Class-labelled trajectories from a `trajectories.csv` table, or a trackpy table (`particle`
    /// instead of `track`), for the Markov model. States are numbered in name order (`stateOrder`),
    /// so a table gives the same matrix layout as `analyze` whatever order its rows come in.
    /// `evidence` (per track, per point, per state): the `loglik_<state>` columns when the table has them.
    public static func stateTrajectories(_ table: CSVTable) throws -> (tracks: [StateTrajectory], states: [String], evidence: [[[Double]]]?) {
        guard let t = table.column(anyOf: ["track", "particle"]) else {
            throw InputError("\(table.path): no column 'track' (or trackpy's 'particle')")
        }
        let f = try table.column("frame"), c = try table.column("class")
        let loglik = logLikelihoodColumns(table)
        let states = stateOrder(Set(table.rows.map { $0[c] }).union(loglik.map(\.name)))
        let index = Dictionary(uniqueKeysWithValues: states.enumerated().map { ($1, $0) })
        var byTrack: [String: [(frame: Int, state: Int, evidence: [Double])]] = [:]
        for (line, r) in table.rows.enumerated() {
            guard let frame = Int(r[f]) else { throw InputError("\(table.path): line \(line + 2): frame is not a number") }
            let state = index[r[c]]!
            let e = loglik.isEmpty ? [] : try evidenceRow(r, label: state, classes: states, columns: loglik, where: "\(table.path): line \(line + 2)")
            byTrack[r[t], default: []].append((frame, state, e))
        }
        let sorted = byTrack.keys.sorted().map { byTrack[$0]!.sorted { $0.frame < $1.frame } }
        let tracks = try sorted.map { try StateTrajectory(frames: $0.map(\.frame), states: $0.map(\.state)) }
        return (tracks, states, loglik.isEmpty ? nil : sorted.map { $0.map(\.evidence) })
    }

    /// State names in natural order: `D2` before `D10`, as `analyze` numbers its classes.
    static func stateOrder(_ names: Set<String>) -> [String] {
        names.sorted { $0.compare($1, options: .numeric) == .orderedAscending }
    }
}
