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
    var rng = TestRandom(seed: seed)
    var values = [Double](), labels = [Int]()
    let d = means[0].count
    for (c, count) in counts.enumerated() {
        for _ in 0..<count {
            let z = (0..<d).map { _ in rng.nextGaussian() }
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

/// SplitMix64 + Box–Muller for test data (the module's own generator is internal).
struct TestRandom {
    private var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    mutating func nextUniform() -> Double { Double(next() >> 11) * 0x1.0p-53 }
    mutating func nextGaussian() -> Double {
        let u1 = max(nextUniform(), 0x1.0p-60), u2 = nextUniform()
        return (-2 * log(u1)).squareRoot() * cos(2 * Double.pi * u2)
    }
}
