import ArgumentParser
import DefectLibrary
import Foundation
import Pipeline

/// `library compare A B`: which classes of two defect libraries are the same defect.
struct LibraryCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "library",
        abstract: "Work with defect libraries (library.json from `classify` or `analyze`).",
        subcommands: [Compare.self])

    struct Compare: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Match the classes of two libraries one to one and print their similarity.",
            discussion: """
            Each class's mean crop is rebuilt from its mixture mean and the library's PCA basis, and \
            compared with every class of the other library by Pearson correlation (the best of B's \
            symmetry views, so a class seen rotated still matches). Classes are paired by the \
            Hungarian assignment on 1 − correlation; the full correlation table follows. Both \
            libraries must use crops of the same size in pixels.
            """)

        @Argument(help: "First library.json.") var a: String
        @Argument(help: "Second library.json.") var b: String
        @Flag(help: "Print one JSON object instead of text.") var json = false

        func pad(_ s: String) -> String { s.padding(toLength: max(8, s.count), withPad: " ", startingAt: 0) }

        func run() throws {
            try reportingErrors {
                let la = try DefectLibraryModel(contentsOf: URL(fileURLWithPath: a))
                let lb = try DefectLibraryModel(contentsOf: URL(fileURLWithPath: b))
                let c = try LibraryComparison(la, lb)
                if json {
                    struct Doc: Codable { let pairs: [LibraryComparison.Pair], unmatchedA: [String], unmatchedB: [String]
                                          let classesA: [String], classesB: [String], correlation: [[Double]] }
                    let encoder = JSONEncoder()
                    encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
                    print(String(decoding: try encoder.encode(Doc(pairs: c.pairs, unmatchedA: c.unmatchedA, unmatchedB: c.unmatchedB,
                                                                  classesA: la.classNames, classesB: lb.classNames,
                                                                  correlation: c.correlation)), as: UTF8.self))
                    return
                }
                print("A class  B class  correlation")
                for p in c.pairs { print(pad(p.a) + " " + pad(p.b) + " " + String(format: "%.3f", p.correlation)) }
                if !c.unmatchedA.isEmpty { print("only in A: \(c.unmatchedA.joined(separator: ", "))") }
                if !c.unmatchedB.isEmpty { print("only in B: \(c.unmatchedB.joined(separator: ", "))") }
                print("\ncorrelation (rows A, columns B): " + lb.classNames.joined(separator: " "))
                for (name, row) in zip(la.classNames, c.correlation) {
                    print(name + " " + row.map { String(format: "%.3f", $0) }.joined(separator: " "))
                }
            }
        }
    }
}
