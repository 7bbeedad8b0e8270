import Core
import Foundation
import Pipeline
import XCTest

/// `analyze --shard I/N` + `merge`: shards joined give exactly the files of one `analyze`,
/// and a merge that would not is refused, naming the shard at fault.
final class ShardTests: XCTestCase {
    /// 24 frames of the small simulated WS2 movie (ResumeTests'), cut into 3 shards of 8.
    func movie(_ root: URL) throws -> AnalysisConfig { try smallWS2Analysis(in: root) }

    func shard(_ config: AnalysisConfig, _ i: Int, of n: Int, into dir: URL, stopAfterFrames: Int? = nil) throws {
        var analysis = try Analysis(config: config, output: dir)
        analysis.progress = false
        analysis.stopAfterFrames = stopAfterFrames
        try analysis.runShard(ShardSpec(index: i, count: n))
    }

    func merge(_ dirs: [URL], into out: URL, allowPartial: Bool = false) throws -> AnalysisSummary {
        var merge = try ShardMerge.plan(dirs, output: out, allowPartial: allowPartial)
        merge.progress = false
        try FileManager.default.createDirectory(at: out, withIntermediateDirectories: true)
        return try merge.run()
    }

    func testThreeShardsMergeToTheSingleRun() throws {
        let root = try temporaryDirectory("shards")
        defer { try? FileManager.default.removeItem(at: root) }
        let config = try movie(root)
        let single = root.appendingPathComponent("single")
        var analysis = try Analysis(config: config, output: single)
        analysis.progress = false
        try FileManager.default.createDirectory(at: single, withIntermediateDirectories: true)
        let expected = try analysis.run()

        let dirs = (0..<3).map { root.appendingPathComponent("shard-\($0)") }
        for (i, dir) in dirs.enumerated().reversed() { try shard(config, i, of: 3, into: dir) }
        let merged = root.appendingPathComponent("merged")
        let summary = try merge(dirs.reversed(), into: merged)   // any order: merge sorts by frame

        for name in ["atoms.csv", "defects.csv", "trajectories.csv", "diffusion.csv", "markov.json", "drift.csv",
                     "library.json", "bic.csv", "config.json", "overlay_0000.png", "library/D0_mean.tif"] {
            XCTAssertEqual(try Data(contentsOf: merged.appendingPathComponent(name)), try Data(contentsOf: single.appendingPathComponent(name)),
                           "\(name) differs between the merged shards and the single run")
        }
        XCTAssertEqual(summary.frames, 24)
        XCTAssertEqual(summary.atomsPerClass, expected.atomsPerClass)
        XCTAssertEqual(summary.transitionMatrix, expected.transitionMatrix)
        XCTAssertNil(summary.partialResult)
        // The comparison means something: tracks run across the shard boundaries (8, 16).
        let tracks = try CSVTable(url: merged.appendingPathComponent("trajectories.csv"))
        let frames = Dictionary(grouping: tracks.rows, by: { $0[0] }).mapValues { Set($0.compactMap { Int($0[1]) }) }
        XCTAssertTrue(frames.values.contains { $0.contains(7) && $0.contains(8) }, "no track crosses the first shard boundary")
        XCTAssertGreaterThan(summary.tracks, 0)
    }

    func testMissingUnfinishedAndOverlappingShardsAreNamed() throws {
        let root = try temporaryDirectory("shards-bad")
        defer { try? FileManager.default.removeItem(at: root) }
        var config = try movie(root)
        config.frameCount = 12
        let dirs = (0..<3).map { root.appendingPathComponent("shard-\($0)") }
        try shard(config, 0, of: 3, into: dirs[0])
        try shard(config, 2, of: 3, into: dirs[2])
        let out = root.appendingPathComponent("merged")

        XCTAssertThrowsError(try merge(dirs, into: out)) {
            XCTAssertTrue("\($0)".contains("frames 4..<8 missing"), "\($0)")
            XCTAssertTrue("\($0)".contains("shard-1: missing"), "\($0)")
            XCTAssertTrue("\($0)".contains("--allow-partial"), "\($0)")
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: out.path), "nothing written when refused")
        XCTAssertThrowsError(try shard(config, 1, of: 3, into: dirs[1], stopAfterFrames: 2))
        XCTAssertThrowsError(try merge(dirs, into: out)) {
            XCTAssertTrue("\($0)".contains("shard-1: shard 1/3 unfinished after 2 frames"), "\($0)")
        }
        XCTAssertThrowsError(try merge([dirs[0], dirs[0], dirs[2]], into: out)) { XCTAssertTrue("\($0)".contains("overlaps"), "\($0)") }

