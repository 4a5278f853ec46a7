// swift-tools-version:6.1
import PackageDescription

let package = Package(
  name: "culprit",
  products: [
    .executable(name: "culprit", targets: ["culprit"])
  ],
  dependencies: [
    .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2")
  ],
  targets: [
    // C only: variadic and raw syscalls, signal handlers, and libseccomp.
    .target(
      name: "CCulprit",
      linkerSettings: [.linkedLibrary("seccomp")]
    ),
    // All knowledge about the layers, the probes, the runner and the renderers. No printing.
    // Its build embeds schema/report.schema.json (the contract `diff` validates against).
    .target(name: "CulpritCore", dependencies: ["CCulprit"], plugins: ["EmbedReportSchema"]),
    .plugin(name: "EmbedReportSchema", capability: .buildTool()),
    // The command: parse, run, render, pick the exit code.
    .executableTarget(
      name: "culprit",
      dependencies: [
        "CulpritCore",
        "CCulprit",
        .product(name: "ArgumentParser", package: "swift-argument-parser"),
      ]
    ),
    // Test helper, not shipped: puts a real restriction in place (seccomp filter, dropped
    // capabilities, cgroup, rlimit, mount) and execs a command under it; and runs the probe
    // runner on synthetic probes that hang, crash or get killed.
    .executableTarget(name: "culprit-testkit", dependencies: ["CulpritCore", "CCulprit"]),
    .testTarget(
      name: "CulpritCoreTests",
      dependencies: ["CulpritCore"],
      exclude: ["Fixtures", "Golden"]
    ),
    .testTarget(
      name: "CulpritCLITests",
      dependencies: ["CulpritCore"],
      exclude: ["Snapshots", "HostFixtures", "EgressFixtures"]
    ),
  ]
)
