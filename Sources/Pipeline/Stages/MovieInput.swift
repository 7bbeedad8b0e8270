import Core
import Foundation
import MicroscopyIO

/// A movie opened for the network, with the model that reads it and the pixel size it is read
/// at: what `segment`, `locate` and `classify` start from. Whatever can be refused (a missing
/// file, an impossible `--pixel-size`, frames outside the movie) is refused here or in
/// `frames(first:count:)`, before any output is written.
public struct MovieInput {
    public let movie: Movie
    public let finder: AtomFinder
    /// The flag's pixel size, else the file's, else the model's trained one (warned about).
    public let calibration: Calibration
    /// Å per pixel when the flag or the file gives it; nil when the model's stands in (the
    /// network then runs the frame as it is, without resampling).
    public var pixelSize: Double? { calibration.pixelSizeSource == .model ? nil : calibration.pixelSize }

    public init(path: String, finder: AtomFinder, pixelSize flag: Double?, signal: String? = nil) throws {
        movie = try Movie.open(URL(fileURLWithPath: path), signal: signal)
        self.finder = finder
        (calibration, frame0) = try Calibration.resolveLocating(movie, finder: finder, pixelSizeFlag: flag,
                                                                frameTimeFlag: nil, usesFrameTime: false)
    }

    /// Frame 0 as the pixel-size check located it (`MovieLocator.located`).
    public let frame0: LocatedFrame?

    public var card: ModelCard { finder.model.card }
    /// The network's classes (probability maps).
    public var classSymbols: [String] { card.classes.map(\.symbol) }
    /// The classes atoms carry (atoms.csv): the network's with a dopant split off (`OutputClasses`).
    public var atomSymbols: [String] { finder.outputClasses.symbols }

    /// `count` frames (default: to the end) from `first`.
    public func frames(first: Int = 0, count: Int? = nil) throws -> Range<Int> {
        guard count.map({ $0 > 0 }) ?? true else { throw InputError("--count must be at least 1, got \(count ?? 0)") }
        return try movie.frames(first: first, count: count, firstNamed: "--first")
    }
}

extension Movie {
    /// `count` frames (nil: all) from `first`, refusing a `first` outside the movie (named as
    /// the caller's option is). Saturating, so `--count 9223372036854775807` means "to the end"
    /// instead of an overflow trap.
    func frames(first: Int, count: Int?, firstNamed name: String) throws -> Range<Int> {
        guard first >= 0, first < frameCount else {
            throw InputError("\(name) \(first) is outside the movie's \(frameCount) frames")
        }
        let (end, overflow) = first.addingReportingOverflow(count ?? frameCount)
        return first..<(overflow ? frameCount : Swift.min(frameCount, end))
    }
}
