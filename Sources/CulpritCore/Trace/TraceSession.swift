import CCulprit

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// One `culprit trace` run from start to verdict: check that ptrace is usable (in a throwaway
/// child, since a seccomp KILL on ptrace would otherwise end culprit), trace the command or the
/// process, ask the filter about each refused call, judge. When ptrace is refused, the command
/// still runs (untraced) and the caller runs the probe battery instead.
public enum TraceSession {
  public struct Outcome {
    public var section: TraceSection
    /// ptrace was refused: run the probes instead.
    public var needsBattery: Bool
  }

  /// `culprit trace -- CMD`.
  public static func run(command: [String], timeoutMilliseconds: Int?, snapshot: Snapshot) -> Outcome {
    warm(snapshot)
    let check = ptraceCheck()
    if let refusal = check.refusal {
      // ptrace would kill or trap culprit: run the command as it is, untraced.
      let status = runUntraced(command)
      return Outcome(
        section: TraceSection(verdict: nil, refusal: refusal, command: command, pid: nil, untracedExitStatus: status.status, execFailure: status.exec),
        needsBattery: true)
    }
    let tracer = Tracer(mode: .command(command), options: .init(timeoutMilliseconds: timeoutMilliseconds), snapshot: snapshot)
    switch tracer.launch(command) {
    case .failure(.fork(let err)):
      let refusal = TraceSection.Refusal(
        call: "fork", errno: err, layer: err == .resourceTemporarilyUnavailable ? .cgroupPids : .unknown,
        reason: "culprit could not create the command's process (fork failed with \(err.name))", evidence: [])
      return Outcome(section: TraceSection(verdict: nil, refusal: refusal, command: command, pid: nil), needsBattery: true)
    case .failure(.seizeRefused(let err, let pid)):
      let refusal = seizeRefusal(err, check: check.peek, snapshot: snapshot, target: .child)
      _ = culprit_trace_install_signal_flags()
      let status = Sys.wait(pid).value.map(shellStatus)
      return Outcome(section: TraceSection(verdict: nil, refusal: refusal, command: command, pid: nil, untracedExitStatus: status), needsBattery: true)
    case .success:
      let observations = tracer.run()
      let verdict = judge(observations, snapshot: snapshot)
      var section = TraceSection(verdict: verdict, refusal: nil, command: command, pid: nil, execFailure: tracer.execFailure)
      if tracer.execFailure != nil { section.verdict?.exitStatus = 127 }
      return Outcome(section: section, needsBattery: false)
    }
  }

  /// `culprit trace --pid PID`.
  public static func attach(pid: Int32, timeoutMilliseconds: Int?, snapshot: Snapshot) -> Outcome {
    warm(snapshot)
    let cmdline = Sys.readFile("/proc/\(pid)/cmdline", limit: 8192).value.map {
      $0.split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
    } ?? []
    let check = ptraceCheck()
    if let refusal = check.refusal {
      return Outcome(section: TraceSection(verdict: nil, refusal: refusal, command: cmdline, pid: pid), needsBattery: true)
    }
    let tracer = Tracer(mode: .attached(pid), options: .init(timeoutMilliseconds: timeoutMilliseconds), snapshot: snapshot)
    if case .failure(let err) = tracer.attach(pid) {
      let refusal = seizeRefusal(err, check: check.peek, snapshot: snapshot, target: .nonDescendant, pid: pid)
      return Outcome(section: TraceSection(verdict: nil, refusal: refusal, command: cmdline, pid: pid), needsBattery: err != .noSuchProcess)
    }
    let observations = tracer.run()
    return Outcome(section: TraceSection(verdict: judge(observations, snapshot: snapshot), refusal: nil, command: cmdline, pid: pid), needsBattery: false)
  }

  static func judge(_ observations: TraceObservations, snapshot: Snapshot) -> TraceVerdict {
    let asker = TraceSeccompAsker(snapshot: snapshot)
    asker.prepare(observations.failures.map(\.call))
    return TraceJudge.judge(observations, facts: TraceSystemFacts.read(snapshot)) { asker.ask($0, $1) }
  }

