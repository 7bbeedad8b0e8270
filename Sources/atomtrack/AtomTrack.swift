import ArgumentParser
import Pipeline

struct AtomTrack: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "atomtrack",
        abstract: "From atomically resolved STEM movies to atoms, defects, trajectories and kinetics.",
        version: atomTrackVersion,
        subcommands: [Bench.self, InfoCommand.self, ConvertCommand.self]
    )
}
