import Core
import Foundation

/// A single-channel image as row-major floats.
public struct FloatImage: Sendable, Equatable {
    public var width: Int, height: Int
    public var pixels: [Float]
}

/// One class of the library.
public struct DefectClassSummary: Sendable {
    public let id: Int
    /// Indices (into the classified defects) of the members, most confident first (for a mosaic).
    public let members: [Int]
    public var count: Int { members.count }
    /// Mean of the members' aligned crops (`channels × size × size`).
    public let meanCrop: [Float]
    /// Members in each frame, and their share of all classified defects in that frame.
    public let countsPerFrame: [Int]
    public let fractionPerFrame: [Double]
    /// Component mean in PCA space and mixture weight.
    public let centroid: [Double]
    public let weight: Double
}

/// The defect library: classes with their members and statistics, exportable as text.
public struct DefectClassLibrary: Sendable {
    public let defects: [DefectObject]
    public let classification: DefectClassification
    public let classes: [DefectClassSummary]
    public let cropSize: Int
    public let channels: Int
    public let frameCount: Int

    /// - Parameters:
    ///   - defects: the defects that were cropped and classified, in the same order as the crops
    ///     (use `CropSet.sourceIndices` to drop the skipped ones).
    ///   - frameCount: frames in the movie (frames are numbered from 0).
    public init(defects: [DefectObject], classification: DefectClassification, cropSize: Int, channels: Int = 1,
                frameCount: Int) throws {
        guard defects.count == classification.labels.count else {
            throw DefectLibraryError.shapeMismatch("\(defects.count) defects but \(classification.labels.count) classified crops")
        }
        guard frameCount >= 1, defects.allSatisfy({ $0.frame >= 0 && $0.frame < frameCount }) else {
            throw DefectLibraryError.invalidParameter("defect frames must lie in 0..<\(frameCount)")
        }
        self.defects = defects
        self.classification = classification
        self.cropSize = cropSize
        self.channels = channels
        self.frameCount = frameCount
        let model = classification.model, m = model.dimension
        var perFrameTotal = [Int](repeating: 0, count: frameCount)
        for d in defects { perFrameTotal[d.frame] += 1 }
        classes = (0..<model.components).map { k in
            let members = classification.labels.indices.filter { classification.labels[$0] == k }
                .sorted { classification.probabilities[$0] > classification.probabilities[$1] }
            var mean = [Float](repeating: 0, count: classification.alignedCrops.first?.count ?? 0)
            for i in members { for (p, v) in classification.alignedCrops[i].enumerated() { mean[p] += v } }
            if !members.isEmpty { mean = mean.map { $0 / Float(members.count) } }
            var counts = [Int](repeating: 0, count: frameCount)
            for i in members { counts[defects[i].frame] += 1 }
            let fractions = zip(counts, perFrameTotal).map { $1 > 0 ? Double($0) / Double($1) : 0 }
            return DefectClassSummary(id: k, members: members, meanCrop: mean, countsPerFrame: counts,
                                      fractionPerFrame: fractions,
                                      centroid: Array(model.means[(k * m)..<((k + 1) * m)]), weight: model.weights[k])
        }
    }

    /// `frame,x,y,class,probability,kind` for every classified defect: `class` = its name in
    /// `names` (`D<k>`, as in every other file) or `none`; `kind` = `atom:<symbol>` (a dopant or an
    /// intensity outlier of that atom class, symbols from `atomClasses`) or `vacancy:<sublattice>`.
    public func defectsCSV(names: [String], atomClasses: [String]) -> String {
        // loglik_<class>: the mixture's log p(crop | class) up to a per-crop constant, the
        // evidence `track`/`markov` weigh frame by frame in the joint HMM.
        let classCount = classification.classLogLikelihoods.first?.count ?? 0
        var s = "frame,x,y,class,probability,kind" + (0..<classCount).map { ",loglik_" + (names.indices.contains($0) ? names[$0] : "\($0)") }.joined() + "\n"
        for (i, d) in defects.enumerated() {
            let kind: String
            switch d.kind {
            case .atom(let c): kind = "atom:" + (atomClasses.indices.contains(c) ? atomClasses[c] : "\(c)")
            case .vacancy(let s): kind = "vacancy:\(s)"
            }
            let label = classification.labels[i]
            let name = names.indices.contains(label) ? names[label] : "none"
            s += "\(d.frame),\(fmt(d.x)),\(fmt(d.y)),\(name),\(fmt(classification.probabilities[i])),\(kind)"
            s += classification.classLogLikelihoods[i].map { "," + ($0.isFinite ? fmt($0) : "-inf") }.joined() + "\n"
        }
        return s
    }

