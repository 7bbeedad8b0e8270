import Foundation
import Simulation

/// What a lattice site can show: a column of `count` atoms of `symbol` (count 0: the site is empty),
/// its expected brightness relative to the perfect host column, and its training class (nil = background).
public struct ColumnKind: Sendable, Equatable {
    public var name: String
    public var symbol: String
    public var count: Int
    public var contrast: Double
    public var label: Int?
    public var isVacancy: Bool { count == 0 }
}

/// A material as the Fourier analysis needs it: the simulator's lattice (constant and basis), the column
/// kinds each basis site may hold with their Z-contrast, and the training classes of the shipped model.
public struct LatticeMaterial: Sendable {
    public var name: String
    public var lattice: Lattice
    /// Per basis site: the host column first, then the departures it may show.
    public var siteKinds: [[ColumnKind]]
    /// Training classes, background last (as the shipped model of this material names them).
    public var classNames: [String]

    /// Materials known by name: `ws2` (classes metal, S2 as `tmd-ws2`) and `graphene` (C, Si as `graphene-si`).
    /// Contrasts are count·σ(Z)/σ(host) with the simulator's HAADF cross-sections (σ ∝ Z^n).
    public static func named(_ name: String, microscope: Microscope = Microscope()) throws -> LatticeMaterial {
        func kind(_ name: String, _ symbol: String, _ count: Int, host: (String, Int), label: Int?) -> ColumnKind {
            let s = { (sym: String, n: Int) in Double(n) * microscope.crossSection(z: atomicNumbers[sym] ?? 0) }
            return ColumnKind(name: name, symbol: symbol, count: count, contrast: count == 0 ? 0 : s(symbol, count) / s(host.0, host.1),
                              label: label)
        }
        switch name.lowercased() {
        case "ws2":
            let w = ("W", 1), s2 = ("S", 2)
            return LatticeMaterial(name: "ws2", lattice: try Lattice.named("WS2"), siteKinds: [
                [kind("W", "W", 1, host: w, label: 0), kind("Mo_W", "Mo", 1, host: w, label: 0), kind("V_W", "W", 0, host: w, label: nil)],
                [kind("S2", "S", 2, host: s2, label: 1), kind("V_S", "S", 1, host: s2, label: 1), kind("V_S2", "S", 0, host: s2, label: nil)],
            ], classNames: ["metal", "S2", "background"])
        case "graphene":
            let c = ("C", 1)
            let kinds = [kind("C", "C", 1, host: c, label: 0), kind("Si_C", "Si", 1, host: c, label: 1), kind("V_C", "C", 0, host: c, label: nil)]
            return LatticeMaterial(name: "graphene", lattice: .graphene(), siteKinds: [kinds, kinds], classNames: ["C", "Si", "background"])
        default:
            throw FourierLatticeError.unknownMaterial(name)
        }
    }

    /// Area (Å²) each lattice site stands for: the cell's area shared among its basis sites.
    public var areaPerSite: Double {
        abs(lattice.a1.x * lattice.a2.y - lattice.a1.y * lattice.a2.x) / Double(lattice.basis.count)
    }

    /// The basis site of the brightest host column (W in WS2): the one the analysis anchors the lattice on.
    var brightestBasis: Int {
        lattice.basis.indices.max { lattice.species(of: SiteKey(0, 0, $0)).count * lattice.species(of: SiteKey(0, 0, $0)).z
            < lattice.species(of: SiteKey(0, 0, $1)).count * lattice.species(of: SiteKey(0, 0, $1)).z } ?? 0
    }
}

/// Errors of the Fourier lattice analysis, each one line.
public enum FourierLatticeError: Error, CustomStringConvertible, Equatable {
    case unknownMaterial(String)
    case frameTooSmall(Int, Int)
    case nonFinitePixels
    case noLattice(String)
    /// A lattice was found, but its sites cannot serve as training labels.
    case noLabels(String)

    public var description: String {
        switch self {
        case .unknownMaterial(let m): return "unknown material '\(m)' for the lattice analysis (known: ws2, graphene)"
        case .frameTooSmall(let w, let h): return "frame \(w)×\(h) is too small for a lattice FFT (at least 32×32 pixels)"
        case .nonFinitePixels: return "frame has NaN or infinite pixels; the lattice FFT needs a finite frame"
        case .noLattice(let why): return "no periodic lattice found: \(why)"
        case .noLabels(let why): return "no labels from the frame's lattice: \(why)"
        }
    }
}
