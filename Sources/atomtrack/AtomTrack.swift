import ArgumentParser
import Pipeline

struct AtomTrack: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "atomtrack",
        abstract: "From atomically resolved STEM movies to atoms, defects, trajectories and kinetics.",
        version: atomTrackVersion,
        subcommands: [InfoCommand.self, ConvertCommand.self, Simulate.self, Train.self, Evaluate.self, Segment.self, Locate.self, Classify.self, TrackCommand.self, MarkovCommand.self, Analyze.self, Merge.self, Demo.self, Bench.self]
    )
}
