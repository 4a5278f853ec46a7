import CulpritCore
import Foundation
import Testing

/// `culprit host` on this machine, for real: Debian's runc, crun, containerd, Docker, Podman and
/// CNI plugins found and versioned; components that hang, cannot be run or are missing; Go
/// builds of the CNI plugins stand-in (HostFixtures/cni-plugins) placed where plugins live,
/// inside a private mount namespace so that nothing outside the test changes.
@Suite(.serialized) struct HostCommandTests {
  static let environment: [String: String] = {
    var env = ProcessInfo.processInfo.environment
    env["SWIFT_BACKTRACE"] = "enable=no"
    return env
  }()

  static func node(_ result: RunResult) throws -> [String: Any] {
    try #require(try result.json()["node"] as? [String: Any], "no node section: \(result.stdout.prefix(300))")
  }

  static func components(_ node: [String: Any]) throws -> [[String: Any]] {
    try #require(node["components"] as? [[String: Any]])
  }

  static func findings(_ node: [String: Any]) throws -> [String] {
    let bugs = try #require(node["knownBugs"] as? [String: Any])
    return try #require(bugs["findings"] as? [[String: Any]]).compactMap { $0["bug"] as? String }
  }

  /// The version dpkg installed of a package, or nil.
  static func dpkgVersion(_ package: String) throws -> String? {
    let result = try run(["/usr/bin/dpkg-query", "-W", "-f", "${Status}|${Version}", package])
    guard result.status == 0, result.stdout.hasPrefix("install ok installed|") else { return nil }
    return String(result.stdout.dropFirst("install ok installed|".count))
  }

  static func version(_ node: [String: Any], _ component: String, _ path: String) throws -> String? {
    try components(node).first { $0["component"] as? String == component && $0["path"] as? String == path }?["version"] as? String
  }

  /// This machine's stack, every version read from the component itself, and only the one
  /// known bug that is true of it.
  @Test func findsAndVersionsThisMachinesStack() throws {
    let result = try run([Binaries.culprit, "host", "--format", "json"], environment: Self.environment)
    #expect(result.stderr.isEmpty, "\(result.stderr)")
    #expect(try schemaErrors(result.stdout) == [])
    let node = try Self.node(result)
    // The reference: what dpkg says it installed (the upstream part of the package version),
    // compared as versions ("4.3.1" is podman's own word for 4.3.1+ds1).
    let expected: [(component: String, path: String, package: String)] = [
      ("runc", "/usr/sbin/runc", "runc"), ("crun", "/usr/bin/crun", "crun"),
      ("containerd", "/usr/bin/containerd", "containerd"), ("containerd-shim-runc-v2", "/usr/bin/containerd-shim-runc-v2", "containerd"),
      ("dockerd", "/usr/sbin/dockerd", "docker.io"), ("podman", "/usr/bin/podman", "podman"),
      ("libseccomp", "/usr/sbin/runc", "libseccomp2"),
    ]
    var checkedAny = false
    for item in expected where FileManager.default.fileExists(atPath: item.path) {
      guard let package = try Self.dpkgVersion(item.package) else { continue }
      let upstream = String(package[..<(package.lastIndex(of: "-") ?? package.endIndex)])
      let found = try Self.version(node, item.component, item.path)
      #expect(found.flatMap(ComponentVersion.init) == ComponentVersion(upstream), "\(item.component) \(item.path): \(found ?? "nil") vs dpkg \(package)")
      checkedAny = true
    }
    #expect(checkedAny, "none of Debian's runtimes is installed")
    // Debian's CNI plugins say "version unknown": their version is the package's.
    if FileManager.default.fileExists(atPath: "/usr/lib/cni/loopback"), let cni = try Self.dpkgVersion("containernetworking-plugins") {
      #expect(try Self.version(node, "cni-plugins", "/usr/lib/cni/loopback") == cni)
    }
    if let runcPackage = try Self.dpkgVersion("runc"), FileManager.default.fileExists(atPath: "/usr/sbin/runc") {
      let upstream = String(runcPackage[..<(runcPackage.lastIndex(of: "-") ?? runcPackage.endIndex)])
      let runc = try #require(try Self.components(node).first { $0["path"] as? String == "/usr/sbin/runc" && $0["component"] as? String == "runc" })
      #expect(runc["versionSource"] as? String == "version-command")
      #expect((runc["evidence"] as? [String] ?? []).contains("`/usr/sbin/runc --version` exited 0: \"runc version \(upstream)\"."), "\(runc["evidence"] ?? "")")
      #expect(((runc["goBuildInfo"] as? [String: Any])?["goVersion"] as? String)?.hasPrefix("go1.") == true)
      #expect(runc["package"] as? String == "runc \(runcPackage)")
    }
    // Debian 12's versions are past every bug of the table but one that is true of Docker
    // before 23.0: it drops a custom profile's defaultErrnoRet (moby#42604).
    let dockerd = try Self.version(node, "dockerd", "/usr/sbin/dockerd").flatMap(ComponentVersion.init)
    if let dockerd, dockerd < ComponentVersion("23.0.0")! {
      #expect(try Self.findings(node) == ["docker-ignores-defaulterrnoret"])
      #expect(result.status == 1)
    } else {
      #expect(try Self.findings(node) == [])
      #expect(result.status == 0)
    }
    let checked = try #require((node["knownBugs"] as? [String: Any])?["checked"] as? [[String: Any]])
    #expect(checked.count >= 9)
    let system = try #require(node["system"] as? [String: Any])
    #expect(system["kernel"] as? String != nil)
    #expect(["v1", "v2", "hybrid"].contains(system["cgroup"] as? String ?? ""))
  }

