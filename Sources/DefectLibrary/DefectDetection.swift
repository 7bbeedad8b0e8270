/// An atom found in a frame (pixels) and its class index from segmentation.
public struct ClassifiedAtom: Sendable, Equatable {
    public var x: Double, y: Double
    public var classIndex: Int
    public init(x: Double, y: Double, classIndex: Int) { self.x = x; self.y = y; self.classIndex = classIndex }
}

/// What makes a point a defect.
public enum DefectKind: Sendable, Equatable, Hashable {
    /// An atom of a dopant/defect class.
    case atom(classIndex: Int)
    /// An empty lattice site of the given sublattice.
    case vacancy(sublattice: Int)
}

/// One defect object in one frame, to be cropped and classified.
public struct DefectObject: Sendable, Equatable {
    public var frame: Int
    public var x: Double, y: Double
    public var kind: DefectKind
    public init(frame: Int, x: Double, y: Double, kind: DefectKind) {
        self.frame = frame; self.x = x; self.y = y; self.kind = kind
    }
}

/// Result of defect detection in one frame: the objects and the lattice used (if any).
public struct FrameDefects: Sendable {
    public var defects: [DefectObject]
    public var lattice: FittedLattice?
    /// Predicted sites checked for vacancies (inside the margin).
    public var sitesChecked: Int
}

/// Finds defects in a frame: atoms of defect classes, and empty sites of a fitted lattice.
public enum DefectDetector {
    /// - Parameters:
    ///   - defectClasses: class indices that are dopants/defects; every other class is lattice.
    ///   - detectVacancies: fit a lattice to all atoms and report empty sites.
    ///   - tolerance: a site is empty if no atom lies within this many pixels
    ///     (default: 0.4 × the lattice's nearest site distance).
    ///   - margin: sites closer than this to the frame border are not checked (default: half the
    ///     nearest site distance), since atoms there are often cut off.
    public static func detect(frame: Int, atoms: [ClassifiedAtom], width: Int, height: Int,
                              defectClasses: Set<Int>, detectVacancies: Bool = true,
                              tolerance: Double? = nil, margin: Double? = nil) throws -> FrameDefects {
        var out = atoms.filter { defectClasses.contains($0.classIndex) }
            .map { DefectObject(frame: frame, x: $0.x, y: $0.y, kind: .atom(classIndex: $0.classIndex)) }
        guard detectVacancies else { return FrameDefects(defects: out, lattice: nil, sitesChecked: 0) }
        let points = atoms.map { SIMD2($0.x, $0.y) }
        // Dopants substitute lattice sites, so every atom helps the fit.
        let lattice = try LatticeFitter.fit(points: points)
        let vacancies = emptySites(lattice, atoms: points, width: width, height: height,
                                   tolerance: tolerance, margin: margin)
        out += vacancies.empty.map { DefectObject(frame: frame, x: $0.x, y: $0.y, kind: .vacancy(sublattice: $0.sublattice)) }
        return FrameDefects(defects: out, lattice: lattice, sitesChecked: vacancies.checked)
    }

    /// Lattice sites inside the margin with no atom within `tolerance`.
    public static func emptySites(_ lattice: FittedLattice, atoms: [SIMD2<Double>], width: Int, height: Int,
                                  tolerance: Double? = nil, margin: Double? = nil)
        -> (empty: [LatticeSite], checked: Int)
    {
        let dSite = lattice.nearestSiteDistance
        let tol = tolerance ?? 0.4 * dSite
        let sites = lattice.sites(width: width, height: height, margin: margin ?? 0.5 * dSite)
        let grid = PointGrid(atoms, cell: max(tol, 1e-6))
        let empty = sites.filter { grid.nearestDistance(to: SIMD2($0.x, $0.y)) > tol }
        return (empty, sites.count)
    }
}
