// swift-tools-version:6.0
import PackageDescription

// Layers point one way: executables -> roles (agent, aggregator) -> capabilities (netlink, capture, probing,
// alerting, kubernetes, configuration) -> RouteprobeSystem (system calls) -> RouteprobeCore (pure values).
// C is confined to the systemLibrary targets: only RouteprobeNetlink imports CMnl, only RouteprobeCapture
// CPcap, only RouteprobeSystem CLinux.
/// Release builds (the image, the benchmarks) link with lld, which packs the 125,000 relative relocations of a
/// position-independent binary into DT_RELR (3 MB of RELA the loader reads at every start become 24 kB), and
/// export no symbols: `-static-stdlib` exports every symbol of the program for dlsym, which routeprobe never
/// calls, and the loader walks that table at start. Needs glibc 2.36 at run time. With `orderFile`, the
/// functions the program runs (scripts/link-order.sh lists them) are laid out together: the kernel maps code
/// 64 kB around every page touched, and scattered they keep megabytes resident.
///
/// `positionIndependent: false` links a fixed-address executable: nothing to relocate at start, so the loader
/// neither applies 125,000 relocations nor copies the megabyte of metadata they touch (500 page faults per
/// run became 273; `routeprobe routes` 3.6 ms became 1.8 ms). The price is that the program's own code
/// and data lose address randomization (the libraries, heap and stacks keep it). Only `routeprobe`, the
/// short-lived command a person types, pays it for the start-up target of 3 ms; the two long-running,
/// network-facing roles stay position-independent.
func releaseLinkerSettings(orderFile: String?, positionIndependent: Bool = true) -> [LinkerSetting] {
    var flags = ["-use-ld=lld", "-Xlinker", "-z", "-Xlinker", "pack-relative-relocs", "-Xlinker", "--no-export-dynamic"]
    if !positionIndependent { flags += ["-Xlinker", "--no-pie"] }
    if let orderFile {
        flags += ["-Xlinker", "--symbol-ordering-file=\(Context.packageDirectory)/\(orderFile)", "-Xlinker", "--no-warn-symbol-ordering"]
    }
    return [.unsafeFlags(flags, .when(configuration: .release))]
}

