// The joint HMM in the written files: markov.json's "hmm" object and the HMM columns of
// diffusion.csv. Keys are snake_case; undefined numbers are null (JSON) or nan (CSV).

import Foundation

/// markov.json "hmm": per hidden state D, hop rate, dwell time (with bootstrap intervals), T
/// with intervals, implied timescales, σ, and the model selection.
public struct HMMReport: Encodable, Sendable {
    public struct State: Codable, Sendable {
        public let name: String, classes: [String], frames: Double, steps: Double
        public let D: Double?, DLow: Double?, DHigh: Double?, unitD: String
        public let hopRate: Double?, hopRateLow: Double?, hopRateHigh: Double?, unitRate: String
        public let dwell: Double?, dwellLow: Double?, dwellHigh: Double?, unitTime: String
        public let note: String?

        enum CodingKeys: String, CodingKey {
            case name, classes, frames, steps, note
            case D, DLow = "D_ci_low", DHigh = "D_ci_high", unitD = "D_unit"
            case hopRate = "hop_rate", hopRateLow = "hop_rate_ci_low", hopRateHigh = "hop_rate_ci_high", unitRate = "hop_rate_unit"
            case dwell = "dwell_time", dwellLow = "dwell_time_ci_low", dwellHigh = "dwell_time_ci_high", unitTime = "time_unit"
        }
    }
    struct Candidate: Encodable, Sendable {
        let states: [String], logLikelihood: Double, parameters: Int, bic: Double, minOccupancy: Double
        enum CodingKeys: String, CodingKey {
            case states, logLikelihood = "log_likelihood", parameters, bic, minOccupancy = "min_occupancy_frames"
        }
    }

    public let states: [State]
    /// Said plainly when the model has one state (the tracks never change class).
    public let note: String?
    public let transition: [[Double]], low: [[Double?]]?, high: [[Double?]]?
    let timescales: [Double?], timescalesLow: [Double?]?, timescalesHigh: [Double?]?
    let sigma: Double, sigmaUnit: String
    let motion: String, reversible: Bool
    let logLikelihood: Double, parameters: Int, bic: Double, iterations: Int, converged: Bool
    let selection: [Candidate]
    let ciMethod: String?, samples: Int?, level: Double?, blockLength: Int?, seed: UInt64?
    let tracks: Int, frames: Int

    enum CodingKeys: String, CodingKey {
        case states, note, transition = "transition_matrix", low = "ci_low", high = "ci_high"
        case timescales, timescalesLow = "timescales_ci_low", timescalesHigh = "timescales_ci_high"
        case sigma, sigmaUnit = "sigma_unit", motion, reversible
        case logLikelihood = "log_likelihood", parameters, bic, iterations, converged, selection
        case ciMethod = "ci_method", samples = "ci_samples", level = "ci_level", blockLength = "ci_block_frames", seed
        case tracks, frames = "observed_frames"
    }

    /// Hidden state names: the observed classes each stands for, joined by `+`.
    public static func stateNames(_ fit: DefectHMMFit, classNames: [String]) -> [String] {
        fit.states.map { s in s.classes.map { Diffusion.name($0, classNames) }.joined(separator: "+") }
    }

