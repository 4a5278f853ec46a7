#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Runs a list of probes and returns their results in the same order.
///
/// Child probes are forked all at once (they run in parallel), then in-process probes run in
/// culprit's own process, then the children are collected until each ends or reaches its
/// deadline. Everything happens on one thread. When a fork fails (a pids limit), the probes not
/// yet started run one at a time after the others have ended; a probe whose fork still fails
/// gives its `runWithoutChild` verdict, so a report is produced even where no process can be
/// created. Where the pids cgroup leaves fewer than `parallelHeadroom` tasks, every child
/// probe runs one at a time from the start, so that no probe is refused a process or a thread
/// only because its siblings hold tasks at that moment (a verdict that would change from run
/// to run).
public struct Runner {
  /// Bound on the whole run, in milliseconds.
  public var timeoutMilliseconds: Int
  public var options: ProbeOptions
  /// Runs first in every probe child, before the probe: the what-if mode installs its seccomp
  /// filter here. A non-nil return is an error message, and the probe is not run.
  public var prepareChild: (() -> String?)?

  /// Time kept back from the overall timeout for collecting, cleaning up and rendering.
  static let reserveMilliseconds = 60

  /// Free tasks in the pids cgroup below which the child probes run one at a time. All of them
  /// at once hold about 20 tasks at their peak (five children; getaddrinfo's lookup children
  /// and their threads, two more per --resolve name; ptrace-attach's targets and tracer; the
  /// sweep's child; the thread probe's thread).
  public static let parallelHeadroom = 32

  /// A call only the runner's plumbing needs (wait4, kill, ppoll, …) that a seccomp filter
  /// kills in culprit's own process, found by culprit's start-up canary: the child probes are
  /// then not started (the runner would die of SIGSYS), only the in-process probes run.
  public var ownCallKilled: String?

  /// The calls of `ownCallKilled` that only running child probes needs.
  public static let runnerOnlyCalls: Set<String> = ["rt_sigaction", "rt_sigprocmask", "kill", "wait4", "ppoll", "prctl", "setpgid"]

  public init(timeoutMilliseconds: Int, options: ProbeOptions = ProbeOptions(), prepareChild: (() -> String?)? = nil) {
    self.timeoutMilliseconds = timeoutMilliseconds
    self.options = options
    self.prepareChild = prepareChild
  }

  public struct Outcome {
    public var results: [ProbeResult]
    /// The error of the first fork that failed, or nil when every fork worked.
    public var forkError: Errno?
  }

  /// Below this many milliseconds left of the run, a probe not yet started is not started.
  static let minimumStartMilliseconds = 5

