import Core
import Dynamics
import Foundation
import MicroscopyIO
import Pipeline
import XCTest

/// The classifier's per-class log-likelihoods travel through tables (defects.csv →
/// trajectories.csv, `loglik_<class>` columns) so `track` and `markov` fit the joint HMM on
/// the same evidence `analyze` weighs, not on hard labels.
final class HMMEvidenceTableTests: XCTestCase {
    /// Columns by class name, -inf read, a class never chosen as label still a state, a "none"
    /// row evidence for its own label only; a NaN refused with its line.
    func testDetectionsReadTheLogLikelihoodColumns() throws {
        let text = """
        frame,x,y,class,loglik_D0,loglik_D1,loglik_D2
        0,1,1,D1,-3.5,-1,-inf
        1,1,1,none,-2,-2,-2
        2,1,1,D0,0,-7.25,-9

        """
        let (detections, classes, evidence) = try TableStages.detections(CSVTable(text: text, path: "t.csv"))
        XCTAssertEqual(classes, ["D0", "D1", "D2", "none"])
        XCTAssertEqual(detections.map(\.classLabel), [1, 3, 0])
        let inf = -Double.infinity
        let expected: [[Double]] = [[-3.5, -1, inf, inf], [inf, inf, inf, 0], [0, -7.25, -9, inf]]
        XCTAssertEqual(evidence, expected)
        let bad = text.replacingOccurrences(of: "0,-7.25", with: "0,nan")
        XCTAssertThrowsError(try TableStages.detections(CSVTable(text: bad, path: "t.csv"))) {
            XCTAssert("\($0)".contains("loglik_D1 'nan'"), "\($0)")
        }
        XCTAssertNil(try TableStages.detections(CSVTable(text: "frame,x,y,class\n0,1,1,D0\n", path: "t.csv")).evidence)
    }

    /// `markov` on a trajectories table with loglik columns fits the HMM on that evidence: the
    /// same fit as DefectHMMFitter on the tracks themselves, and nearer the true T than the HMM
    /// on the hard labels of the same frames (doubtful frames count as doubtful).
    func testMarkovWeighsTheTableEvidence() throws {
        var spec = HMMSyntheticSpec(transition: [[0.9, 0.1], [0.15, 0.85]], D: [1, 1])
        spec.tracks = 30; spec.frames = 120; spec.separation = 1.6; spec.outliers = 0
        let (tracks, _) = HMMSynthetic.generate(spec, seed: 17)
        var csv = "track,frame,class,loglik_D0,loglik_D1\n"
        for (i, t) in tracks.enumerated() {
            for (f, e) in zip(t.frames, t.classEvidence) {
                csv += "\(i),\(f),D\(e[0] >= e[1] ? 0 : 1),\(e.map { String(format: "%.17g", $0) }.joined(separator: ","))\n"
            }
        }
        let dir = try temporaryDirectory("hmm-evidence")
        defer { try? FileManager.default.removeItem(at: dir) }
        let table = dir.appendingPathComponent("trajectories.csv")
        try csv.write(to: table, atomically: true, encoding: .utf8)
        var options = MarkovTable.Options()
        options.samples = 20
        let fromTable = try XCTUnwrap(MarkovTable(table: table, options: options).run(to: dir).hmm)

        var o = DefectHMMOptions()
        o.bootstrapSamples = 0
        let direct = try DefectHMMFitter.fit(tracks.map { HMMTrack(frames: $0.frames, classEvidence: $0.classEvidence) }, classCount: 2, options: o)
        for (a, b) in zip(fromTable.transition.joined(), direct.model.transition.joined()) { XCTAssertEqual(a, b, accuracy: 1e-9) }

        let labels = tracks.map { t in HMMTrack(frames: t.frames, labels: t.classEvidence.map { $0[0] >= $0[1] ? 0 : 1 }, classCount: 2) }
        let hard = try DefectHMMFitter.fit(labels, classCount: 2, options: o)
        func error(_ t: [[Double]]) -> Double { zip(t.joined(), spec.transition.joined()).map { abs($0 - $1) }.max()! }
        XCTAssertLessThan(error(direct.model.transition), 0.03)
        XCTAssertLessThan(error(direct.model.transition), error(hard.model.transition))
    }
}