        let partial = try merge(dirs, into: out, allowPartial: true)
        XCTAssertEqual(partial.frames, 8)
        XCTAssertEqual(partial.partialResult, "frames 4..<8 missing")
        let rows = try CSVTable(url: out.appendingPathComponent("atoms.csv")).rows
        XCTAssertEqual(Set(rows.compactMap { Int($0[0]) }), Set([0, 1, 2, 3, 8, 9, 10, 11]))
    }

    func testShardsOfOtherSettingsAreRefused() throws {
        let root = try temporaryDirectory("shards-other")
        defer { try? FileManager.default.removeItem(at: root) }
        var config = try movie(root)
        config.frameCount = 4
        let a = root.appendingPathComponent("a"), b = root.appendingPathComponent("b")
        try shard(config, 0, of: 2, into: a)
        config.finder.threshold = 0.6
        try shard(config, 1, of: 2, into: b)
        XCTAssertThrowsError(try merge([a, b], into: root.appendingPathComponent("m"))) {
            XCTAssertTrue("\($0)".contains("another analysis") && "\($0)".contains("config differs"), "\($0)")
        }
        // A finished shard resumes to itself (a requeued array task); one of other settings is refused.
        let before = try FileManager.default.attributesOfItem(atPath: b.appendingPathComponent("atoms.csv").path)[.modificationDate] as? Date
        var analysis = try Analysis(config: config, output: b)
        analysis.progress = false
        XCTAssertEqual(try analysis.runShard(ShardSpec(index: 1, count: 2), resume: true).frames, 2..<4)
        XCTAssertEqual(try FileManager.default.attributesOfItem(atPath: b.appendingPathComponent("atoms.csv").path)[.modificationDate] as? Date, before)
        XCTAssertThrowsError(try Analysis(config: config, output: a).runShard(ShardSpec(index: 0, count: 2), resume: true)) {
            XCTAssertTrue("\($0)".contains("another run"), "\($0)")
        }
    }

    /// N contiguous ranges cover every frame once, sizes differ by at most one.
    func testShardRangesCoverTheFramesOnce() throws {
        for (all, n) in [(0..<10, 3), (5..<6, 1), (3..<103, 7), (0..<8, 8)] {
            let parts = try (0..<n).map { try ShardSpec(index: $0, count: n).frames(of: all) }
            XCTAssertEqual(parts.flatMap { Array($0) }, Array(all))
            XCTAssertLessThanOrEqual(parts.map(\.count).max()! - parts.map(\.count).min()!, 1)
        }
        XCTAssertThrowsError(try ShardSpec(index: 0, count: 9).frames(of: 0..<8)) { XCTAssertTrue("\($0)".contains("at most 8"), "\($0)") }
        for bad in ["3/3", "-1/2", "1", "a/b", "1/0", "1/2/3", ""] {
            XCTAssertThrowsError(try ShardSpec(parsing: bad), bad)
        }
        XCTAssertEqual(try ShardSpec(parsing: "2/5"), try ShardSpec(index: 2, count: 5))
    }
}

extension CommandLineTests {
    /// The command line: a bad --shard is a usage error (64), a merge of nothing one line (1); neither writes.
    func testShardAndMergeRefusals() throws {
        let dir = try reliabilityTempDir(self)
        let movie = try smallMovie(in: dir), out = dir.appendingPathComponent("out")
        for bad in ["3/3", "x", "1/0"] {
            let run = try atomtrack(["analyze", movie.path, "--material", "ws2", "--shard", bad, "--out", out.path])
            XCTAssertEqual(run.status, 64, run.stderr)
            XCTAssertTrue(run.stderr.contains("--shard"), run.stderr)
        }
        let run = try atomtrack(["merge", dir.appendingPathComponent("shard-0").path, "--out", out.path])
        assertOneLineError(run, mentioning: "no finished shard to merge: \(dir.path)/shard-0: missing")
        XCTAssertFalse(FileManager.default.fileExists(atPath: out.path), "nothing written")
    }
}
