import MicroscopyIO

/// Streams frames into TIFF stacks: `body` appends them, then every stack is finished; on any
/// error every stack is cancelled, so a failed run leaves no half-written stack behind.
func writingStacks<T>(_ stacks: [TIFFStackWriter], _ body: () throws -> T) throws -> T {
    do {
        let result = try body()
        for s in stacks { try s.finish() }
        return result
    } catch {
        stacks.forEach { $0.cancel() }
        throw error
    }
}
