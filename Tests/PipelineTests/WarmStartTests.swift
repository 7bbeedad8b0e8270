import Foundation
import Networks
import Pipeline
import Simulation
import XCTest

/// `train --from`: training begins from a shipped model's weights, and the card says so.
final class WarmStartTests: XCTestCase {
    let shipped = packageRoot.appendingPathComponent("Models/graphene-si")

    func recipe(_ name: String) throws -> Recipe {
        try Recipe.decode(Data(contentsOf: packageRoot.appendingPathComponent("TrainingData/\(name).json")))
    }

    func options(from model: URL?) -> ModelTraining.Options {
        var o = ModelTraining.Options()
        o.steps = 2; o.batchSize = 2; o.tileSize = 64; o.learningRate = 1e-6
        o.validateEvery = 1; o.validationFrames = 2; o.threads = 1
        o.initialModel = model?.path
        return o
    }

    /// Two steps at a learning rate of 10⁻⁶ leave every trainable weight within 10⁻⁴ of the
    /// shipped one, and the model already finds the atoms of held-out frames; the same two steps
    /// from a fresh initialisation find almost none.
    func testWarmStartBeginsFromTheShippedWeights() throws {
        let warm = try temporaryDirectory("warm"), cold = try temporaryDirectory("cold")
        defer { for d in [warm, cold] { try? FileManager.default.removeItem(at: d) } }
        let card = try ModelTraining(recipe: recipe("graphene-si"), options: options(from: shipped), outputDirectory: warm)
            .run(resume: false, progress: false)
        let base = try TrainedModel(at: shipped)
        XCTAssertTrue(card.training.startedFrom?.hasPrefix(shipped.path) ?? false, "\(card.training.startedFrom ?? "nil")")
        XCTAssertEqual(card.architecture, base.network.modelDescription)
        let tuned = Dictionary(uniqueKeysWithValues: try TrainedModel(at: warm).network.parameters.map { ($0.name, $0.value.data) })
        for p in base.network.parameters {
            let moved = zip(p.value.data, try XCTUnwrap(tuned[p.name])).map { abs($0 - $1) }.max() ?? 0
            XCTAssertLessThan(moved, 1e-4, p.name)
        }
        let warmF1 = try XCTUnwrap(card.evaluations.first?.perClass.first { $0.className == "C" }?.f1)
        XCTAssertGreaterThan(warmF1, 0.8)
        var coldOptions = options(from: nil)
        coldOptions.depth = base.network.modelDescription.depth; coldOptions.baseFilters = base.network.modelDescription.baseFilters
        let coldCard = try ModelTraining(recipe: recipe("graphene-si"), options: coldOptions, outputDirectory: cold).run(resume: false, progress: false)
        XCTAssertNil(coldCard.training.startedFrom)
        XCTAssertLessThan(coldCard.evaluations.first?.perClass.first { $0.className == "C" }?.f1 ?? 0, 0.5)
    }

    func testAModelOfOtherClassesIsRefused() throws {
        let dir = try temporaryDirectory("warm-mismatch")
        defer { try? FileManager.default.removeItem(at: dir) }
        XCTAssertThrowsError(try ModelTraining(recipe: recipe("tmd-ws2"), options: options(from: shipped), outputDirectory: dir)) { error in
            XCTAssertTrue("\(error)".contains("are not the recipe's"), "\(error)")
        }
        XCTAssertThrowsError(try ModelTraining(recipe: recipe("graphene-si"), options: options(from: dir.appendingPathComponent("none")),
                                               outputDirectory: dir)) { error in
            XCTAssertTrue("\(error)".contains("model file not found"), "\(error)")
        }
    }
}