  public func run(_ probes: [any Probe], snapshot: Snapshot) -> Outcome {
    let start = Sys.monotonicNanoseconds()
    let runDeadline = start + UInt64(max(1, timeoutMilliseconds - Runner.reserveMilliseconds)) * 1_000_000
    if let ownCallKilled {
      return Outcome(
        results: probes.map { probe in
          let context = ProbeContext(snapshot: snapshot, options: options, deadline: runDeadline)
          guard probe.isolation != .inProcess else { return probe.run(context).normalized() }
          let failure = PlumbingFailure(call: ownCallKilled, errno: .notPermitted, killedBy: "SIGSYS")
          return withFactsOf(probe, probe.plumbingVerdict(failure, snapshot: snapshot, lastStep: nil), context).normalized()
        }, forkError: nil)
    }
    Children.becomeSubreaper()
    Children.culpritPID = getpid()
    // TERM, INT and HUP end the probe processes and remove what they made before culprit ends.
    Termination.install()
    // Under a seccomp filter: which of culprit's own calls it refuses (a few ms, nothing run).
    let plumbingCheck = probes.contains(where: { $0.isolation != .inProcess })
      ? PlumbingCheck.run(snapshot: snapshot, deadline: min(runDeadline, start + 500_000_000)) : PlumbingCheck()

    // Read what the children will need once, here, so they inherit it.
    warm(snapshot, for: probes)

    var results = [ProbeResult?](repeating: nil, count: probes.count)
    var forkError: Errno?
    let headroom = TaskLimits.read(snapshot.source, snapshot: snapshot, countTasks: false).pidsHeadroom
    let oneAtATime = headroom.map { $0 < Runner.parallelHeadroom } ?? false

    /// Forks the child of probe `index`, with its deadline.
    func launch(_ index: Int) -> Result<(child: Child, context: ProbeContext), Errno> {
      let probe = probes[index]
      guard case .child(let budget) = probe.isolation else { preconditionFailure("not a child probe") }
      let own = Sys.monotonicNanoseconds() + UInt64(budget) * 1_000_000
      let deadline = min(runDeadline, own)
      let context = ProbeContext(snapshot: snapshot, options: options, deadline: deadline)
      context.budgetMilliseconds = budget
      context.cutByTimeout = own > runDeadline
      let spawned = Children.spawn(deadline: deadline) { channel in
        context.channel = channel
        if let prepareChild, let problem = prepareChild() {
          return Array(probe.verdict(.error, "The probe could not be prepared: \(problem)").json.serialized(pretty: false).utf8)
        }
        return Array(probe.run(context).json.serialized(pretty: false).utf8)
      }
      return spawned.map { ($0, context) }
    }

    func finish(_ entries: [(index: Int, child: Child, context: ProbeContext)]) {
      let outcomes = Children.collect(entries.map(\.child))
      for (entry, outcome) in zip(entries, outcomes) {
        let probe = probes[entry.index]
        results[entry.index] = result(of: probe, outcome: outcome, context: entry.context, check: plumbingCheck)
          .normalized()
        probe.cleanUp(afterChild: outcome.pid, context: entry.context)
      }
      if Termination.signal != 0 { Termination.die() }
    }

    /// The verdict of a probe whose child could not be started.
    func notStarted(_ index: Int, _ err: Errno) -> ProbeResult {
      let context = ProbeContext(snapshot: snapshot, options: options, deadline: runDeadline)
      if let plumbing = Children.lastSpawnPlumbing {
        let answer = plumbingCheck.refused.first { $0.failure.call == plumbing.call }?.answer
        return withFactsOf(
          probes[index], probes[index].plumbingVerdict(plumbing, snapshot: snapshot, lastStep: nil, oracle: answer), context
        ).normalized()
      }
      return probes[index].runWithoutChild(context, forkError: err).normalized()
    }

    // First wave: every child probe at once (none where the pids headroom is small). Once a
    // fork fails (a pids limit, usually), the rest wait for the second wave.
    var running: [(index: Int, child: Child, context: ProbeContext)] = []
    var waiting: [Int] = []
    for (index, probe) in probes.enumerated() where probe.isolation != .inProcess {
      if forkError != nil || oneAtATime {
        waiting.append(index)
        continue
      }
      switch launch(index) {
      case .success(let started): running.append((index, started.child, started.context))
      case .failure(let err) where Children.lastSpawnPlumbing != nil:
        // Not a fork failure: no second wave would do better.
        results[index] = notStarted(index, err)
      case .failure(let err):
        forkError = err
        waiting.append(index)
      }
    }

    for (index, probe) in probes.enumerated() where probe.isolation == .inProcess {
      let context = ProbeContext(snapshot: snapshot, options: options, deadline: runDeadline)
      results[index] = probe.run(context).normalized()
    }
    finish(running)

    // Second wave, one child at a time as the first wave's processes have gone; a probe whose
    // fork still fails gives its verdict without a child.
    for index in waiting {
      let now = Sys.monotonicNanoseconds()
      if now + UInt64(Runner.minimumStartMilliseconds) * 1_000_000 >= runDeadline {
        let context = ProbeContext(snapshot: snapshot, options: options, deadline: runDeadline)
        results[index] = withFactsOf(probes[index], outOfTime(probes[index], ranMilliseconds: nil, partial: nil), context)
          .normalized()
        continue
      }
      switch launch(index) {
      case .success(let started): finish([(index, started.child, started.context)])
      case .failure(let err):
        if forkError == nil && Children.lastSpawnPlumbing == nil { forkError = err }
        results[index] = notStarted(index, err)
      }
    }

    let left = runDeadline + UInt64(Runner.reserveMilliseconds / 2) * 1_000_000
    let now = Sys.monotonicNanoseconds()
    Children.reapOrphans(milliseconds: now >= left ? 0 : Int((left - now) / 1_000_000))
    // A signal that came while nothing waited (in-process probes) is acted on here.
    Termination.checkPending()
    if Termination.signal != 0 { Termination.die() }
    Termination.uninstall()
    return Outcome(results: results.map { $0! }, forkError: forkError)
  }

  /// Slack past a probe's deadline within which its ending is still counted as the deadline's.
  static let deadlineSlackMilliseconds = 25

  /// The verdict of a probe that the user's --timeout cut short: `skipped`, never blocked, since
  /// nothing was found about the container (`partial` is what the probe had said when cut).
  func outOfTime(_ probe: any Probe, ranMilliseconds: Int?, partial: ProbeResult?) -> ProbeResult {
    let seconds = Double(timeoutMilliseconds) / 1000
    let shown = seconds == seconds.rounded() ? String(Int(seconds)) : String(seconds)
    var evidence: [String]
    if let ranMilliseconds {
      evidence = [
        "The probe ran for \(ranMilliseconds) ms, until the end of the time --timeout \(shown) leaves the probes (culprit keeps \(Runner.reserveMilliseconds) ms of it to collect and report), and was stopped before it could finish."
      ]
    } else {
      evidence = ["The probe was not started: --timeout \(shown) had no time left for it."]
    }
    if let partial, partial.status != .ok {
      evidence.append("When stopped it said (\(partial.status.rawValue)): \(partial.summary)")
    }
    var facts: JSONObject = ["timeout_seconds": .double(seconds)]
    if let ranMilliseconds { facts["ran_ms"] = .int(ranMilliseconds) }
    return probe.verdict(
      .skipped, "Not finished: this probe needs more than --timeout \(shown) left it",
      evidence: evidence, hint: "Run again with a larger --timeout (the default is 10 seconds).", facts: facts)
  }

