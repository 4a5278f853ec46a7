import Foundation
import Testing

/// The runner with synthetic probes that hang, get killed by seccomp, trap, crash, print
/// garbage or leave a grandchild behind (culprit-testkit runner), and culprit itself where fork
/// fails.
@Suite struct RunnerTests {
  func demo(_ cases: [String], timeoutMilliseconds: Int = 10_000, jail: [String] = []) throws -> (RunResult, [String: [String: Any]]) {
    var command = [Binaries.testkit]
    if !jail.isEmpty { command += ["jail"] + jail + ["--", Binaries.testkit] }
    command += ["runner", "--timeout", String(timeoutMilliseconds)] + cases
    let result = try run(command)
    #expect(result.status == 0, "testkit runner failed: \(result.stderr)")
    return (result, try result.probes())
  }

  @Test func everyEndingBecomesAVerdictAndTheRunnerSurvives() throws {
    let (result, probes) = try demo(["ok", "inprocess", "kill", "trap", "crash", "garbage"])
    #expect(probes["ok"]?["status"] as? String == "ok")
    #expect(probes["inprocess"]?["status"] as? String == "ok")

    let kill = try #require(probes["kill"])
    #expect(kill["status"] as? String == "blocked")
    #expect(kill["layer"] as? String == "seccomp")
    #expect((kill["summary"] as? String)?.contains("SIGSYS") == true)
    #expect((kill["evidence"] as? [String])?.first?.contains("getppid() under a filter that kills it") == true)

    let trap = try #require(probes["trap"])
    #expect(trap["status"] as? String == "blocked")
    #expect(trap["layer"] as? String == "seccomp")
    let trapFacts = try #require(trap["facts"] as? [String: Any])
    #expect(trapFacts["trap_syscall"] as? Int == 110, "getppid is 110 on x86_64")

    let crash = try #require(probes["crash"])
    #expect(crash["status"] as? String == "error")
    #expect((crash["summary"] as? String)?.contains("SIGSEGV") == true)
    #expect(!result.stderr.contains("Backtrac"), "a crashing child printed a backtrace: \(result.stderr)")

    #expect(probes["garbage"]?["status"] as? String == "error")
    #expect(try schemaErrors(result.stdout) == [])
  }

  @Test func aHangIsCutAtItsDeadlineAndNamesItsStep() throws {
    // "hang-short" has a budget of its own of 800 ms, well inside the run's 3 s.
    let (result, probes) = try demo(["hang-short", "ok"], timeoutMilliseconds: 3000)
    let hang = try #require(probes["hang-short"])
    #expect(hang["status"] as? String == "blocked")
    #expect((hang["summary"] as? String)?.contains("sleeping forever") == true)
    #expect(probes["ok"]?["status"] as? String == "ok")
    #expect(result.seconds < 2.5, "the run took \(result.seconds) s for a 0.8 s budget")
  }

  @Test func aProbeCutByTheRunsTimeoutIsSkippedNotBlocked() throws {
    // "hang" has a budget of 5 s; --timeout 1.5 ends it first: nothing was found.
    let (result, probes) = try demo(["hang", "ok"], timeoutMilliseconds: 1500)
    let hang = try #require(probes["hang"])
    #expect(hang["status"] as? String == "skipped")
    #expect(hang["summary"] as? String == "Not finished: this probe needs more than --timeout 1.5 left it")
    #expect(probes["ok"]?["status"] as? String == "ok")
    #expect(result.seconds < 3, "the run took \(result.seconds) s for a 1.5 s timeout")
  }

  @Test func nothingIsLeftBehind() throws {
    let (_, probes) = try demo(["grandchild", "hang"], timeoutMilliseconds: 800)
    let facts = try #require(probes["grandchild"]?["facts"] as? [String: Any])
    let pid = try #require(facts["grandchild"] as? Int)
    #expect(!FileManager.default.fileExists(atPath: "/proc/\(pid)"), "grandchild \(pid) survived the run")
  }

  @Test func whenForkFailsTheReportIsStillMade() throws {
    let cgroup = try TestCgroup(controller: "pids")
    try cgroup.write("pids.max", "1")
    let (result, probes) = try demo(["ok", "inprocess"], jail: ["--cgroup", cgroup.path])
    let run = try #require(try result.json()["run"] as? [String: Any])
    #expect(run["forkWorked"] as? Bool == false)
    let skipped = try #require(probes["ok"])
    #expect(skipped["status"] as? String == "skipped")
    #expect((skipped["summary"] as? String)?.contains("EAGAIN") == true)
    #expect((skipped["evidence"] as? [String])?.contains { $0.contains("pids.max 1") } == true)
    #expect(probes["inprocess"]?["status"] as? String == "ok")
    // The pids controller refused every fork: the first wave's and the second wave's retry.
    let refusals = try cgroup.read("pids.events").split(separator: " ").last.flatMap { Int($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
    #expect((refusals ?? 0) >= 1)
  }

  @Test func probesWaitTheirTurnWhenOnlyOneChildFits() throws {
    // pids.max 2: culprit and one child. The pids headroom is below Runner.parallelHeadroom, so
    // the probes run one at a time from the start instead of being skipped, and no fork fails.
    let cgroup = try TestCgroup(controller: "pids")
    try cgroup.write("pids.max", "2")
    let (result, probes) = try demo(["ok", "inprocess", "grandchild", "ok2"], jail: ["--cgroup", cgroup.path])
    let run = try #require(try result.json()["run"] as? [String: Any])
    #expect(run["forkWorked"] as? Bool == true)
    #expect(probes["ok"]?["status"] as? String == "ok")
    #expect(probes["ok2"]?["status"] as? String == "ok", "the second wave ran it: \(probes["ok2"] ?? [:])")
    #expect(probes["inprocess"]?["status"] as? String == "ok")
  }

  @Test func aSmallPidsLimitRunsTheChildrenOneAtATime() throws {
    // pids.max 3: culprit, a probe child, and one task more. All at once, "hold" would keep
    // its task while "fork" needs one, and "fork" would fail; one at a time, both fit, every time.
    let cgroup = try TestCgroup(controller: "pids")
    try cgroup.write("pids.max", "3")
    let (result, probes) = try demo(["hold", "fork"], jail: ["--cgroup", cgroup.path])
    #expect(probes["fork"]?["status"] as? String == "ok", "\(probes["fork"] ?? [:])")
    #expect(probes["hold"]?["status"] as? String == "ok")
    let run = try #require(try result.json()["run"] as? [String: Any])
    #expect(run["forkWorked"] as? Bool == true, "no fork was refused")
  }

  @Test func culpritRunsWherePidsMaxIsOne() throws {
    let cgroup = try TestCgroup(controller: "pids")
    try cgroup.write("pids.max", "1")
    let result = try culprit(["--format", "json"], jail: ["--cgroup", cgroup.path])
    #expect(result.status == 0 || result.status == 1, "\(result.stderr)")
    #expect(try schemaErrors(result.stdout) == [])
    #expect(try result.probes()["capabilities"]?["status"] as? String == "info")
  }

  @Test func culpritCreatesNoThreadOfItsOwn() throws {
    // glibc ≥ 2.34 creates every thread with clone3; fork uses clone. Killing the process on
    // clone3 proves culprit's own process never creates a thread (probe children that do are
    // reported, not fatal).
    let result = try culprit(["--format", "json"], jail: ["--seccomp-rule", "clone3=kill_process"])
    #expect(result.status == 0 || result.status == 1, "exit \(result.status): \(result.stderr)")
    #expect(try schemaErrors(result.stdout) == [])
  }
}
