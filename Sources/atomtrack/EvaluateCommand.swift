import ArgumentParser
import Foundation
import MicroscopyIO
import Pipeline

struct Evaluate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Score a model's atoms against ground truth: precision, recall, F1 and RMSE per class.",
        discussion: """
        --truth is either a folder written by `atomtrack simulate` (movie.tif + truth_atoms.csv) or a
        folder of noiseless validation frames (NAME.npy + NAME_truth.csv + NAME.json), to which shot
        noise is applied at each --dose (counts = Poisson(image · dose · pixel²)). Detections are
        matched one-to-one per class within 0.4 × the nearest column distance (exact assignment);
        atoms within 3 px of the frame edge are left out. S2 columns listed as two S atoms count once.
        """)

    @Option(help: "Model directory (holding model.safetensors and model.json).") var model: String
    @Option(help: "Truth folder (simulator output or validation frames).") var truth: String
    @Option(parsing: .upToNextOption, help: "Doses (e/Å²) for noiseless validation frames.")
    var dose: [Double] = [1e3, 1e4, 1e5, 1e6]
    @Option(help: "Write evaluation.json and evaluation.csv here.") var out: String?
    @Flag(help: "Skip the 2-D Gaussian refinement (plain centroids).") var noRefine = false

    func run() throws {
        try reportingErrors {
            var options = AtomFinder.Options()
            options.refine = !noRefine
            let finder = try AtomFinder(model: TrainedModel(at: URL(fileURLWithPath: model)), options: options)
            let rows = try ModelEvaluation(finder: finder).evaluate(directory: URL(fileURLWithPath: truth), doses: dose)
            let header = ["dataset", "dose", "class", "tp", "fp", "fn", "precision", "recall", "f1", "rmse_px"]
            let table = rows.map { r in
                [r.dataset, r.dose.map { String(format: "%.0e", $0) } ?? "-", r.className, "\(r.truePositives)",
                 "\(r.falsePositives)", "\(r.falseNegatives)", String(format: "%.4f", r.precision),
                 String(format: "%.4f", r.recall), String(format: "%.4f", r.f1), r.rmsePx.map { String(format: "%.3f", $0) } ?? "-"]
            }
            print(TextTable.render(header: header, rows: table))
            if let out {
                let dir = URL(fileURLWithPath: out)
                try OutputDirectory.prepare(dir, markers: [], allowExisting: true)
                try AtomicFile.writeJSON(rows, to: dir.appendingPathComponent("evaluation.json"))
                try AtomicFile.writeCSV(header: header, rows: table, to: dir.appendingPathComponent("evaluation.csv"))
            }
        }
    }
}

/// Aligned plain-text tables for the terminal.
enum TextTable {
    static func render(header: [String], rows: [[String]]) -> String {
        let widths = header.indices.map { i in ([header[i]] + rows.map { $0[i] }).map(\.count).max() ?? 0 }
        let line = { (r: [String]) in r.enumerated().map { $1.padding(toLength: widths[$0], withPad: " ", startingAt: 0) }.joined(separator: "  ") }
        return ([line(header), widths.map { String(repeating: "-", count: $0) }.joined(separator: "  ")] + rows.map(line))
            .joined(separator: "\n")
    }
}