    /// With a calibration, D is in Å²/s, rates in 1/s and times in s — per frame and in frames
    /// when it has no frame time; without one, px²/frame, 1/frame, frames.
    public init(_ fit: DefectHMMFit, classNames: [String], calibration: DiffusionCalibration?) {
        let timed = calibration?.frameTime != nil
        let dt = calibration?.frameTime ?? 1, (scaleD, unitD) = DiffusionCalibration.diffusionUnit(calibration)
        let unitT = timed ? "s" : "frames"
        func f(_ v: Double?) -> Double? { v.flatMap { $0.isFinite ? $0 : nil } }
        let ci = fit.intervals, names = Self.stateNames(fit, classNames: classNames)
        states = fit.states.enumerated().map { k, s in
            State(name: names[k], classes: s.classes.map { Diffusion.name($0, classNames) }, frames: s.frames, steps: s.steps,
                  D: f(s.D.map { $0 * scaleD }), DLow: f(ci?.D[k].map { $0.low * scaleD }), DHigh: f(ci?.D[k].map { $0.high * scaleD }),
                  unitD: unitD, hopRate: f(s.hopRate.map { $0 / dt }), hopRateLow: f(ci?.hopRate[k].map { $0.low / dt }),
                  hopRateHigh: f(ci?.hopRate[k].map { $0.high / dt }), unitRate: timed ? "1/s" : "1/frame",
                  dwell: f(s.dwellFrames * dt), dwellLow: f(ci?.dwellFrames[k].map { $0.low * dt }),
                  dwellHigh: f(ci?.dwellFrames[k].map { $0.high * dt }), unitTime: unitT,
                  note: s.D != nil ? nil : s.steps > 0 ? "insufficient data" : "no steps: classes only")
        }
        note = fit.states.count == 1 ? Self.oneStateNote(fit, low: ci?.transitionLow[0][0], dt: dt, unit: unitT) : nil
        transition = fit.model.transition
        low = ci.map { $0.transitionLow.map { $0.map(f) } }; high = ci.map { $0.transitionHigh.map { $0.map(f) } }
        timescales = fit.timescales.map { f($0 * dt) }
        timescalesLow = ci.map { $0.timescales.map { f($0.map { $0.low * dt }) } }
        timescalesHigh = ci.map { $0.timescales.map { f($0.map { $0.high * dt }) } }
        sigma = fit.sigma * (calibration?.pixelSize ?? 1); sigmaUnit = calibration == nil ? "px" : "A"
        if case .lattice(let h) = fit.model.motionModel { motion = String(format: "lattice hops (step > %.4g px)", h) } else { motion = "gaussian steps" }
        reversible = fit.reversible
        logLikelihood = fit.logLikelihood; parameters = fit.parameters; bic = fit.bic
        iterations = fit.iterations; converged = fit.converged
        selection = fit.selection.map { row in
            Candidate(states: row.groups.map { $0.map { Diffusion.name($0, classNames) }.joined(separator: "+") },
                      logLikelihood: row.logLikelihood, parameters: row.parameters, bic: row.bic, minOccupancy: row.minOccupancy)
        }
        let counted = fit.states.contains { $0.hops != nil } ? "; lattice D and hop rate at least as wide as the hop count's Poisson (Garwood) interval (edge-weighted hops by their effective number; none seen: the upper bound of none)" : ""
        ciMethod = ci.map { "\($0.method.rawValue) bootstrap over track blocks, HMM refitted per resample" + counted }
        samples = ci?.samples; level = ci?.confidence; blockLength = ci?.blockLength; seed = ci?.seed
        tracks = fit.tracks; frames = fit.observedFrames
    }

    /// "one state: …": the tracks never change class, so T = [[1]] and the dwell time is longer than
    /// the exact bound of no exit in the transitions seen.
    static func oneStateNote(_ fit: DefectHMMFit, low: Double?, dt: Double, unit: String) -> String {
        let n = fit.states[0].transitions
        let bound = low.flatMap { $0 < 1 ? String(format: ", so the dwell time is > %.4g %@ (%.0f %% bound)", dt / (1 - $0), unit, 100 * (fit.intervals?.confidence ?? 0.95)) : nil } ?? ""
        return String(format: "one state: the tracks never change class (no exit in %.0f frame pairs), T = [[1]]", n) + bound
    }

    /// The state standing for observed class `label`, if any.
    func state(of label: Int, classNames: [String]) -> State? {
        states.first { $0.classes.contains(Diffusion.name(label, classNames)) }
    }
}

extension Diffusion {
    /// The HMM columns appended to each diffusion.csv row (the hidden state holding the row's class).
    static let hmmHeader = "hmm_state,D_hmm,D_hmm_ci_low,D_hmm_ci_high,sigma_hmm,hop_rate_hmm,hop_rate_hmm_ci_low,hop_rate_hmm_ci_high,dwell_hmm,dwell_hmm_ci_low,dwell_hmm_ci_high,hmm_steps,hmm_note"

    static func hmmColumns(_ report: HMMReport, label: Int, classNames: [String]) -> String {
        guard let s = report.state(of: label, classNames: classNames) else { return Array(repeating: "", count: 13).joined(separator: ",") }
        let v = [s.D, s.DLow, s.DHigh, report.sigma, s.hopRate, s.hopRateLow, s.hopRateHigh, s.dwell, s.dwellLow, s.dwellHigh, s.steps]
        return s.name + "," + v.map { format($0 ?? .nan) }.joined(separator: ",") + "," + (s.note ?? "")
    }
}
