import Core
import Foundation
import MicroscopyIO

/// `atomtrack merge`: joins the shards of one analysis (`analyze --shard I/N`) and runs the
/// movie-wide stages, so that OUT holds what a single `analyze` with the same settings writes.
/// Everything is checked (`plan`) before OUT is touched: the shards belong to one run, cover
/// its frames exactly once, and the movie and model are still those they analysed.
public struct ShardMerge {
    /// A finished shard and its frame records.
    struct Shard {
        let directory: URL
        let manifest: ShardManifest
    }

    let shards: [Shard]
    let analysis: Analysis
    let inputs: Analysis.Inputs
    /// What a partial merge lacks (nil when the shards cover every frame).
    let partialResult: String?
    public var progress = true

    /// Checks the shard directories; throws naming every missing, unfinished or overlapping
    /// shard (a gap is merged over only with `allowPartial`).
    public static func plan(_ directories: [URL], output: URL, allowPartial: Bool) throws -> ShardMerge {
        guard !directories.isEmpty else { throw InputError("give the shard directories to merge") }
        var finished: [Shard] = [], problems: [String] = []
        for dir in directories {
            guard dir.standardizedFileURL != output.standardizedFileURL else {
                throw InputError("\(dir.path): is also --out; merge into another directory")
            }
            if let m = try ShardManifest.read(in: dir) { finished.append(Shard(directory: dir, manifest: m)) } else {
                problems.append(unfinishedNote(dir))
            }
        }
        guard let first = finished.first else {
            throw InputError("no finished shard to merge: \(problems.joined(separator: "; "))")
        }
        for s in finished.dropFirst() where s.manifest.identity != first.manifest.identity {
            let keys = AnalysisJournal.differingKeys(Data(first.manifest.identity.utf8), Data(s.manifest.identity.utf8))
            throw InputError("\(s.directory.path): another analysis than \(first.directory.path) (\(keys.joined(separator: ", "))); "
                             + "shards merge only with identical settings, movie and model")
        }
        finished.sort { $0.manifest.firstFrame < $1.manifest.firstFrame }
        let gaps = try coverageGaps(finished)
        let partial = gaps.isEmpty ? nil : "frames " + gaps.map { "\($0)" }.joined(separator: ", ") + " missing"
        if let partial {
            let named = problems.isEmpty ? "" : " (\(problems.joined(separator: "; ")))"
            guard allowPartial else {
                throw InputError("the shards do not cover frames \(first.manifest.analysedFrames): \(partial)\(named); "
                                 + "pass --allow-partial to merge what is there")
            }
            FileHandle.standardError.write(Data("warning: partial result: \(partial)\(named)\n".utf8))
        } else if !problems.isEmpty {
            FileHandle.standardError.write(Data("note: every frame is covered; ignored \(problems.joined(separator: "; "))\n".utf8))
        }
        let analysis = try Analysis(config: first.manifest.config, output: output)
        try analysis.config.validate()
        let inputs = try Analysis.Inputs(analysis.config)
        guard String(decoding: try analysis.runIdentity(inputs, shard: nil), as: UTF8.self) == first.manifest.identity else {
            throw InputError("\(analysis.config.movie): the movie or the model changed since the shards were analysed")
        }
        return ShardMerge(shards: finished, analysis: analysis, inputs: inputs, partialResult: partial)
    }

    /// Frame ranges of the analysis that no shard covers; throws when two shards overlap.
    static func coverageGaps(_ sorted: [Shard]) throws -> [Range<Int>] {
        let all = sorted[0].manifest.analysedFrames
        var gaps: [Range<Int>] = [], cursor = all.lowerBound, previous: Shard?
        for s in sorted {
            let frames = s.manifest.frames
            if frames.lowerBound < cursor, let p = previous {
                throw InputError("\(s.directory.path) (shard \(s.manifest.shard), frames \(frames)) overlaps "
                                 + "\(p.directory.path) (shard \(p.manifest.shard), frames \(p.manifest.frames)); give each frame once")
            }
            if frames.lowerBound > cursor { gaps.append(cursor..<frames.lowerBound) }
            cursor = frames.upperBound
            previous = s
        }
        if cursor < all.upperBound { gaps.append(cursor..<all.upperBound) }
        return gaps
    }

