// swift-tools-version:6.0
import PackageDescription

// libFuzzer targets for every parser that reads bytes from the network (see README.md, "Fuzzing").
//
// A package of its own, so that the root package's `swift build` and `swift test` never see the sanitizer flags.
// Build and run with `Fuzz/run.sh`, which passes `-sanitize=fuzzer,address`.
let fuzzers: [(name: String, products: [String])] = [
    ("FuzzLineDecoder", ["FerryProtocol"]),
    ("FuzzCommand", ["FerryProtocol"]),
    ("FuzzHostPort", ["FerryProtocol"]),
    ("FuzzReplyParser", ["FerryProtocol"]),
    ("FuzzListing", ["FerryProtocol"]),
    ("FuzzVirtualPath", ["FerryProtocol"]),
    ("FuzzArguments", ["FerryProtocol"]),
    ("FuzzASCII", ["FerryProtocol"]),
    ("FuzzNetRC", ["FerryCLI"]),
]

let package = Package(
    name: "FerryFuzz",
    dependencies: [
        .package(name: "Ferry", path: "..")
    ],
    targets: [
        // libFuzzer's driver entry point, declared for Swift.
        .target(name: "CFuzzDriver"),
        // What every fuzzer shares: the entry point, the invariant check, a reader that splits the input.
        .target(name: "FuzzSupport", dependencies: ["CFuzzDriver"]),
    ]
        + fuzzers.map { fuzzer in
            .executableTarget(
                name: fuzzer.name,
                dependencies: ["FuzzSupport"] + fuzzer.products.map { .product(name: $0, package: "Ferry") }
            )
        },
    swiftLanguageModes: [.v6]
)
