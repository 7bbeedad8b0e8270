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
            Each class's mean crop is rebuilt from its mixture mean and its library's PCA basis, \
            projected on the other library's basis (the best of its symmetry views, so a class seen \
            rotated still matches) and measured against each class there as a Mahalanobis distance, \
            in that class's standard deviations; the distance of a pair is the mean of both \
            directions. Classes are paired by the Hungarian assignment on the distance; a pair far \
            closer than the other entries of its row is one defect. The Pearson correlation of the \
            mean crops is shown beside it (the lattice they share keeps it high for every pair). Both \
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
                                          let classesA: [String], classesB: [String], distance: [[Double]], correlation: [[Double]] }
                    let encoder = JSONEncoder()
                    encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
                    print(String(decoding: try encoder.encode(Doc(pairs: c.pairs, unmatchedA: c.unmatchedA, unmatchedB: c.unmatchedB,
                                                                  classesA: la.classNames, classesB: lb.classNames,
                                                                  distance: c.distance, correlation: c.correlation)), as: UTF8.self))
                    return
                }
                print("A class  B class  distance (σ)  correlation")
                for p in c.pairs { print(pad(p.a) + " " + pad(p.b) + " " + String(format: "%-13.2f %.3f", p.distance, p.correlation)) }
                if !c.unmatchedA.isEmpty { print("only in A: \(c.unmatchedA.joined(separator: ", "))") }
                if !c.unmatchedB.isEmpty { print("only in B: \(c.unmatchedB.joined(separator: ", "))") }
                print("\ndistance in σ (rows A, columns B): " + lb.classNames.joined(separator: " "))
                for (name, row) in zip(la.classNames, c.distance) {
                    print(name + " " + row.map { String(format: "%.2f", $0) }.joined(separator: " "))
                }
            }
        }
    }
}
