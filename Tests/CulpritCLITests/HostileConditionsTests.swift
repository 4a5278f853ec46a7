import Foundation
import Testing

/// culprit under hostile conditions (issue 10, items 1–9), each reproduced for real: a seccomp
/// filter refusing one of culprit's own calls, tiny rlimits (prlimit), a --timeout too short
/// for the probes, no /proc, signals in the middle of a run, reports with impossible uids.
@Suite struct HostileConditionsTests {
  /// No Swift backtracer: where wait4 or ptrace is refused it could only hang on a crash.
  static let environment: [String: String] = {
    var env = ProcessInfo.processInfo.environment
    env["SWIFT_BACKTRACE"] = "enable=no"
    return env
  }()

  /// The static binary needs none of what a dynamic one's loader needs (mmap, openat of its
  /// libraries, descriptors): the conditions only it can survive are tested on it alone.
  static let culpritIsStatic: Bool = {
    guard let data = FileManager.default.contents(atPath: Binaries.culprit), data.count > 64 else { return false }
    // An ELF executable with a PT_INTERP program header is dynamically linked.
    let bytes = [UInt8](data.prefix(1 << 16))
    func u64(_ at: Int) -> Int { (0..<8).reduce(0) { $0 | Int(bytes[at + $1]) << (8 * $1) } }
    func u16(_ at: Int) -> Int { Int(bytes[at]) | Int(bytes[at + 1]) << 8 }
    let phoff = u64(0x20), phentsize = u16(0x36), phnum = u16(0x38)
    for index in 0..<phnum {
      let at = phoff + index * phentsize
      guard at + 4 <= bytes.count else { return false }
      if bytes[at] == 3 && bytes[at + 1] == 0 && bytes[at + 2] == 0 && bytes[at + 3] == 0 { return false }
    }
    return true
  }()

  static let childProbes = ["thread", "getaddrinfo", "ptrace-attach", "mknod", "syscalls"]

  func probes(_ result: RunResult) throws -> [String: [String: Any]] {
    #expect(try schemaErrors(result.stdout) == [], "\(result.stdout.prefix(300))")
    return try result.probes()
  }

  // MARK: 1. A call culprit itself needs is refused

  /// Each call, the probes that need it; the others must still give their own verdicts.
  @Test(arguments: [
    ("wait4", ["getaddrinfo", "ptrace-attach", "syscalls"]),
    ("getppid", childProbes),
    ("getpid", childProbes),
    ("kill", ["ptrace-attach"]),
    ("pipe2", ["ptrace-attach"]),
  ])
  func aRefusedCallOfCulpritsOwnIsNeverBlamedOnTheContainer(call: String, affected: [String]) throws {
    let result = try culprit(
      ["--format", "json", "--offline"], jail: ["--seccomp-rule", "\(call)=errno:EPERM"], environment: Self.environment, limit: 40)
    #expect(result.status == 0, "exit \(result.status): \(result.stderr)")
    let probes = try probes(result)
    for id in Self.childProbes {
      let probe = try #require(probes[id])
      let summary = probe["summary"] as? String ?? ""
      #expect(probe["status"] as? String != "error", "\(id) calls itself a culprit bug: \(summary)")
      if affected.contains(id) {
        #expect(probe["status"] as? String == "skipped", "\(id): \(probe)")
        #expect(probe["layer"] == nil || probe["layer"] is NSNull, "\(id) names a layer for culprit's own call")
        #expect(summary.hasPrefix("culprit could not run this probe: seccomp refuses `\(call)`, which culprit needs to"), "\(id): \(summary)")
        #expect((probe["facts"] as? [String: Any])?["culprit_call"] as? String == call)
      } else {
        #expect(!summary.contains("`\(call)`"), "\(id) does not need \(call): \(summary)")
        #expect(probe["status"] as? String == "ok" || id == "getaddrinfo", "\(id): \(summary)")
      }
    }
  }