  static func warm(_ snapshot: Snapshot) {
    _ = snapshot.kernel
    _ = snapshot.capabilities
    _ = snapshot.seccomp
    _ = snapshot.mounts
    _ = snapshot.cgroup
    _ = snapshot.userns
    _ = snapshot.libc
    _ = snapshot.yama
    _ = snapshot.lsm
  }

  /// ptrace(PTRACE_PEEKUSER, self) in a throwaway child: the kernel answers ESRCH (we are not
  /// our own tracee), so any other answer, a SIGSYS kill or a trap, is the seccomp filter's.
  static func ptraceCheck() -> (peek: Result<Int, Errno>, refusal: TraceSection.Refusal?) {
    let ran = Children.run(deadline: Sys.monotonicNanoseconds() + 2_000_000_000) { _ in
      switch Sys.ptrace(.peekUser, getpid()) {
      case .success(let v): return Array("ok \(v)".utf8)
      case .failure(let e): return Array("err \(e.rawValue)".utf8)
      }
    }
    guard case .success(let child) = ran else { return (.failure(.noSuchProcess), nil) }
    switch child.ending {
    case .exited(0, let output):
      let words = String(decoding: output, as: UTF8.self).split(separator: " ")
      if words.first == "err", let n = words.last.flatMap({ Int32($0) }) { return (.failure(Errno(rawValue: n)), nil) }
      return (.success(0), nil)
    case .signaled(SIGSYS, _):
      return (.failure(.noFunction), TraceSection.Refusal(
        call: "ptrace", errno: nil, layer: .seccomp,
        reason: "a seccomp filter kills any process that calls ptrace (KILL action), so culprit cannot trace without being killed",
        evidence: ["A throwaway child calling ptrace(PTRACE_PEEKUSER, itself) was killed by SIGSYS; the kernel would have answered ESRCH."]))
    case .trapped(let trap, _):
      return (.failure(.noFunction), TraceSection.Refusal(
        call: "ptrace", errno: nil, layer: .seccomp,
        reason: "a seccomp filter traps ptrace (SIGSYS with SYS_SECCOMP, si_errno \(trap.data))",
        evidence: ["A throwaway child calling ptrace(PTRACE_PEEKUSER, itself) caught a seccomp TRAP for system call \(trap.syscall)."]))
    default:
      return (.failure(.noSuchProcess), nil)
    }
  }

  /// Which layer refused PTRACE_SEIZE: the facts read now, judged by `judgeSeizeRefusal`.
  static func seizeRefusal(_ err: Errno, check: Result<Int, Errno>, snapshot: Snapshot, target: PtraceAttachProbe.Target, pid: Int32? = nil) -> TraceSection.Refusal {
    var o = TraceSeizeObservation(
      errno: err, target: target, pid: pid, tracerPID: getpid(), yamaScope: snapshot.yama.scope,
      hasSysPtrace: snapshot.capabilities.value?.has(Capability.sysPtrace) ?? false, dumpable: Sys.dumpable().value,
      confinement: snapshot.lsm.confinement)
    switch check {
    case .failure(let e): o.peek = e
    case .success: o.peek = nil
    }
    if let pid, let text = LiveSystem().readText("/proc/\(pid)/status").value {
      let status = ProcStatus.parse(text)
      o.tracedBy = status.int("TracerPid")
      o.targetUid = status["Uid"]
      let uids = (status["Uid"] ?? "").split(whereSeparator: { $0 == " " || $0 == "\t" }).compactMap { UInt32($0) }
      o.idsMatch = !uids.isEmpty && uids.allSatisfy { $0 == getuid() }
      if let prm = status.hex("CapPrm"), let mine = snapshot.capabilities.value?.permitted {
        o.targetCapabilitiesWithinTracers = CapabilitySet(bits: prm).subtracting(mine).isEmpty
      }
    }
    return judgeSeizeRefusal(o, yamaEvidence: snapshot.yama.evidence)
  }

