@testable import CulpritCore
import Foundation
import Testing

/// `culprit host`'s readers and its known-bug matching, on the version outputs and Go build
/// info recorded from the real components (Fixtures/host, scripts/record-host-fixtures.sh).
enum HostFixtures {
  static let directory = Fixtures.directory + "/host"

  static func versionOutput(_ name: String) throws -> String {
    try String(contentsOfFile: directory + "/versions/\(name).txt", encoding: .utf8)
  }

  static func section(_ name: String) throws -> [UInt8] {
    Array(try Data(contentsOf: URL(fileURLWithPath: directory + "/buildinfo/\(name).section")))
  }

  static func goVersionM(_ name: String) throws -> String {
    try String(contentsOfFile: directory + "/buildinfo/\(name).go-version-m.txt", encoding: .utf8)
  }

  /// The build info decoded from a recorded .go.buildinfo section.
  static func buildInfo(_ name: String) throws -> GoBuildInfo {
    let decoded = GoBuildInfo.decode(try section(name), elf: nil, file: nil, location: "fixture \(name)")
    return try #require(try decoded.get(), "\(name): no build info")
  }

  /// A component as discovery would have read it from the recorded files.
  static func component(
    _ kind: ComponentKind, _ name: String, path: String, arguments: [String] = ["--version"], package: String? = nil,
    facts: [String: String] = [:]
  ) throws -> HostComponent {
    var c = HostComponent(kind: kind, path: path)
    c.versionRun = VersionRun(argv: [path] + arguments, exitStatus: 0, output: try versionOutput(name))
    if FileManager.default.fileExists(atPath: directory + "/buildinfo/\(name).section") { c.buildInfo = try buildInfo(name) }
    c.package = package
    c.facts = facts
    return c.interpreted()
  }

  /// This machine's stack (Debian 12), as recorded.
  static func debianStack() throws -> [HostComponent] {
    var stack = [
      try component(.dockerd, "dockerd", path: "/usr/sbin/dockerd", package: "docker.io 20.10.24+dfsg1-1+deb12u1+b6"),
      try component(.dockerCLI, "docker-cli-28.2.2", path: "/usr/local/bin/docker"),
      try component(.containerd, "containerd", path: "/usr/bin/containerd", package: "containerd 1.6.20~ds1-1+deb12u3"),
      try component(.containerdShim, "containerd-shim-runc-v2", path: "/usr/bin/containerd-shim-runc-v2", arguments: ["-v"]),
      try component(.runc, "runc", path: "/usr/sbin/runc", package: "runc 1.1.5+ds1-1+deb12u1"),
      try component(.crun, "crun", path: "/usr/bin/crun"),
      try component(.podman, "podman", path: "/usr/bin/podman"),
      try component(.conmon, "conmon", path: "/usr/bin/conmon"),
      try component(
        .cniPlugins, "cni-loopback-debian", path: "/usr/lib/cni/loopback", arguments: [],
        package: "containernetworking-plugins 1.1.1+ds1-3+b5",
        facts: ["symbol:" + HostDiscovery.netlinksafeSymbol: "absent"]),
    ]
    var lib = HostComponent(kind: .libseccomp, path: "/usr/sbin/runc")
    lib.version = ComponentKind.runcLibseccomp(fromOutput: try versionOutput("runc"))
    lib.versionSource = .reportedBy
    stack.append(lib)
    return stack
  }
}

