import Foundation
import Testing

/// `culprit host --containers` and `--reproduce cni` against the real runtimes and Debian's
/// loopback plugin on this machine.
@Suite(.serialized) struct HostContainersTests {
  static let prefix = "c13b-test"

  static var isStatic: Bool {
    (try? run(["/usr/bin/file", "-L", Binaries.culprit]).stdout.contains("statically linked")) ?? false
  }

  /// The private dockerd of scripts/lib/dockerd.sh (started, or reused), and the environment
  /// that points the docker CLI at it.
  static func dockerEnvironment() throws -> [String: String] {
    let lib = Binaries.packageRoot.appendingPathComponent("scripts/lib/dockerd.sh").path
    let started = try run(["/bin/bash", "-c", "source \(lib) && culprit_dockerd_start"], limit: 90)
    #expect(started.status == 0, "dockerd: \(started.stderr)")
    var environment = ProcessInfo.processInfo.environment
    environment["DOCKER_HOST"] = "unix:///var/tmp/culprit-docker/docker.sock"
    environment["CULPRIT_HOST_PREFIX"] = prefix
    return environment
  }

  /// Nothing named with the test's prefix is left in any runtime, nor the work directory.
  static func expectNothingLeft(_ environment: [String: String]) throws {
    let checks: [[String]] = [
      ["/usr/bin/docker", "ps", "-a", "--format", "{{.Names}}"],
      ["/usr/bin/docker", "images", "--format", "{{.Repository}}"],
      ["/usr/bin/podman", "ps", "-a", "--format", "{{.Names}}"],
      ["/usr/bin/podman", "images", "--format", "{{.Repository}}"],
      ["/usr/sbin/runc", "list", "-q"],
      ["/usr/bin/crun", "list", "-q"],
      ["/usr/bin/ctr", "--address", "/var/tmp/culprit-docker/exec/containerd/containerd.sock", "namespaces", "list", "-q"],
    ]
    for argv in checks where FileManager.default.isExecutableFile(atPath: argv[0]) {
      let listed = try run(argv, environment: environment)
      #expect(!listed.stdout.contains(prefix), "\(argv.joined(separator: " ")) still lists: \(listed.stdout)")
    }
    let work = try FileManager.default.contentsOfDirectory(atPath: "/var/tmp").filter { $0.hasPrefix(prefix + "-") }
    #expect(work.isEmpty, "work directories left: \(work)")
  }

  @Test func containersOfEveryRuntimeGiveReportsSideBySide() throws {
    guard Self.isStatic else {
      // The debug build is dynamically linked: an image of it alone cannot run it, and every
      // runtime says so instead of running.
      let result = try run([Binaries.culprit, "host", "--containers", "--format", "json"], environment: ["PATH": "/usr/bin:/bin:/usr/sbin:/sbin", "CULPRIT_HOST_PREFIX": Self.prefix])
      let containers = try #require((try result.json()["node"] as? [String: Any])?["containers"] as? [String: Any])
      let runs = try #require(containers["runs"] as? [[String: Any]])
      #expect(runs.count == 5)
      for run in runs {
        #expect(run["state"] as? String == "failed")
        #expect((run["reason"] as? String)?.contains("dynamically linked") == true)
      }
      #expect(result.status == 1)
      #expect(try schemaErrors(result.stdout) == [])
      return
    }
    let environment = try Self.dockerEnvironment()
    let result = try run([Binaries.culprit, "host", "--containers", "--format", "json"], environment: environment, limit: 400)
    #expect(try schemaErrors(result.stdout) == [])
    let containers = try #require((try result.json()["node"] as? [String: Any])?["containers"] as? [String: Any])
    let runs = try #require(containers["runs"] as? [[String: Any]])
    var byRuntime: [String: [String: Any]] = [:]
    for run in runs { byRuntime[run["runtime"] as! String] = run }
    for runtime in ["docker", "podman", "ctr", "runc"] {
      let run = try #require(byRuntime[runtime])
      #expect(run["state"] as? String == "ran", "\(runtime): \(run["reason"] ?? "")")
      let report = try #require(run["report"] as? [String: Any], "\(runtime) gave no report")
      let probes = try #require(report["probes"] as? [[String: Any]])
      #expect(probes.count >= 10, "\(runtime): \(probes.count) probes")
      #expect((run["cleanupFailures"] as? [String]) == [])
      #expect(!((run["cleanup"] as? [String]) ?? []).isEmpty)
    }
    // Docker and Podman get --network none, said as a deviation; ctr runs with its defaults.
    #expect((byRuntime["docker"]?["deviations"] as? [String])?.first?.hasPrefix("--network none") == true)
    #expect((byRuntime["ctr"]?["deviations"] as? [String]) == [])
    // crun is run too: either a report or the reason it gave none, never a crash.
    let crun = try #require(byRuntime["crun"])
    #expect(crun["state"] as? String == "ran" || crun["reason"] as? String != nil)
    // The side-by-side table has a cell per runtime that ran, and the differences are against docker.
    #expect(containers["baseline"] as? String == "docker")
    let table = try #require(containers["table"] as? [[String: Any]])
    let thread = try #require(table.first { $0["probe"] as? String == "thread" }?["cells"] as? [String: Any])
    #expect(Set(thread.keys).isSuperset(of: ["docker", "podman", "ctr", "runc"]))
    let differences = try #require(containers["differences"] as? [[String: Any]])
    #expect(differences.contains { $0["after"] as? String == "runc" && !(($0["capabilities"] as? [Any]) ?? []).isEmpty })
    try Self.expectNothingLeft(environment)
  }

