// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "Ferry",
    platforms: [.macOS(.v14)],
    products: [
        .library(name: "FerryProtocol", targets: ["FerryProtocol"]),
        .library(name: "FerryServer", targets: ["FerryServer"]),
        .library(name: "FerryClient", targets: ["FerryClient"]),
        // For Fuzz/ (a package of its own), whose netrc fuzzer needs it.
        .library(name: "FerryCLI", targets: ["FerryCLI"]),
        .executable(name: "ferryd", targets: ["ferryd"]),
        .executable(name: "ferry", targets: ["ferry"]),
        .executable(name: "ferry-bench", targets: ["ferry-bench"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-extras.git", from: "1.35.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-crypto.git", "3.12.3"..<"5.0.0"),
        .package(url: "https://github.com/apple/swift-certificates.git", from: "1.21.1"),
        .package(url: "https://github.com/apple/swift-asn1.git", from: "1.7.4"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/groue/GRDB.swift.git", from: "7.10.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift.git", from: "0.2.0"),
    ],
    targets: [
        // Pure protocol rules: command grammar, replies, listing formats, virtual paths. No I/O.
        .target(
            name: "FerryProtocol",
            dependencies: [
                .product(name: "NIOCore", package: "swift-nio")
            ]
        ),
        // Linux calls that the Glibc overlay does not expose (O_PATH, copy_file_range, openat2, malloc_trim).
        .target(name: "CFerrySystem"),
        // The system zlib, for its fast crc32() (zlib1g-dev).
        .systemLibrary(name: "CZlib"),
        // Checksums for HASH/XCRC/XSHA…: streaming digests and bounded-memory file hashing. Shared by server and client.
        .target(
            name: "FerryIntegrity",
            dependencies: [
                "FerryProtocol",
                "CZlib",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "NIOCore", package: "swift-nio"),
            ]
        ),
        // Event-loop glue shared by server and client: a task executor that runs on a NIO event loop.
        .target(
            name: "FerryNIO",
            dependencies: [
                .product(name: "NIOCore", package: "swift-nio")
            ]
        ),
        // TLS for FTPS: certificates (load, self-sign, fingerprint) and the NIOSSL contexts. Shared by server and client.
        .target(
            name: "FerryTLS",
            dependencies: [
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOTLS", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "SwiftASN1", package: "swift-asn1"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // The server: sessions, data connections, jailed file system, user store.
        .target(
            name: "FerryServer",
            dependencies: [
                "FerryProtocol",
                "FerryIntegrity",
                "FerryTLS",
                "FerryUsers",
                "FerryNIO",
                "CFerrySystem",
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOExtras", package: "swift-nio-extras"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "_CryptoExtras", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        // User accounts: the SQLite user store, password hashing and the authenticator.
        .target(
            name: "FerryUsers",
            dependencies: [
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "_CryptoExtras", package: "swift-crypto"),
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ]
        ),
        // The client library: FTP/FTPS sessions, verified transfers with resume and progress.
        .target(
            name: "FerryClient",
            dependencies: [
                "FerryProtocol",
                "FerryIntegrity",
                "FerryTLS",
                "FerryNIO",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOExtras", package: "swift-nio-extras"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // Command-line building blocks: progress rendering, terminal queries, no-echo passwords, ~/.netrc.
        .target(
            name: "FerryCLI",
            dependencies: ["FerryProtocol"]
        ),
        // `ferry`: the command-line client (thin: the work is in FerryClient and FerryCLI).
        .executableTarget(
            name: "ferry",
            dependencies: [
                "FerryClient",
                "FerryCLI",
                "FerryProtocol",
                "FerryTLS",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ]
        ),
        // The load generator behind `ferry-bench`: scenarios, latency histograms, server memory from /proc.
        .target(
            name: "FerryBench",
            dependencies: [
                "FerryClient",
                "FerryProtocol",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Histogram", package: "hdrhistogram-swift"),
            ]
        ),
        // `ferry-bench`: the benchmark command (thin: the work is in FerryBench).
        .executableTarget(
            name: "ferry-bench",
            dependencies: [
                "FerryBench",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .executableTarget(
            name: "ferryd",
            dependencies: [
                "FerryServer",
                "FerryProtocol",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            ]
        ),
        .testTarget(
            name: "FerryProtocolTests",
            dependencies: [
                "FerryProtocol",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOTestUtils", package: "swift-nio"),
            ]
        ),
        .testTarget(
            name: "FerryIntegrityTests",
            dependencies: [
                "FerryIntegrity",
                "FerryProtocol",
                .product(name: "NIOCore", package: "swift-nio"),
            ]
        ),
        .testTarget(
            name: "FerryTLSTests",
            dependencies: [
                "FerryTLS",
                "FerryTestSupport",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "X509", package: "swift-certificates"),
            ]
        ),
        .testTarget(
            name: "FerryBenchTests",
            dependencies: [
                "FerryBench",
                "FerryServer",
                "FerryTestSupport",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ]
        ),
        .testTarget(
            name: "FerryCLITests",
            dependencies: ["FerryCLI", "FerryProtocol"]
        ),
        .testTarget(
            name: "FerryUsersTests",
            dependencies: [
                "FerryUsers",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // Test support shared by the test targets: an in-process server on port 0, external client processes.
        .target(
            name: "FerryTestSupport",
            dependencies: [
                "FerryServer",
                "FerryUsers",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            path: "Tests/FerryTestSupport"
        ),
        .testTarget(
            name: "FerryClientTests",
            dependencies: [
                "FerryClient",
                // Its tests configure the server (`ServerConfiguration`): a direct dependency, so that the tests
                // are rebuilt when the configuration's layout changes.
                "FerryServer",
                "FerryTestSupport",
                "FerryProtocol",
                "FerryTLS",
                "FerryIntegrity",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ],
            // A hostile FTP server (Python) that the client's tests run as an external process.
            exclude: ["Servers"]
        ),
        .testTarget(
            name: "FerryServerTests",
            dependencies: [
                "FerryTestSupport",
                "FerryServer",
                "CFerrySystem",
                "FerryProtocol",
                "FerryUsers",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            // Client scenarios run by the tests as external processes (Python's ftplib).
            exclude: ["Clients"]
        ),
    ],
    swiftLanguageModes: [.v6]
)