@Suite struct ComponentVersionTests {
  /// Each pair sorts strictly ascending.
  static let ascending: [(String, String)] = [
    ("1.0.0-rc9", "1.0.0-rc10"),
    ("1.0.0-rc10", "1.0.0-rc91"),
    ("1.0.0-rc91", "1.0.0-rc92"),
    ("1.0.0-rc92", "1.0.0-rc93"),
    ("1.0.0-rc93", "1.0.0"),
    ("1.0.0~rc93+ds1-5", "1.0.0"),  // Debian's way of writing an upstream pre-release
    ("1.0.0-rc92", "1.0.0~rc93+ds1"),
    ("1.1.5+ds1-1+deb12u1", "1.1.6"),
    ("1.0.0", "1.1.5+ds1-1+deb12u1"),
    ("20.10.9", "20.10.10"),
    ("20.10.10", "20.10.24+dfsg1"),
    ("20.10.24+dfsg1-1+deb12u1+b6", "23.0.0"),
    ("1.5.5", "1.5.6"),
    ("1.4.9", "1.4.10"),
    ("1.6.20~ds1", "1.7.0"),
    ("v1.2.0", "v1.2.1-0.20230704000000-abcdef123456"),  // a pseudo-version sorts after its base…
    ("v1.2.1-0.20230704000000-abcdef123456", "v1.2.1"),  // …and before the release it precedes
    ("v0.0.0-20210101000000-abcdef123456", "v0.0.1"),
    ("1.2.0-rc.1", "1.2.0-rc.3"),
    ("1.2.0-rc.3", "1.2.0"),
    ("1.2.3", "1.2.4"),
    ("2.4.3", "2.4.4"),
    ("2.5.4-1+deb12u1", "2.5.5"),
    ("7.13.0-0", "7.13.0-rc.1"),
    ("7.13.0-rc.9", "7.13.0-rc.10"),
    ("7.13.0-rc9", "7.13.0"),
    ("7.12.1", "7.13.0-rc.1"),
    ("1.6.0", "1.6.2"),
    ("1.6.2", "1.7.0"),
    ("v1.1.1", "1.6.0"),
  ]

  @Test(arguments: ascending) func orders(_ pair: (String, String)) throws {
    let a = try #require(ComponentVersion(pair.0)), b = try #require(ComponentVersion(pair.1))
    #expect(a < b, "\(pair.0) (\(a.normalized)) < \(pair.1) (\(b.normalized))")
    #expect(!(b < a))
    #expect(a != b)
  }

  static let equal: [(String, String)] = [
    ("1.1.5+ds1", "1.1.5"), ("v1.3.0", "1.3.0"), ("20.10.24+dfsg1", "20.10.24"), ("1.6.20~ds1", "1.6.20"),
    ("1.1.1+ds1-3+b5", "1.1.1"), ("2.5.4-1+deb12u1", "2.5.4"), ("1.8.1-1", "1.8.1"), ("23.0", "23.0.0"),
    ("1.0.0~rc93+ds1", "1.0.0-rc93"),
  ]

  @Test(arguments: equal) func equals(_ pair: (String, String)) throws {
    let a = try #require(ComponentVersion(pair.0)), b = try #require(ComponentVersion(pair.1))
    #expect(a == b, "\(a.normalized) vs \(b.normalized)")
  }

  @Test(arguments: ["", "unknown", "version unknown", "(devel)", "go1.19.8", "-1"]) func refusesNonVersions(_ text: String) {
    #expect(ComponentVersion(text) == nil)
  }

  @Test func rangesAreHalfOpen() throws {
    let range = VersionRange(from: "1.0.0-rc91", before: "1.0.0-rc92")
    #expect(range.contains(ComponentVersion("1.0.0-rc91")!))
    #expect(!range.contains(ComponentVersion("1.0.0-rc92")!))
    #expect(!range.contains(ComponentVersion("1.0.0-rc90")!))
    #expect(VersionRange(before: "2.4.4").contains(ComponentVersion("2.4.3")!))
    #expect(VersionRange(from: "1.2.1").contains(ComponentVersion("v1.3.0")!))
  }
}

@Suite struct GoBuildInfoTests {
  static let recorded = [
    "dockerd", "docker-cli-28.2.2", "docker-cli-debian", "containerd", "containerd-shim-runc-v2", "runc", "podman",
    "cni-loopback-debian", "cni-loopback-v1.6.0", "cni-loopback-devel-netlink-1.3.0", "cni-loopback-v1.7.0",
  ]

  /// The recorded section decodes to exactly what `go version -m` printed for the binary.
  @Test(arguments: recorded) func sectionMatchesGoVersionM(_ name: String) throws {
    let expected = try HostFixtures.goVersionM(name)
    let file = String(expected.prefix { $0 != ":" })
    #expect(try HostFixtures.buildInfo(name).goVersionM(file: file) == expected)
  }

