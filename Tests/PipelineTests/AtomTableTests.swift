import Core
import Foundation
import Pipeline
import XCTest

/// atoms.csv as `locate` writes it reads back as the same atoms for `classify`.
final class AtomTableTests: XCTestCase {
    func testRowsReadBackAsWritten() throws {
        let table = AtomTable(classSymbols: ["W+Mo", "S"], pixelSize: 0.2)
        let atoms = [FrameAtom(frame: 0, x: 1.25, y: 2.5, classIndex: 0, score: 0.75, border: true, positionSigma: 0.0625,
                               classProbability: 0.875),
                     FrameAtom(frame: 2, x: 10, y: 0, classIndex: 1, score: 0.5, border: false)]
        XCTAssertEqual(table.header, "frame,x,y,class,score,border,x_A,y_A,sigma_px,class_prob\n")
        XCTAssertEqual(table.rows(atoms), "0,1.250,2.500,W+Mo,0.7500,1,0.2500,0.5000,0.0625,0.8750\n2,10.000,0.000,S,0.5000,0,2.0000,0.0000,,\n")
        let url = try reliabilityTempDir(self).appendingPathComponent(AtomTable.fileName)
        try Data((table.header + table.rows(atoms)).utf8).write(to: url)
        let read = try table.read(url, frameCount: 3)
        XCTAssertEqual(read, [[atoms[0]], [], [atoms[1]]])
    }

    /// The rows are the text printf gives each field (the formatting before `DecimalText`).
    func testRowsAreThePrintfText() {
        var g = SeededGenerator(seed: 5)
        let atoms = (0..<3_000).map { i in
            FrameAtom(frame: i / 100, x: Double.random(in: -2...1030, using: &g), y: Double.random(in: -2...1030, using: &g),
                      classIndex: i % 3, score: Float.random(in: 0...1, using: &g), border: i % 7 == 0,
                      positionSigma: i % 5 == 0 ? nil : Double.random(in: 0...0.5, using: &g),
                      classProbability: i % 4 == 0 ? nil : Float.random(in: 0...1, using: &g))
        }
        let symbols = ["W+Mo", "S", "a,b"]
        for pixelSize in [nil, 0.2, 0.1234567] as [Double?] {
            let expected = atoms.map { a in
                "\(a.frame),\(String(format: "%.3f", a.x)),\(String(format: "%.3f", a.y)),\(CSVTable.line([symbols[a.classIndex]])),"
                    + "\(String(format: "%.4f", a.score)),\(a.border ? 1 : 0)"
                    + (pixelSize.map { "," + String(format: "%.4f", a.x * $0) + "," + String(format: "%.4f", a.y * $0) } ?? "")
                    + "," + (a.positionSigma.map { String(format: "%.4f", $0) } ?? "")
                    + "," + (a.classProbability.map { String(format: "%.4f", $0) } ?? "") + "\n"
            }.joined()
            XCTAssertEqual(AtomTable(classSymbols: symbols, pixelSize: pixelSize).rows(atoms), expected)
        }
    }

    func testARowThatDoesNotFitIsNamed() throws {
        let url = try reliabilityTempDir(self).appendingPathComponent("atoms.csv")
        try Data("frame,x,y,class\n0,1,1,S\n5,1,1,S\n".utf8).write(to: url)
        let table = AtomTable(classSymbols: ["W+Mo", "S"], pixelSize: nil)
        XCTAssertEqual(try table.read(url, frameCount: 6)[5].first?.score, 1, "score and border are optional")
        XCTAssertNil(try table.read(url, frameCount: 6)[5].first?.classProbability, "class_prob is optional")
        XCTAssertThrowsError(try table.read(url, frameCount: 3)) { XCTAssertTrue("\($0)".contains("line 3"), "\($0)") }
    }
}
