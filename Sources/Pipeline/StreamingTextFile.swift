import Core
import Foundation
import MicroscopyIO

/// A text file written in pieces to a hidden temp file beside its destination and renamed
/// into place by `finish()`, so a long run never leaves half a table; `cancel()` (or
/// deinit without `finish()`) removes the temp file.
public final class StreamingTextFile {
    public let url: URL
    private let tmp: URL
    private var handle: FileHandle?
    private var buffer = ""

    public init(_ url: URL) throws {
        self.url = url
        tmp = AtomicFile.temporaryURL(for: url)
        guard FileManager.default.createFile(atPath: tmp.path, contents: nil), let h = FileHandle(forWritingAtPath: tmp.path) else {
            throw InputError("\(url.path): cannot create (is the directory writable?)")
        }
        handle = h
    }

    deinit { if handle != nil { cancel() } }

    public func write(_ text: String) throws {
        buffer += text
        if buffer.utf8.count > 1 << 20 { try flush() }
    }

    private func flush() throws {
        guard let h = handle else { throw InputError("\(url.path): already finished") }
        do { try h.write(contentsOf: Data(buffer.utf8)) } catch {
            throw InputError("\(url.path): write failed (\(error.localizedDescription)); is the disk full?")
        }
        buffer = ""
    }

    public func finish() throws {
        try flush()
        try handle?.close()
        handle = nil
        try AtomicFile.commit(tmp, to: url)
    }

    public func cancel() {
        try? handle?.close()
        handle = nil
        try? FileManager.default.removeItem(at: tmp)
    }
}
