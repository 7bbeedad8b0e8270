import Core
import Foundation

/// The members of a ZIP archive, from its central directory (ZIP64 sizes and offsets
/// included). Only what a reader needs to find a stored member's bytes; nothing is inflated.
struct ZipArchive {
    struct Member {
        var name: String
        /// 0 = stored, 8 = deflate, …
        var method: Int
        var compressedSize: Int
        var size: Int
        /// Where the member's bytes start in the archive (after its local header).
        var dataOffset: Int
    }

    let members: [Member]

    init(_ data: Data, path: String) throws {
        let bad = { (d: String) in MicroscopyIOError.corrupt(path: path, detail: "ZIP: \(d)") }
        let end = try ZipArchive.endOfCentralDirectory(data, path: path)
        var r = ByteReader(data, at: end + 10)
        do {
            var count = Int(try r.uint16()); _ = try r.uint32()
            var offset = Int(try r.uint32())
            if count == 0xFFFF || offset == 0xFFFF_FFFF {
                (count, offset) = try ZipArchive.zip64Directory(data, end: end, path: path)
            }
            guard count <= data.count / 46 else { throw bad("\(count) members cannot fit in \(data.count) bytes") }
            r.offset = offset
            var members: [Member] = []
            for i in 0..<count {
                guard try r.uint32() == 0x0201_4B50 else { throw bad("central directory entry \(i) has no signature") }
                try r.skip(6)
                let method = Int(try r.uint16())
                try r.skip(8)
                var compressed = Int(try r.uint32()), size = Int(try r.uint32())
                let nameLength = Int(try r.uint16()), extraLength = Int(try r.uint16()), commentLength = Int(try r.uint16())
                try r.skip(8)
                var local = Int(try r.uint32())
                let name = String(decoding: try r.raw(nameLength), as: UTF8.self)
                var extra = ByteReader(Data(try r.raw(extraLength)))
                try r.skip(commentLength)
                // ZIP64: the fields stored as 0xFFFFFFFF follow in extra field 0x0001, in this order.
                while extra.remaining >= 4 {
                    let tag = try extra.uint16(), length = Int(try extra.uint16())
                    guard tag == 1 else { try extra.skip(length); continue }
                    if size == 0xFFFF_FFFF { size = Int(clamping: try extra.uint64()) }
                    if compressed == 0xFFFF_FFFF { compressed = Int(clamping: try extra.uint64()) }
                    if local == 0xFFFF_FFFF { local = Int(clamping: try extra.uint64()) }
                    break
                }
                members.append(Member(name: name, method: method, compressedSize: compressed, size: size,
                                      dataOffset: try ZipArchive.dataStart(data, local: local, name: name, path: path)))
                guard members[i].dataOffset <= data.count, compressed <= data.count - members[i].dataOffset else {
                    throw bad("member \(name) (\(compressed) bytes at \(members[i].dataOffset)) runs past the end of the \(data.count)-byte file")
                }
            }
            self.members = members
        } catch is ByteReader.Truncated {
            throw bad("central directory cut off")
        }
    }

    /// The end-of-central-directory record: the last signature within the final 64 KiB + 22 bytes.
    private static func endOfCentralDirectory(_ data: Data, path: String) throws -> Int {
        let signature: [UInt8] = [0x50, 0x4B, 0x05, 0x06]
        guard data.count >= 22 else { throw MicroscopyIOError.corrupt(path: path, detail: "ZIP: \(data.count) bytes is too short") }
        let lowest = max(0, data.count - 22 - 0xFFFF)
        for start in stride(from: data.count - 22, through: lowest, by: -1)
        where data[data.startIndex + start] == 0x50 && data[data.startIndex + start ..< data.startIndex + start + 4].elementsEqual(signature) {
            return start
        }
        throw MicroscopyIOError.corrupt(path: path, detail: "ZIP: no end-of-central-directory record (not a zip, or truncated)")
    }

    /// Member count and directory offset from the ZIP64 end record its locator (just before `end`) points at.
    private static func zip64Directory(_ data: Data, end: Int, path: String) throws -> (Int, Int) {
        var r = ByteReader(data, at: end - 20)
        guard end >= 20, (try? r.uint32()) == 0x0706_4B50, (try? r.skip(4)) != nil, let at = try? r.uint64(), at < UInt64(data.count) else {
            throw MicroscopyIOError.corrupt(path: path, detail: "ZIP: ZIP64 locator missing")
        }
        r.offset = Int(at)
        guard (try? r.uint32()) == 0x0606_4B50, (try? r.skip(28)) != nil, let count = try? r.uint64(), (try? r.skip(8)) != nil,
              let offset = try? r.uint64() else {
            throw MicroscopyIOError.corrupt(path: path, detail: "ZIP: ZIP64 end record unreadable")
        }
        return (Int(clamping: count), Int(clamping: offset))
    }

    /// The first byte of a member's data: its local header is 30 bytes plus its own name and extra lengths.
    private static func dataStart(_ data: Data, local: Int, name: String, path: String) throws -> Int {
        var r = ByteReader(data, at: local)
        guard local >= 0, (try? r.uint32()) == 0x0403_4B50, (try? r.skip(22)) != nil,
              let n = try? r.uint16(), let e = try? r.uint16() else {
            throw MicroscopyIOError.corrupt(path: path, detail: "ZIP: member \(name) has no local header at \(local)")
        }
        return local + 30 + Int(n) + Int(e)
    }
}
