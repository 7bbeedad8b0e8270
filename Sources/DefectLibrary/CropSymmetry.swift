#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The point-group views under which a defect is "the same defect" on its lattice.
public enum CropSymmetry: String, Sendable, Codable {
    /// Orientation matters: one view per crop.
    case none
    /// Hexagonal lattices (graphene, hBN, TMDs): 6 rotations by 60° × mirror = 12 views.
    case hexagonal
    /// Square lattices: 4 rotations by 90° × mirror = 8 views.
    case square

    /// (rotation angle, mirrored) of each view; view 0 is the identity.
    public var transforms: [(angle: Double, mirrored: Bool)] {
        let steps: Int
        switch self {
        case .none: return [(0, false)]
        case .hexagonal: steps = 6
        case .square: steps = 4
        }
        return [false, true].flatMap { m in (0..<steps).map { (2 * Double.pi * Double($0) / Double(steps), m) } }
    }

    public var viewCount: Int { transforms.count }

    /// All views of a `channels × size × size` crop, each rotated about the crop centre
    /// (bilinear) after an optional mirror x → −x. For hexagonal symmetry every view is
    /// masked to the inscribed disc, so all views show the same support.
    public func views(of crop: [Float], size: Int, channels: Int = 1) -> [[Float]] {
        let c = Double(size - 1) / 2
        let radius2 = c * c + 1e-9
        return transforms.map { t in
            var out = [Float](repeating: 0, count: crop.count)
            let (cs, sn) = (cos(t.angle), sin(t.angle))
            for i in 0..<size {
                for j in 0..<size {
                    let (dx, dy) = (Double(j) - c, Double(i) - c)
                    if self == .hexagonal, dx * dx + dy * dy > radius2 { continue }
                    // Inverse map: rotate back by −angle, then undo the mirror.
                    var sx = cs * dx + sn * dy
                    let sy = -sn * dx + cs * dy
                    if t.mirrored { sx = -sx }
                    for ch in 0..<channels {
                        out[(ch * size + i) * size + j] = CropExtractor.bilinear(
                            crop, ch * size * size, size, size, sx + c, sy + c, 0)
                    }
                }
            }
            return out
        }
    }
}
