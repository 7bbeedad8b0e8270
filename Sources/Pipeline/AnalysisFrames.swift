import Core
import Foundation
import Localization
import MicroscopyIO

/// The streamed part of `Analysis.run`: every frame is located, its defects cropped and its
/// drift sample taken while it is in memory, then journaled so a later run can resume.
extension Analysis {
    /// What the per-frame stages keep of each frame.
    struct FrameTotals {
        var atomsPerClass: [Int]
        var driftAtoms: [[FrameAtom]] = []
        /// Frames absorbed so far (one drift sample each).
        var frames: Int { driftAtoms.count }

        /// Adds a finished frame (its defects go to `collector`). The record of the first
        /// analysed frame holds all its atoms, whose drift sample is taken here; the others
        /// hold only their drift sample.
        mutating func absorb(_ r: AnalysisJournal.FrameRecord, into collector: DefectCollector, kinetics: Kinetics, inputs: Inputs) {
            for (c, n) in r.classCounts.enumerated() where c < atomsPerClass.count { atomsPerClass[c] += n }
            let isFirst = r.frame == inputs.frames.lowerBound
            driftAtoms.append(isFirst ? kinetics.driftSample(r.atoms, width: inputs.movie.width, height: inputs.movie.height) : r.atoms)
            collector.append(r.defects)
        }
    }

    /// Stages 1–3 over the frames of `part` (all analysed frames, or a shard's) not finished
    /// yet: atoms.csv and overlays, defect crops into `collector`, drift samples into the totals.
    /// Returns the open journal (removed when the run ends).
    func locateFrames(_ inputs: Inputs, frames part: Range<Int>, shard: ShardSpec? = nil, collector: DefectCollector,
                      kinetics: Kinetics, resume: Bool) throws -> (FrameTotals, AnalysisJournal) {
        let frames = inputs.frames, movie = inputs.movie
        var totals = FrameTotals(atomsPerClass: Array(repeating: 0, count: inputs.symbols.count))
        func absorb(_ r: AnalysisJournal.FrameRecord) { totals.absorb(r, into: collector, kinetics: kinetics, inputs: inputs) }
        let locator = movieLocator(inputs)
        let (journal, replayed) = try openJournal(inputs, shard: shard, header: locator.tableHeader, resume: resume)
        replayed.forEach(absorb)

        let remaining = (part.lowerBound + totals.frames)..<part.upperBound
        _ = try locator.run(movie: movie, frames: remaining, to: output, table: journal.atomTable,
                            progress: progress, alreadyDone: totals.frames) { index, image, found, normalized in
            var counts = Array(repeating: 0, count: inputs.symbols.count)
            for a in found { counts[a.classIndex] += 1 }
            let record = AnalysisJournal.FrameRecord(
                frame: index, atomTableBytes: journal.atomTable.size, classCounts: counts,
                atoms: index == frames.lowerBound ? found : kinetics.driftSample(found, width: image.width, height: image.height),
                defects: try defects(of: index, image, found, normalized, collector: collector))
            try journal.append(record)
            absorb(record)
            if let stop = stopAfterFrames, totals.frames >= stop { throw Stopped(framesDone: totals.frames) }
        }
        try journal.commitAtomTable(to: file(MovieLocator.atomsFile))
        return (totals, journal)
    }

    /// A frame's defect contribution. A frame the locator skipped (NaN/Inf pixels) has no
    /// normalized frame and contributes nothing, as it contributes no atoms.
    func defects(of index: Int, _ image: GrayImage, _ atoms: [FrameAtom], _ normalized: NormalizedFrame?,
                 collector: DefectCollector) throws -> DefectCollector.FrameContribution {
        guard let normalized else { return DefectCollector.FrameContribution(frame: index) }
        return try collector.collect(frame: index, pixels: image.pixels, normalized: normalized.pixels,
                                     width: image.width, height: image.height, atoms: atoms)
    }

    /// A locator that streams the atom table without keeping the atoms, with overlays of the
    /// requested frames, or of the first analysed one when none is in range.
    func movieLocator(_ inputs: Inputs) -> MovieLocator {
        var locator = MovieLocator(finder: inputs.finder, pixelSize: inputs.calibration.pixelSize)
        locator.keepAtoms = false
        locator.located = inputs.frame0
        locator.overlayFrames = Set(config.overlayFrames.filter(inputs.frames.contains))
        if locator.overlayFrames.isEmpty { locator.overlayFrames = [inputs.frames.lowerBound] }
        return locator
    }

    /// The journal to continue (with the records of its finished frames) or a fresh one.
    func openJournal(_ inputs: Inputs, shard: ShardSpec?, header: String, resume: Bool) throws -> (AnalysisJournal, [AnalysisJournal.FrameRecord]) {
        let identity = try runIdentity(inputs, shard: shard)
        if resume, let (journal, records) = try AnalysisJournal.resume(in: output, identity: identity) {
            return (journal, records)
        }
        let journal = try AnalysisJournal.create(in: output, identity: identity)
        try journal.atomTable.write(header)
        return (journal, [])
    }

    /// What a journal must match to be resumed (and shards to be merged): every setting, the
    /// movie (size and a checksum of its ends), the model's weights, and the shard if any.
    func runIdentity(_ inputs: Inputs, shard: ShardSpec?) throws -> Data {
        struct Identity: Encodable {
            var config: AnalysisConfig
            var movie: String
            var model: String
            var shard: String?
        }
        let movie = inputs.movie, frames = inputs.frames
        let weights = FileManager.default.contents(atPath: inputs.model.directory.appendingPathComponent(TrainedModel.weightsFile).path) ?? Data()
        let identity = Identity(
            config: config,
            movie: "\(movie.frameCount) frames of \(movie.width)×\(movie.height), \(Self.fingerprint(of: movie.url)), analysing \(frames)",
            model: String(Checksum.fnv1a(weights), radix: 16), shard: shard?.description)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return try encoder.encode(identity)
    }

    /// A movie file's size and the FNV-1a checksum of its first and last MiB: cheap for a
    /// 64 GB series, and another movie (or one rewritten in place) differs. A folder (PNG
    /// series) gives its entry count.
    static func fingerprint(of url: URL) -> String {
        let fm = FileManager.default
        if let entries = try? fm.contentsOfDirectory(atPath: url.path) { return "folder of \(entries.count) entries" }
        guard let size = (try? fm.attributesOfItem(atPath: url.path)[.size]) as? Int, let h = FileHandle(forReadingAtPath: url.path) else {
            return "? bytes"
        }
        defer { try? h.close() }
        let window = 1 << 20
        var ends = (try? h.read(upToCount: window)) ?? Data()
        if size > window, (try? h.seek(toOffset: UInt64(max(window, size - window)))) != nil { ends += (try? h.read(upToCount: window)) ?? Data() }
        return "\(size) bytes, ends \(String(Checksum.fnv1a(ends), radix: 16))"
    }
}
