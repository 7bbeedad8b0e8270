import ArgumentParser
import Pipeline

struct AtomTrack: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "atomtrack",
        abstract: "From atomically resolved STEM movies to atoms, defects, trajectories and kinetics.",
        discussion: """
        Every command accepts --threads N (before or after the command name): at most N threads for \
        AtomTrack's parallel loops and OpenBLAS; all cores by default.
        """,
        version: atomTrackVersionWithCommit,
        subcommands: [InfoCommand.self, ConvertCommand.self, Simulate.self, Train.self, Finetune.self, Calibrate.self, Evaluate.self, Segment.self, Locate.self, Classify.self, LibraryCommand.self, LatticeCommand.self, TrackCommand.self, MarkovCommand.self, Analyze.self, Merge.self, Demo.self, Bench.self]
    )
}
