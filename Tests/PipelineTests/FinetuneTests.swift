import Core
import Foundation
import MicroscopyIO
import Networks
import Pipeline
import Simulation
import XCTest

/// Fine-tuning a shipped model on labelled frames of a movie (`atomtrack finetune`). Labels here
/// are the simulator's truth of frame 0 — a fair input for testing the training loop; the study
/// in docs/ACCURACY.md labels frames from themselves.
final class FinetuneTests: XCTestCase {
    let shipped = packageRoot.appendingPathComponent("Models/tmd-ws2")

    /// A 3-frame 128² movie from a study recipe (a microscope the shipped model was not trained on).
    func shiftedMovie(_ shift: String, in dir: URL) throws -> URL {
        var r = try SimulationExport.recipe(at: packageRoot.appendingPathComponent("TrainingData/finetune-study/shift-\(shift).json").path,
                                            frames: 3)
        r.width = 128; r.height = 128
        let out = dir.appendingPathComponent(shift)
        try FileManager.default.createDirectory(at: out, withIntermediateDirectories: true)
        _ = try SimulationExport.writeMovie(recipe: r, to: out, progress: false)
        return out
    }

    /// Frames `first`… of a simulator folder as a folder of their own (truth renumbered), for
    /// scoring the frames a model was not tuned on.
    func laterFrames(of dir: URL, from first: Int, in parent: URL) throws -> URL {
        let out = parent.appendingPathComponent("later"), movie = try Movie.open(dir.appendingPathComponent("movie.tif"))
        try FileManager.default.createDirectory(at: out, withIntermediateDirectories: true)
        try TIFFFile.write(try (first..<movie.frameCount).map { try movie.frame($0) }, to: out.appendingPathComponent("movie.tif"))
        let lines = try String(contentsOf: dir.appendingPathComponent("truth_atoms.csv"), encoding: .utf8).split(separator: "\n")
        var text = lines[0] + "\n"
        for line in lines.dropFirst() {
            let fields = line.split(separator: ",", maxSplits: 1)
            if let f = Int(fields[0]), f >= first { text += "\(f - first),\(fields[1])\n" }
        }
        try text.write(to: out.appendingPathComponent("truth_atoms.csv"), atomically: true, encoding: .utf8)
        return out
    }

    func meanF1(model: URL, truth: URL) throws -> Double {
        let rows = try ModelEvaluation(finder: AtomFinder(model: TrainedModel(at: model))).evaluate(directory: truth, doses: [], progress: false)
        return rows.map(\.f1).reduce(0, +) / Double(rows.count)
    }

    /// Frame 0 of a simulated movie, labelled from the simulator's truth table.
    func frameZeroWithTruthLabels(of sim: URL, model: TrainedModel) throws -> ([LabelledFrame], ModelCard.Finetuning.Source) {
        try ModelFinetuning.labelledFrames(
            movie: sim.appendingPathComponent("movie.tif").path, frames: [0], pixelSize: nil, model: model,
            labels: FrameLabels.table(sim.appendingPathComponent("truth_atoms.csv").path, card: model.card))
    }

    func options(steps: Int) -> ModelFinetuning.Options {
        var o = ModelFinetuning.Options()
        o.steps = steps; o.batchSize = 2; o.tileSize = 64; o.validateEvery = 10; o.threads = 2; o.learningRate = 1e-3
        return o
    }

    /// Under a read-noise-dominated detector the shipped model misses most atoms; tuned on frame 0
    /// it finds clearly more of them in frames 1–2, which it never saw, and its card says what it
    /// was tuned on.
    func testTuningOnFrameZeroImprovesTheLaterFrames() throws {
        let dir = try reliabilityTempDir(self)
        let sim = try shiftedMovie("noise", in: dir)
        let base = try TrainedModel(at: shipped)
        let (frames, source) = try frameZeroWithTruthLabels(of: sim, model: base)
        let out = dir.appendingPathComponent("tuned")
        try FileManager.default.createDirectory(at: out, withIntermediateDirectories: true)
        let card = try ModelFinetuning(base: base, frames: frames, source: source, options: options(steps: 40), outputDirectory: out)
            .run(progress: false)

        let later = try laterFrames(of: sim, from: 1, in: dir)
        let before = try meanF1(model: shipped, truth: later), after = try meanF1(model: out, truth: later)
        let logText = (try? String(contentsOf: out.appendingPathComponent(ModelFinetuning.logFile), encoding: .utf8)) ?? ""
        XCTAssertGreaterThan(after, before + 0.1, "mean atom F1 on frames 1–2: shipped \(before), tuned \(after); checks:\n"
            + logText.split(separator: "\n").filter { !$0.contains(",,,,,,") }.joined(separator: "\n"))
        let f = try XCTUnwrap(card.finetuning)
        XCTAssertEqual(f.source.frames, [0])
        XCTAssertEqual(f.source.pixelSize, 0.2, accuracy: 1e-9)
        XCTAssertGreaterThan(f.bestStep, 0)
        XCTAssertEqual(f.source.framesChecksum.count, 16)
        XCTAssertEqual(try ModelCard.load(out.appendingPathComponent(TrainedModel.cardFile)).finetuning?.bestStep, f.bestStep)
        // The log shows what both rules saw: the kept step passed the (default) independent rule, and the card says so.
        let log = try CSVTable(url: out.appendingPathComponent(ModelFinetuning.logFile))
        let step = try log.column("step"), keep = try log.column("independent_keep")
        let t = try log.column("paired_t_S"), threshold = try log.column("paired_threshold_S")
        let kept = try XCTUnwrap(log.rows.first { $0[step] == "\(f.bestStep)" })
        XCTAssertEqual(kept[keep], "1")
        XCTAssertGreaterThan(Double(kept[threshold]) ?? 0, 2)
        XCTAssertNotNil(Double(kept[t]))
        XCTAssertEqual(f.keepRule, "independent")
        XCTAssertTrue(f.keptBecause?.hasPrefix("step \(f.bestStep) kept (independent rule") ?? false, f.keptBecause ?? "nil")
    }

