// markov.json: the model, its counts and (optionally) its uncertainties as JSON text.

import Foundation

extension MarkovStateModel {
    /// The model as pretty-printed JSON text (keys sorted). Matrices are lists of rows
    /// in the order of `states`; non-finite numbers (an infinite timescale) are null.
    /// `ci_low`/`ci_high` bound the transition matrix (null without `uncertainty`);
    /// `frameTime` (seconds per frame), when known, adds timescales in seconds.
    /// `hmm`, when given, is written under "hmm": the joint model's estimates; the counting
    /// MLE around it is then the cross-check.
    public func json(uncertainty: MarkovUncertainty? = nil, frameTime: Double? = nil, hmm: HMMReport? = nil) throws -> String {
        let doc = MarkovJSON(model: self, timescales: try timescales(), uncertainty: uncertainty, frameTime: frameTime, hmm: hmm)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        guard let text = String(data: try encoder.encode(doc), encoding: .utf8) else {
            throw MarkovError.invalidArgument("markov.json could not be encoded as UTF-8")
        }
        return text
    }
}

/// The document behind markov.json.
private struct MarkovJSON: Encodable {
    let model: MarkovStateModel
    let timescales: [Double]
    let uncertainty: MarkovUncertainty?
    let frameTime: Double?
    let hmm: HMMReport?

    struct State: Encodable { let id: Int; let name: String }

    enum Key: String, CodingKey {
        case lag, lagSeconds = "lag_seconds", frameTime = "frame_time_seconds", mode, bridgeGaps = "bridge_gaps"
        case reversible, converged, iterations, states, excludedStates = "excluded_states"
        case components = "connected_sets"
        case counts, transitionMatrix = "transition_matrix", stationary, timescales
        case timescalesSeconds = "timescales_seconds"
        case ciLow = "ci_low", ciHigh = "ci_high", ciLevel = "ci_level", ciMethod = "ci_method", seed
        case samples = "ci_samples", stationaryCILow = "stationary_ci_low", stationaryCIHigh = "stationary_ci_high"
        case timescalesCILow = "timescales_ci_low", timescalesCIHigh = "timescales_ci_high", hmm
    }

    func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: Key.self)
        func finite(_ v: [Double]) -> [Double?] { v.map { $0.isFinite ? $0 : nil } }
        try c.encode(model.lag, forKey: .lag)
        try c.encode(model.counting.mode.rawValue, forKey: .mode)
        try c.encode(model.counting.bridgeGaps, forKey: .bridgeGaps)
        try c.encode(model.reversible, forKey: .reversible)
        try c.encode(model.converged, forKey: .converged)
        try c.encode(model.iterations, forKey: .iterations)
        try c.encode(model.activeStates.map { State(id: $0, name: model.stateNames[$0]) }, forKey: .states)
        try c.encode(model.excludedStates.map { State(id: $0, name: model.stateNames[$0]) }, forKey: .excludedStates)
        try c.encode(model.connectivity.components, forKey: .components)
        try c.encode(model.counts.rows, forKey: .counts)
        try c.encode(model.transitionMatrix.rows, forKey: .transitionMatrix)
        try c.encode(model.stationary, forKey: .stationary)
        try c.encode(finite(timescales), forKey: .timescales)
        try c.encode(frameTime, forKey: .frameTime)
        try c.encode(frameTime.map { Double(model.lag) * $0 }, forKey: .lagSeconds)
        try c.encode(frameTime.map { dt in finite(timescales.map { $0 * dt }) }, forKey: .timescalesSeconds)
        let u = uncertainty
        try c.encode(u?.transitionLow.rows, forKey: .ciLow)
        try c.encode(u?.transitionHigh.rows, forKey: .ciHigh)
        try c.encode(u?.confidence, forKey: .ciLevel)
        try c.encode(u?.method.name, forKey: .ciMethod)
        try c.encode(u?.seed, forKey: .seed)
        try c.encode(u?.samplesUsed, forKey: .samples)
        try c.encode(u?.stationaryLow, forKey: .stationaryCILow)
        try c.encode(u?.stationaryHigh, forKey: .stationaryCIHigh)
        try c.encode(u.map { finite($0.timescalesLow) }, forKey: .timescalesCILow)
        try c.encode(u.map { finite($0.timescalesHigh) }, forKey: .timescalesCIHigh)
        try c.encodeIfPresent(hmm, forKey: .hmm)
    }
}
