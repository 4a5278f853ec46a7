import Foundation
import Testing

/// The exact seccomp oracle (field-facts §12) under real filters: `culprit-testkit oracle`
/// asks about each call from inside a real jail (libseccomp filters, a runc-built profile with
/// its -ENOSYS stub, another uid without capabilities).
@Suite struct SeccompOracleTests {
  struct Answers {
    var byCall: [String: String]
    var batch: String
  }

  func ask(_ calls: [String], jail: [String] = []) throws -> Answers {
    var command: [String] = []
    if !jail.isEmpty { command += [Binaries.testkit, "jail"] + jail + ["--"] }
    command += [Binaries.testkit, "oracle"] + calls
    let result = try run(command, limit: 30)
    #expect(result.status == 0, "\(result.stderr)")
    var byCall: [String: String] = [:]
    var batch = ""
    for line in result.stdout.split(separator: "\n") {
      let parts = line.split(separator: " ", maxSplits: 1).map(String.init)
      if parts[0] == "batch" { batch = parts.count > 1 ? parts[1] : "" } else if parts.count == 2 { byCall[parts[0]] = parts[1] }
    }
    return Answers(byCall: byCall, batch: batch)
  }

  static var x86_64: Bool {
    var u = utsname()
    uname(&u)
    return withUnsafeBytes(of: u.machine) { String(decoding: $0.prefix(while: { $0 != 0 }), as: UTF8.self) } == "x86_64"
  }

  static let profiles = Binaries.packageRoot.appendingPathComponent("Tests/CulpritCoreTests/Fixtures/seccomp-profiles")

  @Test func anErrnoRuleIsThatErrnoAndOtherCallsAreAllowed() throws {
    let answers = try ask(["keyctl", "getppid", "mount"], jail: ["--seccomp-rule", "keyctl=errno:EPERM", "--seccomp-rule", "mount=errno:38"])
    #expect(answers.byCall["keyctl"] == "EPERM")
    #expect(answers.byCall["mount"] == "ENOSYS")
    #expect(answers.byCall["getppid"] == "allowed")
    #expect(answers.batch.hasPrefix("children=1 "), "\(answers.batch)")
  }

  @Test func withoutAFilterEverythingIsAllowedAndNothingRuns() throws {
    // exit_group(7) and kill(0, SIGKILL) would end the child if they ran; the calls after them
    // are still answered by the same child.
    let answers = try ask(["exit_group:7", "kill:0,9", "getpid", "setuid:12345"])
    for call in ["exit_group:7", "kill:0,9", "getpid", "setuid:12345"] {
      #expect(answers.byCall[call] == "allowed", "\(call): \(answers.byCall[call] ?? "-")")
    }
    #expect(answers.batch.hasPrefix("children=1 notifications=5 "), "calibration + 4: \(answers.batch)")
  }

  @Test func aKillRuleKillsAndTheNextChildGoesOn() throws {
    let answers = try ask(["ptrace:3,1", "getppid", "keyctl"], jail: ["--seccomp-rule", "ptrace=kill_process", "--seccomp-rule", "keyctl=kill"])
    #expect(answers.byCall["ptrace:3,1"] == "killed (SIGSYS)")
    #expect(answers.byCall["keyctl"] == "killed (SIGSYS)")
    #expect(answers.byCall["getppid"] == "allowed")
    #expect(answers.batch.hasPrefix("children=2 "), "a new child after the first kill; the second kill ends the batch: \(answers.batch)")
  }

  @Test func aTrapRuleIsATrap() throws {
    let answers = try ask(["400", "getppid"], jail: ["--seccomp-rule", "400=trap"])
    #expect(answers.byCall["400"] == "trapped (SIGSYS, data 0)")
    #expect(answers.byCall["getppid"] == "allowed")
  }

  @Test(.enabled(if: SeccompOracleTests.x86_64))
  func runcsStubAnswersENOSYSAboveTheHighestNamedCall() throws {
    // Every name above 434 removed and an EPERM default: runc's stub answers 435 and up.
    let profile = Self.profiles.appendingPathComponent("podman-pre-5.3-names-eperm.json").path
    let answers = try ask(["getpid", "434", "435", "436", "439", "400", "keyctl"], jail: ["--seccomp-profile", profile])
    #expect(answers.byCall["getpid"] == "allowed")
    #expect(answers.byCall["434"] == "allowed", "pidfd_open is named")
    #expect(answers.byCall["435"] == "ENOSYS", "clone3 from the stub")
    #expect(answers.byCall["436"] == "ENOSYS")
    #expect(answers.byCall["439"] == "ENOSYS")
    #expect(answers.byCall["400"] == "EPERM", "unassigned and below the stub: the profile's default")
  }

