import Foundation
import Networks
import Pipeline
import Tensors
import XCTest

/// The bad-input table for model files: safetensors headers that lie, missing, truncated
/// and wrong-architecture checkpoints, and broken model directories.
final class ReliabilityModelTests: XCTestCase {
    /// A safetensors file from a raw JSON header and `body` zero bytes.
    private func safetensors(_ json: String, body: Int) -> Data {
        var header = Array(json.utf8)
        while header.count % 8 != 0 { header.append(0x20) }
        var d = Data((0..<8).map { UInt8((UInt64(header.count) >> (8 * UInt64($0))) & 0xFF) })
        d.append(contentsOf: header)
        d.append(Data(count: body))
        return d
    }

    private func assertCheckpointError(_ data: Data, mentions fragment: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try SafeTensors.decode(data, source: "lie.safetensors"), file: file, line: line) { e in
            XCTAssertTrue(e is NetworkError, "untyped: \(e)", file: file, line: line)
            XCTAssertTrue("\(e)".contains("lie.safetensors") && "\(e)".contains(fragment), "\(e) should mention \(fragment)",
                          file: file, line: line)
        }
    }

    func testSafeTensorsHeaderThatLiesAboutOffsets() throws {
        let f32 = #""dtype":"F32""#
        assertCheckpointError(safetensors("{\"a\":{\(f32),\"shape\":[2],\"data_offsets\":[0,8]}}", body: 4), mentions: "outside")
        assertCheckpointError(safetensors("{\"a\":{\(f32),\"shape\":[2],\"data_offsets\":[8,0]}}", body: 8), mentions: "outside")
        assertCheckpointError(safetensors("{\"a\":{\(f32),\"shape\":[2],\"data_offsets\":[-8,0]}}", body: 8), mentions: "outside")
        assertCheckpointError(safetensors("{\"a\":{\(f32),\"shape\":[3],\"data_offsets\":[0,8]}}", body: 8), mentions: "≠")
        assertCheckpointError(safetensors("{\"a\":{\(f32),\"shape\":[2],\"data_offsets\":[0,8]},\"b\":{\(f32),\"shape\":[2],\"data_offsets\":[4,12]}}",
                                          body: 12), mentions: "overlap")
        assertCheckpointError(safetensors("{\"a\":{\(f32),\"shape\":[2],\"data_offsets\":[0,9223372036854775807]}}", body: 8),
                              mentions: "outside")
        // Shapes whose byte count overflows Int must not wrap around to the stored size.
        assertCheckpointError(safetensors("{\"a\":{\(f32),\"shape\":[4611686018427387904],\"data_offsets\":[0,0]}}", body: 0),
                              mentions: "≠")
        assertCheckpointError(safetensors("{\"a\":{\(f32),\"shape\":[4294967296,4294967296],\"data_offsets\":[0,0]}}", body: 0),
                              mentions: "≠")
        // The 8-byte length claims more header than the file holds (and the largest UInt64).
        var lying = safetensors(#"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}"#, body: 4)
        for b in 0..<8 { lying[b] = 0xFF }
        assertCheckpointError(lying, mentions: "header claims")
        lying[7] = 0x7F
        assertCheckpointError(lying, mentions: "header claims")
        assertCheckpointError(Data([1, 0, 0]), mentions: "shorter than")
        assertCheckpointError(safetensors(#"["not", "an", "object"]"#, body: 0), mentions: "JSON object")
        assertCheckpointError(safetensors(#"{"a":{"dtype":"F32","shape":"2","data_offsets":[0,8]}}"#, body: 8), mentions: "lacks")
        // Extents and offsets that are not integers fitting Int are refused, not truncated (2.7 → 2
        // matched the 8 stored bytes) or wrapped (2⁶⁴ + 5).
        for shape in ["2.7", "18446744073709551621"] {
            assertCheckpointError(safetensors("{\"a\":{\(f32),\"shape\":[\(shape)],\"data_offsets\":[0,8]}}", body: 8), mentions: "lacks")
        }
        assertCheckpointError(safetensors("{\"a\":{\(f32),\"shape\":[2],\"data_offsets\":[0,8.5]}}", body: 8), mentions: "lacks")
    }

    /// Committed bad safetensors files (Fixtures/*.safetensors) are refused with a typed error.
    func testBadSafeTensorsFixturesAreRefused() throws {
        let files = try FileManager.default.contentsOfDirectory(at: reliabilityFixtures, includingPropertiesForKeys: nil)
            .filter { $0.lastPathComponent.hasSuffix(".safetensors") }
        XCTAssertFalse(files.isEmpty)
        for f in files {
            XCTAssertThrowsError(try SafeTensors.decode(try Data(contentsOf: f), source: f.lastPathComponent)) {
                XCTAssertTrue($0 is NetworkError, "\(f.lastPathComponent): untyped \($0)")
            }
        }
    }

    private func tinyModel(_ classes: [String] = ["C", "Si", "background"], filters: Int = 2) throws -> SegmentationModel {
        try SegmentationModel(ModelDescription(classNames: classes, baseFilters: filters, depth: 1, seed: 7))
    }

    func testCheckpointMissingTruncatedOrWrongArchitecture() throws {
        let dir = try reliabilityTempDir(self)
        let good = dir.appendingPathComponent("good.safetensors")
        try Checkpoint.save(model: try tinyModel(), to: good)
        XCTAssertNoThrow(try Checkpoint.load(from: good))

        XCTAssertThrowsError(try Checkpoint.load(from: dir.appendingPathComponent("missing.safetensors"))) {
            XCTAssertTrue($0 is NetworkError && "\($0)".contains("missing.safetensors"), "\($0)")
        }
        let data = try Data(contentsOf: good)
        for n in [0, 7, 8, 20, data.count / 2, data.count - 1] {
            let cut = dir.appendingPathComponent("cut\(n).safetensors")
            try data.prefix(n).write(to: cut)
            XCTAssertThrowsError(try Checkpoint.load(from: cut)) { XCTAssertTrue($0 is NetworkError, "\($0)") }
        }
        // Weights of a 2-filter network under the description of a 4-filter one.
        var (tensors, meta) = try SafeTensors.read(good)
        meta["atomtrack.model"] = try ModelDescription(classNames: ["C", "Si", "background"], baseFilters: 4, depth: 1).jsonString()
        let wrong = dir.appendingPathComponent("wrong.safetensors")
        try SafeTensors.write(tensors, metadata: meta, to: wrong)
        XCTAssertThrowsError(try Checkpoint.load(from: wrong)) { XCTAssertTrue("\($0)".contains("shape"), "\($0)") }
        // A plain safetensors file without the architecture.
        meta.removeValue(forKey: "atomtrack.model")
        try SafeTensors.write(tensors, metadata: meta, to: wrong)
        XCTAssertThrowsError(try Checkpoint.load(from: wrong)) { XCTAssertTrue("\($0)".contains("atomtrack.model"), "\($0)") }
        // An architecture description that is not JSON, and one that cannot be built.
        meta["atomtrack.model"] = "{not json"
        try SafeTensors.write(tensors, metadata: meta, to: wrong)
        XCTAssertThrowsError(try Checkpoint.load(from: wrong)) { XCTAssertTrue($0 is NetworkError, "\($0)") }
        var unbuildable = try JSONSerialization.jsonObject(
            with: Data(try ModelDescription(classNames: ["C", "Si", "background"], baseFilters: 2, depth: 1).jsonString().utf8)) as! [String: Any]
        unbuildable["baseFilters"] = -3
        unbuildable["depth"] = 40
        meta["atomtrack.model"] = String(decoding: try JSONSerialization.data(withJSONObject: unbuildable), as: UTF8.self)
        try SafeTensors.write(tensors, metadata: meta, to: wrong)
        XCTAssertThrowsError(try Checkpoint.load(from: wrong)) { XCTAssertTrue($0 is NetworkError, "\($0)") }
        tensors.removeAll()
    }

    func testTrainedModelDirectoryProblems() throws {
        let dir = try reliabilityTempDir(self)
        let shipped = repositoryRoot.appendingPathComponent("Models/graphene-si")
        guard FileManager.default.fileExists(atPath: shipped.appendingPathComponent("model.json").path) else {
            throw XCTSkip("shipped model absent")
        }
        XCTAssertThrowsError(try TrainedModel(at: dir.appendingPathComponent("nowhere"))) {
            XCTAssertTrue("\($0)".contains("not found"), "\($0)")
        }
        // Directory without a card.
        XCTAssertThrowsError(try TrainedModel(at: dir)) { XCTAssertTrue("\($0)".contains("model.json"), "\($0)") }
        // Card but no weights.
        let card = try Data(contentsOf: shipped.appendingPathComponent("model.json"))
        try card.write(to: dir.appendingPathComponent("model.json"))
        XCTAssertThrowsError(try TrainedModel(at: dir)) { XCTAssertTrue("\($0)".contains("model.safetensors"), "\($0)") }
        // Truncated weights.
        let weights = try Data(contentsOf: shipped.appendingPathComponent("model.safetensors"))
        try weights.prefix(weights.count / 3).write(to: dir.appendingPathComponent("model.safetensors"))
        XCTAssertThrowsError(try TrainedModel(at: dir)) { XCTAssertTrue($0 is NetworkError, "\($0)") }
        // Weights of another material (different classes than the card).
        try Checkpoint.save(model: try tinyModel(["W", "S", "background"]), to: dir.appendingPathComponent("model.safetensors"))
        XCTAssertThrowsError(try TrainedModel(at: dir)) { XCTAssertTrue("\($0)".contains("differ from the card"), "\($0)") }
        // A card that is not a card.
        try Data("{\"hello\": 1}".utf8).write(to: dir.appendingPathComponent("model.json"))
        XCTAssertThrowsError(try TrainedModel(at: dir)) { XCTAssertTrue("\($0)".contains("not a model card"), "\($0)") }
        // The shipped model itself loads.
        XCTAssertNoThrow(try TrainedModel(at: shipped))
    }

    /// A card whose column spacing is 0, negative or 10³⁰⁰, or whose architecture would need
    /// ~10¹⁶ bytes of weights, is refused when the model loads, naming model.json; weights whose
    /// own description is that large are refused before any allocation, naming model.safetensors.
    func testImpossibleCardsAndArchitecturesAreRefusedAtLoad() throws {
        let shipped = repositoryRoot.appendingPathComponent("Models/tmd-ws2")
        guard FileManager.default.fileExists(atPath: shipped.appendingPathComponent("model.safetensors").path) else {
            throw XCTSkip("shipped model absent")
        }
        let dir = try reliabilityTempDir(self)
        let card = dir.appendingPathComponent("model.json"), weights = dir.appendingPathComponent("model.safetensors")
        try FileManager.default.copyItem(at: shipped.appendingPathComponent("model.safetensors"), to: weights)
        let original = try JSONSerialization.jsonObject(with: Data(contentsOf: shipped.appendingPathComponent("model.json"))) as! [String: Any]
        func write(_ change: (inout [String: Any]) -> Void) throws {
            var c = original
            change(&c)
            try JSONSerialization.data(withJSONObject: c).write(to: card)
        }
        let changes: [(String, (inout [String: Any]) -> Void)] = [
            ("columnSpacing", { $0["columnSpacing"] = 1e300 }), ("columnSpacing", { $0["columnSpacing"] = 0 }),
            ("columnSpacing", { $0["columnSpacing"] = -1.8 }), ("pixelSizeRange", { $0["pixelSizeRange"] = [0.35, 0.12] }),
            ("pixelSizeRange", { $0["pixelSizeRange"] = [0, 1e300] }),
            ("weights", { var a = $0["architecture"] as! [String: Any]; a["baseFilters"] = 65536; a["depth"] = 8; $0["architecture"] = a }),
        ]
        for (what, change) in changes {
            try write(change)
            XCTAssertThrowsError(try TrainedModel(at: dir), what) {
                XCTAssertTrue("\($0)".hasPrefix(card.path + ": ") && "\($0)".contains(what), "\($0)")
            }
        }
        // Weights whose own description asks for ~2·10¹⁶ bytes: refused, not an allocation abort.
        try write { _ in }
        var huge = try JSONSerialization.jsonObject(
            with: Data(try ModelDescription(classNames: ["metal", "S2", "background"], baseFilters: 2, depth: 1).jsonString().utf8)) as! [String: Any]
        huge["baseFilters"] = 32768
        huge["depth"] = 8
        try SafeTensors.write([:], metadata: ["atomtrack.model": String(decoding: try JSONSerialization.data(withJSONObject: huge), as: UTF8.self)], to: weights)
        XCTAssertThrowsError(try TrainedModel(at: dir)) {
            XCTAssertTrue("\($0)".hasPrefix(weights.path + ": invalid model description") && "\($0)".contains("weights"), "\($0)")
        }
    }
}
