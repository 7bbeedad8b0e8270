/// Segments and localizes a frame band by band, so that the probability maps of only about
/// `bandRows + 2 · halo` rows (plus the tile row being blended) are in memory at once,
/// whatever the frame's height.
///
/// Each band's core rows are localized with `halo` rows of context above and below, and only
/// the atoms whose position falls in the core are kept. The halo covers what an atom's result
/// depends on: its blob (≈ 2 × the minimum separation), the border margin and, with
/// refinement, every neighbour that can reach it through the rounds of neighbour-subtracted
/// fits. The fits are weighed against the centroids once, over the whole frame's candidates
/// (`AtomLocator.weigh`). So the atoms equal those of `AtomLocator.locate` on the whole frame's maps; rows of
/// atoms within one class can come in another order where a blob crosses a band boundary.
/// A frame of at most `bandRows + halo` rows is one band: the whole-frame computation.
public struct BandedLocation: Sendable {
    public let tiler: TiledSegmenter
    public let locator: AtomLocator
    /// Core rows per band.
    public let bandRows: Int

    /// Rows per band when the caller does not choose (a 1024² frame is one band).
    public static let defaultBandRows = 1024

    /// - Throws: `LocalizationError.invalidParameter` for `bandRows` < 1.
    public init(tiler: TiledSegmenter, locator: AtomLocator, bandRows: Int = defaultBandRows) throws {
        guard bandRows >= 1 else { throw LocalizationError.invalidParameter(name: "band rows", reason: "must be ≥ 1, got \(bandRows)") }
        self.tiler = tiler; self.locator = locator; self.bandRows = bandRows
    }

    /// Context rows on each side of a band's core.
    public var halo: Int {
        let blob = 2 * locator.minSeparation + locator.borderMargin + 2
        guard let r = locator.refinement else { return Int(blob.rounded(.up)) }
        // AtomLocator's neighbour radius; a fit depends on neighbours up to neighbourRounds + 1 radii away.
        let reach = 1.5 * Double(r.halfWindow) + 3 * r.initialSigma
        return Int((blob + Double(r.neighbourRounds + 1) * reach + Double(r.halfWindow) + r.maxShift).rounded(.up))
    }

    /// The atoms of `frame` (raw, row-major), ordered by class; positions in frame pixels.
    /// - Parameter bounds: the frame's normalization, applied to each tile as it is cut.
    /// - Throws: what `TiledSegmenter.segmentRows` and `AtomLocator.locate` throw.
    public func atoms(in frame: [Float], width: Int, height: Int, normalizing bounds: NormalizationBounds?,
                      segmenter: TiledSegmenter.Segmenter) throws -> [Atom] {
        var bands = Bands(frame: frame, width: width, height: height, bandRows: bandRows, halo: halo, locator: locator)
        try tiler.segmentRows(frame, width: width, height: height, normalizing: bounds, segmenter: segmenter) { first, maps in
            try bands.add(maps, at: first)
        }
        let all = AtomLocator.Candidates(atoms: bands.byClass.flatMap { $0.map(\.atom) }, fits: bands.byClass.flatMap { $0.map(\.fit) })
        return locator.weigh(locator.measuringFits(all, frame: frame, width: width, height: height), width: width, height: height)
    }
}

/// The rows of probability maps not yet localized, and the atoms found so far.
private struct Bands {
    let frame: [Float], width: Int, height: Int, bandRows: Int, halo: Int, locator: AtomLocator
    /// Class planes of rows `first ..< first + rows`.
    var planes: [[Float]] = []
    var first = 0
    /// First row of the next core.
    var core = 0
    var byClass: [[(atom: Atom, fit: GaussianFit?)]] = []

    init(frame: [Float], width: Int, height: Int, bandRows: Int, halo: Int, locator: AtomLocator) {
        self.frame = frame; self.width = width; self.height = height
        self.bandRows = bandRows; self.halo = halo; self.locator = locator
    }

    var end: Int { first + (planes.first?.count ?? 0) / width }

    mutating func add(_ maps: ProbabilityMaps, at row: Int) throws {
        if planes.isEmpty { planes = Array(repeating: [], count: maps.classes); byClass = Array(repeating: [], count: maps.classes) }
        for c in 0..<maps.classes { planes[c] += maps.plane(c) }
        while end == height ? core < height : end - halo >= core + bandRows {
            try locateCore(upTo: end == height && end - halo < core + bandRows ? height : core + bandRows)
        }
    }

    /// Localizes rows `core - halo ..< coreEnd + halo` and keeps the atoms in `core ..< coreEnd`.
    mutating func locateCore(upTo coreEnd: Int) throws {
        let top = max(first, core - halo), bottom = min(end, coreEnd + halo), n = (bottom - top) * width
        let offset = (top - first) * width
        let values = planes.flatMap { $0[offset..<(offset + n)] }
        let maps = try ProbabilityMaps(classes: planes.count, width: width, height: bottom - top, values: values)
        var found = try locator.candidates(maps, frame: Array(frame[(top * width)..<(bottom * width)]))
        found.shift(rows: Double(top))
        for (atom, fit) in zip(found.atoms, found.fits)
        where (core == 0 || atom.y >= Double(core)) && (coreEnd == height || atom.y < Double(coreEnd)) {
            byClass[atom.classIndex].append((atom, fit))
        }
        core = coreEnd
        let drop = max(0, core - halo - first)
        for c in planes.indices { planes[c].removeFirst(drop * width) }
        first += drop
    }
}