  @Test func readsTheDependencyAndTheVersionStamp() throws {
    let v160 = try HostFixtures.buildInfo("cni-loopback-v1.6.0")
    #expect(v160.goVersion == "go1.19.8")
    #expect(v160.path == "github.com/containernetworking/plugins/plugins/main/loopback")
    #expect(v160.main?.path == "github.com/containernetworking/plugins")
    #expect(v160.main?.version == "(devel)")
    #expect(v160.dependency("github.com/vishvananda/netlink")?.version == "v1.3.0")
    #expect(v160.linkerValue(endingWith: ["buildversion.BuildVersion"])?.value == "v1.6.0")
    let dockerd = try HostFixtures.buildInfo("dockerd")
    #expect(dockerd.linkerValue(endingWith: ["dockerversion.Version"])?.value == "20.10.24+dfsg1")
    #expect(dockerd.main == nil && dockerd.dependencies.isEmpty)  // Debian builds in GOPATH mode
    let cli = try HostFixtures.buildInfo("docker-cli-28.2.2")
    #expect(cli.goVersion == "go1.24.3")
    #expect(cli.linkerValue(endingWith: ["cli/version.Version"])?.value == "28.2.2")
    #expect(cli.setting("-tags") == "osusergo,pkcs11")
  }

  /// The same binaries read from disk here, through the ELF section headers, against `go
  /// version -m` run now.
  @Test(arguments: ["/usr/sbin/runc", "/usr/bin/containerd", "/usr/sbin/dockerd", "/usr/lib/cni/loopback", "/usr/local/bin/docker"])
  func realBinariesMatchGoVersionM(_ path: String) throws {
    guard FileManager.default.fileExists(atPath: path), let go = ["/usr/bin/go", "/usr/lib/go/bin/go"].first(where: FileManager.default.fileExists)
    else { return }
    let process = Process()
    process.executableURL = URL(fileURLWithPath: go)
    process.arguments = ["version", "-m", path]
    let pipe = Pipe()
    process.standardOutput = pipe
    try process.run()
    let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    process.waitUntilExit()
    let info = try #require(try GoBuildInfo.read(path: path).get(), "\(path): no build info")
    #expect(info.goVersionM(file: path) == output)
    #expect(info.location.hasPrefix("section .go.buildinfo"))
  }

