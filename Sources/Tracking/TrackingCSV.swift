import Foundation

/// CSV text in and out of tracking (no file IO: callers read and write files).
public enum TrackingCSV {

    /// Parses detections from CSV text with a header naming at least `frame,x,y`;
    /// `class` and `score` are optional (defaults 0 and 1). Column order is free.
    /// Works on the UTF-8 bytes (a million rows parse in well under a second).
    public static func parseDetections(_ text: String) throws -> [Detection] {
        var text = text
        return try text.withUTF8 { bytes in try parseDetections(bytes) }
    }

    static func parseDetections(_ bytes: UnsafeBufferPointer<UInt8>) throws -> [Detection] {
        var lineStart = 0, lineNumber = 0
        var columns: (frame: Int, x: Int, y: Int, label: Int?, score: Int?)? = nil
        var out: [Detection] = []
        var fields: [Range<Int>] = []
        while lineStart < bytes.count {
            var lineEnd = lineStart
            while lineEnd < bytes.count && bytes[lineEnd] != 10 { lineEnd += 1 }
            lineNumber += 1
            var contentEnd = lineEnd
            if contentEnd > lineStart && bytes[contentEnd - 1] == 13 { contentEnd -= 1 }  // CRLF
            defer { lineStart = lineEnd + 1 }
            fields.removeAll(keepingCapacity: true)
            var f = lineStart
            for i in lineStart...contentEnd where i == contentEnd || bytes[i] == 44 { fields.append(f..<i); f = i + 1 }
            guard let c = columns else {
                let header = fields.map { String(decoding: UnsafeBufferPointer(rebasing: bytes[$0]), as: UTF8.self)
                    .trimmingCharacters(in: .whitespaces).lowercased() }
                guard let cf = header.firstIndex(of: "frame"), let cx = header.firstIndex(of: "x"),
                      let cy = header.firstIndex(of: "y") else {
                    throw TrackingError.csv(line: lineNumber, reason: "header must name frame, x and y columns, got \(header.joined(separator: ","))")
                }
                let cc = ["class", "classlabel", "class_label"].lazy.compactMap { header.firstIndex(of: $0) }.first
                columns = (cf, cx, cy, cc, header.firstIndex(of: "score"))
                continue
            }
            if fields.count == 1 && isBlank(bytes, fields[0]) { continue }
            func field(_ k: Int) -> Range<Int>? { k < fields.count ? fields[k] : nil }
            guard let frame = field(c.frame).flatMap({ parseInt(bytes, $0) }) else {
                throw TrackingError.csv(line: lineNumber, reason: "frame is not an integer")
            }
            guard let x = field(c.x).flatMap({ parseDouble(bytes, $0) }), let y = field(c.y).flatMap({ parseDouble(bytes, $0) }),
                  x.isFinite, y.isFinite else {
                throw TrackingError.csv(line: lineNumber, reason: "x and y must be finite numbers")
            }
            var label = 0, score = 1.0
            if let cc = c.label {
                guard let v = field(cc).flatMap({ parseInt(bytes, $0) }) else {
                    throw TrackingError.csv(line: lineNumber, reason: "class is not an integer")
                }
                label = v
            }
            if let cs = c.score {
                guard let v = field(cs).flatMap({ parseDouble(bytes, $0) }) else {
                    throw TrackingError.csv(line: lineNumber, reason: "score is not a number")
                }
                score = v
            }
            out.append(Detection(frame: frame, x: x, y: y, classLabel: label, score: score))
        }
        guard columns != nil else { throw TrackingError.csv(line: 1, reason: "empty input") }
        return out
    }

    private static func trimmed(_ b: UnsafeBufferPointer<UInt8>, _ r: Range<Int>) -> Range<Int> {
        var lo = r.lowerBound, hi = r.upperBound
        while lo < hi && (b[lo] == 32 || b[lo] == 9) { lo += 1 }
        while hi > lo && (b[hi - 1] == 32 || b[hi - 1] == 9) { hi -= 1 }
        return lo..<hi
    }

    private static func isBlank(_ b: UnsafeBufferPointer<UInt8>, _ r: Range<Int>) -> Bool { trimmed(b, r).isEmpty }

    private static func parseInt(_ b: UnsafeBufferPointer<UInt8>, _ r: Range<Int>) -> Int? {
        let t = trimmed(b, r)
        guard !t.isEmpty, t.count < 19 else { return nil }
        var i = t.lowerBound, sign = 1, v = 0
        if b[i] == 45 || b[i] == 43 { sign = b[i] == 45 ? -1 : 1; i += 1 }
        guard i < t.upperBound else { return nil }
        while i < t.upperBound {
            let d = Int(b[i]) - 48
            guard d >= 0 && d <= 9 else { return nil }
            v = v * 10 + d; i += 1
        }
        return sign * v
    }

    private static func parseDouble(_ b: UnsafeBufferPointer<UInt8>, _ r: Range<Int>) -> Double? {
        let t = trimmed(b, r)
        guard !t.isEmpty, t.count < 64 else { return nil }
        return withUnsafeTemporaryAllocation(of: CChar.self, capacity: 65) { buf -> Double? in
            for (k, i) in t.enumerated() { buf[k] = CChar(bitPattern: b[i]) }
            buf[t.count] = 0
            var end: UnsafeMutablePointer<CChar>? = nil
            let v = strtod(buf.baseAddress!, &end)
            return end == buf.baseAddress! + t.count ? v : nil
        }
    }

    /// `trajectories.csv`: `track,frame,x,y,class,score`, plus `x_A,y_A` when a pixel
    /// size (Å/px) is given. Tracks shorter than `minLength` points are left out.
    /// Positions are drift-corrected unless `driftCorrected` is false.
    public static func trajectories(_ result: TrackingResult, minLength: Int = 1, pixelSize: Double? = nil,
                                    driftCorrected: Bool = true) -> String {
        var s = "track,frame,x,y,class,score" + (pixelSize != nil ? ",x_A,y_A" : "") + "\n"
        for track in result.tracks where track.points.count >= minLength {
            for p in track.points {
                let x = driftCorrected ? p.xCorrected : p.x, y = driftCorrected ? p.yCorrected : p.y
                s += "\(track.id),\(p.frame),\(format(x)),\(format(y)),\(p.classLabel),\(format(p.score))"
                if let a = pixelSize { s += ",\(format(x * a)),\(format(y * a))" }
                s += "\n"
            }
        }
        return s
    }

    /// `drift.csv`: `frame,dx,dy`, the cumulative drift of each frame in pixels
    /// (subtract it from a detected position to get the corrected one).
    public static func drift(_ result: TrackingResult) -> String {
        var s = "frame,dx,dy\n"
        for d in result.drift { s += "\(d.frame),\(format(d.dx)),\(format(d.dy))\n" }
        return s
    }

    static func format(_ v: Double) -> String { String(format: "%.4f", v) }
}