  /// Pure: the layer that refused PTRACE_SEIZE, from what culprit saw (the ptrace-attach
  /// probe's logic and hints). The VM matrix's fixtures judge recorded observations with it.
  public static func judgeSeizeRefusal(_ o: TraceSeizeObservation, yamaEvidence: [String] = []) -> TraceSection.Refusal {
    var situation = PtraceAttachProbe.situation(o.target, yamaScope: o.yamaScope, hasSysPtrace: o.hasSysPtrace, dumpable: o.dumpable)
    if let match = o.idsMatch { situation.idsMatch = match }
    if let within = o.targetCapabilitiesWithinTracers { situation.targetCapabilitiesWithinTracers = within }
    var evidence = ["PTRACE_SEIZE of \(o.pid.map { "pid \($0)" } ?? "the command's process") returned \(o.errno.description)."]
    if let pid = o.pid, o.targetUid != nil || o.tracedBy != nil {
      evidence.append("/proc/\(pid)/status: Uid \(o.targetUid ?? "?"), TracerPid \(o.tracedBy.map(String.init) ?? "?").")
    }
    switch o.peek {
    case .noSuchProcess?: evidence.append("ptrace(PTRACE_PEEKUSER, itself) from a throwaway child returned ESRCH, the kernel's own answer: the seccomp filter lets ptrace through.")
    case let e?: evidence.append("ptrace(PTRACE_PEEKUSER, itself) from a throwaway child returned \(e.name), where the kernel answers ESRCH.")
    case nil: break
    }
    evidence += yamaEvidence
    if o.errno == .noSuchProcess {
      return TraceSection.Refusal(call: "PTRACE_SEIZE", errno: o.errno, layer: .unknown, reason: "no such process is visible in this pid namespace", evidence: evidence, observed: o)
    }
    let check: Result<Int, Errno> = o.peek.map { .failure($0) } ?? .success(0)
    let attempt = PtraceAttachProbe.Attempt(target: o.target, targetPID: o.pid, tracerPID: o.tracerPID, outcome: .refused(o.errno, tracedBy: o.tracedBy))
    let blame = PtraceAttachProbe.blame(attempt, check: check, situation: situation, confinement: o.confinement)
      ?? Blame(layer: .unknown, reason: "ptrace answered \(o.errno.name)")
    return TraceSection.Refusal(
      call: "PTRACE_SEIZE", errno: o.errno, layer: blame.layer, reason: blame.reason, evidence: evidence,
      hint: PtraceAttachProbe.hint(for: blame.layer, yamaScope: o.yamaScope, confinement: o.confinement), observed: o)
  }

  static func shellStatus(_ status: Sys.WaitStatus) -> Int32 {
    switch status {
    case .exited(let code): return code
    case .signaled(let signal, _): return 128 + signal
    case .stopped(let signal): return 128 + signal
    }
  }

  /// Runs the command without tracing, passing its status through.
  static func runUntraced(_ command: [String]) -> (status: Int32?, exec: Errno?) {
    var errPipe: [Int32] = [0, 0]
    guard culprit_pipe2(&errPipe, O_CLOEXEC) == 0 else { return (nil, nil) }
    let cArgs: [UnsafeMutablePointer<CChar>?] = command.map { strdup($0) } + [nil]
    switch Sys.fork() {
    case .failure:
      Sys.close(errPipe[0]); Sys.close(errPipe[1])
      return (nil, nil)
    case .success(0):
      Sys.close(errPipe[0])
      signal(SIGPIPE, SIG_DFL)
      var argv = cArgs
      execvp(argv[0]!, &argv)
      var e = errno
      _ = Glibc.write(errPipe[1], &e, 4)
      Sys.exitImmediately(127)
    case .success(let pid):
      Sys.close(errPipe[1])
      for p in cArgs { free(p) }
      _ = culprit_trace_install_signal_flags()
      var e: Int32 = 0
      var execError: Errno?
      while true {
        let n = Glibc.read(errPipe[0], &e, 4)
        if n == 4 { execError = Errno(rawValue: e) }
        if n == -1 && errno == EINTR { continue }
        break
      }
      Sys.close(errPipe[0])
      return (Sys.wait(pid).value.map(shellStatus), execError)
    }
  }
}