  /// Calls that fail inside glibc, where culprit cannot see them (a futex abort, a file the
  /// resolver could not read): the seccomp oracle names them, asked without executing them.
  @Test(arguments: [("futex", ["thread", "getaddrinfo"]), ("lseek", ["getaddrinfo"])])
  func theOracleNamesACallThatFailsInsideGlibc(call: String, affected: [String]) throws {
    let result = try culprit(
      ["--format", "json", "--offline"], jail: ["--seccomp-rule", "\(call)=errno:EPERM"], environment: Self.environment, limit: 40)
    #expect(result.status == 0, "exit \(result.status): \(result.stderr)")
    let probes = try probes(result)
    for id in affected {
      let probe = try #require(probes[id])
      // Without contention a thread's join needs no futex wait: a thread probe that worked
      // keeps its verdict (ok); one that failed is culprit's failure, never the container's.
      if call == "futex" && ["ok", "degraded"].contains(probe["status"] as? String) && probe["layer"] as? String != "seccomp" { continue }
      #expect(probe["status"] as? String == "skipped", "\(id): \(probe)")
      #expect((probe["summary"] as? String)?.hasPrefix("culprit could not run this probe: seccomp refuses `\(call)`") == true, "\(id): \(probe)")
      let facts = try #require(probe["facts"] as? [String: Any])
      #expect(facts["oracle_answer"] as? String == "EPERM", "\(id): \(facts)")
    }
    for id in ["ptrace-attach", "mknod", "syscalls"] {
      #expect(probes[id]?["status"] as? String == "ok", "\(id): \(probes[id] ?? [:])")
    }
  }

  /// A KILL or TRAP on a call of culprit's own ends the probe process before it can say
  /// anything: the step it was in says whose call it was.
  @Test(arguments: ["kill", "trap"])
  func aKilledCallOfCulpritsOwnIsNotTheProbes(action: String) throws {
    let result = try culprit(["--format", "json"], jail: ["--seccomp-rule", "getppid=\(action)"], environment: Self.environment)
    let probes = try probes(result)
    for id in Self.childProbes {
      let probe = try #require(probes[id])
      #expect(probe["status"] as? String == "skipped", "\(id): \(probe)")
      #expect((probe["summary"] as? String)?.hasPrefix("culprit could not run this probe: seccomp refuses `getppid`") == true, "\(id): \(probe)")
    }
    #expect(result.status == 0)
  }

  /// A KILL on a call culprit's own process makes would end culprit itself halfway through a
  /// run; its start-up canary (a child) finds it first. A call only the runner needs leaves the
  /// in-process probes running; any other is exit 3, said.
  @Test(arguments: ["wait4", "kill", "ppoll", "rt_sigaction"])
  func aKillOnTheRunnersOwnCallLeavesTheReadingProbes(call: String) throws {
    let result = try culprit(["--format", "json"], jail: ["--seccomp-rule", "\(call)=kill_process"], environment: Self.environment)
    #expect(result.status == 0, "exit \(result.status): \(result.stderr)")
    let probes = try probes(result)
    #expect(probes["capabilities"]?["status"] as? String == "info")
    for id in Self.childProbes {
      let summary = probes[id]?["summary"] as? String ?? ""
      #expect(summary.hasPrefix("culprit could not run this probe: seccomp refuses `\(call)`"), "\(id): \(summary)")
    }
  }

  @Test func aKillOnACallEveryPartNeedsIsExitThreeSaid() throws {
    let result = try culprit(["--format", "json"], jail: ["--seccomp-rule", "uname=kill_process"], environment: Self.environment)
    #expect(result.status == 3)
    #expect(result.stdout.isEmpty)
    #expect(result.stderr.contains("culprit cannot run here: seccomp kills (or traps) `uname`"), "\(result.stderr)")
  }

  /// newfstatat is how glibc's fstat reaches the kernel; a dynamic loader cannot start without it.
  @Test(.enabled(if: culpritIsStatic)) func withoutNewfstatatGetaddrinfoSaysWhoseCallItIs() throws {
    let result = try culprit(["--format", "json"], jail: ["--seccomp-rule", "newfstatat=errno:EPERM"], environment: Self.environment)
    let probe = try #require(try probes(result)["getaddrinfo"])
    #expect((probe["summary"] as? String)?.hasPrefix("culprit could not run this probe: seccomp refuses `newfstatat`") == true, "\(probe)")
    #expect(probe["layer"] == nil || probe["layer"] is NSNull)
  }

