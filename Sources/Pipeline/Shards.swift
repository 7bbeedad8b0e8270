import Core
import Foundation
import MicroscopyIO

/// The I-th of N contiguous, near-equal frame ranges of an analysis (`analyze --shard I/N`):
/// the per-frame stages of a long movie spread over a job array, joined by `ShardMerge`.
public struct ShardSpec: Codable, Sendable, Equatable, CustomStringConvertible {
    public let index: Int, count: Int

    public init(index: Int, count: Int) throws {
        guard count >= 1, (0..<count).contains(index) else {
            throw InputError("--shard \(index)/\(count) is invalid: expected I/N with N ≥ 1 and 0 ≤ I < N")
        }
        self.index = index; self.count = count
    }

    /// Reads `I/N` (e.g. `2/8`, or `$SLURM_ARRAY_TASK_ID/8`).
    public init(parsing text: String) throws {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, let i = Int(parts[0]), let n = Int(parts[1]) else {
            throw InputError("--shard '\(text)' is invalid: expected I/N, e.g. 0/4")
        }
        try self.init(index: i, count: n)
    }

    public var description: String { "\(index)/\(count)" }

    /// This shard's frames of `all`: shard i gets frames ⌊i·L/N⌋ … ⌊(i+1)·L/N⌋ − 1 (from the first).
    public func frames(of all: Range<Int>) throws -> Range<Int> {
        guard count <= all.count else {
            throw InputError("--shard \(self): \(count) shards for \(all.count) frames; give at most \(all.count)")
        }
        let bound = { (k: Int) in all.lowerBound + k * all.count / self.count }
        return bound(index)..<bound(index + 1)
    }
}

/// OUT/shard.json of a finished shard, written last: what `merge` checks before it trusts the
/// shard's atoms.csv and its frame records (OUT/frames.journal).
public struct ShardManifest: Codable, Sendable {
    public static let fileName = "shard.json", journalFile = "frames.journal"
    public var atomtrackVersion = atomTrackVersion
    public var shard: String
    /// This shard's frames (end exclusive) and those of the whole analysis.
    public var firstFrame: Int, endFrame: Int
    public var analysedFirstFrame: Int, analysedEndFrame: Int
    /// The run's identity without the shard (settings, movie size and checksum, model weights):
    /// shards of one analysis have the same.
    public var identity: String
    public var config: AnalysisConfig

    public var frames: Range<Int> { firstFrame..<endFrame }
    public var analysedFrames: Range<Int> { analysedFirstFrame..<analysedEndFrame }

    /// The manifest in `dir`, nil when there is none (an unfinished or missing shard).
    public static func read(in dir: URL) throws -> ShardManifest? {
        let url = dir.appendingPathComponent(fileName)
        guard let data = FileManager.default.contents(atPath: url.path) else { return nil }
        do { return try JSONDecoder().decode(ShardManifest.self, from: data) } catch {
            throw InputError("\(url.path): not a shard manifest (\(error))")
        }
    }
}

extension Analysis {
    /// The files that mark OUT as holding a shard.
    public static let shardMarkers = [ShardManifest.fileName, MovieLocator.atomsFile, ShardManifest.journalFile]

    /// The per-frame stages over `shard`'s frames only: OUT gets that part of atoms.csv, the
    /// overlays that fall in it, its frame records (frames.journal) and shard.json. With
    /// `resume`, an interrupted shard continues, and a finished one of the same run is left as
    /// it is (a requeued array task succeeds at once).
    @discardableResult
    public func runShard(_ shard: ShardSpec, resume: Bool = false) throws -> ShardManifest {
        try config.validate()
        let inputs = try Inputs(config)
        let part = try shard.frames(of: inputs.frames)
        let manifest = ShardManifest(
            shard: shard.description, firstFrame: part.lowerBound, endFrame: part.upperBound,
            analysedFirstFrame: inputs.frames.lowerBound, analysedEndFrame: inputs.frames.upperBound,
            identity: String(decoding: try runIdentity(inputs, shard: nil), as: UTF8.self), config: config)
        if resume, let done = try ShardManifest.read(in: output) {
            guard done.identity == manifest.identity, done.shard == manifest.shard else {
                throw InputError("\(output.path): holds shard \(done.shard) of another run; pass --overwrite to start over")
            }
            return done
        }
        // An earlier shard's manifest must not vouch for this run's files while it runs.
        try? FileManager.default.removeItem(at: file(ShardManifest.fileName))
        let (collector, kinetics) = movieWideStages(inputs)
        let (_, journal) = try locateFrames(inputs, frames: part, shard: shard, collector: collector, kinetics: kinetics, resume: resume)
        try journal.keep(as: file(ShardManifest.journalFile))
        try AtomicFile.writeJSON(manifest, to: file(ShardManifest.fileName))
        return manifest
    }
}
