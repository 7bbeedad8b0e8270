/// A dense row-major matrix of samples × features in Double precision (what PCA and the
/// Gaussian mixture consume). Row `i` is sample `i`.
public struct FeatureMatrix: Sendable, Equatable {
    public let rows: Int
    public let columns: Int
    public var values: [Double]

    /// Wraps `values` (row-major, `rows * columns` long).
    public init(rows: Int, columns: Int, values: [Double]) throws {
        guard rows >= 0, columns >= 0, values.count == rows * columns else {
            throw DefectLibraryError.shapeMismatch(
                "\(values.count) values for a \(rows)×\(columns) matrix")
        }
        self.rows = rows
        self.columns = columns
        self.values = values
    }

    /// Builds a matrix from equally long Float vectors (e.g. flattened crops).
    public init(samples: [[Float]]) throws {
        guard let first = samples.first else { throw DefectLibraryError.emptyData("no samples") }
        let d = first.count
        var v = [Double]()
        v.reserveCapacity(samples.count * d)
        for (i, s) in samples.enumerated() {
            guard s.count == d else {
                throw DefectLibraryError.shapeMismatch("sample \(i) has \(s.count) features, expected \(d)")
            }
            for x in s { v.append(Double(x)) }
        }
        try self.init(rows: samples.count, columns: d, values: v)
    }

    /// Row `i` as an array.
    public func row(_ i: Int) -> [Double] { Array(values[(i * columns)..<((i + 1) * columns)]) }
}
