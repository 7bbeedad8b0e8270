import Core
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Mutation fuzzing of the readers: a seed file's bytes are changed (random bytes, bit flips,
/// 0x00/0xFF runs, large integers, truncation), written to a file of the same name, opened and
/// decoded. The guarantee checked: every variant is either read or refused with one
/// `MicroscopyIOError` line; anything else (another error type, a multi-line message) is a
/// failure, and a crash ends the process with the variant left on disk to reproduce it.
public enum ReaderFuzz {
    public struct Failure: Error, CustomStringConvertible {
        public var iteration: Int, detail: String
        public var description: String { "fuzz iteration \(iteration): \(detail)" }
    }

    public struct Tally: Sendable {
        public var read = 0, refused = 0
        /// Variants that killed the reader's process (only counted with `isolated`), by index.
        public var crashed: [Int] = []
    }

    /// Opens `url` and decodes up to `maxFrames` frames; true when it was read, false when refused.
    public static func exercise(_ url: URL, maxFrames: Int = 64) throws -> Bool {
        do {
            let m = try Movie.open(url)
            var buffer: [Float] = []
            for k in 0..<min(m.frameCount, maxFrames) { try m.readFrame(k, into: &buffer) }
            return true
        } catch let e as MicroscopyIOError {
            guard !e.description.contains("\n") else { throw Failure(iteration: -1, detail: "multi-line error: \(e)") }
            return false
        } catch {
            throw Failure(iteration: -1, detail: "untyped error \(type(of: error)): \(error)")
        }
    }

    /// `exercise` in a forked child: read (true), refused (false) or crashed (nil). A child still
    /// running after `deadline` seconds is killed and counted as crashed: a corrupt file can hang
    /// libhdf5, and a child forked from a multi-threaded process can deadlock on a lock another
    /// thread held at the fork — neither may hang the caller.
    static func exerciseInChild(_ url: URL, deadline: Double = 30) throws -> Bool? {
        let pid = fork()
        if pid == 0 { _exit((try? exercise(url)).map { $0 ? 0 : 1 } ?? 2) }
        guard pid > 0 else { throw Failure(iteration: -1, detail: "fork failed") }
        var status: Int32 = 0
        let start = Date()
        while true {
            let r = waitpid(pid, &status, WNOHANG)
            if r == pid { break }
            if r < 0 && errno != EINTR { throw Failure(iteration: -1, detail: "waitpid failed (errno \(errno))") }
            if Date().timeIntervalSince(start) > deadline {
                kill(pid, SIGKILL)
                while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
                return nil
            }
            usleep(2_000)
        }
        if status & 0x7F != 0 { return nil }  // killed by a signal
        switch (status >> 8) & 0xFF {
        case 0: return true
        case 1: return false
        default: throw Failure(iteration: -1, detail: "untyped or multi-line error (replay it with --count 1 without isolation)")
        }
    }

    /// One variant of `bytes`: 1–8 edits, or a truncation (one in ten).
    public static func mutate(_ bytes: [UInt8], _ g: inout SeededGenerator) -> [UInt8] {
        var b = bytes
        guard !b.isEmpty else { return b }
        if g.int(10) == 0 { return Array(b.prefix(g.int(b.count))) }
        for _ in 0..<(1 + g.int(8)) {
            let i = g.int(b.count)
            switch g.int(5) {
            case 0: b[i] = UInt8(truncatingIfNeeded: g.next())
            case 1: b[i] ^= 1 << UInt8(g.int(8))
            case 2: for k in i..<min(b.count, i + 1 + g.int(16)) { b[k] = 0 }
            case 3: for k in i..<min(b.count, i + 1 + g.int(16)) { b[k] = 0xFF }
            default:  // a large or negative 32-bit integer where a size or offset may sit
                let v = [UInt32.max, 0x8000_0000, 0x7FFF_FFFF, 0x0001_0000, UInt32(b.count)][g.int(5)]
                for k in 0..<4 where i + k < b.count { b[i + k] = UInt8(truncatingIfNeeded: v >> (8 * UInt32(k))) }
            }
        }
        return b
    }

    /// Runs `count` variants of `seedFile` (variant i from `SeededGenerator(seed:index:)`, so any
    /// one can be replayed alone) through the reader its name selects, in `workDir`.
    /// `isolated` decodes each variant in a forked child and counts the ones that crash it:
    /// for the HDF5 formats, whose C library (1.10.8) can itself crash on a corrupt file.
    public static func run(seedFile: URL, count: Int, seed: UInt64, first: Int = 0, workDir: URL, isolated: Bool = false,
                           progress: ((Int, Tally) -> Void)? = nil) throws -> Tally {
        let original = [UInt8](try Data(contentsOf: seedFile))
        let variant = workDir.appendingPathComponent(seedFile.lastPathComponent)
        var tally = Tally()
        for i in first..<(first + count) {
            var g = SeededGenerator(seed: seed, index: i)
            try Data(mutate(original, &g)).write(to: variant)
            do {
                if isolated {
                    switch try exerciseInChild(variant) {
                    case .some(true): tally.read += 1
                    case .some(false): tally.refused += 1
                    case .none: tally.crashed.append(i)
                    }
                } else if try exercise(variant) { tally.read += 1 } else { tally.refused += 1 }
            } catch var f as Failure {
                f.iteration = i
                throw f
            }
            if (i + 1) % 10_000 == 0 { progress?(i + 1, tally) }
        }
        try? FileManager.default.removeItem(at: variant)
        return tally
    }
}
