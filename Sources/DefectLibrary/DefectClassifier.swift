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
    /// Per crop, the log-likelihood of each class, log p(crop | class), up to a constant per
    /// crop (log posterior − log weight): the evidence a kinetic model weighs frame by frame.
    public let classLogLikelihoods: [[Double]]
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
        // Views are made crop by crop and never all held at once: 12 views × 10⁴–10⁵ crops of a
        // long movie would take gigabytes. PCA axes come from an evenly strided subset of the
        // (crop, view) rows; every row is then projected in chunks.
        let t = c.symmetry.viewCount
        func viewsOf(_ g: Int) -> [[Float]] { c.symmetry == .none ? [crops[g]] : c.symmetry.views(of: crops[g], size: size, channels: channels) }
        let rows = crops.count * t
        let stride = max(1, (rows + c.pcaFitRows - 1) / max(c.pcaFitRows, 1))
        var fitRows: [[Float]] = []
        for g in 0..<crops.count {
            let firstRow = (g * t + stride - 1) / stride * stride   // first strided row at or after this crop's
            guard firstRow < g * t + t else { continue }
            let v = viewsOf(g)
            for r in Swift.stride(from: firstRow, to: g * t + t, by: stride) { fitRows.append(v[r - g * t]) }
        }
        let pca = try PCA(fitting: try FeatureMatrix(samples: fitRows), components: min(c.pcaComponents, pixels, max(fitRows.count - 1, 1)))
        var projected: [Double] = []
        let chunk = 1024
        for start in Swift.stride(from: 0, to: crops.count, by: chunk) {
            let block = (start..<min(start + chunk, crops.count)).flatMap(viewsOf)
            projected += try pca.transform(try FeatureMatrix(samples: block)).values
        }
        let features = try FeatureMatrix(rows: rows, columns: pca.componentCount, values: projected)
        let selection = try GaussianMixture.selectComponents(features, range: c.componentRange,
                                                             configuration: c.mixture, groupSize: t) {
            try GaussianMixture.fitGrouped(features, groupSize: t, configuration: $0)
        }
        let model = selection.best
        let k = model.components, m = pca.componentCount
        let engine = try MixtureEngine(data: features, groupSize: t, model: model)
        let resp = engine.expectation().responsibilities
        var labels = [Int](), probs = [Double](), chosen = [Int](), aligned = [[Float]](), feats = [Double]()
        var logLikelihoods = [[Double]]()
        for g in 0..<crops.count {
            var classP = [Double](repeating: 0, count: k)
            for v in 0..<t { for j in 0..<k { classP[j] += resp[(g * t + v) * k + j] } }
            let label = argmax(classP)
            let view = (0..<t).max { resp[(g * t + $0) * k + label] < resp[(g * t + $1) * k + label] }!
            labels.append(label); probs.append(classP[label]); chosen.append(view)
            logLikelihoods.append((0..<k).map { log(classP[$0]) - log(model.weights[$0]) })
            aligned.append(viewsOf(g)[view])
            feats += features.values[((g * t + view) * m)..<((g * t + view + 1) * m)]
        }
        return DefectClassification(pca: pca, selection: selection, labels: labels, probabilities: probs,
                                    classLogLikelihoods: logLikelihoods, views: chosen, alignedCrops: aligned,
                                    features: try FeatureMatrix(rows: crops.count, columns: m, values: feats),
                                    symmetry: c.symmetry)
    }
}
