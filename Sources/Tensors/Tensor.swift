import CBLAS
import Core
import Foundation

/// A contiguous Float32 tensor in NCHW order (row-major, the last index fastest).
///
/// Value semantics through Swift's copy-on-write array: passing a tensor around never
/// copies; mutating a shared one copies once. Kernels reach the storage through
/// `withUnsafeBufferPointer` / `withUnsafeMutableBufferPointer`, so hot loops do no copying.
public struct Tensor: Equatable, Sendable {
    /// Extent of every dimension, outermost first (e.g. `[N, C, H, W]`).
    public private(set) var shape: [Int]
    /// The elements in row-major order; `data.count == shape.reduce(1, *)`.
    public var data: [Float]

    /// A tensor of `shape` filled with `value`.
    public init(shape: [Int], repeating value: Float = 0) {
        precondition(shape.allSatisfy { $0 >= 0 }, "negative extent in \(shape)")
        self.shape = shape
        self.data = [Float](repeating: value, count: shape.reduce(1, *))
    }

    /// A tensor of `shape` holding `data` (row-major). Throws if the counts disagree.
    public init(shape: [Int], data: [Float]) throws {
        guard shape.allSatisfy({ $0 >= 0 }), shape.reduce(1, *) == data.count else {
            throw TensorError.shapeMismatch("shape \(shape) needs \(shape.reduce(1, *)) elements, got \(data.count)")
        }
        self.shape = shape
        self.data = data
    }

    /// Unchecked initialiser for kernels that build shape and data together.
    init(uncheckedShape shape: [Int], data: [Float]) {
        self.shape = shape
        self.data = data
    }

    /// A tensor whose elements the caller overwrites, every one, before reading any (kernels
    /// that write their whole output skip the zero fill).
    init(uninitializedShape shape: [Int]) {
        self.shape = shape
        self.data = [Float](unsafeUninitializedCapacity: shape.reduce(1, *)) { _, count in count = shape.reduce(1, *) }
    }

    /// Number of elements.
    public var count: Int { data.count }
    /// Number of dimensions.
    public var rank: Int { shape.count }

    /// The same elements seen with another shape of equal element count.
    public func reshaped(_ newShape: [Int]) throws -> Tensor {
        try Tensor(shape: newShape, data: data)
    }

    /// `[N, C, H, W]` of a rank-4 tensor.
    public var nchw: (n: Int, c: Int, h: Int, w: Int) {
        precondition(shape.count == 4, "expected an NCHW tensor, got shape \(shape)")
        return (shape[0], shape[1], shape[2], shape[3])
    }

    /// Random normal entries (Box–Muller) from a seeded generator.
    public static func randomNormal(shape: [Int], std: Float = 1, generator: inout SeededGenerator) -> Tensor {
        var t = Tensor(shape: shape)
        for i in 0..<t.count { t.data[i] = std * generator.normalFloat() }
        return t
    }

    /// Random uniform entries in `range` from a seeded generator.
    public static func randomUniform(shape: [Int], in range: ClosedRange<Float>, generator: inout SeededGenerator) -> Tensor {
        var t = Tensor(shape: shape)
        let span = range.upperBound - range.lowerBound
        for i in 0..<t.count { t.data[i] = range.lowerBound + span * generator.uniformFloat() }
        return t
    }

    /// In place `self += other` (same shape).
    public mutating func add(_ other: Tensor) {
        precondition(shape == other.shape, "add: shapes \(shape) and \(other.shape) differ")
        let n = Int32(count)
        data.withUnsafeMutableBufferPointer { y in
            other.data.withUnsafeBufferPointer { x in cblas_saxpy(n, 1, x.baseAddress, 1, y.baseAddress, 1) }
        }
    }

    /// Sets every element to zero without reallocating.
    public mutating func zero() {
        data.withUnsafeMutableBufferPointer { p in
            guard let base = p.baseAddress else { return }
            base.update(repeating: 0, count: p.count)
        }
    }

