import ArgumentParser
import Foundation
import Pipeline

/// The training options `atomtrack train` and `atomtrack-mpi train` share, in one place so the
/// two commands cannot drift apart (under MPI the batch is the global one, split over the ranks).
public struct TrainingHyperparameters: ParsableArguments {
    @Option(help: "Optimizer steps.") public var steps = 2000
    @Option(help: "Images per step (under atomtrack-mpi: over all ranks).") public var batchSize = 8
    @Option(help: "Training crop side in px (default: the recipe's frame size).") public var tile: Int?
    @Option(help: "Learning rate (cosine-annealed to 2 % of it).") public var learningRate: Float = 2e-3
    @Option(help: "adam, or sgd (momentum 0.9): two runs that differ only in float rounding stay within rounding of each other under sgd.")
    public var optimizer: ModelTraining.OptimizerChoice = .adam
    @Option(help: "U-Net filters at the first level.") public var baseFilters = 16
    @Option(help: "U-Net pooling levels.") public var depth = 3
    @Option(help: "Validate and checkpoint every N steps.") public var validateEvery = 100
    @Option(help: "Held-out simulated frames for validation.") public var validationFrames = 16
    @Option(help: "Stop after N validations without improvement.") public var patience = 8
    @Option(help: "Seed of the weight initialisation.") public var seed: UInt64 = 1
    @Option(help: "Threads (BLAS and simulation; under atomtrack-mpi: per rank).")
    public var threads = ProcessInfo.processInfo.activeProcessorCount

    public init() {}

    /// The options as `ModelTraining` takes them (its own checks refuse absurd values).
    public var options: ModelTraining.Options {
        var o = ModelTraining.Options()
        o.steps = steps; o.batchSize = batchSize; o.tileSize = tile
        o.learningRate = learningRate; o.optimizer = optimizer == .adam ? nil : optimizer; o.baseFilters = baseFilters; o.depth = depth
        o.validateEvery = validateEvery; o.validationFrames = validationFrames
        o.patience = patience; o.seed = seed; o.threads = threads
        return o
    }
}

extension ModelTraining.OptimizerChoice: ExpressibleByArgument {}
