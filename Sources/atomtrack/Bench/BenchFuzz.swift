import ArgumentParser
import Core
import Foundation
import MicroscopyIO

/// `atomtrack bench fuzz-readers FILE…`: mutation fuzzing of the readers (docs/RELIABILITY.md).
struct BenchFuzz: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fuzz-readers",
        abstract: "Feed mutated copies of seed files to the readers; every variant must be read or refused in one line.",
        discussion: """
        Variant i of a seed file is SeededGenerator(seed, i) applied to its bytes (random bytes, \
        bit flips, 0x00/0xFF runs, large integers, truncation), written to --work-dir under the \
        seed's name (so the reader is chosen as for the original) and opened, with up to 64 frames \
        decoded. Prints executions, read and refused counts per file and the executions per \
        second. A variant refused with anything but one MicroscopyIOError line stops the run with \
        its iteration; a crash leaves the variant in --work-dir to reproduce it. Run with \
        scripts/fuzz_readers.sh.
        """
    )

    @Argument(help: "Seed files (one reader each: .emd, .h5, .ndata, .ser, .mrc, …).") var files: [String]
    @Option(help: "Variants per seed file.") var count = 1_000_000
    @Option(help: "Index of the first variant (to resume or replay one).") var first = 0
    @Option(help: "Seed of the mutations.") var seed: UInt64 = 1
    @Option(help: "Scratch directory for the variants.") var workDir = FileManager.default.temporaryDirectory.path
    @Flag(help: "Decode each variant in a forked child and count crashes (for the HDF5 formats, whose C library can crash on corrupt files).")
    var isolated = false

    func run() throws {
        try reportingErrors {
            let dir = URL(fileURLWithPath: workDir)
            try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
            for file in files {
                let start = Date()
                let tally = try ReaderFuzz.run(seedFile: URL(fileURLWithPath: file), count: count, seed: seed, first: first,
                                               workDir: dir, isolated: isolated) { n, t in
                    FileHandle.standardError.write(Data("\(file): \(n) variants (\(t.read) read, \(t.refused) refused)\n".utf8))
                }
                let seconds = Date().timeIntervalSince(start)
                let crashes = isolated ? ", \(tally.crashed.count) crashed the reader process\(tally.crashed.isEmpty ? "" : " (first: variant \(tally.crashed[0]))")" : ""
                print("\(file): \(count) variants from \(first), seed \(seed): \(tally.read) read, \(tally.refused) refused\(crashes), no other outcome; \(String(format: "%.0f", Double(count) / seconds)) exec/s")
            }
        }
    }
}
