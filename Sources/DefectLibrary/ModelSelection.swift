import Foundation
/// One row of the model-selection table: a mixture with `components` components.
public struct ModelSelectionRow: Sendable, Codable, Equatable {
    public let components: Int
    /// Total log-likelihood of the data (not per sample).
    public let logLikelihood: Double
    public let parameterCount: Int
    public let bic: Double
    public let aic: Double
}

/// Mixtures fitted for a range of k with their BIC/AIC; the best by BIC is kept.
public struct ModelSelection: Sendable {
    public let rows: [ModelSelectionRow]
    /// The model with the lowest BIC.
    public let best: GaussianMixtureModel
    public var bestByBIC: Int { best.components }
    /// k with the lowest AIC (AIC penalises less and tends to pick more classes).
    public var bestByAIC: Int { rows.min { $0.aic < $1.aic }!.components }

    /// The table as CSV text: `components,log_likelihood,parameters,bic,aic`.
    public var csv: String {
        var s = "components,log_likelihood,parameters,bic,aic\n"
        for r in rows { s += "\(r.components),\(r.logLikelihood),\(r.parameterCount),\(r.bic),\(r.aic)\n" }
        return s
    }
}

extension GaussianMixture {
    /// Fits one mixture per k in `range` (same configuration otherwise) and picks k by BIC.
    public static func selectComponents(_ x: FeatureMatrix, range: ClosedRange<Int>,
                                        configuration base: GMMConfiguration) throws -> ModelSelection {
        try selectComponents(x, range: range, configuration: base) { try fit(x, configuration: $0) }
    }

    static func selectComponents(_ x: FeatureMatrix, range: ClosedRange<Int>, configuration base: GMMConfiguration,
                                 groupSize: Int = 1,
                                 fitter: (GMMConfiguration) throws -> GaussianMixtureModel) throws -> ModelSelection {
        guard range.lowerBound >= 1 else { throw DefectLibraryError.invalidParameter("k range must start at ≥ 1") }
        let samples = x.rows / max(groupSize, 1)
        var rows = [ModelSelectionRow](), best: (GaussianMixtureModel, Double)?
        for k in range where k <= samples {
            var c = base
            c.components = k
            let model = try fitter(c)
            let ll = model.logLikelihood * Double(samples)
            let p = model.parameterCount
            let bic = -2 * ll + Double(p) * log(Double(samples))
            let row = ModelSelectionRow(components: k, logLikelihood: ll, parameterCount: p, bic: bic,
                                        aic: -2 * ll + 2 * Double(p))
            rows.append(row)
            if best == nil || bic < best!.1 { best = (model, bic) }
        }
        guard let chosen = best else { throw DefectLibraryError.tooFewSamples(samples: samples, components: range.lowerBound) }
        return ModelSelection(rows: rows, best: chosen.0)
    }
}
