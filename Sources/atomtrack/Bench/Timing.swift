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

/// Wall-clock and CPU (all threads) times in ms of `repeats` runs of `body`.
func timedRunsWithCPU(_ repeats: Int, _ body: () throws -> Void) rethrows -> (wall: [Double], cpu: [Double]) {
    var cpu: [Double] = []
    let wall = try timedRuns(repeats) {
        let c0 = processCPUSeconds()
        try body()
        cpu.append(1000 * (processCPUSeconds() - c0))
    }
    return (wall, cpu)
}

/// One benchmark line: the name, the median and the fastest of the runs (and of their CPU times).
func printTiming(_ name: String, _ ms: [Double], cpu: [Double]? = nil) {
    print(name.padding(toLength: 44, withPad: " ", startingAt: 0)
          + String(format: " median %8.2f ms  fastest %8.2f ms  (%d runs)", Statistics.median(ms), ms.min() ?? .nan, ms.count)
          + (cpu.map { String(format: "  CPU median %8.2f ms  least %8.2f ms", Statistics.median($0), $0.min() ?? .nan) } ?? ""))
}

/// `printTiming` of `timedRunsWithCPU`.
func printTiming(_ name: String, _ times: (wall: [Double], cpu: [Double])) {
    printTiming(name, times.wall, cpu: times.cpu)
}

/// CPU seconds (user + system, all threads) this process has used: on a shared machine the
/// steadier figure, since wall time there depends on what else runs.
func processCPUSeconds() -> Double {
    var t = timespec()
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t)
    return Double(t.tv_sec) + Double(t.tv_nsec) / 1e9
}

/// CPU seconds the calling thread has used. A stage's process CPU over this is how many cores
/// its work spread over (1 = serial, 2 = both of two cores evenly), whatever else the machine runs.
func threadCPUSeconds() -> Double {
    var t = timespec()
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t)
    return Double(t.tv_sec) + Double(t.tv_nsec) / 1e9
}
