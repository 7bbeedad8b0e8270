import Foundation

/// AtomTrack's version, printed by `atomtrack --version` and recorded in every output's metadata.
public let atomTrackVersion = "0.1.0"

/// The version with the commit it was built from, for `atomtrack --version`: an installed binary
/// reads the commit `scripts/install.sh` recorded in `share/atomtrack/commit`; a binary in its
/// checkout asks git for the checkout's commit (`+dirty` when it has uncommitted changes).
public var atomTrackVersionWithCommit: String {
    if let file = ShippedFiles.roots().dropFirst().lazy.map({ $0.appendingPathComponent("commit") })
        .first(where: { FileManager.default.fileExists(atPath: $0.path) }),
       let commit = try? String(contentsOf: file, encoding: .utf8) {
        return "\(atomTrackVersion) (commit \(commit.trimmingCharacters(in: .whitespacesAndNewlines)))"
    }
    guard let checkout = ShippedFiles.checkout, let commit = git(["rev-parse", "--short=12", "HEAD"], in: checkout) else {
        return atomTrackVersion
    }
    let dirty = (git(["status", "--porcelain", "--untracked-files=no"], in: checkout) ?? "").isEmpty ? "" : "+dirty"
    return "\(atomTrackVersion) (commit \(commit)\(dirty))"
}

/// Runs git in `dir`; its trimmed output, or nil when git is missing or fails.
private func git(_ arguments: [String], in dir: URL) -> String? {
    let p = Process(), out = Pipe()
    p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    p.arguments = ["git", "-C", dir.path] + arguments
    p.standardOutput = out
    p.standardError = FileHandle.nullDevice
    guard (try? p.run()) != nil else { return nil }
    let data = out.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    guard p.terminationStatus == 0 else { return nil }
    return String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
}
