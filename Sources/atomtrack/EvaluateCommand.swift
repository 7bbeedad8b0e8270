import ArgumentParser
import Core
import Foundation
import Pipeline

struct Evaluate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Score a model's atoms against ground truth: precision, recall, F1 and RMSE per class.",
        discussion: """
        --truth is either a folder written by `atomtrack simulate` (movie.tif + truth_atoms.csv) or a \
        folder of noiseless validation frames (NAME.npy + NAME_truth.csv + NAME.json), to which shot \
        noise is applied at each --dose (counts = Poisson(image · dose · pixel²)). Detections are \
        matched one-to-one per class within 0.4 × the nearest column distance (exact assignment); \
        atoms within 3 px of the frame edge are left out. S2 columns listed as two S atoms count once.
        """)

    @OptionGroup var modelOptions: ModelOptions
    @Option(help: "Truth folder (simulator output or validation frames).") var truth: String
    @Option(parsing: .upToNextOption, help: "Doses (e/Å²) for noiseless validation frames.")
    var dose: [Double] = [1e3, 1e4, 1e5, 1e6]
    @Option(help: "Write evaluation.json and evaluation.csv here.") var out: String?

    func run() throws {
        try reportingErrors {
            for d in dose { try InputError.require(d > 0 && d <= 1e9, "--dose", d, "expected 0 < dose ≤ 10⁹ e/Å²") }
            let evaluation = ModelEvaluation(finder: try modelOptions.finder())
            let rows = try evaluation.evaluate(directory: URL(fileURLWithPath: truth), doses: dose)
            let report = EvaluationReport(rows)
            print(report.text)
            if let out { try report.write(to: URL(fileURLWithPath: out)) }
        }
    }
}
