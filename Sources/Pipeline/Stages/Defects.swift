import Core
import DefectLibrary
import Foundation
import Localization
import MicroscopyIO

/// Defect candidates of one frame and the crops around them, collected frame by frame so the
/// frames themselves need not be kept; `classify()` then fits one Gaussian mixture to all crops.
///
/// A defect is (a) an atom of a minority class (e.g. Si in graphene), (b) an atom whose column
/// intensity is an outlier among its class (e.g. a Mo among W, a one-S column among S2), or
/// (c) an empty site of the lattice fitted to the frame's atoms (a vacancy).
public final class DefectCollector {
    public struct Options: Codable, Sendable, Equatable {
        /// Crop side in Å.
        public var cropSizeA = 4.5
        /// Robust z-score beyond which a column's intensity marks it as a defect.
        public var intensityZ = 5.0
        /// A class holding less than this fraction of a frame's atoms is a dopant class.
        public var minorityFraction = 0.1
        public var vacancies = true
        /// Treat crops as unoriented (6 rotations × mirror) so rotated copies share a class.
        public var rotationAware = true
        public var maxClasses = 6
        /// PCA features fed to the mixture.
        public var pcaComponents = 3
        /// Diagonal instead of full covariances (fewer parameters, for very small defect sets).
        public var diagonalCovariance = false
        public var seed: UInt64 = 1
        /// An existing library.json: assign the defects to its classes (or "none") instead of
        /// fitting a new mixture; the crop settings above are then the library's.
        public var library: String?
        public init() {}

        /// These options with `library`'s path and its crop geometry and symmetry.
        public func using(library path: String) throws -> Options {
            let model = try DefectLibraryModel(contentsOf: URL(fileURLWithPath: path))
            var o = self
            o.library = path
            o.rotationAware = model.symmetry != .none
            if let source = model.source { o.cropSizeA = source.cropSizeA }
            return o
        }

        /// Refuses settings that would trap or exhaust memory (a NaN or huge crop size, a
        /// negative count); with `pixelSize`, also a crop wider than 1024 px (4 MB per crop).
        public func validate(pixelSize: Double? = nil, atomClasses: [String]? = nil, prefix: String = "") throws {
            func require(_ ok: Bool, _ name: String, _ value: Any, _ expected: String) throws {
                try InputError.require(ok, prefix + name, value, expected)
            }
            try require(cropSizeA.isFinite && cropSizeA > 0 && cropSizeA <= 1000, "cropSizeA", cropSizeA, "expected 0 < crop size ≤ 1000 Å")
            if let p = pixelSize, p > 0 {
                try require(cropSizeA / p <= 1024, "cropSizeA", cropSizeA, "at \(p) Å/px the crop would be \(Int(cropSizeA / p)) px wide, more than 1024")
            }
            try require(intensityZ.isFinite && intensityZ > 0, "intensityZ", intensityZ, "expected a finite value > 0")
            try require(minorityFraction.isFinite && (0...1).contains(minorityFraction), "minorityFraction", minorityFraction, "expected 0–1")
            try require(maxClasses >= 1 && maxClasses <= 100, "maxClasses", maxClasses, "expected 1–100")
            try require(pcaComponents >= 1 && pcaComponents <= 1000, "pcaComponents", pcaComponents, "expected 1–1000")
            if let library { try checkLibrary(library, pixelSize: pixelSize, atomClasses: atomClasses) }
        }

