// swift-tools-version:6.1
import PackageDescription

let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
]

/// A service is a library of its logic (importable by tests) plus a thin executable.
func service(_ name: String, product: String, dependencies: [Target.Dependency]) -> [Target] {
    [
        .target(
            name: name,
            dependencies: dependencies,
            path: "Services/\(name)/Library",
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "\(name)Main",
            dependencies: [.byName(name: name), "CobrowseBroker", "ServiceKit"],
            path: "Services/\(name)/Main",
            swiftSettings: swiftSettings
        ),
    ]
}

let serviceDependencies: [Target.Dependency] = [
    "AMQP", "CobrowseProtocol", "CobrowseBroker", "ServiceKit",
    .product(name: "Logging", package: "swift-log"),
]

let package = Package(
    name: "cobrowse",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "session-registry", targets: ["SessionRegistryMain"]),
        .executable(name: "dom-relay", targets: ["DOMRelayMain"]),
        .executable(name: "masking-filter", targets: ["MaskingFilterMain"]),
        .executable(name: "interaction-watch", targets: ["InteractionWatchMain"]),
        .executable(name: "cobrowse-ctl", targets: ["CobrowseCtlMain"]),
        .executable(name: "amqp-bench", targets: ["AMQPBench"]),
        .executable(name: "live-bench", targets: ["LiveBench"]),
        .executable(name: "report-bench", targets: ["ReportBench"]),
        .library(name: "AMQP", targets: ["AMQP"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/hummingbird-project/hummingbird-websocket.git", from: "2.8.1"),
        .package(url: "https://github.com/vapor/postgres-nio.git", from: "1.33.2"),
        .package(url: "https://github.com/vapor/jwt-kit.git", from: "5.8.0"),
        .package(url: "https://github.com/apple/swift-crypto.git", "4.5.2"..<"5.0.0"),
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
    ],
    targets: [
        // rabbitmq-c, found through pkg-config; Debian/Ubuntu ship it as librabbitmq-dev.
        .systemLibrary(
            name: "CRabbitMQ",
            path: "Shared/CRabbitMQ",
            pkgConfig: "librabbitmq",
            providers: [.apt(["librabbitmq-dev"])]
        ),
        // SQLCipher, the registry's encrypted SQLite: Debian ships it as libsqlcipher-dev.
        .systemLibrary(
            name: "CSQLCipher",
            path: "Shared/CSQLCipher",
            pkgConfig: "sqlcipher",
            providers: [.apt(["libsqlcipher-dev"])]
        ),
        // The few rabbitmq-c calls Swift cannot make itself (variadic amqp_login).
        .target(name: "CRabbitMQShim", dependencies: ["CRabbitMQ"], path: "Shared/CRabbitMQShim"),
        .target(
            name: "AMQP",
            dependencies: [
                "CRabbitMQ", "CRabbitMQShim",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
            ],
            path: "Shared/AMQP",
            swiftSettings: swiftSettings
        ),
        .target(name: "CobrowseProtocol", path: "Shared/CobrowseProtocol", swiftSettings: swiftSettings),
        // The masking rules file, the CSS selector matcher, reloading; shared by relay and filter.
        .target(
            name: "MaskingRules",
            dependencies: [.product(name: "Logging", package: "swift-log"), .product(name: "Crypto", package: "swift-crypto")],
            path: "Shared/MaskingRules",
            swiftSettings: swiftSettings
        ),
        // The contact center's JWT claims, and a signer for dev mode and tests.
        .target(
            name: "CobrowseTokens",
            dependencies: ["CobrowseProtocol", .product(name: "JWTKit", package: "jwt-kit")],
            path: "Shared/CobrowseTokens",
            swiftSettings: swiftSettings
        ),
        // The suite's own broker vocabulary: its topology and policies, the registry's client, the
        // rules preview's messages, masking-rules configuration, refusals as HTTP statuses.
        .target(
            name: "CobrowseBroker",
            dependencies: [
                "AMQP", "CobrowseProtocol", "MaskingRules", "ServiceKit",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Shared/CobrowseBroker",
            swiftSettings: swiftSettings
        ),
        // What any service of the suite is made of, nothing of the suite's domain: configuration,
        // logging, operational endpoints, the broker service.
        .target(
            name: "ServiceKit",
            dependencies: [
                "AMQP", "CobrowseProtocol",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "HummingbirdTLS", package: "hummingbird"),
                .product(name: "HummingbirdWebSocket", package: "hummingbird-websocket"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            path: "Shared/ServiceKit",
            swiftSettings: swiftSettings
        ),
    ]
    + service("SessionRegistry", product: "session-registry", dependencies: serviceDependencies + [
        "CobrowseTokens", "CSQLCipher",
        .product(name: "PostgresNIO", package: "postgres-nio"),
        .product(name: "JWTKit", package: "jwt-kit"),
        .product(name: "Crypto", package: "swift-crypto"),
        .product(name: "Hummingbird", package: "hummingbird"),
        .product(name: "Metrics", package: "swift-metrics"),
    ])
    + [
        // What the relay serves to browsers: the sharer SDK, the agent console, the demo site.
        .target(name: "RelayWeb", path: "Services/DOMRelay/Web", resources: [.copy("Public"), .copy("Demo")],
                swiftSettings: swiftSettings),
    ]
    + service("DOMRelay", product: "dom-relay", dependencies: serviceDependencies + [
        "CobrowseTokens", "RelayWeb", "MaskingRules",
        .product(name: "Metrics", package: "swift-metrics"),
        .product(name: "Hummingbird", package: "hummingbird"),
        .product(name: "HummingbirdWebSocket", package: "hummingbird-websocket"),
    ])
    + service("MaskingFilter", product: "masking-filter", dependencies: serviceDependencies + [
        "MaskingRules", .product(name: "Metrics", package: "swift-metrics"),
    ])
    + service("InteractionWatch", product: "interaction-watch", dependencies: serviceDependencies + [
        .product(name: "Crypto", package: "swift-crypto"),
        .product(name: "Hummingbird", package: "hummingbird"),
        .product(name: "Metrics", package: "swift-metrics"),
    ])
    + [
        // The operators' command line: interaction events, live sessions, queues, masking rules.
        .target(
            name: "CobrowseCtl",
            dependencies: [
                "AMQP", "CobrowseProtocol", "CobrowseBroker", "ServiceKit", "MaskingRules",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Tools/CobrowseCtl/Library",
            swiftSettings: swiftSettings
        ),
        .executableTarget(name: "CobrowseCtlMain", dependencies: ["CobrowseCtl"], path: "Tools/CobrowseCtl/Main",
                          swiftSettings: swiftSettings),

        // A plain rabbitmq-c publish/consume loop: the baseline the Swift client is measured against.
        .target(name: "CPlainAMQPLoop", dependencies: ["CRabbitMQ", "CRabbitMQShim"], path: "Benchmarks/CPlainAMQPLoop"),
        // Where benchmarks write their results (their own section of docs/benchmarks.md).
        .target(name: "BenchmarkReport", path: "Benchmarks/BenchmarkReport", swiftSettings: swiftSettings),
        .executableTarget(
            name: "AMQPBench",
            dependencies: [
                "AMQP", "CPlainAMQPLoop", "BenchmarkReport",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            path: "Benchmarks/AMQPBench",
            swiftSettings: swiftSettings
        ),
        // The registry's reports over a million stored sessions, SQLite and PostgreSQL side by side.
        .executableTarget(
            name: "ReportBench",
            dependencies: [
                "SessionRegistry", "BenchmarkReport", "CSQLCipher",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
            ],
            path: "Benchmarks/ReportBench",
            swiftSettings: swiftSettings
        ),
        // The live path end to end, against a running stack (deploy/local/bench starts one).
        .executableTarget(
            name: "LiveBench",
            dependencies: [
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                "AMQP", "BenchmarkReport",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "HummingbirdWSClient", package: "hummingbird-websocket"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Benchmarks/LiveBench",
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "AMQPTests",
            dependencies: ["AMQP", "TestSupport"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "ServiceKitTests",
            dependencies: [
                "ServiceKit", "CobrowseBroker", "TestSupport",
                .product(name: "HummingbirdTesting", package: "hummingbird"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "SessionRegistryTests",
            dependencies: [
                "SessionRegistry", "CobrowseProtocol", "CobrowseTokens", "CobrowseBroker", "ServiceKit", "AMQP", "TestSupport",
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "DOMRelayTests",
            dependencies: [
                "DOMRelay", "CobrowseProtocol", "CobrowseTokens", "MaskingRules", "CobrowseBroker", "ServiceKit", "AMQP", "TestSupport",
                .product(name: "HummingbirdWSClient", package: "hummingbird-websocket"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "MaskingFilterTests",
            dependencies: ["MaskingFilter", "MaskingRules", "CobrowseProtocol", "CobrowseBroker", "ServiceKit", "AMQP", "TestSupport"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "InteractionWatchTests",
            dependencies: [
                "InteractionWatch", "CobrowseProtocol", "CobrowseTokens", "CobrowseBroker", "ServiceKit", "AMQP", "TestSupport",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "HummingbirdWSClient", package: "hummingbird-websocket"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "CobrowseCtlTests",
            dependencies: ["CobrowseCtl", "CobrowseProtocol", "CobrowseTokens", "CobrowseBroker", "ServiceKit", "AMQP", "TestSupport"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "MaskingRulesTests",
            dependencies: ["MaskingRules"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "ServicesTests",
            dependencies: ["CobrowseBroker", "ServiceKit", "AMQP", "TestSupport", "SessionRegistry", "DOMRelay", "MaskingFilter", "InteractionWatch"],
            swiftSettings: swiftSettings
        ),
        // What every integration test needs: where the private broker is and how to restart it.
        .target(
            name: "TestSupport",
            dependencies: [
                "AMQP", "CobrowseProtocol", "CobrowseTokens",
                .product(name: "HummingbirdTLS", package: "hummingbird"),
                .product(name: "HummingbirdWSClient", package: "hummingbird-websocket"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Tests/TestSupport",
            swiftSettings: swiftSettings
        ),
    ]
)
