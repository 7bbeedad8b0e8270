import Foundation
import Simulation

/// Training labels read off a frame itself (the first frame of an experimental movie, as in Maksov et al.,
/// npj Comput. Mater. 5, 12 (2019)): every lattice site of the Fourier reconstruction that holds a column,
/// in the class of what it holds (a Mo on a W site is `metal`, a thinned S column still `S2`); empty sites
/// are background. The result is a `TrainingPair` exactly as the simulator makes them (image min–max
/// normalised, discs of `labelRadius` Å), ready for the trainer's augmentation.
public enum LatticeLabeler {
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
}
