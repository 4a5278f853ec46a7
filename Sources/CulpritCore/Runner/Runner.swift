/// Runs a list of probes and returns their results in the same order.
///
/// Child probes are forked all at once (they run in parallel), then in-process probes run in
/// culprit's own process, then the children are collected until each ends or reaches its
/// deadline. Everything happens on one thread. When fork fails, each child probe gives its
/// `runWithoutChild` verdict, so a report is produced even where no process can be created.
public struct Runner {
  /// Bound on the whole run, in milliseconds.
  public var timeoutMilliseconds: Int
  public var options: ProbeOptions
  /// Runs first in every probe child, before the probe: the what-if mode installs its seccomp
  /// filter here. A non-nil return is an error message, and the probe is not run.
  public var prepareChild: (() -> String?)?

  /// Time kept back from the overall timeout for collecting, cleaning up and rendering.
  static let reserveMilliseconds = 60

  public init(timeoutMilliseconds: Int, options: ProbeOptions = ProbeOptions(), prepareChild: (() -> String?)? = nil) {
    self.timeoutMilliseconds = timeoutMilliseconds
    self.options = options
    self.prepareChild = prepareChild
  }

  public struct Outcome {
    public var results: [ProbeResult]
    /// nil when every fork worked.
    public var forkError: Errno?
  }

  public func run(_ probes: [any Probe], snapshot: Snapshot) -> Outcome {
    let start = Sys.monotonicNanoseconds()
    let runDeadline = start + UInt64(max(1, timeoutMilliseconds - Runner.reserveMilliseconds)) * 1_000_000
    Children.becomeSubreaper()

    // Read what the children will need once, here, so they inherit it.
    warm(snapshot, for: probes)

    var results = [ProbeResult?](repeating: nil, count: probes.count)
    var children: [(index: Int, child: Child, context: ProbeContext)] = []
    var forkError: Errno?

    for (index, probe) in probes.enumerated() {
      guard case .child(let budget) = probe.isolation else { continue }
      let deadline = min(runDeadline, Sys.monotonicNanoseconds() + UInt64(budget) * 1_000_000)
      let context = ProbeContext(snapshot: snapshot, options: options, deadline: deadline)
      if let forkError {
        results[index] = probe.runWithoutChild(context, forkError: forkError).normalized()
        continue
      }
      let spawned = Children.spawn(deadline: deadline) { channel in
        context.channel = channel
        if let prepareChild, let problem = prepareChild() {
          return Array(probe.verdict(.error, "The probe could not be prepared: \(problem)").json.serialized(pretty: false).utf8)
        }
        return Array(probe.run(context).json.serialized(pretty: false).utf8)
      }
      switch spawned {
      case .success(let child): children.append((index, child, context))
      case .failure(let err):
        forkError = err
        results[index] = probe.runWithoutChild(context, forkError: err).normalized()
      }
    }

    for (index, probe) in probes.enumerated() where probe.isolation == .inProcess {
      let context = ProbeContext(snapshot: snapshot, options: options, deadline: runDeadline)
      results[index] = probe.run(context).normalized()
    }

    let outcomes = Children.collect(children.map(\.child))
    for (entry, outcome) in zip(children, outcomes) {
      let probe = probes[entry.index]
      results[entry.index] = result(of: probe, outcome: outcome, context: entry.context).normalized()
      probe.cleanUp(afterChild: outcome.pid, context: entry.context)
    }
    let left = runDeadline + UInt64(Runner.reserveMilliseconds / 2) * 1_000_000
    let now = Sys.monotonicNanoseconds()
    Children.reapOrphans(milliseconds: now >= left ? 0 : Int((left - now) / 1_000_000))
    return Outcome(results: results.map { $0! }, forkError: forkError)
  }

  /// A child's result: the probe's own JSON when it exited cleanly with one, otherwise the
  /// probe's interpretation of how the child ended.
  func result(of probe: any Probe, outcome: ChildOutcome, context: ProbeContext) -> ProbeResult {
    if case .exited(0, let output) = outcome.ending, !output.isEmpty,
      let json = try? JSONValue.parse(bytes: output), let parsed = try? ProbeResult(json: json)
    {
      return parsed
    }
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
