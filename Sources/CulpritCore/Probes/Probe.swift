/// A probe: one question about the container, answered with a verdict and its evidence.
///
/// To add one: write a type conforming to `Probe` in its own file and list it in
/// `ProbeCatalog.all`.
public protocol Probe: Sendable {
  /// Stable id used by --only and in the JSON ("thread", "mknod").
  var id: String { get }
  /// Short human title ("Thread creation").
  var title: String { get }
  /// One line for --list.
  var abstract: String { get }
  /// Where the probe runs: in culprit's own process (reads only) or in a child with a deadline
  /// (anything that could be killed, hang, or leave state behind).
  var isolation: Isolation { get }

  /// Runs the probe. For `.child` probes this runs in the child process.
  func run(_ context: ProbeContext) -> ProbeResult

  /// What the probe can still say when no child process can be created (fork failed with
  /// `forkError`). The default is `skipped` with the reason.
  func runWithoutChild(_ context: ProbeContext, forkError: Errno) -> ProbeResult

  /// The verdict for a child that ended without a result: killed by a signal, trapped by
  /// seccomp, or timed out. The default blames seccomp for SIGSYS, names the last step for a
  /// hang, and calls anything else a culprit bug.
  func interpret(_ outcome: ChildOutcome, context: ProbeContext) -> ProbeResult

  /// Called in culprit's process after the probe's child ended, whatever way, to remove what
  /// the child may have left (files, directories).
  func cleanUp(afterChild pid: Int32, context: ProbeContext)
}

public enum Isolation: Equatable, Sendable {
  /// Runs in culprit's process: only for probes that read files and make harmless calls.
  case inProcess
  /// Runs in a forked child that is killed after `budgetMilliseconds` (or at the end of the
  /// whole run, whichever comes first).
  case child(budgetMilliseconds: Int)
}

/// What a probe gets to work with.
public final class ProbeContext {
  public let snapshot: Snapshot
  public let options: ProbeOptions
  /// CLOCK_MONOTONIC nanoseconds by which the probe must be done.
  public internal(set) var deadline: UInt64
  /// Set while running in a child: announces steps to the parent.
  public internal(set) var channel: ChildChannel?
  /// Set by the runner for a child probe: its own budget (`Isolation.child`), and whether the
  /// user's --timeout leaves it less than that.
  public internal(set) var budgetMilliseconds: Int?
  public internal(set) var cutByTimeout = false
  /// When the probe started (CLOCK_MONOTONIC nanoseconds).
  public let startedAt = Sys.monotonicNanoseconds()

  /// Milliseconds from the start to the deadline.
  var budgetMillisecondsUsable: Int { deadline > startedAt ? Int((deadline - startedAt) / 1_000_000) : 0 }

  public init(snapshot: Snapshot, options: ProbeOptions, deadline: UInt64, channel: ChildChannel? = nil) {
    self.snapshot = snapshot
    self.options = options
    self.deadline = deadline
    self.channel = channel
  }

  /// Announces the step about to be taken, so that a kill or hang is attributed to it.
  public func step(_ text: String) { channel?.step(text) }

  /// Milliseconds left before the deadline (0 when past it).
  public var remainingMilliseconds: Int {
    let now = Sys.monotonicNanoseconds()
    return now >= deadline ? 0 : Int((deadline - now) / 1_000_000)
  }

  /// A deadline `milliseconds` from now, but never past the probe's own.
  public func deadline(inMilliseconds milliseconds: Int) -> UInt64 {
    min(deadline, Sys.monotonicNanoseconds() + UInt64(max(0, milliseconds)) * 1_000_000)
  }
}

/// Options from the command line that probes read.
public struct ProbeOptions: Sendable {
  /// Extra names for the getaddrinfo probe (--resolve), besides "localhost".
  public var resolveNames: [String]
  /// Per-query bound of the getaddrinfo probe, in milliseconds; nil: what resolv.conf's
  /// `timeout` and `attempts` give glibc (5 s × 2 by default), capped by the probe's deadline.
  public var resolveTimeoutMilliseconds: Int?
  /// Extra targets of the egress probe (--url, --connect), and --offline: no probe sends packets.
  public var egressURLs: [String] = []
  public var egressConnects: [String] = []
  public var offline = false
  /// The what-if seccomp profile (--seccomp-profile) that the runner installs in every probe
  /// child, as the user named it; nil when probes run under whatever filter culprit has.
  public var seccompProfile: String?
  /// Sentences saying how that profile was applied (rules that do not apply here, names
  /// skipped, runc's -ENOSYS stub), for the probes that report on seccomp.
  public var seccompProfileNotes: [String]

  public init(
    resolveNames: [String] = [], resolveTimeoutMilliseconds: Int? = nil, seccompProfile: String? = nil,
    seccompProfileNotes: [String] = []
  ) {
    self.resolveNames = resolveNames
    self.resolveTimeoutMilliseconds = resolveTimeoutMilliseconds
    self.seccompProfile = seccompProfile
    self.seccompProfileNotes = seccompProfileNotes
  }
}

