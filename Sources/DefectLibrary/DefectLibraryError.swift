/// Everything that can go wrong in the defect library, each with one line naming the problem.
public enum DefectLibraryError: Error, CustomStringConvertible, Equatable {
    case emptyData(String)
    case shapeMismatch(String)
    case invalidParameter(String)
    case tooFewSamples(samples: Int, components: Int)
    case lapackFailure(routine: String, info: Int)
    case notPositiveDefinite(component: Int)
    case latticeFitFailed(String)

    public var description: String {
        switch self {
        case .emptyData(let what): return "no data: \(what)"
        case .shapeMismatch(let what): return "shape mismatch: \(what)"
        case .invalidParameter(let what): return "invalid parameter: \(what)"
        case let .tooFewSamples(samples, components):
            return "too few samples: \(samples) samples cannot fit \(components) mixture components"
        case let .lapackFailure(routine, info): return "LAPACK \(routine) failed with info=\(info)"
        case .notPositiveDefinite(let k):
            return "covariance of component \(k) is not positive definite; increase regCovar"
        case .latticeFitFailed(let why): return "lattice fit failed: \(why)"
        }
    }
}
