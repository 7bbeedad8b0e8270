import Core
import Foundation

/// HAADF-STEM imaging conditions.
public struct Microscope: Codable, Sendable, Equatable {
    /// Accelerating voltage (V).
    public var voltage: Double = 60_000
    /// Probe convergence semi-angle (mrad).
    public var convergenceSemiangle: Double = 30
    /// Defocus Δf (Å); χ(k) = πλk²(½Csλ²k² − Δf), so positive Δf is underfocus (Kirkland's convention).
    public var defocus: Double = 0
    /// Spherical aberration Cs (Å).
    public var cs: Double = 0
    /// Effective source size, FWHM of a Gaussian blur of the probe intensity (Å).
    public var sourceSize: Double = 0
    /// Annular detector inner and outer angles (mrad).
    public var detectorInner: Double = 80
    public var detectorOuter: Double = 200
    /// Contrast exponent n: a column of `count` atoms of number Z scatters count·σ(Z), σ ∝ Z^n.
    public var zExponent: Double = 1.7

    public init() {}

    enum CodingKeys: String, CodingKey {
        case voltage, convergenceSemiangle, defocus, cs, sourceSize, detectorInner, detectorOuter, zExponent
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let d = Microscope()
        voltage = try c.decodeIfPresent(Double.self, forKey: .voltage) ?? d.voltage
        convergenceSemiangle = try c.decodeIfPresent(Double.self, forKey: .convergenceSemiangle) ?? d.convergenceSemiangle
        defocus = try c.decodeIfPresent(Double.self, forKey: .defocus) ?? d.defocus
        cs = try c.decodeIfPresent(Double.self, forKey: .cs) ?? d.cs
        sourceSize = try c.decodeIfPresent(Double.self, forKey: .sourceSize) ?? d.sourceSize
        detectorInner = try c.decodeIfPresent(Double.self, forKey: .detectorInner) ?? d.detectorInner
        detectorOuter = try c.decodeIfPresent(Double.self, forKey: .detectorOuter) ?? d.detectorOuter
        zExponent = try c.decodeIfPresent(Double.self, forKey: .zExponent) ?? d.zExponent
    }

    /// Relativistic electron wavelength (Å).
    public var wavelength: Double { 12.264_26 / (voltage * (1 + 0.978_476e-6 * voltage)).squareRoot() }

    /// Checks the parameters are physical.
    public func validate() throws {
        guard voltage > 1000, voltage < 2e6 else { throw SimulationError.invalidParameter("voltage \(voltage) V out of 1 kV–2 MV") }
        guard convergenceSemiangle > 0, convergenceSemiangle < 200 else {
            throw SimulationError.invalidParameter("convergence semi-angle \(convergenceSemiangle) mrad out of (0, 200)")
        }
        guard sourceSize >= 0, detectorInner >= 0, detectorOuter > detectorInner, zExponent > 0 else {
            throw SimulationError.invalidParameter("source size, detector angles or Z exponent not physical")
        }
    }

    /// Screened-Rutherford (Lenz/Wentzel) cross-section (Å²) of one atom of number Z for the annular detector:
    /// σ = γ²Z²λ⁴/(4π³a₀²) · [1/(θ₁²+θ₀²) − 1/(θ₂²+θ₀²)], θ₀ = λ/(2πa), a = 0.885 a₀ Z^(−1/3).
    public func lenzCrossSection(z: Int) -> Double {
        let a0 = 0.529_177, lambda = wavelength
        let gamma = 1 + voltage / 510_998.95
        let a = 0.885 * a0 * pow(Double(z), -1.0 / 3)
        let t0 = lambda / (2 * Double.pi * a)
        let t1 = detectorInner * 1e-3, t2 = detectorOuter * 1e-3
        let pre = gamma * gamma * Double(z * z) * pow(lambda, 4) / (4 * pow(Double.pi, 3) * a0 * a0)
        return pre * (1 / (t1 * t1 + t0 * t0) - 1 / (t2 * t2 + t0 * t0))
    }

    /// Cross-section (Å²) used for the Z^n contrast: σ(Z) = σ_Lenz(C) · (Z/6)^n, so the absolute scale
    /// (fraction of the beam reaching the detector) comes from physics, and n sets the Z contrast.
    public func crossSection(z: Int) -> Double {
        lenzCrossSection(z: 6) * pow(Double(z) / 6, zExponent)
    }
}

