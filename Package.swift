// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "pgkeep",
    // Linux only (glibc): see ARCHITECTURE.md, "Linux only".
    products: [
        .executable(name: "pgkeep", targets: ["pgkeep"]),
        .library(name: "PGKeep", targets: ["PGKeep"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
        // The daemon's HTTP endpoints (/healthz, /metrics, the status page): see ARCHITECTURE.md.
        .package(url: "https://github.com/swhitty/FlyingFox", from: "0.27.1"),
    ],
    targets: [
        .systemLibrary(name: "CZlib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"])]),
        // libdeflate: the default gzip path's compressor and pgkeep's own members' decompressor.
        .systemLibrary(name: "CDeflate", pkgConfig: "libdeflate", providers: [.apt(["libdeflate-dev"])]),
        .systemLibrary(name: "CZstd", pkgConfig: "libzstd", providers: [.apt(["libzstd-dev"])]),
        .systemLibrary(name: "CLibPQ", pkgConfig: "libpq", providers: [.apt(["libpq-dev"])]),
        // glibc calls Swift's Glibc module does not export (pipe2, addclosefrom_np, memmem, memrchr).
        .target(name: "CPGKeep"),
        .target(
            name: "PGKeep",
            dependencies: [
                "CZlib", "CDeflate", "CZstd", "CLibPQ", "CPGKeep",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "FlyingFox", package: "FlyingFox"),
            ]
        ),
        .target(
            name: "PGKeepCLI",
            dependencies: [
                "PGKeep",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .executableTarget(name: "pgkeep", dependencies: ["PGKeepCLI", "PGKeep"]),
        .testTarget(name: "PGKeepTests", dependencies: ["PGKeep"]),
        .testTarget(
            name: "PGKeepCLITests",
            dependencies: [
                "PGKeep", "PGKeepCLI",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .testTarget(name: "PGKeepIntegrationTests", dependencies: ["PGKeep"]),
    ],
    swiftLanguageModes: [.v6]
)
