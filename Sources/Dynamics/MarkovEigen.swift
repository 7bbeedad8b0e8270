// Eigenvalues of a small real (non-symmetric) matrix by LAPACK's dgeev, which OpenBLAS
// exports (declared in CBLAS/shim.h): a tested library instead of a hand-ported QR.

import CBLAS

/// A complex number (eigenvalues of non-reversible transition matrices may be complex).
public struct MarkovComplex: Sendable, Equatable {
    public var re: Double
    public var im: Double
    public init(_ re: Double, _ im: Double = 0) { self.re = re; self.im = im }
    /// Modulus |z|.
    public var magnitude: Double { (re * re + im * im).squareRoot() }
}

extension MarkovMatrix {
    /// All eigenvalues, sorted by modulus, largest first (ties keep LAPACK's order).
    /// Throws if LAPACK's QR iteration does not converge.
    public func eigenvalues() throws -> [MarkovComplex] {
        guard size > 0 else { return [] }
        // Row-major `values` read column-major is Aᵀ, which has the same eigenvalues.
        var a = values, wr = [Double](repeating: 0, count: size), wi = wr
        var jobvl = CChar(UInt8(ascii: "N")), jobvr = jobvl
        var n = Int32(size), lda = n, ldvl: Int32 = 1, ldvr: Int32 = 1, info: Int32 = 0
        var vl = 0.0, vr = 0.0, lwork: Int32 = -1, query = 0.0
        dgeev_(&jobvl, &jobvr, &n, &a, &lda, &wr, &wi, &vl, &ldvl, &vr, &ldvr, &query, &lwork, &info)
        lwork = Int32(query)
        var work = [Double](repeating: 0, count: Int(lwork))
        dgeev_(&jobvl, &jobvr, &n, &a, &lda, &wr, &wi, &vl, &ldvl, &vr, &ldvr, &work, &lwork, &info)
        guard info == 0 else {
            throw MarkovError.estimationFailed("eigenvalues: LAPACK dgeev failed (info \(info))")
        }
        return zip(wr, wi).map { MarkovComplex($0, $1) }.enumerated().sorted { l, r in
            let ml = l.element.magnitude, mr = r.element.magnitude
            return ml != mr ? ml > mr : l.offset < r.offset
        }.map { $0.element }
    }
}
