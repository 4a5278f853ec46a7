import Foundation
import Testing

/// The ptrace-attach probe under real restrictions: seccomp filters that kill, trap or answer
/// EPERM, dropped capabilities, another uid, a user namespace. The machine has no Yama; its
/// rules are checked by CulpritCoreTests/PtraceAccessTests.
@Suite struct PtraceAttachTests {
  /// Runs culprit's ptrace-attach probe as JSON and returns the probe, checking the schema.
  func ptraceProbe(jail: [String] = [], command: [String]? = nil) throws -> (probe: [String: Any], result: RunResult) {
    let result = try command.map { try run($0) } ?? culprit(["--format", "json", "--only", "ptrace-attach"], jail: jail)
    #expect(try schemaErrors(result.stdout) == [], "\(result.stdout)")
    let probe = try #require(try result.probes()["ptrace-attach"], "stderr: \(result.stderr)")
    return (probe, result)
  }

  func facts(_ probe: [String: Any]) throws -> [String: Any] { try #require(probe["facts"] as? [String: Any]) }

  func target(_ probe: [String: Any], _ name: String) throws -> [String: Any] {
    let targets = try #require(try facts(probe)["targets"] as? [String: Any])
    return try #require(targets[name] as? [String: Any], "no target \(name) in \(targets)")
  }

  @Test func attachesToEveryTargetWithoutRestrictions() throws {
    let (probe, result) = try ptraceProbe()
    #expect(result.status == 0)
    #expect(probe["status"] as? String == "ok", "\(probe)")
    for name in ["child", "non_descendant", "non_dumpable", "other_uid"] {
      let entry = try target(probe, name)
      #expect(entry["result"] as? String == "attached", "\(name): \(entry)")
      #expect(entry["detached"] as? Bool == true, "\(name): \(entry)")
    }
    // The sibling is the tracer of the non-descendant attempt, and it is not the child's parent.
    #expect(try target(probe, "non_descendant")["tracer_pid"] as? Int != target(probe, "child")["tracer_pid"] as? Int)
    let check = try #require(try facts(probe)["seccomp_check"] as? [String: Any])
    #expect(check["errno"] as? String == "ESRCH")
    #expect(check["filtered"] as? Bool == false)
  }

  @Test func targetsThatCouldNotBeMadeAreNotClaimedToWork() throws {
    // pids.max 3: culprit, the probe's child and its first target. The sibling tracer and the
    // other targets cannot be forked, so the summary must not say attaching to them works.
    let cgroup = try TestCgroup(controller: "pids", name: "ptrace3")
    try cgroup.write("pids.max", "3")
    let (probe, _) = try ptraceProbe(jail: ["--cgroup", cgroup.path])
    #expect(probe["status"] as? String == "ok", "\(probe)")
    #expect(try target(probe, "child")["result"] as? String == "attached")
    #expect(try target(probe, "non_descendant")["result"] as? String == "not_run")
    let summary = try #require(probe["summary"] as? String)
    #expect(summary.hasPrefix("ptrace attach works: to a child;"), "\(summary)")
    #expect(!summary.contains("to a process that is not a descendant and"), "\(summary)")
    #expect(summary.contains("not tried, because fork failed with EAGAIN: a process that is not a descendant"), "\(summary)")
  }

  @Test func aFilterKillingPtraceIsSeccompAndCulpritSurvives() throws {
    let (probe, result) = try ptraceProbe(jail: ["--seccomp-rule", "ptrace=kill_process"])
    #expect(result.status == 1, "blocked is at --fail-on's default level: \(result.stderr)")
    #expect(probe["status"] as? String == "blocked")
    #expect(probe["layer"] as? String == "seccomp")
    #expect(try facts(probe)["signal"] as? String == "SIGSYS")
    let step = try #require(try facts(probe)["last_step"] as? String)
    #expect(step.contains("PTRACE_PEEKUSER"), "the kill is attributed to the call: \(step)")
    #expect((probe["hint"] as? String)?.contains("SCMP_ACT_ALLOW") == true)
  }

  @Test func aFilterTrappingPtraceIsSeccomp() throws {
    let (probe, _) = try ptraceProbe(jail: ["--seccomp-rule", "ptrace=trap"])
    #expect(probe["status"] as? String == "blocked")
    #expect(probe["layer"] as? String == "seccomp")
    #expect((probe["summary"] as? String)?.contains("traps ptrace") == true, "\(probe)")
  }

  @Test func aFilterAnsweringEPERMIsToldFromTheKernelByTheESRCHCheck() throws {
    let (probe, _) = try ptraceProbe(jail: ["--seccomp-rule", "ptrace=errno:EPERM"])
    #expect(probe["status"] as? String == "blocked")
    #expect(probe["layer"] as? String == "seccomp")
    let check = try #require(try facts(probe)["seccomp_check"] as? [String: Any])
    #expect(check["errno"] as? String == "EPERM")
    #expect(check["filtered"] as? Bool == true)
    #expect(try target(probe, "child")["errno"] as? String == "EPERM")
    #expect(try target(probe, "child")["layer"] as? String == "seccomp")
  }

  @Test func withoutCapSysPtraceOnlyOtherUidsAndNonDumpableTargetsAreRefused() throws {
    let (probe, _) = try ptraceProbe(jail: ["--drop-caps", "CAP_SYS_PTRACE"])
    // Same uid, dumpable, no Yama: a debugger attaches to the app, as under Docker's defaults.
    #expect(probe["status"] as? String == "ok", "\(probe)")
    #expect(try target(probe, "child")["result"] as? String == "attached")
    #expect(try target(probe, "non_descendant")["result"] as? String == "attached")
    for name in ["non_dumpable", "other_uid"] {
      let entry = try target(probe, name)
      #expect(entry["result"] as? String == "refused", "\(name): \(entry)")
      #expect(entry["errno"] as? String == "EPERM")
      #expect(entry["layer"] as? String == "capabilities")
    }
    let evidence = try #require(probe["evidence"] as? [String])
    #expect(evidence.contains { $0.contains("uids or gids differ") }, "\(evidence)")
    #expect(evidence.contains { $0.contains("not dumpable") }, "\(evidence)")
    #expect((probe["hint"] as? String)?.contains("--cap-add SYS_PTRACE") == true)
    #expect(try facts(probe)["cap_sys_ptrace"] as? Bool == false)
  }

  @Test func asAnotherUserWithoutCapabilities() throws {
    let (probe, _) = try ptraceProbe(jail: ["--user", "1000"])
    #expect(probe["status"] as? String == "ok", "\(probe)")
    #expect(try target(probe, "child")["result"] as? String == "attached")
    #expect(try target(probe, "non_descendant")["result"] as? String == "attached")
    #expect(try target(probe, "non_dumpable")["layer"] as? String == "capabilities")
    let other = try target(probe, "other_uid")
    #expect(other["result"] as? String == "not_run")
    #expect((other["reason"] as? String)?.contains("CAP_SETUID") == true)
  }

  @Test func inAUserNamespace() throws {
    // Root of a new user namespace holds CAP_SYS_PTRACE there: everything attaches, but no
    // other uid is mapped.
    let (probe, _) = try ptraceProbe(
      command: ["/usr/bin/unshare", "-n", "-U", "-r", Binaries.culprit, "--format", "json", "--only", "ptrace-attach"])
    #expect(probe["status"] as? String == "ok", "\(probe)")
    #expect(try target(probe, "non_dumpable")["result"] as? String == "attached")
    let other = try target(probe, "other_uid")
    #expect(other["result"] as? String == "not_run")
    #expect((other["reason"] as? String)?.contains("not mapped") == true, "\(other)")
  }

  @Test(arguments: [
    [], ["--seccomp-rule", "ptrace=kill_process"], ["--drop-caps", "CAP_SYS_PTRACE"],
    // kill(2) is first called by the probe's process while its target lives (collecting the
    // sibling tracer), so the probe dies there and its target must die of PR_SET_PDEATHSIG;
    // culprit itself dies later, at its own kill(2).
    ["--seccomp-rule", "kill=kill_process"],
  ])
  func leavesNoProcessBehind(jail: [String]) throws {
    // In a pid namespace of its own, whatever culprit leaves behind is re-parented to the
    // shell and shows in ps.
    let jailed = jail.isEmpty ? "" : "\(Binaries.testkit) jail \(jail.joined(separator: " ")) -- "
    let script = "\(jailed)\(Binaries.culprit) --only ptrace-attach --format json > /dev/null; ps -e -o comm="
    let result = try run(["/usr/bin/unshare", "-n", "-p", "-f", "--mount-proc", "/bin/sh", "-c", script])
    let left = result.stdout.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
    #expect(left.sorted() == ["ps", "sh"], "left behind: \(left); stderr: \(result.stderr)")
  }

  @Test func isListedAfterLsmFollowedByMknod() throws {
    let ids = try run([Binaries.culprit, "--list"]).stdout.split(separator: "\n").map { String($0.split(separator: " ")[0]) }
    let lsm = try #require(ids.firstIndex(of: "lsm"))
    let ptrace = try #require(ids.firstIndex(of: "ptrace-attach"))
    let mknod = try #require(ids.firstIndex(of: "mknod"))
    #expect(lsm < ptrace && ptrace < mknod)
  }
}
