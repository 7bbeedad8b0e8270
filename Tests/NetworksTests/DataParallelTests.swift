import Core
import Foundation
import Networks
import Tensors
import XCTest

/// Data-parallel training without MPI: two replicas on two threads, their sums through a
/// rendezvous, against one trainer with the whole batch. The hooks `atomtrack-mpi` uses
/// (synchronized batch norm, weighted loss gradient, summed gradients) must make each step
/// that of the whole batch.
final class DataParallelTests: XCTestCase {
    /// Sums the buffers of `size` threads: each deposits its buffer and waits; the last one
    /// adds them in rank order, so every rank receives the same bits (as MPI_Allreduce).
    final class Rendezvous: @unchecked Sendable {
        let size: Int
        private let condition = NSCondition()
        private var deposited: [Int: [Double]] = [:], result: [Double] = [], generation = 0, taken = 0

        init(size: Int) { self.size = size }

        func sum(_ values: [Double], rank: Int) -> [Double] {
            condition.lock(); defer { condition.unlock() }
            while taken > 0 { condition.wait() }   // the previous round is still being collected
            let round = generation
            deposited[rank] = values
            if deposited.count == size {
                result = (0..<size).map { deposited[$0]! }.reduce(into: [Double](repeating: 0, count: values.count)) { s, v in
                    for i in s.indices { s[i] += v[i] }
                }
                deposited = [:]; generation += 1; taken = size
                condition.broadcast()
            }
            while generation == round { condition.wait() }
            taken -= 1
            if taken == 0 { condition.broadcast() }
            return result
        }

        func group(rank: Int) -> ReplicaGroup {
            ReplicaGroup(
                sumFloats: { b in
                    let s = self.sum(b.map(Double.init), rank: rank)
                    for i in b.indices { b[i] = Float(s[i]) }
                },
                sumDoubles: { b in
                    let s = self.sum(Array(b), rank: rank)
                    for i in b.indices { b[i] = s[i] }
                })
        }
    }

    /// A batch of `n` random images with labels from a threshold (a learnable task).
    func batch(_ n: Int, seed: UInt64) throws -> (Tensor, LabelMaps) {
        var g = SeededGenerator(seed: seed)
        let s = 32
        let pixels = (0..<(n * s * s)).map { _ in g.normalFloat() }
        return (try Tensor(shape: [n, 1, s, s], data: pixels),
                try LabelMaps(n: n, height: s, width: s, labels: pixels.map { $0 > 0.5 ? 1 : 0 }))
    }

    func slice(_ b: (Tensor, LabelMaps), _ range: Range<Int>) throws -> (Tensor, LabelMaps) {
        let per = b.0.count / b.0.shape[0]
        return (try Tensor(shape: [range.count] + b.0.shape.dropFirst(), data: Array(b.0.data[(range.lowerBound * per)..<(range.upperBound * per)])),
                try LabelMaps(n: range.count, height: b.1.height, width: b.1.width,
                              labels: Array(b.1.labels[(range.lowerBound * per)..<(range.upperBound * per)])))
    }

    func trainer(replicas: ReplicaGroup? = nil) throws -> Trainer {
        let description = ModelDescription(classNames: ["background", "bright"], baseFilters: 4, depth: 2, seed: 3)
        return Trainer(model: try SegmentationModel(description), loss: .crossEntropy(classWeights: nil),
                       optimizer: Optimizer(.sgd(learningRate: 0.05)), replicas: replicas)
    }

    /// An uneven split (2 + 3 images) of a batch of 5: losses and weights as one trainer's.
    func testTwoReplicasTakeTheStepsOfTheWholeBatch() throws {
        let steps = 4, split = [0..<2, 2..<5]
        let batches = try (0..<steps).map { try batch(5, seed: UInt64(100 + $0)) }
        let single = try trainer()
        let singleLosses = try batches.map { try single.step(images: $0.0, labels: $0.1).loss }

        // Each replica on a thread of its own (they block in the rendezvous).
        final class Run: @unchecked Sendable {
            var trainers: [Trainer] = [], losses = [[Double]](repeating: [], count: 2), failures: [String] = []
            let lock = NSLock(), done = DispatchSemaphore(value: 0)
        }
        let rendezvous = Rendezvous(size: 2), run = Run()
        run.trainers = try (0..<2).map { try trainer(replicas: rendezvous.group(rank: $0)) }
        let parts = try split.map { r in try batches.map { try slice($0, r) } }
        for rank in 0..<2 {
            let thread = Thread {
                do {
                    let mine = try parts[rank].map { try run.trainers[rank].step(images: $0.0, labels: $0.1).loss }
                    run.lock.withLock { run.losses[rank] = mine }
                } catch { run.lock.withLock { run.failures.append("\(error)") } }
                run.done.signal()
            }
            thread.stackSize = 16 << 20
            thread.start()
        }
        run.done.wait(); run.done.wait()
        let (losses, failures, replicas) = (run.losses, run.failures, run.trainers)
        XCTAssertTrue(failures.isEmpty, "\(failures)")
        XCTAssertEqual(losses[0], losses[1], "every replica reports the global loss")
        for (a, b) in zip(singleLosses, losses[0]) { XCTAssertEqual(a, b, accuracy: 1e-5 * abs(a)) }
        XCTAssertNotEqual(singleLosses.first, singleLosses.last, "the weights moved")
        // Weights (and batch-norm running statistics) as the single trainer's, to summation order.
        for (p, q) in zip(single.model.namedTensors, replicas[1].model.namedTensors) {
            let scale = max(p.value.data.map(abs).max() ?? 0, 1e-3)
            let worst = zip(p.value.data, q.value.data).map { abs($0 - $1) }.max() ?? 0
            XCTAssertLessThan(worst, 1e-4 * scale, p.name)
        }
        // Without the hooks the replicas would have trained on their halves alone.
        let alone = try trainer()
        let part = try slice(batches[0], split[0])
        XCTAssertNotEqual(try alone.step(images: part.0, labels: part.1).loss, singleLosses[0], accuracy: 1e-3)
    }
}