  @Test func refusesWhatIsNotAGoELF() throws {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("c13a-elf-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: directory) }
    let script = directory.appendingPathComponent("script").path
    try "#!/bin/sh\necho hi\n".write(toFile: script, atomically: true, encoding: .utf8)
    #expect(GoBuildInfo.read(path: script) == .failure(.notELF))
    let cut = directory.appendingPathComponent("cut").path
    try Data([0x7F, 0x45, 0x4C, 0x46, 2, 1, 1]).write(to: URL(fileURLWithPath: cut))
    #expect(GoBuildInfo.read(path: cut) == .failure(.notELF))  // shorter than an ELF header
    #expect(GoBuildInfo.read(path: directory.appendingPathComponent("missing").path) == .failure(.unreadable(.noSuchFile)))
    #expect(GoBuildInfo.read(path: directory.path) == .failure(.unreadable(Errno(rawValue: 21))))
    // A C program: an ELF file without Go build info.
    if FileManager.default.fileExists(atPath: "/usr/bin/crun") {
      #expect(GoBuildInfo.read(path: "/usr/bin/crun") == .success(nil))
    }
    // A truncated section: a Go header whose strings are cut.
    var bytes = try HostFixtures.section("runc")
    bytes.removeLast(bytes.count - 40)
    guard case .failure(.malformed) = GoBuildInfo.decode(bytes, elf: nil, file: nil, location: "cut") else {
      Issue.record("a cut build info decoded")
      return
    }
  }

  @Test func splitsLinkerFlagsAsGoDoes() {
    let words = GoBuildInfo.splitFlags(#" -X "github.com/x/version.Version=1.0 beta" -X=main.commit=abc -s  'a b'"#)
    #expect(words == ["-X", "github.com/x/version.Version=1.0 beta", "-X=main.commit=abc", "-s", "a b"])
    #expect(GoBuildInfo.unquote(#""-X \"a.B=1\"\tc""#) == "-X \"a.B=1\"\tc")
  }
}

@Suite struct ComponentVersionOutputTests {
  /// Recorded output → the version each component states.
  static let cases: [(ComponentKind, String, String?)] = [
    (.dockerd, "dockerd", "20.10.24+dfsg1"),
    (.dockerCLI, "docker-cli-28.2.2", "28.2.2"),
    (.dockerCLI, "docker-cli-debian", "20.10.24+dfsg1"),
    (.containerd, "containerd", "1.6.20~ds1"),
    (.containerdShim, "containerd-shim-runc-v2", "1.6.20~ds1"),
    (.runc, "runc", "1.1.5+ds1"),
    (.crun, "crun", "1.8.1"),
    (.podman, "podman", "4.3.1"),
    (.conmon, "conmon", "2.1.6"),
    (.cniPlugins, "cni-loopback-debian", nil),  // "CNI loopback plugin version unknown"
    (.cniPlugins, "cni-loopback-v1.6.0", "v1.6.0"),
    (.cniPlugins, "cni-loopback-v1.7.0", "v1.7.0"),
  ]

  @Test(arguments: cases) func readsTheVersion(_ c: (ComponentKind, String, String?)) throws {
    #expect(c.0.version(fromOutput: try HostFixtures.versionOutput(c.1)) == c.2)
  }

  @Test func otherShapes() {
    #expect(ComponentKind.runc.version(fromOutput: "runc version 1.0.0-rc91\ncommit: 24a3cf88\nspec: 1.0.2-dev\n") == "1.0.0-rc91")
    #expect(ComponentKind.kubelet.version(fromOutput: "Kubernetes v1.29.0\n") == "v1.29.0")
    #expect(ComponentKind.concourse.version(fromOutput: "7.12.1\n") == "7.12.1")
    #expect(ComponentKind.runcLibseccomp(fromOutput: "runc version 1.0.0-rc91\ncommit: x\n") == nil)
    #expect(ComponentKind.runcLibseccomp(fromOutput: try! HostFixtures.versionOutput("runc")) == "2.5.4")
    #expect(ComponentKind.dockerd.version(fromOutput: "command not found") == nil)
  }

  /// The version command first, then the build info's version stamp, then the package; all
  /// of them in the evidence.
  @Test func decidesTheVersionFromTheBestSource() throws {
    let debian = try HostFixtures.component(
      .cniPlugins, "cni-loopback-debian", path: "/usr/lib/cni/loopback", arguments: [], package: "containernetworking-plugins 1.1.1+ds1-3+b5")
    #expect(debian.version == "1.1.1+ds1-3+b5")
    #expect(debian.versionSource == .package)
    #expect(debian.evidence.contains { $0.contains("states no version: \"CNI loopback plugin version unknown\"") })
    #expect(debian.evidence.contains { $0.contains("no module information") })
    let devel = try HostFixtures.component(.cniPlugins, "cni-loopback-devel-netlink-1.3.0", path: "/opt/cni/bin/loopback", arguments: [])
    #expect(devel.version == nil)
    #expect(devel.evidence.contains { $0.contains("dependency github.com/vishvananda/netlink v1.3.0") })
    var stamped = try HostFixtures.component(.cniPlugins, "cni-loopback-v1.6.0", path: "/opt/cni/bin/loopback", arguments: [])
    #expect(stamped.versionSource == .versionCommand)
    stamped.versionRun = VersionRun(argv: ["/opt/cni/bin/loopback"], timedOutAfterMilliseconds: 5000)
    stamped = stamped.interpreted()
    #expect(stamped.version == "v1.6.0")
    #expect(stamped.versionSource == .buildInfo)
    #expect(stamped.evidence[0] == "`/opt/cni/bin/loopback` gave no answer within 5000 ms and was killed.")
  }
}

@Suite struct KnownBugTableTests {
  @Test func theShippedTableParsesAndNamesEachRowsSources() throws {
    let table = KnownBug.table
    #expect(table.count >= 9)
    for bug in table {
      #expect(!bug.sources.isEmpty)
      #expect(KnownBug.layers.contains(bug.layer))
      #expect(ComponentVersion(bug.fixedIn) != nil)
      // The fix version is outside every affected range of its row.
      let fixed = ComponentVersion(bug.fixedIn)!
      if bug.id != "containerd-clone3-eperm" {  // two fixed branches, 1.4.10 and 1.5.6
        #expect(!bug.affected.contains { $0.contains(fixed) }, "\(bug.id)")
      }
    }
    let ids = Set(table.map(\.id))
    for id in [
      "cni-plugins-netlink-eintr", "runc-rc91-device-types", "runc-no-enosys-stub", "docker-clone3-eperm", "containerd-clone3-eperm",
      "libseccomp-faccessat2", "runc-1.2-tun-tap", "docker-ignores-defaulterrnoret", "concourse-7.13-rc-clone3",
    ] {
      #expect(ids.contains(id), "\(id)")
    }
  }

  /// Row id, component, versions in range, versions out of range: the versions each row names.
  static let rows: [(String, ComponentKind, [String], [String])] = [
    ("cni-plugins-netlink-eintr", .cniPlugins, ["v1.6.0", "1.6.1", "v1.6.2"], ["v1.5.1", "1.7.0", "v1.7.1", "1.1.1+ds1-3+b5"]),
    ("runc-rc91-device-types", .runc, ["1.0.0-rc91", "1.0.0-rc91+dev"], ["1.0.0-rc90", "1.0.0-rc92", "1.0.0", "1.1.5+ds1"]),
    ("runc-no-enosys-stub", .runc, ["1.0.0-rc10", "1.0.0-rc92", "1.0.0~rc92+ds1", "0.1.1"], ["1.0.0-rc93", "1.0.0~rc93+ds1", "1.0.0", "1.1.5+ds1"]),
    ("docker-clone3-eperm", .dockerd, ["20.10.0", "20.10.9", "20.10.5+dfsg1"], ["19.03.15", "20.10.10", "20.10.24+dfsg1", "24.0.7"]),
    ("containerd-clone3-eperm", .containerd, ["1.4.9", "1.3.10", "1.5.0", "1.5.5"], ["1.4.10", "1.4.13", "1.5.6", "1.6.20~ds1", "1.7.24"]),
    ("libseccomp-faccessat2", .libseccomp, ["2.4.3", "2.3.3", "2.4.1"], ["2.4.4", "2.5.4", "2.5.4-1+deb12u1"]),
    ("runc-1.2-tun-tap", .runc, ["1.2.0", "1.2.3", "1.2.0-rc.1"], ["1.1.15", "1.2.4", "1.2.5", "1.1.5+ds1"]),
    ("docker-ignores-defaulterrnoret", .dockerd, ["20.10.24+dfsg1", "20.10.9"], ["23.0.0", "24.0.7", "28.2.2"]),
    ("concourse-7.13-rc-clone3", .concourse, ["7.13.0-rc.1", "7.13.0-rc.9", "7.13.0-rc9"], ["7.12.1", "7.13.0", "7.13.1"]),
  ]

  @Test(arguments: rows) func matchesTheVersionsTheRowNames(_ row: (String, ComponentKind, [String], [String])) throws {
    let bug = try #require(KnownBug.table.first { $0.id == row.0 })
    #expect(bug.component == row.1)
    for (versions, verdict) in [(row.2, BugVerdict.affected), (row.3, .notAffected)] {
      for version in versions {
        var c = HostComponent(kind: row.1, path: "/usr/bin/x")
        c.version = version
        c.versionSource = .versionCommand
        let finding = KnownBugCheck.match(bug, c)
        #expect(finding.verdict == verdict, "\(row.0) \(version): \(finding.reason)")
      }
    }
  }

  @Test func aComponentWithoutVersionIsUnknownNotClean() throws {
    let bug = try #require(KnownBug.table.first { $0.id == "runc-rc91-device-types" })
    let finding = KnownBugCheck.match(bug, HostComponent(kind: .runc, path: "/usr/local/bin/runc"))
    #expect(finding.verdict == .versionUnknown)
    #expect(finding.reason.contains("states no version"))
  }

  /// The CNI row: by the plugins' version, by the netlink version in the build info when the
  /// plugins' own version says nothing, and never when the binary holds pkg/netlinksafe.
  @Test func cniMatchesByVersionByDependencyAndNotWithTheFix() throws {
    let bug = try #require(KnownBug.table.first { $0.id == "cni-plugins-netlink-eintr" })
    let absent = ["symbol:" + HostDiscovery.netlinksafeSymbol: "absent"]
    let present = ["symbol:" + HostDiscovery.netlinksafeSymbol: "present"]
    let v160 = try HostFixtures.component(.cniPlugins, "cni-loopback-v1.6.0", path: "/opt/cni/bin/loopback", arguments: [], facts: absent)
    let byVersion = KnownBugCheck.match(bug, v160)
    #expect(byVersion.verdict == .affected)
    #expect(byVersion.reason.contains("cni-plugins v1.6.0 (/opt/cni/bin/loopback from `/opt/cni/bin/loopback`) is in the affected versions (1.6.0 to before 1.7.0)"), "\(byVersion.reason)")
    let devel = try HostFixtures.component(.cniPlugins, "cni-loopback-devel-netlink-1.3.0", path: "/opt/cni/bin/loopback", arguments: [], facts: absent)
    let byDependency = KnownBugCheck.match(bug, devel)
    #expect(byDependency.verdict == .affected)
    #expect(byDependency.reason.contains("built with github.com/vishvananda/netlink v1.3.0 (Go build info), which is in the affected versions (1.2.1 and later)"), "\(byDependency.reason)")
    let v170 = try HostFixtures.component(.cniPlugins, "cni-loopback-v1.7.0", path: "/opt/cni/bin/loopback", arguments: [], facts: present)
    #expect(KnownBugCheck.match(bug, v170).verdict == .notAffected)
    // A 1.6.0 that contains netlinksafe (a patched build) is not affected either.
    var patched = v160
    patched.facts = present
    #expect(KnownBugCheck.match(bug, patched).verdict == .notAffected)
    // v1.7.0 without the symbol (the string search found nothing): its version still clears it.
    var v170Plain = v170
    v170Plain.facts = absent
    #expect(KnownBugCheck.match(bug, v170Plain).verdict == .notAffected)
  }

  /// This machine's Debian stack, as recorded: every row checked, the only match the one that
  /// is true of Docker 20.10.24 (it drops a custom profile's defaultErrnoRet; §11 of the field
  /// facts measured it here), and every other row clear or not installed.
  @Test func theDebianStackMatchesOnlyWhatIsTrueOfIt() throws {
    let check = KnownBugCheck.check(try HostFixtures.debianStack())
    #expect(check.findings.map(\.bug.id) == ["docker-ignores-defaulterrnoret"])
    #expect(check.findings.first?.bug.scope == "custom-profile")
    #expect(check.notInstalled.map(\.id) == ["concourse-7.13-rc-clone3"])
    let verdicts = Dictionary(grouping: check.results, by: { $0.bug.id }).mapValues { $0.map(\.verdict) }
    #expect(verdicts["cni-plugins-netlink-eintr"] == [.notAffected])
    #expect(verdicts["runc-rc91-device-types"] == [.notAffected])
    #expect(verdicts["runc-no-enosys-stub"] == [.notAffected])
    #expect(verdicts["runc-1.2-tun-tap"] == [.notAffected])
    #expect(verdicts["docker-clone3-eperm"] == [.notAffected])
    #expect(verdicts["containerd-clone3-eperm"] == [.notAffected])
    #expect(verdicts["libseccomp-faccessat2"] == [.notAffected])
  }

  /// The defaultErrnoRet row stands for a measurement: Podman's profile (defaultErrnoRet 38)
  /// under real Docker 20.10.24 answered the unnamed number 400 with EPERM.
  @Test func theDefaultErrnoRetRowIsTrueOfDocker2010() throws {
    let map = try String(contentsOfFile: Fixtures.directory + "/docker-maps/podman-containers-common-0.50.1.txt", encoding: .utf8)
    #expect(map.split(separator: "\n").contains("400 EPERM"))
    let profile = try String(contentsOfFile: Fixtures.directory + "/seccomp-profiles/podman-containers-common-0.50.1.json", encoding: .utf8)
    #expect(profile.contains("\"defaultErrnoRet\": 38"))
    let bug = try #require(KnownBug.table.first { $0.id == "docker-ignores-defaulterrnoret" })
    var docker = HostComponent(kind: .dockerd, path: "/usr/sbin/dockerd")
    docker.version = "20.10.24+dfsg1"
    #expect(KnownBugCheck.match(bug, docker).verdict == .affected)
  }

  @Test func refusesABrokenRow() {
    let good = #"{"id": "x", "component": "runc", "title": "t", "affected": [{"before": "1.0.0"}], "layer": "seccomp", "scope": "default", "symptom": "s", "mechanism": "m", "fix": "f", "fixedIn": "1.0.0", "sources": ["https://example.org/1"]}"#
    #expect(throws: Never.self) { try KnownBug.parseTable(#"{"bugs": [\#(good)]}"#).get() }
    for (from, to, why) in [
      (#""component": "runc""#, #""component": "rkt""#, "unknown component"),
      (#""layer": "seccomp""#, #""layer": "magic""#, "unknown layer"),
      (#"[{"before": "1.0.0"}]"#, #"[{"before": "soon"}]"#, "does not parse"),
      (#"[{"before": "1.0.0"}]"#, #"[{}]"#, "neither from nor before"),
      (#"["https://example.org/1"]"#, #"["http://example.org/1"]"#, "https URLs"),
      (#""fix": "f", "#, "", "no \"fix\""),
    ] {
      let text = #"{"bugs": [\#(good.replacingOccurrences(of: from, with: to))]}"#
      guard case .failure(let err) = KnownBug.parseTable(text) else {
        Issue.record("accepted: \(why)")
        continue
      }
      #expect(err.description.contains(why), "\(err.description)")
    }
    guard case .failure(let twice) = KnownBug.parseTable(#"{"bugs": [\#(good), \#(good)]}"#) else {
      Issue.record("a duplicate id was accepted")
      return
    }
    #expect(twice.description.contains("twice"))
  }

  /// The Concourse row stands for the real profile: interpreted as runc loads it, it answers
  /// clone3 with EPERM, and 7.13.0's with ENOSYS.
  @Test func theConcourseRowIsTrueOfTheRealProfile() throws {
    let bug = try #require(KnownBug.table.first { $0.id == "concourse-7.13-rc-clone3" })
    // The repository's byte-for-byte copies of ../shared/data/seccomp-profiles.
    let directory = Fixtures.directory + "/seccomp-profiles"
    let rc = directory + "/" + (bug.profile ?? "")
    #expect(FileManager.default.fileExists(atPath: rc), "\(rc)")
    let kernel = KernelVersion(release: "6.1.0")
    for (file, answer) in [(rc, "EPERM"), (directory + "/concourse-7.13.0.json", "ENOSYS")] {
      let text = try String(contentsOfFile: file, encoding: .utf8)
      let evaluation = try ProfileEvaluation.evaluate(text, path: file, runtime: .runc, arch: .x86_64, kernel: kernel)
      let clone3 = try #require(evaluation.map.answer("clone3"), "\(file)")
      #expect(clone3.answer == .errno(answer == "EPERM" ? .notPermitted : .noFunction), "\(file): clone3 \(clone3.answer)")
    }
  }
}

@Suite struct HostConfigTests {
  @Test func readsCNIDirectoriesFromContainerdAndCrioConfigs() {
    let containerd = """
      version = 2
      [plugins."io.containerd.grpc.v1.cri".cni]
        # bin_dir = "/commented/out"
        bin_dir = "/opt/cni/bin"
        conf_dir = "/etc/cni/net.d"
      """
    #expect(HostDiscovery.tomlStrings(containerd, keys: ["bin_dir", "bin_dirs"]) == ["/opt/cni/bin"])
    let containerd2 = #"bin_dirs = ["/opt/cni/bin", "/usr/libexec/cni"]  # two"#
    #expect(HostDiscovery.tomlStrings(containerd2, keys: ["bin_dir", "bin_dirs"]) == ["/opt/cni/bin", "/usr/libexec/cni"])
    let crio = """
      [crio.network]
      network_dir = "/etc/cni/net.d/"
      plugin_dirs = [
      \t"/opt/cni/bin/",
      \t'/usr/libexec/cni/',
      ]
      other = ["/not/this"]
      """
    #expect(HostDiscovery.tomlStrings(crio, keys: ["plugin_dir", "plugin_dirs"]) == ["/opt/cni/bin/", "/usr/libexec/cni/"])
  }
}

/// The build info of Go < 1.18: two pointers to Go string headers in the data segment,
/// followed through the ELF program headers. No such binary is on this machine (Debian 12
/// builds with Go 1.19), so the file is laid out here as debug/buildinfo reads it: a 64-bit
/// little-endian ELF with one PT_LOAD segment at 0x400000, a .go.buildinfo section holding the
/// magic, pointer size 8, flags 0 and the two pointers, the string headers and the strings
/// (the module text between runtime/debug's 16-byte sentinels).
@Suite struct GoBuildInfoPointerFormatTests {
  static func elf(goVersion: String, modules: String) -> [UInt8] {
    var b = [UInt8](repeating: 0, count: 0x500)
    func put(_ value: UInt64, _ at: Int, _ size: Int) { for i in 0..<size { b[at + i] = UInt8((value >> (8 * UInt64(i))) & 0xFF) } }
    func put(_ bytes: [UInt8], _ at: Int) { for (i, x) in bytes.enumerated() { b[at + i] = x } }
    let base: UInt64 = 0x400000
    put([0x7F, 0x45, 0x4C, 0x46, 2, 1, 1], 0)
    put(2, 16, 2); put(62, 18, 2); put(1, 20, 4); put(64, 32, 8); put(0x440, 40, 8)
    put(64, 52, 2); put(56, 54, 2); put(1, 56, 2); put(64, 58, 2); put(3, 60, 2); put(2, 62, 2)
    // PT_LOAD, RW, the whole file at 0x400000.
    put(1, 64, 4); put(6, 68, 4); put(0, 72, 8); put(base, 80, 8); put(base, 88, 8); put(0x500, 96, 8); put(0x500, 104, 8)
    // .go.buildinfo at 0x100: magic, pointer size, flags 0, &version header, &modules header.
    put([0xFF] + Array(" Go buildinf:".utf8) + [8, 0], 0x100)
    put(base + 0x140, 0x110, 8); put(base + 0x150, 0x118, 8)
    let sentinel: [UInt8] = [0x30, 0x77, 0xAF, 0x0C, 0x92, 0x74, 0x08, 0x02, 0x41, 0xE1, 0xC1, 0x07, 0xE6, 0xD6, 0x18, 0xE6]
    let moduleBytes = sentinel + Array(modules.utf8) + sentinel
    put(base + 0x180, 0x140, 8); put(UInt64(goVersion.utf8.count), 0x148, 8)
    put(base + 0x1A0, 0x150, 8); put(UInt64(moduleBytes.count), 0x158, 8)
    put(Array(goVersion.utf8), 0x180)
    put(moduleBytes, 0x1A0)
    put(Array("\0.go.buildinfo\0.shstrtab\0".utf8), 0x400)
    // Section headers: null, .go.buildinfo, .shstrtab.
    put(1, 0x480, 4); put(1, 0x484, 4); put(base + 0x100, 0x490, 8); put(0x100, 0x498, 8); put(32, 0x4A0, 8)
    put(15, 0x4C0, 4); put(3, 0x4C4, 4); put(0x400, 0x4D8, 8); put(25, 0x4E0, 8)
    return b
  }

  @Test func followsThePointers() throws {
    let modules = "path\tgithub.com/opencontainers/runc\nmod\tgithub.com/opencontainers/runc\tv1.0.0-rc91\th1:abc=\ndep\tgithub.com/seccomp/libseccomp-golang\tv0.9.1\th1:def=\n"
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("c13a-old-go-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: directory) }
    let path = directory.appendingPathComponent("runc").path
    try Data(Self.elf(goVersion: "go1.14.4", modules: modules)).write(to: URL(fileURLWithPath: path))
    let info = try #require(try GoBuildInfo.read(path: path).get())
    #expect(info.goVersion == "go1.14.4")
    #expect(info.location.contains("pointer format"))
    #expect(info.main?.version == "v1.0.0-rc91")
    #expect(info.dependency("github.com/seccomp/libseccomp-golang")?.version == "v0.9.1")
    #expect(info.goVersionM(file: path) == "\(path): go1.14.4\n" + modules.split(separator: "\n").map { "\t\($0)\n" }.joined())
    // A runc that cannot be run is versioned from its build info, and matched.
    var runc = HostComponent(kind: .runc, path: path)
    runc.buildInfo = info
    runc = runc.interpreted()
    #expect(runc.version == "v1.0.0-rc91")
    #expect(runc.versionSource == .buildInfo)
    let bugs = KnownBugCheck.check([runc]).findings.map(\.bug.id)
    #expect(bugs == ["runc-rc91-device-types", "runc-no-enosys-stub"])
    // Without section headers (e_shoff 0, as sstrip leaves it) the magic is found in the
    // writable segment.
    var stripped = Self.elf(goVersion: "go1.14.4", modules: modules)
    for i in 40..<48 { stripped[i] = 0 }
    let strippedPath = directory.appendingPathComponent("runc-sstripped").path
    try Data(stripped).write(to: URL(fileURLWithPath: strippedPath))
    let scanned = try #require(try GoBuildInfo.read(path: strippedPath).get())
    #expect(scanned.moduleText == info.moduleText)
    #expect(scanned.location.hasPrefix("magic at file offset 0x100"))
  }
}