        /// A library fits this movie when it was built with the same model classes, at a pixel size
        /// within 5 % of the movie's, with crops of the same side in pixels.
        func checkLibrary(_ path: String, pixelSize: Double?, atomClasses: [String]?) throws {
            let model = try DefectLibraryModel(contentsOf: URL(fileURLWithPath: path))
            guard let source = model.source else { throw InputError("\(path): does not record the pixel size and model it was built with") }
            if let atomClasses, atomClasses != source.atomClasses {
                throw InputError("\(path): built with atom classes \(source.atomClasses.joined(separator: ",")) (model \(source.model)), this run's model has \(atomClasses.joined(separator: ","))")
            }
            guard let p = pixelSize else { return }
            guard abs(p - source.pixelSizeA) <= 0.05 * source.pixelSizeA else {
                throw InputError("\(path): built at \(source.pixelSizeA) Å/px, this movie is \(p) Å/px (more than 5 % apart); resample the movie or build a library for it")
            }
            guard DefectCollector.cropSide(cropSizeA, pixelSize: p) == model.cropSize else {
                throw InputError("\(path): crops are \(model.cropSize) px; \(cropSizeA) Å at \(p) Å/px gives \(DefectCollector.cropSide(cropSizeA, pixelSize: p)) px (use the library's crop size, \(source.cropSizeA) Å)")
            }
        }
    }

    public let options: Options
    public let pixelSize: Double
    /// Distance between neighbouring columns in pixels: sets the intensity disc and the complex radius.
    public let columnSpacingPixels: Double
    public let classSymbols: [String]
    public let cropSize: Int
    public private(set) var defects: [DefectObject] = []
    public private(set) var crops: [[Float]] = []
    public private(set) var skippedAtBorder = 0
    public private(set) var latticeFailures: [Int] = []
    public private(set) var frames = 0

    public init(options: Options, pixelSize: Double, columnSpacingPixels: Double, classSymbols: [String]) {
        self.options = options
        self.pixelSize = pixelSize
        self.columnSpacingPixels = columnSpacingPixels
        self.classSymbols = classSymbols
        cropSize = Self.cropSide(options.cropSizeA, pixelSize: pixelSize)
        source = LibrarySource(model: "", atomClasses: classSymbols, pixelSizeA: pixelSize, pixelSizeSource: "",
                               cropSizeA: options.cropSizeA, normalization: Self.normalization)
    }

    /// How crops are normalized (they are cut from the frame as `FrameNormalization()` maps it).
    static let normalization = "per frame, 1st–99.9th percentile → 0–1, clipped"

    /// Crop side in pixels: odd, at least 5.
    static func cropSide(_ cropSizeA: Double, pixelSize: Double) -> Int { max(5, Int((cropSizeA / pixelSize).rounded()) | 1) }

    /// What a library built here records about its crops (library.json `source`).
    public private(set) var source: LibrarySource

    /// The collector for frames of `calibration`'s pixel size analysed with `card`'s model, whose
    /// atoms carry `classSymbols` (`OutputClasses.symbols`: a split-off Mo is a minority class).
    public convenience init(options: Options, calibration: Calibration, card: ModelCard, classSymbols: [String]) {
        self.init(options: options, pixelSize: calibration.pixelSize,
                  columnSpacingPixels: card.columnSpacingPixels(pixelSize: calibration.pixelSize),
                  classSymbols: classSymbols)
        source.model = card.name
        source.pixelSizeSource = calibration.pixelSizeSource.rawValue
    }

    /// - Parameter columnSpacing: in Å.
    public convenience init(options: Options, pixelSize: Double, columnSpacing: Double, classSymbols: [String]) {
        self.init(options: options, pixelSize: pixelSize, columnSpacingPixels: columnSpacing / pixelSize, classSymbols: classSymbols)
    }

    /// What one frame adds to the library: its defects and their crops.
    public struct FrameContribution: Sendable, Equatable {
        public var frame: Int
        public var defects: [DefectObject] = []
        /// One crop (cropSize² values) per defect.
        public var crops: [[Float]] = []
        public var skippedAtBorder = 0
        public var latticeFailed = false
    }

    /// Adds one frame: finds its defects and crops them from the normalized frame.
    public func add(frame: Int, pixels: [Float], width: Int, height: Int, atoms: [FrameAtom]) throws {
        append(try collect(frame: frame, pixels: pixels, width: width, height: height, atoms: atoms))
    }

    /// One frame's defects and crops, without adding them (`append` does); normalizes the frame
    /// for the crops.
    public func collect(frame: Int, pixels: [Float], width: Int, height: Int, atoms: [FrameAtom]) throws -> FrameContribution {
        let normalized = try FrameNormalization().normalize(pixels, width: width, height: height, frame: frame)
        return try collect(frame: frame, pixels: pixels, normalized: normalized.pixels, width: width, height: height, atoms: atoms)
    }

