import Foundation
import XCTest
import DefectLibrary

final class LibraryExportTests: XCTestCase {
    func testLibraryTextAndStatistics() throws {
        let (crops, truth) = ClassifierTests.syntheticCrops(perType: 15, size: 15, seed: 4)
        var config = ClassifierConfiguration()
        config.pcaComponents = 6
        config.componentRange = 3...5
        config.symmetry = .hexagonal
        config.mixture.seed = 77
        let classification = try DefectClassifier.classify(crops: crops, size: 15, configuration: config)
        let defects = crops.indices.map {
            DefectObject(frame: $0 % 3, x: Double($0), y: 2.5, kind: $0 % 2 == 0 ? .atom(classIndex: 2) : .vacancy(sublattice: 1))
        }
        let library = try DefectClassLibrary(defects: defects, classification: classification, cropSize: 15, frameCount: 3)
        XCTAssertEqual(library.classes.map(\.count).reduce(0, +), crops.count)
        for c in library.classes {
            XCTAssertEqual(c.countsPerFrame.reduce(0, +), c.count)
            XCTAssertEqual(c.meanCrop.count, 15 * 15)
            // Members are sorted by confidence.
            let p = c.members.map { classification.probabilities[$0] }
            XCTAssertEqual(p, p.sorted(by: >))
        }
        for f in 0..<3 {
            XCTAssertEqual(library.classes.map { $0.fractionPerFrame[f] }.reduce(0, +), 1, accuracy: 1e-12)
        }
        XCTAssertGreaterThanOrEqual(adjustedRandIndex(classification.labels, truth), 0.95)

        let names = library.classes.map { "D\($0.id)" }
        let csv = library.defectsCSV(names: names, atomClasses: ["W+Mo", "S", "Si"]).split(separator: "\n")
        let k = classification.classLogLikelihoods[0].count
        XCTAssertEqual(csv.first.map(String.init), "frame,x,y,class,probability,kind" + names.prefix(k).map { ",loglik_" + $0 }.joined())
        XCTAssertEqual(csv.count, crops.count + 1)
        XCTAssertEqual(csv[1].split(separator: ",")[5], "atom:Si")
        func loglik(_ i: Int) -> String { classification.classLogLikelihoods[i].map { "," + ($0.isFinite ? String(format: "%.4f", $0) : "-inf") }.joined() }
        XCTAssertEqual(String(csv[2]), "1,1.0000,2.5000,D\(classification.labels[1]),\(String(format: "%.4f", classification.probabilities[1])),vacancy:1" + loglik(1))

        let json = try JSONSerialization.jsonObject(with: Data(library.libraryJSON(names: names, source: nil).utf8)) as! [String: Any]
        XCTAssertEqual(json["components"] as? Int, classification.model.components)
        XCTAssertEqual((json["classes"] as! [[String: Any]]).map { $0["size"] as! Int },
                       library.classes.map(\.count))
        XCTAssertEqual((json["selection"] as! [Any]).count, 3)
        XCTAssertEqual(json["symmetry"] as? String, "hexagonal")
        XCTAssertEqual(json["seed"] as? Int, Int(classification.model.seed))

        let mosaic = try library.mosaic(classID: 0, columns: 4, gap: 1)
        let n = min(library.classes[0].count, 64)
        XCTAssertEqual(mosaic.width, min(n, 4) * 16 - 1)
        XCTAssertEqual(mosaic.height, ((n + 3) / 4) * 16 - 1)
        let first = classification.alignedCrops[library.classes[0].members[0]]
        XCTAssertEqual(mosaic.pixels[7 * mosaic.width + 7], first[7 * 15 + 7])
        XCTAssertThrowsError(try library.mosaic(classID: 99))
        XCTAssertThrowsError(try DefectClassLibrary(defects: Array(defects.dropLast()), classification: classification,
                                                    cropSize: 15, frameCount: 3))
    }