  /// Without mmap culprit cannot share a page with a probe process; only the static binary
  /// starts at all then (a dynamic loader maps its libraries).
  @Test(.enabled(if: culpritIsStatic)) func withoutMmapTheProbesSaySo() throws {
    let result = try culprit(["--format", "json"], jail: ["--seccomp-rule", "mmap=errno:EPERM"], environment: Self.environment)
    let probes = try probes(result)
    for id in Self.childProbes {
      let summary = probes[id]?["summary"] as? String ?? ""
      #expect(summary.hasPrefix("culprit could not run this probe: seccomp refuses `mmap`"), "\(id): \(summary)")
      #expect(!summary.contains("fork"), "\(id): \(summary)")
    }
    #expect(result.status == 0, "\(result.stderr)")
  }

  // MARK: 2. RLIMIT_NOFILE

  @Test(.enabled(if: culpritIsStatic), arguments: [4, 8])
  func aTinyDescriptorLimitIsNotAForkFailure(nofile: Int) throws {
    let result = try run(
      ["/usr/bin/prlimit", "--nofile=\(nofile)", "/usr/bin/unshare", "-n", Binaries.culprit, "--format", "json"],
      environment: Self.environment)
    let probes = try probes(result)
    for (id, probe) in probes {
      let text = "\(probe["summary"] ?? "") \(probe["evidence"] ?? "")"
      #expect(!text.contains("fork() returned -1 EMFILE") && !text.contains("fork failed with EMFILE"), "\(id): \(text)")
    }
    #expect(probes["thread"]?["status"] as? String == "ok", "\(probes["thread"] ?? [:])")
    if nofile == 4 {
      // 0, 1, 2 and the probe's directory: opening a node finds no descriptor left.
      let mknod = try #require(probes["mknod"])
      #expect(mknod["status"] as? String == "ok" || mknod["layer"] as? String == "rlimit", "\(mknod)")
      let ptrace = try #require(probes["ptrace-attach"])
      if ptrace["status"] as? String == "skipped" {
        #expect((ptrace["summary"] as? String)?.contains("RLIMIT_NOFILE (4)") == true, "\(ptrace)")
      }
    } else {
      for id in ["mknod", "ptrace-attach", "syscalls"] {
        #expect(probes[id]?["status"] as? String == "ok", "\(probes[id] ?? [:])")
      }
    }
  }

  // MARK: 3. The user's own --timeout

  @Test func aProbeCutByTheUsersTimeoutIsSkippedNeverBlocked() throws {
    for timeout in ["0.05", "0.2"] {
      let names = (0..<50).flatMap { ["--resolve", "name\($0).culprit-test.invalid"] }
      // egress is left out: with no network here it is blocked at once ("no route"), a verdict
      // of its own that says nothing about the timeout.
      let result = try culprit(
        ["--format", "json", "--timeout", timeout, "--only", Self.childProbes.joined(separator: ",")] + names,
        environment: Self.environment)
      #expect(result.status == 0, "--timeout \(timeout): exit \(result.status)")
      let probes = try probes(result)
      for (id, probe) in probes {
        #expect(probe["status"] as? String != "blocked", "--timeout \(timeout): \(id) \(probe["summary"] ?? "")")
        if probe["status"] as? String == "skipped", let summary = probe["summary"] as? String, summary.contains("--timeout") {
          #expect(summary.contains("needs more than --timeout \(timeout) left it"), "\(summary)")
        }
      }
      // What finished within the time gives its verdict (getaddrinfo: degraded, no network
      // here); what did not is skipped.
      for id in Self.childProbes {
        let status = probes[id]?["status"] as? String
        #expect(status == "ok" || status == "skipped" || (id == "getaddrinfo" && status == "degraded"), "\(id): \(probes[id] ?? [:])")
      }
      if timeout == "0.05" {
        // 1 ms for the probes: the sweep of 38 calls and 50 lookups cannot finish.
        #expect(probes["getaddrinfo"]?["status"] as? String == "skipped")
      }
      #expect(result.seconds < 3, "--timeout \(timeout) took \(result.seconds) s")
    }
  }

  // MARK: 4. Arguments where /proc/self/maps cannot be read

