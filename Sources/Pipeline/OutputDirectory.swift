import Foundation
import MicroscopyIO

public enum OutputDirectoryError: Error, CustomStringConvertible {
    case notADirectory(String)
    case notWritable(String)
    case holdsResults(String, String)

    public var description: String {
        switch self {
        case .notADirectory(let p): return "\(p): exists and is not a directory"
        case .notWritable(let p): return "\(p): output directory is not writable"
        case .holdsResults(let p, let f): return "\(p): already holds results (\(f)); pass --overwrite to replace them"
        }
    }
}

/// Prepares an output directory: creates it, checks that it is writable, and refuses to mix
/// a new run's files with an earlier run's unless the caller says so.
public enum OutputDirectory {
    /// - Parameters:
    ///   - markers: file names whose presence means "this directory holds results".
    ///   - allowExisting: `--overwrite` or `--resume` was given.
    public static func prepare(_ url: URL, markers: [String], allowExisting: Bool) throws {
        let fm = FileManager.default
        var isDir: ObjCBool = false
        if fm.fileExists(atPath: url.path, isDirectory: &isDir) {
            guard isDir.boolValue else { throw OutputDirectoryError.notADirectory(url.path) }
            if !allowExisting, let found = markers.first(where: { fm.fileExists(atPath: url.appendingPathComponent($0).path) }) {
                throw OutputDirectoryError.holdsResults(url.path, found)
            }
        } else {
            do { try fm.createDirectory(at: url, withIntermediateDirectories: true) }
            catch { throw OutputDirectoryError.notWritable(url.path) }
        }
        guard fm.isWritableFile(atPath: url.path) else { throw OutputDirectoryError.notWritable(url.path) }
    }

    /// Removes the temp files of outputs still being written (for a SIGINT/SIGTERM handler):
    /// finished outputs stay, half-written ones disappear.
    public static func removeUnfinishedFiles() { AtomicFile.removePending() }
}
