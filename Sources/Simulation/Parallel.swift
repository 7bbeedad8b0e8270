import Foundation

/// Evaluates `body` for 0..<n on all cores, writing results in order (each index written once).
func parallelMap<T>(_ n: Int, _ body: (Int) -> T) -> [T] where T: BitwiseCopyable {
    guard n > 0 else { return [] }
    return [T](unsafeUninitializedCapacity: n) { buffer, count in
        nonisolated(unsafe) let out = buffer
        let chunks = min(n, 64)
        withoutActuallyEscaping(body) { f in
            nonisolated(unsafe) let f = f
            DispatchQueue.concurrentPerform(iterations: chunks) { c in
                for i in stride(from: c, to: n, by: chunks) { (out.baseAddress! + i).initialize(to: f(i)) }
            }
        }
        count = n
    }
}
