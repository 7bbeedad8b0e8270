// swift-tools-version:6.0
import PackageDescription

// atomtrack-mpi: data-parallel training under MPI (`mpirun -n P atomtrack-mpi train …`).
// A package of its own, depending on AtomTrack by path, so that AtomTrack's default build and
// tests need no MPI. Needs MPICH (Debian: mpich libmpich-dev). Build: cd mpi && swift build -c release.
let package = Package(
    name: "AtomTrackMPI",
    platforms: [.macOS(.v13)],
    products: [.executable(name: "atomtrack-mpi", targets: ["atomtrack-mpi"])],
    dependencies: [
        .package(name: "AtomTrack", path: ".."),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
    ],
    targets: [
        // MPI through pkg-config's `mpich`; shim.h re-exports the handles Swift cannot import.
        .systemLibrary(name: "CMPI", pkgConfig: "mpich", providers: [.apt(["libmpich-dev"])]),
        .executableTarget(name: "atomtrack-mpi", dependencies: [
            "CMPI", .product(name: "AtomTrack", package: "AtomTrack"),
            .product(name: "AtomTrackCommandLineOptions", package: "AtomTrack"),
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
    ]
)
