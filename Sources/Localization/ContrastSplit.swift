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

    /// Each atom's integrated intensity over the disc, less `background` per pixel (the frame's
    /// 5th percentile: the vacuum between columns). A disc the frame edge cuts is scaled up by
    /// its full pixel count over the pixels inside: a column cut in half would otherwise look
    /// half as bright as a W, i.e. like a Mo (53 of 76 "Mo" on four 256² frames were such).
    public func integratedIntensity(of atom: Atom, frame: UnsafeBufferPointer<Float>, width: Int, height: Int,
                                    background: Double) -> Double {
        let r = Int(radius.rounded(.up)), r2 = radius * radius
        let cx = Int(atom.x.rounded()), cy = Int(atom.y.rounded())
        var sum = 0.0, inside = 0, all = 0
        for y in (cy - r)...(cy + r) {
            for x in (cx - r)...(cx + r) {
                let dx = Double(x) - atom.x, dy = Double(y) - atom.y
                guard dx * dx + dy * dy <= r2 else { continue }
                all += 1
                guard x >= 0, y >= 0, x < width, y < height else { continue }
                sum += Double(frame[y * width + x]) - background
                inside += 1
            }
        }
        return inside > 0 ? sum * Double(all) / Double(inside) : 0
    }

    /// Each unflagged atom of `classIndex` (index into `atoms`) with its intensity over the class's
    /// median in this frame (the majority element's level); empty when the class has fewer than
    /// `minimumAtoms` such atoms or no positive median. The background level is the frame's 5th
    /// percentile, taken without copying the frame. Atoms flagged `border` are left out: a column
    /// the edge cuts is found shifted inwards and its disc holds only part of it (41 of 65 "Mo"
    /// on four simulated 256² frames were such W).
    public func ratios(_ atoms: [Atom], frame: [Float], width: Int, height: Int) -> [(index: Int, ratio: Double)] {
        let members = atoms.indices.filter { atoms[$0].classIndex == classIndex && !atoms[$0].border }
        guard members.count >= minimumAtoms, frame.count == width * height, !frame.isEmpty else { return [] }
        let intensities = frame.withUnsafeBufferPointer { f in
            let background = Double(OrderStatistics.percentiles(f, [5])[0])
            return members.map { integratedIntensity(of: atoms[$0], frame: f, width: width, height: height, background: background) }
        }
        let reference = Statistics.median(intensities)
        guard reference > 0 else { return [] }
        return zip(members, intensities).map { ($0, $1 / reference) }
    }

    /// Whether a ratio (`ratios`) is the light element's: below √`ratio`.
    public func isLight(_ r: Double) -> Bool { r < ratio.squareRoot() }

    /// Relabels the light atoms of `classIndex` as `lightClassIndex` (`ratios`, `isLight`) and
    /// returns the ratios measured, so that callers can weigh the evidence (`ClassProbability`).
    @discardableResult
    public func split(_ atoms: inout [Atom], frame: [Float], width: Int, height: Int) -> [(index: Int, ratio: Double)] {
        let measured = ratios(atoms, frame: frame, width: width, height: height)
        for (i, r) in measured where isLight(r) { atoms[i].classIndex = lightClassIndex }
        return measured
    }

    /// `split`, returning how many atoms were relabelled.
    @discardableResult
    public func apply(_ atoms: inout [Atom], frame: [Float], width: Int, height: Int) -> Int {
        split(&atoms, frame: frame, width: width, height: height).filter { isLight($0.ratio) }.count
    }
}
