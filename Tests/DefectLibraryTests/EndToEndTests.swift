import Core
import XCTest
import DefectLibrary

/// Detect → crop → classify → library on a rendered honeycomb frame whose defects we placed.
final class EndToEndTests: XCTestCase {
    func testVacanciesAndDopantsBecomeTwoClasses() throws {
        let w = 256, h = 240, bond = 5.0, sigma = 1.2
        var rng = SeededGenerator(seed: 123)
        let angle = 0.4, a = bond * 3.0.squareRoot()
        func rot(_ v: SIMD2<Double>) -> SIMD2<Double> {
            SIMD2(cos(angle) * v.x - sin(angle) * v.y, sin(angle) * v.x + cos(angle) * v.y)
        }
        let a1 = rot(SIMD2(a, 0)), a2 = rot(SIMD2(a / 2, a * 3.0.squareRoot() / 2)), b = rot(SIMD2(0, bond))
        var atoms = [ClassifiedAtom](), image = [Float](repeating: 0, count: w * h)
        var truthKind = [SIMD2<Double>: Int]()   // 0 vacancy, 1 dopant, keyed by site
        for n1 in -80...80 {
            for n2 in -80...80 {
                for (s, basis) in [SIMD2<Double>(0, 0), b].enumerated() {
                    let p = SIMD2(2.0, 1.5) + basis + Double(n1) * a1 + Double(n2) * a2
                    guard p.x > -3, p.y > -3, p.x < Double(w) + 2, p.y < Double(h) + 2 else { continue }
                    // Isolated defects every 3 cells (≈ 26 px apart), both kinds on both sublattices.
                    let interior = p.x > 12 && p.y > 12 && p.x < Double(w) - 13 && p.y < Double(h) - 13
                    let site = interior && n1 % 3 == 0 && n2 % 3 == 0 && abs(n2 / 3) % 2 == s
                    let vacancy = site && abs(n1 / 3 + n2 / 3) % 2 == 0
                    if vacancy { truthKind[p] = 0; continue }
                    let dopant = site && !vacancy
                    if dopant { truthKind[p] = 1 }
                    let q = p + SIMD2(rng.normal(), rng.normal()) * 0.1
                    if q.x >= 0, q.y >= 0, q.x <= Double(w - 1), q.y <= Double(h - 1) {
                        atoms.append(ClassifiedAtom(x: q.x, y: q.y, classIndex: dopant ? 1 : 0))
                    }
                    let amp: Float = dopant ? 2.5 : 1
                    for y in max(0, Int(q.y) - 5)...min(h - 1, Int(q.y) + 5) {
                        for x in max(0, Int(q.x) - 5)...min(w - 1, Int(q.x) + 5) {
                            let d2 = (Double(x) - q.x) * (Double(x) - q.x) + (Double(y) - q.y) * (Double(y) - q.y)
                            image[y * w + x] += amp * Float(exp(-d2 / (2 * sigma * sigma)))
                        }
                    }
                }
            }
        }
        for i in image.indices { image[i] += Float(0.05 * rng.normal()) }

        let found = try DefectDetector.detect(frame: 0, atoms: atoms, width: w, height: h, defectClasses: [1])
        XCTAssertEqual(found.defects.count, truthKind.count)
        let crops = try CropExtractor.crops(image: image, width: w, height: h,
                                            centres: found.defects.map { CropCentre(x: $0.x, y: $0.y) },
                                            size: 17, border: .skip)
        XCTAssertEqual(crops.skipped, 0)
        let defects = crops.sourceIndices.map { found.defects[$0] }
        let truth = defects.map { if case .vacancy = $0.kind { 0 } else { 1 } }
        var config = ClassifierConfiguration()
        // Few defects (≈ 30): a few PCA axes and diagonal covariances keep the mixture identifiable.
        config.pcaComponents = 4
        config.mixture.covarianceType = .diagonal
        config.componentRange = 1...4
        config.symmetry = .hexagonal
        config.mixture.seed = 3
        let result = try DefectClassifier.classify(crops: crops.crops, size: 17, configuration: config)
        XCTAssertEqual(result.model.components, 2, "\(defects.count) defects\n" + result.selection.csv)
        XCTAssertGreaterThanOrEqual(adjustedRandIndex(result.labels, truth), 0.95)
        let library = try DefectClassLibrary(defects: defects, classification: result, cropSize: 17, frameCount: 1)
        // The dopant class's mean crop is bright at its centre (pixel 8, 8); the vacancy class's is dark.
        let centres = library.classes.map { $0.meanCrop[8 * 17 + 8] }
        XCTAssertGreaterThan(centres.max()!, 2)
        XCTAssertLessThan(centres.min()!, 0.3)
    }
}
