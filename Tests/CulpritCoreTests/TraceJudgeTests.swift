import Testing

@testable import CulpritCore

/// The trace's pure parts: parsers of what the tracer reads from the tracee and /proc, and the
/// judge's decisions on observations (built the way the tracer records them).
@Suite struct TraceJudgeTests {
  static let facts = TraceSystemFacts(
    kernel: KernelVersion(6, 18), initialUserNamespace: true, devicesList: ["c *:* m", "b *:* m", "c 1:3 rwm"],
    cgroupVersion: .v1, confinement: nil, yamaScope: nil, unprivilegedPortStart: 1024, seccompFilterInstalled: true)

  static func observations(_ failures: [TraceFailure], exit: Int32) -> TraceObservations {
    var o = TraceObservations(mode: .command(["prog"]))
    o.rootPID = 100
    var p = TraceProcess(pid: 100, parent: 1, argv: ["/usr/bin/prog"])
    p.ending = .exited(exit)
    o.processes[100] = p
    o.rootEnding = p.ending
    o.failures = failures
    return o
  }

  static func failure(_ name: String, nr: Int, _ err: Errno, args: [UInt64] = [0, 0, 0, 0, 0, 0], seq: Int = 1, caps: UInt64 = 0x1ff_ffff_ffff) -> TraceFailure {
    var f = TraceFailure(
      pid: 100, tid: 100, call: TraceCall(nr: nr, name: name, args: args), errno: err, atMilliseconds: 1,
      firstSequence: seq, lastSequence: seq)
    f.task = TraceTaskFacts(effective: CapabilitySet(bits: caps), uids: [0, 0, 0, 0], gids: [0, 0, 0, 0], seccompMode: 2, seccompFilters: 1, noNewPrivs: true, label: nil)
    return f
  }

  static let allowed = TraceSeccompVerdict(answer: .allowed, method: .oracle, evidence: "allowed")

  @Test func aFilteredCallIsSeccompAndMattersWhenTheProgramFails() {
    var clone3 = Self.failure("clone3", nr: 435, .notPermitted)
    clone3.reaction = .gaveUp
    let v = TraceJudge.judge(Self.observations([clone3], exit: 6), facts: Self.facts) { _, _ in
      TraceSeccompVerdict(answer: .filtered(.notPermitted), method: .oracle, evidence: "EPERM")
    }
    #expect(v.findings.count == 1)
    #expect(v.findings[0].layer == .seccomp)
    #expect(v.findings[0].hint == ThreadHints.clone3EPERM)
    #expect(v.mattered == 0)
    #expect(v.exitStatus == 6)
  }

  @Test func aFallBackThatWorkedIsSurvivedAndNotTheCause() {
    var clone3 = Self.failure("clone3", nr: 435, .noFunction)
    clone3.reaction = .fellBack(to: "clone", succeeded: true)
    let v = TraceJudge.judge(Self.observations([clone3], exit: 0), facts: Self.facts) { _, _ in
      TraceSeccompVerdict(answer: .filtered(.noFunction), method: .oracle, evidence: "ENOSYS")
    }
    #expect(v.findings[0].survived)
    #expect(v.mattered == nil)
  }

  @Test func mountWithoutSysAdminIsCapabilitiesWhenTheFilterAllowsIt() {
    let noAdmin: UInt64 = 0x1ff_ffff_ffff & ~(1 << 21)
    let mount = Self.failure("mount", nr: 165, .notPermitted, caps: noAdmin)
    let v = TraceJudge.judge(Self.observations([mount], exit: 32), facts: Self.facts) { _, _ in Self.allowed }
    #expect(v.findings[0].layer == .capabilities)
    #expect(v.findings[0].reason.contains("CAP_SYS_ADMIN"))
    #expect(v.mattered == 0)
  }

  @Test func theSameMountRefusedByTheFilterIsSeccompNotCapabilities() {
    let noAdmin: UInt64 = 0x1ff_ffff_ffff & ~(1 << 21)
    let mount = Self.failure("mount", nr: 165, .notPermitted, caps: noAdmin)
    let v = TraceJudge.judge(Self.observations([mount], exit: 32), facts: Self.facts) { _, _ in
      TraceSeccompVerdict(answer: .filtered(.notPermitted), method: .oracle, evidence: "EPERM")
    }
    #expect(v.findings[0].layer == .seccomp)
  }