extension Probe {
  /// A result carrying this probe's id and title.
  public func verdict(
    _ status: Status, layer: Layer? = nil, _ summary: String, evidence: [String] = [], hint: String? = nil,
    facts: JSONObject = [:]
  ) -> ProbeResult {
    ProbeResult(
      id: id, title: title, status: status, layer: layer, summary: summary, evidence: evidence, hint: hint,
      facts: facts)
  }

  public func runWithoutChild(_ context: ProbeContext, forkError: Errno) -> ProbeResult {
    verdict(
      .skipped,
      "Not run: culprit could not create a child process to run it safely (fork failed with \(forkError.name)).",
      evidence: ["fork() returned -1 \(forkError.description)."] + forkFailureEvidence(context, forkError),
      facts: ["fork_errno": .string(forkError.name)])
  }

  public func interpret(_ outcome: ChildOutcome, context: ProbeContext) -> ProbeResult {
    standardInterpretation(outcome)
  }

  /// The default verdict for a child that ended without a result: seccomp for a SIGSYS kill or
  /// trap, the last step for a hang, a culprit bug for anything else. Probes that override
  /// `interpret` call it for the endings they do not word themselves.
  public func standardInterpretation(_ outcome: ChildOutcome) -> ProbeResult {
    let during = outcome.lastStep.map { " while it ran \($0)" } ?? ""
    var facts: JSONObject = ["last_step": .from(outcome.lastStep)]
    switch outcome.ending {
    case .signaled(31, _):
      facts["signal"] = "SIGSYS"
      return verdict(
        .blocked, layer: .seccomp,
        "A seccomp filter killed the probe's process (SIGSYS)\(during).",
        evidence: [
          "The probe's child process was killed by SIGSYS\(during): a seccomp filter's KILL_PROCESS or KILL_THREAD action ended it (seccomp(2)); no handler runs for those actions."
        ],
        hint: Hints.seccompKill, facts: facts)
    case .trapped(let trap, _):
      facts["signal"] = "SIGSYS"
      facts["trap_syscall"] = .int(Int(trap.syscall))
      facts["trap_data"] = .int(Int(trap.data))
      return verdict(
        .blocked, layer: .seccomp,
        "A seccomp filter trapped system call \(trap.syscall) (SIGSYS with SYS_SECCOMP)\(during).",
        evidence: [
          "The probe's child caught SIGSYS with si_code SYS_SECCOMP for system call \(trap.syscall) (si_errno \(trap.data))\(during): a seccomp filter's TRAP action; the call was not executed."
        ],
        hint: Hints.seccompKill, facts: facts)
    case .timedOut(let ms, _):
      facts["timed_out_after_ms"] = .int(ms)
      return verdict(
        .blocked, layer: .unknown,
        "The probe did not finish within \(ms) ms\(during); it was killed.",
        evidence: [
          "The probe's child was still running after \(ms) ms\(during), so culprit killed its process group."
        ],
        hint: "Run again with a larger --timeout to see whether it completes slowly or hangs; `strace -f -p` on a hanging process shows the call it waits in.",
        facts: facts)
    case .signaled(let signal, _):
      facts["signal"] = .string(signalName(signal))
      return verdict(
        .error, "The probe's process died from \(signalName(signal))\(during): a bug in culprit.",
        evidence: ["The probe's child was ended by \(signalName(signal))\(during)."],
        hint: "Please report this with the output of `culprit --format markdown`.", facts: facts)
    case .exited(let code, let output):
      facts["exit_code"] = .int(Int(code))
      return verdict(
        .error, "The probe's process exited with code \(code) without a result\(during): a bug in culprit.",
        evidence: ["The probe's child exited with code \(code) after writing \(output.count) bytes that are not a result."],
        hint: "Please report this with the output of `culprit --format markdown`.", facts: facts)
    }
  }

  public func cleanUp(afterChild pid: Int32, context: ProbeContext) {}

  /// Evidence explaining a failed fork: the pids controller and RLIMIT_NPROC are the usual
  /// reasons for EAGAIN.
  public func forkFailureEvidence(_ context: ProbeContext, _ forkError: Errno) -> [String] {
    guard forkError == .resourceTemporarilyUnavailable else { return [] }
    var evidence: [String] = []
    let cgroup = context.snapshot.cgroup
    if let pids = cgroup.pids {
      evidence.append(
        "\(pids.directory)/pids.current is \(pids.current.map(String.init) ?? "unreadable") of pids.max \(pids.max.map(String.init) ?? "max").")
    }
    if let nproc = context.snapshot.limits.nproc {
      evidence.append("RLIMIT_NPROC is \(ProcessLimits.describe(nproc.soft)).")
    }
    return evidence
  }
}
