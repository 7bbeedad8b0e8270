import Foundation

/// Ordered result slots filled from concurrent workers under a lock.
private final class ResultSlots<T>: @unchecked Sendable {
    var values: [Result<T, Error>?]
    let lock = NSLock()
    init(_ n: Int) { values = Array(repeating: nil, count: n) }
    func set(_ i: Int, _ r: Result<T, Error>) { lock.lock(); values[i] = r; lock.unlock() }
}

/// Maps `body` over 0..<n on all cores, keeping the order; rethrows the first error.
func concurrentMap<T>(_ n: Int, _ body: (Int) throws -> T) throws -> [T] {
    let slots = ResultSlots<T>(n)
    withoutActuallyEscaping(body) { f in
        nonisolated(unsafe) let f = f
        DispatchQueue.concurrentPerform(iterations: n) { i in slots.set(i, Result { try f(i) }) }
    }
    return try slots.values.map { try $0!.get() }
}
