import Foundation

/// How to turn defect crops into classes.
public struct ClassifierConfiguration: Sendable {
    /// PCA dimensions fed to the mixture.
    public var pcaComponents: Int = 10
    /// Candidate numbers of classes; the best by BIC is used.
    public var componentRange: ClosedRange<Int> = 1...8
    /// `.hexagonal`/`.square` make rotated and mirrored copies of a defect one class.
    public var symmetry: CropSymmetry = .none
    /// PCA axes are fitted on at most this many views (an evenly strided subset), which
    /// bounds the cost of the d×d covariance for large crop sets; all views are projected.
    public var pcaFitRows: Int = 20000
    /// Mixture settings (its `components` is overridden by `componentRange`).
    public var mixture = GMMConfiguration(components: 1)
    /// Distance between neighbouring columns in pixels: when set (single-channel crops) and the
    /// mean crop shows lattice sites around the centre, the mixture sees the intensities at those
    /// sites (`SiteProbe`) instead of PCA coordinates. At 2·10⁴ e/Å² a WS2 Mo_W and Mo_W+V_S
    /// differ by about 3 noise σ in the weakest site, while three PCA axes of the whole crops
    /// carry mostly noise and shifts, and BIC then finds one class (docs/ACCURACY.md).
    public var siteSpacing: Double?

    public init() { mixture.restarts = 3 }
}

/// Defect crops assigned to classes, with everything needed to build the library.
public struct DefectClassification: Sendable {
    public let pca: PCA
    public let selection: ModelSelection
    public var model: GaussianMixtureModel { selection.best }
    /// Class of each crop (most probable component); `DefectClassification.none` for a crop the
    /// library it was assigned to does not explain (log-likelihood below its threshold).
    public let labels: [Int]
    /// Posterior probability of that class.
    public let probabilities: [Double]
    /// log p(crop) under the mixture, summed over the views (PCA space).
    public let logLikelihoods: [Double]
    /// Per crop, the log-likelihood of each class, log p(crop | class), up to a constant per
    /// crop (log posterior − log weight): the evidence a kinetic model weighs frame by frame.
    public let classLogLikelihoods: [[Double]]
    /// Index into `symmetry.transforms` of the view that best matches the class (0 without symmetry).
    public let views: [Int]
    /// Each crop in its canonical orientation (the chosen view).
    public let alignedCrops: [[Float]]
    /// Features of each aligned crop: its site intensities (`sites`), else its PCA coordinates.
    public let features: FeatureMatrix
    public let symmetry: CropSymmetry
    /// The lattice sites whose intensities are features; nil when crops enter by PCA alone.
    public let sites: SiteProbe?

    /// The label of a crop that fits none of a library's classes.
    public static let none = -1
}

/// PCA → Gaussian mixture (BIC over a range of k), optionally with the crop's orientation as
/// a latent variable: each crop enters as all its symmetry views and EM sums over them, so
/// rotated copies of one defect share a class instead of splitting into one per orientation.
public enum DefectClassifier {
    public static func classify(crops: [[Float]], size: Int, channels: Int = 1,
                                configuration c: ClassifierConfiguration) throws -> DefectClassification {
        try check(crops, size: size, channels: channels)
        // Views are made crop by crop and never all held at once: 12 views × 10⁴–10⁵ crops of a
        // long movie would take gigabytes. PCA axes come from an evenly strided subset of the
        // (crop, view) rows; every row is then projected in chunks.
        let t = c.symmetry.viewCount, pixels = channels * size * size
        let rows = crops.count * t
        let stride = max(1, (rows + c.pcaFitRows - 1) / max(c.pcaFitRows, 1))
        var fitRows: [[Float]] = []
        for g in 0..<crops.count {
            let firstRow = (g * t + stride - 1) / stride * stride   // first strided row at or after this crop's
            guard firstRow < g * t + t else { continue }
            let v = c.symmetry.allViews(of: crops[g], size: size, channels: channels)
            for r in Swift.stride(from: firstRow, to: g * t + t, by: stride) { fitRows.append(v[r - g * t]) }
        }
        let pca = try PCA(fitting: try FeatureMatrix(samples: fitRows), components: min(c.pcaComponents, pixels, max(fitRows.count - 1, 1)))
        let sites = channels == 1 ? c.siteSpacing.flatMap { SiteProbe.find(meanCrop: mean(of: crops), size: size, spacing: $0) } : nil
        let features = try project(crops, size: size, channels: channels, symmetry: c.symmetry, pca: pca, sites: sites)
        let selection = try GaussianMixture.selectComponents(features, range: c.componentRange,
                                                             configuration: c.mixture, groupSize: t) {
            try GaussianMixture.fitGrouped(features, groupSize: t, configuration: $0)
        }
        return try assign(crops, size: size, channels: channels, features: features, symmetry: c.symmetry,
                          pca: pca, sites: sites, selection: selection, noneBelow: -.infinity)
    }

