import ArgumentParser
import Core
import Foundation
import Pipeline

struct Classify: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Build the defect library: defects in every frame, crops, PCA and a Gaussian mixture (k by BIC).",
        discussion: """
        Input: the movie and its atoms.csv (from `atomtrack locate`). Defects are atoms of minority \
        classes (e.g. Si in graphene), columns whose intensity is an outlier in their class (e.g. Mo \
        among W), and empty sites of the lattice fitted to each frame; objects closer than 1.25 \
        column distances form one complex. Crops around them (--crop-size Å, border crops skipped and \
        counted) are classified rotation-aware (6 rotations × mirror). Writes defects.csv \
        (frame,x,y,class,probability,kind), library.json (classes, PCA, BIC/AIC table, seed), bic.csv \
        and library/ (mean crop per class as TIFF and PNG, mosaics of members).

        With --library, the defects are assigned to the classes of an existing library.json (its crop \
        size, PCA basis and mixture, unchanged) instead of fitting a new one; a defect less likely \
        under the library than 99.5 % of the library's own defects is class `none`. Writes defects.csv \
        and library/ (this movie's members of each class).
        """)

    @Argument(help: "Movie the atoms were found in.") var movie: String
    @Option(help: "atoms.csv from `atomtrack locate`.") var atoms: String
    @OptionGroup var modelOptions: ModelOptions
    @OptionGroup var pixelSize: PixelSizeOption
    @OptionGroup var output: OutputOptions
    @Option(help: "Crop side in Å.") var cropSize: Double = 4.5
    @Option(help: "Largest number of classes tried.") var maxClasses = 6
    @Option(help: "Mixture seed.") var seed: UInt64 = 1
    @Flag(help: "Plain GMM: rotated copies of a defect may become separate classes.") var noRotation = false
    @Option(help: "Existing library.json: classify into its classes instead of building a new library.") var library: String?
    @Flag(help: "Print the result as one JSON object.") var json = false

    func run() throws {
        try reportingErrors {
            // NaN, ∞ or a huge crop would trap sizing the crops; refused before anything is opened.
            guard cropSize.isFinite, cropSize > 0, cropSize <= 1000 else {
                throw InputError("--crop-size \(cropSize) Å is invalid: expected 0 < crop size ≤ 1000 Å")
            }
            guard (1...100).contains(maxClasses) else { throw InputError("--max-classes \(maxClasses) is invalid: expected 1–100") }
            var options = DefectCollector.Options()
            options.cropSizeA = cropSize; options.maxClasses = maxClasses; options.seed = seed; options.rotationAware = !noRotation
            if let library { options = try options.using(library: library) }
            let stage = try Classification(try openMovie(movie, modelOptions, pixelSize),
                                           atomTable: URL(fileURLWithPath: atoms), options: options)
            let r = try stage.run(to: try output.prepare(markers: Classification.markers, inputs: [.init(movie, streamed: true), .init(atoms)]),
                                  progress: output.progress)
            if json {
                struct Doc: Encodable { let defects, framesWithAtoms, unassigned, skippedAtBorder: Int; let classes: [String: Int]; let library: String? }
                let doc = Doc(defects: r.defects, framesWithAtoms: r.framesWithAtoms, unassigned: r.unassigned, skippedAtBorder: r.skippedAtBorder,
                              classes: Dictionary(uniqueKeysWithValues: r.classes.map { ($0.name, $0.count) }), library: library)
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
                print(String(decoding: try encoder.encode(doc), as: UTF8.self))
                return
            }
            let classes = r.classes.map { "\($0.name) ×\($0.count)" }.joined(separator: ", ")
            let how = library.map { "into the \(r.classes.count) classes of \($0) (\(r.unassigned) none of these)" } ?? "→ \(r.classes.count) classes by BIC"
            print("\(r.defects) defects in \(r.framesWithAtoms) frames \(how) (\(classes)); \(r.skippedAtBorder) crops crossed the border and were skipped")
        }
    }
}