    /// A step that wrecks the weights (learning rate 1) scores worse on the held-out patches than the
    /// model it started from, so under either keep rule the base weights are what is written (best step 0).
    func testKeepsTheBaseWeightsWhenNoStepBeatsThem() throws {
        let dir = try reliabilityTempDir(self)
        let sim = try shiftedMovie("scan", in: dir)
        let base = try TrainedModel(at: shipped)
        let (frames, source) = try frameZeroWithTruthLabels(of: sim, model: base)
        let a = try SafeTensors.read(shipped.appendingPathComponent(TrainedModel.weightsFile))
        for rule in ModelFinetuning.KeepRule.allCases {
            var o = options(steps: 2)
            o.learningRate = 1; o.validateEvery = 1; o.keepRule = rule
            let out = dir.appendingPathComponent("wrecked-\(rule)")
            try FileManager.default.createDirectory(at: out, withIntermediateDirectories: true)
            let card = try ModelFinetuning(base: base, frames: frames, source: source, options: o, outputDirectory: out).run(progress: false)
            XCTAssertEqual(card.finetuning?.bestStep, 0, "\(rule)")
            XCTAssertTrue(card.finetuning?.keptBecause?.hasPrefix("no step kept") ?? false, "\(rule)")
            let b = try SafeTensors.read(out.appendingPathComponent(TrainedModel.weightsFile))
            XCTAssertEqual(Set(a.tensors.keys), Set(b.tensors.keys))
            for (name, t) in a.tensors { XCTAssertEqual(t, b.tensors[name], "\(rule): \(name)") }
        }
    }

    /// Table labels: symbols, class names and elements map to the model's classes, an S2 column
    /// listed as two S atoms is one label, other classes are left out, a frame without rows is refused.
    func testTableLabelsMapClassesAndMergeColumns() throws {
        let dir = try reliabilityTempDir(self)
        let table = dir.appendingPathComponent("labels.csv")
        try """
        frame,x,y,class
        0,10,10,W+Mo
        0,20,10,Mo
        0,30,10,metal
        0,12,20,S
        0,12.1,20.1,S
        0,40,40,C
        0,50,50,background
        1,5,5,S
        """.write(to: table, atomically: true, encoding: .utf8)
        let card = try TrainedModel(at: shipped).card
        let labels = try FrameLabels.table(table.path, card: card)
        let frame = try GrayImage(width: 64, height: 64, pixels: [Float](repeating: 0, count: 64 * 64))
        let (points, undecided) = try labels.label(frame, 0, 0.2)
        XCTAssertEqual(points.map(\.label), [0, 0, 0, 1])
        XCTAssertTrue(undecided.isEmpty, "a table decides every row")
        XCTAssertEqual(try labels.label(frame, 1, 0.2).points.count, 1)
        XCTAssertThrowsError(try labels.label(frame, 2, 0.2))
    }

    /// Options that would fail after OUT is made are refused by name.
    func testOptionsAreValidated() throws {
        for (change, flag) in [({ (o: inout ModelFinetuning.Options) in o.steps = 0 }, "--steps"),
                               ({ $0.holdOutFraction = 0.9 }, "--hold-out"),
                               ({ $0.learningRate = .nan }, "--learning-rate"),
                               ({ $0.tileSize = 8 }, "--tile")] {
            var o = ModelFinetuning.Options()
            change(&o)
            XCTAssertThrowsError(try o.validate()) { XCTAssertTrue("\($0)".contains(flag), "\($0)") }
        }
    }
}