    /// Assigns new crops to the classes of an existing library (its PCA and mixture, unchanged);
    /// a crop whose log-likelihood is below the library's `noneLogLikelihood` is labelled `none`.
    public static func classify(crops: [[Float]], with library: DefectLibraryModel) throws -> DefectClassification {
        try check(crops, size: library.cropSize, channels: library.channels)
        let features = try project(crops, size: library.cropSize, channels: library.channels,
                                   symmetry: library.symmetry, pca: library.pca, sites: library.sites)
        return try assign(crops, size: library.cropSize, channels: library.channels, features: features,
                          symmetry: library.symmetry, pca: library.pca, sites: library.sites,
                          selection: ModelSelection(rows: library.selection, best: library.mixture),
                          noneBelow: library.noneLogLikelihood)
    }

    private static func check(_ crops: [[Float]], size: Int, channels: Int) throws {
        guard !crops.isEmpty else { throw DefectLibraryError.emptyData("no crops to classify") }
        guard crops.allSatisfy({ $0.count == channels * size * size }) else {
            throw DefectLibraryError.shapeMismatch("every crop must hold \(channels)×\(size)×\(size) values")
        }
    }

    /// Features of every view of every crop (crop-major), projected in chunks: the crop's site
    /// intensities (sorted, so the same for every view) when there are sites, else the view's
    /// PCA coordinates.
    static func project(_ crops: [[Float]], size: Int, channels: Int, symmetry: CropSymmetry,
                        pca: PCA, sites: SiteProbe?) throws -> FeatureMatrix {
        let t = symmetry.viewCount
        if let sites {
            let values = crops.flatMap { crop in
                let f = sites.features(of: crop, size: size)
                return (0..<t).flatMap { _ in f }
            }
            return try FeatureMatrix(rows: crops.count * t, columns: sites.featureCount, values: values)
        }
        var projected: [Double] = []
        let chunk = 1024, m = pca.componentCount
        for start in Swift.stride(from: 0, to: crops.count, by: chunk) {
            let block = crops[start..<min(start + chunk, crops.count)]
            let coordinates = try pca.transform(try FeatureMatrix(samples: block.flatMap { symmetry.allViews(of: $0, size: size, channels: channels) })).values
            projected += coordinates
        }
        return try FeatureMatrix(rows: crops.count * t, columns: m, values: projected)
    }

    /// The pixel-wise mean of equally long crops.
    static func mean(of crops: [[Float]]) -> [Double] {
        var sum = [Double](repeating: 0, count: crops.first?.count ?? 0)
        for crop in crops { for (p, v) in crop.enumerated() { sum[p] += Double(v) } }
        return sum.map { $0 / Double(max(crops.count, 1)) }
    }

    /// Each crop's class (summed over its views), the view that best fits it, and its log-likelihood.
    private static func assign(_ crops: [[Float]], size: Int, channels: Int, features: FeatureMatrix,
                               symmetry: CropSymmetry, pca: PCA, sites: SiteProbe?, selection: ModelSelection,
                               noneBelow threshold: Double) throws -> DefectClassification {
        let model = selection.best, t = symmetry.viewCount
        let k = model.components, m = features.columns
        let engine = try MixtureEngine(data: features, groupSize: t, model: model)
        let (logLikelihoods, resp) = engine.groupLikelihoods()
        var labels = [Int](), probs = [Double](), chosen = [Int](), aligned = [[Float]](), feats = [Double]()
        var classLogLikelihoods = [[Double]]()
        for g in 0..<crops.count {
            var classP = [Double](repeating: 0, count: k)
            for v in 0..<t { for j in 0..<k { classP[j] += resp[(g * t + v) * k + j] } }
            let label = argmax(classP)
            let view = (0..<t).max { resp[(g * t + $0) * k + label] < resp[(g * t + $1) * k + label] }!
            labels.append(logLikelihoods[g] < threshold ? DefectClassification.none : label)
            probs.append(classP[label]); chosen.append(view)
            classLogLikelihoods.append((0..<k).map { log(classP[$0]) - log(model.weights[$0]) })
            aligned.append(symmetry.allViews(of: crops[g], size: size, channels: channels)[view])
            feats += features.values[((g * t + view) * m)..<((g * t + view + 1) * m)]
        }
        return DefectClassification(pca: pca, selection: selection, labels: labels, probabilities: probs,
                                    logLikelihoods: logLikelihoods, classLogLikelihoods: classLogLikelihoods, views: chosen, alignedCrops: aligned,
                                    features: try FeatureMatrix(rows: crops.count, columns: m, values: feats),
                                    symmetry: symmetry, sites: sites)
    }
}

extension CropSymmetry {
    /// Every view of a crop; the crop itself without symmetry.
    func allViews(of crop: [Float], size: Int, channels: Int) -> [[Float]] {
        self == .none ? [crop] : views(of: crop, size: size, channels: channels)
    }
}
