// swift-tools-version:6.0
import PackageDescription

// Targets and their dependencies are drawn in docs/architecture.md.
let package = Package(
    name: "nfx",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "nfx", targets: ["nfx"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    ],
    targets: [
        // C libraries, each imported by exactly one Swift module.
        .systemLibrary(name: "CHDF5", pkgConfig: "hdf5-serial",
                       providers: [.apt(["libhdf5-dev"])]),
        .systemLibrary(name: "COpenBLAS", pkgConfig: "openblas",
                       providers: [.apt(["libopenblas-dev", "liblapacke-dev"])]),

        // The convolution kernel, in C for AVX2/FMA with a run-time CPU check (see kernels.c).
        .target(name: "CKernels", cSettings: [.unsafeFlags(["-O3"])]),

        // Foundations.
        .target(name: "NFXCore"),
        .target(name: "HDF5Kit", dependencies: ["CHDF5", "NFXCore"]),
        .target(name: "LinearAlgebra", dependencies: ["COpenBLAS", "NFXCore"]),
        .target(name: "NFXIO", dependencies: ["HDF5Kit", "NFXCore"]),

        // Analyses.
        .target(name: "FixedPoints", dependencies: ["NFXCore", "LinearAlgebra", "CKernels"]),
        .target(name: "Deconvolution", dependencies: ["NFXCore", "CKernels"]),
        .target(name: "Factorization", dependencies: ["NFXCore", "LinearAlgebra"]),
        // Optimised in debug builds too: its convolution loops run ~30× slower unoptimised, which would make the
        // dictionary-learning tests take minutes.
        .target(name: "SparseCoding", dependencies: ["NFXCore", "LinearAlgebra", "CKernels"],
                swiftSettings: [.unsafeFlags(["-O"])]),
        .target(name: "TensorDecomposition", dependencies: ["NFXCore", "LinearAlgebra", "Factorization", "CKernels"]),
        // Optimised in debug builds too, for the same reason as SparseCoding (filters and peak scans over whole
        // recordings).
        .target(name: "SpikeSorting", dependencies: ["NFXCore", "LinearAlgebra", "SparseCoding"],
                swiftSettings: [.unsafeFlags(["-O"])]),
        .target(name: "Simulation", dependencies: ["NFXCore", "LinearAlgebra", "FixedPoints"]),

        // The command-line tool: argument parsing, input, output; no algorithms.
        .executableTarget(name: "nfx", dependencies: [
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            "NFXCore", "HDF5Kit", "LinearAlgebra", "NFXIO", "Simulation", "FixedPoints", "Deconvolution",
            "Factorization", "TensorDecomposition", "SparseCoding", "SpikeSorting", "CKernels",
        ]),
        // Measures the machine's floors (DGEMM, memory bandwidth, HDF5 I/O) for `make bench`.
        .executableTarget(name: "nfx-bench", dependencies: ["NFXCore", "HDF5Kit", "LinearAlgebra", "NFXIO",
                                                            "Deconvolution", "Factorization", "TensorDecomposition",
                                                            "CKernels"],
                          path: "Sources/nfx-bench"),

        .testTarget(name: "NFXCoreTests", dependencies: ["NFXCore"], resources: [.copy("Fixtures")]),
        .testTarget(name: "HDF5KitTests", dependencies: ["HDF5Kit", "NFXCore"],
                    resources: [.copy("Fixtures")]),
        .testTarget(name: "LinearAlgebraTests", dependencies: ["LinearAlgebra"]),
        .testTarget(name: "NFXIOTests", dependencies: ["NFXIO", "HDF5Kit", "NFXCore"]),
        .testTarget(name: "FixedPointsTests", dependencies: ["FixedPoints", "LinearAlgebra", "NFXCore", "HDF5Kit",
                                                              "CKernels"],
                    resources: [.copy("Fixtures")]),
        .testTarget(name: "DeconvolutionTests", dependencies: ["Deconvolution", "Simulation", "NFXCore"],
                    resources: [.copy("Fixtures")]),
        .testTarget(name: "FactorizationTests", dependencies: ["Factorization", "Simulation", "LinearAlgebra",
                                                                "NFXCore"]),
        .testTarget(name: "TensorDecompositionTests", dependencies: ["TensorDecomposition", "Factorization",
                                                                      "Simulation", "LinearAlgebra", "NFXCore",
                                                                      "CKernels"],
                    resources: [.copy("Fixtures")]),
        .testTarget(name: "SparseCodingTests", dependencies: ["SparseCoding", "Simulation", "LinearAlgebra", "NFXCore",
                                                              "CKernels"],
                    resources: [.copy("Fixtures")]),
        .testTarget(name: "SpikeSortingTests", dependencies: ["SpikeSorting", "SparseCoding", "Simulation",
                                                              "LinearAlgebra", "NFXCore"],
                    resources: [.copy("Fixtures")]),
        .testTarget(name: "SimulationTests", dependencies: ["Simulation", "LinearAlgebra", "NFXCore", "FixedPoints"]),
        .testTarget(name: "nfxTests", dependencies: ["nfx", "HDF5Kit", "NFXCore"]),
    ]
)
