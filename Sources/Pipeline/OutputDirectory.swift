import Foundation
import MicroscopyIO

public enum OutputDirectoryError: Error, CustomStringConvertible {
    case notADirectory(String)
    case notWritable(String)
    case holdsResults(String, String)
    case emptyPath
    case busy(String)
    case isInput(String, String)
    case unrecorded(String, String)

    public var description: String {
        switch self {
        case .notADirectory(let p): return "\(p): exists and is not a directory"
        case .notWritable(let p): return "\(p): output directory is not writable"
        case .holdsResults(let p, let f): return "\(p): already holds results (\(f)); pass --overwrite to replace them"
        case .emptyPath: return "--out is empty; name an output directory"
        case .busy(let p): return "\(p): another atomtrack run is writing into this directory; wait for it to finish or choose another --out"
        case .isInput(let p, let why): return "\(p): \(why); choose another --out"
        case .unrecorded(let p, let f):
            return "\(p): holds \(f) but no list of the files an AtomTrack run wrote there (\(OutputDirectory.manifestFile)), so --overwrite would not know which files are yours; remove them or choose another --out"
        }
    }
}

/// Prepares an output directory: creates it, locks it for this process, checks that it is
/// writable, and refuses to mix a new run's files with an earlier run's unless the caller says so.
public enum OutputDirectory {
    /// What a command reads, so that OUT never replaces or removes it.
    public struct Input {
        public let url: URL
        /// Read piece by piece while the run writes (a movie): never replaced, even with
        /// `--overwrite`. Other inputs are read whole before anything is written.
        public let streamed: Bool
        public init(_ path: String, streamed: Bool = false) {
            url = URL(fileURLWithPath: path).standardizedFileURL.resolvingSymlinksInPath()
            self.streamed = streamed
        }
    }

    /// - Parameters:
    ///   - markers: file names whose presence means "this directory holds results".
    ///   - allowExisting: `--overwrite` or `--resume` was given.
    ///   - replace: `--overwrite` (not `--resume`): every file an earlier run wrote is removed
    ///     first, so no file of it survives beside the new run's.
    ///   - inputs: the files the command reads; OUT may not be one of them, nor hold one under a
    ///     name AtomTrack writes.
    public static func prepare(_ url: URL, markers: [String], allowExisting: Bool, replace: Bool = false, inputs: [Input] = []) throws {
        try checkInputs(url, inputs, overwrite: replace)
        let fm = FileManager.default
        var isDir: ObjCBool = false
        if fm.fileExists(atPath: url.path, isDirectory: &isDir) {
            guard isDir.boolValue else { throw OutputDirectoryError.notADirectory(url.path) }
        } else {
            do { try fm.createDirectory(at: url, withIntermediateDirectories: true) }
            catch { throw OutputDirectoryError.notWritable(url.path) }
        }
        guard fm.isWritableFile(atPath: url.path) else { throw OutputDirectoryError.notWritable(url.path) }
        // Locked before anything is looked at or removed: from here on no other run writes here.
        try lock(url)
        removeStaleTemporaryFiles(in: url)
        if !allowExisting, let found = markers.first(where: { fm.fileExists(atPath: url.appendingPathComponent($0).path) }) {
            throw OutputDirectoryError.holdsResults(url.path, found)
        }
        if replace { try removeEarlierRun(in: url, keeping: inputs.map(\.url)) }
        AtomicFile.listCommits(in: url, to: url.appendingPathComponent(manifestFile))
    }

    /// Removes the temp files of outputs still being written (for a SIGINT/SIGTERM handler):
    /// finished outputs stay, half-written ones disappear.
    public static func removeUnfinishedFiles() { AtomicFile.removePending() }

    // MARK: - The lock

    static let lockFile = ".atomtrack.lock"
    /// Descriptors of the lock files this process holds; kept open (and so locked) until it exits.
    nonisolated(unsafe) private static var held: [String: Int32] = [:]
    private static let heldLock = NSLock()

