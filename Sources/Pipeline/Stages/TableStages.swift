import Core
import Dynamics
import Foundation
import MicroscopyIO
import Tracking

/// The stage commands that work on tables: `track` (atoms.csv → trajectories, drift, diffusion)
/// and `markov` (trajectories.csv → Markov model). Class columns keep their names.
public enum TableStages {
    /// Detections from a table with `frame,x,y` and optional `class` (any names) and `score`;
    /// `only` keeps the named classes.
    public static func detections(_ table: CSVTable, only: Set<String> = []) throws -> (detections: [Detection], classes: [String]) {
        let f = try table.column("frame"), x = try table.column("x"), y = try table.column("y")
        let c = table.header.firstIndex(of: "class"), s = table.header.firstIndex(of: "score")
        var names: [String] = [], index: [String: Int] = [:], out: [Detection] = []
        for (line, r) in table.rows.enumerated() {
            let name = c.map { r[$0] } ?? "atom"
            if !only.isEmpty && !only.contains(name) { continue }
            guard let frame = Int(r[f]), frame >= 0, let px = Double(r[x]), let py = Double(r[y]), px.isFinite, py.isFinite else {
                throw InputError("\(table.path): line \(line + 2): frame, x and y must be numbers")
            }
            let k = index[name] ?? { names.append(name); index[name] = names.count - 1; return names.count - 1 }()
            out.append(Detection(frame: frame, x: px, y: py, classLabel: k, score: s.flatMap { Double(r[$0]) } ?? 1))
        }
        guard !out.isEmpty else { throw InputError("\(table.path): no detections\(only.isEmpty ? "" : " of class \(only.sorted().joined(separator: ", "))")") }
        return (out, names)
    }

    /// `trajectories.csv`: `track,frame,x,y,class,score` (+ `x_A,y_A`), positions in the frame's pixels;
    /// with `hmm`, `class_hmm` = the joint HMM's Viterbi state of the point (classes joined by `+` when merged).
    public static func trajectoriesCSV(_ tracks: [Track], classes: [String], pixelSize: Double?,
                                       hmm: (fit: DefectHMMFit, paths: [Int: [Int]])? = nil) -> String {
        var s = "track,frame,x,y,class,score" + (pixelSize != nil ? ",x_A,y_A" : "") + (hmm != nil ? ",class_hmm" : "") + "\n"
        let hidden = hmm.map { HMMReport.stateNames($0.fit, classNames: classes) } ?? []
        for t in tracks {
            for (i, p) in t.points.enumerated() {
                let name = classes.indices.contains(p.classLabel) ? classes[p.classLabel] : "\(p.classLabel)"
                s += "\(t.id),\(p.frame),\(String(format: "%.4f,%.4f", p.x, p.y)),\(name),\(String(format: "%.4f", p.score))"
                if let a = pixelSize { s += String(format: ",%.4f,%.4f", p.x * a, p.y * a) }
                if let h = hmm { s += "," + (h.paths[t.id].map { hidden[$0[i]] } ?? "") }
                s += "\n"
            }
        }
        return s
    }

    /// Class-labelled trajectories from a `trajectories.csv` table, or a trackpy table (`particle`
    /// instead of `track`), for the Markov model. States are numbered in name order (`stateOrder`),
    /// so a table gives the same matrix layout as `analyze` whatever order its rows come in.
    public static func stateTrajectories(_ table: CSVTable) throws -> (tracks: [StateTrajectory], states: [String]) {
        guard let t = table.column(anyOf: ["track", "particle"]) else {
            throw InputError("\(table.path): no column 'track' (or trackpy's 'particle')")
        }
        let f = try table.column("frame"), c = try table.column("class")
        let states = stateOrder(Set(table.rows.map { $0[c] }))
        let index = Dictionary(uniqueKeysWithValues: states.enumerated().map { ($1, $0) })
        var byTrack: [String: [(Int, Int)]] = [:]
        for (line, r) in table.rows.enumerated() {
            guard let frame = Int(r[f]) else { throw InputError("\(table.path): line \(line + 2): frame is not a number") }
            byTrack[r[t], default: []].append((frame, index[r[c]]!))
        }
        let tracks = try byTrack.keys.sorted().map { key -> StateTrajectory in
            let points = byTrack[key]!.sorted { $0.0 < $1.0 }
            return try StateTrajectory(frames: points.map(\.0), states: points.map(\.1))
        }
        return (tracks, states)
    }

    /// State names in natural order: `D2` before `D10`, as `analyze` numbers its classes.
    static func stateOrder(_ names: Set<String>) -> [String] {
        names.sorted { $0.compare($1, options: .numeric) == .orderedAscending }
    }
}
