/// Adjusted Rand index (Hubert & Arabie 1985) between two labelings of the same items:
/// 1 for identical partitions (up to renaming), ≈ 0 for independent ones.
/// Both labelings must have the same length; labels are arbitrary integers.
public func adjustedRandIndex(_ a: [Int], _ b: [Int]) -> Double {
    precondition(a.count == b.count, "labelings differ in length")
    let n = a.count
    guard n > 1 else { return 1 }
    var table = [Int: [Int: Int]]()
    for (x, y) in zip(a, b) { table[x, default: [:]][y, default: 0] += 1 }
    func pairs(_ m: Int) -> Double { Double(m) * Double(m - 1) / 2 }
    var sumCells = 0.0, rowSums = [Int: Int](), colSums = [Int: Int]()
    for (x, row) in table {
        for (y, m) in row {
            sumCells += pairs(m)
            rowSums[x, default: 0] += m
            colSums[y, default: 0] += m
        }
    }
    let sumRows = rowSums.values.reduce(0) { $0 + pairs($1) }
    let sumCols = colSums.values.reduce(0) { $0 + pairs($1) }
    let expected = sumRows * sumCols / pairs(n)
    let maximum = (sumRows + sumCols) / 2
    if maximum == expected { return 1 }   // both partitions trivial (all one class or all singletons)
    return (sumCells - expected) / (maximum - expected)
}
