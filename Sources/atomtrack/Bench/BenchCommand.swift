import ArgumentParser

/// `atomtrack bench …`: side-by-side speed measurements, run in release mode.
/// Each benchmark prints its figures and the exact configuration it measured.
struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Measure speed (build with -c release); results are recorded in docs/BENCHMARKS.md.",
        subcommands: [BenchKernels.self, BenchInference.self, BenchFrame.self, BenchLocalization.self, BenchLinking.self, BenchGMM.self, BenchMarkov.self, BenchFuzz.self, BenchHMM.self]
    )
}
