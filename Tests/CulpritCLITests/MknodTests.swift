import Foundation
import Testing

/// The mknod probe under real restrictions: a seccomp filter, dropped CAP_MKNOD, a user
/// namespace, a v1 devices cgroup, nodev and read-only tmpfs mounts in a private mount
/// namespace, and a child killed after making its nodes. Every run gets a TMPDIR of its own,
/// checked empty afterwards.
@Suite struct MknodTests {
  /// A fresh directory under /tmp for one test, removed at the end.
  final class Scratch {
    let path: String
    init() throws {
      path = "/tmp/culprit-mknod-test-\(UUID().uuidString)"
      try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: false)
      chmod(path, 0o1777)
    }
    var contents: [String] { (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? ["unreadable"] }
    deinit { try? FileManager.default.removeItem(atPath: path) }
  }

  func environment(_ scratch: Scratch) -> [String: String] { ["TMPDIR": scratch.path, "PATH": "/usr/bin:/bin"] }

  /// The mknod probe of a JSON report, after checking the schema.
  func mknodProbe(_ result: RunResult) throws -> [String: Any] {
    #expect(try schemaErrors(result.stdout) == [], "\(result.stdout)")
    return try #require(try result.probes()["mknod"], "stderr: \(result.stderr)")
  }

  func run(jail: [String] = [], _ scratch: Scratch) throws -> [String: Any] {
    try mknodProbe(try culprit(["--format", "json", "--only", "mknod"], jail: jail, environment: environment(scratch)))
  }

  /// Runs culprit in a private mount namespace after `setup` (shell commands). `binary` must lie
  /// outside whatever `setup` mounts over.
  func runMounted(_ setup: String, environment: [String: String], binary: String = Binaries.culprit) throws -> [String: Any] {
    let script = "set -e; \(setup); exec \(binary) --format json --only mknod"
    return try mknodProbe(try MknodTests.shell(["-n", "-m"], script, environment: environment))
  }

  static func shell(_ unshare: [String], _ script: String, environment: [String: String]) throws -> RunResult {
    try CulpritCLITests.run(["/usr/bin/unshare"] + unshare + ["/bin/sh", "-c", script], environment: environment)
  }

