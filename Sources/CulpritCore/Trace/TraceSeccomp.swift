#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Asks the seccomp filter culprit runs under (the one the traced program inherited) about a
/// failed call, after the program ended, in throwaway children so that a KILL costs nothing.
///
/// First method: the exact oracle (`SeccompOracle`, field-facts §12): every failed call is
/// replayed with the program's own register arguments under a USER_NOTIF filter, all in one
/// batch, never executed. Where the oracle is unavailable (no seccomp(), Linux < 5.0, a filter
/// that refuses its set-up): the syscall sweep's discriminating call for the same syscall,
/// whose kernel answer (EINVAL, ESRCH, …) is known, so that any other answer came from a filter
/// (field-facts §0); its arguments are not the program's, so a rule on arguments can answer
/// differently. Without an entry for the syscall, ENOSYS for a call the kernel has is a
/// filter's answer; anything else stays unknown. Each verdict says which method decided.
public final class TraceSeccompAsker {
  let snapshot: Snapshot
  var cache: [String: TraceSeccompVerdict] = [:]
  var oracle: [OracleCall: OracleAnswer] = [:]
  public private(set) var oracleUnavailable: OracleUnavailable?

  public init(snapshot: Snapshot) { self.snapshot = snapshot }

  /// Replays every call in one oracle batch (one child; a KILL costs one more).
  public func prepare(_ calls: [TraceCall]) {
    guard snapshot.seccomp.mode != .disabled, !calls.isEmpty else { return }
    let unique = Array(Set(calls.map { OracleCall(number: $0.nr, arguments: $0.args) }))
    let batch = SeccompOracle.ask(unique, milliseconds: 3000)
    oracleUnavailable = batch.unavailable
    for (call, answer) in zip(unique, batch.answers) { oracle[call] = answer }
  }

  public func ask(_ call: TraceCall, _ err: Errno) -> TraceSeccompVerdict {
    if let answer = oracle[OracleCall(number: call.nr, arguments: call.args)], let verdict = Self.verdict(answer, call) {
      return verdict
    }
    let key = "\(call.nr) \(call.name == "socket" ? call.args[0] : 0) \(err.rawValue)"
    if let known = cache[key] { return known }
    var verdict = compute(call, err)
    if let why = oracleUnavailable, verdict.method != .none || snapshot.seccomp.mode != .disabled {
      verdict.evidence += " (The exact replay was not available: \(why).)"
    }
    cache[key] = verdict
    return verdict
  }

  /// The oracle's answer as a verdict; nil when it could not answer this call.
  static func verdict(_ answer: OracleAnswer, _ call: TraceCall) -> TraceSeccompVerdict? {
    let replay = "\(call.name)(" + call.args.map { "0x" + String($0, radix: 16) }.joined(separator: ", ") + ") replayed with the program's own registers under a USER_NOTIF filter (not executed)"
    switch answer {
    case .allowed, .bypassesSeccomp:
      return TraceSeccompVerdict(answer: .allowed, method: .oracle, evidence: "\(replay): the filters let it through to the kernel.")
    case .errno(let e):
      return TraceSeccompVerdict(answer: .filtered(e), method: .oracle, evidence: "\(replay): a filter answered \(e.name) before the kernel ran it.")
    case .returned(let value):
      return TraceSeccompVerdict(answer: .unknown, method: .oracle, evidence: "\(replay): a filter answered it with the value \(value) (SECCOMP_RET_ERRNO with data 0), without running it.")
    case .killed(let signal):
      return TraceSeccompVerdict(answer: .killed, method: .oracle, evidence: "\(replay): a filter kills it (\(signalName(signal))).")
    case .trapped(let data):
      return TraceSeccompVerdict(answer: .trapped, method: .oracle, evidence: "\(replay): a filter traps it (SIGSYS, si_errno \(data)).")
    case .unavailable:
      return nil
    }
  }

