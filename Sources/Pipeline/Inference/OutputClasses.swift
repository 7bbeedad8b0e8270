import Core
import Localization

/// The classes a run reports, derived from the model card in this one place: the card's classes,
/// except that a two-element class whose light element the Z-contrast tells apart (`W+Mo`) is
/// split, unless `mergeDopants`: its atoms are named by the heavy element (`W`, the card's index)
/// and the light ones (`Mo`) take the index the card's background had, the background moving one
/// on (it stays last, as in the card: `W, S, Mo, background`). atoms.csv, the per-class counts,
/// overlays, the report, the defect library, `classify` and `evaluate` all name classes through
/// this list.
public struct OutputClasses: Sendable, Equatable {
    /// Table symbol by class index, background last.
    public let symbols: [String]
    /// The split-off dopant, when there is one and it is not merged.
    public let dopant: Dopant?

    /// A light element split off a two-element class by contrast.
    public struct Dopant: Sendable, Equatable {
        /// The merged class in the card (`W+Mo`), which keeps the heavy atoms.
        public var mergedClass: Int
        /// The index the light atoms get.
        public var lightClass: Int
        /// Expected light/heavy integrated-intensity ratio (`ContrastSplit.ratio`).
        public var ratio: Double
    }

    /// Light/heavy integrated-intensity ratios of the dopants that can be told apart by contrast
    /// (HAADF, ≈ Z^1.7): Mo/W measured 0.39–0.41 on the 80 kV multislice WS2 frame (docs/ACCURACY.md).
    public static let dopantContrast: [String: (light: String, ratio: Double)] = ["W+Mo": ("Mo", 0.4)]

    public init(card: ModelCard, mergeDopants: Bool) {
        var symbols = card.classes.map(\.symbol)
        guard !mergeDopants, let k = Self.splittableClass(card), let d = Self.dopantContrast[symbols[k]] else {
            self.symbols = symbols; dopant = nil
            return
        }
        symbols[k] = card.classes[k].elements.first { $0 != d.light } ?? symbols[k]
        symbols.insert(d.light, at: card.backgroundClass)
        dopant = Dopant(mergedClass: k, lightClass: card.backgroundClass, ratio: d.ratio)
        self.symbols = symbols
    }

    /// The card's class that `dopantContrast` can split, if any.
    static func splittableClass(_ card: ModelCard) -> Int? {
        card.classes.firstIndex { Self.dopantContrast[$0.symbol] != nil }
    }

    /// Whether `mergeDopants` would change anything for this card (a flag that cannot is refused).
    public static func hasDopantToMerge(_ card: ModelCard) -> Bool { splittableClass(card) != nil }

    /// The background's index (last); atoms never carry it.
    public var background: Int { symbols.count - 1 }

    /// Indices of the classes atoms can carry (all but the background).
    public var atomClasses: Range<Int> { 0..<background }

    /// The contrast split for frames whose columns are `columnSpacingPixels` apart: integration
    /// disc 0.4 × the spacing (the column, not its neighbours); nil without a dopant.
    public func contrastSplit(columnSpacingPixels: Double) -> ContrastSplit? {
        guard let dopant else { return nil }
        return try? ContrastSplit(classIndex: dopant.mergedClass, lightClassIndex: dopant.lightClass, ratio: dopant.ratio,
                                  radius: max(1, 0.4 * columnSpacingPixels))
    }

    /// The class index of an element symbol (truth tables): the split dopant's own class, else the
    /// class whose elements hold it.
    public func classIndex(ofElement e: String, card: ModelCard) -> Int? {
        if let dopant, symbols[dopant.lightClass] == e { return dopant.lightClass }
        return card.classes.firstIndex { $0.elements.contains(e) }
    }
}
