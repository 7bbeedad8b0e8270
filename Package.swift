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
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
    ],
    targets: [
        // System libraries (Debian: libopenblas-dev, libpng-dev, libtiff-dev).
        .systemLibrary(name: "CBLAS", pkgConfig: "openblas", providers: [.apt(["libopenblas-dev"])]),
        .systemLibrary(name: "CTIFF", pkgConfig: "libtiff-4", providers: [.apt(["libtiff-dev"])]),
        .systemLibrary(name: "CPNG", pkgConfig: "libpng", providers: [.apt(["libpng-dev"])]),

        .target(name: "Tensors", dependencies: ["CBLAS"]),
        .target(name: "Networks", dependencies: ["Tensors"]),
        .target(name: "Simulation"),
        .target(name: "MicroscopyIO", dependencies: ["CPNG", "CTIFF"]),
        .target(name: "Localization"),
        .target(name: "DefectLibrary", dependencies: ["CBLAS"]),
        .target(name: "Tracking"),
        .target(name: "Dynamics"),
        .target(name: "Pipeline", dependencies: [
            "Tensors", "Networks", "Simulation", "MicroscopyIO", "Localization",
            "DefectLibrary", "Tracking", "Dynamics",
        ]),
        .executableTarget(name: "atomtrack", dependencies: [
            "Pipeline", "Tensors", "Networks", "Simulation", "MicroscopyIO", "Localization",
            "DefectLibrary", "Tracking", "Dynamics", "CBLAS",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),

        .testTarget(name: "TensorsTests", dependencies: ["Tensors"]),
        .testTarget(name: "NetworksTests", dependencies: ["Networks"], resources: [.copy("Fixtures")]),
        .testTarget(name: "SimulationTests", dependencies: ["Simulation"]),
        .testTarget(name: "MicroscopyIOTests", dependencies: ["MicroscopyIO"], exclude: ["Fixtures"]),
        .testTarget(name: "LocalizationTests", dependencies: ["Localization"]),
        .testTarget(name: "DefectLibraryTests", dependencies: ["DefectLibrary"], resources: [.copy("Fixtures")]),
        .testTarget(name: "TrackingTests", dependencies: ["Tracking"]),
        .testTarget(name: "DynamicsTests", dependencies: ["Dynamics"], resources: [.copy("Fixtures")]),
        .testTarget(name: "PipelineTests", dependencies: [
            "Pipeline", "Tensors", "Networks", "Simulation", "MicroscopyIO", "Localization", "Tracking", "Dynamics",
        ], resources: [.copy("Fixtures")]),
    ]
)