    /// An exclusive `flock` on OUT/.atomtrack.lock, held until the process ends (the kernel drops
    /// it then, also after a crash or SIGKILL, so a stale lock file never blocks a later run).
    static func lock(_ url: URL) throws {
        let path = url.appendingPathComponent(lockFile).path
        heldLock.lock(); defer { heldLock.unlock() }
        if held[path] != nil { return }
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw OutputDirectoryError.notWritable(url.path) }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            close(fd)
            throw OutputDirectoryError.busy(url.path)
        }
        held[path] = fd
    }

    /// Releases OUT's lock (for callers that run several times in one process, e.g. tests).
    public static func unlock(_ url: URL) {
        let path = url.appendingPathComponent(lockFile).path
        heldLock.lock(); defer { heldLock.unlock() }
        if let fd = held.removeValue(forKey: path) { close(fd) }
    }

    // MARK: - Files of earlier runs

    /// Every file name an AtomTrack command writes into an output directory (train's model
    /// directory excepted: `ModelTraining.discardEarlierRun`). `library/` and `.resume/` hold
    /// only AtomTrack's files.
    static let outputNames: Set<String> = [
        "atoms.csv", "defects.csv", "library.json", "bic.csv", "trajectories.csv", "drift.csv", "diffusion.csv", "hops.csv",
        "markov.json", "markov.png", "track.json", "summary.json", "config.json", "report.html", "probabilities.tif",
        "movie.tif", "movie.json", "truth_atoms.csv", "truth_defects.csv", "truth.json", "images.tif", "masks.tif", "points.csv",
        "classes.json", "evaluation.json", "evaluation.csv",
        "voids.csv", "truth_voids.csv", "lattice.json", "departures.csv", "sites.csv", "spectrum.png", "reconstruction.png", "departures.png",
    ]
    static let outputFolders = ["library", ".resume"]

    /// Whether AtomTrack writes (or removes with `--overwrite`) a file of this name directly in OUT.
    static func isOutputName(_ name: String) -> Bool {
        outputNames.contains(name) || (name.hasPrefix("overlay_") && name.hasSuffix(".png")) || isTemporaryName(name)
    }

    /// AtomicFile's temp names: `.NAME.XXXXXXXX.tmp`.
    static func isTemporaryName(_ name: String) -> Bool { name.hasPrefix(".") && name.hasSuffix(".tmp") }

    /// Temp files a killed run left (a SIGKILL runs no handler); safe to remove under the lock.
    static func removeStaleTemporaryFiles(in url: URL) {
        for dir in [url] + outputFolders.map(url.appendingPathComponent) {
            for name in (try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? [] where isTemporaryName(name) {
                try? FileManager.default.removeItem(at: dir.appendingPathComponent(name))
            }
        }
    }

    /// The files AtomTrack runs committed into OUT (relative paths, one a line; `AtomicFile.listCommits`).
    static let manifestFile = ".atomtrack.files"

    /// Removes every file the manifest lists (other files stay, even under AtomTrack's names),
    /// except the inputs, and the `.resume/` journal. Without a manifest a directory that holds
    /// files of AtomTrack's names is refused: they may be the user's (a `config.json`).
    static func removeEarlierRun(in url: URL, keeping inputs: [URL]) throws {
        let fm = FileManager.default
        let keep = Set(inputs.map(\.path))
        let manifest = url.appendingPathComponent(manifestFile)
        guard let listed = try? String(contentsOf: manifest, encoding: .utf8) else {
            let names = ((try? fm.contentsOfDirectory(atPath: url.path)) ?? []).sorted()
            if let found = names.first(where: { isOutputName($0) || outputFolders.contains($0) }) {
                throw OutputDirectoryError.unrecorded(url.path, found)
            }
            return
        }
        let resume = url.appendingPathComponent(".resume").standardizedFileURL.resolvingSymlinksInPath().path + "/"
        if !keep.contains(where: { $0.hasPrefix(resume) }) { try? fm.removeItem(at: url.appendingPathComponent(".resume")) }
        for name in Set(listed.split(separator: "\n").map(String.init)) where isListable(name) {
            let file = url.appendingPathComponent(name)
            if !keep.contains(file.standardizedFileURL.resolvingSymlinksInPath().path) { try? fm.removeItem(at: file) }
        }
        for folder in outputFolders where ((try? fm.contentsOfDirectory(atPath: url.appendingPathComponent(folder).path)) ?? ["x"]).isEmpty {
            try? fm.removeItem(at: url.appendingPathComponent(folder))
        }
        try? fm.removeItem(at: manifest)
    }

    /// A manifest line names a file in OUT or one folder down, never outside it.
    static func isListable(_ name: String) -> Bool {
        let parts = name.split(separator: "/", omittingEmptySubsequences: false)
        return (1...2).contains(parts.count) && parts.allSatisfy { !$0.isEmpty && $0 != "." && $0 != ".." }
    }

    /// OUT may not be an input folder (a PNG series would gain files and become unreadable),
    /// nor hold an input under a name the run writes: a movie read while it is replaced, or
    /// any input replaced without `--overwrite`.
    static func checkInputs(_ url: URL, _ inputs: [Input], overwrite: Bool) throws {
        let out = url.standardizedFileURL.resolvingSymlinksInPath()
        for input in inputs {
            if input.url.path == out.path {
                throw OutputDirectoryError.isInput(url.path, "is an input of this run")
            }
            guard input.url.deletingLastPathComponent().path == out.path,
                  isOutputName(input.url.lastPathComponent) || outputFolders.contains(input.url.lastPathComponent) else { continue }
            if input.streamed || !overwrite {
                throw OutputDirectoryError.isInput(url.path, "holds the input \(input.url.lastPathComponent), which this run would replace")
            }
        }
    }
}
