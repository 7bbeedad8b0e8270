import Foundation

/// The dynamic part of a movie recipe: defects that hop on their sublattice (kinetic Monte Carlo)
/// and switch configuration with a per-frame transition matrix.
public struct MovieSpec: Codable, Sendable, Equatable {
    /// Number of frames and time per frame (s).
    public var frames: Int
    public var frameTime: Double
    /// Element symbol of the sites the mobile defects live on (e.g. "W", "C").
    public var host: String
    /// Number of mobile defects.
    public var count: Int
    /// The configurations (Markov states) a defect can be in.
    public var states: [MovieState]
    /// Row-stochastic per-frame transition matrix between `states`.
    public var transitionMatrix: [[Double]]
    /// Dose per frame (e/Å²), pixel size (Å); fixed for a movie.
    public var dose: Double?
    public var pixelSize: Double
    /// Linear drift (Å per frame) and random-walk drift (Å rms per frame).
    public var drift: [Double]?
    public var driftNoise: Double?
    /// Scan rotation (degrees) of the whole movie; absent = random.
    public var rotationDegrees: Double?
    /// Holes that open and grow during the movie (HoleGrowth.swift); absent = none.
    public var holes: HoleGrowth?

    public init(frames: Int, frameTime: Double, host: String, count: Int, states: [MovieState],
                transitionMatrix: [[Double]], dose: Double? = nil, pixelSize: Double,
                drift: [Double]? = nil, driftNoise: Double? = nil, rotationDegrees: Double? = nil, holes: HoleGrowth? = nil) {
        self.frames = frames; self.frameTime = frameTime; self.host = host; self.count = count
        self.states = states; self.transitionMatrix = transitionMatrix; self.dose = dose; self.pixelSize = pixelSize
        self.drift = drift; self.driftNoise = driftNoise; self.rotationDegrees = rotationDegrees; self.holes = holes
    }

    /// The largest dose a movie may ask for (e/Å²); real STEM doses stay below 10⁸.
    public static let maxDose = 1e9

    public func validate() throws {
        guard frames >= 1, frameTime > 0, pixelSize > 0, count >= 0 else {
            throw SimulationError.invalidRecipe("movie needs frames ≥ 1, frameTime > 0, pixelSize > 0, count ≥ 0")
        }
        // A NaN, zero or huge dose would trap (or hang) in the shot-noise sampler.
        if let d = dose, !(d > 0 && d <= Self.maxDose) {
            throw SimulationError.invalidRecipe("movie dose \(d) e/Å² is invalid: expected 0 < dose ≤ 10⁹ e/Å²")
        }
        let n = states.count
        guard n >= 1, transitionMatrix.count == n, transitionMatrix.allSatisfy({ $0.count == n }) else {
            throw SimulationError.invalidRecipe("transition matrix must be \(n)×\(n) for \(n) states")
        }
        for (i, row) in transitionMatrix.enumerated() {
            guard row.allSatisfy({ $0 >= 0 }), abs(row.reduce(0, +) - 1) < 1e-6 else {
                throw SimulationError.invalidRecipe("transition matrix row \(i) must be non-negative and sum to 1")
            }
        }
        try holes?.validate(frames: frames)
        for s in states where s.hopRate < 0 { throw SimulationError.invalidRecipe("state '\(s.defect.label)': negative hop rate") }
    }
}

/// One configuration of a mobile defect: how it looks (a defect recipe) and how fast it hops (per second).
public struct MovieState: Codable, Sendable, Equatable {
    public var defect: DefectSpec
    public var hopRate: Double
    public init(defect: DefectSpec, hopRate: Double) { self.defect = defect; self.hopRate = hopRate }
}