    /// The sum of all elements (accumulated in Double).
    public func sum() -> Double {
        data.withUnsafeBufferPointer { p in p.reduce(0.0) { $0 + Double($1) } }
    }
}

/// Errors from tensor construction and kernels fed inconsistent shapes.
public enum TensorError: Error, CustomStringConvertible, Equatable {
    case shapeMismatch(String)

    public var description: String {
        switch self {
        case .shapeMismatch(let what): return "tensor shape mismatch: \(what)"
        }
    }
}

/// Process-wide memory tuning for training and inference on large images.
public enum MemoryTuning {
    /// Keeps freed memory in the heap instead of returning it to the kernel, so the large
    /// tensors a training step allocates and frees are recycled without fresh page faults
    /// (glibc otherwise serves blocks ≥ 32 MiB with mmap and unmaps them on free). Call
    /// once at start-up; it trades a higher resident size for speed. No-op off glibc.
    public static func recycleLargeAllocations() {
        #if canImport(Glibc)
        _ = glibcMallopt(-4, 0)             // M_MMAP_MAX: never serve blocks with mmap
        _ = glibcMallopt(-1, Int32.max)     // M_TRIM_THRESHOLD: never give the heap top back
        // M_ARENA_MAX: one heap for every thread. A frame located on a second thread
        // (`MovieLocator`) would otherwise get its own arena, whose heaps glibc shrinks and
        // page-faults back in every frame, and a second copy of the activations' memory.
        _ = glibcMallopt(-8, 1)
        #endif
    }
}

#if canImport(Glibc)
/// glibc's `mallopt` (malloc.h is not part of the Glibc module).
@_silgen_name("mallopt") private func glibcMallopt(_ param: Int32, _ value: Int32) -> Int32
#endif

/// OpenBLAS thread control (BLAS threads are process-wide).
///
/// Every forward convolution runs its GEMMs with OpenBLAS on one thread and takes the cores with
/// its own band loop (`withOneThread`): OpenBLAS's threaded sgemm splits C between its threads, and
/// with the Haswell/Zen kernels an element's sum depends on that split, so the same frame gave
/// scores that differed in the 4th decimal between `--threads 1` and 2, and from run to run while
/// two frames in flight changed each other's thread count (AMD EPYC, OPENBLAS_CORETYPE=Haswell).
public enum BLASThreads {
    private static let lock = NSLock()
    nonisolated(unsafe) private static var oneThreadDepth = 0
    nonisolated(unsafe) private static var restoreTo = 1

    /// Sets the number of OpenBLAS threads used outside `withOneThread` (training's backward GEMMs).
    public static func set(_ n: Int) {
        lock.lock(); defer { lock.unlock() }
        if oneThreadDepth > 0 { restoreTo = max(1, n) } else { openblas_set_num_threads(Int32(max(1, n))) }
    }

    /// Runs `body` with OpenBLAS on one thread. Counted across threads: the count is restored only
    /// when the last caller leaves, so concurrent callers (two frames in flight) never see it change.
    public static func withOneThread<T>(_ body: () throws -> T) rethrows -> T {
        lock.lock()
        if oneThreadDepth == 0 {
            restoreTo = Int(openblas_get_num_threads())
            if restoreTo > 1 { openblas_set_num_threads(1) }
        }
        oneThreadDepth += 1
        lock.unlock()
        defer {
            lock.lock()
            oneThreadDepth -= 1
            if oneThreadDepth == 0, restoreTo > 1 { openblas_set_num_threads(Int32(restoreTo)) }
            lock.unlock()
        }
        return try body()
    }
    /// The number of threads OpenBLAS currently uses.
    public static var current: Int { Int(openblas_get_num_threads()) }
    /// The OpenBLAS kernel family in use (e.g. "Haswell", "SkylakeX").
    public static var coreName: String {
        guard let p = openblas_get_corename() else { return "unknown" }
        return String(cString: p)
    }
}