  @Test func aRefusedConnectIsTheNetworkWithTheAddress() {
    var connect = Self.failure("connect", nr: 42, .connectionRefused)
    connect.address = TraceAddress(family: 2, text: "127.0.0.1:9", port: 9)
    let v = TraceJudge.judge(Self.observations([connect], exit: 1), facts: Self.facts) { _, _ in Self.allowed }
    #expect(v.findings[0].layer == .network)
    #expect(v.findings[0].reason.contains("127.0.0.1:9"))
  }

  @Test func eaccesThatTheFileModeExplainsBlamesNoContainerLayer() {
    var open = Self.failure("openat", nr: 257, .permissionDenied, args: [UInt64(bitPattern: -100), 0, 0, 0, 0, 0], caps: 0)
    open.path = "/etc/shadow"
    open.pathStat = Sys.PathStat(type: .regular, mode: 0o640, uid: 0, gid: 42, deviceMajor: 0, deviceMinor: 0)
    open.task?.uids = [1000, 1000, 1000, 1000]
    open.task?.gids = [1000, 1000, 1000, 1000]
    let v = TraceJudge.judge(Self.observations([open], exit: 1), facts: Self.facts) { _, _ in Self.allowed }
    #expect(v.findings[0].layer == nil)
    #expect(v.findings[0].reason.contains("permissions"))
  }

  @Test func openingADeviceTheListDoesNotGrantIsTheDevicesCgroup() {
    var open = Self.failure("openat", nr: 257, .notPermitted, args: [UInt64(bitPattern: -100), 0, 0, 0, 0, 0])
    open.path = "/tmp/full"
    open.pathStat = Sys.PathStat(type: .characterDevice, mode: 0o644, uid: 0, gid: 0, deviceMajor: 1, deviceMinor: 7)
    let v = TraceJudge.judge(Self.observations([open], exit: 1), facts: Self.facts) { _, _ in Self.allowed }
    #expect(v.findings[0].layer == .cgroupDevices)
  }

  @Test func enosysForAPresentCallWithoutAnAnswerIsSeccomp() {
    let f = Self.failure("landlock_restrict_self", nr: 446, .noFunction)
    let v = TraceJudge.judge(Self.observations([f], exit: 0), facts: Self.facts) { _, _ in
      TraceSeccompVerdict(answer: .unknown, method: .none, evidence: "?")
    }
    #expect(v.findings[0].layer == .seccomp)
  }

  @Test func aSeccompKillWithoutDeliveryNamesTheCall() {
    var o = Self.observations([], exit: 0)
    o.processes[100]?.ending = .signaled(31, during: TraceCall(nr: 143, name: "sched_getparam", args: [0, 0, 0, 0, 0, 0]), seccompKill: true)
    o.rootEnding = o.processes[100]?.ending
    let v = TraceJudge.judge(o, facts: Self.facts) { _, _ in Self.allowed }
    #expect(v.findings.count == 1)
    #expect(v.findings[0].kind == .kill)
    #expect(v.findings[0].call.name == "sched_getparam")
    #expect(v.mattered == 0)
    #expect(v.exitStatus == 159)
  }

  // MARK: Parsers

  @Test func sockaddrsAsTheKernelLaysThemOut() {
    #expect(TraceCallShapes.parseSockaddr([2, 0, 0, 9, 127, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0])?.text == "127.0.0.1:9")
    var v6: [UInt8] = [10, 0, 1, 187, 0, 0, 0, 0] + Array(repeating: 0, count: 15) + [1, 0, 0, 0, 0]
    #expect(TraceCallShapes.parseSockaddr(v6)?.text == "[::1]:443")
    v6[8] = 0x20
    v6[9] = 0x01
    #expect(TraceCallShapes.parseSockaddr(v6)?.text == "[2001::1]:443")
    #expect(TraceCallShapes.parseSockaddr([1, 0] + Array("/run/x.sock".utf8) + [0])?.text == "/run/x.sock")
  }