let package = Package(
    name: "routeprobe",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "routeprobe", targets: ["routeprobe"]),
        .executable(name: "routeprobe-agent", targets: ["routeprobe-agent"]),
        .executable(name: "routeprobe-aggregator", targets: ["routeprobe-aggregator"]),
    ],
    dependencies: [
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
    ],
    targets: [
        .systemLibrary(name: "CMnl", pkgConfig: "libmnl", providers: [.apt(["libmnl-dev"])]),
        .systemLibrary(name: "CPcap", providers: [.apt(["libpcap-dev"])]),
        .systemLibrary(name: "CLinux"),
        .target(name: "RouteprobeCore"),
        .target(name: "RouteprobeSystem", dependencies: ["RouteprobeCore", "CLinux"]),
        .target(name: "RouteprobeNetlink", dependencies: ["RouteprobeCore", "RouteprobeSystem", "CMnl"]),
        .target(name: "RouteprobeCapture", dependencies: ["RouteprobeCore", "RouteprobeSystem", "CPcap"]),
        .target(name: "RouteprobeProbing", dependencies: ["RouteprobeCore", "RouteprobeSystem", "RouteprobeNetlink", "RouteprobeCapture"]),
        .target(name: "RouteprobeAlerting", dependencies: [
            "RouteprobeCore", "RouteprobeSystem",
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
        ]),
        // HTTPS clients and servers: trust, key pairs that rotate, transport errors said in words.
        .target(name: "RouteprobeHTTP", dependencies: [
            .product(name: "AsyncHTTPClient", package: "async-http-client"),
            .product(name: "NIOSSL", package: "swift-nio-ssl"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
        ]),
        .target(name: "RouteprobeAgent", dependencies: [
            "RouteprobeCore", "RouteprobeSystem", "RouteprobeNetlink", "RouteprobeCapture", "RouteprobeProbing", "RouteprobeAlerting", "RouteprobeConfiguration",
            "RouteprobeHTTP",
            .product(name: "Prometheus", package: "swift-prometheus"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            .product(name: "AsyncHTTPClient", package: "async-http-client"),
        ]),
        .target(name: "RouteprobeAggregator", dependencies: [
            "RouteprobeCore", "RouteprobeSystem", "RouteprobeAlerting", "RouteprobeConfiguration", "RouteprobeKubernetes", "RouteprobeHTTP",
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "HummingbirdTLS", package: "hummingbird"),
            .product(name: "HummingbirdCore", package: "hummingbird"),
            .product(name: "Prometheus", package: "swift-prometheus"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
        ]),
        .target(name: "RouteprobeKubernetes", dependencies: [
            "RouteprobeCore", "RouteprobeHTTP",
            .product(name: "AsyncHTTPClient", package: "async-http-client"),
            .product(name: "NIOSSL", package: "swift-nio-ssl"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOHTTP1", package: "swift-nio"),
            .product(name: "Yams", package: "Yams"),
        ]),
        .target(name: "RouteprobeConfiguration", dependencies: ["RouteprobeCore", "RouteprobeSystem", .product(name: "Yams", package: "Yams")]),
        .target(name: "RouteprobeCommandSupport", dependencies: ["RouteprobeCore", "RouteprobeSystem"]),
        // Three executables, one per role, so each carries only what it runs: `routeprobe` (the command
        // people type: probe, routes, route get, monitor, vpc-diff; it hands `agent`, `beacon` and
        // `aggregator` over to the other two), `routeprobe-agent` (agent, beacon) and `routeprobe-aggregator`.
        .executableTarget(
            name: "routeprobe",
            dependencies: [
                "RouteprobeCore", "RouteprobeSystem", "RouteprobeNetlink", "RouteprobeProbing", "RouteprobeConfiguration",
                "RouteprobeCommandSupport",
            ],
            linkerSettings: releaseLinkerSettings(orderFile: nil, positionIndependent: false)
        ),
        .executableTarget(
            name: "routeprobe-agent",
            dependencies: [
                "RouteprobeCore", "RouteprobeSystem", "RouteprobeProbing", "RouteprobeConfiguration", "RouteprobeAgent",
                "RouteprobeCommandSupport",
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
            ],
            exclude: ["link-order.txt"],
            linkerSettings: releaseLinkerSettings(orderFile: "Sources/routeprobe-agent/link-order.txt")
        ),
        .executableTarget(
            name: "routeprobe-aggregator",
            dependencies: [
                "RouteprobeCore", "RouteprobeSystem", "RouteprobeConfiguration", "RouteprobeAggregator", "RouteprobeKubernetes",
                "RouteprobeCommandSupport", "RouteprobeHTTP", "RouteprobeProbing",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
            ],
            linkerSettings: releaseLinkerSettings(orderFile: nil)
        ),
        // libFuzzer harnesses for every reader of outside input (scripts/fuzz.sh builds them with
        // -sanitize=fuzzer); a normal build makes a replayer: `routeprobe-fuzz HARNESS FILE...`.
        .executableTarget(
            name: "routeprobe-fuzz",
            dependencies: ["RouteprobeCore", "RouteprobeNetlink", "RouteprobeCapture", "RouteprobeConfiguration"]
        ),
        .target(name: "RouteprobeTestSupport", dependencies: ["RouteprobeCore", "RouteprobeCapture", "RouteprobeProbing"],
                path: "Tests/RouteprobeTestSupport"),
        .testTarget(name: "RouteprobeCoreTests", dependencies: ["RouteprobeCore", "RouteprobeTestSupport"], resources: [.copy("Fixtures")]),
        .testTarget(name: "RouteprobeCommandSupportTests", dependencies: ["RouteprobeCommandSupport"]),
        .testTarget(name: "RouteprobeSystemTests", dependencies: ["RouteprobeSystem", "RouteprobeCore", "RouteprobeTestSupport"]),
        .testTarget(name: "RouteprobeConfigurationTests", dependencies: ["RouteprobeConfiguration", "RouteprobeCore", "RouteprobeTestSupport",
                                                                      .product(name: "Yams", package: "Yams")],
                    resources: [.copy("Fixtures")]),
        .testTarget(name: "RouteprobeAgentTests", dependencies: ["RouteprobeAgent", "RouteprobeAlerting", "RouteprobeConfiguration",
                                                               "RouteprobeProbing", "RouteprobeCore", "RouteprobeTestSupport",
                                                               .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                                                               .product(name: "Logging", package: "swift-log")]),
        .testTarget(name: "RouteprobeKubernetesTests", dependencies: [
            "RouteprobeKubernetes", "RouteprobeCore", "RouteprobeTestSupport",
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "HummingbirdCore", package: "hummingbird"),
            .product(name: "HummingbirdTLS", package: "hummingbird"),
            .product(name: "NIOSSL", package: "swift-nio-ssl"),
            .product(name: "AsyncHTTPClient", package: "async-http-client"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            .product(name: "Logging", package: "swift-log"),
        ], resources: [.copy("Fixtures")]),
        .testTarget(name: "RouteprobeAggregatorTests", dependencies: ["RouteprobeAggregator", "RouteprobeCore", "RouteprobeKubernetes", "RouteprobeTestSupport"]),
        .testTarget(name: "RouteprobeAlertingTests", dependencies: ["RouteprobeAlerting", "RouteprobeCore", "RouteprobeSystem", "RouteprobeTestSupport"]),
        .testTarget(name: "RouteprobeProbingTests", dependencies: ["RouteprobeProbing", "RouteprobeCore", "RouteprobeSystem", "RouteprobeNetlink", "RouteprobeCapture", "RouteprobeConfiguration", "RouteprobeTestSupport"]),
        .testTarget(name: "RouteprobeCaptureTests", dependencies: ["RouteprobeCapture", "RouteprobeCore", "RouteprobeSystem"], resources: [.copy("Fixtures")]),
        .testTarget(
            name: "RouteprobeNetlinkTests",
            dependencies: ["RouteprobeNetlink", "RouteprobeCore", "RouteprobeSystem", "RouteprobeTestSupport"],
            resources: [.copy("Fixtures")]
        ),
    ],
    swiftLanguageModes: [.v6]
)
