import Core
import Foundation
import XCTest
import DefectLibrary

/// The site-intensity features against crops with known classes: a WS2-like motif (a Mo column,
/// three S2 columns one spacing out, W columns √3 spacings out; Z^1.7 contrast) in Poisson noise,
/// class 1 with half the S of one S2 column (which one drawn per crop): Mo_W against Mo_W+V_S.
final class SiteFeatureTests: XCTestCase {
    static let size = 23, spacing = 9.2, probeSigma = 2.0, orientation = 7.0 * Double.pi / 180

    /// Noiseless motif (W column = 1) with the S2 column at `halfSite` (0–2, or nil) halved.
    static func motif(halfSite: Int?, shift: (Double, Double) = (0, 0)) -> [Double] {
        let c = Double(size - 1) / 2
        let mo = 0.38, s2 = 0.15, w = 1.0
        var columns: [(Double, Double, Double)] = [(0, 0, mo)]
        for k in 0..<3 {
            let a = orientation + 2 * Double.pi * Double(k) / 3
            columns.append((spacing * cos(a), spacing * sin(a), halfSite == k ? s2 / 2 : s2))
        }
        for k in 0..<6 {
            let a = orientation + Double.pi / 6 + Double.pi * Double(k) / 3, r = spacing * 3.0.squareRoot()
            columns.append((r * cos(a), r * sin(a), w))
        }
        return (0..<(size * size)).map { p in
            let x = Double(p % size) - c - shift.0, y = Double(p / size) - c - shift.1
            return columns.reduce(0.02) { sum, col in
                let (dx, dy) = (x - col.0, y - col.1)
                return sum + col.2 * exp(-(dx * dx + dy * dy) / (2 * probeSigma * probeSigma))
            }
        }
    }

    /// `perClass` crops of each class at `counts` electrons per pixel on a W column, scaled back
    /// to that column = 1 (as frames are normalized), with the true classes.
    static func noisyCrops(perClass: Int, counts: Double, seed: UInt64) -> (crops: [[Float]], labels: [Int]) {
        var rng = SeededGenerator(seed: seed)
        var crops = [[Float]](), labels = [Int]()
        for label in 0..<2 {
            for _ in 0..<perClass {
                let shift = (0.4 * (rng.uniform() - 0.5), 0.4 * (rng.uniform() - 0.5))
                let clean = motif(halfSite: label == 1 ? Int(rng.next() % 3) : nil, shift: shift)
                crops.append(clean.map { Float(Double(rng.poisson($0 * counts)) / counts) })
                labels.append(label)
            }
        }
        return (crops, labels)
    }

    func testFindsTheThreeNeighbourSitesFromTheMeanCrop() throws {
        let probe = try XCTUnwrap(SiteProbe.find(meanCrop: Self.motif(halfSite: nil), size: Self.size, spacing: Self.spacing))
        XCTAssertEqual(probe.offsets.count, 3, "\(probe.offsets)")
        for offset in probe.offsets {
            XCTAssertEqual(hypot(offset[0], offset[1]), Self.spacing, accuracy: 0.3)
            // At the motif's orientation + k·120°.
            let turns = (atan2(offset[1], offset[0]) - Self.orientation) / (2 * Double.pi / 3)
            XCTAssertEqual(turns, turns.rounded(), accuracy: 0.03)
        }
        // The vacancy is the smallest site, half the others above the background.
        let f = probe.features(of: Self.motif(halfSite: 1).map(Float.init), size: Self.size)
        XCTAssertEqual(f.count, 4)
        XCTAssertLessThan(f[1], f[2] - 0.04)
        XCTAssertEqual(f[2], f[3], accuracy: 0.01, "intact sites sampled alike (sub-pixel positions differ)")
        // No lattice around the centre: no sites.
        XCTAssertNil(SiteProbe.find(meanCrop: [Double](repeating: 0.5, count: Self.size * Self.size), size: Self.size, spacing: Self.spacing))
    }

    /// At a dose where the vacancy is a few-pixel signal in the noise, PCA of whole crops does not
    /// find the two classes; with the site intensities the mixture does.
    func testSiteFeaturesSeparateTheClassesAtLowDose() throws {
        let (crops, truth) = Self.noisyCrops(perClass: 150, counts: 60, seed: 17)
        var config = ClassifierConfiguration()
        config.pcaComponents = 3
        config.componentRange = 1...6
        config.symmetry = .hexagonal
        config.mixture.seed = 1
        let pcaOnly = try DefectClassifier.classify(crops: crops, size: Self.size, configuration: config)
        config.siteSpacing = Self.spacing
        let withSites = try DefectClassifier.classify(crops: crops, size: Self.size, configuration: config)
        let (ariOld, ariNew) = (adjustedRandIndex(pcaOnly.labels, truth), adjustedRandIndex(withSites.labels, truth))
        print("low dose: PCA alone k=\(pcaOnly.model.components) ARI \(ariOld); with sites k=\(withSites.model.components) ARI \(ariNew)")
        XCTAssertEqual(withSites.model.components, 2, "BIC table:\n\(withSites.selection.csv)")
        XCTAssertGreaterThanOrEqual(ariNew, 0.8)
        XCTAssertLessThan(ariOld, 0.5, "PCA alone already separates the classes: the dose is not low enough to test anything")
        XCTAssertEqual(withSites.features.columns, 4, "centre + three sites")
    }
}
