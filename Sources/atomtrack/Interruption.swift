import Dispatch
import Foundation
import MicroscopyIO

/// SIGINT/SIGTERM: remove the temp files of outputs still being written, then exit 130/143.
/// Every output is written to a temp file and renamed when complete, so what remains after an
/// interruption is exactly the finished files (`train --resume` continues from its checkpoint).
enum Interruption {
    nonisolated(unsafe) private static var sources: [DispatchSourceSignal] = []

    static func install() {
        for sig in [SIGINT, SIGTERM] {
            signal(sig, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: sig, queue: .global())
            source.setEventHandler {
                AtomicFile.removePending()
                FileHandle.standardError.write(Data("\natomtrack: interrupted; finished outputs are complete, unfinished ones were removed\n".utf8))
                exit(128 + sig)
            }
            source.resume()
            sources.append(source)
        }
    }
}
