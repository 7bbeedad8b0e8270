import DefectLibrary
import Core
import Foundation
import MicroscopyIO

/// The progress of an `analyze` run, so that an interrupted run continues (`--resume`)
/// without redoing finished frames. It lives in OUT/.resume/ and is removed once the run
/// has written everything:
/// - `journal`: append-only records. First the run's identity (settings, movie, model), then
///   one record per finished frame holding what the later stages need — its defects and
///   crops, its atom counts, its lattice-drift sample — and the atom table's length after
///   its rows. A record cut short by a kill fails its checksum and is dropped (that frame is redone).
/// - `atoms.csv`: the atom table so far; on resume it is cut back to the last finished frame.
final class AnalysisJournal {
    struct FrameRecord: Equatable {
        var frame: Int
        var atomTableBytes: UInt64
        /// Atoms per class index.
        var classCounts: [Int]
        /// Every atom of the first analysed frame (the report draws them); the drift sample otherwise.
        var atoms: [FrameAtom]
        var defects: DefectCollector.FrameContribution
    }

    static let directoryName = ".resume"
    let directory: URL
    let atomTable: AppendOnlyFile
    private let journal: AppendOnlyFile

    static func journalURL(in output: URL) -> URL {
        output.appendingPathComponent(directoryName).appendingPathComponent("journal")
    }

    private init(directory: URL, journalBytes: UInt64, atomTableBytes: UInt64) throws {
        self.directory = directory
        journal = try AppendOnlyFile(directory.appendingPathComponent("journal"), truncatingTo: journalBytes)
        atomTable = try AppendOnlyFile(directory.appendingPathComponent("atoms.csv"), truncatingTo: atomTableBytes)
    }

