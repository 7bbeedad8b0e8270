import CBLAS
import Core
import Foundation

/// `--threads N`, accepted before or after the command name: caps AtomTrack's parallel loops
/// and OpenBLAS's threads. Read before the argument parser runs, since it applies to every command.
enum ThreadsOption {
    static let help = "--threads N   use at most N threads (parallel loops and OpenBLAS); default: all cores"

    /// The arguments without `--threads N` / `--threads=N`, after applying it.
    static func apply(_ arguments: [String]) -> [String] {
        var rest: [String] = [], i = 0
        while i < arguments.count {
            let a = arguments[i]
            if a == "--" { rest += arguments[i...]; break }
            var value: String?
            if a == "--threads" {
                i += 1
                value = i < arguments.count ? arguments[i] : ""
            } else if a.hasPrefix("--threads=") {
                value = String(a.dropFirst("--threads=".count))
            }
            if let value {
                guard let n = Int(value), (1...1024).contains(n) else {
                    FileHandle.standardError.write(Data("atomtrack: error: --threads \(value) is invalid: expected 1–1024\n".utf8))
                    exit(64)
                }
                parallelThreadLimit = n
                openblas_set_num_threads(Int32(n))
            } else {
                rest.append(a)
            }
            i += 1
        }
        return rest
    }
}
