// swift-tools-version: 6.0
// fusebench: a benchmarking and crash-injection harness for FUSE servers.
import PackageDescription

let package = Package(
    name: "fusebench",
    products: [
        .executable(name: "fusebench", targets: ["fusebench"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift", from: "0.2.0"),
    ],
    targets: [
        // libfuse3 itself, found through pkg-config.
        .systemLibrary(
            name: "CFuse3",
            pkgConfig: "fuse3",
            providers: [.apt(["libfuse3-dev"])]
        ),
        // Thin C shim: macros, variadic calls, flexible-array structs and
        // shared-memory atomics that Swift cannot reach directly.
        .target(name: "CFuseShim", dependencies: ["CFuse3"], linkerSettings: [.linkedLibrary("uring")]),
        // What the harness and the server share: opcodes, server options,
        // the stats region, the intent log, the journal, keeper messages,
        // the launch description and the FUSEBENCH_* settings.
        .target(name: "Contract", dependencies: ["CFuseShim", "ResultModel"]),
        // The reference passthrough server on libfuse's low-level API.
        .target(name: "FuseServer", dependencies: ["CFuseShim", "Contract", "ResultModel"]),
        // Versioned result documents, statistics and comparisons: plain
        // Swift, no C.
        .target(name: "ResultModel", dependencies: [
            .product(name: "Histogram", package: "hdrhistogram-swift"),
        ]),
        // Workload files and the load generator that drives a mount.
        .target(name: "LoadGen", dependencies: [
            "CFuseShim", "Contract", "ResultModel",
            .product(name: "Histogram", package: "hdrhistogram-swift"),
        ]),
        // Workload files: parsing, units, the load, server options, faults,
        // hazard scenarios and restart strategies.
        .target(name: "Workload", dependencies: ["Contract", "LoadGen", "ResultModel"]),
        // Mount namespace, mounting, server processes, scratch space, runs.
        .target(name: "Supervisor", dependencies: ["CFuseShim", "Contract", "FuseServer", "LoadGen", "ResultModel",
                                                   "Workload"]),
        // The command-line tool.
        .executableTarget(name: "fusebench", dependencies: [
            "Supervisor", "Contract", "FuseServer", "LoadGen", "ResultModel", "Workload",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        // Helpers for tests: isolation checks, fixtures, running the binary.
        .target(name: "TestSupport", dependencies: ["Supervisor", "Contract", "FuseServer", "ResultModel", "Workload"],
                path: "Tests/TestSupport"),
        .testTarget(name: "ResultModelTests", dependencies: ["ResultModel"]),
        .testTarget(name: "ContractTests", dependencies: ["Contract", "CFuseShim", "ResultModel",
                                                          .product(name: "Histogram", package: "hdrhistogram-swift")]),
        .testTarget(name: "LoadGenTests", dependencies: ["LoadGen", "Contract", "ResultModel", "TestSupport"]),
        .testTarget(name: "WorkloadTests", dependencies: ["Workload", "Contract", "LoadGen", "ResultModel", "TestSupport"]),
        .testTarget(name: "FuseServerTests",
                    dependencies: ["FuseServer", "Contract", "Supervisor", "CFuseShim", "ResultModel", "TestSupport"]),
        .testTarget(name: "SupervisorTests", dependencies: ["Supervisor", "Contract", "LoadGen", "ResultModel", "TestSupport",
                                                             "Workload"]),
        .testTarget(name: "CLITests", dependencies: ["ResultModel", "Contract", "TestSupport"]),
    ]
)
