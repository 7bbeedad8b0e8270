import Foundation

/// Numbers as table text, appended to a byte buffer: the characters `String(format: "%.Nf", x)`
/// and `"\(n)"` print, without Foundation's format parser or a String per field (atoms.csv
/// writes ≈ 60 000 numbers per 1024² frame).
public enum DecimalText {
    private static let powersOfTen: [Double] = (0...9).map { pow(10, Double($0)) }

    /// Appends `x` with `digits` (0…9) decimals, as `String(format: "%.<digits>f", x)` prints it:
    /// the exact binary value rounded to nearest, ties to even, `-` on a negative value even
    /// when it rounds to zero. A value whose rounding one fused step cannot decide (an exact
    /// tie or within one rounding of it), NaN, ±∞ and |x|·10^digits ≥ 2⁵⁰ are printed by
    /// `String(format:)` itself.
    public static func append(_ x: Double, digits: Int, to out: inout [UInt8]) {
        precondition((0...9).contains(digits), "DecimalText: 0…9 decimals")
        let scale = powersOfTen[digits], magnitude = x.magnitude
        let scaled = magnitude * scale
        guard scaled < 0x1p50 else { return appendFormatted(x, digits: digits, to: &out) }
        var units = scaled.rounded(.toNearestOrEven)
        // |x|·10^d − units with one rounding: its side of ±½ is the exact value's side unless it is ±½.
        let remainder = (-units).addingProduct(magnitude, scale)
        if remainder.magnitude == 0.5 { return appendFormatted(x, digits: digits, to: &out) }
        if remainder > 0.5 { units += 1 } else if remainder < -0.5 { units -= 1 }
        if x.sign == .minus { out.append(UInt8(ascii: "-")) }
        let n = UInt64(units), divisor = UInt64(scale)
        appendDigits(n / divisor, to: &out)
        guard digits > 0 else { return }
        out.append(UInt8(ascii: "."))
        var fraction = n % divisor, place = divisor / 10
        for _ in 0..<digits {
            out.append(UInt8(ascii: "0") + UInt8(fraction / place))
            fraction %= place
            place /= 10
        }
    }

    /// Appends `n` in decimal.
    public static func append(_ n: Int, to out: inout [UInt8]) {
        if n < 0 { out.append(UInt8(ascii: "-")) }
        appendDigits(UInt64(n.magnitude), to: &out)
    }

    private static func appendDigits(_ n: UInt64, to out: inout [UInt8]) {
        var rest = n, place: UInt64 = 1
        while place <= rest / 10 { place *= 10 }
        repeat {
            out.append(UInt8(ascii: "0") + UInt8(rest / place))
            rest %= place
            place /= 10
        } while place > 0
    }

    private static func appendFormatted(_ x: Double, digits: Int, to out: inout [UInt8]) {
        out.append(contentsOf: String(format: "%.\(digits)f", x).utf8)
    }
}