  @Test func aRuntimeThatIsNotThereIsSaidNotACrash() throws {
    guard Self.isStatic else { return }
    // PATH without any runtime: each one is not found; nothing to remove.
    let empty = FileManager.default.temporaryDirectory.appendingPathComponent("c13b-empty-path").path
    try? FileManager.default.createDirectory(atPath: empty, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: empty) }
    let result = try run([Binaries.culprit, "host", "--containers", "--format", "json"], environment: ["PATH": empty])
    let containers = try #require((try result.json()["node"] as? [String: Any])?["containers"] as? [String: Any])
    let runs = try #require(containers["runs"] as? [[String: Any]])
    #expect(runs.map { $0["state"] as? String } == Array(repeating: "not-found", count: 5))
    #expect(try schemaErrors(result.stdout) == [])
  }

  @Test func debiansLoopbackPluginHasNoFailureUnderChurnThatFlagsDumps() throws {
    let result = try culprit(["host", "--reproduce", "cni", "--cni-bin", "/usr/lib/cni", "--tries", "100", "--format", "json"], limit: 120)
    #expect(try schemaErrors(result.stdout) == [])
    let cni = try #require(((try result.json()["node"] as? [String: Any])?["reproduce"] as? [String: Any])?["cni"] as? [String: Any])
    #expect(cni["plugin"] as? String == "/usr/lib/cni/loopback")
    #expect(cni["tries"] as? Int == 100)
    #expect(cni["addFailures"] as? Int == 0)
    #expect(cni["delFailures"] as? Int == 0)
    #expect(cni["interruptedFailures"] as? Int == 0)
    // The churn really makes the kernel flag dumps NLM_F_DUMP_INTR (culprit's own dumps).
    let check = try #require(cni["churnCheck"] as? [String: Any])
    #expect((check["interrupted"] as? Int ?? 0) > 0, "no dump was flagged: \(check)")
    #expect((cni["churnChanges"] as? Int ?? 0) > 1000)
  }

  @Test func aPluginThatTurnsDumpInterruptedIntoEINTRIsCounted() throws {
    // The stand-in does what netlink v1.3.0 does with the flag (see culprit-testkit
    // cni-eintr-plugin): the count must be the interrupted ADDs, told apart from the rest.
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("c13b-cni-\(getpid())")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: directory) }
    let plugin = directory.appendingPathComponent("loopback").path
    try "#!/bin/sh\nexec \(Binaries.testkit) cni-eintr-plugin\n".write(toFile: plugin, atomically: true, encoding: .utf8)
    chmod(plugin, 0o755)
    let result = try culprit(["host", "--reproduce", "cni", "--cni-bin", directory.path, "--tries", "100", "--format", "json"], limit: 120)
    #expect(result.status == 1)
    #expect(try schemaErrors(result.stdout) == [])
    let cni = try #require(((try result.json()["node"] as? [String: Any])?["reproduce"] as? [String: Any])?["cni"] as? [String: Any])
    let interrupted = cni["interruptedFailures"] as? Int ?? 0
    #expect(interrupted > 0 && interrupted < 100, "\(interrupted) of 100")
    #expect(cni["addFailures"] as? Int == interrupted)
    #expect(cni["delFailures"] as? Int == 0)
    #expect((cni["verdict"] as? String)?.hasPrefix("reproduced: \(interrupted) of 100") == true)
  }

  @Test func reproduceRefusesWhatItDoesNotKnow() throws {
    let result = try culprit(["host", "--reproduce", "dns"])
    #expect(result.status == 2)
    #expect(result.stderr.contains("--reproduce takes cni"))
  }
}
