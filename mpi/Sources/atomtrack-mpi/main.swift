import ArgumentParser
import CMPI
import CommandLineOptions
import Foundation
import Networks
import Pipeline
import Tensors

// As `atomtrack` does: the same BLAS kernels (re-exec, so before MPI_Init) and recycled buffers.
OpenBLASCoreType.reexecIfNeeded()
MemoryTuning.recycleLargeAllocations()

/// MPI_COMM_WORLD as AtomTrack's replica group: sums are MPI_Allreduce(MPI_IN_PLACE, MPI_SUM),
/// which gives every rank the same result.
enum World {
    static func start() -> (rank: Int, size: Int) {
        MPI_Init(nil, nil)
        var rank: Int32 = 0, size: Int32 = 0
        MPI_Comm_rank(CMPI_COMM_WORLD, &rank)
        MPI_Comm_size(CMPI_COMM_WORLD, &size)
        return (Int(rank), Int(size))
    }

    static var replicas: ReplicaGroup {
        ReplicaGroup(sumFloats: { b in allReduce(b.baseAddress, b.count, CMPI_FLOAT) },
                     sumDoubles: { b in allReduce(b.baseAddress, b.count, CMPI_DOUBLE) })
    }

    /// Seconds spent in MPI_Allreduce and the number of calls (for the closing line).
    nonisolated(unsafe) static var reduceSeconds = 0.0, reduceCalls = 0

    static func allReduce(_ buffer: UnsafeMutableRawPointer?, _ count: Int, _ type: MPI_Datatype) {
        guard count > 0 else { return }
        let start = MPI_Wtime()
        guard MPI_Allreduce(cmpi_in_place(), buffer, Int32(count), type, CMPI_SUM, CMPI_COMM_WORLD) == MPI_SUCCESS else {
            fail("MPI_Allreduce failed")
        }
        reduceSeconds += MPI_Wtime() - start
        reduceCalls += 1
    }

    /// One line on stderr and the whole job stops (the other ranks would wait forever).
    /// MPI_Abort tears mpirun's output forwarding down at once, so the line is given a moment to get out.
    static func fail(_ message: String) -> Never {
        FileHandle.standardError.write(Data("atomtrack-mpi: error: \(message)\n".utf8))
        usleep(300_000)
        MPI_Abort(CMPI_COMM_WORLD, 1)
        exit(1)
    }

    /// A refusal every rank reaches alike (it depends only on the options and the world's size):
    /// rank 0 says it in one line and all ranks leave together through MPI_Finalize, so the line
    /// always reaches mpirun's stderr (on a loaded CI box an MPI_Abort once lost it).
    static func refuse(_ message: String, rank: Int) -> Never {
        if rank == 0 { FileHandle.standardError.write(Data("atomtrack-mpi: error: \(message)\n".utf8)) }
        MPI_Finalize()
        exit(1)
    }
}

struct AtomTrackMPI: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "atomtrack-mpi",
        abstract: "AtomTrack under MPI: data-parallel training (mpirun -n P atomtrack-mpi train …).",
        subcommands: [TrainMPI.self])
}

struct TrainMPI: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "`atomtrack train` with the global batch split over the MPI ranks.",
        discussion: """
        Each rank simulates its slice of every global batch (--batch-size is the global batch) from the
        recipe's seed; batch-norm statistics and gradients are summed over the ranks (MPI_Allreduce in
        place), so every step is that of a single process with the whole batch. Rank 0 validates and
        writes model.safetensors, model.json, checkpoint.safetensors and training_log.csv into OUT;
        --resume continues from the checkpoint on every rank.
        """)

    @Option(help: "Training recipe (JSON), e.g. TrainingData/graphene-si.json.") var recipe: String
    @Option(help: "Output directory (rank 0 writes).") var out: String
    @Flag(help: "Replace earlier results in OUT.") var overwrite = false
    @Flag(help: "No progress bar.") var quiet = false
    @OptionGroup var hyperparameters: TrainingHyperparameters
    @Option(help: "Stop after this step as if interrupted (checkpoint written; for testing --resume).") var stopAtStep: Int?
    @Option(help: "Exit with an error unless the MPI world has this many ranks (catches a launcher that started singletons).")
    var expectRanks: Int?
    @Flag(help: "Continue from OUT/checkpoint.safetensors.") var resume = false

    func run() throws {
        let world = World.start()
        if let expectRanks, expectRanks != world.size {
            World.refuse("expected \(expectRanks) MPI ranks, the world has \(world.size) (srun needs --mpi=pmi2)", rank: world.rank)
        }
        if hyperparameters.batchSize < world.size {
            World.refuse("a global batch of \(hyperparameters.batchSize) cannot be split over \(world.size) processes; give --batch-size ≥ \(world.size)",
                         rank: world.rank)
        }
        do {
            var o = hyperparameters.options
            o.stopAtStep = stopAtStep
            let dir = URL(fileURLWithPath: out)
            if world.rank == 0 {
                try OutputDirectory.prepare(dir, markers: ModelTraining.markers, allowExisting: overwrite || resume)
                if overwrite && !resume { ModelTraining.discardEarlierRun(in: dir) }
            }
            var replicas = [Double(0)]   // the others start once rank 0 has prepared OUT
            replicas.withUnsafeMutableBufferPointer { World.replicas.sumDoubles($0) }
            var training = try ModelTraining(recipe: try SimulationExport.recipe(at: recipe), options: o, outputDirectory: dir)
            training.dataParallel = .init(rank: world.rank, size: world.size, replicas: World.replicas)
            let start = MPI_Wtime()
            let card = try training.run(resume: resume, progress: !quiet)
            if world.rank == 0 {
                print("model: \(dir.path)/model.safetensors (best step \(card.training.bestStep)), \(world.size) ranks")
                print(String(format: "rank 0: %.2f s training, of which %.3f s in %d MPI_Allreduce calls (waiting for the other ranks included)",
                             MPI_Wtime() - start, World.reduceSeconds, World.reduceCalls))
            }
        } catch {
            World.fail("\(error)")
        }
        MPI_Finalize()
    }
}

AtomTrackMPI.main()
