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
        /// Mean of the members' aligned crops: written when the mixture is in site space, where
        /// it cannot be mapped back to pixels.
        public var meanCrop: [Double]?
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
    /// The lattice sites whose intensities are the mixture's features (nil: PCA coordinates).
    public var sites: SiteProbe?
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
    /// The lattice sites whose intensities are the mixture's features (nil: PCA coordinates).
    public let sites: SiteProbe?
    /// Each class's mean crop as written (site-space libraries), else nil.
    let storedMeanCrops: [[Double]]?

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
        let pixels = file.channels * file.cropSize * file.cropSize
        let meanCrops = classes.compactMap(\.meanCrop)
        guard file.sites == nil || (meanCrops.count == classes.count && meanCrops.allSatisfy { $0.count == pixels }) else {
            throw InputError("\(path): a library with site features needs every class's mean crop")
        }
        guard mixture.dimension == file.sites?.featureCount ?? pca.componentCount, pca.dimension == file.channels * file.cropSize * file.cropSize else {
            throw InputError("\(path): PCA basis, mixture and crop size disagree")
        }
        cropSize = file.cropSize; channels = file.channels; symmetry = file.symmetry
        selection = file.selection
        classNames = classes.map { $0.name ?? "D\($0.id)" }
        noneLogLikelihood = threshold
        source = file.source
        sites = file.sites
        storedMeanCrops = file.sites == nil ? nil : meanCrops
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

    /// The mean crop of each class: as stored (site-space libraries), else the component mean
    /// mapped back from PCA space to crop pixels.
    public func classMeanCrops() throws -> [[Double]] {
        if let storedMeanCrops { return storedMeanCrops }
        let m = mixture.dimension
        let back = try pca.inverseTransform(try FeatureMatrix(rows: mixture.components, columns: m, values: mixture.means))
        return (0..<mixture.components).map { back.row($0) }
    }
}

/// Classes of two libraries matched one to one (Hungarian assignment). Each library has its own
/// PCA basis, so a class of B is compared with a class of A in A's space: B's class mean crop (in
/// the best of its symmetry views) projected on A's basis, at a Mahalanobis distance from A's
/// component (in units of that class's own spread); and the same from A into B. The distance is
/// the mean of the two. Mean crops also get a Pearson correlation (their shape; the lattice they
/// share makes it high for every pair, so it is shown, not used).
public struct LibraryComparison: Sendable {
    public struct Pair: Sendable, Codable {
        public var a: String
        public var b: String
        /// Mahalanobis distance in class standard deviations (mean of A→B and B→A).
        public var distance: Double
        /// Pearson correlation of the two mean crops.
        public var correlation: Double
    }
    /// Matched classes, by class of A.
    public let pairs: [Pair]
    /// Classes left without a partner (the libraries have different numbers of classes).
    public let unmatchedA: [String], unmatchedB: [String]
    /// distance[i][j] and correlation[i][j]: class i of A against class j of B.
    public let distance: [[Double]], correlation: [[Double]]

    public init(_ a: DefectLibraryModel, _ b: DefectLibraryModel) throws {
        guard a.cropSize == b.cropSize, a.channels == b.channels else {
            throw InputError("the libraries' crops differ (\(a.cropSize) px vs \(b.cropSize) px); compare libraries built at one pixel size and crop size")
        }
        let meansA = try a.classMeanCrops(), meansB = try b.classMeanCrops()
        let ab = try Self.distances(of: meansB, from: a, views: b.symmetry), ba = try Self.distances(of: meansA, from: b, views: a.symmetry)
        let distance = ab.indices.map { i in ab[i].indices.map { j in (ab[i][j] + ba[j][i]) / 2 } }
        correlation = meansA.map { ma in
            meansB.map { mb in b.symmetry.allViews(of: mb.map(Float.init), size: b.cropSize, channels: b.channels)
                .map { Self.pearson(ma, $0.map(Double.init)) }.max() ?? 0 }
        }
        self.distance = distance
        let rows = meansA.count, columns = meansB.count
        let assignment = try LinearAssignment.solve(dense: distance.flatMap { $0 }, rows: rows, columns: columns)
        var pairs: [Pair] = []
        for i in 0..<rows where assignment.columnOfRow[i] >= 0 {
            let j = assignment.columnOfRow[i]
            pairs.append(Pair(a: a.classNames[i], b: b.classNames[j], distance: distance[i][j], correlation: correlation[i][j]))
        }
        self.pairs = pairs
        unmatchedA = (0..<rows).filter { assignment.columnOfRow[$0] < 0 }.map { a.classNames[$0] }
        unmatchedB = (0..<columns).filter { assignment.rowOfColumn[$0] < 0 }.map { b.classNames[$0] }
    }

    /// d[i][j]: Mahalanobis distance of crop j (best of its views) from `library`'s component i.
    static func distances(of crops: [[Double]], from library: DefectLibraryModel, views symmetry: CropSymmetry) throws -> [[Double]] {
        let mixture = library.mixture, m = mixture.dimension
        let projected = try crops.map {
            try DefectClassifier.project([$0.map(Float.init)], size: library.cropSize, channels: library.channels,
                                         symmetry: symmetry, pca: library.pca, sites: library.sites)
        }
        return try (0..<mixture.components).map { c in
            let mean = Array(mixture.means[(c * m)..<((c + 1) * m)])
            let cov = mixture.covarianceType == .full
                ? Array(mixture.covariances[(c * m * m)..<((c + 1) * m * m)])
                : (0..<m).flatMap { r in (0..<m).map { $0 == r ? mixture.covariances[c * m + r] : 0 } }
            let factor = try cholesky(cov, m)
            return projected.map { views in
                (0..<views.rows).map { mahalanobis(views.row($0), mean, factor, m) }.min() ?? .infinity
            }
        }
    }

    /// Lower Cholesky factor of a symmetric positive definite m × m matrix (row-major).
    static func cholesky(_ a: [Double], _ m: Int) throws -> [Double] {
        var l = [Double](repeating: 0, count: m * m)
        for i in 0..<m {
            for j in 0...i {
                var s = a[i * m + j]
                for k in 0..<j { s -= l[i * m + k] * l[j * m + k] }
                if i == j {
                    guard s > 0 else { throw DefectLibraryError.notPositiveDefinite(component: i) }
                    l[i * m + i] = s.squareRoot()
                } else {
                    l[i * m + j] = s / l[j * m + j]
                }
            }
        }
        return l
    }

    /// √((x − μ)ᵀ Σ⁻¹ (x − μ)) with Σ = L Lᵀ: the length of L⁻¹(x − μ).
    static func mahalanobis(_ x: [Double], _ mean: [Double], _ l: [Double], _ m: Int) -> Double {
        var z = [Double](repeating: 0, count: m), sum = 0.0
        for i in 0..<m {
            var s = x[i] - mean[i]
            for k in 0..<i { s -= l[i * m + k] * z[k] }
            z[i] = s / l[i * m + i]
            sum += z[i] * z[i]
        }
        return sum.squareRoot()
    }

    static func pearson(_ x: [Double], _ y: [Double]) -> Double {
        let n = Double(x.count), mx = x.reduce(0, +) / n, my = y.reduce(0, +) / n
        var sxy = 0.0, sxx = 0.0, syy = 0.0
        for (u, v) in zip(x, y) { sxy += (u - mx) * (v - my); sxx += (u - mx) * (u - mx); syy += (v - my) * (v - my) }
        return sxx > 0 && syy > 0 ? sxy / (sxx * syy).squareRoot() : 0
    }
}
