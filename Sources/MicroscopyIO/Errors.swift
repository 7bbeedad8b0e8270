import Foundation

/// Everything that can go wrong reading or writing microscopy files.
/// Each case prints one line naming the file and the problem.
public enum MicroscopyIOError: Error, CustomStringConvertible, Equatable {
    /// The path does not exist.
    case fileNotFound(path: String)
    /// A directory was given where a file was expected.
    case isDirectory(path: String)
    /// The extension or magic bytes match no supported format.
    case unknownFormat(path: String, detail: String)
    /// The file is truncated or its structure is inconsistent.
    case corrupt(path: String, detail: String)
    /// The file is valid but uses a sample format / layout this reader does not support.
    case unsupported(path: String, detail: String)
    /// Width, height or frame count is zero.
    case emptyImage(path: String, detail: String)
    /// Header dimensions too large to be real (refused before allocating).
    case absurdDimensions(path: String, detail: String)
    /// Frames of one stack or series differ in size or sample type.
    case inconsistentFrames(path: String, detail: String)
    /// A numbered PNG series misses a number.
    case seriesGap(path: String, detail: String)
    /// The data are not a 2-D image or 3-D stack (e.g. a 1-D spectrum).
    case notAnImage(path: String, detail: String)
    /// A frame index outside 0..<frameCount.
    case frameOutOfRange(path: String, index: Int, count: Int)
    /// Pixel values that the chosen output sample type cannot hold.
    case unrepresentable(path: String, detail: String)
    /// The operating system or the codec refused a write.
    case writeFailed(path: String, detail: String)
    /// `--signal` names no image signal of the file.
    case noSuchSignal(path: String, signal: String, available: String)
    /// A caller passed inconsistent arguments (e.g. pixel count ≠ width × height).
    case invalidArgument(detail: String)
    /// The file exists but may not be read (permissions): not a corrupt file.
    case unreadable(path: String, detail: String)

    public var description: String {
        switch self {
        case .fileNotFound(let p): return "\(p): no such file"
        case .isDirectory(let p): return "\(p): is a directory, expected a file"
        case .unknownFormat(let p, let d): return "\(p): unknown format (\(d))"
        case .corrupt(let p, let d): return "\(p): corrupt or truncated file: \(d)"
        case .unreadable(let p, let d): return "\(p): cannot read: \(d)"
        case .unsupported(let p, let d): return "\(p): unsupported: \(d)"
        case .emptyImage(let p, let d): return "\(p): empty image: \(d)"
        case .absurdDimensions(let p, let d): return "\(p): implausible dimensions: \(d)"
        case .inconsistentFrames(let p, let d): return "\(p): frames differ: \(d)"
        case .seriesGap(let p, let d): return "\(p): gap in PNG series numbering: \(d)"
        case .notAnImage(let p, let d): return "\(p): not an image: \(d)"
        case .frameOutOfRange(let p, let i, let n): return "\(p): frame \(i) out of range 0..<\(n)"
        case .unrepresentable(let p, let d): return "\(p): cannot store pixels: \(d)"
        case .writeFailed(let p, let d): return "\(p): write failed: \(d)"
        case .noSuchSignal(let p, let s, let a): return "\(p): no signal '\(s)' (\(a))"
        case .invalidArgument(let d): return "invalid argument: \(d)"
        }
    }
}
