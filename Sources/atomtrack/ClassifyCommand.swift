import Core
import ArgumentParser
import DefectLibrary
import Foundation
import MicroscopyIO
import Pipeline

struct Classify: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Build the defect library: defects in every frame, crops, PCA and a Gaussian mixture (k by BIC).",
        discussion: """
        Input: the movie and its atoms.csv (from `atomtrack locate`). Defects are atoms of minority
        classes (e.g. Si in graphene), columns whose intensity is an outlier in their class (e.g. Mo
        among W), and empty sites of the lattice fitted to each frame; objects closer than 1.25
        column distances form one complex. Crops around them (--crop-size Å, border crops skipped and
        counted) are classified rotation-aware (6 rotations × mirror). Writes defects.csv
        (frame,x,y,class,probability,kind), library.json (classes, PCA, BIC/AIC table, seed), bic.csv
        and library/ (mean crop per class as TIFF and PNG, mosaics of members).
        """)

    @Argument(help: "Movie the atoms were found in.") var movie: String
    @Option(help: "atoms.csv from `atomtrack locate`.") var atoms: String
    @OptionGroup var modelOptions: ModelOptions
    @Option(help: "Output directory.") var out: String
    @Option(help: "Crop side in Å.") var cropSize: Double = 4.5
    @Option(help: "Largest number of classes tried.") var maxClasses = 6
    @Option(help: "Mixture seed.") var seed: UInt64 = 1
    @Flag(help: "Plain GMM: rotated copies of a defect may become separate classes.") var noRotation = false
    @Flag(help: "Replace earlier results in OUT.") var overwrite = false

    func run() throws {
        try reportingErrors {
            let m = try Movie.open(URL(fileURLWithPath: movie))
            let card = try modelOptions.finder().model.card
            let pixelSize = modelOptions.calibration(of: m) ?? card.preferredPixelSize
            let table = try CSVTable(url: URL(fileURLWithPath: atoms))
            let f = try table.column("frame"), x = try table.column("x"), y = try table.column("y"), c = try table.column("class")
            let symbols = card.classes.map(\.symbol)
            var perFrame = [[FrameAtom]](repeating: [], count: m.frameCount)
            for (line, r) in table.rows.enumerated() {
                guard let frame = Int(r[f]), frame >= 0, frame < m.frameCount, let px = Double(r[x]), let py = Double(r[y]),
                      let k = symbols.firstIndex(of: r[c]) else {
                    throw InputError("\(atoms): line \(line + 2) does not fit the movie or the model's classes (\(symbols.joined(separator: ", ")))")
                }
                perFrame[frame].append(FrameAtom(frame: frame, x: px, y: py, classIndex: k, score: 1, border: false))
            }
            var options = DefectCollector.Options()
            options.cropSizeA = cropSize; options.maxClasses = maxClasses; options.seed = seed; options.rotationAware = !noRotation
            let collector = DefectCollector(options: options, pixelSize: pixelSize, columnSpacing: card.columnSpacing, classSymbols: symbols)
            let frames = Set(perFrame.indices.filter { !perFrame[$0].isEmpty })
            for i in frames.sorted() {
                let image = try m.frame(i)
                try collector.add(frame: i, pixels: image.pixels, width: image.width, height: image.height, atoms: perFrame[i])
            }
            let dir = URL(fileURLWithPath: out)
            try OutputDirectory.prepare(dir, markers: ["library.json"], allowExisting: overwrite)
            let library = try collector.classify()
            try DefectLibraryWriter.write(library, names: library.classes.map { "D\($0.id)" }, to: dir)
            print("\(library.defects.count) defects in \(frames.count) frames → \(library.classes.count) classes by BIC (\(library.classes.map { "D\($0.id) ×\($0.count)" }.joined(separator: ", "))); \(collector.skippedAtBorder) crops crossed the border and were skipped")
        }
    }
}
