import Dispatch

/// Lets a non-escaping, non-Sendable body run on dispatch's worker threads. Safe here because
/// every caller writes disjoint index ranges and `concurrentPerform` returns only when all
/// chunks are done.
private struct UncheckedSendable<T>: @unchecked Sendable { let value: T }

/// Runs `body` over `0..<count` split into contiguous chunks on all cores; small jobs stay
/// on the calling thread because dispatch overhead would dominate.
@inline(__always)
func parallelChunks(_ count: Int, minChunk: Int = 256, _ body: (Range<Int>) -> Void) {
    let chunks = min(max(count / minChunk, 1), 16)
    if chunks == 1 { body(0..<count); return }
    withoutActuallyEscaping(body) { escaping in
        let box = UncheckedSendable(value: escaping)
        DispatchQueue.concurrentPerform(iterations: chunks) { c in
            box.value((c * count / chunks)..<((c + 1) * count / chunks))
        }
    }
}
