import Core
import Foundation
import Localization

/// How clearly a frame shows its atoms, measured from the frame alone (never from a dose it
/// claims): log(contrast / noise) + log(column spacing in px), where contrast is the median raw
/// value at the atoms' centres less the frame's 5th percentile, and noise the spread of each
/// pixel less the mean of its 4 neighbours (the 0.5 % tails trimmed; / √1.25, the factor for
/// white noise). The spacing term makes it an atom's signal-to-noise rather than a pixel's: an
/// atom spans ∝ spacing² pixels, whose mean has ∝ 1/spacing of one pixel's noise.
///
/// Why: a class probability calibrated on the training recipe's frames, which mix hard frames
/// (contamination, small pixels) into each dose, is underconfident on cleaner frames of the same
/// dose (graphene at 10⁴ e/Å²: ECE 0.072 on movie frames); with this term the calibration
/// (`ClassCalibration.frameSignalCoefficient`) tells them apart (docs/ACCURACY.md). A robust
/// MAD of the residuals is 0 on low-count frames (most residuals exactly 0), hence the trimmed spread.
public enum FrameSignal {
    /// At most this many residuals are sampled (evenly) from a large frame.
    static let maximumSamples = 65_536

    /// nil for a frame smaller than 3 × 3 px, without atoms, or without noise or contrast.
    public static func logSignalToNoise(atoms: [Atom], frame: [Float], width: Int, height: Int, columnSpacingPixels: Double) -> Double? {
        guard width >= 3, height >= 3, !atoms.isEmpty, columnSpacingPixels > 0 else { return nil }
        let interior = (width - 2) * (height - 2), stride = max(1, interior / maximumSamples)
        var residuals: [Double] = []
        residuals.reserveCapacity(interior / stride + 1)
        var k = 0
        for y in 1..<(height - 1) {
            for x in 1..<(width - 1) {
                defer { k += 1 }
                guard k % stride == 0 else { continue }
                let i = y * width + x
                let neighbours = Double(frame[i - 1]) + Double(frame[i + 1]) + Double(frame[i - width]) + Double(frame[i + width])
                residuals.append(Double(frame[i]) - neighbours / 4)
            }
        }
        residuals.sort()
        let tail = residuals.count / 200
        let kept = residuals[tail..<(residuals.count - tail)]
        let mean = kept.reduce(0, +) / Double(kept.count)
        let noise = (kept.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(kept.count) / 1.25).squareRoot()
        let centres = atoms.map { a -> Double in
            let x = min(max(Int(a.x.rounded()), 0), width - 1), y = min(max(Int(a.y.rounded()), 0), height - 1)
            return Double(frame[y * width + x])
        }
        var values = frame
        let floor = Double(Statistics.percentile(&values, 5))
        let contrast = Statistics.median(centres) - floor
        guard noise > 0, contrast > 0, noise.isFinite, contrast.isFinite else { return nil }
        return log(contrast / noise) + log(columnSpacingPixels)
    }
}