    /// Why a directory holds no finished shard.
    static func unfinishedNote(_ dir: URL) -> String {
        guard FileManager.default.fileExists(atPath: dir.path) else { return "\(dir.path): missing" }
        guard let (identity, records, _) = AnalysisJournal.read(AnalysisJournal.journalURL(in: dir)) else {
            return "\(dir.path): no finished shard (failed before its first frame?)"
        }
        let shard = (try? JSONSerialization.jsonObject(with: identity) as? [String: Any])?["shard"] as? String
        return "\(dir.path): shard \(shard ?? "?") unfinished after \(records.count) frames (rerun it with --resume)"
    }

    /// Writes OUT: config.json, the joined atoms.csv and overlays, then the movie-wide stages.
    @discardableResult
    public func run() throws -> AnalysisSummary {
        var clock = Analysis.StageClock()
        let output = analysis.output
        try AtomicFile.writeJSON(analysis.config, to: analysis.file("config.json"))
        try joinAtomTables(to: analysis.file(MovieLocator.atomsFile))
        try copyOverlays(to: output)
        let (collector, kinetics) = analysis.movieWideStages(inputs)
        var totals = Analysis.FrameTotals(atomsPerClass: Array(repeating: 0, count: inputs.symbols.count))
        let bar = ProgressBar("merge", total: shards.count, unit: "shards", quiet: !progress)
        for s in shards {
            for r in try records(of: s) { totals.absorb(r, into: collector, kinetics: kinetics, inputs: inputs) }
            bar.advance(status: s.directory.lastPathComponent)
        }
        bar.finish()
        clock.lap("merge shards")
        return try analysis.finish(inputs, totals: totals, collector: collector, kinetics: kinetics, clock: &clock,
                                   partialResult: partialResult)
    }

    /// A shard's frame records, one per frame of its range, in order.
    func records(of s: Shard) throws -> [AnalysisJournal.FrameRecord] {
        let url = s.directory.appendingPathComponent(ShardManifest.journalFile)
        guard let (_, records, _) = AnalysisJournal.read(url), records.map(\.frame) == Array(s.manifest.frames) else {
            throw InputError("\(url.path): missing or damaged (expected records of frames \(s.manifest.frames)); rerun the shard with --overwrite")
        }
        return records
    }

    /// The shards' atom tables in frame order, one header, streamed (tables can be gigabytes).
    func joinAtomTables(to url: URL) throws {
        let tmp = AtomicFile.temporaryURL(for: url)
        let out = try AppendOnlyFile(tmp, truncatingTo: 0)
        var header: Data?
        for s in shards {
            let path = s.directory.appendingPathComponent(MovieLocator.atomsFile).path
            guard let h = FileHandle(forReadingAtPath: path) else { throw InputError("\(path): cannot be read") }
            defer { try? h.close() }
            var chunk = try h.read(upToCount: 1 << 22) ?? Data()
            guard let newline = chunk.firstIndex(of: UInt8(ascii: "\n")) else { throw InputError("\(path): no header line") }
            let own = chunk[...newline]
            if let header, header != own { throw InputError("\(path): its header differs from the other shards'") }
            if header == nil { header = Data(own); try out.write(Data(own)) }
            chunk = Data(chunk[(newline + 1)...])
            while !chunk.isEmpty {
                try out.write(chunk)
                chunk = try h.read(upToCount: 1 << 22) ?? Data()
            }
        }
        try out.close()
        try AtomicFile.commit(tmp, to: url)
    }

    /// Overlays drawn by the shards (each frame's by the shard that analysed it).
    func copyOverlays(to output: URL) throws {
        for s in shards {
            for name in try FileManager.default.contentsOfDirectory(atPath: s.directory.path)
            where name.hasPrefix("overlay_") && name.hasSuffix(".png") {
                let target = output.appendingPathComponent(name), tmp = AtomicFile.temporaryURL(for: target)
                try FileManager.default.copyItem(at: s.directory.appendingPathComponent(name), to: tmp)
                try AtomicFile.commit(tmp, to: target)
            }
        }
    }
}