    /// Starts a fresh journal, replacing any earlier one.
    static func create(in output: URL, identity: Data) throws -> AnalysisJournal {
        let dir = output.appendingPathComponent(directoryName)
        try? FileManager.default.removeItem(at: dir)
        do { try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true) } catch {
            throw InputError("\(dir.path): cannot create (\(error.localizedDescription))")
        }
        let j = try AnalysisJournal(directory: dir, journalBytes: 0, atomTableBytes: 0)
        try j.journal.write(frame(identity))
        return j
    }

    /// Reopens an interrupted run's journal with its finished frames; nil when OUT holds none
    /// or none of its frames finished.
    /// Throws when the journal belongs to a run with other settings, movie or model.
    static func resume(in output: URL, identity: Data) throws -> (AnalysisJournal, [FrameRecord])? {
        let url = journalURL(in: output)
        guard let (first, records, journalBytes) = read(url) else { return nil }   // killed before the first record
        guard first == identity else {
            throw InputError("\(url.path): the interrupted run used other settings, another movie or another model "
                             + "(\(differingKeys(first, identity).joined(separator: ", "))); pass --overwrite to start over")
        }
        guard !records.isEmpty else { return nil }   // no frame finished: start afresh (header included)
        // Stopped after the table was moved into place (every frame done, a later stage not):
        // it comes back into the journal's folder.
        let dir = url.deletingLastPathComponent()
        let table = dir.appendingPathComponent("atoms.csv"), finished = output.appendingPathComponent(MovieLocator.atomsFile)
        if !FileManager.default.fileExists(atPath: table.path) && FileManager.default.fileExists(atPath: finished.path) {
            try FileManager.default.moveItem(at: finished, to: table)
        }
        let j = try AnalysisJournal(directory: dir, journalBytes: UInt64(journalBytes),
                                    atomTableBytes: records.last?.atomTableBytes ?? 0)
        guard j.atomTable.size == (records.last?.atomTableBytes ?? 0) else {
            throw InputError("\(j.atomTable.url.path): shorter than its journal says; pass --overwrite to start over")
        }
        return (j, records)
    }

    /// A journal's identity, its intact frame records and their length in bytes; nil when the
    /// file is absent or not even its identity was written.
    static func read(_ url: URL) -> (identity: Data, records: [FrameRecord], bytes: Int)? {
        guard let data = FileManager.default.contents(atPath: url.path) else { return nil }
        let bytes = [UInt8](data)
        guard let (first, start) = unframe(bytes, at: 0) else { return nil }
        var records: [FrameRecord] = [], journalBytes = start
        while let (payload, next) = unframe(bytes, at: journalBytes) {
            var reader = ByteReader(payload)
            guard let r = try? decodeRecord(&reader) else { break }
            records.append(r)
            journalBytes = next
        }
        return (Data(first), records, journalBytes)
    }

    func append(_ record: FrameRecord) throws {
        var w = ByteWriter()
        Self.encode(record, &w)
        try journal.write(Self.frame(Data(w.bytes)))
    }

    /// Moves the finished atom table to `url`.
    func commitAtomTable(to url: URL) throws {
        try atomTable.close()
        try AtomicFile.commit(atomTable.url, to: url)
    }

    /// Moves the finished journal to `url` (a shard keeps its frame records for `merge`) and
    /// removes the rest of the folder.
    func keep(as url: URL) throws {
        try journal.close()
        try AtomicFile.commit(journal.url, to: url)
        remove()
    }

    /// Removes the journal once every output is written.
    func remove() {
        try? journal.close()
        try? FileManager.default.removeItem(at: directory)
    }

    // MARK: - Record framing: magic, payload length, payload, FNV-1a checksum

    private static let magic: [UInt8] = Array("ATJ1".utf8)

    private static func frame(_ payload: Data) -> Data {
        var w = ByteWriter()
        w.raw(magic)
        w.int(payload.count)
        w.raw(payload)
        w.int(Int(bitPattern: UInt(Checksum.fnv1a(payload))))
        return Data(w.bytes)
    }

    private static func unframe(_ bytes: [UInt8], at start: Int) -> ([UInt8], Int)? {
        var r = ByteReader(bytes, at: start)
        guard let m = try? r.raw(4), m == magic, let n = try? r.int(), n >= 0, n <= bytes.count,
              let payload = try? r.raw(n), let sum = try? r.int(), UInt64(UInt(bitPattern: sum)) == Checksum.fnv1a(payload) else { return nil }
        return (payload, r.offset)
    }

    static func differingKeys(_ a: Data, _ b: Data) -> [String] {
        guard let x = try? JSONSerialization.jsonObject(with: a) as? [String: Any],
              let y = try? JSONSerialization.jsonObject(with: b) as? [String: Any] else { return ["unreadable identity"] }
        return Set(x.keys).union(y.keys).sorted().filter { k in
            (x[k].map { "\($0)" }) != (y[k].map { "\($0)" })
        }.map { $0 + " differs" }
    }

    // MARK: - Frame records

    private static func encode(_ r: FrameRecord, _ w: inout ByteWriter) {
        w.int(r.frame)
        w.int(Int(r.atomTableBytes))
        w.ints(r.classCounts)
        w.int(r.atoms.count)
        for a in r.atoms {
            w.double(a.x); w.double(a.y); w.int(a.classIndex); w.float(a.score); w.raw([a.border ? 1 : 0])
        }
        let c = r.defects
        w.int(c.frame); w.int(c.skippedAtBorder); w.raw([c.latticeFailed ? 1 : 0])
        w.int(c.defects.count)
        for d in c.defects {
            w.int(d.frame); w.double(d.x); w.double(d.y)
            switch d.kind {
            case .atom(let k): w.raw([0]); w.int(k)
            case .vacancy(let k): w.raw([1]); w.int(k)
            }
        }
        w.int(c.crops.count)
        for crop in c.crops { w.floats(crop) }
    }

    private static func decodeRecord(_ r: inout ByteReader) throws -> FrameRecord {
        let frame = try r.int(), tableBytes = try r.int(), counts = try r.ints()
        var atoms: [FrameAtom] = []
        for _ in 0..<(try r.count(minimumBytesEach: 29)) {
            atoms.append(FrameAtom(frame: frame, x: try r.double(), y: try r.double(), classIndex: try r.int(),
                                   score: try r.float(), border: try r.byte() != 0))
        }
        var c = DefectCollector.FrameContribution(frame: try r.int())
        c.skippedAtBorder = try r.int()
        c.latticeFailed = try r.byte() != 0
        for _ in 0..<(try r.count(minimumBytesEach: 33)) {
            let f = try r.int(), x = try r.double(), y = try r.double(), tag = try r.byte(), k = try r.int()
            c.defects.append(DefectObject(frame: f, x: x, y: y, kind: tag == 0 ? .atom(classIndex: k) : .vacancy(sublattice: k)))
        }
        for _ in 0..<(try r.count(minimumBytesEach: 8)) { c.crops.append(try r.floats()) }
        return FrameRecord(frame: frame, atomTableBytes: UInt64(tableBytes), classCounts: counts, atoms: atoms, defects: c)
    }
}

/// A file written by appending, each write straight to disk (no buffer to lose), that can be
/// reopened and cut back to a known length.
final class AppendOnlyFile {
    let url: URL
    private(set) var size: UInt64
    private var handle: FileHandle?

    init(_ url: URL, truncatingTo length: UInt64) throws {
        self.url = url
        if !FileManager.default.fileExists(atPath: url.path) {
            guard FileManager.default.createFile(atPath: url.path, contents: nil) else {
                throw InputError("\(url.path): cannot create (is the directory writable?)")
            }
        }
        guard let h = FileHandle(forWritingAtPath: url.path) else { throw InputError("\(url.path): cannot open for writing") }
        try h.truncate(atOffset: length)
        size = try h.seekToEnd()
        handle = h
    }

    func write(_ text: String) throws { try write(Data(text.utf8)) }

    func write(_ data: Data) throws {
        guard let h = handle else { throw InputError("\(url.path): already closed") }
        do { try h.write(contentsOf: data) } catch {
            throw InputError("\(url.path): write failed (\(error.localizedDescription)); is the disk full?")
        }
        size += UInt64(data.count)
    }

    func close() throws {
        try handle?.close()
        handle = nil
    }
}
