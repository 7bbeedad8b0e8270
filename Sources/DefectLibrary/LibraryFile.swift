import Core
import Foundation

/// Where a library's crops came from, so a new movie can be checked against it: the model that
/// found the atoms, the pixel size, the crop side and how frames were normalized.
public struct LibrarySource: Codable, Sendable, Equatable {
    /// The model directory's name (e.g. `tmd-ws2`) and its class symbols.
    public var model: String
    public var atomClasses: [String]
    public var pixelSizeA: Double
    public var pixelSizeSource: String
    public var cropSizeA: Double
    public var normalization: String

    public init(model: String, atomClasses: [String], pixelSizeA: Double, pixelSizeSource: String, cropSizeA: Double,
                normalization: String) {
        self.model = model; self.atomClasses = atomClasses; self.pixelSizeA = pixelSizeA
        self.pixelSizeSource = pixelSizeSource; self.cropSizeA = cropSizeA; self.normalization = normalization
    }
}

/// `library.json`: the classes with their statistics, and everything needed to assign new crops
/// to them — crop geometry, the PCA basis, the mixture (weights, means, covariances), class
/// names, the "none of these" threshold and the source. Fields added after the first version
/// are optional when read, so an old file is recognised (and refused for reuse by name).
public struct LibraryFile: Codable, Sendable {
    public struct PCABasis: Codable, Sendable {
        public var components: Int
        public var explainedVarianceRatio: [Double]
        public var explainedVariance: [Double]?
        /// Mean crop (d values) and the axes (components × d).
        public var mean: [Double]?
        public var axes: [[Double]]?
    }

    public struct ClassEntry: Codable, Sendable {
        public var id: Int
        public var name: String?
        public var size: Int
        public var weight: Double
        /// Component mean in PCA space.
        public var centroid: [Double]
        /// Full: the m × m matrix; diagonal: one row of m variances.
        public var covariance: [[Double]]?
        public var countsPerFrame: [Int]
    }

    public var cropSize: Int
    public var channels: Int
    public var symmetry: CropSymmetry
    public var frames: Int
    public var defects: Int
    public var covarianceType: CovarianceType
    public var components: Int
    public var chosenBy: String
    public var seed: UInt64
    public var pca: PCABasis
    public var selection: [ModelSelectionRow]
    public var classes: [ClassEntry]
    /// A crop whose log-likelihood (PCA space, summed over views) is below this is "none" of
    /// the classes: the `noneQuantile` of the library's own crops.
    public var noneLogLikelihood: Double?
    public var noneQuantile: Double?
    public var source: LibrarySource?
}

/// A library ready to classify new crops: read from library.json, or made from a fitted library.
public struct DefectLibraryModel: Sendable {
    public let cropSize: Int
    public let channels: Int
    public let symmetry: CropSymmetry
    public let pca: PCA
    public let mixture: GaussianMixtureModel
    public let selection: [ModelSelectionRow]
    /// Class names by component (`D0`, `D1`, …).
    public let classNames: [String]
    public let noneLogLikelihood: Double
    public let source: LibrarySource?

    /// The share of a library's own crops that its threshold calls "none".
    public static let noneQuantile = 0.005

    public init(_ file: LibraryFile, path: String) throws {
        let classes = file.classes.sorted { $0.id < $1.id }
        let covariances = classes.compactMap(\.covariance)
        guard let mean = file.pca.mean, let axes = file.pca.axes, let variance = file.pca.explainedVariance,
              let threshold = file.noneLogLikelihood, covariances.count == classes.count else {
            throw InputError("\(path): lacks the PCA basis, covariances or threshold needed to classify new defects (written by an older atomtrack); rebuild it with `atomtrack classify`")
        }
        guard classes.map(\.id) == Array(classes.indices), !classes.isEmpty else {
            throw InputError("\(path): class ids must be 0, 1, … without gaps")
        }
        do {
            pca = try PCA(mean: mean, components: axes.flatMap { $0 }, explainedVariance: variance,
                          explainedVarianceRatio: file.pca.explainedVarianceRatio)
            mixture = try GaussianMixtureModel(covarianceType: file.covarianceType, weights: classes.map(\.weight),
                                               means: classes.flatMap(\.centroid),
                                               covariances: covariances.flatMap { $0.flatMap { $0 } })
        } catch { throw InputError("\(path): \(error)") }
        guard mixture.dimension == pca.componentCount, pca.dimension == file.channels * file.cropSize * file.cropSize else {
            throw InputError("\(path): PCA basis, mixture and crop size disagree")
        }
        cropSize = file.cropSize; channels = file.channels; symmetry = file.symmetry
        selection = file.selection
        classNames = classes.map { $0.name ?? "D\($0.id)" }
        noneLogLikelihood = threshold
        source = file.source
    }

