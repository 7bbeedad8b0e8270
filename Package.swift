// swift-tools-version:6.0
import PackageDescription

// The data flow (docs/ARCHITECTURE.md): IO → Tensors/Networks → Localization →
// DefectLibrary → Tracking → Dynamics, wired together by Pipeline, driven by `atomtrack`.
let package = Package(
    name: "AtomTrack",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "atomtrack", targets: ["atomtrack"]),
        .library(name: "AtomTrack", targets: ["Pipeline"]),
        .library(name: "AtomTrackCommandLineOptions", targets: ["CommandLineOptions"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
    ],
    targets: [
        // System libraries (Debian: libopenblas-dev, libpng-dev, libtiff-dev, libhdf5-dev).
        .systemLibrary(name: "CBLAS", pkgConfig: "openblas", providers: [.apt(["libopenblas-dev"])]),
        .systemLibrary(name: "CTIFF", pkgConfig: "libtiff-4", providers: [.apt(["libtiff-dev"])]),
        .systemLibrary(name: "CPNG", pkgConfig: "libpng", providers: [.apt(["libpng-dev"])]),
        .systemLibrary(name: "CHDF5", pkgConfig: "hdf5-serial", providers: [.apt(["libhdf5-dev"])]),

        // The shared core: seeded generator, parallel loops, order statistics, assignment and
        // point matching, CSV tables, byte readers, calibration. Everything else builds on it.
        .target(name: "Core"),

        .target(name: "Tensors", dependencies: ["Core", "CBLAS"]),
        .target(name: "Networks", dependencies: ["Core", "Tensors"]),
        .target(name: "Simulation", dependencies: ["Core"]),
        .target(name: "MicroscopyIO", dependencies: ["Core", "CPNG", "CTIFF", "CHDF5"]),
        .target(name: "Localization", dependencies: ["Core"]),
        .target(name: "DefectLibrary", dependencies: ["Core", "CBLAS"]),
        .target(name: "Tracking", dependencies: ["Core"]),
        // Bragg peaks, periodic reconstruction, lattice-site defects, labels and voids from a frame itself.
        .target(name: "FourierLattice", dependencies: ["Core", "Simulation"]),
        .target(name: "Dynamics", dependencies: ["Core", "CBLAS"]),
        .target(name: "Pipeline", dependencies: [
            "Core", "Tensors", "Networks", "Simulation", "MicroscopyIO", "Localization",
            "DefectLibrary", "Tracking", "Dynamics", "FourierLattice",
        ]),
        // Option groups shared by `atomtrack` and the separate `atomtrack-mpi` package (mpi/).
        .target(name: "CommandLineOptions", dependencies: [
            "Pipeline", .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        // The commands reach the modules through Pipeline; the lower modules (and CBLAS) are
        // here for the benchmarks (Bench/), which time the kernels themselves.
        .executableTarget(name: "atomtrack", dependencies: [
            "Core", "Pipeline", "CommandLineOptions", "Tensors", "Networks", "Localization", "DefectLibrary", "Tracking", "Dynamics", "CBLAS", "MicroscopyIO",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),

        .testTarget(name: "CoreTests", dependencies: ["Core"]),
        .testTarget(name: "TensorsTests", dependencies: ["Core", "Tensors"]),
        .testTarget(name: "NetworksTests", dependencies: ["Core", "Networks"], resources: [.copy("Fixtures")]),
        .testTarget(name: "SimulationTests", dependencies: ["Core", "Simulation"]),
        .testTarget(name: "MicroscopyIOTests", dependencies: ["Core", "MicroscopyIO"], exclude: ["Fixtures"]),
        .testTarget(name: "LocalizationTests", dependencies: ["Core", "Localization"]),
        .testTarget(name: "DefectLibraryTests", dependencies: ["Core", "DefectLibrary"], resources: [.copy("Fixtures")]),
        .testTarget(name: "FourierLatticeTests", dependencies: ["Core", "Simulation", "FourierLattice"]),
        .testTarget(name: "TrackingTests", dependencies: ["Core", "Tracking"]),
        .testTarget(name: "DynamicsTests", dependencies: ["Core", "Dynamics"], resources: [.copy("Fixtures")]),
        .testTarget(name: "PipelineTests", dependencies: [
            "Core", "Pipeline", "CommandLineOptions", "Tensors", "Networks", "Simulation", "MicroscopyIO", "Localization", "Tracking", "Dynamics",
        ], resources: [.copy("Fixtures")]),
    ]
)
