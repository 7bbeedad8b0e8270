import ArgumentParser
import Foundation

/// Runs a command body; any error becomes one line on stderr and exit status 1 — never a trap.
func reportingErrors(_ body: () throws -> Void) throws {
    do { try body() } catch let e as ExitCode { throw e } catch let e as CleanExit { throw e } catch {
        FileHandle.standardError.write(Data("atomtrack: error: \(error)\n".utf8))
        throw ExitCode.failure
    }
}