    /// library.json at `url`.
    public init(contentsOf url: URL) throws {
        guard let data = try? Data(contentsOf: url) else { throw InputError("\(url.path): cannot read") }
        let file: LibraryFile
        do { file = try JSONDecoder().decode(LibraryFile.self, from: data) } catch {
            throw InputError("\(url.path): not a library.json (\(error.localizedDescription))")
        }
        try self.init(file, path: url.path)
    }

    /// The mean crop of each class: the component mean mapped back from PCA space (crop pixels).
    public func classMeanCrops() throws -> [[Double]] {
        let m = mixture.dimension
        let back = try pca.inverseTransform(try FeatureMatrix(rows: mixture.components, columns: m, values: mixture.means))
        return (0..<mixture.components).map { back.row($0) }
    }
}

/// Classes of two libraries matched one to one (Hungarian assignment), by the correlation of their
/// mean crops — the one space two libraries share, since each has its own PCA basis. Each pair is
/// compared in the best of library B's symmetry views, so a class seen rotated still matches.
public struct LibraryComparison: Sendable {
    public struct Pair: Sendable, Codable {
        public var a: String
        public var b: String
        /// Pearson correlation of the two mean crops (1 = same shape up to contrast).
        public var correlation: Double
    }
    /// Matched classes, by class of A.
    public let pairs: [Pair]
    /// Classes left without a partner (the libraries have different numbers of classes).
    public let unmatchedA: [String], unmatchedB: [String]
    /// correlation[i][j]: class i of A against class j of B.
    public let correlation: [[Double]]

    public init(_ a: DefectLibraryModel, _ b: DefectLibraryModel) throws {
        guard a.cropSize == b.cropSize, a.channels == b.channels else {
            throw InputError("the libraries' crops differ (\(a.cropSize) px vs \(b.cropSize) px); compare libraries built at one pixel size and crop size")
        }
        let meansA = try a.classMeanCrops(), meansB = try b.classMeanCrops()
        let viewsB = meansB.map { b.symmetry.allViews(of: $0.map(Float.init), size: b.cropSize, channels: b.channels) }
        let correlation = meansA.map { ma in
            viewsB.map { views in views.map { Self.pearson(ma, $0.map(Double.init)) }.max() ?? -1 }
        }
        self.correlation = correlation
        let rows = meansA.count, columns = meansB.count
        let assignment = try LinearAssignment.solve(dense: correlation.flatMap { $0.map { 1 - $0 } }, rows: rows, columns: columns)
        pairs = (0..<rows).compactMap { i in
            let j = assignment.columnOfRow[i]
            return j >= 0 ? Pair(a: a.classNames[i], b: b.classNames[j], correlation: correlation[i][j]) : nil
        }
        unmatchedA = (0..<rows).filter { assignment.columnOfRow[$0] < 0 }.map { a.classNames[$0] }
        unmatchedB = (0..<columns).filter { assignment.rowOfColumn[$0] < 0 }.map { b.classNames[$0] }
    }

    static func pearson(_ x: [Double], _ y: [Double]) -> Double {
        let n = Double(x.count), mx = x.reduce(0, +) / n, my = y.reduce(0, +) / n
        var sxy = 0.0, sxx = 0.0, syy = 0.0
        for (u, v) in zip(x, y) { sxy += (u - mx) * (v - my); sxx += (u - mx) * (u - mx); syy += (v - my) * (v - my) }
        return sxx > 0 && syy > 0 ? sxy / (sxx * syy).squareRoot() : 0
    }
}
