import DefectLibrary
import Foundation

/// `classify`: the defect library of a movie whose atoms were found earlier (its `atoms.csv`):
/// defects and crops in every frame with atoms, then one Gaussian mixture over all crops, written
/// as defects.csv, library.json, bic.csv and library/.
public struct Classification {
    /// A directory holding this file holds a library.
    public static let markers = ["library.json", "defects.csv"]

    public let input: MovieInput
    public let options: DefectCollector.Options
    /// The atoms of every frame of the movie, from the atom table.
    public let atoms: [[FrameAtom]]

    /// Reads the atom table now, so a table that does not fit the movie or model is refused
    /// before anything is written.
    public init(_ input: MovieInput, atomTable: URL, options: DefectCollector.Options) throws {
        self.input = input
        self.options = options
        try options.validate(pixelSize: input.calibration.pixelSize, atomClasses: input.atomSymbols)
        atoms = try AtomTable(classSymbols: input.atomSymbols, pixelSize: input.pixelSize)
            .read(atomTable, frameCount: input.movie.frameCount)
    }

    public struct Result: Sendable {
        public var defects: Int
        public var framesWithAtoms: Int
        /// Class names (`D<k>`) and their sizes.
        public var classes: [(name: String, count: Int)]
        /// Defects that fit none of an applied library's classes.
        public var unassigned: Int
        /// Crops that crossed the frame edge and were left out.
        public var skippedAtBorder: Int
    }

    public func run(to dir: URL, progress: Bool = true) throws -> Result {
        let card = input.card
        let collector = DefectCollector(options: options, calibration: input.calibration, card: card, classSymbols: input.atomSymbols)
        let frames = atoms.indices.filter { !atoms[$0].isEmpty }
        let bar = ProgressBar("classify", total: frames.count, quiet: !progress)
        for i in frames {
            let image = try input.movie.frame(i)
            try collector.add(frame: i, pixels: image.pixels, width: image.width, height: image.height, atoms: atoms[i])
            bar.advance()
        }
        bar.finish()
        let library = try collector.classify()
        let names = library.classes.map { "D\($0.id)" }
        try DefectLibraryWriter.write(library, names: names, collector: collector, to: dir)
        return Result(defects: library.defects.count, framesWithAtoms: frames.count,
                      classes: library.classes.map { (names[$0.id], $0.count) },
                      unassigned: library.classification.labels.filter { $0 == DefectClassification.none }.count,
                      skippedAtBorder: collector.skippedAtBorder)
    }
}