  @Test(.enabled(if: culpritIsStatic)) func argumentsAreReadWithoutProc() throws {
    let version = try run(["/usr/bin/prlimit", "--nofile=3", Binaries.culprit, "--version"])
    #expect(version.status == 0)
    #expect(version.stdout == "0.1.0\n", "\(version.stdout.prefix(200))")
    let refused = try culprit(["--version"], jail: ["--seccomp-rule", "openat=errno:EPERM"], environment: Self.environment)
    #expect(refused.stdout == "0.1.0\n", "\(refused.stdout.prefix(200))")
    // The kernel probe only reads: no network to keep away from (unshare is dynamic and
    // cannot start with three descriptors).
    let only = try run(["/usr/bin/prlimit", "--nofile=3", Binaries.culprit, "--format", "json", "--only", "kernel"])
    #expect(try result(only).keys.sorted() == ["kernel"])
  }

  func result(_ run: RunResult) throws -> [String: [String: Any]] { try run.probes() }

  // MARK: 5. diff and impossible uids

  @Test(arguments: ["-1", "4294967296", "1e10"])
  func diffRefusesAnImpossibleUid(uid: String) throws {
    let report = try culprit(["--format", "json", "--only", "kernel"])
    let good = FileManager.default.temporaryDirectory.appendingPathComponent("culprit-c10-\(UUID().uuidString).json").path
    let bad = FileManager.default.temporaryDirectory.appendingPathComponent("culprit-c10-\(UUID().uuidString).json").path
    defer {
      try? FileManager.default.removeItem(atPath: good)
      try? FileManager.default.removeItem(atPath: bad)
    }
    try report.stdout.write(toFile: good, atomically: true, encoding: .utf8)
    let edited = try #require(report.stdout.range(of: #""uid" *: *[0-9]+"#, options: .regularExpression))
    try report.stdout.replacingCharacters(in: edited, with: "\"uid\": \(uid)").write(toFile: bad, atomically: true, encoding: .utf8)
    for args in [[good, bad], [bad, good]] {
      let diff = try run([Binaries.culprit, "diff"] + args)
      #expect(diff.status == 2, "uid \(uid): exit \(diff.status) \(diff.stderr)")
      #expect(diff.stderr.contains("host.uid"), "\(diff.stderr)")
    }
  }

  // MARK: 6. RLIMIT_FSIZE

  @Test func outputPastTheFileSizeLimitIsAToolFailure() throws {
    let result = try run(
      ["/usr/bin/prlimit", "--fsize=2048", "/usr/bin/unshare", "-n", Binaries.culprit, "--format", "json", "--only", "kernel,capabilities,cgroup"])
    #expect(result.status == 3, "exit \(result.status)")
    #expect(result.stderr.contains("cannot write to standard output"), "\(result.stderr)")
    #expect(result.stderr.contains("EFBIG"), "\(result.stderr)")
  }

  // MARK: 7. No /proc

  @Test(.enabled(if: culpritIsStatic)) func runsWithoutProcAndSaysSo() throws {
    let script = "umount -l /proc && exec \(Binaries.culprit) --format json"
    let result = try run(["/usr/bin/unshare", "-n", "-m", "/bin/sh", "-c", script], environment: Self.environment)
    #expect(!result.stderr.contains("Unable to obtain Swift runtime path"), "\(result.stderr)")
    #expect(result.status == 0 || result.status == 1, "exit \(result.status): \(result.stderr)")
    let probes = try probes(result)
    // Every probe `culprit --list` names gives a result.
    let listed = try run([Binaries.culprit, "--list"]).stdout.split(separator: "\n").compactMap { $0.split(separator: " ").first.map(String.init) }
    #expect(Set(probes.keys) == Set(listed), "\(probes.keys.sorted()) vs \(listed)")
    #expect(result.stderr.contains("culprit: note: /proc is not mounted here (/proc/self: ENOENT)"), "\(result.stderr)")
    let seccomp = try #require(probes["seccomp"])
    #expect("\(seccomp["evidence"] ?? "")".contains("/proc/self/status could not be read: ENOENT"), "\(seccomp)")
  }

  // MARK: 8. A small stack limit

