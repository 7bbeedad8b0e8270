import CHDF5
import Foundation

/// The few HDF5 operations the EMD and Nion readers need, over the C library.
///
/// Debian's serial libhdf5 is not thread-safe, so every call runs under one process-wide lock;
/// the library's own error printing is switched off and a failed call becomes one
/// `MicroscopyIOError` line naming the file, the step and HDF5's most specific message.
enum HDF5 {
    private static let lock = NSRecursiveLock()

    /// Runs `body` holding the HDF5 lock, with automatic error printing off.
    static func locked<T>(_ body: () throws -> T) rethrows -> T {
        lock.lock()
        defer { lock.unlock() }
        chdf5_silence()
        return try body()
    }

    /// The most specific message on HDF5's error stack (which it then clears).
    static func lastError() -> String {
        var buffer = [CChar](repeating: 0, count: 256)
        chdf5_last_error(&buffer)
        let text = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return text.isEmpty ? "HDF5 reported no detail" : text
    }

    /// The first 8 bytes of every HDF5 file without a user block.
    static let signature: [UInt8] = [0x89, 0x48, 0x44, 0x46, 0x0D, 0x0A, 0x1A, 0x0A]
}

/// An HDF5 file opened read-only; closed when released.
final class HDF5File {
    let path: String
    fileprivate let id: hid_t

    init(path: String) throws {
        self.path = path
        id = try HDF5.locked {
            let f = H5Fopen(path, chdf5_acc_rdonly(), chdf5_default())
            guard f >= 0 else { throw MicroscopyIOError.corrupt(path: path, detail: "HDF5: cannot open: \(HDF5.lastError())") }
            return f
        }
    }

    deinit { HDF5.locked { _ = H5Fclose(id) } }

    func failure(_ step: String) -> MicroscopyIOError {
        .corrupt(path: path, detail: "HDF5: \(step): \(HDF5.lastError())")
    }

    /// Whether `name` (an absolute path) leads to an object; every link on the way is checked,
    /// as H5Lexists requires.
    func exists(_ name: String) -> Bool {
        HDF5.locked {
            var prefix = ""
            for part in name.split(separator: "/") {
                prefix += "/" + part
                guard H5Lexists(id, prefix, chdf5_default()) > 0 else { H5Eclear2(0); return false }
            }
            return H5Oexists_by_name(id, name.isEmpty ? "/" : name, chdf5_default()) > 0
        }
    }

    /// What kind of object `name` is (nil when it does not exist).
    func kind(_ name: String) -> H5I_type_t? {
        guard exists(name) else { return nil }
        return HDF5.locked {
            let o = H5Oopen(id, name, chdf5_default())
            guard o >= 0 else { H5Eclear2(0); return nil }
            defer { H5Oclose(o) }
            return H5Iget_type(o)
        }
    }

    func isGroup(_ name: String) -> Bool { kind(name) == H5I_GROUP }

    /// The names of the links in group `name`, in name order (at most `limit`, so a corrupt
    /// count cannot run away).
    func children(of name: String, limit: Int = 100_000) throws -> [String] {
        try HDF5.locked {
            var info = H5G_info_t()
            guard H5Gget_info_by_name(id, name, &info, chdf5_default()) >= 0 else { throw failure("group \(name)") }
            let n = min(Int(info.nlinks), limit)
            return try (0..<n).map { i in
                let size = H5Lget_name_by_idx(id, name, H5_INDEX_NAME, H5_ITER_INC, hsize_t(i), nil, 0, chdf5_default())
                guard size >= 0, size < 4096 else { throw failure("link \(i) of \(name)") }
                var buffer = [CChar](repeating: 0, count: Int(size) + 1)
                _ = H5Lget_name_by_idx(id, name, H5_INDEX_NAME, H5_ITER_INC, hsize_t(i), &buffer, buffer.count, chdf5_default())
                return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            }
        }
    }

    func dataset(_ name: String) throws -> HDF5Dataset { try HDF5Dataset(file: self, name: name) }

