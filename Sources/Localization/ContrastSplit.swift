import Core
import Foundation

/// Splits a class that holds two elements (the network's `W+Mo`) by Z-contrast: each atom's
/// integrated, background-subtracted intensity in a disc against the median of the class in the
/// same frame (the majority element). An atom is the light element when its ratio falls below
/// √`ratio`, the geometric midpoint between the light element's expected ratio and 1. On the
/// 80 kV abTEM multislice WS2 frame the Mo/W ratio is 0.39–0.41 (noiseless, disc of 3 px at
/// 0.248 Å/px; docs/ACCURACY.md).
public struct ContrastSplit: Sendable, Equatable {
    /// The merged class whose atoms are split.
    public var classIndex: Int
    /// The class index the light element's atoms get.
    public var lightClassIndex: Int
    /// Expected light/heavy integrated-intensity ratio, in (0, 1).
    public var ratio: Double
    /// Integration radius in pixels.
    public var radius: Double
    /// Fewer atoms of the class than this: no reference population, nothing is split.
    public var minimumAtoms = 5

    public init(classIndex: Int, lightClassIndex: Int, ratio: Double, radius: Double) throws {
        guard ratio > 0, ratio < 1 else {
            throw LocalizationError.invalidParameter(name: "contrast ratio", reason: "must be in (0, 1), got \(ratio)")
        }
        guard radius >= 1, radius.isFinite else {
            throw LocalizationError.invalidParameter(name: "integration radius", reason: "must be ≥ 1 px, got \(radius)")
        }
        self.classIndex = classIndex; self.lightClassIndex = lightClassIndex; self.ratio = ratio; self.radius = radius
    }

    /// Each atom's integrated intensity over the disc, less the frame's 5th-percentile level
    /// per pixel (the vacuum/background between columns); pixels outside the frame are skipped.
    public func integratedIntensity(of atom: Atom, frame: UnsafeBufferPointer<Float>, width: Int, height: Int,
                                    background: Double) -> Double {
        let r = Int(radius.rounded(.up)), r2 = radius * radius
        let cx = Int(atom.x.rounded()), cy = Int(atom.y.rounded())
        var sum = 0.0
        for y in max(0, cy - r)...min(height - 1, cy + r) {
            for x in max(0, cx - r)...min(width - 1, cx + r) {
                let dx = Double(x) - atom.x, dy = Double(y) - atom.y
                if dx * dx + dy * dy <= r2 { sum += Double(frame[y * width + x]) - background }
            }
        }
        return sum
    }

    /// Relabels the light atoms of `classIndex` as `lightClassIndex`; returns how many.
    @discardableResult
    public func apply(_ atoms: inout [Atom], frame: [Float], width: Int, height: Int) -> Int {
        let members = atoms.indices.filter { atoms[$0].classIndex == classIndex }
        guard members.count >= minimumAtoms, frame.count == width * height, !frame.isEmpty else { return 0 }
        var copy = frame
        let background = Double(Statistics.percentile(&copy, 5))
        let intensities = frame.withUnsafeBufferPointer { f in
            members.map { integratedIntensity(of: atoms[$0], frame: f, width: width, height: height, background: background) }
        }
        let reference = Statistics.median(intensities)
        guard reference > 0 else { return 0 }
        var count = 0
        for (i, intensity) in zip(members, intensities) where intensity < ratio.squareRoot() * reference {
            atoms[i].classIndex = lightClassIndex
            count += 1
        }
        return count
    }
}
