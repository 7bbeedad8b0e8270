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
    /// where the contrast decides it. Each sublattice's contrasts are a mixture of Gaussians at its kinds'
    /// expected contrasts with one σ; σ and the kinds' fractions (host columns dominate, departures are
    /// rare) are fitted by EM, and a site's class posterior sums its kinds' responsibilities.
    /// - Throws: also when `pixelSize` is given and the fitted lattice disagrees with it by more than
    ///   `pixelSizeTolerance` (the periodic pattern found is not the material's), when the folded frame
    ///   cannot tell the second sublattice from the hollows (`minSublatticeSignificance`), and when the
    ///   brightest sublattice's contrasts scatter by more than `maxHostScatter` (the frame is too noisy to
    ///   tell a column from an empty site): either way its sites are no labels.
    public static func labels(frame: [Float], width: Int, height: Int, material: LatticeMaterial,
                              pixelSize: Double? = nil) throws -> Labels {
        let analysis = try LatticeAnalysis(frame: frame, width: width, height: height, material: material, pixelSize: pixelSize)
        if let p = pixelSize, abs(analysis.fit.pixelSize / p - 1) > pixelSizeTolerance {
            throw FourierLatticeError.noLabels(String(format: "the strongest periodic pattern gives %.4f Å/px against %@'s lattice constant, not the frame's %.4f Å/px, so its sites are not %@ columns; give labels from a table",
                                                      analysis.fit.pixelSize, material.name, p, material.name))
        }
        guard analysis.sublatticeSignificance >= minSublatticeSignificance else {
            throw FourierLatticeError.noLabels(String(format: "the folded frame tells the second sublattice from the empty hollows at only %.1fσ (at least %.0fσ for labels), so which sites hold columns is a guess; give labels from a table",
                                                      analysis.sublatticeSignificance, minSublatticeSignificance))
        }
        let host = analysis.sites.filter { $0.basis == material.brightestBasis }.map(\.contrast)
        let scatter = robustSigma(host)
        guard scatter <= maxHostScatter else {
            throw FourierLatticeError.noLabels(String(format: "the brightest columns' contrasts scatter by %.2f of their median (at most %.2f for labels): the frame is too noisy to tell a column from an empty site; give labels from a table",
                                                      scatter, maxHostScatter))
        }
        return labels(from: analysis, frame: frame)
    }

    /// Least significance of the second sublattice's side against the hollows' (`LatticeAnalysis.sublatticeSignificance`).
    public static let minSublatticeSignificance = 3.0

    /// Contrast scatter (σ) of the brightest sublattice beyond which its sites are no labels: host 1 and
    /// empty 0 are then less than 2σ apart. (The study's probe and read-noise frames scatter by 0.32 and
    /// 0.41 with their sites on the columns; the mixture leaves their doubtful sites undecided.)
    public static let maxHostScatter = 0.5

    /// 1.4826 × the median absolute deviation: σ of the bulk, blind to the rare departures.
    static func robustSigma(_ x: [Double]) -> Double {
        guard !x.isEmpty else { return .infinity }
        let m = Statistics.median(x)
        return 1.4826 * Statistics.median(x.map { abs($0 - m) })
    }

    /// Relative disagreement of the fitted lattice with a given pixel size beyond which it is not the material's.
    public static let pixelSizeTolerance = 0.05

    /// The decided columns are placed where `frame` has them (`LatticeAnalysis.snapped`: scan distortion
    /// moves the columns off the ideal lattice, and a label must sit on its column); undecided sites stay
    /// ideal, as do all sites without a frame.
    public static func labels(from analysis: LatticeAnalysis, frame: [Float]?) -> Labels {
        var out = Labels(points: [], undecided: [])
        let noise = frame.map(analysis.pixelNoise) ?? 0
        for b in analysis.material.siteKinds.indices {
            let kinds = analysis.material.siteKinds[b], sites = analysis.sites.filter { $0.basis == b }
            let responsibilities = mixture(sites.map(\.contrast), means: kinds.map(\.contrast))
            for (s, r) in zip(sites, responsibilities) {
                var posterior: [Int?: Double] = [:]   // per training class (nil: empty site)
                for (k, rk) in zip(kinds, r) { posterior[k.label, default: 0] += rk }
                guard let best = posterior.max(by: { $0.value < $1.value }), best.value >= confidence else {
                    out.undecided.append(LabelledPoint(x: s.x, y: s.y, label: -1)); continue
                }
                if let label = best.key {
                    let p = frame.map { analysis.snapped(Vec2(s.x, s.y), frame: $0, noise: noise) } ?? Vec2(s.x, s.y)
                    out.points.append(LabelledPoint(x: p.x, y: p.y, label: label))
                }
            }
        }
        return out
    }

    /// Responsibilities of a 1-D Gaussian mixture with fixed `means` (the first the host's) and one
    /// shared σ, fitted by EM from weights 0.9 (host) / rest shared and σ = 1.4826 × MAD.
    static func mixture(_ x: [Double], means: [Double], iterations: Int = 30) -> [[Double]] {
        guard !x.isEmpty else { return [] }
        let k = means.count
        var weights = (0..<k).map { $0 == 0 ? 0.9 : 0.1 / Double(max(1, k - 1)) }
        var sigma = max(0.02, robustSigma(x))
        var r = [[Double]]()
        for _ in 0..<iterations {
            r = x.map { c in
                let e = (0..<k).map { log(weights[$0]) - pow((c - means[$0]) / sigma, 2) / 2 }
                let top = e.max()!   // shifted: a contrast far beyond every kind must not underflow
                let l = e.map { exp($0 - top) }, total = l.reduce(0, +)
                return l.map { $0 / total }
            }
            weights = (0..<k).map { j in max(1e-3, r.reduce(0) { $0 + $1[j] } / Double(x.count)) }
            var ss = 0.0
            for (c, ri) in zip(x, r) { for j in 0..<k { ss += ri[j] * pow(c - means[j], 2) } }
            sigma = max(0.02, (ss / Double(x.count)).squareRoot())
        }
        return r
    }
}
