import Core
import Foundation
import XCTest
import DefectLibrary

/// Loads a committed JSON fixture from the test bundle.
func loadFixture(_ name: String) throws -> [String: Any] {
    guard let url = Bundle.module.url(forResource: name, withExtension: "json", subdirectory: "Fixtures") else {
        throw NSError(domain: "fixture", code: 1, userInfo: [NSLocalizedDescriptionKey: "missing \(name).json"])
    }
    return try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as! [String: Any]
}

func doubles(_ any: Any?) -> [Double] { (any as! [NSNumber]).map { $0.doubleValue } }

/// Samples from a known Gaussian mixture in 2-D: returns data and true labels.
func sampleMixture(means: [[Double]], choleskyFactors: [[Double]], counts: [Int], seed: UInt64)
    -> (FeatureMatrix, [Int])
{
    var rng = SeededGenerator(seed: seed)
    var values = [Double](), labels = [Int]()
    let d = means[0].count
    for (c, count) in counts.enumerated() {
        for _ in 0..<count {
            let z = (0..<d).map { _ in rng.normal() }
            for r in 0..<d {
                var v = means[c][r]
                for s in 0...r { v += choleskyFactors[c][r * d + s] * z[s] }
                values.append(v)
            }
            labels.append(c)
        }
    }
    return (try! FeatureMatrix(rows: labels.count, columns: d, values: values), labels)
}

