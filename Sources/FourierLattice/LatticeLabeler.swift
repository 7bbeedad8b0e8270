import Core
import Foundation
import Simulation

/// Training labels read off a frame itself (the first frame of an experimental movie, as in Maksov et al.,
/// npj Comput. Mater. 5, 12 (2019)): every lattice site of the Fourier reconstruction that holds a column,
/// in the class of what it holds (a Mo on a W site is `metal`, a thinned S column still `S2`); empty sites
/// are background. The result is a `TrainingPair` exactly as the simulator makes them (image min–max
/// normalised, discs of `labelRadius` Å), ready for the trainer's augmentation.
public enum LatticeLabeler {
    /// Sites split by how sure their class is: `points` labelled columns, `undecided` sites whose
    /// class (column or empty) the frame's contrast cannot tell; confidently empty sites are in neither.
    public struct Labels: Sendable {
        public var points: [LabelledPoint]
        public var undecided: [LabelledPoint]
    }

    /// A site's class is decided when its training class (a column class, or empty) has at least this
    /// posterior probability among the site's kinds.
    public static let confidence = 0.95

    /// - Parameters:
    ///   - frame: row-major pixels, `width` × `height` (≥ 32 × 32), finite.
    ///   - material: the lattice and its column kinds (`LatticeMaterial.named("ws2")`).
    ///   - pixelSize: Å per pixel if known (file calibration or `--pixel-size`); nil takes the Fourier estimate.
    ///   - labelRadius: label disc radius in Å (the shipped recipes use 0.5 Å).
    /// - Returns: the pair, its `points` the labelled columns, `pixelSize` the one used.
    /// - Throws: `FourierLatticeError` when the frame is too small, not finite or shows no lattice.
    public static func label(frame: [Float], width: Int, height: Int, material: LatticeMaterial,
                             pixelSize: Double? = nil, labelRadius: Double = 0.5) throws -> TrainingPair {
        let analysis = try LatticeAnalysis(frame: frame, width: width, height: height, material: material, pixelSize: pixelSize)
        return pair(from: analysis, frame: frame, pixelSize: pixelSize, labelRadius: labelRadius)
    }

    /// The training pair of an analysis already made (the `lattice` command writes both).
    public static func pair(from analysis: LatticeAnalysis, frame: [Float], pixelSize: Double? = nil,
                            labelRadius: Double = 0.5) -> TrainingPair {
        let p = pixelSize ?? analysis.fit.pixelSize
        let points = analysis.sites.compactMap { s in analysis.kind(of: s).label.map { LabelledPoint(x: s.x, y: s.y, label: $0) } }
        return TrainingPair(frame: frame, width: analysis.width, height: analysis.height, classNames: analysis.material.classNames,
                            points: points, labelRadius: labelRadius / p, pixelSize: p)
    }

    /// Labels for fine-tuning: every site of the fitted lattice is a position; its class is taken only
    /// where the contrast decides it. Each sublattice's contrasts scatter around its kinds' expected
    /// contrasts by σ (1.4826 × their median absolute deviation: the host columns dominate); a site's
    /// class posterior sums the Gaussian likelihoods of the kinds of each class (equal priors).
    public static func labels(frame: [Float], width: Int, height: Int, material: LatticeMaterial,
                              pixelSize: Double? = nil) throws -> Labels {
        let analysis = try LatticeAnalysis(frame: frame, width: width, height: height, material: material, pixelSize: pixelSize)
        return labels(from: analysis)
    }

    public static func labels(from analysis: LatticeAnalysis) -> Labels {
        var out = Labels(points: [], undecided: [])
        let spread = analysis.material.siteKinds.indices.map { b -> Double in
            let c = analysis.sites.filter { $0.basis == b }.map(\.contrast)
            guard !c.isEmpty else { return 1 }
            let m = Statistics.median(c)
            return max(0.02, 1.4826 * Statistics.median(c.map { abs($0 - m) }))
        }
        for s in analysis.sites {
            let kinds = analysis.material.siteKinds[s.basis], sigma = spread[s.basis]
            let exponents = kinds.map { -pow(($0.contrast - s.contrast) / sigma, 2) / 2 }
            let top = exponents.max() ?? 0   // shifted so that a contrast far beyond every kind does not underflow
            let likelihood = exponents.map { exp($0 - top) }, total = likelihood.reduce(0, +)
            // Posterior of each class (nil: empty) over the kinds that carry it.
            var posterior: [Int?: Double] = [:]
            for (k, l) in zip(kinds, likelihood) { posterior[k.label, default: 0] += l / total }
            let point = LabelledPoint(x: s.x, y: s.y, label: analysis.kind(of: s).label ?? -1)
            guard let best = posterior.max(by: { $0.value < $1.value }), best.value >= confidence else {
                out.undecided.append(point); continue
            }
            if let label = best.key { out.points.append(LabelledPoint(x: s.x, y: s.y, label: label)) }
        }
        return out
    }
}
