import Foundation
import MicroscopyIO

/// What `evaluate` shows and writes: one row per dataset, dose and class, as an aligned text
/// table, `evaluation.json` and `evaluation.csv`.
public struct EvaluationReport {
    public let rows: [ModelEvaluation.Row]

    public init(_ rows: [ModelEvaluation.Row]) { self.rows = rows }

    static let header = ["dataset", "dose", "class", "tp", "fp", "fn", "precision", "recall", "f1", "rmse_px"]

    /// The rows as text cells (a dose of nil, for a simulator folder, is `-`).
    var cells: [[String]] {
        rows.map { r in
            [r.dataset, r.dose.map { String(format: "%.0e", $0) } ?? "-", r.className, "\(r.truePositives)",
             "\(r.falsePositives)", "\(r.falseNegatives)", String(format: "%.4f", r.precision),
             String(format: "%.4f", r.recall), String(format: "%.4f", r.f1), r.rmsePx.map { String(format: "%.3f", $0) } ?? "-"]
        }
    }

    /// Columns padded to their widest cell, for the terminal.
    public var text: String {
        let cells = cells, header = Self.header
        let widths = header.indices.map { i in ([header[i]] + cells.map { $0[i] }).map(\.count).max() ?? 0 }
        let line = { (r: [String]) in r.enumerated().map { $1.padding(toLength: widths[$0], withPad: " ", startingAt: 0) }.joined(separator: "  ") }
        return ([line(header), widths.map { String(repeating: "-", count: $0) }.joined(separator: "  ")] + cells.map(line))
            .joined(separator: "\n")
    }

    /// `dir/evaluation.json` and `dir/evaluation.csv`, replacing earlier ones.
    public func write(to dir: URL) throws {
        try OutputDirectory.prepare(dir, markers: [], allowExisting: true)
        try AtomicFile.writeJSON(rows, to: dir.appendingPathComponent("evaluation.json"))
        try AtomicFile.writeCSV(header: Self.header, rows: cells, to: dir.appendingPathComponent("evaluation.csv"))
    }
}