  /// A child's result: the probe's own JSON when it exited cleanly with one, otherwise the
  /// probe's interpretation of how the child ended.
  ///
  /// Two endings are not the probe's to interpret: a call of culprit's own that failed
  /// (`plumbingVerdict`), and the user's --timeout running out before the probe could finish
  /// (`outOfTime`): neither says anything about the container.
  func result(of probe: any Probe, outcome: ChildOutcome, context: ProbeContext, check: PlumbingCheck = PlumbingCheck()) -> ProbeResult {
    let verdict = ownResult(of: probe, outcome: outcome, context: context, check: check)
    return verdict.facts["culprit_call"] != nil || verdict.facts["timeout_seconds"] != nil
      ? withFactsOf(probe, verdict, context) : verdict
  }

  /// `verdict` with the facts every result of `probe` carries (its facts when it could not
  /// run at all, from `runWithoutChild`), so that the report keeps its published shape; no
  /// fork failed, so there is no `fork_errno`.
  func withFactsOf(_ probe: any Probe, _ verdict: ProbeResult, _ context: ProbeContext) -> ProbeResult {
    var facts = probe.runWithoutChild(context, forkError: .notPermitted).facts
    facts["fork_errno"] = nil
    for (key, value) in verdict.facts { facts[key] = value }
    var result = verdict
    result.facts = facts
    return result
  }

  func ownResult(of probe: any Probe, outcome: ChildOutcome, context: ProbeContext, check: PlumbingCheck) -> ProbeResult {
    var parsed: ProbeResult?
    if case .exited(0, let output) = outcome.ending, !output.isEmpty,
      let json = try? JSONValue.parse(bytes: output), let result = try? ProbeResult(json: json)
    {
      parsed = result
    }
    if let plumbing = outcome.plumbing, outcome.plumbingInChild || parsed == nil {
      let answer = check.refused.first { $0.failure.call == plumbing.call }?.answer
      return probe.plumbingVerdict(plumbing, snapshot: context.snapshot, lastStep: outcome.lastStep, oracle: answer)
    }
    // A call this probe needs is refused (the oracle says so): a probe that did not succeed
    // failed because of it, whatever it concluded. A probe that succeeded keeps its verdict.
    var diedOfSIGSYS = false
    switch outcome.ending {
    case .signaled(SIGSYS, _), .trapped: diedOfSIGSYS = true
    default: break
    }
    if parsed == nil, let step = outcome.lastStep, step.hasPrefix(Plumbing.stepPrefix) {
      // The child ended in a call of culprit's own, before the probe began.
      let call = String(step.dropFirst(Plumbing.stepPrefix.count))
      let failure = PlumbingFailure(call: call, errno: .notPermitted, killedBy: diedOfSIGSYS ? "SIGSYS" : nil)
      if diedOfSIGSYS || outcome.plumbing == nil {
        let answer = check.refused.first { $0.failure.call == call }?.answer
        return probe.plumbingVerdict(failure, snapshot: context.snapshot, lastStep: nil, oracle: answer)
      }
    }
    if let refusal = check.refusal(for: probe.id, diedOfSIGSYS: diedOfSIGSYS && parsed == nil),
      parsed.map({ $0.status != .ok && $0.status != .info }) ?? true
    {
      return probe.plumbingVerdict(
        refusal.failure, snapshot: context.snapshot, lastStep: outcome.lastStep, oracle: refusal.answer)
    }
    if let errno = outcome.recorderErrno, case .signaled(SIGSYS, _) = outcome.ending {
      return probe.plumbingVerdict(
        PlumbingFailure(call: "rt_sigaction", errno: errno), snapshot: context.snapshot, lastStep: outcome.lastStep)
    }
    if context.cutByTimeout {
      let ran = outcome.elapsedMilliseconds
      let allowed = context.budgetMillisecondsUsable
      if case .timedOut = outcome.ending {
        return outOfTime(probe, ranMilliseconds: ran, partial: nil)
      }
      // It ended at the deadline: what it said then came from a step the deadline cut.
      if ran + Runner.deadlineSlackMilliseconds >= allowed, parsed.map({ $0.status != .ok && $0.status != .info }) ?? true {
        return outOfTime(probe, ranMilliseconds: ran, partial: parsed)
      }
    }
    if let parsed { return parsed }
    return probe.interpret(outcome, context: context)
  }

  /// Reads the snapshot's parts that every probe family uses, before forking.
  func warm(_ snapshot: Snapshot, for probes: [any Probe]) {
    guard probes.contains(where: { $0.isolation != .inProcess }) else { return }
    _ = snapshot.kernel
    _ = snapshot.capabilities
    _ = snapshot.mounts
    _ = snapshot.cgroup
    _ = snapshot.userns
    _ = snapshot.libc
  }
}