  func facts(_ probe: [String: Any]) throws -> [String: Any] { try #require(probe["facts"] as? [String: Any]) }

  func node(_ probe: [String: Any], _ name: String) throws -> [String: Any] {
    let nodes = try #require(try facts(probe)["nodes"] as? [String: Any])
    return try #require(nodes[name] as? [String: Any], "no node \(name): \(nodes)")
  }

  @Test func makesAndOpensNodesWithoutRestrictions() throws {
    let scratch = try Scratch()
    let probe = try run(scratch)
    #expect(probe["status"] as? String == "ok", "\(probe)")
    let facts = try facts(probe)
    #expect(facts["directory"] as? String == scratch.path)
    #expect(facts["directory_source"] as? String == "TMPDIR")
    #expect(facts["removed"] as? Bool == true)
    #expect(try node(probe, "fifo")["type"] as? String == "fifo")
    for (name, type) in [("char", "char"), ("block", "block")] {
      let entry = try node(probe, name)
      #expect(entry["mknod"] as? String == "ok")
      #expect(entry["type"] as? String == type)
      #expect(entry["type_ok"] as? Bool == true)
      // No driver serves the local-use major: every layer allowed the open.
      #expect(entry["open_read"] as? String == "ENXIO")
      #expect(entry["open_write"] as? String == "ENXIO")
    }
    #expect(scratch.contents == [])
  }

  @Test func aFilterOnMknodatBlocksEverythingAndIsSeccomp() throws {
    let scratch = try Scratch()
    let probe = try run(jail: ["--seccomp-rule", "mknodat=errno:EPERM"], scratch)
    #expect(probe["status"] as? String == "blocked")
    #expect(probe["layer"] as? String == "seccomp")
    let check = try #require(try facts(probe)["seccomp_check"] as? [String: Any])
    #expect(check["errno"] as? String == "EPERM")
    #expect(check["filtered"] as? Bool == true)
    #expect(try node(probe, "fifo")["mknod"] as? String == "EPERM")
    #expect(scratch.contents == [])
  }

  @Test func withoutCapMknodOnlyFifosWork() throws {
    let scratch = try Scratch()
    let probe = try run(jail: ["--drop-caps", "CAP_MKNOD"], scratch)
    #expect(probe["status"] as? String == "degraded")
    #expect(probe["layer"] as? String == "capabilities")
    #expect(try node(probe, "fifo")["mknod"] as? String == "ok")
    #expect(try node(probe, "char")["mknod"] as? String == "EPERM")
    #expect(try node(probe, "block")["layer"] as? String == "capabilities")
    #expect((probe["hint"] as? String)?.contains("--cap-add MKNOD") == true)
    #expect(scratch.contents == [])
  }

  @Test func inAUserNamespaceDevicesAreRefusedWhateverTheCapabilities() throws {
    let scratch = try Scratch()
    let result = try CulpritCLITests.run(
      ["/usr/bin/unshare", "-n", "-U", "-r", Binaries.culprit, "--format", "json", "--only", "mknod"],
      environment: environment(scratch))
    let probe = try mknodProbe(result)
    #expect(probe["status"] as? String == "degraded")
    #expect(probe["layer"] as? String == "userns", "\(probe)")
    #expect(try facts(probe)["cap_mknod"] as? Bool == true, "root of the namespace holds CAP_MKNOD there")
    #expect(try facts(probe)["initial_userns"] as? Bool == false)
    #expect(try node(probe, "fifo")["mknod"] as? String == "ok")
    #expect(scratch.contents == [])
  }

  @Test func aDevicesCgroupDenyingMknod() throws {
    let scratch = try Scratch()
    let cgroup = try TestCgroup(controller: "devices")
    try cgroup.write("devices.deny", "a")
    try cgroup.write("devices.allow", "c 1:* rwm")
    let probe = try run(jail: ["--cgroup", cgroup.path], scratch)
    #expect(probe["status"] as? String == "degraded")
    #expect(probe["layer"] as? String == "cgroup-devices")
    #expect(try node(probe, "char")["mknod"] as? String == "EPERM")
    #expect(try node(probe, "block")["mknod"] as? String == "EPERM")
    #expect(try facts(probe)["devices_list"] as? [String] == ["c 1:* rwm"])
    #expect((probe["summary"] as? String)?.contains("'m'") == true, "\(probe)")
    #expect(scratch.contents == [])
  }

  @Test func aDevicesCgroupLikeDockersAllowsMknodButNotOpen() throws {
    // runc's default rules (libcontainer/specconv AllowedDevices): mknod of any device, read
    // and write of a few.
    let scratch = try Scratch()
    let cgroup = try TestCgroup(controller: "devices")
    try cgroup.write("devices.deny", "a")
    for rule in ["c *:* m", "b *:* m", "c 1:3 rwm", "c 1:5 rwm", "c 1:9 rwm"] { try cgroup.write("devices.allow", rule) }
    let probe = try run(jail: ["--cgroup", cgroup.path], scratch)
    #expect(probe["status"] as? String == "degraded")
    #expect(probe["layer"] as? String == "cgroup-devices")
    for name in ["char", "block"] {
      let entry = try node(probe, name)
      #expect(entry["mknod"] as? String == "ok")
      #expect(entry["open_read"] as? String == "EPERM")
      #expect(entry["open_write"] as? String == "EPERM")
    }
    #expect((probe["summary"] as? String)?.contains("not opened") == true, "\(probe)")
    #expect(scratch.contents == [])
  }

  @Test func capDropAllUnderRuncsDeviceRulesBlamesCapabilitiesAndNamesTheCgroupNext() throws {
    // `docker run --cap-drop ALL`: CAP_MKNOD refuses first; the devices cgroup would refuse
    // the open after it.
    let scratch = try Scratch()
    let cgroup = try TestCgroup(controller: "devices")
    try cgroup.write("devices.deny", "a")
    for rule in ["c *:* m", "b *:* m", "c 1:3 rwm", "c 1:5 rwm", "c 1:9 rwm"] { try cgroup.write("devices.allow", rule) }
    let probe = try run(jail: ["--cgroup", cgroup.path, "--drop-caps", "all"], scratch)
    #expect(probe["status"] as? String == "degraded")
    #expect(probe["layer"] as? String == "capabilities")
    let hint = try #require(probe["hint"] as? String)
    #expect(hint.contains("--cap-add MKNOD"))
    #expect(hint.contains("devices cgroup refuses opening c 60:0 too"), "\(hint)")
    #expect(scratch.contents == [])
  }

  @Test func aNodevTmpfsAsTmpdirIsTheMount() throws {
    let scratch = try Scratch()
    let probe = try runMounted("mount -t tmpfs -o nodev culprit-test \(scratch.path)", environment: environment(scratch))
    #expect(probe["status"] as? String == "degraded")
    #expect(probe["layer"] as? String == "mount")
    let mount = try #require(try facts(probe)["mount"] as? [String: Any])
    #expect(mount["mount_point"] as? String == scratch.path)
    #expect((mount["options"] as? [String])?.contains("nodev") == true)
    #expect(try node(probe, "char")["open_read"] as? String == "EACCES")
    #expect(try node(probe, "block")["open_write"] as? String == "EACCES")
  }

  @Test func aReadOnlyTmpdirFallsBackToTmp() throws {
    let scratch = try Scratch()
    let probe = try runMounted("mount -t tmpfs -o ro culprit-test \(scratch.path)", environment: environment(scratch))
    #expect(probe["status"] as? String == "ok", "\(probe)")
    let facts = try facts(probe)
    #expect(facts["directory_source"] as? String == "/tmp")
    let candidates = try #require(facts["candidates"] as? [[String: Any]])
    #expect(candidates.first?["source"] as? String == "TMPDIR")
    #expect(candidates.first?["errno"] as? String == "EROFS")
    #expect((probe["summary"] as? String)?.contains("EROFS") == true)
  }

  @Test func noWritableDirectoryIsSkipped() throws {
    let scratch = try Scratch()
    // The working directory is a read-only tmpfs too, and stays so once /tmp is covered.
    let setup = [
      "mount -t tmpfs -o ro culprit-test \(scratch.path)", "cd \(scratch.path)",
      "for d in /tmp /dev/shm /run; do mount -t tmpfs -o ro culprit-test $d; done",
    ].joined(separator: "; ")
    // The checkout (and so the built binary) may itself be under /tmp: run a copy from /var/tmp.
    let binaries = "/var/tmp/culprit-mknod-test-\(UUID().uuidString)"
    try FileManager.default.createDirectory(atPath: binaries, withIntermediateDirectories: false)
    defer { try? FileManager.default.removeItem(atPath: binaries) }
    try FileManager.default.copyItem(atPath: Binaries.culprit, toPath: binaries + "/culprit")
    let probe = try runMounted(setup, environment: ["PATH": "/usr/bin:/bin"], binary: binaries + "/culprit")
    #expect(probe["status"] as? String == "skipped", "\(probe)")
    let candidates = try #require(try facts(probe)["candidates"] as? [[String: Any]])
    #expect(candidates.map { $0["source"] as? String } == ["/tmp", "/dev/shm", "/run", "working directory"])
    #expect(candidates.prefix(3).allSatisfy { $0["errno"] as? String == "EROFS" })
    #expect((probe["summary"] as? String)?.contains("/tmp is mounted ro") == true, "\(probe)")
  }

  @Test func aChildKilledAfterMakingItsNodesLeavesNothing() throws {
    // statx comes right after the three mknodat calls: the child dies holding a directory with
    // a FIFO, a char and a block device in it, which culprit's own process must remove.
    let scratch = try Scratch()
    let probe = try run(jail: ["--seccomp-rule", "statx=kill_process"], scratch)
    #expect(probe["status"] as? String == "blocked")
    #expect(probe["layer"] as? String == "seccomp")
    #expect(try facts(probe)["signal"] as? String == "SIGSYS")
    #expect((try facts(probe)["last_step"] as? String)?.contains("statx") == true, "\(probe)")
    #expect(scratch.contents == [], "left behind: \(scratch.contents)")
  }
}
