import Foundation

/// A one-line input problem naming the file (the CLI prints it after `atomtrack: error:`).
public struct InputError: Error, CustomStringConvertible, Sendable {
    public let description: String
    public init(_ d: String) { description = d }

    /// Refuses a setting unless `ok`, naming it: "NAME VALUE is invalid: EXPECTED". Every
    /// settings check uses it, so the refusals of all commands read alike.
    public static func require(_ ok: Bool, _ name: String, _ value: Any, _ expected: String) throws {
        guard ok else { throw InputError("\(name) \(value) is invalid: \(expected)") }
    }
}

/// A table's header, naming its file in the errors (also for a table streamed row by row).
public struct CSVColumns: Sendable {
    public let header: [String]
    public let path: String

    public init(header: [String], path: String) { self.header = header; self.path = path }

    /// The index of a column, or an error naming the file and the missing column.
    public func column(_ name: String) throws -> Int {
        guard let i = header.firstIndex(of: name) else { throw InputError("\(path): no column '\(name)'") }
        return i
    }

    /// The index of the first of `names` present (aliases such as `track` / `particle`), or nil.
    public func column(anyOf names: [String]) -> Int? { names.lazy.compactMap { header.firstIndex(of: $0) }.first }
}

/// A CSV table read whole: a header row, then rows of the same width. Fields may be quoted
/// (RFC 4180: `"a,b"`, `""` for a quote); CRLF line ends and blank lines are accepted.
public struct CSVTable: Sendable {
    public let header: [String]
    public let rows: [[String]]
    /// The file it came from (named in every error).
    public let path: String

    public init(url: URL) throws {
        guard let text = try? String(contentsOf: url, encoding: .utf8) else { throw InputError("\(url.path): cannot read") }
        try self.init(text: text, path: url.path)
    }

    public init(text: String, path: String) throws {
        self.path = path
        var rows: [[String]] = []
        var data: Data? = Data(text.utf8)
        header = try CSVTable.checkedRows(path: path, next: { defer { data = nil }; return data }) { _, _, fields in rows.append(fields) }
        self.rows = rows
    }

    /// The index of a column, or an error naming the file and the missing column.
    public func column(_ name: String) throws -> Int { try CSVColumns(header: header, path: path).column(name) }

    /// The index of the first of `names` present (aliases such as `track` / `particle`), or nil.
    public func column(anyOf names: [String]) -> Int? { CSVColumns(header: header, path: path).column(anyOf: names) }

    /// One CSV line for `fields`, quoting a field only where it holds a comma, quote or line break.
    public static func line(_ fields: [String]) -> String {
        fields.map { f in
            f.contains(where: { $0 == "," || $0 == "\"" || $0.isNewline })
                ? "\"" + f.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : f
        }.joined(separator: ",")
    }

    /// Calls `body` with each row of the file after the header (its line number and fields), reading
    /// 4 MiB at a time, so a table of gigabytes is never held (atoms.csv of a long movie). Returns
    /// the header. The same checks as reading the table whole. (`chunkBytes` is for the tests.)
    @discardableResult
    public static func forEachRow(in url: URL, chunkBytes: Int = 1 << 22, _ body: (_ header: [String], _ line: Int, _ fields: [String]) throws -> Void) throws -> [String] {
        guard let handle = FileHandle(forReadingAtPath: url.path) else { throw InputError("\(url.path): cannot read") }
        defer { try? handle.close() }
        return try checkedRows(path: url.path, next: {
            do { return try handle.read(upToCount: chunkBytes) } catch { throw InputError("\(url.path): cannot read") }
        }, body)
    }

    /// The records of the bytes `next` hands over piece by piece (nil or empty at the end): the
    /// first is the header, the others are checked against its width and handed to `body` (the
    /// one reading of a table, whole or streamed). Returns the header.
    static func checkedRows(path: String, next: () throws -> Data?,
                            _ body: (_ header: [String], _ line: Int, _ fields: [String]) throws -> Void) throws -> [String] {
        var parser = RecordParser(path: path)
        var header: [String]?
        func take(_ line: Int, _ fields: [String]) throws {
            guard let names = header else { header = fields; return }
            guard fields.count == names.count else {
                throw InputError("\(path): line \(line) has \(fields.count) fields, the header has \(names.count)")
            }
            try body(names, line, fields)
        }
        while let chunk = try next(), !chunk.isEmpty {
            try chunk.withUnsafeBytes { try parser.feed($0, take) }
        }
        try parser.finish(take)
        guard let header else { throw InputError("\(path): empty table") }
        return header
    }

    /// The record splitter, fed bytes in pieces (a whole text, or a file chunk by chunk). Works
    /// on UTF-8 bytes (a Character loop is several times slower on big tables).
    struct RecordParser {
        let path: String
        var fields: [String] = [], field: [UInt8] = []
        var quoted = false, afterQuote = false, sawSeparator = false
        var line = 1, recordLine = 1, previous: UInt8 = 0

        init(path: String) { self.path = path }

        mutating func feed<Bytes: Sequence<UInt8>>(_ bytes: Bytes, _ emit: (Int, [String]) throws -> Void) throws {
            for b in bytes {
                defer { previous = b }
                if quoted {
                    if b == 0x22 { quoted = false; afterQuote = true } else { field.append(b); if b == 0x0A { line += 1 } }
                    continue
                }
                switch b {
                case 0x22 where afterQuote: field.append(b); quoted = true; afterQuote = false   // "" inside quotes
                case 0x22 where field.isEmpty: quoted = true; sawSeparator = true
                case 0x2C: endField(); sawSeparator = true
                case 0x0A where previous == 0x0D: break                                          // CRLF: ended at CR
                case 0x0A, 0x0D: try endRecord(emit); line += 1; recordLine = line
                default:
                    if afterQuote { throw InputError("\(path): line \(line): text after a closing quote") }
                    field.append(b)
                }
            }
        }

        /// Ends the last record (a file need not end in a line break).
        mutating func finish(_ emit: (Int, [String]) throws -> Void) throws {
            if quoted { throw InputError("\(path): line \(recordLine): unterminated quoted field") }
            if !field.isEmpty || !fields.isEmpty || sawSeparator { try endRecord(emit) }
        }

        private mutating func endField() { fields.append(String(decoding: field, as: UTF8.self)); field.removeAll(keepingCapacity: true); afterQuote = false }

        private mutating func endRecord(_ emit: (Int, [String]) throws -> Void) throws {
            endField()
            if sawSeparator || !(fields.count == 1 && fields[0].isEmpty) { try emit(recordLine, fields) }
            fields = []; sawSeparator = false
        }
    }
}
