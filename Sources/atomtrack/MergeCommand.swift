import ArgumentParser
import Core
import Foundation
import Pipeline

struct Merge: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Join the shards of one analysis (analyze --shard I/N) into the result of a single analyze.",
        discussion: """
        Checks that the shards come from one analysis (same settings, movie and model) and cover its frames
        exactly once, naming every missing, unfinished or overlapping shard; then joins their atoms.csv in
        frame order and runs the movie-wide stages (defect library, tracking, drift, diffusion, Markov,
        report). OUT holds the files of a single `analyze` with the same settings. The movie and the model
        must be readable at the paths the shards used.
        """)

    @Argument(help: "Shard directories (the --out of each analyze --shard).") var shards: [String] = []
    @OptionGroup var output: OutputOptions
    @Flag(help: "Merge the shards there are even when frames are missing (summary.json says which).") var allowPartial = false

    func run() throws {
        try reportingErrors {
            var merge = try ShardMerge.plan(shards.map { URL(fileURLWithPath: $0) }, output: output.directory, allowPartial: allowPartial)
            merge.progress = output.progress
            try output.prepare(markers: Analysis.resultMarkers)
            printSummary(try merge.run(), dir: output.directory)
        }
    }
}
