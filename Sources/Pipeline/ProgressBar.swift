import Foundation

/// A one-line progress bar on standard error: done/total, rate, ETA and a custom status
/// (e.g. the current loss). Redraws at most a few times per second; silent when `quiet`.
public final class ProgressBar: @unchecked Sendable {
    private let label: String, total: Int, unit: String, quiet: Bool
    private let start = Date()
    private var lastDraw = Date.distantPast
    private let lock = NSLock()
    private var done = 0
    /// Redrawing a line only makes sense on a terminal; a log (e.g. a batch job's) gets a plain
    /// line every `logInterval` seconds and the final line.
    private let interactive = isatty(STDERR_FILENO) != 0
    /// Seconds between plain progress lines in a log: `ATOMTRACK_PROGRESS_INTERVAL`, else 60.
    static let logInterval = ProcessInfo.processInfo.environment["ATOMTRACK_PROGRESS_INTERVAL"].flatMap(Double.init) ?? 60

    public init(_ label: String, total: Int, unit: String = "frames", quiet: Bool = false) {
        self.label = label; self.total = max(total, 1); self.unit = unit; self.quiet = quiet
    }

    /// Marks `count` more items done; `status` is shown after the rate.
    public func advance(by count: Int = 1, status: String = "") {
        lock.lock(); defer { lock.unlock() }
        done += count
        let now = Date()
        let due = interactive ? done >= total || now.timeIntervalSince(lastDraw) > 0.25
                              : done < total && now.timeIntervalSince(lastDraw) >= Self.logInterval
        guard !quiet, due else { return }
        lastDraw = now
        draw(status: status, final: false)
    }

    /// Draws the final state and ends the line.
    public func finish(status: String = "") {
        lock.lock(); defer { lock.unlock() }
        guard !quiet else { return }
        draw(status: status, final: true)
    }

    public var elapsed: TimeInterval { Date().timeIntervalSince(start) }

    private func draw(status: String, final: Bool) {
        let elapsed = max(Date().timeIntervalSince(start), 1e-9)
        let rate = Double(done) / elapsed
        let fraction = min(Double(done) / Double(total), 1)
        let width = 24, filled = Int(fraction * Double(width))
        let bar = String(repeating: "█", count: filled) + String(repeating: "·", count: width - filled)
        let eta = rate > 0 ? Double(total - done) / rate : .infinity
        var line = "\r\(label) [\(bar)] \(done)/\(total) \(String(format: "%.1f", rate)) \(unit)/s"
        line += final ? " in \(Self.duration(elapsed))" : " ETA \(Self.duration(eta))"
        if !status.isEmpty { line += "  \(status)" }
        let text = interactive ? line + "\u{1B}[K" : String(line.dropFirst())
        FileHandle.standardError.write(Data((text + (final || !interactive ? "\n" : "")).utf8))
    }

    static func duration(_ t: TimeInterval) -> String {
        guard t.isFinite else { return "--" }
        let s = Int(t.rounded())
        return s >= 3600 ? String(format: "%dh%02dm", s / 3600, s / 60 % 60)
            : s >= 60 ? String(format: "%dm%02ds", s / 60, s % 60) : "\(s)s"
    }
}