  @Test(.enabled(if: culpritIsStatic), arguments: [32, 48, 64])
  func aSmallStackLimitIsRaisedNotACrash(kib: Int) throws {
    let version = try run(["/usr/bin/prlimit", "--stack=\(kib * 1024):unlimited", Binaries.culprit, "--version"])
    #expect(version.status == 0, "ulimit -s \(kib): exit \(version.status) \(version.stderr)")
    let full = try run(["/usr/bin/prlimit", "--stack=\(kib * 1024):unlimited", "/usr/bin/unshare", "-n", Binaries.culprit, "--format", "json"])
    #expect(full.status == 0 || full.status == 1, "ulimit -s \(kib): exit \(full.status) \(full.stderr)")
    #expect(full.stderr.contains("the stack limit (ulimit -s) was \(kib) KiB; culprit raised its soft limit to 1024 KiB"), "\(full.stderr)")
    // Where the hard limit allows no more, culprit says so instead of crashing.
    let hard = try run(["/usr/bin/prlimit", "--stack=\(kib * 1024)", Binaries.culprit, "--version"])
    #expect(hard.status == 3, "hard ulimit -s \(kib): exit \(hard.status)")
    #expect(hard.stderr.contains("stack limit (RLIMIT_STACK, ulimit -s) is \(kib) KiB"), "\(hard.stderr)")
  }

  // MARK: 9. Signals while the mknod probe's nodes exist

  /// strace holds the mknod child in its first statx for 3 s, right after it made its nodes;
  /// culprit then gets the signal. SIGKILL cannot be caught: the child's parent-death signal
  /// removes the nodes then.
  @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/strace")), arguments: [SIGTERM, SIGINT, SIGHUP, SIGKILL])
  func aSignalMidRunLeavesNoNodeBehind(signal: Int32) throws {
    let scratch = "/var/tmp/culprit-c10-signal-\(UUID().uuidString)"
    try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: false)
    chmod(scratch, 0o1777)
    defer { try? FileManager.default.removeItem(atPath: scratch) }
    var environment = Self.environment
    environment["TMPDIR"] = scratch
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/strace")
    process.arguments = [
      "-f", "-o", "/dev/null", "-e", "trace=statx", "-e", "inject=statx:delay_enter=3000000",
      "/usr/bin/unshare", "-n", Binaries.culprit, "--format", "json", "--only", "mknod",
    ]
    process.environment = environment
    process.standardOutput = FileHandle.nullDevice
    process.standardError = FileHandle.nullDevice
    try process.run()
    defer { if process.isRunning { kill(process.processIdentifier, SIGKILL) } }

    // The probe's directory, named after the mknod child, whose parent is culprit.
    var child: Int32?
    let start = Date()
    while child == nil && Date().timeIntervalSince(start) < 20 {
      let names = (try? FileManager.default.contentsOfDirectory(atPath: scratch)) ?? []
      if let name = names.first(where: { $0.hasPrefix(".culprit-mknod-") }),
        let nodes = try? FileManager.default.contentsOfDirectory(atPath: scratch + "/" + name), nodes.count == 3
      {
        child = Int32(name.dropFirst(".culprit-mknod-".count))
      }
      usleep(5_000)
    }
    let pid = try #require(child, "the mknod probe made no nodes in \(scratch)")
    let stat = try String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8)
    let fields = stat[stat.range(of: ") ")!.upperBound...].split(separator: " ")
    let culpritPID = try #require(Int32(fields[1]))
    #expect(kill(culpritPID, signal) == 0)

    let deadline = Date().addingTimeInterval(15)
    var left = ["not looked"]
    while Date() < deadline {
      left = (try? FileManager.default.contentsOfDirectory(atPath: scratch)) ?? ["unreadable"]
      if left.isEmpty && !process.isRunning { break }
      usleep(20_000)
    }
    #expect(left.isEmpty, "signal \(signal) left \(left) in \(scratch)")
    process.waitUntilExit()
    if signal != SIGKILL {
      // culprit ends by the signal, as it would have without cleaning up.
      #expect(process.terminationReason == .uncaughtSignal && process.terminationStatus == signal, "\(process.terminationReason) \(process.terminationStatus)")
    }
  }
}