    /// One frame's defects and crops. Intensity outliers are measured on the raw `pixels`; the
    /// crops are cut from `normalized` (e.g. the frame the atom finder already normalized).
    public func collect(frame: Int, pixels: [Float], normalized: [Float], width: Int, height: Int,
                        atoms: [FrameAtom]) throws -> FrameContribution {
        var out = FrameContribution(frame: frame)
        let classified = atoms.map { ClassifiedAtom(x: $0.x, y: $0.y, classIndex: $0.classIndex) }
        let minority = minorityClasses(atoms)
        var found = classified.filter { minority.contains($0.classIndex) }
            .map { DefectObject(frame: frame, x: $0.x, y: $0.y, kind: .atom(classIndex: $0.classIndex)) }
        found += anomalies(frame: frame, pixels: pixels, width: width, atoms: atoms)
        if options.vacancies {
            let v = vacancies(frame: frame, atoms: classified, width: width, height: height)
            found += v ?? []
            out.latticeFailed = v == nil
        }
        found = mergedIntoComplexes(found)
        let set = try CropExtractor.crops(image: normalized, width: width, height: height,
                                          centres: found.map { CropCentre(x: $0.x, y: $0.y) }, size: cropSize, border: .skip)
        out.skippedAtBorder = set.skipped
        out.defects = set.sourceIndices.map { found[$0] }
        out.crops = set.crops
        return out
    }

    /// Adds a frame's contribution (freshly collected, or replayed from a resume journal).
    public func append(_ c: FrameContribution) {
        frames = max(frames, c.frame + 1)
        skippedAtBorder += c.skippedAtBorder
        if c.latticeFailed { latticeFailures.append(c.frame) }
        defects += c.defects
        crops += c.crops
    }

    func minorityClasses(_ atoms: [FrameAtom]) -> Set<Int> {
        var counts: [Int: Int] = [:]
        for a in atoms { counts[a.classIndex, default: 0] += 1 }
        return Set(counts.filter { Double($0.value) < options.minorityFraction * Double(atoms.count) }.keys)
    }

    /// Columns whose mean intensity (disc of radius 0.2 × spacing) is a robust outlier in their class.
    func anomalies(frame: Int, pixels: [Float], width: Int, atoms: [FrameAtom]) -> [DefectObject] {
        let height = pixels.count / width
        let r = max(1.0, 0.2 * columnSpacingPixels), ri = Int(r.rounded(.up))
        let intensity = atoms.map { a -> Double in
            var sum = 0.0, n = 0
            let cx = Int(a.x.rounded()), cy = Int(a.y.rounded())
            for y in max(0, cy - ri)...min(height - 1, cy + ri) { for x in max(0, cx - ri)...min(width - 1, cx + ri) {
                let dx = Double(x) - a.x, dy = Double(y) - a.y
                if dx * dx + dy * dy <= r * r { sum += Double(pixels[y * width + x]); n += 1 }
            } }
            return n > 0 ? sum / Double(n) : .nan
        }
        var out: [DefectObject] = []
        for c in Set(atoms.map(\.classIndex)).sorted() {
            let members = atoms.indices.filter { atoms[$0].classIndex == c && !atoms[$0].border && intensity[$0].isFinite }
            guard members.count >= 20 else { continue }
            let values = members.map { intensity[$0] }.sorted()
            let median = values[values.count / 2]
            let mad = values.map { abs($0 - median) }.sorted()[values.count / 2] * 1.4826
            guard mad > 0 else { continue }
            for i in members where abs(intensity[i] - median) / mad > options.intensityZ {
                out.append(DefectObject(frame: frame, x: atoms[i].x, y: atoms[i].y, kind: .atom(classIndex: c)))
            }
        }
        return out
    }