    /// library.json holds everything needed to classify: read back, it gives every crop the class
    /// the fit gave it, calls crops of another kind "none", and matches itself class for class.
    /// 60 crops per kind: with 20, a quarter of fresh crops fall below the "none" threshold (the
    /// full covariances fitted to 20 crops in 4 dimensions are too tight for new crops).
    func testLibraryFileClassifiesNewCrops() throws {
        let (crops, truth) = ClassifierTests.syntheticCrops(perType: 60, size: 15, seed: 9)
        var config = ClassifierConfiguration()
        config.pcaComponents = 4
        config.componentRange = 1...5
        config.symmetry = .hexagonal
        config.mixture.seed = 3
        let classification = try DefectClassifier.classify(crops: crops, size: 15, configuration: config)
        let defects = crops.indices.map { DefectObject(frame: 0, x: Double($0), y: 0, kind: .atom(classIndex: 0)) }
        let library = try DefectClassLibrary(defects: defects, classification: classification, cropSize: 15, frameCount: 1)
        let names = library.classes.map { "D\($0.id)" }
        let file = try JSONDecoder().decode(LibraryFile.self, from: Data(library.libraryJSON(names: names, source: nil).utf8))
        let model = try DefectLibraryModel(file, path: "library.json")
        XCTAssertEqual(model.classNames, names)

        let again = try DefectClassifier.classify(crops: crops, with: model)
        let kept = again.labels.indices.filter { again.labels[$0] != DefectClassification.none }
        XCTAssertGreaterThanOrEqual(kept.count, crops.count - Int((Double(crops.count) * 0.01).rounded(.up)))
        for i in kept { XCTAssertEqual(again.labels[i], classification.labels[i]) }
        XCTAssertGreaterThanOrEqual(adjustedRandIndex(kept.map { again.labels[$0] }, kept.map { truth[$0] }), 0.95)

        // Fresh crops of the same kinds (another seed) fall into the same classes as their kind.
        let (fresh, freshTruth) = ClassifierTests.syntheticCrops(perType: 10, size: 15, seed: 10)
        let assigned = try DefectClassifier.classify(crops: fresh, with: model)
        var classOfKind: [Int: Int] = [:]
        for (label, kind) in zip(classification.labels, truth) { classOfKind[kind] = label }
        let right = zip(assigned.labels, freshTruth).filter { classOfKind[$0.1] == $0.0 }.count
        XCTAssertGreaterThanOrEqual(Double(right) / Double(fresh.count), 0.95)

        // A bright blob on an empty background is none of these.
        var blob = [Float](repeating: 0, count: 15 * 15)
        for y in 0..<15 { for x in 0..<15 { blob[y * 15 + x] = x < 7 ? 5 : -5 } }
        XCTAssertEqual(try DefectClassifier.classify(crops: [blob], with: model).labels, [DefectClassification.none])

        let selfMatch = try LibraryComparison(model, model)
        XCTAssertEqual(selfMatch.pairs.map(\.a), selfMatch.pairs.map(\.b))
        for p in selfMatch.pairs { XCTAssertEqual(p.correlation, 1, accuracy: 1e-9); XCTAssertLessThan(p.distance, 1e-4) }

        // A library of other crops of the same kinds (another seed) pairs each class with the class of the same kind.
        let (other, otherTruth) = ClassifierTests.syntheticCrops(perType: 60, size: 15, seed: 11)
        config.mixture.seed = 5
        let otherFit = try DefectClassifier.classify(crops: other, size: 15, configuration: config)
        let otherLibrary = try DefectClassLibrary(defects: defects, classification: otherFit, cropSize: 15, frameCount: 1)
        let otherNames = otherLibrary.classes.map { "D\($0.id)" }
        let otherModel = try DefectLibraryModel(try JSONDecoder().decode(LibraryFile.self, from: Data(otherLibrary.libraryJSON(names: otherNames, source: nil).utf8)),
                                                path: "other.json")
        let comparison = try LibraryComparison(model, otherModel)
        func kindOf(_ labels: [Int], _ truth: [Int]) -> [String: Int] {
            var votes: [Int: [Int: Int]] = [:]
            for (l, t) in zip(labels, truth) { votes[l, default: [:]][t, default: 0] += 1 }
            return Dictionary(uniqueKeysWithValues: votes.map { ("D\($0.key)", $0.value.max { $0.value < $1.value }!.key) })
        }
        let kindA = kindOf(classification.labels, truth), kindB = kindOf(otherFit.labels, otherTruth)
        XCTAssertEqual(comparison.pairs.count, 4)
        for p in comparison.pairs {
            XCTAssertEqual(kindA[p.a], kindB[p.b], "\(p.a) ↔ \(p.b)")
            let i = model.classNames.firstIndex(of: p.a)!
            let others = otherModel.classNames.indices.filter { kindB[otherModel.classNames[$0]] != kindA[p.a] }
            XCTAssertLessThan(3 * p.distance, others.map { comparison.distance[i][$0] }.min()!, "\(p.a): \(comparison.distance[i])")
        }

        // An old library.json (no PCA basis) is refused by name.
        var old = file
        old.pca.axes = nil
        XCTAssertThrowsError(try DefectLibraryModel(old, path: "old.json")) { XCTAssert("\($0)".contains("older atomtrack")) }
    }

    func testMosaicLayout() throws {
        let tiles: [[Float]] = (0..<5).map { t in [Float](repeating: Float(t + 1), count: 4) }
        let m = try Mosaic.build(crops: tiles, size: 2, columns: 3, gap: 1, background: -1)
        XCTAssertEqual(m.width, 8); XCTAssertEqual(m.height, 5)
        XCTAssertEqual(m.pixels[0], 1); XCTAssertEqual(m.pixels[2], -1); XCTAssertEqual(m.pixels[3], 2)
        XCTAssertEqual(m.pixels[3 * 8 + 3], 5); XCTAssertEqual(m.pixels[3 * 8 + 6], -1)
    }
}
