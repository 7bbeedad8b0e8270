import Foundation

/// The intensities at the lattice sites around a defect's centre: the physics a low-dose crop
/// carries. A Mo_W+V_S differs from a Mo_W by half the S of one of the three S2 columns beside
/// the Mo, a few pixels that PCA of whole noisy crops spreads over many axes; a probe-weighted
/// mean at each neighbouring site, sorted so that it does not matter which site, concentrates
/// it in one feature (the smallest). The sites are the bright maxima of the mean of all crops
/// about one column spacing from the centre, so they come from the material's own lattice and
/// the movie's orientation (three S2 columns around a W site, three C atoms around a graphene
/// site), never from constants of one material.
public struct SiteProbe: Codable, Sendable, Equatable {
    /// Site offsets from the crop centre in pixels, each [x, y] (x right, y down).
    public var offsets: [[Double]]
    /// σ in pixels of the Gaussian weight over which each site's intensity is averaged.
    public var sigma: Double

    /// Features per crop: the centre's intensity, then the sites' in ascending order.
    public var featureCount: Int { offsets.count + 1 }

    public init(offsets: [[Double]], sigma: Double) {
        self.offsets = offsets
        self.sigma = sigma
    }

    /// The sites around the centre of `meanCrop` (size × size, the mean of a movie's crops):
    /// local maxima between 0.6 and 1.4 column spacings out at least half as high above the
    /// ring's floor as the brightest, at least 0.6 spacings apart, brightest first, at most six
    /// (a hexagonal shell). nil when there are none (no lattice around the defects).
    public static func find(meanCrop: [Double], size: Int, spacing: Double) -> SiteProbe? {
        guard size >= 3, meanCrop.count >= size * size, spacing.isFinite, spacing > 0 else { return nil }
        let c = Double(size - 1) / 2
        func value(_ i: Int, _ j: Int) -> Double { meanCrop[i * size + j] }
        let ring = (0..<(size * size)).filter {
            let r = hypot(Double($0 % size) - c, Double($0 / size) - c)
            return r >= 0.6 * spacing && r <= 1.4 * spacing
        }
        guard let low = ring.map({ meanCrop[$0] }).min() else { return nil }
        // Strict 3 × 3 maxima only: a brighter column just outside the ring (W beyond the S2
        // shell) rises towards the ring's edge without peaking in it.
        let peaks = ring.filter { p in
            let (i, j) = (p / size, p % size)
            guard i > 0, j > 0, i < size - 1, j < size - 1 else { return false }
            return (-1...1).allSatisfy { di in (-1...1).allSatisfy { dj in value(i + di, j + dj) <= value(i, j) } }
        }.sorted { meanCrop[$0] > meanCrop[$1] }
        guard let top = peaks.first.map({ meanCrop[$0] }), top > low else { return nil }
        var kept: [[Double]] = []
        for p in peaks where kept.count < 6 && meanCrop[p] >= (low + top) / 2 {
            let site = centroid(meanCrop, size: size, i: p / size, j: p % size, floor: low)
            let offset = [site[0] - c, site[1] - c]
            if kept.allSatisfy({ hypot($0[0] - offset[0], $0[1] - offset[1]) >= 0.6 * spacing }) { kept.append(offset) }
        }
        return kept.isEmpty ? nil : SiteProbe(offsets: kept, sigma: 0.2 * spacing)
    }

    /// Sub-pixel position of a peak: the centroid of its 3 × 3 neighbourhood above `floor`.
    private static func centroid(_ crop: [Double], size: Int, i: Int, j: Int, floor: Double) -> [Double] {
        var sx = 0.0, sy = 0.0, sw = 0.0
        for di in -1...1 { for dj in -1...1 {
            let w = max(crop[(i + di) * size + j + dj] - floor, 0)
            sx += w * Double(j + dj); sy += w * Double(i + di); sw += w
        } }
        return sw > 0 ? [sx / sw, sy / sw] : [Double(j), Double(i)]
    }

    /// The centre's weighted mean intensity, then the sites' in ascending order (first channel).
    public func features(of crop: [Float], size: Int) -> [Double] {
        let c = Double(size - 1) / 2
        let sites = offsets.map { weightedMean(crop, size: size, x: c + $0[0], y: c + $0[1]) }
        return [weightedMean(crop, size: size, x: c, y: c)] + sites.sorted()
    }

    /// Mean of the pixels within 2σ of (x, y), weighted by a Gaussian of width σ (the probe's
    /// profile, roughly: the matched filter for a column in shot noise).
    private func weightedMean(_ crop: [Float], size: Int, x: Double, y: Double) -> Double {
        let reach = 2 * sigma
        var sum = 0.0, weights = 0.0
        for i in stride(from: max(0, Int((y - reach).rounded(.down))), through: min(size - 1, Int((y + reach).rounded(.up))), by: 1) {
            for j in stride(from: max(0, Int((x - reach).rounded(.down))), through: min(size - 1, Int((x + reach).rounded(.up))), by: 1) {
                let r2 = (Double(j) - x) * (Double(j) - x) + (Double(i) - y) * (Double(i) - y)
                guard r2 <= reach * reach else { continue }
                let w = exp(-r2 / (2 * sigma * sigma))
                sum += w * Double(crop[i * size + j]); weights += w
            }
        }
        return weights > 0 ? sum / weights : 0
    }
}
