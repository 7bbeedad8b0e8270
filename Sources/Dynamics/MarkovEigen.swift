// Eigenvalues of a small real (non-symmetric) matrix: reduction to upper Hessenberg
// form by stabilised elimination, then the shifted (Francis double-shift) QR
// iteration, after EISPACK's elmhes/hqr. Transition matrices are a few tens of
// states, so a dense O(n³) solver in Swift is plenty and keeps Dynamics free of LAPACK.

import Foundation

/// A complex number (eigenvalues of non-reversible transition matrices may be complex).
public struct MarkovComplex: Sendable, Equatable {
    public var re: Double
    public var im: Double
    public init(_ re: Double, _ im: Double = 0) { self.re = re; self.im = im }
    /// Modulus |z|.
    public var magnitude: Double { (re * re + im * im).squareRoot() }
}

extension MarkovMatrix {
    /// All eigenvalues, sorted by modulus, largest first. Throws if the QR iteration
    /// does not converge (30 iterations per eigenvalue, as in EISPACK).
    public func eigenvalues() throws -> [MarkovComplex] {
        let n = size
        guard n > 0 else { return [] }
        var a = rows
        reduceToHessenberg(&a)
        var w = [MarkovComplex](repeating: MarkovComplex(0), count: n)
        try hessenbergQR(&a, &w)
        return w.enumerated().sorted { l, r in
            let ml = l.element.magnitude, mr = r.element.magnitude
            return ml != mr ? ml > mr : l.offset < r.offset
        }.map { $0.element }
    }
}

/// In place: `a` becomes upper Hessenberg with the same eigenvalues (entries below
/// the subdiagonal are zeroed).
private func reduceToHessenberg(_ a: inout [[Double]]) {
    let n = a.count
    guard n > 2 else { return }
    for m in 1..<(n - 1) {
        var x = 0.0, pivot = m
        for j in m..<n where abs(a[j][m - 1]) > abs(x) { x = a[j][m - 1]; pivot = j }
        if pivot != m {
            for j in (m - 1)..<n { (a[pivot][j], a[m][j]) = (a[m][j], a[pivot][j]) }
            for j in 0..<n { (a[j][pivot], a[j][m]) = (a[j][m], a[j][pivot]) }
        }
        if x != 0 {
            for i in (m + 1)..<n {
                var y = a[i][m - 1]
                if y == 0 { continue }
                y /= x
                a[i][m - 1] = y
                for j in m..<n { a[i][j] -= y * a[m][j] }
                for j in 0..<n { a[j][m] += y * a[j][i] }
            }
        }
    }
    for i in 2..<n { for j in 0..<(i - 1) { a[i][j] = 0 } }
}

/// Eigenvalues of an upper Hessenberg matrix by the Francis double-shift QR
/// iteration (`a` is destroyed).
private func hessenbergQR(_ a: inout [[Double]], _ w: inout [MarkovComplex]) throws {
    let n = a.count
    let eps = Double.ulpOfOne
    var anorm = 0.0
    for i in 0..<n { for j in max(i - 1, 0)..<n { anorm += abs(a[i][j]) } }
    var nn = n - 1, t = 0.0
    var p = 0.0, q = 0.0, r = 0.0, s = 0.0, x = 0.0, y = 0.0, z = 0.0, ww = 0.0
    func sign(_ a: Double, _ b: Double) -> Double { b >= 0 ? abs(a) : -abs(a) }
    while nn >= 0 {
        var its = 0
        var l = 0
        repeat {
            // Look for a single small subdiagonal element.
            l = nn
            while l > 0 {
                s = abs(a[l - 1][l - 1]) + abs(a[l][l])
                if s == 0 { s = anorm }
                if abs(a[l][l - 1]) <= eps * s { a[l][l - 1] = 0; break }
                l -= 1
            }
            x = a[nn][nn]
            if l == nn {                      // one root found
                w[nn] = MarkovComplex(x + t)
                nn -= 1
            } else {
                y = a[nn - 1][nn - 1]
                ww = a[nn][nn - 1] * a[nn - 1][nn]
                if l == nn - 1 {              // two roots found
                    p = 0.5 * (y - x)
                    q = p * p + ww
                    z = abs(q).squareRoot()
                    x += t
                    if q >= 0 {
                        z = p + sign(z, p)
                        w[nn - 1] = MarkovComplex(x + z)
                        w[nn] = MarkovComplex(z != 0 ? x - ww / z : x + z)
                    } else {
                        w[nn] = MarkovComplex(x + p, -z)
                        w[nn - 1] = MarkovComplex(x + p, z)
                    }
                    nn -= 2
                } else {                      // no roots yet: one double-shift QR step
                    if its == 30 { throw MarkovError.estimationFailed("eigenvalue QR iteration did not converge") }
                    if its == 10 || its == 20 { // exceptional shift
                        t += x
                        for i in 0...nn { a[i][i] -= x }
                        s = abs(a[nn][nn - 1]) + abs(a[nn - 1][nn - 2])
                        x = 0.75 * s
                        y = x
                        ww = -0.4375 * s * s
                    }
                    its += 1
                    var m = nn - 2
                    while true {
                        z = a[m][m]
                        r = x - z
                        s = y - z
                        p = (r * s - ww) / a[m + 1][m] + a[m][m + 1]
                        q = a[m + 1][m + 1] - z - r - s
                        r = a[m + 2][m + 1]
                        s = abs(p) + abs(q) + abs(r)
                        p /= s; q /= s; r /= s
                        if m == l { break }
                        let u = abs(a[m][m - 1]) * (abs(q) + abs(r))
                        let v = abs(p) * (abs(a[m - 1][m - 1]) + abs(z) + abs(a[m + 1][m + 1]))
                        if u <= eps * v { break }
                        m -= 1
                    }
                    for i in m..<(nn - 1) {
                        a[i + 2][i] = 0
                        if i != m { a[i + 2][i - 1] = 0 }
                    }
                    for k in m..<nn {
                        if k != m {
                            p = a[k][k - 1]
                            q = a[k + 1][k - 1]
                            r = k + 1 != nn ? a[k + 2][k - 1] : 0
                            x = abs(p) + abs(q) + abs(r)
                            if x != 0 { p /= x; q /= x; r /= x }
                        }
                        s = sign((p * p + q * q + r * r).squareRoot(), p)
                        if s == 0 { continue }
                        if k == m {
                            if l != m { a[k][k - 1] = -a[k][k - 1] }
                        } else {
                            a[k][k - 1] = -s * x
                        }
                        p += s
                        x = p / s; y = q / s; z = r / s
                        q /= p; r /= p
                        for j in k...nn {
                            p = a[k][j] + q * a[k + 1][j]
                            if k + 1 != nn {
                                p += r * a[k + 2][j]
                                a[k + 2][j] -= p * z
                            }
                            a[k + 1][j] -= p * y
                            a[k][j] -= p * x
                        }
                        let mmin = nn < k + 3 ? nn : k + 3
                        for i in l...mmin {
                            p = x * a[i][k] + y * a[i][k + 1]
                            if k + 1 != nn {
                                p += z * a[i][k + 2]
                                a[i][k + 2] -= p * r
                            }
                            a[i][k + 1] -= p * q
                            a[i][k] -= p
                        }
                    }
                }
            }
        } while l < nn - 1
    }
}
