import Foundation
import Testing

/// The syscall sweep under real seccomp filters (the jail installs them), and the what-if mode
/// with real profiles and malformed ones.
@Suite struct SyscallSweepTests {
  static let profiles = Binaries.packageRoot.appendingPathComponent("Tests/CulpritCoreTests/Fixtures/seccomp-profiles")
  static func profile(_ name: String) -> String { profiles.appendingPathComponent(name).path }

  /// The syscalls probe of a JSON run: the probe, and each call's classification and errno.
  struct Sweep {
    var probe: [String: Any]
    var facts: [String: Any]
    var classes: [String: String]
    var errnos: [String: String]
    var status: String { probe["status"] as! String }
    var defaultVerdict: String { (facts["default_action"] as! [String: Any])["verdict"] as! String }
    var stubPresent: Bool? { (facts["enosys_stub"] as! [String: Any])["present"] as? Bool }
    var children: Int { facts["children"] as! Int }
  }

  static func sweep(_ extra: [String] = [], jail: [String] = []) throws -> (Sweep, RunResult) {
    let result = try culprit(["--format", "json", "--only", "syscalls"] + extra, jail: jail)
    #expect(result.status == 0 || result.status == 1, "exit \(result.status): \(result.stderr)")
    #expect(try schemaErrors(result.stdout) == [])
    let probe = try #require(try result.probes()["syscalls"])
    let facts = try #require(probe["facts"] as? [String: Any])
    var classes: [String: String] = [:]
    var errnos: [String: String] = [:]
    for call in try #require(facts["syscalls"] as? [[String: Any]]) {
      let id = call["id"] as! String
      classes[id] = call["classification"] as? String
      errnos[id] = (call["result"] as? [String: Any])?["errno"] as? String
    }
    return (Sweep(probe: probe, facts: facts, classes: classes, errnos: errnos), result)
  }

  /// What this kernel itself lacks (ENOSYS with no filter at all: a build option such as
  /// CONFIG_X86_USER_SHADOW_STACK), so that the filtered runs can tell those apart.
  static func unfiltered() throws -> Sweep { try sweep().0 }

  @Test func withoutAFilterEveryCallGetsTheKernelsAnswer() throws {
    let sweep = try Self.unfiltered()
    #expect(sweep.status == "ok")
    #expect(sweep.facts["filter_installed"] as? Bool == false)
    #expect(sweep.defaultVerdict == "no-filter")
    #expect(sweep.children == 1)
    #expect(sweep.classes.count == 38)
    for (id, c) in sweep.classes { #expect(c == "allowed" || c == "absent", "\(id): \(c)") }
    #expect(sweep.classes["clone3"] == "allowed")
    #expect(sweep.errnos["clone3"] == "EINVAL")
  }

  @Test func allowAllFilter() throws {
    let unfiltered = try Self.unfiltered()
    let (sweep, _) = try Self.sweep(jail: ["--seccomp-default", "allow"])
    #expect(sweep.status == "ok")
    #expect(sweep.facts["filter_installed"] as? Bool == true)
    #expect(sweep.defaultVerdict == "enosys")
    for (id, c) in sweep.classes {
      // What the kernel lacks now looks like a filter's ENOSYS: the sweep cannot tell them apart.
      let expected = unfiltered.classes[id] == "absent" ? "filtered-enosys" : "allowed"
      #expect(c == expected, "\(id): \(c)")
    }
  }

  @Test func epermDefaultAllowListWithoutClone3IsTheDocker1903Story() throws {
    let (sweep, result) = try Self.sweep(jail: ["--seccomp-profile", Self.profile("podman-without-clone3-faccessat2-eperm.json")])
    #expect(result.status == 1)
    #expect(sweep.status == "blocked")
    #expect(sweep.probe["layer"] as? String == "seccomp")
    #expect(sweep.classes["clone3"] == "filtered-eperm")
    #expect(sweep.classes["faccessat2"] == "filtered-eperm")
    #expect(sweep.classes["clone"] == "allowed")
    #expect(sweep.classes["io_uring_setup"] == "filtered-eperm")  // not named by this 2022 profile
    #expect(sweep.classes["mseal"] == "filtered-enosys")  // above its highest name: runc's stub
    #expect(sweep.defaultVerdict == "errno-eperm")
    #expect(sweep.stubPresent == true)
    let summary = sweep.probe["summary"] as! String
    #expect(summary.contains("clone3 and faccessat2 with EPERM"), "\(summary)")
    let hint = try #require(sweep.probe["hint"] as? String)
    #expect(hint.contains("\"errnoRet\": 38"))
    // containerd 1.5.6's release notes list #5982; Docker's bump to containerd 1.4.10 lists it too.
    #expect(hint.contains("containerd ≥ 1.5.6 / 1.4.10"), "\(hint)")
  }

  @Test func enosysDefaultIsPodman() throws {
    let (sweep, result) = try Self.sweep(jail: ["--seccomp-profile", Self.profile("podman-containers-common-0.50.1.json")])
    #expect(result.status == 0)
    #expect(sweep.status == "ok")
    #expect(sweep.defaultVerdict == "enosys")
    #expect(sweep.classes["clone3"] == "allowed")
    #expect(sweep.classes["keyctl"] == "allowed")
    #expect(sweep.classes["io_uring_setup"] == "filtered-enosys")
    #expect(sweep.classes["userfaultfd"] == "filtered-eperm")  // Podman's explicit EPERM list
    #expect(sweep.stubPresent == nil)
  }

  @Test func killProcessAndTrapAreAttributedToTheExactCall() throws {
    let (sweep, result) = try Self.sweep(jail: [
      "--seccomp-rule", "clone3=kill_process", "--seccomp-rule", "bpf=kill", "--seccomp-rule", "faccessat2=trap",
      "--seccomp-rule", "keyctl=errno:EACCES",
    ])
    #expect(result.status == 1)
    #expect(sweep.status == "blocked")
    #expect(sweep.classes["clone3"] == "killed")
    #expect(sweep.classes["bpf"] == "killed")
    #expect(sweep.classes["faccessat2"] == "trapped")
    #expect(sweep.classes["keyctl"] == "filtered")
    #expect(sweep.errnos["keyctl"] == "EACCES")
    // Everything else still ran and reached the kernel: one child per kill, plus the first.
    #expect(sweep.children == 3)
    #expect(sweep.classes["clone"] == "allowed")
    #expect(sweep.classes["socket(AF_PACKET)"] == "allowed")
    // No core file left behind by the killed children.
    #expect(!FileManager.default.fileExists(atPath: FileManager.default.currentDirectoryPath + "/core"))
  }

  @Test func anOptionalCallKilledOrTrappedIsSaidToEndItsCaller() throws {
    // ptrace has no fallback: the summary says what a KILL or a TRAP does, not "defeats the
    // fallback".
    let (killed, _) = try Self.sweep(jail: ["--seccomp-rule", "ptrace=kill_process"])
    #expect(killed.status == "degraded")
    #expect(killed.probe["summary"] as? String == "Seccomp kills ptrace, so any program that calls it dies (SIGSYS)", "\(killed.probe)")
    let (trapped, _) = try Self.sweep(jail: ["--seccomp-rule", "ptrace=trap"])
    #expect(trapped.status == "degraded")
    #expect((trapped.probe["summary"] as? String)?.hasPrefix("Seccomp traps ptrace, so any program that calls it gets SIGSYS") == true, "\(trapped.probe)")
  }

  @Test func aKillDefaultProfileKillsTheSweepCallByCall() throws {
    // Podman's allow-list with KILL_PROCESS as the default: everything it does not name kills.
    let source = try String(contentsOfFile: Self.profile("podman-containers-common-0.50.1.json"), encoding: .utf8)
    let killing = source.replacingOccurrences(of: "\"defaultAction\": \"SCMP_ACT_ERRNO\"", with: "\"defaultAction\": \"SCMP_ACT_KILL_PROCESS\"")
    #expect(killing != source)
    let file = try TemporaryFile(killing)
    let (sweep, _) = try Self.sweep(["--seccomp-profile", file.path])
    #expect(sweep.classes["io_uring_setup"] == "killed")
    #expect(sweep.classes["clone3"] == "allowed")
    #expect(sweep.defaultVerdict == "kill")
    // Above the highest name (448), runc's stub answers ENOSYS before the KILL default.
    #expect(sweep.classes["futex_waitv"] == "filtered-enosys")
    // Killed: io_uring_setup (425) and syscall(400); one child each, plus the first.
    #expect(sweep.children == 3)
  }

  // MARK: What-if mode

  @Test func whatIfWithPodmansProfile() throws {
    let path = Self.profile("podman-containers-common-0.50.1.json")
    let (sweep, result) = try Self.sweep(["--seccomp-profile", path])
    #expect(result.status == 0)
    #expect(try result.json()["run"].flatMap { ($0 as? [String: Any])?["seccompProfile"] as? String } == path)
    #expect(sweep.facts["what_if_profile"] as? String == path)
    #expect(sweep.facts["filter_installed"] as? Bool == true)
    #expect(sweep.classes["clone3"] == "allowed")
    #expect(sweep.classes["io_uring_setup"] == "filtered-enosys")
    #expect(sweep.defaultVerdict == "enosys")
    let text = try culprit(["--only", "seccomp,syscalls", "--seccomp-profile", path])
    #expect(text.stdout.contains("what-if: probes ran under the seccomp profile \(path)"))
    #expect(text.stdout.contains("culprit's own process"))
  }

  @Test func whatIfWithTheDocker1903StoryIsBlocked() throws {
    let (sweep, result) = try Self.sweep(["--seccomp-profile", Self.profile("podman-without-clone3-faccessat2-eperm.json")])
    #expect(result.status == 1)
    #expect(sweep.status == "blocked")
    #expect(sweep.classes["clone3"] == "filtered-eperm")
    #expect(sweep.classes["faccessat2"] == "filtered-eperm")
  }

  @Test func whatIfEmulatesRuncsENOSYSStub() throws {
    // Nothing named above 434, EPERM default: runc answers clone3 ENOSYS, so threads work
    // (the old docker/labs profile of moby#42680).
    let (sweep, result) = try Self.sweep(["--seccomp-profile", Self.profile("podman-pre-5.3-names-eperm.json")])
    #expect(result.status == 0)
    #expect(sweep.status == "ok")
    #expect(sweep.classes["clone3"] == "filtered-enosys")
    #expect(sweep.classes["faccessat2"] == "filtered-enosys")
    #expect(sweep.classes["io_uring_setup"] == "filtered-eperm")  // 425: below the stub
    #expect(sweep.stubPresent == true)
  }

  @Test func whatIfWithDockersProfile() throws {
    let (sweep, _) = try Self.sweep(["--seccomp-profile", Self.profile("moby-default-0ec744f4.json")])
    // culprit runs as root with every capability here, so the CAP_SYS_ADMIN blocks apply:
    // clone3 is allowed, as it is in `docker run --cap-add SYS_ADMIN`.
    #expect(sweep.classes["clone3"] == "allowed")
    #expect(sweep.classes["keyctl"] == "filtered-eperm")
    #expect(sweep.defaultVerdict == "errno-eperm")
  }

  @Test(arguments: [
    ("{\"defaultAction\": \"SCMP_ACT_ERRNO\", \"syscalls\": [", "not valid JSON"),
    ("{\"defaultAction\": \"SCMP_ACT_MAYBE\"}", "defaultAction: unknown action \"SCMP_ACT_MAYBE\""),
    ("{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": [{\"names\": \"clone3\", \"action\": \"SCMP_ACT_ERRNO\"}]}",
     "syscalls[0].names: expected an array, found a string"),
    ("{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": [{\"names\": [\"clone3\"], \"action\": \"SCMP_ACT_ERRNO\", \"errnoRet\": \"ENOSYS\"}]}",
     "syscalls[0].errnoRet: expected a number, found a string"),
  ])
  func whatIfRefusesABadProfileWithItsPath(text: String, mention: String) throws {
    let file = try TemporaryFile(text)
    let result = try culprit(["--seccomp-profile", file.path])
    #expect(result.status == 2, "exit \(result.status): \(result.stderr)")
    #expect(result.stdout.isEmpty)
    #expect(result.stderr.split(separator: "\n").count == 1, "\(result.stderr)")
    #expect(result.stderr.contains(mention), "\(result.stderr)")
  }

  @Test func whatIfRefusesAnUnreadableProfile() throws {
    let result = try culprit(["--seccomp-profile", "/nonexistent/profile.json"])
    #expect(result.status == 2)
    #expect(result.stderr.contains("cannot read the file: ENOENT"), "\(result.stderr)")
  }

  @Test func whatIfWhereFiltersCannotBeInstalledIsExit3() throws {
    // seccomp(2) itself refused: the profile cannot be installed, and culprit says so up front.
    let result = try culprit(
      ["--seccomp-profile", Self.profile("podman-containers-common-0.50.1.json")],
      jail: ["--seccomp-rule", "seccomp=errno:EPERM"])
    #expect(result.status == 3, "exit \(result.status): \(result.stderr)")
    #expect(result.stdout.isEmpty)
    #expect(result.stderr.contains("cannot be installed here"), "\(result.stderr)")
    #expect(result.stderr.contains("EPERM"), "\(result.stderr)")
  }
  // MARK: The exact map (the oracle)

  @Test func concourse7121ReportsTheEPERMDefaultAndThatThreadsDependOnTheStub() throws {
    let (sweep, _) = try Self.sweep(["--seccomp-profile", Self.profile("concourse-7.12.1.json")])
    #expect(sweep.status == "ok")
    let summary = sweep.probe["summary"] as! String
    #expect(summary.contains("the profile's default is EPERM, and numbers from 333 up get ENOSYS from runc's -ENOSYS stub"), "\(summary)")
    #expect(summary.contains("threads work only because of it: clone3 (435) gets ENOSYS from the stub since the profile names nothing above 332"), "\(summary)")
    #expect((sweep.probe["hint"] as? String)?.hasPrefix("Add clone3 → SCMP_ACT_ERRNO with errnoRet 38") == true)
    let map = try #require(sweep.facts["filter_map"] as? [String: Any])
    #expect(map["default"] as? String == "EPERM")
    #expect((map["enosys_stub"] as? [String: Any])?["start"] as? Int == 333)
    #expect(map["stub_rescues"] as? [String] == ["clone3", "faccessat2", "fchmodat2", "epoll_pwait2"])
    #expect(sweep.stubPresent == true)
    let evidence = sweep.probe["evidence"] as! [String]
    #expect(evidence.contains { $0.hasPrefix("The sweep's ") && $0.hasSuffix("calls agree with the oracle's answers for the same calls.") }, "\(evidence)")
  }

  @Test func concourse713rcNamesTheStubBoundaryMovingPastClone3() throws {
    let (sweep, result) = try Self.sweep(["--seccomp-profile", Self.profile("concourse-7.13-rc.json")])
    #expect(result.status == 1)
    #expect(sweep.status == "blocked")
    let summary = sweep.probe["summary"] as! String
    #expect(summary.contains("runc's -ENOSYS stub starts above 439, the highest call the profile names, past clone3 (435), so clone3 falls to the profile's default EPERM"), "\(summary)")
  }

  @Test func aProfileThatRefusesSeccompFallsBackToTheDiscriminators() throws {
    let (sweep, _) = try Self.sweep(jail: ["--seccomp-rule", "seccomp=errno:EPERM", "--seccomp-rule", "keyctl=errno:EPERM"])
    let oracle = try #require(sweep.facts["oracle"] as? [String: Any])
    #expect(oracle["available"] as? Bool == false)
    #expect((oracle["unavailable"] as? String)?.contains("failed with EPERM: the container's filter refuses seccomp") == true, "\(oracle)")
    #expect(sweep.facts["filter_map"] is NSNull)
    #expect(sweep.classes["keyctl"] == "filtered-eperm", "the sweep still classifies")
    let evidence = sweep.probe["evidence"] as! [String]
    #expect(evidence.contains { $0.hasPrefix("The exact oracle (SECCOMP_RET_USER_NOTIF) could not ask the filter:") })
  }

}

/// A file in the temporary directory, removed when the value goes away.
final class TemporaryFile {
  let path: String

  init(_ text: String) throws {
    path = FileManager.default.temporaryDirectory.appendingPathComponent("culprit-test-\(UUID().uuidString).json").path
    try text.write(toFile: path, atomically: true, encoding: .utf8)
  }

  deinit { try? FileManager.default.removeItem(atPath: path) }
}
