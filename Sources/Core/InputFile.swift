import Foundation

/// Whole input files (recipes, configurations), read with errors that name the file.
public enum InputFile {
    /// The file's bytes; a missing file, a directory or an unreadable file is a one-line `InputError`.
    public static func read(_ path: String) throws -> Data {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir) else { throw InputError("\(path): no such file") }
        guard !isDir.boolValue else { throw InputError("\(path): is a directory, expected a file") }
        do { return try Data(contentsOf: URL(fileURLWithPath: path)) } catch {
            throw InputError("\(path): cannot read (\(error.localizedDescription))")
        }
    }
}
