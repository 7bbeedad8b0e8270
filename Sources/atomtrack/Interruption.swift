import Foundation
import Pipeline

/// SIGINT/SIGTERM: remove the temp files of outputs still being written, then die of the
/// signal (status 130/143 in the shell).
/// Every output is written to a temp file and renamed when complete, so what remains after an
/// interruption is exactly the finished files (`train --resume` and `analyze --resume` continue).
///
/// The signal handler only writes the signal number to a pipe (async-signal-safe); a thread of
/// its own waits on the pipe and does the cleanup. A Dispatch signal source would need a thread
/// of Dispatch's pool, which the parallel kernels keep busy: measured, Ctrl-C then waited for
/// the whole run to finish.
enum Interruption {
    /// A line printed after the interruption note, e.g. how to continue (set by `analyze`).
    nonisolated(unsafe) static var resumeHint: String?

    static func install() {
        var fds: [Int32] = [-1, -1]
        guard pipe(&fds) == 0 else { return }
        signalPipe = fds[1]
        // A launcher may hand us these signals blocked (the mask is inherited); take them.
        var set = sigset_t()
        sigemptyset(&set)
        for sig in [SIGINT, SIGTERM] {
            sigaddset(&set, sig)
            signal(sig) { s in
                var byte = UInt8(truncatingIfNeeded: s)
                _ = write(signalPipe, &byte, 1)
            }
        }
        pthread_sigmask(SIG_UNBLOCK, &set, nil)
        let reader = fds[0]
        Thread.detachNewThread {
            var byte: UInt8 = 0
            while read(reader, &byte, 1) != 1 {}
            OutputDirectory.removeUnfinishedFiles()
            FileHandle.standardError.write(Data("\natomtrack: interrupted; finished outputs are complete, unfinished ones were removed\n\(resumeHint.map { $0 + "\n" } ?? "")".utf8))
            // Die of the signal itself (the shell shows 130/143, and a calling script sees an
            // interruption, not an error). Not exit(): its handlers (OpenBLAS's shutdown among
            // them) can wait for worker threads still computing — measured: a process that
            // printed this line and then hung until SIGKILL.
            let sig = Int32(byte)
            signal(sig, SIG_DFL)
            raise(sig)
            _exit(128 + sig)
        }
    }
}

/// Write end of the interruption pipe, read by the signal handler.
nonisolated(unsafe) private var signalPipe: Int32 = -1
