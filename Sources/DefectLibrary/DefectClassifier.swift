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

    public init() { mixture.restarts = 3 }
}

/// Defect crops assigned to classes, with everything needed to build the library.
public struct DefectClassification: Sendable {
    public let pca: PCA
    public let selection: ModelSelection
    public var model: GaussianMixtureModel { selection.best }
    /// Class of each crop (most probable component).
    public let labels: [Int]
    /// Posterior probability of that class.
    public let probabilities: [Double]
    /// Index into `symmetry.transforms` of the view that best matches the class (0 without symmetry).
    public let views: [Int]
    /// Each crop in its canonical orientation (the chosen view).
    public let alignedCrops: [[Float]]
    /// PCA coordinates of each aligned crop, n × pcaComponents.
    public let features: FeatureMatrix
    public let symmetry: CropSymmetry
}

/// PCA → Gaussian mixture (BIC over a range of k), optionally with the crop's orientation as
/// a latent variable: each crop enters as all its symmetry views and EM sums over them, so
/// rotated copies of one defect share a class instead of splitting into one per orientation.
public enum DefectClassifier {
    public static func classify(crops: [[Float]], size: Int, channels: Int = 1,
                                configuration c: ClassifierConfiguration) throws -> DefectClassification {
        guard !crops.isEmpty else { throw DefectLibraryError.emptyData("no crops to classify") }
        let pixels = channels * size * size
        guard crops.allSatisfy({ $0.count == pixels }) else {
            throw DefectLibraryError.shapeMismatch("every crop must hold \(channels)×\(size)×\(size) values")
        }
        let t = c.symmetry.viewCount
        let views = c.symmetry == .none ? crops : crops.flatMap { c.symmetry.views(of: $0, size: size, channels: channels) }
        let all = try FeatureMatrix(samples: views)
        let stride = max(1, (all.rows + c.pcaFitRows - 1) / max(c.pcaFitRows, 1))
        let fitSet = stride == 1 ? all : try FeatureMatrix(
            rows: (all.rows + stride - 1) / stride, columns: pixels,
            values: Swift.stride(from: 0, to: all.rows, by: stride).flatMap { all.values[($0 * pixels)..<(($0 + 1) * pixels)] })
        let pca = try PCA(fitting: fitSet, components: min(c.pcaComponents, pixels, max(fitSet.rows - 1, 1)))
        let features = try pca.transform(all)
        let selection = try GaussianMixture.selectComponents(features, range: c.componentRange,
                                                             configuration: c.mixture, groupSize: t) {
            try GaussianMixture.fitGrouped(features, groupSize: t, configuration: $0)
        }
        let model = selection.best
        let k = model.components, m = pca.componentCount
        let engine = try MixtureEngine(data: features, groupSize: t, model: model)
        let resp = engine.expectation().responsibilities
        var labels = [Int](), probs = [Double](), chosen = [Int](), aligned = [[Float]](), feats = [Double]()
        for g in 0..<crops.count {
            var classP = [Double](repeating: 0, count: k)
            for v in 0..<t { for j in 0..<k { classP[j] += resp[(g * t + v) * k + j] } }
            let label = argmax(classP)
            let view = (0..<t).max { resp[(g * t + $0) * k + label] < resp[(g * t + $1) * k + label] }!
            labels.append(label); probs.append(classP[label]); chosen.append(view)
            aligned.append(views[g * t + view])
            feats += features.values[((g * t + view) * m)..<((g * t + view + 1) * m)]
        }
        return DefectClassification(pca: pca, selection: selection, labels: labels, probabilities: probs,
                                    views: chosen, alignedCrops: aligned,
                                    features: try FeatureMatrix(rows: crops.count, columns: m, values: feats),
                                    symmetry: c.symmetry)
    }
}
