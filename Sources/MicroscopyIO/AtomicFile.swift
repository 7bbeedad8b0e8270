import Foundation

/// Atomic writes: data go to a temp file in the destination's directory, which is then
/// renamed over the destination, so a crash never leaves half a file.
public enum AtomicFile {
    /// Writes `data` to `url` atomically.
    public static func write(_ data: Data, to url: URL) throws {
        let tmp = temporaryURL(for: url)
        do {
            try data.write(to: tmp)
        } catch {
            try? FileManager.default.removeItem(at: tmp)
            throw MicroscopyIOError.writeFailed(path: url.path, detail: error.localizedDescription)
        }
        try commit(tmp, to: url)
    }

    /// Writes UTF-8 text to `url` atomically.
    public static func writeText(_ text: String, to url: URL) throws {
        try write(Data(text.utf8), to: url)
    }

    /// Writes a CSV table (header row + rows) atomically. Fields containing a comma,
    /// quote or newline are quoted (RFC 4180).
    public static func writeCSV(header: [String], rows: [[String]], to url: URL) throws {
        var text = csvLine(header)
        for r in rows { text += csvLine(r) }
        try writeText(text, to: url)
    }

    /// Encodes `value` as pretty-printed JSON with sorted keys and writes it atomically.
    public static func writeJSON<T: Encodable>(_ value: T, to url: URL) throws {
        let enc = JSONEncoder()
        enc.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        let data: Data
        do { data = try enc.encode(value) } catch {
            throw MicroscopyIOError.writeFailed(path: url.path, detail: "JSON encoding: \(error)")
        }
        try write(data + Data("\n".utf8), to: url)
    }

    static func csvLine(_ fields: [String]) -> String {
        fields.map { f in
            f.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" })
                ? "\"" + f.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : f
        }.joined(separator: ",") + "\n"
    }

    /// A hidden temp name next to `url` (same file system, so rename is atomic). It is
    /// remembered until committed, so an interrupted run can remove it (`removePending()`).
    public static func temporaryURL(for url: URL) -> URL {
        let tmp = url.deletingLastPathComponent()
            .appendingPathComponent(".\(url.lastPathComponent).\(UUID().uuidString.prefix(8)).tmp")
        Pending.shared.insert(tmp.path)
        return tmp
    }

    /// Removes every temp file not yet committed (for a SIGINT/SIGTERM handler): finished
    /// outputs stay, half-written ones disappear.
    public static func removePending() {
        for path in Pending.shared.drain() { unlink(path) }
    }

    /// Renames `tmp` over `url`; removes `tmp` when that fails. A file committed into a
    /// directory given to `listCommits` (or a folder of it) is then listed in its manifest.
    public static func commit(_ tmp: URL, to url: URL) throws {
        defer { Pending.shared.remove(tmp.path) }
        if rename(tmp.path, url.path) != 0 {
            let msg = String(cString: strerror(errno))
            try? FileManager.default.removeItem(at: tmp)
            throw MicroscopyIOError.writeFailed(path: url.path, detail: msg)
        }
        Manifests.shared.note(url)
    }

    /// From now on, every file this process commits into `directory` or one of its folders is
    /// appended (its path relative to `directory`, one a line) to `manifest`, so that a later
    /// `--overwrite` removes exactly the files AtomTrack wrote there.
    public static func listCommits(in directory: URL, to manifest: URL) {
        Manifests.shared.add(directory: directory.standardizedFileURL.path, manifest: manifest.path)
    }

    /// Fails when `url` is a directory or its parent directory does not exist.
    static func checkDestination(_ url: URL) throws {
        var isDir: ObjCBool = false
        if FileManager.default.fileExists(atPath: url.path, isDirectory: &isDir), isDir.boolValue {
            throw MicroscopyIOError.isDirectory(path: url.path)
        }
        let parent = url.deletingLastPathComponent().path
        if !FileManager.default.fileExists(atPath: parent, isDirectory: &isDir) || !isDir.boolValue {
            throw MicroscopyIOError.writeFailed(path: url.path, detail: "directory \(parent) does not exist")
        }
    }
}

/// Temp paths handed out and not yet committed.
private final class Pending: @unchecked Sendable {
    static let shared = Pending()
    private var paths: Set<String> = []
    private let lock = NSLock()
    func insert(_ p: String) { lock.lock(); paths.insert(p); lock.unlock() }
    func remove(_ p: String) { lock.lock(); paths.remove(p); lock.unlock() }
    func drain() -> Set<String> { lock.lock(); defer { paths = []; lock.unlock() }; return paths }
}

/// Directories whose committed files are listed, and their manifests.
private final class Manifests: @unchecked Sendable {
    static let shared = Manifests()
    private var manifests: [String: String] = [:]
    private let lock = NSLock()

    func add(directory: String, manifest: String) { lock.lock(); manifests[directory] = manifest; lock.unlock() }

    /// Appends `url` to the manifest of its directory or of that directory's parent (OUT/library).
    func note(_ url: URL) {
        lock.lock(); defer { lock.unlock() }
        guard !manifests.isEmpty else { return }
        let file = url.standardizedFileURL, parent = file.deletingLastPathComponent()
        for (dir, relative) in [(parent, file.lastPathComponent),
                                (parent.deletingLastPathComponent(), parent.lastPathComponent + "/" + file.lastPathComponent)] {
            guard let manifest = manifests[dir.path] else { continue }
            // Best effort: a file missing from the list is only left behind by a later --overwrite.
            let fd = open(manifest, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o644)
            guard fd >= 0 else { return }
            let line = Array((relative + "\n").utf8)
            _ = line.withUnsafeBytes { Foundation.write(fd, $0.baseAddress, $0.count) }
            close(fd)
            return
        }
    }
}
