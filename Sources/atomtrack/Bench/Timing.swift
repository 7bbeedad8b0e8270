import Core
import Dispatch
import Foundation

/// Wall-clock times in ms of `repeats` runs of `body`, after one untimed warm-up run when
/// asked (first-touch page faults and lazy BLAS set-up would otherwise land in run 1).
func timedRuns(_ repeats: Int, warmUp: Bool = false, _ body: () throws -> Void) rethrows -> [Double] {
    if warmUp { try body() }
    return try (0..<max(repeats, 1)).map { _ in
        let start = DispatchTime.now().uptimeNanoseconds
        try body()
        return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6
    }
}

/// One benchmark line: the name, the median and the fastest of the runs.
func printTiming(_ name: String, _ ms: [Double]) {
    print(name.padding(toLength: 44, withPad: " ", startingAt: 0)
          + String(format: " median %8.2f ms  fastest %8.2f ms  (%d runs)", Statistics.median(ms), ms.min() ?? .nan, ms.count))
}

/// CPU seconds (user + system, all threads) this process has used: on a shared machine the
/// steadier figure, since wall time there depends on what else runs.
func processCPUSeconds() -> Double {
    var t = timespec()
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t)
    return Double(t.tv_sec) + Double(t.tv_nsec) / 1e9
}
