import Foundation

/// What the report needs of atoms.csv, gathered in one streamed pass: per frame the atoms of
/// each class and their mean score, and every atom of the frames the viewer shows only.
struct ReportAtoms {
    let frames: Range<Int>
    /// Per analysed frame (from `frames.lowerBound`): atoms per class index, and their summed score.
    private var counts: [[Int]], scoreSums: [Double]
    private var kept: [Int: [FrameAtom]] = [:]

    init(_ url: URL, table: AtomTable, frames: Range<Int>, frameCount: Int, keeping: Set<Int>) throws {
        self.frames = frames
        counts = Array(repeating: Array(repeating: 0, count: table.classSymbols.count), count: frames.count)
        scoreSums = Array(repeating: 0, count: frames.count)
        try table.forEach(url, frameCount: frameCount) { a in
            guard frames.contains(a.frame) else { return }
            let i = a.frame - frames.lowerBound
            counts[i][a.classIndex] += 1
            scoreSums[i] += Double(a.score)
            if keeping.contains(a.frame) { kept[a.frame, default: []].append(a) }
        }
    }

    /// The atoms of a frame the viewer shows (none for other frames).
    func atoms(frame: Int) -> [FrameAtom] { kept[frame] ?? [] }

    func count(frame: Int, classIndex: Int) -> Int { counts[frame - frames.lowerBound][classIndex] }

    /// The mean score of a frame's atoms (NaN without atoms).
    func meanScore(frame: Int) -> Double {
        let i = frame - frames.lowerBound, n = counts[i].reduce(0, +)
        return n == 0 ? .nan : scoreSums[i] / Double(n)
    }
}
