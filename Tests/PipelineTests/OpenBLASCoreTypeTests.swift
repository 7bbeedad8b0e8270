import Foundation
import XCTest

/// `atomtrack` picks the OpenBLAS kernels by re-executing itself with `OPENBLAS_CORETYPE=SkylakeX`
/// on AVX-512 CPUs when the variable is unset (Sources/atomtrack/OpenBLASCoreType.swift). Both
/// ways — the CLI's choice and a core type set by the user — must find the same atoms. Only the
/// child processes' environments differ; this process's is never changed.
extension CommandLineTests {
    func testLocateFindsTheSameAtomsUnderBothOpenBLASCoreTypes() throws {
        let dir = try reliabilityTempDir(self)
        let sim = dir.appendingPathComponent("sim")
        let recipe = repositoryRoot.appendingPathComponent("TrainingData/movie-ws2.json").path
        XCTAssertEqual(try atomtrack(["simulate", "--recipe", recipe, "--out", sim.path, "--frames", "2", "--quiet"]).status, 0)
        let movie = sim.appendingPathComponent("movie.tif").path
        let model = repositoryRoot.appendingPathComponent("Models/tmd-ws2").path

        var atoms: [String: [[Double]]] = [:]
        for coreType in [nil, "Haswell"] as [String?] {
            let env = ["OPENBLAS_CORETYPE": coreType]
            // The kernel family actually loaded: chosen by the CLI (SkylakeX on AVX-512, else detected) or set.
            let probe = try atomtrack(["bench", "inference", "--sizes", "8", "--repeats", "1"], environment: env)
            XCTAssertEqual(probe.status, 0, probe.stderr)
            if let coreType { XCTAssertTrue(probe.stdout.contains("OpenBLAS core \(coreType)"), probe.stdout) }
            if coreType == nil, cpuHasAVX512 { XCTAssertTrue(probe.stdout.contains("OpenBLAS core SkylakeX"), probe.stdout) }

            let out = dir.appendingPathComponent("out-\(coreType ?? "cli")")
            let run = try atomtrack(["locate", movie, "--model", model, "--out", out.path, "--quiet"], environment: env)
            XCTAssertEqual(run.status, 0, run.stderr)
            let csv = try String(contentsOf: out.appendingPathComponent("atoms.csv"), encoding: .utf8)
            // frame, x, y, class index among the card's symbols (W+Mo / S as text → compared as text below).
            atoms[coreType ?? "cli"] = csv.split(separator: "\n").dropFirst().map { line in
                let f = line.split(separator: ",", omittingEmptySubsequences: false)
                return [Double(f[0])!, Double(f[1])!, Double(f[2])!, f[3] == "S" ? 1 : 0]
            }
        }
        let a = try XCTUnwrap(atoms["cli"]), b = try XCTUnwrap(atoms["Haswell"])
        XCTAssertGreaterThan(a.count, 100, "the simulated WS2 frames hold hundreds of atoms")
        XCTAssertEqual(a.count, b.count, "same number of atoms")
        for (p, q) in zip(a, b) {
            XCTAssertEqual(p[0], q[0]); XCTAssertEqual(p[3], q[3], "same class")
            // Different GEMM kernels round differently: positions agree to float noise, not bit for bit.
            XCTAssertEqual(p[1], q[1], accuracy: 1e-3); XCTAssertEqual(p[2], q[2], accuracy: 1e-3)
        }
    }

    private var cpuHasAVX512: Bool {
        guard let info = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8),
              let flags = info.split(separator: "\n").first(where: { $0.hasPrefix("flags") }) else { return false }
        let set = Set(flags.split(separator: " "))
        return set.contains("avx512f") && set.contains("avx512bw") && set.contains("avx512vl")
    }
}
