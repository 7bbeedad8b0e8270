import Foundation

/// CSV text in and out of tracking (no file IO: callers read and write files).
public enum TrackingCSV {

    /// Parses detections from CSV text with a header naming at least `frame,x,y`;
    /// `class` and `score` are optional (defaults 0 and 1). Column order is free.
    public static func parseDetections(_ text: String) throws -> [Detection] {
        var lines = text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline).makeIterator()
        guard let headerLine = lines.next() else { throw TrackingError.csv(line: 1, reason: "empty input") }
        let header = headerLine.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
        func column(_ names: [String]) -> Int? { names.lazy.compactMap { header.firstIndex(of: $0) }.first }
        guard let cf = column(["frame"]), let cx = column(["x"]), let cy = column(["y"]) else {
            throw TrackingError.csv(line: 1, reason: "header must name frame, x and y columns, got \(header.joined(separator: ","))")
        }
        let cc = column(["class", "classlabel", "class_label"]), cs = column(["score"])
        var out: [Detection] = []
        var lineNumber = 1
        while let line = lines.next() {
            lineNumber += 1
            if line.allSatisfy(\.isWhitespace) { continue }
            let f = line.split(separator: ",", omittingEmptySubsequences: false)
            func field(_ c: Int) -> Substring? { c < f.count ? f[c] : nil }
            guard let frameText = field(cf), let frame = Int(frameText.trimmingCharacters(in: .whitespaces)) else {
                throw TrackingError.csv(line: lineNumber, reason: "frame is not an integer")
            }
            guard let x = field(cx).flatMap({ Double($0.trimmingCharacters(in: .whitespaces)) }),
                  let y = field(cy).flatMap({ Double($0.trimmingCharacters(in: .whitespaces)) }), x.isFinite, y.isFinite
            else { throw TrackingError.csv(line: lineNumber, reason: "x and y must be finite numbers") }
            var label = 0, score = 1.0
            if let cc {
                guard let v = field(cc).flatMap({ Int($0.trimmingCharacters(in: .whitespaces)) }) else {
                    throw TrackingError.csv(line: lineNumber, reason: "class is not an integer")
                }
                label = v
            }
            if let cs {
                guard let v = field(cs).flatMap({ Double($0.trimmingCharacters(in: .whitespaces)) }) else {
                    throw TrackingError.csv(line: lineNumber, reason: "score is not a number")
                }
                score = v
            }
            out.append(Detection(frame: frame, x: x, y: y, classLabel: label, score: score))
        }
        return out
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
