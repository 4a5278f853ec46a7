import Foundation
import Testing

/// `culprit trace` on real programs from Debian under real restrictions: seccomp filters and
/// profiles installed by the test kit, capabilities really dropped, real cgroups, network
/// namespaces. Each checks the layer, the call, the errno and the failure that mattered.
@Suite(.serialized) struct TraceTests {
  static let isRoot = getuid() == 0
  static func has(_ path: String) -> Bool { FileManager.default.isExecutableFile(atPath: path) }

  struct Traced {
    var result: RunResult
    var report: [String: Any]
    var trace: [String: Any]
    var findings: [[String: Any]]
    var json: String

    var status: Int32 { result.status }
    var mattered: [String: Any]? {
      (trace["mattered"] as? Int).map { findings[$0] }
    }
    func finding(_ syscall: String) -> [String: Any]? { findings.first { $0["syscall"] as? String == syscall } }
    var tracing: [String: Any] { trace["tracing"] as? [String: Any] ?? [:] }
  }

  /// Runs `culprit trace --format json --output FILE [options] -- command` inside `wrap` (no
  /// network by default) and under the test kit's `jail` restrictions.
  func trace(
    _ command: [String], jail: [String] = [], wrap: [String] = ["/usr/bin/unshare", "-n"], options: [String] = [],
    limit: Double = 60
  ) throws -> Traced {
    let output = FileManager.default.temporaryDirectory.appendingPathComponent("culprit-trace-\(UUID().uuidString).json").path
    defer { try? FileManager.default.removeItem(atPath: output) }
    var arguments = wrap
    if !jail.isEmpty { arguments += [Binaries.testkit, "jail"] + jail + ["--"] }
    arguments += [Binaries.culprit, "trace", "--format", "json", "--output", output] + options
    if !command.isEmpty { arguments += ["--"] + command }
    let result = try run(arguments, limit: limit)
    let text = try String(contentsOfFile: output, encoding: .utf8)
    let report = try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any], "\(result.stderr)")
    let trace = try #require(report["trace"] as? [String: Any])
    return Traced(result: result, report: report, trace: trace, findings: trace["findings"] as? [[String: Any]] ?? [], json: text)
  }

  /// The Concourse 7.13 release candidates' profile (no clone3 rule, EPERM default, faccessat2
  /// named), as CI finds it beside the clone; with `ptrace` added, so that culprit can trace
  /// under it (the real profile lacks ptrace, as concourse#9174 found).
  static var concourseRC: String {
    Binaries.packageRoot.appendingPathComponent("../shared/data/seccomp-profiles/concourse-7.13-rc.json").standardizedFileURL.path
  }

  static func concourseRCWithPtrace() throws -> String {
    let data = try Data(contentsOf: URL(fileURLWithPath: concourseRC))
    var profile = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
    var syscalls = try #require(profile["syscalls"] as? [[String: Any]])
    syscalls.append(["names": ["ptrace"], "action": "SCMP_ACT_ALLOW"])
    profile["syscalls"] = syscalls
    let path = FileManager.default.temporaryDirectory.appendingPathComponent("culprit-c12-rc-ptrace-\(UUID().uuidString).json").path
    try JSONSerialization.data(withJSONObject: profile).write(to: URL(fileURLWithPath: path))
    return path
  }

  static var concourseProfileThere: Bool { FileManager.default.fileExists(atPath: concourseRC) }

  // MARK: seccomp

  @Test(.enabled(if: isRoot && has("/usr/bin/curl") && concourseProfileThere))
  func curlUnderTheConcourseRCProfileNamesClone3EPERMFromSeccomp() throws {
    let profile = try Self.concourseRCWithPtrace()
    defer { try? FileManager.default.removeItem(atPath: profile) }
    // "vm"-like names are not needed: any name curl must resolve makes it start its resolver
    // thread; localhost it resolves itself, so use a name from /etc/hosts or none at all.
    let t = try trace(["/usr/bin/curl", "-sS", "http://culprit-test.invalid/"], jail: ["--seccomp-profile", profile])
    #expect(t.status == 6, "curl's own exit status passes through: \(t.result.stderr)")
    #expect(t.result.stderr.contains("getaddrinfo() thread failed to start"), "curl's stderr is its own")
    let m = try #require(t.mattered, "\(t.json.prefix(2000))")
    #expect(m["syscall"] as? String == "clone3")
    #expect(m["errno"] as? String == "EPERM")
    #expect(m["layer"] as? String == "seccomp")
    #expect((m["seccomp"] as? [String: Any])?["method"] as? String == "user-notif-oracle", "the exact replay decided")
    #expect((m["reaction"] as? [String: Any])?["kind"] as? String == "gave-up")
    #expect((t.trace["message"] as? [String])?.contains { $0.contains("getaddrinfo() thread failed to start") } == true)
    #expect(t.trace["exitStatus"] as? Int == 6)
    #expect(try schemaErrors(t.json) == [])
  }

  @Test(.enabled(if: isRoot && has("/usr/bin/curl") && concourseProfileThere))
  func underTheRealConcourseRCProfilePtraceIsRefusedBySeccompAndTheProbesRun() throws {
    let t = try trace(["/usr/bin/curl", "-sS", "http://culprit-test.invalid/"], jail: ["--seccomp-profile", Self.concourseRC], limit: 90)
    #expect(t.status == 6, "curl ran untraced and its status passes through: \(t.result.stderr)")
    #expect(t.tracing["traced"] as? Bool == false)
    #expect(t.tracing["layer"] as? String == "seccomp")
    #expect(t.tracing["errno"] as? String == "EPERM")
    let probes = try #require(t.report["probes"] as? [[String: Any]])
    let thread = try #require(probes.first { $0["id"] as? String == "thread" })
    #expect(thread["status"] as? String == "blocked")
    #expect(thread["layer"] as? String == "seccomp")
    #expect(try schemaErrors(t.json) == [])
  }

  @Test(.enabled(if: isRoot && has("/usr/bin/curl")))
  func withoutSeccompForTheOracleTheKernelAnswerDecides() throws {
    // A filter that also refuses seccomp() itself: the USER_NOTIF replay cannot be set up, so
    // the sweep's discriminating call decides, and the verdict says so.
    let t = try trace(["/usr/bin/curl", "-sS", "http://culprit-test.invalid/"], jail: ["--seccomp-rule", "clone3=errno:EPERM", "--seccomp-rule", "seccomp=errno:EPERM"])
    #expect(t.status == 6)
    let m = try #require(t.mattered, "\(t.json.prefix(2000))")
    #expect(m["syscall"] as? String == "clone3")
    #expect(m["layer"] as? String == "seccomp")
    let seccomp = try #require(m["seccomp"] as? [String: Any])
    #expect(seccomp["method"] as? String == "kernel-answer")
    #expect((seccomp["evidence"] as? String)?.contains("exact replay was not available") == true)
  }

  @Test(.enabled(if: isRoot && has("/usr/bin/python3") && concourseProfileThere))
  func pythonThreadingUnderTheSameProfile() throws {
    let profile = try Self.concourseRCWithPtrace()
    defer { try? FileManager.default.removeItem(atPath: profile) }
    let t = try trace(["/usr/bin/python3", "-c", "import threading; t = threading.Thread(target=print); t.start(); t.join()"], jail: ["--seccomp-profile", profile])
    #expect(t.status == 1, "\(t.result.stderr)")
    let m = try #require(t.mattered, "\(t.json.prefix(2000))")
    #expect(m["syscall"] as? String == "clone3")
    #expect(m["layer"] as? String == "seccomp")
    #expect((t.trace["message"] as? [String])?.joined().contains("can't start new thread") == true, "\(t.trace["message"] ?? "")")
  }

  @Test(.enabled(if: isRoot && has("/usr/bin/python3")))
  func clone3ENOSYSIsSurvivedByFallingBackToClone() throws {
    let t = try trace(["/usr/bin/python3", "-c", "import threading; t = threading.Thread(target=print); t.start(); t.join()"], jail: ["--seccomp-rule", "clone3=errno:38"])
    #expect(t.status == 0, "\(t.result.stderr)")
    let f = try #require(t.finding("clone3"))
    #expect(f["errno"] as? String == "ENOSYS")
    #expect(f["layer"] as? String == "seccomp")
    #expect(f["survived"] as? Bool == true)
    let reaction = try #require(f["reaction"] as? [String: Any])
    #expect(reaction["kind"] as? String == "fell-back")
    #expect(reaction["to"] as? String == "clone")
    #expect(reaction["succeeded"] as? Bool == true)
    #expect(t.trace["mattered"] is NSNull, "a survived refusal is not the cause")
  }

  @Test(.enabled(if: isRoot && has("/bin/bash")))
  func faccessat2RefusedWithEPERM() throws {
    // bash's `test -x` is glibc's faccessat(AT_EACCESS), which tries faccessat2 first.
    let t = try trace(["/bin/bash", "-c", "test -x /bin/sh"], jail: ["--seccomp-rule", "faccessat2=errno:EPERM"])
    #expect(t.status == 1)
    let m = try #require(t.mattered, "\(t.json.prefix(2000))")
    #expect(m["syscall"] as? String == "faccessat2")
    #expect(m["errno"] as? String == "EPERM")
    #expect(m["layer"] as? String == "seccomp")
    #expect((m["call"] as? String)?.contains("/bin/sh") == true)
  }

  @Test(.enabled(if: isRoot && has("/usr/bin/python3")))
  func aProgramKilledBySIGSYS() throws {
    let t = try trace(["/usr/bin/python3", "-c", "import os; os.sched_getparam(0)"], jail: ["--seccomp-rule", "sched_getparam=kill_process"])
    #expect(t.status == 128 + 31)
    let m = try #require(t.mattered)
    #expect(m["kind"] as? String == "kill")
    #expect(m["syscall"] as? String == "sched_getparam")
    #expect(m["layer"] as? String == "seccomp")
    #expect(try schemaErrors(t.json) == [])
  }

  @Test(.enabled(if: isRoot && has("/usr/bin/python3")))
  func aTrappedCallNamesSiSyscall() throws {
    let t = try trace(["/usr/bin/python3", "-c", "import os; os.sched_getparam(0)"], jail: ["--seccomp-rule", "sched_getparam=trap"])
    #expect(t.status == 128 + 31)
    let m = try #require(t.mattered)
    #expect(m["syscall"] as? String == "sched_getparam")
    #expect((m["reason"] as? String)?.contains("SYS_SECCOMP") == true)
  }

  @Test(.enabled(if: isRoot && has("/usr/bin/strace")))
  func straceUnderAProfileThatKillsPtrace() throws {
    // A pid namespace, so that strace's own test child does not outlive the test.
    let t = try trace(
      ["/usr/bin/strace", "-p", "1"], jail: ["--seccomp-rule", "ptrace=kill_process"],
      wrap: ["/usr/bin/unshare", "-n", "-p", "-f", "--kill-child"], limit: 90)
    #expect(t.status == 128 + 31, "strace ran untraced and died of SIGSYS: \(t.result.stderr)")
    #expect(t.tracing["traced"] as? Bool == false)
    #expect(t.tracing["layer"] as? String == "seccomp")
    #expect((t.tracing["reason"] as? String)?.contains("kills") == true)
    let probes = try #require(t.report["probes"] as? [[String: Any]])
    #expect(probes.first { $0["id"] as? String == "ptrace-attach" }?["layer"] as? String == "seccomp")
  }

  // MARK: capabilities, cgroups, network

  @Test(.enabled(if: isRoot && has("/usr/bin/mount")))
  func mountWithoutCapSysAdmin() throws {
    let t = try trace(["/usr/bin/mount", "-t", "tmpfs", "none", "/mnt"], jail: ["--drop-caps", "CAP_SYS_ADMIN"], wrap: ["/usr/bin/unshare", "-n", "-m"])
    #expect(t.status == 32)
    let m = try #require(t.mattered, "\(t.json.prefix(2000))")
    #expect(m["syscall"] as? String == "mount")
    #expect(m["errno"] as? String == "EPERM")
    #expect(m["layer"] as? String == "capabilities")
    #expect((m["reason"] as? String)?.contains("CAP_SYS_ADMIN") == true)
  }

  @Test(.enabled(if: isRoot && FileManager.default.fileExists(atPath: "/sys/fs/cgroup/devices/devices.list")))
  func mknodThenCatUnderTheDevicesCgroup() throws {
    let cgroup = try TestCgroup(controller: "devices")
    try cgroup.write("devices.deny", "a")
    for rule in ["c *:* m", "b *:* m", "c 1:3 rwm", "c 5:* rwm", "c 136:* rwm"] { try cgroup.write("devices.allow", rule) }
    let dir = "/var/tmp/culprit-c12-\(UUID().uuidString.prefix(8))"
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: false)
    defer { try? FileManager.default.removeItem(atPath: dir) }
    let t = try trace(["/bin/sh", "-c", "mknod \(dir)/full c 1 7 && cat \(dir)/full"], jail: ["--cgroup", cgroup.path])
    #expect(t.status == 1)
    let m = try #require(t.mattered, "\(t.json.prefix(2000))")
    #expect(m["program"] as? String == "cat")
    #expect(m["syscall"] as? String == "openat")
    #expect(m["errno"] as? String == "EPERM")
    #expect(m["layer"] as? String == "cgroup-devices")
  }

  @Test(.enabled(if: isRoot && FileManager.default.fileExists(atPath: "/sys/fs/cgroup/pids")))
  func shForkingPastAPidsLimit() throws {
    let cgroup = try TestCgroup(controller: "pids")
    try cgroup.write("pids.max", "4")
    let t = try trace(["/bin/sh", "-c", "for i in 1 2 3 4 5 6; do sleep 0.2 & done; wait"], jail: ["--cgroup", cgroup.path])
    #expect(t.status != 0)
    let m = try #require(t.mattered, "\(t.json.prefix(2000))")
    #expect(m["syscall"] as? String == "clone")
    #expect(m["errno"] as? String == "EAGAIN")
    #expect(m["layer"] as? String == "cgroup-pids")
  }

  @Test(.enabled(if: isRoot && has("/bin/bash") && has("/usr/sbin/ip")))
  func connectToALoopbackPortWhereNothingListens() throws {
    let script = "ip link set lo up && exec \"$0\" \"$@\""
    let wrap = ["/usr/bin/unshare", "-n", "/bin/sh", "-c", script]
    let t = try trace(["/bin/bash", "-c", "echo > /dev/tcp/127.0.0.1/9"], wrap: wrap)
    #expect(t.status == 1)
    let m = try #require(t.mattered, "\(t.json.prefix(2000))")
    #expect(m["syscall"] as? String == "connect")
    #expect(m["errno"] as? String == "ECONNREFUSED")
    #expect(m["layer"] as? String == "network")
    #expect((m["call"] as? String)?.contains("127.0.0.1:9") == true)
  }

  @Test(.enabled(if: isRoot && has("/usr/bin/curl") && has("/usr/sbin/ip")))
  func aNonBlockingConnectIsSeenThroughSOError() throws {
    let wrap = ["/usr/bin/unshare", "-n", "/bin/sh", "-c", "ip link set lo up && exec \"$0\" \"$@\""]
    let t = try trace(["/usr/bin/curl", "-sS", "http://127.0.0.1:9/"], wrap: wrap)
    #expect(t.status == 7)
    let m = try #require(t.mattered, "\(t.json.prefix(2000))")
    #expect(m["errno"] as? String == "ECONNREFUSED")
    #expect((m["call"] as? String)?.contains("127.0.0.1:9") == true)
  }

  // MARK: mounts, rlimits, a full filesystem

  /// A wrapper that runs culprit in new network and mount namespaces (mounts private, gone with
  /// them) after `setup`, a shell line that mounts what the case needs at `dir`.
  func mountWrap(_ dir: String, _ setup: String) -> [String] {
    ["/usr/bin/unshare", "-n", "-m", "--propagation", "private", "/bin/sh", "-c", "mkdir -p \(dir) && \(setup) && exec \"$0\" \"$@\""]
  }

  static func scratchDir() -> String { "/var/tmp/culprit-c12-\(UUID().uuidString.prefix(8))" }

  @Test(.enabled(if: isRoot && has("/usr/bin/unshare")))
  func writingToAReadOnlyMountIsTheMount() throws {
    let dir = Self.scratchDir()
    defer { try? FileManager.default.removeItem(atPath: dir) }
    let t = try trace(["/bin/sh", "-c", "echo x > \(dir)/file"], wrap: mountWrap(dir, "mount -t tmpfs -o ro,size=64k culprit-ro \(dir)"))
    #expect(t.status == 2, "\(t.result.stderr)")
    let m = try #require(t.mattered, "\(t.json.prefix(2000))")
    #expect(m["syscall"] as? String == "openat")
    #expect(m["errno"] as? String == "EROFS")
    #expect(m["layer"] as? String == "mount")
    #expect((m["reason"] as? String)?.contains("\(dir) (tmpfs, ro") == true, "\(m)")
  }

  @Test(.enabled(if: isRoot && has("/usr/bin/unshare")))
  func execFromANoexecMountIsTheMount() throws {
    let dir = Self.scratchDir()
    defer { try? FileManager.default.removeItem(atPath: dir) }
    let t = try trace(["/bin/sh", "-c", "\(dir)/true"], wrap: mountWrap(dir, "mount -t tmpfs -o size=4m culprit-x \(dir) && cp /bin/true \(dir)/ && mount -o remount,noexec \(dir)"))
    #expect(t.status == 126, "sh: Permission denied: \(t.result.stderr)")
    let m = try #require(t.mattered, "\(t.json.prefix(2000))")
    #expect(m["syscall"] as? String == "execve")
    #expect(m["errno"] as? String == "EACCES")
    #expect(m["layer"] as? String == "mount")
    #expect((m["reason"] as? String)?.contains("noexec") == true, "\(m)")
  }

  @Test(.enabled(if: isRoot && has("/usr/bin/python3")))
  func tooManyOpenFilesIsTheRlimit() throws {
    let t = try trace(["/bin/sh", "-c", "ulimit -n 16 && exec /usr/bin/python3 -c 'import os\nfor _ in range(64): os.open(\"/dev/null\", os.O_RDONLY)'"])
    #expect(t.status == 1, "\(t.result.stderr)")
    let m = try #require(t.mattered, "\(t.json.prefix(2000))")
    #expect(m["syscall"] as? String == "openat")
    #expect(m["errno"] as? String == "EMFILE")
    #expect(m["layer"] as? String == "rlimit")
    #expect((m["evidence"] as? [String])?.contains { $0.contains("Max open files 16 16") } == true, "\(m)")
  }

  @Test(.enabled(if: isRoot && has("/usr/bin/unshare")))
  func aFullFilesystemIsSaidAndBlamesNoContainerLayer() throws {
    let dir = Self.scratchDir()
    defer { try? FileManager.default.removeItem(atPath: dir) }
    let t = try trace(["/bin/sh", "-c", "head -c 1048576 /dev/zero > \(dir)/fill"], wrap: mountWrap(dir, "mount -t tmpfs -o size=64k culprit-full \(dir)"))
    #expect(t.status == 1, "\(t.result.stderr)")
    let f = try #require(t.findings.first { $0["errno"] as? String == "ENOSPC" }, "\(t.json.prefix(2000))")
    #expect(f["syscall"] as? String == "write")
    #expect(f["layer"] is NSNull, "a full filesystem is no container layer's refusal: \(f)")
    #expect(f["mattered"] as? Bool == true, "head's write is what failed, not retried (its error message goes to fd 2): \(f)")
    #expect((f["call"] as? String)?.contains("\(dir)/fill") == true, "the descriptor's file: \(f)")
    #expect((f["reason"] as? String)?.contains("\(dir) (tmpfs, size=64k) is full") == true, "\(f)")
    #expect((f["evidence"] as? [String])?.contains { $0.contains("0 bytes of 64 KiB free") } == true, "\(f)")
    #expect(try schemaErrors(t.json) == [])
  }

  // MARK: the program's own I/O and status

  @Test(.enabled(if: isRoot))
  func stdoutAndTheExitStatusPassThrough() throws {
    let t = try trace(["/bin/sh", "-c", "echo out; echo err >&2; exit 5"])
    #expect(t.status == 5)
    #expect(t.result.stdout == "out\n")
    #expect(t.result.stderr == "err\n", "with --output the report does not mix with the program's stderr")
    let killed = try trace(["/bin/sh", "-c", "kill -TERM $$"])
    #expect(killed.status == 128 + 15)
    #expect(killed.trace["exitStatus"] as? Int == 143)
  }

  @Test(.enabled(if: isRoot))
  func aCommandThatDoesNotExist() throws {
    let t = try trace(["/nonexistent-culprit-command"])
    #expect(t.status == 127)
    #expect(t.trace["execError"] as? String == "ENOENT")
  }

  @Test(.enabled(if: isRoot))
  func theTimeoutEndsTheCommandAndStillReports() throws {
    let t = try trace(["/bin/sleep", "30"], options: ["--timeout", "0.5"], limit: 20)
    #expect(t.result.seconds < 10)
    #expect((t.trace["stats"] as? [String: Any])?["timedOut"] as? Bool == true)
    #expect(t.status == 128 + 9)
  }

  // MARK: --pid

  @Test(.enabled(if: isRoot && has("/usr/bin/python3")))
  func pidOnAProcessStuckInRead() throws {
    let target = Process()
    target.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
    target.arguments = ["-c", "import os; r, w = os.pipe(); os.read(r, 1)"]
    try target.run()
    defer { kill(target.processIdentifier, SIGKILL); target.waitUntilExit() }
    // Until python has started and blocks in read (0), then a second more.
    for _ in 0..<200 {
      if let line = try? String(contentsOfFile: "/proc/\(target.processIdentifier)/syscall", encoding: .utf8), line.hasPrefix("0 ") { break }
      usleep(50_000)
    }
    usleep(2_500_000)
    let t = try trace([], options: ["--pid", String(target.processIdentifier), "--timeout", "0.5"], limit: 20)
    #expect(t.status == 0)
    let waits = try #require(t.trace["waits"] as? [[String: Any]])
    let wait = try #require(waits.first)
    #expect(wait["syscall"] as? String == "read")
    #expect((wait["descriptor"] as? String)?.contains("pipe:") == true)
    // Stuck for at least 2.5 s: culprit reads both scheduler clocks on the CPU python last ran
    // on, so the figure is that long (a lower bound by IRQ and steal time, under 1 % here).
    let ms = try #require(wait["waitingMs"] as? Int, "\(wait)")
    #expect(ms >= 2000 && ms < 60_000, "\(wait)")
    #expect(t.result.stderr.isEmpty)
    #expect(target.isRunning, "culprit detached and left it running")
    #expect(try schemaErrors(t.json) == [])
  }

  @Test(.enabled(if: isRoot && has("/usr/bin/python3")))
  func pidWhenCulpritMayNotMoveToTheThreadsCPUSaysNoDuration() throws {
    // sched_setaffinity refused (as a cpuset or a filter may): the two scheduler clocks cannot
    // be read on one CPU, so no figure rather than a cross-CPU one.
    let target = Process()
    target.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
    target.arguments = ["-c", "import os; r, w = os.pipe(); os.read(r, 1)"]
    try target.run()
    defer { kill(target.processIdentifier, SIGKILL); target.waitUntilExit() }
    for _ in 0..<200 {
      if let line = try? String(contentsOfFile: "/proc/\(target.processIdentifier)/syscall", encoding: .utf8), line.hasPrefix("0 ") { break }
      usleep(50_000)
    }
    let t = try trace(
      [], jail: ["--seccomp-rule", "sched_setaffinity=errno:EPERM"],
      options: ["--pid", String(target.processIdentifier), "--timeout", "0.5"], limit: 20)
    let wait = try #require((t.trace["waits"] as? [[String: Any]])?.first, "\(t.json.prefix(1500))")
    #expect(wait["syscall"] as? String == "read")
    #expect(wait["waitingMs"] is NSNull, "\(wait)")
    #expect(target.isRunning)
  }

  @Test(.enabled(if: isRoot && has("/usr/bin/python3") && has("/usr/sbin/ip")))
  func pidOnAProcessStuckInConnect() throws {
    // A veth pair whose far end has no address: the SYN goes nowhere, connect blocks.
    let script = """
      ip link set lo up && ip link add c12v0 type veth peer name c12v1 && ip addr add 10.212.0.1/24 dev c12v0 \
      && ip link set c12v0 up && ip link set c12v1 up || exit 99
      /usr/bin/python3 -c 'import socket; socket.socket().connect(("10.212.0.2", 80))' 2>/dev/null &
      i=0; until grep -q '^42 ' /proc/$!/syscall 2>/dev/null || [ $i -ge 200 ]; do sleep 0.05; i=$((i+1)); done
      sleep 2.5
      exec "$0" trace --format json --output "$1" --timeout 0.5 --pid $!
      """
    let output = FileManager.default.temporaryDirectory.appendingPathComponent("culprit-trace-\(UUID().uuidString).json").path
    defer { try? FileManager.default.removeItem(atPath: output) }
    let result = try run(["/usr/bin/unshare", "-n", "-p", "-f", "--kill-child", "--mount-proc", "/bin/sh", "-c", script, Binaries.culprit, output], limit: 30)
    try #require(result.status != 99, "no veth here: \(result.stderr)")
    let text = try String(contentsOfFile: output, encoding: .utf8)
    let report = try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
    let wait = try #require(((report["trace"] as? [String: Any])?["waits"] as? [[String: Any]])?.first)
    #expect(wait["syscall"] as? String == "connect")
    #expect((wait["descriptor"] as? String)?.contains("10.212.0.2:80 (SYN_SENT") == true, "\(wait)")
    let ms = try #require(wait["waitingMs"] as? Int, "\(wait)")
    #expect(ms >= 2000 && ms < 60_000, "stuck 2.5 s before culprit attached: \(wait)")
  }
}