    /// A string attribute of object `object` (fixed or variable length), nil when absent.
    func stringAttribute(_ attribute: String, of object: String = "/") -> String? {
        HDF5.locked { withAttribute(attribute, of: object) { a, type, space in HDF5File.readString(a, type: type, space: space) } ?? nil }
    }

    /// A numeric attribute's first value as Double, nil when absent or not a number.
    func numberAttribute(_ attribute: String, of object: String = "/") -> Double? {
        HDF5.locked {
            withAttribute(attribute, of: object) { a, type, space -> Double? in
                let c = H5Tget_class(type)
                guard c == H5T_INTEGER || c == H5T_FLOAT else { return nil }
                let n = H5Sget_simple_extent_npoints(space)
                guard n >= 1, n <= 1 << 20 else { return nil }
                var values = [Double](repeating: 0, count: Int(n))
                return H5Aread(a, chdf5_native_double(), &values) >= 0 ? values[0] : nil
            } ?? nil
        }
    }

    private func withAttribute<T>(_ attribute: String, of object: String, _ body: (hid_t, hid_t, hid_t) -> T) -> T? {
        guard exists(object), H5Aexists_by_name(id, object, attribute, chdf5_default()) > 0 else { H5Eclear2(0); return nil }
        let a = H5Aopen_by_name(id, object, attribute, chdf5_default(), chdf5_default())
        guard a >= 0 else { H5Eclear2(0); return nil }
        defer { H5Aclose(a) }
        let type = H5Aget_type(a), space = H5Aget_space(a)
        defer { H5Tclose(type); H5Sclose(space) }
        return body(a, type, space)
    }

    private static func readString(_ a: hid_t, type: hid_t, space: hid_t) -> String? {
        guard H5Tget_class(type) == H5T_STRING, H5Sget_simple_extent_npoints(space) == 1 else { return nil }
        if H5Tis_variable_str(type) > 0 {
            let mem = H5Tcopy(chdf5_c_s1())
            defer { H5Tclose(mem) }
            H5Tset_size(mem, Int(bitPattern: UInt(bitPattern: -1)))  // H5T_VARIABLE
            H5Tset_cset(mem, H5Tget_cset(type))  // HDF5 converts no string between ASCII and UTF-8
            var pointer: UnsafeMutablePointer<CChar>? = nil
            guard H5Aread(a, mem, &pointer) >= 0, let p = pointer else { return nil }
            defer { H5free_memory(p) }
            return String(cString: p)
        }
        let size = H5Tget_size(type)
        guard size > 0, size <= 1 << 26 else { return nil }
        var buffer = [UInt8](repeating: 0, count: size + 1)
        guard H5Aread(a, type, &buffer) >= 0 else { return nil }
        return String(decoding: buffer.prefix { $0 != 0 }, as: UTF8.self)
    }
}

/// A dataset of an open `HDF5File`: its shape and sample type, read by hyperslab.
final class HDF5Dataset {
    let file: HDF5File
    let name: String
    private let id: hid_t
    /// Extent per axis, C order (slowest first).
    let shape: [Int]
    /// The stored sample type, nil for types MicroscopyIO does not decode (int64, strings, compounds).
    let sampleType: SampleType?
    /// The stored type in words, for messages.
    let typeDescription: String

    init(file: HDF5File, name: String) throws {
        self.file = file; self.name = name
        guard file.kind(name) == H5I_DATASET else {
            throw MicroscopyIOError.corrupt(path: file.path, detail: "HDF5: \(name) is not a dataset")
        }
        (id, shape, sampleType, typeDescription) = try HDF5.locked {
            let d = H5Dopen2(file.id, name, chdf5_default())
            guard d >= 0 else { throw file.failure("dataset \(name)") }
            let space = H5Dget_space(d)
            defer { H5Sclose(space) }
            let rank = Int(H5Sget_simple_extent_ndims(space))
            guard rank >= 0, rank <= 32 else { H5Dclose(d); throw file.failure("dataset \(name) rank") }
            var dims = [hsize_t](repeating: 0, count: rank)
            _ = H5Sget_simple_extent_dims(space, &dims, nil)
            let type = H5Dget_type(d)
            defer { H5Tclose(type) }
            let (sample, words) = HDF5Dataset.describe(type)
            return (d, dims.map { Int(clamping: $0) }, sample, words)
        }
    }

