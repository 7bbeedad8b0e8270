/// Order statistics shared by normalization, drift estimation and confidence intervals.
public enum Statistics {
    /// The `q`-quantile (0…1) of ascending `sorted` values by linear interpolation between
    /// order statistics (NumPy's default, "linear"); an infinite neighbour is returned as is.
    public static func quantile(sorted: [Double], _ q: Double) -> Double {
        precondition(!sorted.isEmpty, "quantile of no values")
        let position = q * Double(sorted.count - 1)
        let i = min(Int(position.rounded(.down)), sorted.count - 1), f = position - Double(i)
        guard f > 0, i + 1 < sorted.count else { return sorted[i] }
        if !sorted[i + 1].isFinite { return sorted[i + 1] }
        return sorted[i] + f * (sorted[i + 1] - sorted[i])
    }

    /// The `q`-quantile of unsorted values.
    public static func quantile(_ values: [Double], _ q: Double) -> Double { quantile(sorted: values.sorted(), q) }

    /// The median (mean of the two middle values for an even count).
    public static func median(_ values: [Double]) -> Double { quantile(values, 0.5) }

    /// The `p`-th percentile (0–100) of `values` by linear interpolation, in O(n) by
    /// selection instead of a sort (a frame has millions of pixels); reorders `values`.
    public static func percentile(_ values: inout [Float], _ p: Double) -> Float {
        precondition(!values.isEmpty, "percentile of no values")
        let position = p / 100 * Double(values.count - 1)
        let k = min(Int(position.rounded(.down)), values.count - 1)
        let fraction = Float(position - Double(k))
        let below = select(&values, k)
        guard fraction > 0, k + 1 < values.count else { return below }
        // After selection everything right of k is ≥ values[k]: the next order statistic is their minimum.
        var next = Float.infinity
        for i in (k + 1)..<values.count { next = min(next, values[i]) }
        return below + fraction * (next - below)
    }

    /// Quickselect with a three-way partition (fast on frames with many equal pixels):
    /// on return `values[k]` is the k-th smallest, smaller values left of it, larger right.
    public static func select(_ values: inout [Float], _ k: Int) -> Float {
        values.withUnsafeMutableBufferPointer { a in
            var left = 0, right = a.count - 1
            while left < right {
                let mid = left + (right - left) / 2
                let x = a[left], y = a[mid], z = a[right]
                let pivot = max(min(x, y), min(max(x, y), z))   // median of three
                var lt = left, i = left, gt = right
                while i <= gt {
                    if a[i] < pivot { a.swapAt(lt, i); lt += 1; i += 1 }
                    else if a[i] > pivot { a.swapAt(i, gt); gt -= 1 }
                    else { i += 1 }
                }
                if k < lt { right = lt - 1 } else if k > gt { left = gt + 1 } else { return a[k] }
            }
            return a[k]
        }
    }
}
