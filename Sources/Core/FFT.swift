import Foundation

/// Radix-2 fast Fourier transforms of Double arrays, shared by the report's lattice FFT and the
/// Fourier lattice analysis. Forward transforms are unnormalized; inverse ones divide by the length.
public enum FFT {
    /// The smallest power of two ≥ `n` (≥ 1).
    public static func powerOfTwo(atLeast n: Int) -> Int {
        var p = 1
        while p < n { p *= 2 }
        return p
    }

    /// In-place iterative Cooley–Tukey FFT; `re.count` a power of two.
    public static func transform(_ re: inout [Double], _ im: inout [Double], inverse: Bool = false) {
        let n = re.count
        guard n > 1 else { return }
        var j = 0
        for i in 1..<n {
            var bit = n >> 1
            while j & bit != 0 { j ^= bit; bit >>= 1 }
            j |= bit
            if i < j { re.swapAt(i, j); im.swapAt(i, j) }
        }
        // Twiddles e^{∓2πik/n}, k < n/2, computed once; a stage of `length` takes every (n/length)-th.
        let sign = inverse ? 2.0 : -2.0
        let cosines = (0..<(n / 2)).map { cos(sign * Double.pi * Double($0) / Double(n)) }
        let sines = (0..<(n / 2)).map { sin(sign * Double.pi * Double($0) / Double(n)) }
        var length = 2
        while length <= n {
            let step = n / length
            for start in stride(from: 0, to: n, by: length) {
                for k in 0..<(length / 2) {
                    let wr = cosines[k * step], wi = sines[k * step]
                    let a = start + k, b = a + length / 2
                    let tr = re[b] * wr - im[b] * wi, ti = re[b] * wi + im[b] * wr
                    re[b] = re[a] - tr; im[b] = im[a] - ti
                    re[a] += tr; im[a] += ti
                }
            }
            length <<= 1
        }
        if inverse {
            let s = 1 / Double(n)
            for k in 0..<n { re[k] *= s; im[k] *= s }
        }
    }

    /// In-place 2-D FFT of a row-major `width` × `height` array (both powers of two): rows, then columns.
    public static func transform2D(_ re: inout [Double], _ im: inout [Double], width: Int, height: Int,
                                   inverse: Bool = false) {
        for (count, length, index) in [(height, width, { (line: Int, k: Int) in line * width + k }),
                                       (width, height, { (line: Int, k: Int) in k * width + line })] {
            var r = [Double](repeating: 0, count: length), i = r
            for line in 0..<count {
                for k in 0..<length { r[k] = re[index(line, k)]; i[k] = im[index(line, k)] }
                transform(&r, &i, inverse: inverse)
                for k in 0..<length { re[index(line, k)] = r[k]; im[index(line, k)] = i[k] }
            }
        }
    }
}