  @Test func textAndMarkdownShowTheStackAndTheChecks() throws {
    let text = try run([Binaries.culprit, "host"], environment: Self.environment)
    #expect(text.status == 0 || text.status == 1)
    #expect(text.stdout.contains("Runtime stack"))
    if FileManager.default.fileExists(atPath: "/usr/sbin/runc") {
      let line = text.stdout.split(separator: "\n").first { $0.hasPrefix("  runc ") && $0.contains("/usr/sbin/runc") }
      #expect(line?.contains("`/usr/sbin/runc --version`") == true, "\(text.stdout.prefix(2000))")
    }
    #expect(text.stdout.contains("runc-rc91-device-types"))
    #expect(text.stdout.contains("concourse-7.13-rc-clone3        not installed (concourse)"))
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("c13a-md-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: directory) }
    let file = directory.appendingPathComponent("node.md").path
    let markdown = try run([Binaries.culprit, "host", "--format", "markdown", "--output", file], environment: Self.environment)
    #expect(markdown.stdout.isEmpty)
    let written = try String(contentsOfFile: file, encoding: .utf8)
    #expect(written.hasPrefix("### culprit host"))
    #expect(written.contains("| component | version | path | read from |"))
    let unwritable = try run([Binaries.culprit, "host", "--output", "/nonexistent/dir/x.md"], environment: Self.environment)
    #expect(unwritable.status == 3)
    #expect(unwritable.stderr.contains("cannot write the report to /nonexistent/dir/x.md"), "\(unwritable.stderr)")
    let usage = try run([Binaries.culprit, "host", "--frobnicate"], environment: Self.environment)
    #expect(usage.status == 2)
  }

  /// A version command that hangs is killed at the deadline; one that leaves a process
  /// holding its output does not keep culprit waiting; a file that cannot be executed, or is
  /// no program, is said, not crashed on.
  @Test func hangingAndUnrunnableComponentsAreSaid() throws {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("c13a-bin-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: directory) }
    func write(_ name: String, _ text: String, mode: Int) throws {
      let path = directory.appendingPathComponent(name).path
      try text.write(toFile: path, atomically: true, encoding: .utf8)
      try FileManager.default.setAttributes([.posixPermissions: mode], ofItemAtPath: path)
    }
    try write("kubelet", "#!/bin/sh\nexec sleep 30\n", mode: 0o755)
    try write("conmon", "#!/bin/sh\necho 'conmon version 9.9.9'\nsleep 30 &\nexit 0\n", mode: 0o755)
    try write("crun", "#!/bin/sh\necho 'crun version 9.9.9'\n", mode: 0o644)
    try write("podman", "\u{7F}ELF garbage, not a program\n", mode: 0o755)
    var env = Self.environment
    env["PATH"] = directory.path + ":" + (env["PATH"] ?? "/usr/bin")
    let result = try run([Binaries.culprit, "host", "--format", "json", "--timeout", "1"], environment: env, limit: 20)
    #expect(result.seconds < 8, "took \(result.seconds) s")
    #expect(try schemaErrors(result.stdout) == [])
    let node = try Self.node(result)
    func component(_ name: String) throws -> [String: Any] {
      try #require(try Self.components(node).first { $0["path"] as? String == directory.appendingPathComponent(name).path }, "\(name)")
    }
    let kubelet = try component("kubelet")
    let kubeletRun = try #require(kubelet["versionCommand"] as? [String: Any])
    #expect(kubeletRun["timedOutAfterMs"] as? Int ?? 0 >= 500)
    #expect(kubelet["version"] is NSNull)
    #expect((kubelet["evidence"] as? [String] ?? []).contains { $0.contains("gave no answer within") })
    #expect((kubelet["buildInfoProblem"] as? String) == "not an ELF file")
    let conmon = try component("conmon")
    #expect(conmon["version"] as? String == "9.9.9")
    let crun = try component("crun")
    #expect((crun["versionCommand"] as? [String: Any])?["execError"] as? String == "EACCES")
    #expect(crun["version"] is NSNull)
    let podman = try component("podman")
    #expect((podman["versionCommand"] as? [String: Any])?["execError"] as? String == "ENOEXEC")
    #expect((podman["buildInfoProblem"] as? String)?.hasPrefix("malformed") == true || podman["buildInfoProblem"] as? String == "not an ELF file")
    // Nothing of the script's is left running.
    let left = try run(["/usr/bin/pgrep", "-f", directory.path])
    #expect(left.stdout.isEmpty, "left running: \(left.stdout)")
  }

  /// Builds the CNI plugins stand-in (real module paths, vendored netlink v1.3.0) as the
  /// plugins' release does, and returns the loopback binary.
  static func buildLoopback(into directory: URL, name: String, tags: String = "", version: String?) throws -> String? {
    guard let go = ["/usr/bin/go", "/usr/lib/go/bin/go"].first(where: FileManager.default.fileExists) else { return nil }
    let source = Binaries.packageRoot.appendingPathComponent("Tests/CulpritCLITests/HostFixtures/cni-plugins").path
    let output = directory.appendingPathComponent(name).path
    var env = Self.environment
    env["GOFLAGS"] = "-mod=vendor"
    env["GOPROXY"] = "off"
    env["GO111MODULE"] = "on"
    env["GOCACHE"] = directory.appendingPathComponent("gocache").path
    env["HOME"] = directory.path
    var arguments = [go, "build", "-o", output]
    if !tags.isEmpty { arguments += ["-tags", tags] }
    if let version { arguments += ["-ldflags", "-X github.com/containernetworking/plugins/pkg/utils/buildversion.BuildVersion=\(version)"] }
    // In the module's directory (go build -C needs Go 1.20; Debian 12 has 1.19).
    let result = try run(["/bin/sh", "-c", "cd \"$0\" && exec \"$@\"", source] + arguments + ["./plugins/main/loopback"], environment: env)
    #expect(result.status == 0, "go build: \(result.stderr)")
    return result.status == 0 ? output : nil
  }

  /// Plugins built as v1.6.0 (version stamp), as a devel build with netlink v1.3.0 (no stamp:
  /// only the build info tells), and as v1.7.0 with pkg/netlinksafe, each placed in
  /// /usr/libexec/cni inside a private mount namespace.
  @Test func cniPluginsAreMatchedByVersionAndByNetlink() throws {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("c13a-cni-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: directory) }
    let builds: [(name: String, tags: String, version: String?, affected: Bool)] = [
      ("v1.6.0", "", "v1.6.0", true), ("devel", "", nil, true), ("v1.7.0", "netlinksafe", "v1.7.0", false),
    ]
    for build in builds {
      guard let loopback = try Self.buildLoopback(into: directory, name: "loopback-" + build.name, tags: build.tags, version: build.version) else { return }
      let script = "mount -t tmpfs c13a-cni /usr/libexec && mkdir /usr/libexec/cni && cp \"$0\" /usr/libexec/cni/loopback && exec \"$1\" host --format json"
      let result = try run(["/usr/bin/unshare", "-m", "--propagation", "private", "/bin/sh", "-c", script, loopback, Binaries.culprit], environment: Self.environment)
      #expect(try schemaErrors(result.stdout) == [])
      let node = try Self.node(result)
      let plugin = try #require(try Self.components(node).first { $0["path"] as? String == "/usr/libexec/cni/loopback" })
      let bugs = try #require((node["knownBugs"] as? [String: Any])?["findings"] as? [[String: Any]])
      let cni = bugs.first { $0["bug"] as? String == "cni-plugins-netlink-eintr" && $0["path"] as? String == "/usr/libexec/cni/loopback" }
      #expect((cni != nil) == build.affected, "\(build.name): \(plugin["evidence"] ?? "")")
      if let cni {
        #expect(cni["layer"] as? String == "network")
        #expect(cni["symptom"] as? String == "network add: cni net setup: plugin type=\"loopback\" failed (add): interrupted system call")
        #expect(result.status == 1)
      }
      let facts = try #require(plugin["facts"] as? [String: String])
      #expect(facts["symbol:github.com/containernetworking/plugins/pkg/netlinksafe"] == (build.tags == "netlinksafe" ? "present" : "absent"), "\(build.name)")
      let deps = try #require((plugin["goBuildInfo"] as? [String: Any])?["dependencies"] as? [[String: Any]])
      #expect(deps.contains { $0["path"] as? String == "github.com/vishvananda/netlink" && $0["version"] as? String == "v1.3.0" })
      #expect(plugin["version"] as? String == build.version, "\(build.name)")
    }
  }

  /// With no runtime installed (the bin directories, the CNI directories and dpkg's database
  /// hidden by empty file systems in a private mount namespace), culprit says so and exits 0.
  @Test func nothingInstalledIsAReportNotACrash() throws {
    var hide = ["/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/libexec", "/var/lib/dpkg"]
    if FileManager.default.fileExists(atPath: "/usr/lib/cni") { hide.append("/usr/lib/cni") }
    // /usr/bin (where /bin/sh is) last, then culprit is exec'd by its absolute path.
    let mounts = (hide + ["/usr/bin"]).map { "mount -t tmpfs c13a-empty \($0)" }.joined(separator: " && ")
    let script = "\(mounts) && exec \"$0\" host --format json"
    let result = try run(["/usr/bin/unshare", "-m", "--propagation", "private", "/bin/sh", "-c", script, Binaries.culprit], environment: Self.environment)
    #expect(result.status == 0, "exit \(result.status): \(result.stderr)")
    #expect(try schemaErrors(result.stdout) == [])
    let node = try Self.node(result)
    let kinds = Set(try Self.components(node).compactMap { $0["component"] as? String })
    #expect(kinds.isSubset(of: ["libseccomp"]), "\(kinds)")
    #expect(try Self.findings(node) == [])
    let checked = try #require((node["knownBugs"] as? [String: Any])?["checked"] as? [[String: Any]])
    #expect(checked.filter { $0["component"] as? String != "libseccomp" }.allSatisfy { $0["result"] as? String == "not-installed" })
  }

  /// Without /proc the report still comes, and says what it could not read.
  @Test func withoutProcTheReportSaysSo() throws {
    let script = "umount -l /proc && exec \"$0\" host --format json"
    let result = try run(["/usr/bin/unshare", "-m", "-p", "--fork", "/bin/sh", "-c", script, Binaries.culprit], environment: Self.environment)
    #expect(result.status == 0 || result.status == 1, "exit \(result.status): \(result.stderr)")
    #expect(try schemaErrors(result.stdout) == [])
    let node = try Self.node(result)
    #expect((node["notes"] as? [String] ?? []).contains { $0.contains("/proc is not mounted here") })
  }
}
