#if canImport(Glibc)
import Glibc
#endif
import Foundation

/// Debian's OpenBLAS 0.3.21 does not recognise AMD Zen 5 and falls back to its Haswell
/// (AVX2) kernels, about half the sgemm rate of its SkylakeX (AVX-512) kernels on this CPU.
/// OpenBLAS reads `OPENBLAS_CORETYPE` once, when the library is loaded — before `main` runs —
/// so the only robust fix from inside the program is to re-execute ourselves with the
/// variable set. We do so only when the CPU has AVX-512 and the user has not chosen a core
/// type (set `OPENBLAS_CORETYPE` yourself to override, e.g. `OPENBLAS_CORETYPE=Haswell`).
public enum OpenBLASCoreType {
    public static func reexecIfNeeded() {
        #if os(Linux)
        guard getenv("OPENBLAS_CORETYPE") == nil, cpuHasAVX512() else { return }
        setenv("OPENBLAS_CORETYPE", "SkylakeX", 1)
        let argv = CommandLine.unsafeArgv
        execv("/proc/self/exe", argv)
        // execv only returns on failure: carry on with the detected kernels.
        #endif
    }

    private static func cpuHasAVX512() -> Bool {
        guard let info = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8) else { return false }
        guard let flags = info.split(separator: "\n").first(where: { $0.hasPrefix("flags") }) else { return false }
        let set = Set(flags.split(separator: " "))
        return set.contains("avx512f") && set.contains("avx512bw") && set.contains("avx512vl")
    }
}