  @Test(.enabled(if: SeccompOracleTests.x86_64))
  func argumentRulesAreAskedWithTheExactArguments() throws {
    // Docker's default without CAP_SYS_ADMIN: clone with a namespace flag is refused, plain
    // clone is allowed; socket(AF_VSOCK) is allowed, personality(0xffffffff) allowed,
    // personality(0x1234) refused.
    let profile = Self.profiles.appendingPathComponent("moby-default-0ec744f4.json").path
    let answers = try ask(
      ["clone:0x11", "clone:0x10000011", "personality:0", "personality:0x1234", "clone3"],
      jail: ["--drop-caps", "CAP_SYS_ADMIN", "--seccomp-profile", profile])
    #expect(answers.byCall["clone:0x11"] == "allowed")
    #expect(answers.byCall["clone:0x10000011"] == "EPERM")
    #expect(answers.byCall["personality:0"] == "allowed")
    #expect(answers.byCall["personality:0x1234"] == "EPERM")
    #expect(answers.byCall["clone3"] == "ENOSYS")
  }

  @Test func worksAsAnUnprivilegedUser() throws {
    let answers = try ask(["keyctl", "getppid"], jail: ["--seccomp-rule", "keyctl=errno:EPERM", "--user", "65534:65534"])
    #expect(answers.byCall["keyctl"] == "EPERM")
    #expect(answers.byCall["getppid"] == "allowed")
  }

  @Test func aFilterThatRefusesSeccompMakesItUnavailable() throws {
    let refused = try ask(["getppid"], jail: ["--seccomp-rule", "seccomp=errno:EPERM"])
    #expect(refused.byCall["getppid"]?.hasPrefix("not asked: seccomp(SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_NEW_LISTENER) failed with EPERM") == true, "\(refused.byCall)")
    #expect(refused.batch.contains("unavailable="))
    let killed = try ask(["getppid"], jail: ["--seccomp-rule", "seccomp=kill_process"])
    #expect(killed.byCall["getppid"]?.hasPrefix("not asked: the oracle's child died of SIGSYS") == true, "\(killed.byCall)")
  }

  @Test func aFilterThatRefusesGetpidGivesNoAnswerRatherThanAWrongOne() throws {
    // getpid is the calibration call (and the child plumbing's check of its parent): without
    // it nothing can be confirmed, and nothing is claimed.
    let answers = try ask(["getppid"], jail: ["--seccomp-rule", "getpid=errno:EPERM"])
    #expect(answers.byCall["getppid"]?.hasPrefix("not asked: ") == true, "\(answers.byCall)")
    #expect(answers.batch.contains("unavailable="))
  }

  @Test(.enabled(if: SeccompOracleTests.x86_64))
  func uretprobeAndUprobeAreNeverReplayed() throws {
    var u = utsname()
    uname(&u)
    let release = withUnsafeBytes(of: u.release) { String(decoding: $0.prefix(while: { $0 != 0 }), as: UTF8.self) }
    let parts = release.split(separator: ".").prefix(2).compactMap { Int($0.prefix(while: \.isNumber)) }
    try #require(parts.count == 2)
    let answers = try ask(["335", "336", "getppid"], jail: ["--seccomp-default", "allow", "--seccomp-rule", "335=errno:EPERM"])
    if parts[0] > 6 || (parts[0] == 6 && parts[1] >= 11) {
      #expect(answers.byCall["335"] == "not filtered (the kernel bypasses seccomp for it)")
      #expect(answers.byCall["336"] == "not filtered (the kernel bypasses seccomp for it)")
    } else {
      #expect(answers.byCall["335"] == "EPERM")
    }
    #expect(answers.byCall["getppid"] == "allowed")
  }

  @Test(.enabled(if: FileManager.default.fileExists(atPath: "/sys/fs/cgroup/pids/cgroup.procs")))
  func aPidsLimitMeansFewerChildrenAtOnceNotFewerAnswers() throws {
    let cgroup = try TestCgroup(controller: "pids")
    try cgroup.write("pids.max", "3")  // the testkit and two oracle children
    let calls = (0...200).map(String.init)
    let answers = try ask(calls, jail: ["--cgroup", cgroup.path, "--seccomp-rule", "100=errno:EPERM"])
    #expect(answers.byCall.count == calls.count)
    #expect(answers.byCall.values.allSatisfy { !$0.hasPrefix("not asked") }, "\(answers.batch)")
    #expect(answers.byCall["100"] == "EPERM")
    #expect(answers.byCall["101"] == "allowed")
    #expect(!answers.batch.contains("unavailable="), "\(answers.batch)")
    let none = try TestCgroup(controller: "pids", name: "none")
    try none.write("pids.max", "1")
    let refused = try ask(["getppid"], jail: ["--cgroup", none.path])
    #expect(refused.byCall["getppid"] == "not asked: fork failed with EAGAIN")
  }
}