  @Test func procSyscallSchedAndNetLines() {
    // Recorded on this project's machine: a python3 blocked in read(3, …) and in connect(3, …).
    let read = TraceWaits.parseSyscallLine("0 0x3 0x7f5e2d6f4010 0x1 0x0 0x0 0x0 0x7ffc6b4e0a28 0x7f5e2e0c27e2\n")
    #expect(read?.nr == 0)
    #expect(read?.args[0] == 3)
    #expect(TraceWaits.parseSyscallLine("running") == nil)
    #expect(TraceWaits.parseSyscallLine("-1 0x7ffc6b4e0a28 0x7f5e2e0c27e2") == nil)
    #expect(TraceWaits.parseExecStart("se.exec_start                                :        557492.866542\nse.vruntime : 1\n") == 557492.866542)
    let tcp = """
        sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
         0: 01000C0A:ACBA 02000C0A:0050 02 00000001:00000000 01:00000151 00000001     0        0 201517 2 0000000000000000 200 0 0 10 -1
      """
    #expect(TraceWaits.socketLine(tcp, inode: "201517", table: "tcp") == "TCP socket 10.12.0.1:44218 -> 10.12.0.2:80 (SYN_SENT, 1 retransmission)")
  }

  @Test func theCPUATaskLastRanOnAndItsOffCPUTime() {
    // /proc/PID/stat of a cat on this project's machine (field 39, the processor, is 1), once
    // with a comm that holds a space and parentheses.
    let rest = " R 8455 8455 3235 0 -1 4194304 100 0 0 0 0 0 0 0 20 0 1 0 1125388 3133440 382 18446744073709551615 94408536416256 94408536436137 140725125709632 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0 94408536452144 94408536453760 94408941637632 140725125712580 140725125712600 140725125712600 140725125713899 0\n"
    #expect(TraceWaits.parseLastCPU(stat: "8458 (cat)" + rest) == 1)
    #expect(TraceWaits.parseLastCPU(stat: "8458 (a) (b c)" + rest) == 1)
    #expect(TraceWaits.parseLastCPU(stat: "8458 (cat) R 1 2 3") == nil)
    #expect(TraceWaits.offCPUMilliseconds(mine: 5000.5, theirsBefore: 2500.25, theirsAfter: 2500.25) == 2500)
    #expect(TraceWaits.offCPUMilliseconds(mine: 5000, theirsBefore: 2500, theirsAfter: 4999) == nil, "it ran in between")
    #expect(TraceWaits.offCPUMilliseconds(mine: 2000, theirsBefore: 2500, theirsAfter: 2500) == nil, "not one clock")
  }

  @Test func aRefusedSeizeIsJudgedFromItsObservations() {
    func seize(_ err: Errno, yama: Int?, cap: Bool, confinement: String? = nil) -> TraceSection.Refusal {
      TraceSession.judgeSeizeRefusal(TraceSeizeObservation(
        errno: err, target: .nonDescendant, pid: 200, tracerPID: 100, yamaScope: yama, hasSysPtrace: cap, dumpable: 1,
        targetUid: "0\t0\t0\t0", tracedBy: 0, idsMatch: true, targetCapabilitiesWithinTracers: true, confinement: confinement))
    }
    let three = seize(.notPermitted, yama: 3, cap: true)
    #expect(three.layer == .yama)
    #expect(three.hint?.contains("until the host reboots") == true)
    #expect(three.observed?.yamaScope == 3)
    let two = seize(.notPermitted, yama: 2, cap: false)
    #expect(two.layer == .yama)
    #expect(two.hint?.contains("CAP_SYS_PTRACE") == true)
    let apparmor = seize(.permissionDenied, yama: 0, cap: true, confinement: "AppArmor profile c8-deny-ptrace (enforce)")
    #expect(apparmor.layer == .lsm)
    #expect(seize(.noSuchProcess, yama: 0, cap: true).layer == .unknown)
  }

  @Test func taskFactsFromAStatusFile() {
    let status = "Name:\tcurl\nUid:\t1000\t1000\t1000\t1000\nGid:\t1000\t1000\t1000\t1000\nCapEff:\t00000000a80425fb\nNoNewPrivs:\t1\nSeccomp:\t2\nSeccomp_filters:\t1\n"
    let facts = TraceWaits.parseTaskFacts(status: status, label: "docker-default (enforce)\n")
    #expect(facts.effective == .dockerDefault)
    #expect(facts.fsuid == 1000)
    #expect(facts.seccompFilters == 1)
    #expect(facts.label == "docker-default (enforce)")
  }
}
