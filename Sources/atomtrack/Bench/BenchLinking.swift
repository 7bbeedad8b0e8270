import ArgumentParser
import Core
import Dispatch
import Foundation
import Tracking

/// `atomtrack bench linking`: time frame-to-frame linking (and score it when the
/// input carries a ground-truth `particle` column). Used side by side with trackpy
/// by `scripts/bench_linking_trackpy.py`.
struct BenchLinking: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "linking",
        abstract: "Time LAP linking on simulated random walkers or on a detections CSV.",
        discussion: """
        Without --input, simulates --particles Brownian walkers (Gaussian steps of --step px \
        per axis) in a square box for --frames frames with --seed. With --input, reads a CSV \
        with frame,x,y columns (and optionally particle = ground truth). Prints one JSON line \
        with the best-of --repeats linking wall and CPU time (CSV parsing excluded) and, with ground truth, \
        the number of correct and wrong links. --output writes row,track for every input row.
        """)

    @Option(help: "Detections CSV (frame,x,y[,particle]); omit to simulate.") var input: String?
    @Option(help: "Write 'row,track' for every detection to this CSV.") var output: String?
    @Option(help: "Search range (px).") var searchRange: Double = 5
    @Option(help: "Missed frames bridged by gap closing.") var maxGap: Int = 0
    @Option(help: "Simulated frames.") var frames: Int = 100
    @Option(help: "Simulated particles.") var particles: Int = 2000
    @Option(help: "Simulated step standard deviation per axis (px).") var step: Double = 1
    @Option(help: "Simulated box side (px).") var box: Double = 512
    @Option(help: "Simulation seed.") var seed: UInt64 = 1
    @Option(help: "Timed repetitions (the best is reported).") var repeats: Int = 3

    func run() throws {
        guard repeats >= 1 else { throw ValidationError("--repeats must be ≥ 1") }
        var detections: [Detection]
        var truth: [Int]?
        if let input {
            let text: String
            do { text = try String(contentsOfFile: input, encoding: .utf8) } catch {
                throw ValidationError("cannot read \(input): \(error.localizedDescription)")
            }
            detections = try TrackingCSV.parseDetections(text)
            truth = try Self.particleColumn(text)
        } else {
            (detections, truth) = simulate()
        }
        let options = TrackingOptions(maxDistance: searchRange, maxGap: maxGap)
        var best = Double.infinity, bestCPU = Double.infinity
        var result: TrackingResult?
        for _ in 0..<repeats {
            let start = DispatchTime.now().uptimeNanoseconds, startCPU = Self.cpuSeconds()
            result = try Tracker.track(detections, options: options)
            best = min(best, Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
            bestCPU = min(bestCPU, Self.cpuSeconds() - startCPU)
        }
        guard let result else { return }
        var report = "{\"tool\":\"atomtrack\",\"detections\":\(detections.count),\"tracks\":\(result.tracks.count),"
        report += "\"seconds\":\(String(format: "%.4f", best)),\"cpu_seconds\":\(String(format: "%.4f", bestCPU)),"
        report += "\"search_range\":\(searchRange)"
        if let truth {
            var correct = 0, wrong = 0
            for t in result.tracks {
                for (a, b) in zip(t.points, t.points.dropFirst()) {
                    if truth[a.detection] == truth[b.detection] { correct += 1 } else { wrong += 1 }
                }
            }
            report += ",\"correct_links\":\(correct),\"wrong_links\":\(wrong)"
        }
        print(report + "}")
        if let output {
            var s = "row,track\n"
            for (i, t) in result.trackOfDetection.enumerated() { s += "\(i),\(t)\n" }
            do { try s.write(toFile: output, atomically: true, encoding: .utf8) } catch {
                throw ValidationError("cannot write \(output): \(error.localizedDescription)")
            }
        }
    }

    /// CPU time of this process, all threads (user + system), in seconds: robust to a busy machine.
    static func cpuSeconds() -> Double {
        var usage = rusage()
        #if os(Linux)
        getrusage(RUSAGE_SELF.rawValue, &usage)
        #else
        getrusage(RUSAGE_SELF, &usage)
        #endif
        let user = Double(usage.ru_utime.tv_sec) + Double(usage.ru_utime.tv_usec) / 1e6
        let system = Double(usage.ru_stime.tv_sec) + Double(usage.ru_stime.tv_usec) / 1e6
        return user + system
    }

    /// Brownian walkers, uniformly placed; truth = walker index.
    private func simulate() -> ([Detection], [Int]) {
        var rng = SeededGenerator(seed: seed)
        func uniform() -> Double { rng.uniform() }
        func gaussian() -> Double { rng.normal() }
        var x = (0..<particles).map { _ in uniform() * box }, y = (0..<particles).map { _ in uniform() * box }
        var detections: [Detection] = [], truth: [Int] = []
        for t in 0..<frames {
            for p in 0..<particles {
                detections.append(Detection(frame: t, x: x[p], y: y[p])); truth.append(p)
                x[p] += step * gaussian(); y[p] += step * gaussian()
            }
        }
        return (detections, truth)
    }

    /// The optional `particle` column (ground truth) of a detections CSV.
    static func particleColumn(_ text: String) throws -> [Int]? {
        let lines = text.split(whereSeparator: \.isNewline)
        guard let header = lines.first?.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces) }),
              let column = header.firstIndex(of: "particle") else { return nil }
        return try lines.dropFirst().enumerated().map { k, line in
            let fields = line.split(separator: ",", omittingEmptySubsequences: false)
            guard column < fields.count, let v = Int(fields[column]) else {
                throw ValidationError("line \(k + 2): particle is not an integer")
            }
            return v
        }
    }
}
