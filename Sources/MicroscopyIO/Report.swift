import Foundation

/// What `atomtrack info` shows: the header facts and, streamed over all frames, the value range.
public struct MovieReport: Codable, Sendable, Equatable {
    public var path: String
    public var format: String
    public var frames: Int
    public var width: Int
    public var height: Int
    public var dtype: String
    /// Pixel size in Å for square pixels, else nil.
    public var pixelSizeA: Double?
    /// Per-axis calibration as the file states it, e.g. "x 1 nm, y 2 Å".
    public var calibration: String?
    public var min: Double?
    public var max: Double?
    public var mean: Double?
    public var nanCount: Int?
    public var infCount: Int?
    /// Key/value metadata the file carries (TIFF ImageDescription JSON).
    public var metadata: [String: String]
    /// Seconds between frames as the file states it, and the metadata key it came from.
    public var frameTimeS: Double?
    public var frameTimeSource: String?
    /// The signals of a multi-signal file and the one described.
    public var signals: [String]?
    public var signal: String?

    /// Reads the header, and with `scanPixels` every frame (one at a time) for the value range.
    public init(movie: Movie, scanPixels: Bool = true) throws {
        let i = movie.info
        path = movie.url.path
        format = i.format.rawValue
        frames = i.frameCount; width = i.width; height = i.height
        dtype = i.sampleType.rawValue
        metadata = i.metadata
        pixelSizeA = i.calibration?.pixelSizeA
        calibration = i.calibration.map { c in
            var parts = ["x \(c.x.scale.clean) \(c.x.unit)", "y \(c.y.scale.clean) \(c.y.unit)"]
            if let z = c.z { parts.append("z \(z.scale.clean) \(z.unit)") }
            return parts.joined(separator: ", ")
        }
        frameTimeS = i.frameTime?.seconds
        frameTimeSource = i.frameTime?.key
        signals = i.signals.isEmpty ? nil : i.signals
        signal = i.signal
        guard scanPixels else { return }
        var s = ValueStats()
        // Band by band: a 16384² TIFF page costs a strip of memory here, not a 1 GiB frame.
        for k in 0..<frames { try movie.forEachBand(ofFrame: k) { s.add($0) } }
        if s.finiteCount > 0 { min = Double(s.minimum); max = Double(s.maximum); mean = s.mean }
        nanCount = s.nanCount
        infCount = s.infCount
    }

    /// Aligned, human-readable lines.
    public var text: String {
        var rows: [(String, String)] = [
            ("file", path), ("format", format), ("frames", "\(frames)"),
            ("size", "\(width) × \(height) pixels (width × height)"), ("dtype", dtype),
        ]
        if let n = nanCount, let k = infCount {
            if let lo = min, let hi = max, let m = mean {
                rows.append(("values", "min \(lo.clean), max \(hi.clean), mean \(String(format: "%.6g", m))"))
            } else {
                rows.append(("values", "no finite pixels"))
            }
            rows.append(("non-finite", "\(n) NaN, \(k) Inf" + (n + k > 0 ? "  (reported, not fixed)" : "")))
        }
        let cal: String
        if let a = pixelSizeA { cal = "\(a.clean) Å/pixel" + (calibration.map { " (\($0))" } ?? "") }
        else if let c = calibration { cal = "\(c) (no square pixel size in Å)" }
        else { cal = "none stated in the file" }
        rows.append(("calibration", cal))
        rows.append(("frame time", frameTimeS.map { "\($0.clean) s (file: \(frameTimeSource ?? "?"))" } ?? "none stated in the file"))
        if let all = signals {
            rows.append(("signals", all.map { $0 == signal ? "\($0) (read)" : $0 }.joined(separator: ", ") + "; pick one with --signal"))
        }
        if !metadata.isEmpty {
            rows.append(("metadata", metadata.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ", ")))
        }
        return rows.map { $0.0.padding(toLength: 12, withPad: " ", startingAt: 0) + $0.1 }.joined(separator: "\n")
    }
}

extension Double {
    /// Shortest decimal form without a trailing ".0".
    var clean: String {
        if self == rounded(), abs(self) < 1e15 { return String(Int64(self)) }
        return String(format: "%.6g", self)
    }
}
