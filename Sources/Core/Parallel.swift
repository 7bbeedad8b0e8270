import Dispatch
import Foundation

/// The number of cores this process may use.
public let activeProcessors = ProcessInfo.processInfo.activeProcessorCount

/// Lets a non-escaping, non-Sendable body run on dispatch's worker threads. Sound only because
/// every caller writes disjoint memory and `concurrentPerform` returns when all work is done.
public struct UncheckedSendable<T>: @unchecked Sendable {
    public let value: T
    public init(_ value: T) { self.value = value }
}

/// Threads the parallel loops may use at once (`atomtrack --threads N`); all cores by default.
/// Set it before any parallel work starts.
nonisolated(unsafe) public var parallelThreadLimit = activeProcessors

/// Runs `body(i)` for `i in 0..<count` on all cores (at most `parallelThreadLimit` threads) when
/// the total work (a rough element count) pays for the threads, otherwise on the calling thread.
@inline(__always)
public func parallelFor(_ count: Int, work: Int = .max, _ body: (Int) -> Void) {
    let limit = parallelThreadLimit
    guard count > 1, work >= 1 << 15, limit > 1 else {
        for i in 0..<max(count, 0) { body(i) }
        return
    }
    withoutActuallyEscaping(body) { escaping in
        let box = UncheckedSendable(escaping)
        if limit >= activeProcessors || count <= limit {
            DispatchQueue.concurrentPerform(iterations: count) { box.value($0) }
        } else {
            // `limit` workers, each taking every limit-th item: never more threads than allowed.
            DispatchQueue.concurrentPerform(iterations: limit) { w in
                for i in stride(from: w, to: count, by: limit) { box.value(i) }
            }
        }
    }
}

/// Runs `body` on contiguous sub-ranges of `0..<count`, at least `minChunk` elements each and
/// at most `maxChunks` of them, for element-wise loops; a small job stays on this thread.
@inline(__always)
public func parallelChunks(_ count: Int, minChunk: Int, maxChunks: Int = 16, _ body: (Range<Int>) -> Void) {
    let chunks = min(max(count / max(minChunk, 1), 1), maxChunks)
    if chunks == 1 { if count > 0 { body(0..<count) }; return }
    parallelFor(chunks) { c in body((c * count / chunks)..<((c + 1) * count / chunks)) }
}

/// `(0..<n).map(body)` on all cores, in order. A throwing body's first error (by index) is
/// rethrown after all items ran.
public func parallelMap<T, E: Error>(_ n: Int, _ body: (Int) throws(E) -> T) throws(E) -> [T] {
    guard n > 0 else { return [] }
    let slots = UnsafeMutableBufferPointer<Result<T, E>?>.allocate(capacity: n)
    slots.initialize(repeating: nil)
    defer { slots.deinitialize(); slots.deallocate() }
    let out = UncheckedSendable(slots), chunks = min(n, 64)
    parallelFor(chunks) { c in
        // Strided items balance uneven work; each slot is written by one iteration only.
        for i in stride(from: c, to: n, by: chunks) { out.value[i] = Result { () throws(E) -> T in try body(i) } }
    }
    var results: [T] = []
    results.reserveCapacity(n)
    for slot in slots { results.append(try slot!.get()) }
    return results
}
