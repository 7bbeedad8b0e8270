import Foundation

extension ModelFinetuning {
    /// Which rule decides whether a check step's weights beat the base model on the held-out patches.
    public enum KeepRule: String, Codable, Sendable, CaseIterable {
        /// `PairedGain` (session 10, opt-in): per-column paired t of the loss improvement. Not the default: on the
        /// study it kept the same steps as `Gain`, and where the base model finds almost nothing it misses the F1
        /// gain of columns found together with as many false atoms (its loss counts both alike; F1 does not).
        case paired
        /// `Gain` (rounds 4–5, the default): class scores of the two models as independent samples.
        case independent
    }

    /// The paired held-out rule. Both models are scored on the same held-out columns, so their difference
    /// is measured column by column: per class c, dᵢ = Lᵢ(base) − Lᵢ(tuned) over the class's nᶜ scored columns
    /// (`ModelEvaluation.columnLosses`: matched distance, or the match radius r when missed, plus r per false
    /// atom nearest the column), and tᶜ = mean(d) / (sd(d)/√nᶜ), Student's t with nᶜ − 1 degrees of freedom
    /// (a paired t test; Student, Biometrika 6, 1 (1908)). A step is kept when some class's tᶜ exceeds the
    /// one-sided Student-t quantile at 1 − α/m, α = `falseKeepRate`, m = checks × classes (Bonferroni: when
    /// no step is better, the chance that a run keeps any step is ≤ α), and no class has tᶜ < `veto`.
    /// Among kept checks the run writes the one with the largest Σ tᶜ.
    struct PairedGain {
        /// One-sided false-keep rate of a whole run (the 2σ tail of a normal).
        static let falseKeepRate = 0.0228
        /// A class whose paired t falls below this is worse beyond noise: the step is not kept.
        static let veto = -2.0

        /// Per class: paired t (0 with fewer than 2 columns or no difference) and the threshold it must pass.
        var t: [Double] = []
        var thresholds: [Double] = []

        /// `base[c]` and `tuned[c]`: the per-column losses of class c, the same columns in the same order;
        /// `tests`: checks × classes, the number of comparisons the false-keep rate is shared among.
        init(_ base: [[Double]], _ tuned: [[Double]], tests: Int) {
            precondition(base.count == tuned.count, "paired losses of different classes")
            let level = 1 - Self.falseKeepRate / Double(max(1, tests))
            for (a, b) in zip(base, tuned) {
                precondition(a.count == b.count, "paired losses of different columns")
                let d = zip(a, b).map { $0 - $1 }
                t.append(Self.pairedT(d))
                thresholds.append(d.count >= 2 ? StudentT.quantile(level, degreesOfFreedom: Double(d.count - 1)) : .infinity)
            }
        }

        /// mean / (sd/√n) of the differences; 0 for fewer than 2 or all equal to 0.
        static func pairedT(_ d: [Double]) -> Double {
            let n = Double(d.count)
            guard d.count >= 2 else { return 0 }
            let mean = d.reduce(0, +) / n
            let variance = d.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / (n - 1)
            guard variance > 0 else { return mean == 0 ? 0 : mean.sign == .minus ? -.infinity : .infinity }
            return mean / (variance / n).squareRoot()
        }

        var total: Double { t.reduce(0, +) }
        var worst: Double { t.min() ?? 0 }
        /// Some class gains beyond its threshold and none loses beyond the veto.
        var isKept: Bool { zip(t, thresholds).contains { $0 > $1 } && worst >= Self.veto }

        /// One line for the card: each class's t against its threshold.
        func summary(classes: [String]) -> String {
            zip(classes, zip(t, thresholds)).map { String(format: "%@ t %+.2f (threshold %.2f)", $0 as NSString, $1.0, $1.1) }
                .joined(separator: ", ")
        }
    }
}

/// Student's t distribution: CDF through the regularized incomplete beta function, quantile by bisection.
enum StudentT {
    /// P(T ≤ t), ν degrees of freedom: for t ≥ 0, 1 − ½ I_{ν/(ν+t²)}(ν/2, ½) (Abramowitz & Stegun 26.7.1, 26.5.27).
    static func cdf(_ t: Double, degreesOfFreedom nu: Double) -> Double {
        let tail = 0.5 * incompleteBeta(nu / (nu + t * t), nu / 2, 0.5)
        return t >= 0 ? 1 - tail : tail
    }

    /// The p-quantile (0 < p < 1): bracket doubled until it holds p, then 200 halvings.
    static func quantile(_ p: Double, degreesOfFreedom nu: Double) -> Double {
        precondition(p > 0 && p < 1 && nu > 0, "Student-t quantile of p \(p), ν \(nu)")
        var hi = 1.0
        while cdf(hi, degreesOfFreedom: nu) < p || cdf(-hi, degreesOfFreedom: nu) > p { hi *= 2 }
        var lo = -hi
        for _ in 0..<200 {
            let mid = (lo + hi) / 2
            if cdf(mid, degreesOfFreedom: nu) < p { lo = mid } else { hi = mid }
        }
        return (lo + hi) / 2
    }

    /// I_x(a, b) by its continued fraction, evaluated on the side where it converges fast
    /// (Press et al., Numerical Recipes, 3rd ed., §6.4; modified Lentz's method).
    static func incompleteBeta(_ x: Double, _ a: Double, _ b: Double) -> Double {
        if x <= 0 { return 0 }
        if x >= 1 { return 1 }
        let logBeta: Double = lgamma(a) + lgamma(b) - lgamma(a + b)
        let logPowers: Double = a * log(x) + b * log(1 - x)
        let front = exp(logPowers - logBeta)
        if x < (a + 1) / (a + b + 2) { return front * continuedFraction(x, a, b) / a }
        return 1 - front * continuedFraction(1 - x, b, a) / b
    }

    static func continuedFraction(_ x: Double, _ a: Double, _ b: Double) -> Double {
        let tiny = 1e-300
        let guarded = { (v: Double) in abs(v) < tiny ? tiny : v }
        var c = 1.0, d = 1 / guarded(1 - (a + b) * x / (a + 1)), h = d
        for m in 1...500 {
            let m = Double(m)
            // Even then odd term of the fraction.
            for coefficient in [m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m)),
                                -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1))] {
                d = 1 / guarded(1 + coefficient * d)
                c = guarded(1 + coefficient / c)
                h *= d * c
            }
            if abs(d * c - 1) < 1e-15 { break }
        }
        return h
    }
}