  func compute(_ call: TraceCall, _ err: Errno) -> TraceSeccompVerdict {
    if snapshot.seccomp.mode == .disabled {
      return TraceSeccompVerdict(
        answer: .allowed, method: .none,
        evidence: "no seccomp filter is installed (Seccomp 0 in /proc/self/status, inherited by the program).")
    }
    if let entry = entry(for: call) {
      return discriminate(entry, call: call, err: err)
    }
    if err == .noFunction, let kernel = snapshot.kernelVersion, presentInKernel(call, kernel) {
      return TraceSeccompVerdict(
        answer: .filtered(.noFunction), method: .enosysRule,
        evidence: "\(call.name) answered ENOSYS, and the running kernel \(kernel) has it: only a seccomp rule (or runc's -ENOSYS stub) answers that.")
    }
    return TraceSeccompVerdict(
      answer: .unknown, method: .none,
      evidence: "culprit has no discriminating call for \(call.name) (the exact USER_NOTIF replay is not in this build), so whether the filter refuses it is not known.")
  }

  /// Calls numbered below rseq (x86_64 334, aarch64 293) predate 4.18 and every kernel culprit
  /// supports has them; newer ones are checked against the sweep's table of first kernels.
  func presentInKernel(_ call: TraceCall, _ kernel: KernelVersion) -> Bool {
    if let entry = SyscallSweep.table.first(where: { $0.syscall.native == call.nr }) {
      return kernel >= entry.firstKernel(on: Architecture.native)
    }
    switch Architecture.native {
    case .x86_64?: return call.nr < 334
    case .aarch64?: return call.nr < 293
    case nil: return false
    }
  }

  func entry(for call: TraceCall) -> SweepEntry? {
    if call.name == "socket" {
      let family: [UInt64: String] = [1: "AF_UNIX", 2: "AF_INET", 10: "AF_INET6", 16: "AF_NETLINK", 17: "AF_PACKET"]
      guard let name = family[call.args[0]] else { return nil }
      return SyscallSweep.table.first { $0.id == "socket(\(name))" }
    }
    return SyscallSweep.table.first { $0.syscall.native == call.nr }
  }

  func discriminate(_ entry: SweepEntry, call: TraceCall, err: Errno) -> TraceSeccompVerdict {
    let probeCall = SyscallsProbe.Call(number: call.nr, invocation: entry.invocation, text: entry.call)
    let ran = Children.run(deadline: Sys.monotonicNanoseconds() + 2_000_000_000) { _ in
      SyscallsProbe.prepareSweepProcess()
      switch SyscallsProbe.perform(probeCall, SweepPointers.shared) {
      case .success(let value): return Array("ok \(value)".utf8)
      case .failure(let e): return Array("err \(e.rawValue)".utf8)
      }
    }
    let outcome: SweepOutcome
    switch ran {
    case .failure(let forkError):
      return TraceSeccompVerdict(answer: .unknown, method: .kernelAnswer, evidence: "the discriminating call \(entry.call) could not be made: fork failed with \(forkError.name).")
    case .success(let child):
      switch child.ending {
      case .exited(0, let output):
        let text = String(decoding: output, as: UTF8.self).split(separator: " ")
        if text.first == "ok" {
          outcome = .returned(Int(text.last ?? "0") ?? 0)
        } else {
          outcome = .failed(Errno(rawValue: Int32(text.last ?? "0") ?? 0))
        }
      case .signaled(let signal, _): outcome = .killed(signal: signal)
      case .trapped(let trap, _): outcome = .trapped(data: trap.data)
      case .timedOut: outcome = .timedOut
      case .exited: outcome = .notRun
      }
    }
    let env = SweepEnvironment(
      arch: Architecture.native, kernel: snapshot.kernelVersion, filterInstalled: snapshot.seccomp.mode.map { $0 == .filter },
      sysctls: [:], capabilities: snapshot.capabilities.value?.effective, libc: snapshot.libc, machine: snapshot.machine)
    let classified = SyscallSweep.classify(entry, outcome, in: env)
    let answer: TraceSeccompVerdict.Answer
    switch classified.classification {
    case .allowed, .kernelRefused: answer = .allowed
    case .filteredENOSYS: answer = .filtered(.noFunction)
    case .filteredEPERM: answer = .filtered(.notPermitted)
    case .filtered:
      if case .failed(let e) = outcome { answer = .filtered(e) } else { answer = .unknown }
    case .killed: answer = .killed
    case .trapped: answer = .trapped
    case .absent: answer = .absent
    case .notRun: answer = .unknown
    }
    var evidence = classified.evidence
    if case .allowed = answer, err != .noFunction {
      evidence += " (A rule on this call's arguments could still answer the program's own arguments differently; the exact replay would tell.)"
    }
    return TraceSeccompVerdict(answer: answer, method: .kernelAnswer, evidence: evidence)
  }
}
