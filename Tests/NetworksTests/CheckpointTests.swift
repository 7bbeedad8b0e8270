import Core
import Foundation
import Networks
import Tensors
import XCTest

final class CheckpointTests: XCTestCase {
    var rng = SeededGenerator(seed: 11)
    var dir: URL!

    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("nn-ckpt-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    func batch() -> (Tensor, LabelMaps) {
        let x = Tensor.randomNormal(shape: [2, 1, 8, 8], generator: &rng)
        let labels = (0..<128).map { i in Int32(x.data[i] > 0.3 ? 1 : 0) }
        return (x, try! LabelMaps(n: 2, height: 8, width: 8, labels: labels))
    }

    func testResumeFromCheckpointContinuesExactly() throws {
        let desc = ModelDescription(classNames: ["bg", "fg"], baseFilters: 2, depth: 2, seed: 1)
        let a = Trainer(model: try SegmentationModel(desc), optimizer: Optimizer(.adam(learningRate: 1e-2), schedule: .cosine(totalSteps: 10, minimum: 0)))
        let (x, y) = batch()
        try a.step(images: x, labels: y)
        try a.step(images: x, labels: y)
        let url = dir.appendingPathComponent("m.safetensors")
        try Checkpoint.save(model: a.model, optimizer: a.optimizer, to: url)
        let (model, optimizer, meta) = try Checkpoint.load(from: url)
        XCTAssertEqual(model.modelDescription, desc)
        XCTAssertEqual(meta["format"], "pt")
        let b = Trainer(model: model, optimizer: try XCTUnwrap(optimizer))
        XCTAssertEqual(b.optimizer.stepCount, 2)
        XCTAssertEqual(try b.model.forward(x, training: false), try a.model.forward(x, training: false))
        let ra = try a.step(images: x, labels: y), rb = try b.step(images: x, labels: y)
        XCTAssertEqual(ra.loss, rb.loss)
        for (p, q) in zip(a.model.namedTensors, b.model.namedTensors) { XCTAssertEqual(p.value, q.value, p.name) }
    }

    func testRoundTripOfArbitraryTensorsAndMetadata() throws {
        let t = ["w": Tensor.randomNormal(shape: [3, 2, 1], generator: &rng), "e": Tensor(shape: [0]), "s": Tensor(shape: [], repeating: 5)]
        let data = try SafeTensors.encode(t, metadata: ["k": "v"])
        let (back, meta) = try SafeTensors.decode(data)
        XCTAssertEqual(back, t)
        XCTAssertEqual(meta, ["k": "v"])
        // The data block starts 8-byte aligned, as the format recommends.
        let headerLen = data.prefix(8).enumerated().reduce(0) { $0 | Int($1.element) << (8 * $1.offset) }
        XCTAssertEqual(headerLen % 8, 0)
    }

    /// A hand-built file with the given JSON header and body.
    func file(_ header: String, body: Int) -> Data {
        var d = Data()
        let h = Data(header.utf8)
        withUnsafeBytes(of: UInt64(h.count).littleEndian) { d.append(contentsOf: $0) }
        d.append(h)
        d.append(Data(repeating: 0, count: body))
        return d
    }

    func testLyingOrTruncatedFilesFailClearly() throws {
        let good = try SafeTensors.encode(["a": Tensor(shape: [4], repeating: 1), "b": Tensor(shape: [2], repeating: 2)])
        XCTAssertNoThrow(try SafeTensors.decode(good))
        let cases: [(Data, String)] = [
            (good.prefix(5), "shorter than"),
            (good.prefix(good.count - 4), "outside"),                       // truncated data
            (file(#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#, body: 4), "outside"),
            (file(#"{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}"#, body: 8), "≠"),
            (file(#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}"#, body: 12), "overlap"),
            (file(#"{"a":{"dtype":"Q7","shape":[2],"data_offsets":[0,8]}}"#, body: 8), "unsupported dtype"),
            (file(#"{"a":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}}"#, body: 8), "negative"),
            (file(#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[8,0]}}"#, body: 8), "outside"),
            (file(#"{"a": nonsense"#, body: 0), "not valid JSON"),
            (file(#"{"__metadata__":{"k":3}}"#, body: 0), "__metadata__"),
        ]
        var lying = good
        lying[0] = 0xFF; lying[1] = 0xFF   // header length far beyond the file
        for (data, expected) in cases + [(lying, "header claims")] {
            XCTAssertThrowsError(try SafeTensors.decode(data, source: "f")) { e in
                XCTAssertTrue("\(e)".contains(expected), "\(e) should mention \(expected)")
                XCTAssertTrue(e is NetworkError)
            }
        }
        // A checkpoint whose tensors do not fit the described model.
        let url = dir.appendingPathComponent("bad.safetensors")
        let desc = ModelDescription(classNames: ["a", "b"], baseFilters: 2, depth: 1)
        try SafeTensors.write(["c1.block.0.weight": Tensor(shape: [1])], metadata: ["atomtrack.model": try desc.jsonString()], to: url)
        XCTAssertThrowsError(try Checkpoint.load(from: url)) { e in XCTAssertTrue("\(e)".contains("shape"), "\(e)") }
        XCTAssertThrowsError(try Checkpoint.load(from: dir.appendingPathComponent("missing.safetensors")))
    }
}
