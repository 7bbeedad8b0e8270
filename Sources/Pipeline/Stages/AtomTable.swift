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

    /// One line per atom: positions to 1/1000 px, score, Å positions and σ to 4 decimals.
    public func rows(_ atoms: [FrameAtom]) -> String {
        let symbols = classSymbols.map { CSVTable.line([$0]) }
        var text = ""
        for a in atoms {
            text += "\(a.frame),\(String(format: "%.3f", a.x)),\(String(format: "%.3f", a.y)),\(symbols[a.classIndex]),"
                + "\(String(format: "%.4f", a.score)),\(a.border ? 1 : 0)"
            if let p = pixelSize { text += "," + String(format: "%.4f", a.x * p) + "," + String(format: "%.4f", a.y * p) }
            text += "," + (a.positionSigma.map { String(format: "%.4f", $0) } ?? "")
                + "," + (a.classProbability.map { String(format: "%.4f", $0) } ?? "") + "\n"
        }
        return text
    }

    /// The atoms of each of a movie's `frameCount` frames. `score`, `border`, `sigma_px` and
    /// `class_prob` are optional columns (1, 0, unknown and unknown when absent), so a hand-made `frame,x,y,class` table reads too.
    /// - Throws: `InputError` naming the file and line of a row whose frame is outside the
    ///   movie or whose class is not one of `classSymbols`.
    public func read(_ url: URL, frameCount: Int) throws -> [[FrameAtom]] {
        let table = try CSVTable(url: url)
        let f = try table.column("frame"), x = try table.column("x"), y = try table.column("y"), c = try table.column("class")
        let score = table.column(anyOf: ["score"]), border = table.column(anyOf: ["border"]), sigma = table.column(anyOf: ["sigma_px"])
        let classProb = table.column(anyOf: ["class_prob"])
        var perFrame = [[FrameAtom]](repeating: [], count: frameCount)
        for (line, r) in table.rows.enumerated() {
            guard let frame = Int(r[f]), frame >= 0, frame < frameCount, let px = Double(r[x]), let py = Double(r[y]),
                  let k = classSymbols.firstIndex(of: r[c]) else {
                throw InputError("\(url.path): line \(line + 2) does not fit the movie's \(frameCount) frames or the model's classes (\(classSymbols.joined(separator: ", ")))")
            }
            // Double("nan") and Double("inf") parse; such a position would trap in the crops.
            guard px.isFinite, py.isFinite else {
                throw InputError("\(url.path): line \(line + 2): x and y must be finite numbers, got \(r[x]), \(r[y])")
            }
            let s = score.flatMap { Float(r[$0]) } ?? 1
            perFrame[frame].append(FrameAtom(frame: frame, x: px, y: py, classIndex: k, score: s, border: border.map { r[$0] == "1" } ?? false,
                                             positionSigma: sigma.flatMap { Double(r[$0]) },
                                             classProbability: classProb.flatMap { Float(r[$0]) }))
        }
        return perFrame
    }
}