    /// `library.json` (`LibraryFile`): classes (id, name, size, weight, PCA centroid and
    /// covariance, counts per frame), the PCA basis, the BIC/AIC table, the mixture seed, the
    /// "none of these" threshold and `source`.
    public func libraryJSON(names: [String], source: LibrarySource?) throws -> String {
        let c = classification, model = c.model, m = model.dimension
        let ll = c.logLikelihoods.filter(\.isFinite)
        let file = LibraryFile(
            cropSize: cropSize, channels: channels, symmetry: c.symmetry, frames: frameCount, defects: defects.count,
            covarianceType: model.covarianceType, components: model.components, chosenBy: "BIC", seed: model.seed,
            pca: .init(components: c.pca.componentCount, explainedVarianceRatio: c.pca.explainedVarianceRatio,
                       explainedVariance: c.pca.explainedVariance, mean: c.pca.mean,
                       axes: (0..<c.pca.componentCount).map { Array(c.pca.components[($0 * c.pca.dimension)..<(($0 + 1) * c.pca.dimension)]) }),
            selection: c.selection.rows,
            classes: classes.map { k in
                let covariance = model.covarianceType == .full
                    ? (0..<m).map { r in Array(model.covariances[(k.id * m * m + r * m)..<(k.id * m * m + (r + 1) * m)]) }
                    : [Array(model.covariances[(k.id * m)..<((k.id + 1) * m)])]
                return .init(id: k.id, name: names[k.id], size: k.count, weight: k.weight, centroid: k.centroid,
                             covariance: covariance, countsPerFrame: k.countsPerFrame,
                             meanCrop: c.sites == nil ? nil : k.meanCrop.map(Double.init))
            },
            noneLogLikelihood: ll.isEmpty ? nil : Statistics.quantile(ll, DefectLibraryModel.noneQuantile),
            noneQuantile: DefectLibraryModel.noneQuantile, source: source, sites: c.sites)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        encoder.allowNonFiniteFloats()
        return String(decoding: try encoder.encode(file), as: UTF8.self)
    }

    /// Mosaic of up to `limit` members of class `id` (most confident first), first channel only.
    public func mosaic(classID id: Int, columns: Int = 8, limit: Int = 64, gap: Int = 1) throws -> FloatImage {
        guard classes.indices.contains(id) else { throw DefectLibraryError.invalidParameter("no class \(id)") }
        let crops = classes[id].members.prefix(limit).map { Array(classification.alignedCrops[$0].prefix(cropSize * cropSize)) }
        return try Mosaic.build(crops: Array(crops), size: cropSize, columns: columns, gap: gap)
    }

    private func fmt(_ v: Double) -> String { String(format: "%.4f", v) }
}

extension JSONEncoder {
    /// NaN/∞ never occur in a fitted library, but if they did, write them as strings rather than fail.
    fileprivate func allowNonFiniteFloats() {
        nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
    }
}

/// Tiles square crops into one image, row by row.
public enum Mosaic {
    /// - Parameters: columns: tiles per row; gap: pixels between tiles, filled with `background`.
    public static func build(crops: [[Float]], size: Int, columns: Int, gap: Int = 1,
                             background: Float = 0) throws -> FloatImage {
        guard size >= 1, columns >= 1, gap >= 0 else {
            throw DefectLibraryError.invalidParameter("mosaic needs size ≥ 1, columns ≥ 1, gap ≥ 0")
        }
        guard crops.allSatisfy({ $0.count == size * size }) else {
            throw DefectLibraryError.shapeMismatch("every mosaic tile must hold \(size)×\(size) values")
        }
        let cols = max(min(columns, crops.count), 1), rows = max((crops.count + cols - 1) / cols, 1)
        let w = cols * size + (cols - 1) * gap, h = rows * size + (rows - 1) * gap
        var px = [Float](repeating: background, count: w * h)
        for (t, crop) in crops.enumerated() {
            let ox = (t % cols) * (size + gap), oy = (t / cols) * (size + gap)
            for i in 0..<size { for j in 0..<size { px[(oy + i) * w + ox + j] = crop[i * size + j] } }
        }
        return FloatImage(width: w, height: h, pixels: px)
    }
}
