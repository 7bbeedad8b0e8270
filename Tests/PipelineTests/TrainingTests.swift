import Foundation
import Networks
import Pipeline
import Simulation
import XCTest

/// The package root, found from this file's path (Tests/PipelineTests/…).
let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

func temporaryDirectory(_ name: String) throws -> URL {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("atomtrack-\(name)-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    return dir
}

final class TrainingTests: XCTestCase {
    func recipe(_ name: String) throws -> Recipe {
        try Recipe.decode(Data(contentsOf: packageRoot.appendingPathComponent("TrainingData/\(name).json")))
    }

    func smallOptions(steps: Int) -> ModelTraining.Options {
        var o = ModelTraining.Options()
        o.steps = steps; o.batchSize = 4; o.tileSize = 64; o.baseFilters = 4; o.depth = 2
        o.learningRate = 5e-3; o.validateEvery = 10; o.validationFrames = 2; o.patience = 100; o.threads = 1
        return o
    }

    /// Streamed simulated batches must teach the network something: the training loss of the
    /// last steps is clearly below that of the first, and a model + card are written.
    func testLossDecreasesAndModelIsWritten() throws {
        let dir = try temporaryDirectory("train")
        defer { try? FileManager.default.removeItem(at: dir) }
        let training = try ModelTraining(recipe: recipe("graphene-si"), options: smallOptions(steps: 40), outputDirectory: dir)
        let card = try training.run(resume: false, progress: false)
        let log = try String(contentsOf: dir.appendingPathComponent(ModelTraining.logFile), encoding: .utf8)
        let losses = log.split(separator: "\n").dropFirst().compactMap { Double($0.split(separator: ",")[1]) }
        XCTAssertEqual(losses.count, 40)
        let first = losses.prefix(5).reduce(0, +) / 5, last = losses.suffix(5).reduce(0, +) / 5
        XCTAssertLessThan(last, 0.8 * first, "loss \(first) → \(last)")
        XCTAssertEqual(card.classes.map(\.symbol), ["C", "Si", "background"])
        let model = try TrainedModel(at: dir)
        XCTAssertEqual(model.network.modelDescription.depth, 2)
    }

    /// An interrupted run resumed from its checkpoint ends with exactly the weights of an
    /// uninterrupted one.
    func testResumeGivesIdenticalWeights() throws {
        let straight = try temporaryDirectory("straight"), resumed = try temporaryDirectory("resumed")
        defer { for d in [straight, resumed] { try? FileManager.default.removeItem(at: d) } }
        var options = smallOptions(steps: 6)
        options.validateEvery = 3; options.batchSize = 2
        try ModelTraining(recipe: recipe("tmd-ws2"), options: options, outputDirectory: straight).run(resume: false, progress: false)
        var interrupted = options
        interrupted.stopAtStep = 3
        try ModelTraining(recipe: recipe("tmd-ws2"), options: interrupted, outputDirectory: resumed).run(resume: false, progress: false)
        let half = try SafeTensors.read(resumed.appendingPathComponent(ModelTraining.checkpointFile))
        XCTAssertEqual(half.metadata["step"], "3")
        try ModelTraining(recipe: recipe("tmd-ws2"), options: options, outputDirectory: resumed).run(resume: true, progress: false)
        let a = try SafeTensors.read(straight.appendingPathComponent(ModelTraining.checkpointFile))
        let b = try SafeTensors.read(resumed.appendingPathComponent(ModelTraining.checkpointFile))
        XCTAssertEqual(b.metadata["step"], "6")
        XCTAssertEqual(Set(a.tensors.keys), Set(b.tensors.keys))
        for (name, t) in a.tensors { XCTAssertEqual(t, b.tensors[name], "tensor \(name) differs after resume") }
    }

    func testResumeWithoutCheckpointIsAClearError() throws {
        let dir = try temporaryDirectory("noresume")
        defer { try? FileManager.default.removeItem(at: dir) }
        let training = try ModelTraining(recipe: recipe("graphene-si"), options: smallOptions(steps: 2), outputDirectory: dir)
        XCTAssertThrowsError(try training.run(resume: true, progress: false)) { error in
            XCTAssertTrue("\(error)".contains("nothing to resume"), "\(error)")
        }
    }
}