    deinit { HDF5.locked { _ = H5Dclose(id) } }

    private static func describe(_ type: hid_t) -> (SampleType?, String) {
        let size = H5Tget_size(type), cls = H5Tget_class(type)
        switch cls {
        case H5T_INTEGER:
            let signed = H5Tget_sign(type) == H5T_SGN_2
            let words = "\(signed ? "int" : "uint")\(size * 8)"
            return (SampleType(rawValue: words), words)
        case H5T_FLOAT:
            let words = "float\(size * 8)"
            return (SampleType(rawValue: words), words)
        case H5T_STRING: return (nil, "string")
        case H5T_COMPOUND: return (nil, "compound (e.g. complex)")
        default: return (nil, "HDF5 type class \(cls.rawValue)")
        }
    }

    /// Reads the block `start`/`count` (C order) as Float32 into `dst`, which holds exactly its
    /// elements; HDF5 converts from the stored type.
    func read(start: [Int], count: [Int], into dst: UnsafeMutableBufferPointer<Float>) throws {
        try readBlock(start: start, count: count, memoryType: chdf5_native_float(), into: UnsafeMutableRawPointer(dst.baseAddress!),
                      capacity: dst.count)
    }

    /// The block `start`/`count` as bytes (a uint8 dataset, e.g. Velox's JSON metadata).
    func readBytes(start: [Int], count: [Int]) throws -> [UInt8] {
        var out = [UInt8](repeating: 0, count: count.reduce(1, *))
        try out.withUnsafeMutableBytes {
            try readBlock(start: start, count: count, memoryType: chdf5_native_uint8(), into: $0.baseAddress!, capacity: $0.count)
        }
        return out
    }

    /// Every element as Double (small 1-D vectors such as Berkeley EMD's dims).
    func readDoubles(limit: Int = 1 << 24) throws -> [Double] {
        let n = shape.reduce(1, *)
        guard n <= limit else { throw MicroscopyIOError.corrupt(path: file.path, detail: "HDF5: \(name) holds \(n) values") }
        var out = [Double](repeating: 0, count: n)
        try out.withUnsafeMutableBytes {
            try readBlock(start: shape.map { _ in 0 }, count: shape, memoryType: chdf5_native_double(), into: $0.baseAddress!,
                          capacity: n)
        }
        return out
    }

    private func readBlock(start: [Int], count: [Int], memoryType: hid_t, into buffer: UnsafeMutableRawPointer, capacity: Int) throws {
        guard start.count == shape.count, count.count == shape.count, count.reduce(1, *) == capacity,
              zip(zip(start, count), shape).allSatisfy({ $0.0 >= 0 && $0.1 >= 0 && $0.0 + $0.1 <= $1 }) else {
            throw MicroscopyIOError.invalidArgument(detail: "HDF5 block \(start)+\(count) outside \(name) of shape \(shape)")
        }
        try HDF5.locked {
            let fileSpace = H5Dget_space(id)
            defer { H5Sclose(fileSpace) }
            var s = start.map { hsize_t($0) }, c = count.map { hsize_t($0) }
            let memSpace = H5Screate_simple(Int32(c.count), &c, nil)
            defer { H5Sclose(memSpace) }
            guard H5Sselect_hyperslab(fileSpace, H5S_SELECT_SET, &s, nil, &c, nil) >= 0,
                  H5Dread(id, memoryType, memSpace, fileSpace, chdf5_default(), buffer) >= 0 else {
                throw file.failure("reading \(name)")
            }
        }
    }
}
