import Foundation
import Testing

/// The thread probe under real seccomp filters, a real pids cgroup and a real RLIMIT_NPROC.
@Suite struct ThreadProbeTests {
  func thread(jail: [String] = []) throws -> (RunResult, [String: Any]) {
    let result = try culprit(["--format", "json", "--only", "thread"], jail: jail)
    #expect(try schemaErrors(result.stdout) == [], "stderr: \(result.stderr)")
    return (result, try result.probe("thread"))
  }

  @Test func unrestrictedThreadsReachTheKernel() throws {
    let (result, probe) = try thread()
    #expect(probe["status"] as? String == "ok")
    #expect(probe.fact("clone3", "answer") as? String == "kernel")
    #expect(probe.fact("clone3", "errno") as? String == "EINVAL")
    #expect(probe.fact("clone", "answer") as? String == "kernel")
    #expect(probe.fact("pthread_create", "ran") as? Bool == true)
    #expect(probe.fact("own_libc_uses_clone3") as? Bool == true)
    #expect(result.seconds < 5)
  }

  @Test func clone3AnsweringEPERMBlocksThreads() throws {
    let (result, probe) = try thread(jail: ["--seccomp-rule", "clone3=errno:EPERM"])
    #expect(result.status == 1, "blocked fails the run by default")
    #expect(probe["status"] as? String == "blocked")
    #expect(probe["layer"] as? String == "seccomp")
    #expect(probe.fact("clone3", "answer") as? String == "seccomp-errno")
    #expect(probe.fact("clone3", "errno") as? String == "EPERM")
    #expect(probe.fact("pthread_create", "error") as? String == "EPERM")
    #expect(probe.fact("clone", "answer") as? String == "kernel")
    let hint = try #require(probe["hint"] as? String)
    #expect(hint.contains("\"errnoRet\": 38") && hint.contains("20.10.10"))
  }

  @Test func clone3AnsweringENOSYSIsFine() throws {
    let (result, probe) = try thread(jail: ["--seccomp-rule", "clone3=errno:38"])
    #expect(result.status == 0)
    #expect(probe["status"] as? String == "ok")
    #expect(probe.fact("clone3", "answer") as? String == "seccomp-enosys")
    #expect(probe.fact("pthread_create", "ran") as? Bool == true)
    #expect((probe["summary"] as? String)?.contains("falls back to clone") == true)
  }

  @Test(arguments: [("kill_process", "seccomp-kill"), ("trap", "seccomp-trap")])
  func clone3KilledOrTrapped(action: String, answer: String) throws {
    let (_, probe) = try thread(jail: ["--seccomp-rule", "clone3=\(action)"])
    #expect(probe["status"] as? String == "blocked")
    #expect(probe["layer"] as? String == "seccomp")
    #expect(probe.fact("signal") as? String == "SIGSYS")
    #expect(probe.fact("clone3", "answer") as? String == answer)
    #expect(probe.fact("last_step") as? String == "clone3(NULL, 0)")
  }

  @Test func cloneRefusedWhileClone3Works() throws {
    // culprit's own fork is a clone call, so it cannot create the probe's child either.
    let (result, probe) = try thread(jail: ["--seccomp-rule", "clone=errno:EPERM"])
    #expect(probe["status"] as? String == "blocked")
    #expect(probe["layer"] as? String == "seccomp")
    #expect(probe.fact("fork_errno") as? String == "EPERM")
    #expect((try result.json()["run"] as? [String: Any])?["forkWorked"] as? Bool == false)
  }

  /// culprit's own two tasks fill pids.max 2, so its probe thread gets EAGAIN; the verdict is
  /// about a program running alone, which can still start one thread (issue 8, defect 6).
  @Test func pidsLimitTwoIsAboutTheProgramNotCulpritsOverhead() throws {
    let cgroup = try TestCgroup(controller: "pids")
    try cgroup.write("pids.max", "2")
    let (_, probe) = try thread(jail: ["--cgroup", cgroup.path])
    #expect(probe["status"] as? String == "degraded")
    #expect(probe["layer"] as? String == "cgroup-pids")
    #expect(probe.fact("room_for_lone_program") as? Int == 1)
    #expect(probe.fact("image_affected") as? Bool == false)
    #expect((probe["summary"] as? String)?.hasPrefix("Threads start, but only one at a time") == true)
    #expect(probe.fact("pthread_create", "error") as? String == "EAGAIN")
    let before = try #require(probe.fact("pids", "events_max_before") as? Int)
    let after = try #require(probe.fact("pids", "events_max_after") as? Int)
    #expect(after == before + 1)
    #expect(probe.fact("pids", "max") as? Int == 2)
    // Both tasks are culprit's (its process and the probe's child): a program alone would have
    // room for one thread.
    let evidence = try #require(probe["evidence"] as? [String])
    #expect(evidence.contains { $0.hasPrefix("2 of the 2 tasks in \(cgroup.path) are culprit's own") && $0.contains("room for 1 more task besides itself") }, "\(evidence)")
    #expect(try cgroup.read("cgroup.procs").isEmpty)
  }

  @Test func pidsLimitOneStopsCulpritsOwnFork() throws {
    let cgroup = try TestCgroup(controller: "pids")
    try cgroup.write("pids.max", "1")
    let (result, probe) = try thread(jail: ["--cgroup", cgroup.path])
    #expect(probe["status"] as? String == "blocked")
    #expect(probe["layer"] as? String == "cgroup-pids")
    #expect(probe.fact("fork_errno") as? String == "EAGAIN")
    #expect((probe["evidence"] as? [String])?.contains { $0.contains("pids.current is 1 of pids.max 1") } == true)
    #expect((probe["evidence"] as? [String])?.contains { $0.contains("are culprit's own") && $0.contains("no room for another task either") } == true)
    #expect(probe.fact("room_for_lone_program") as? Int == 0)
    #expect((try result.json()["run"] as? [String: Any])?["forkWorked"] as? Bool == false)
  }

  @Test func rlimitNprocForAnUnprivilegedUser() throws {
    // A uid of its own, so that no other process on the machine counts against the limit.
    let uid = 40_000 + Int(getpid() % 10_000)
    let (_, probe) = try thread(jail: ["--rlimit", "nproc=2", "--user", "\(uid)"])
    #expect(probe["status"] as? String == "blocked")
    #expect(probe["layer"] as? String == "rlimit")
    #expect(probe.fact("nproc_soft") as? Int == 2)
    #expect(probe.fact("pthread_create", "error") as? String == "EAGAIN")
  }
}