    /// Empty sites of the lattice fitted to the frame. A fit that leaves more than 3 % of the
    /// sites empty is taken as a failed fit (a real frame is not that holey): nil.
    func vacancies(frame: Int, atoms: [ClassifiedAtom], width: Int, height: Int) -> [DefectObject]? {
        guard let result = try? DefectDetector.detect(frame: frame, atoms: atoms, width: width, height: height,
                                                      defectClasses: [], detectVacancies: true),
              Double(result.defects.count) <= 0.03 * Double(max(result.sitesChecked, 1)) else { return nil }
        return result.defects
    }

    /// Defect objects closer than 1.25 column distances are one defect complex (e.g. a Mo
    /// dopant and the S vacancy beside it), represented by the first found: dopant atoms,
    /// then intensity outliers by class, then vacancies.
    func mergedIntoComplexes(_ d: [DefectObject]) -> [DefectObject] {
        let radius = 1.25 * columnSpacingPixels
        var out: [DefectObject] = []
        for o in d where !out.contains(where: { hypot($0.x - o.x, $0.y - o.y) < radius }) { out.append(o) }
        return out
    }

    /// Fits the Gaussian mixture (k by BIC) to every collected crop, or with `options.library`
    /// assigns every crop to that library's classes.
    public func classify() throws -> DefectClassLibrary {
        if let path = options.library {
            guard !crops.isEmpty else { throw InputError("defect library: no defect crops in \(frames) frames") }
            let library = try DefectLibraryModel(contentsOf: URL(fileURLWithPath: path))
            let classification = try DefectClassifier.classify(crops: crops, with: library)
            return try DefectClassLibrary(defects: defects, classification: classification, cropSize: cropSize, frameCount: frames)
        }
        guard crops.count >= 2 else {
            throw InputError("defect library: \(crops.count) defect crop(s) in \(frames) frames — too few to classify")
        }
        var c = ClassifierConfiguration()
        c.symmetry = options.rotationAware ? .hexagonal : .none
        c.componentRange = 1...max(1, min(options.maxClasses, crops.count / 5))
        c.pcaComponents = min(options.pcaComponents, crops.count - 1)
        c.mixture.covarianceType = options.diagonalCovariance ? .diagonal : .full
        c.mixture.seed = options.seed
        c.siteSpacing = columnSpacingPixels
        let classification = try DefectClassifier.classify(crops: crops, size: cropSize, configuration: c)
        return try DefectClassLibrary(defects: defects, classification: classification, cropSize: cropSize, frameCount: frames)
    }
}

/// The defect library's files: defects.csv, library.json, bic.csv and library/ (class means, mosaics).
/// A library applied from a file (`collector.options.library`) is not written again: defects.csv
/// and library/ then describe the new movie's members of its classes.
public enum DefectLibraryWriter {
    public static func write(_ library: DefectClassLibrary, names: [String], collector: DefectCollector, to output: URL) throws {
        try AtomicFile.writeText(library.defectsCSV(names: names, atomClasses: collector.classSymbols),
                                 to: output.appendingPathComponent("defects.csv"))
        if collector.options.library == nil {
            try AtomicFile.writeText(library.libraryJSON(names: names, source: collector.source),
                                     to: output.appendingPathComponent("library.json"))
            try AtomicFile.writeText(library.classification.selection.csv, to: output.appendingPathComponent("bic.csv"))
        }
        let dir = output.appendingPathComponent("library")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        for c in library.classes {
            let side = library.cropSize
            let mean = try GrayImage(width: side, height: side, pixels: Array(c.meanCrop.prefix(side * side)))
            try TIFFFile.write([mean], to: dir.appendingPathComponent("\(names[c.id])_mean.tif"))
            try PNGFile.writeGray(mean, to: dir.appendingPathComponent("\(names[c.id])_mean.png"), scaling: .minMax)
            let mosaic = try library.mosaic(classID: c.id)
            try PNGFile.writeGray(try GrayImage(width: mosaic.width, height: mosaic.height, pixels: mosaic.pixels),
                                  to: dir.appendingPathComponent("\(names[c.id])_mosaic.png"), scaling: .minMax)
        }
    }
}
