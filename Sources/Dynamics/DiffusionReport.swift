import Foundation

/// Lattice hopping: how often one-frame steps are jumps, and how long steps are.
public struct HopStatistics: Sendable, Equatable {
    /// Class at the start of the counted steps (`nil` = all classes).
    public var classLabel: Int?
    /// One-frame steps observed and how many were hops (longer than the threshold).
    public var steps: Int
    public var hops: Int
    /// Hop probability per frame, hops/steps, with a 95 % Wilson interval.
    public var probability: Double
    public var probabilityLow: Double
    public var probabilityHigh: Double
    /// Hop rate per frame for a Poisson process, −ln(1 − p) (hops/frame).
    public var ratePerFrame: Double
    /// Step-length histogram: bin k counts lengths in [k·binWidth, (k+1)·binWidth) pixels;
    /// the last bin also holds everything longer.
    public var binWidth: Double
    public var histogram: [Int]
}

extension Diffusion {

    /// Hop statistics over one-frame steps, per class (of the step's first point) and
    /// for all classes together (first element). A step is a hop when longer than
    /// `threshold` pixels — e.g. half the hop length of the lattice.
    public static func hops(_ tracks: [DiffusionTrack], threshold: Double, binWidth: Double,
                            bins: Int = 40) throws -> [HopStatistics] {
        guard threshold > 0, threshold.isFinite else { throw DiffusionError.invalidOption("hop threshold must be positive") }
        guard binWidth > 0, binWidth.isFinite, bins >= 1 else { throw DiffusionError.invalidOption("histogram needs a positive bin width and ≥ 1 bin") }
        try validate(tracks, DiffusionOptions())
        var lengthsByClass: [Int: [Double]] = [:]
        for t in tracks {
            for i in 1..<max(t.frames.count, 1) where t.frames[i] - t.frames[i - 1] == 1 {
                let dx = t.x[i] - t.x[i - 1], dy = t.y[i] - t.y[i - 1]
                lengthsByClass[t.classes[i - 1], default: []].append((dx * dx + dy * dy).squareRoot())
            }
        }
        func stats(_ label: Int?, _ lengths: [Double]) -> HopStatistics {
            var histogram = [Int](repeating: 0, count: bins)
            for l in lengths { histogram[min(Int(l / binWidth), bins - 1)] += 1 }
            let hops = lengths.filter { $0 > threshold }.count, n = lengths.count
            let p = n > 0 ? Double(hops) / Double(n) : .nan
            let (low, high) = wilson(hops, n)
            return HopStatistics(classLabel: label, steps: n, hops: hops, probability: p, probabilityLow: low,
                                 probabilityHigh: high, ratePerFrame: p < 1 ? -log(1 - p) : .infinity,
                                 binWidth: binWidth, histogram: histogram)
        }
        let all = stats(nil, lengthsByClass.values.flatMap { $0 })
        return [all] + lengthsByClass.keys.sorted().map { stats($0, lengthsByClass[$0]!) }
    }

    /// 95 % Wilson score interval of a binomial proportion.
    static func wilson(_ k: Int, _ n: Int) -> (Double, Double) {
        guard n > 0 else { return (.nan, .nan) }
        let z = 1.959963984540054, nn = Double(n), p = Double(k) / nn
        let centre = (p + z * z / (2 * nn)) / (1 + z * z / nn)
        let half = z / (1 + z * z / nn) * (p * (1 - p) / nn + z * z / (4 * nn * nn)).squareRoot()
        return (max(centre - half, 0), min(centre + half, 1))
    }

    /// `diffusion.csv`: `class,n_tracks,n_steps,D,D_ci_low,D_ci_high,sigma,unit` (D from the
    /// covariance estimator with its bootstrap interval, σ per axis), followed by the MSD fit
    /// `D_msd,sigma_msd,msd_points`. Units are Å²/s and Å with a calibration (Å²/frame when it
    /// has no frame time), else px²/frame and px.
    /// `class` is `classNames[label]` where given, else the label number.
    /// With `hmm`, the joint HMM's estimates for the hidden state holding each row's class follow
    /// (`HMMReport`'s units); D, its interval and the MSD fit are then the cross-checks.
    public static func csv(_ results: [DiffusionResult], calibration: DiffusionCalibration? = nil, classNames: [String] = [],
                           hmm: DefectHMMFit? = nil) -> String {
        let report = hmm.map { HMMReport($0, classNames: classNames, calibration: calibration) }
        let (scaleD, unit) = DiffusionCalibration.diffusionUnit(calibration)
        let scaleL = calibration?.pixelSize ?? 1
        var s = "class,n_tracks,n_steps,D,D_ci_low,D_ci_high,sigma,unit,D_msd,sigma_msd,msd_points" + (report != nil ? "," + hmmHeader : "") + "\n"
        for r in results {
            let sigma = max(r.cve.sigmaSquared, 0).squareRoot()
            let fields = [r.cve.D * scaleD, r.ciLow * scaleD, r.ciHigh * scaleD, sigma * scaleL].map(format)
            let fit = r.msdFit
            s += "\(name(r.classLabel, classNames)),\(r.tracks),\(r.steps),\(fields.joined(separator: ",")),\(unit),"
            s += "\(format((fit?.D ?? .nan) * scaleD)),\(format((fit?.sigma ?? .nan) * scaleL)),\(fit?.points ?? 0)"
            s += (report.map { "," + hmmColumns($0, label: r.classLabel, classNames: classNames) } ?? "") + "\n"
        }
        return s
    }

    /// `hops.csv`: `class,steps,hops,p,p_low,p_high,rate_per_frame,rate_per_s` (class `all` first;
    /// `rate_per_s` empty without a frame time), then a blank line and the jump-length histogram
    /// `class,bin_low,bin_high,count` (bin edges in px, or Å with a calibration). Classes are named as in `csv`.
    public static func hopsCSV(_ stats: [HopStatistics], calibration: DiffusionCalibration? = nil, classNames: [String] = []) -> String {
        var s = "class,steps,hops,p,p_low,p_high,rate_per_frame,rate_per_s\n"
        for h in stats {
            let label = h.classLabel.map { name($0, classNames) } ?? "all"
            let perSecond = calibration?.frameTime.map { format(h.ratePerFrame / $0) } ?? ""
            s += "\(label),\(h.steps),\(h.hops),\(format(h.probability)),\(format(h.probabilityLow)),"
            s += "\(format(h.probabilityHigh)),\(format(h.ratePerFrame)),\(perSecond)\n"
        }
        let scale = calibration?.pixelSize ?? 1
        s += "\nclass,bin_low,bin_high,count\n"
        for h in stats {
            let label = h.classLabel.map { name($0, classNames) } ?? "all"
            for (k, n) in h.histogram.enumerated() {
                let high = k == h.histogram.count - 1 ? "inf" : format(Double(k + 1) * h.binWidth * scale)
                s += "\(label),\(format(Double(k) * h.binWidth * scale)),\(high),\(n)\n"
            }
        }
        return s
    }

    static func format(_ v: Double) -> String { v.isFinite ? String(format: "%.6g", v) : "nan" }

    /// A class label as written in the tables: its name where one is given, else its number.
    static func name(_ label: Int, _ names: [String]) -> String { names.indices.contains(label) ? names[label] : "\(label)" }
}
