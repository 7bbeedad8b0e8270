import Core
import Foundation

/// `atoms.csv`, a movie's atom table: `frame,x,y,class,score,border` (+ `x_A,y_A` when the pixel
/// size is known), then `sigma_px` (the position's standard error per axis; empty when unknown)
/// and `class_prob` (the calibrated probability that `class` is right, `ClassProbability`; empty
/// when unknown). `locate` and `analyze` write it and `classify` reads it back, so its format
/// lives here only.
public struct AtomTable: Sendable {
    public static let fileName = "atoms.csv"

    /// Class symbols by class index (the model card's, e.g. `W+Mo`).
    public let classSymbols: [String]
    /// Å per pixel; when known, every row also gives the position in Å.
    public let pixelSize: Double?

    public init(classSymbols: [String], pixelSize: Double?) {
        self.classSymbols = classSymbols
        self.pixelSize = pixelSize
    }

    /// The header line.
    public var header: String { "frame,x,y,class,score,border" + (pixelSize != nil ? ",x_A,y_A" : "") + ",sigma_px,class_prob\n" }

    /// One line per atom: positions to 1/1000 px, score, Å positions and σ to 4 decimals
    /// (`DecimalText`: the text of `String(format: "%.3f")` etc., built in one byte buffer).
    public func rows(_ atoms: [FrameAtom]) -> String {
        let symbols = classSymbols.map { Array(CSVTable.line([$0]).utf8) }
        let comma = UInt8(ascii: ",")
        var text: [UInt8] = []
        text.reserveCapacity(atoms.count * 72)
        for a in atoms {
            DecimalText.append(a.frame, to: &text)
            text.append(comma); DecimalText.append(a.x, digits: 3, to: &text)
            text.append(comma); DecimalText.append(a.y, digits: 3, to: &text)
            text.append(comma); text += symbols[a.classIndex]
            text.append(comma); DecimalText.append(Double(a.score), digits: 4, to: &text)
            text.append(comma); text.append(UInt8(ascii: a.border ? "1" : "0"))
            if let p = pixelSize {
                text.append(comma); DecimalText.append(a.x * p, digits: 4, to: &text)
                text.append(comma); DecimalText.append(a.y * p, digits: 4, to: &text)
            }
            text.append(comma)
            if let sigma = a.positionSigma { DecimalText.append(sigma, digits: 4, to: &text) }
            text.append(comma)
            if let p = a.classProbability { DecimalText.append(Double(p), digits: 4, to: &text) }
            text.append(UInt8(ascii: "\n"))
        }
        return String(decoding: text, as: UTF8.self)
    }

    /// The atoms of each of a movie's `frameCount` frames. `score`, `border`, `sigma_px` and
    /// `class_prob` are optional columns (1, 0, unknown and unknown when absent), so a hand-made `frame,x,y,class` table reads too.
    /// - Throws: `InputError` naming the file and line of a row whose frame is outside the
    ///   movie or whose class is not one of `classSymbols`.
    public func read(_ url: URL, frameCount: Int) throws -> [[FrameAtom]] {
        var perFrame = [[FrameAtom]](repeating: [], count: frameCount)
        try forEach(url, frameCount: frameCount) { perFrame[$0.frame].append($0) }
        return perFrame
    }

    /// Calls `body` with each atom of the table in file order, streaming it (a long movie's table
    /// is gigabytes), with `read`'s checks.
    public func forEach(_ url: URL, frameCount: Int, _ body: (FrameAtom) throws -> Void) throws {
        typealias Columns = (f: Int, x: Int, y: Int, c: Int, score: Int?, border: Int?, sigma: Int?, classProb: Int?)
        func columns(_ header: [String]) throws -> Columns {
            let table = CSVColumns(header: header, path: url.path)
            return (try table.column("frame"), try table.column("x"), try table.column("y"), try table.column("class"),
                    table.column(anyOf: ["score"]), table.column(anyOf: ["border"]), table.column(anyOf: ["sigma_px"]),
                    table.column(anyOf: ["class_prob"]))
        }
        var found: Columns?
        let header = try CSVTable.forEachRow(in: url) { header, line, r in
            if found == nil { found = try columns(header) }
            let (f, x, y, c, score, border, sigma, classProb) = found!
            guard let frame = Int(r[f]), frame >= 0, frame < frameCount, let px = Double(r[x]), let py = Double(r[y]),
                  let k = classSymbols.firstIndex(of: r[c]) else {
                throw InputError("\(url.path): line \(line) does not fit the movie's \(frameCount) frames or the model's classes (\(classSymbols.joined(separator: ", ")))")
            }
            // Double("nan") and Double("inf") parse; such a position would trap in the crops.
            guard px.isFinite, py.isFinite else {
                throw InputError("\(url.path): line \(line): x and y must be finite numbers, got \(r[x]), \(r[y])")
            }
            let s = score.flatMap { Float(r[$0]) } ?? 1
            try body(FrameAtom(frame: frame, x: px, y: py, classIndex: k, score: s, border: border.map { r[$0] == "1" } ?? false,
                               positionSigma: sigma.flatMap { Double(r[$0]) }, classProbability: classProb.flatMap { Float(r[$0]) }))
        }
        if found == nil { _ = try columns(header) }   // a table of no atoms still needs its columns
    }
}