/// The probe's intensity as a radial profile, normalised so its integral over the plane is 1 (Å⁻²).
/// Computed by Hankel transforms (the probe of a round aperture without astigmatism is radially symmetric):
/// ψ(r) = 2π∫₀^{k_max} e^{−iχ(k)} J₀(2πkr) k dk, I = |ψ|²/(πk_max²) (Parseval), then the source-size
/// Gaussian applied in Fourier space (the intensity's transform is band-limited to 2k_max).
public struct ProbeProfile: Sendable {
    /// Intensity sampled at r = i·step (Å), i = 0..<values.count.
    public let values: [Double]
    public let step: Double
    /// Radius beyond which the profile is cut (Å).
    public var cutoff: Double { step * Double(values.count - 1) }

    public init(microscope m: Microscope, cutoff: Double = 8, step: Double = 0.01) {
        let lambda = m.wavelength
        let kMax = m.convergenceSemiangle * 1e-3 / lambda
        let nk = 400
        let dk = kMax / Double(nk)
        let ks = (0..<nk).map { (Double($0) + 0.5) * dk }
        let chi = ks.map { k in Double.pi * lambda * k * k * (0.5 * m.cs * lambda * lambda * k * k - m.defocus) }
        let cosChi = chi.map(cos), sinChi = chi.map(sin)
        let n = Int((cutoff / step).rounded()) + 1
        // Compute past the cutoff when a source blur is to be applied, so the blur sees the tails.
        let nCompute = m.sourceSize > 0 ? Int(((cutoff + 4 * m.sourceSize + 4) / step).rounded()) + 1 : n
        let norm = Double.pi * kMax * kMax
        var intensity = parallelMap(nCompute) { i -> Double in
            let r = Double(i) * step
            var re = 0.0, im = 0.0
            for q in 0..<nk {
                let w = j0(2 * Double.pi * ks[q] * r) * ks[q]
                re += w * cosChi[q]; im -= w * sinChi[q]
            }
            re *= 2 * Double.pi * dk; im *= 2 * Double.pi * dk
            return (re * re + im * im) / norm
        }
        if m.sourceSize > 0 { intensity = ProbeProfile.blur(intensity, step: step, fwhm: m.sourceSize, band: 2 * kMax) }
        values = Array(intensity.prefix(n))
        self.step = step
    }

    /// Gaussian blur of a radial profile through its Hankel transform (support |q| ≤ band).
    static func blur(_ f: [Double], step: Double, fwhm: Double, band: Double) -> [Double] {
        let sigma = fwhm / (8 * log(2.0)).squareRoot()
        let nq = 300, dq = band / Double(nq)
        let qs = (0..<nq).map { (Double($0) + 0.5) * dq }
        let rs = f.indices.map { Double($0) * step }
        // Forward: F(q) = 2π ∫ f(r) J0(2πqr) r dr (trapezoid), times the Gaussian's transform.
        let spectrum = parallelMap(nq) { qi -> Double in
            let q = qs[qi]
            var s = 0.0
            for i in 1..<f.count { s += f[i] * j0(2 * Double.pi * q * rs[i]) * rs[i] }
            return 2 * Double.pi * s * step * exp(-2 * Double.pi * Double.pi * sigma * sigma * q * q)
        }
        return parallelMap(rs.count) { ri -> Double in
            let r = rs[ri]
            var s = 0.0
            for (qi, q) in qs.enumerated() { s += spectrum[qi] * j0(2 * Double.pi * q * r) * q }
            return 2 * Double.pi * s * dq
        }
    }

    /// Intensity at radius r (Å), linear interpolation; 0 beyond the cutoff.
    public func intensity(at r: Double) -> Double {
        let x = r / step
        let i = Int(x)
        guard i + 1 < values.count else { return 0 }
        let t = x - Double(i)
        return values[i] * (1 - t) + values[i + 1] * t
    }

    /// Full width at half maximum of the intensity (Å).
    public var fwhm: Double {
        let half = values[0] / 2
        guard let i = values.firstIndex(where: { $0 < half }), i > 0 else { return .nan }
        let t = (values[i - 1] - half) / (values[i - 1] - values[i])
        return 2 * (Double(i - 1) + t) * step
    }

    /// Fraction of the probe's intensity within the cutoff radius (Riemann sum of 2πr I(r)).
    public var enclosedFraction: Double {
        var s = 0.0
        for i in 1..<values.count { s += values[i] * Double(i) * step }
        return 2 * Double.pi * s * step
    }
}
