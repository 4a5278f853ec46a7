#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// `ptrace-attach`: whether a debugger can attach here (`dlv attach`, `gdb -p`, `strace -p`),
/// and when not, which layer refuses.
///
/// In its child the probe first makes a ptrace call the kernel always answers ESRCH
/// (PTRACE_PEEKUSER on itself), so that a seccomp answer shows. Then it attaches with
/// PTRACE_SEIZE, stops the target with PTRACE_INTERRUPT and detaches, to four targets it makes
/// itself: a child; the same child from a sibling process (a target that is not the tracer's
/// descendant, which Yama scope 1 refuses); a child that is not dumpable (as a setuid or
/// file-capability program is); and, with CAP_SETUID, a child of another uid. Each refusal is
/// explained by `PtraceAccess`, from the Yama scope, the capabilities, the ids and the dumpable
/// flag. Every target is killed and reaped, whatever happened.
public struct PtraceAttachProbe: ActionProbe {
  public init() {}
  public let id = "ptrace-attach"
  public let title = "ptrace attach"
  public let abstract =
    "PTRACE_SEIZE on a child, a non-descendant, a non-dumpable and an other-uid process (dlv attach, gdb -p, strace -p)"
  public let isolation = Isolation.child(budgetMilliseconds: 3000)

  /// The processes the probe attaches to.
  public enum Target: String, CaseIterable, Codable, Sendable {
    case child
    case nonDescendant = "non_descendant"
    case nonDumpable = "non_dumpable"
    case otherUID = "other_uid"

    var phrase: String {
      switch self {
      case .child: return "a child of the tracer"
      case .nonDescendant: return "a process that is not a descendant of its tracer (a sibling)"
      case .nonDumpable: return "a child that is not dumpable"
      case .otherUID: return "a child running under another uid"
      }
    }
  }

  /// How one attach went.
  public enum Outcome: Codable, Equatable, Sendable {
    /// PTRACE_SEIZE succeeded; `detached` when PTRACE_INTERRUPT, the stop and PTRACE_DETACH
    /// worked too, with what did not in `notes`.
    case attached(detached: Bool, notes: [String])
    /// The errno, and the target's TracerPid at that moment (/proc/PID/status).
    case refused(Errno, tracedBy: Int?)
    /// The tracing process ended without answering (SIGSYS from a seccomp KILL, a TRAP).
    case killed(ProbeEnding)
    case notRun(String)
  }

  public struct Attempt: Codable, Equatable, Sendable {
    public var target: Target
    public var targetPID: Int32?
    public var tracerPID: Int32
    public var outcome: Outcome

    public init(target: Target, targetPID: Int32? = nil, tracerPID: Int32, outcome: Outcome) {
      self.target = target
      self.targetPID = targetPID
      self.tracerPID = tracerPID
      self.outcome = outcome
    }
  }

  /// What the probe's child called and saw.
  public struct Observations: Codable, Equatable, Sendable {
    /// The probe process's pid (the tracer of most attempts).
    public var pid: Int32
    /// ptrace(PTRACE_PEEKUSER) on itself: ESRCH from the kernel, anything else from a filter.
    public var check: CallResult?
    /// prctl(PR_GET_DUMPABLE) of the probe's process.
    public var dumpable: Int32?
    public var attempts: [Attempt]
    /// How the child ended, when it gave no result (or could not be created).
    public var ending: ProbeEnding?

    public init(pid: Int32, check: CallResult? = nil, dumpable: Int32? = nil, attempts: [Attempt] = [], ending: ProbeEnding? = nil) {
      self.pid = pid
      self.check = check
      self.dumpable = dumpable
      self.attempts = attempts
      self.ending = ending
    }
  }

  // MARK: Running

  public func observe(_ context: ProbeContext) -> Observations {
    let me = getpid()
    context.step("ptrace(PTRACE_PEEKUSER, \(me)): itself, which the kernel answers ESRCH")
    let check = Sys.ptrace(.peekUser, me)
    let dumpable = Sys.dumpable().value

    var spawned: [Child] = []
    let attempts = attachToTargets(context, spawned: &spawned)
    for child in spawned { Children.killGroup(child.pid) }
    _ = Children.collect(spawned)

    return Observations(pid: me, check: CallResult(check), dumpable: dumpable, attempts: attempts)
  }

  public func observations(after outcome: ChildOutcome, context: ProbeContext) -> Observations {
    Observations(pid: outcome.pid, ending: ProbeEnding(outcome))
  }

  public func observationsWithoutChild(_ context: ProbeContext, forkError: Errno) -> Observations {
    Observations(pid: 0, ending: .forkFailed(forkError, context))
  }

  /// A target: a child that waits to be killed.
  func spawnTarget(_ context: ProbeContext) -> Result<Child, Errno> {
    Children.spawn(deadline: context.deadline) { _ in
      while true { Sys.sleep(milliseconds: 1000) }
    }
  }

  func attachToTargets(_ context: ProbeContext, spawned: inout [Child]) -> [Attempt] {
    let me = getpid()
    var attempts: [Attempt] = []
    let target: Child
    switch spawnTarget(context) {
    case .success(let child): target = child
    case .failure(let err):
      return Target.allCases.map {
        Attempt(target: $0, tracerPID: me, outcome: .notRun("no target process could be created: fork failed with \(err.name)"))
      }
    }
    spawned.append(target)

    context.step("ptrace(PTRACE_SEIZE, \(target.pid)): a child, then PTRACE_INTERRUPT and PTRACE_DETACH")
    attempts.append(
      Attempt(target: .child, targetPID: target.pid, tracerPID: me, outcome: Self.attachAndDetach(target.pid, context)))

    if case .attached(detached: false, _) = attempts[0].outcome {
      // Still traced by this process: a second tracer would get EPERM for that alone.
      attempts.append(
        Attempt(target: .nonDescendant, targetPID: target.pid, tracerPID: me, outcome: .notRun("the child could not be detached first")))
    } else {
      attempts.append(attachFromSibling(to: target.pid, context))
    }

    // Dumpable lives in the memory descriptor, which fork copies: a child forked while this
    // process is not dumpable is not dumpable either.
    context.step("prctl(PR_SET_DUMPABLE, 0), fork, prctl(PR_SET_DUMPABLE, 1)")
    let undumped = Sys.setDumpable(false)
    let nonDumpable = spawnTarget(context)
    _ = Sys.setDumpable(true)
    switch (undumped, nonDumpable) {
    case (.failure(let err), _):
      if case .success(let child) = nonDumpable { spawned.append(child) }
      attempts.append(Attempt(target: .nonDumpable, tracerPID: me, outcome: .notRun("prctl(PR_SET_DUMPABLE, 0) failed with \(err.name)")))
    case (_, .failure(let err)):
      attempts.append(Attempt(target: .nonDumpable, tracerPID: me, outcome: .notRun("fork failed with \(err.name)")))
    case (.success, .success(let child)):
      spawned.append(child)
      context.step("ptrace(PTRACE_SEIZE, \(child.pid)): a non-dumpable child")
      attempts.append(
        Attempt(target: .nonDumpable, targetPID: child.pid, tracerPID: me, outcome: Self.attachAndDetach(child.pid, context)))
    }

    attempts.append(attachToOtherUID(context, spawned: &spawned))
    return attempts
  }

  /// A sibling of the target attaches to it: the target is not the tracer's descendant.
  func attachFromSibling(to targetPID: Int32, _ context: ProbeContext) -> Attempt {
    context.step("a sibling process calls ptrace(PTRACE_SEIZE, \(targetPID)) on a process that is not its descendant")
    let spawnedTracer = Children.spawn(deadline: context.deadline(inMilliseconds: 1500)) { channel in
      channel.step("ptrace(PTRACE_SEIZE, \(targetPID)) from a sibling")
      let result: JSONValue
      switch Self.attachAndDetach(targetPID, context) {
      case .attached(let detached, let notes):
        result = ["attached": true, "detached": .bool(detached), "notes": .from(notes)]
      case .refused(let err, let tracedBy):
        result = ["attached": false, "errno": .int(Int(err.rawValue)), "traced_by": .from(tracedBy)]
      case .killed, .notRun:
        result = ["attached": false]
      }
      return Array(result.serialized(pretty: false).utf8)
    }
    let tracer: Child
    switch spawnedTracer {
    case .success(let child): tracer = child
    case .failure(let err):
      return Attempt(target: .nonDescendant, targetPID: targetPID, tracerPID: getpid(), outcome: .notRun("fork failed with \(err.name)"))
    }
    let ended = Children.collect([tracer])[0]
    var outcome: Outcome = .killed(ProbeEnding(ended))
    if case .exited(0, let output) = ended.ending, let json = try? JSONValue.parse(bytes: output) {
      if json["attached"]?.boolValue == true {
        outcome = .attached(
          detached: json["detached"]?.boolValue ?? false,
          notes: json["notes"]?.arrayValue?.compactMap(\.stringValue) ?? [])
      } else if let number = json["errno"]?.intValue {
        outcome = .refused(Errno(rawValue: Int32(number)), tracedBy: json["traced_by"]?.intValue)
      }
    }
    return Attempt(target: .nonDescendant, targetPID: targetPID, tracerPID: tracer.pid, outcome: outcome)
  }

  /// A child that switches its real and effective uid to another one (keeping the saved uid,
  /// so that this process may still kill it) and sets itself dumpable again, so that only the
  /// uid differs. Needs CAP_SETUID.
  func attachToOtherUID(_ context: ProbeContext, spawned: inout [Child]) -> Attempt {
    let me = getpid()
    let uid = getuid()
    let other: UInt32 = uid == 65534 ? 65533 : 65534
    guard context.snapshot.capabilities.value?.has(Capability.setuid) == true else {
      return Attempt(
        target: .otherUID, tracerPID: me,
        outcome: .notRun("CAP_SETUID is not effective, so no process of another uid could be made"))
    }
    let pipe: (read: Int32, write: Int32)
    switch Sys.pipe() {
    case .success(let fds): pipe = fds
    case .failure(let err):
      return Attempt(target: .otherUID, tracerPID: me, outcome: .notRun("pipe failed with \(err.name)"))
    }
    defer { Sys.close(pipe.read) }
    context.step("fork a child that calls setresuid(\(other), \(other), \(uid))")
    let spawnedTarget = Children.spawn(deadline: context.deadline) { _ in
      Sys.close(pipe.read)
      if case .failure(let err) = Sys.setresuid(real: other, effective: other, saved: uid) {
        _ = Sys.writeAll(pipe.write, Array("E\(err.rawValue)".utf8))
        Sys.exitImmediately(0)
      }
      // A change of effective uid clears the parent-death signal and the dumpable flag.
      _ = Sys.prctl(Children.prSetPdeathsig, UInt(SIGKILL))
      if getppid() != me { Sys.exitImmediately(0) }
      _ = Sys.setDumpable(true)
      _ = Sys.writeAll(pipe.write, Array("ready".utf8))
      while true { Sys.sleep(milliseconds: 1000) }
    }
    Sys.close(pipe.write)
    let child: Child
    switch spawnedTarget {
    case .success(let spawnedChild): child = spawnedChild
    case .failure(let err):
      return Attempt(target: .otherUID, tracerPID: me, outcome: .notRun("fork failed with \(err.name)"))
    }
    spawned.append(child)
    var answer = [UInt8](repeating: 0, count: 16)
    var count = 0
    if Children.waitReadable(pipe.read, deadline: context.deadline(inMilliseconds: 1000)) {
      count = answer.withUnsafeMutableBytes { Sys.read(pipe.read, into: $0).value ?? 0 }
    }
    let text = String(decoding: answer[0..<count], as: UTF8.self)
    guard text == "ready" else {
      if text.hasPrefix("E"), let number = Int32(text.dropFirst()) {
        let err = Errno(rawValue: number)
        let why = err == .invalidArgument ? ": uid \(other) is not mapped in this user namespace" : ""
        return Attempt(
          target: .otherUID, targetPID: child.pid, tracerPID: me,
          outcome: .notRun("setresuid(\(other), \(other), \(uid)) failed with \(err.name)\(why)"))
      }
      return Attempt(
        target: .otherUID, targetPID: child.pid, tracerPID: me, outcome: .notRun("the child did not switch its uid in time"))
    }
    context.step("ptrace(PTRACE_SEIZE, \(child.pid)): a child running as uid \(other)")
    return Attempt(target: .otherUID, targetPID: child.pid, tracerPID: me, outcome: Self.attachAndDetach(child.pid, context))
  }

  /// PTRACE_SEIZE, then PTRACE_INTERRUPT, the ptrace-stop, and PTRACE_DETACH: what a debugger
  /// does on attach, leaving the target running as it was.
  static func attachAndDetach(_ pid: Int32, _ context: ProbeContext) -> Outcome {
    if case .failure(let err) = Sys.ptrace(.seize, pid) {
      let status = LiveSystem().readText("/proc/\(pid)/status").value.map(ProcStatus.parse)
      return .refused(err, tracedBy: status?.int("TracerPid"))
    }
    var notes: [String] = []
    var stopped = false
    switch Sys.ptrace(.interrupt, pid) {
    case .failure(let err):
      notes.append("PTRACE_INTERRUPT returned \(err.name)")
    case .success:
      switch Children.waitForStop(pid, deadline: context.deadline(inMilliseconds: 500)) {
      case .success(.stopped?): stopped = true
      case .success(let status?): notes.append("waitpid reported \(status) instead of a ptrace-stop")
      case .success(nil): notes.append("no ptrace-stop came within 500 ms of PTRACE_INTERRUPT")
      case .failure(let err): notes.append("waitpid returned \(err.name)")
      }
    }
    guard stopped else { return .attached(detached: false, notes: notes) }
    if case .failure(let err) = Sys.ptrace(.detach, pid) {
      notes.append("PTRACE_DETACH returned \(err.name)")
      return .attached(detached: false, notes: notes)
    }
    return .attached(detached: true, notes: notes)
  }

  // MARK: Deciding

  /// The situation of the kernel's access check for one target.
  static func situation(_ target: Target, yamaScope: Int?, hasSysPtrace: Bool, dumpable: Int32?) -> PtraceAccess.Situation {
    let inherited = dumpable.map { $0 == 1 } ?? true
    switch target {
    case .child:
      return PtraceAccess.Situation(yamaScope: yamaScope, tracerHasSysPtrace: hasSysPtrace, targetDumpable: inherited, targetIsDescendant: true)
    case .nonDescendant:
      return PtraceAccess.Situation(yamaScope: yamaScope, tracerHasSysPtrace: hasSysPtrace, targetDumpable: inherited, targetIsDescendant: false)
    case .nonDumpable:
      return PtraceAccess.Situation(yamaScope: yamaScope, tracerHasSysPtrace: hasSysPtrace, targetDumpable: false, targetIsDescendant: true)
    case .otherUID:
      return PtraceAccess.Situation(yamaScope: yamaScope, tracerHasSysPtrace: hasSysPtrace, idsMatch: false, targetIsDescendant: true)
    }
  }

  /// The layer refusing one attach, and why; nil when it was not refused.
  static func blame(
    _ attempt: Attempt, check: Result<Int, Errno>, situation: PtraceAccess.Situation, confinement: String?,
    enforcing: Bool? = nil
  ) -> Blame? {
    switch attempt.outcome {
    case .attached, .notRun:
      return nil
    case .killed(let ending):
      switch ending.kind {
      case .signaled where ending.signal == 31:
        return .init(layer: .seccomp, reason: "the tracing process was killed by SIGSYS in ptrace: a seccomp KILL action")
      case .trapped:
        return .init(layer: .seccomp, reason: "the tracing process caught a seccomp TRAP (SIGSYS) in system call \(ending.trapSyscall ?? -1)")
      default:
        return .init(layer: .unknown, reason: "the tracing process ended without an answer (\(describe(ending)))")
      }
    case .refused(let err, let tracedBy):
      if let filtered = check.failure, filtered != .noSuchProcess, filtered == err {
        return .init(
          layer: .seccomp,
          reason: "a seccomp filter answers ptrace with \(err.name): PTRACE_PEEKUSER on itself got \(err.name) too, where the kernel answers ESRCH")
      }
      switch err {
      case .noFunction:
        return .init(layer: .seccomp, reason: "ptrace answered ENOSYS, which the kernel never does: a seccomp rule")
      case .permissionDenied:
        return .init(
          layer: .lsm,
          reason: "EACCES comes from a security module, not from the kernel's own checks (which answer EPERM)"
            + (confinement.map { ": this process runs under \($0)" } ?? ""))
      case .notPermitted:
        if let tracer = tracedBy, tracer != 0 {
          return .init(
            layer: .unknown,
            reason: "the target was already being traced by pid \(tracer) (is culprit itself running under strace -f or a debugger?), and a process has only one tracer")
        }
        if let refusal = PtraceAccess.refusal(situation) {
          return .init(layer: refusal.layer, reason: refusal.reason)
        }
        // The kernel's own checks allow it: say which of them the capability covered.
        var allowed: [String] = []
        if !situation.idsMatch { allowed.append("the target runs as another uid, which CAP_SYS_PTRACE (effective) allows") }
        if !situation.targetDumpable { allowed.append("the target is not dumpable, which CAP_SYS_PTRACE (effective) allows") }
        if allowed.isEmpty { allowed.append("the ids match and the target is dumpable") }
        allowed.append(situation.yamaScope.map { "Yama ptrace_scope \($0) allows it" } ?? "Yama is not active")
        let checks = allowed.joined(separator: "; ")
        if let confinement, enforcing != false {
          // AppArmor mediates capabilities: a `deny capability sys_ptrace` rule makes the
          // capability check itself fail, with EPERM, not EACCES.
          let how = situation.idsMatch && situation.targetDumpable
            ? "a security module can refuse it with EPERM"
            : "AppArmor mediates capabilities, and a profile that denies CAP_SYS_PTRACE (`deny capability sys_ptrace,`) makes that capability check fail with EPERM"
          return .init(
            layer: .lsm,
            reason: "EPERM although the kernel's own checks allow it (\(checks)), under \(confinement): \(how)")
        }
        return .init(
          layer: .unknown,
          reason: "EPERM although \(checks): a seccomp rule on ptrace's request argument, a Landlock domain or a BPF LSM could answer it")
      default:
        return .init(layer: .unknown, reason: "ptrace answered \(err.name), which no known layer explains")
      }
    }
  }

  static func describe(_ ending: ProbeEnding) -> String {
    switch ending.kind {
    case .exited: return "exit code \(ending.exitCode ?? 0)"
    case .signaled: return "killed by \(signalName(ending.signal ?? 0))"
    case .trapped: return "seccomp TRAP in system call \(ending.trapSyscall ?? -1)"
    case .timedOut: return "still running after \(ending.afterMilliseconds ?? 0) ms"
    case .forkFailed: return "not created: fork failed with \(ending.forkError?.name ?? "?")"
    }
  }

  public static func judge(_ observations: Observations, _ snapshot: SnapshotFacts) -> ProbeResult {
    if let ending = observations.ending { return judgeUnfinished(ending, snapshot) }
    let check = observations.check?.result ?? .failure(.noSuchProcess)
    let dumpable = observations.dumpable
    let attempts = observations.attempts
    let yamaScope = snapshot.yamaScope
    let caps = snapshot.capabilities
    let hasSysPtrace = caps?.contains(Capability.sysPtrace)
    let confinement = snapshot.lsmConfinement
    func attempt(_ target: Target) -> Attempt? { attempts.first { $0.target == target } }
    func blame(_ attempt: Attempt) -> Blame? {
      Self.blame(
        attempt, check: check,
        situation: Self.situation(attempt.target, yamaScope: yamaScope, hasSysPtrace: hasSysPtrace ?? false, dumpable: dumpable),
        confinement: confinement, enforcing: snapshot.lsmEnforcing)
    }
    func hint(for layer: Layer, yamaScope: Int?) -> String? { Self.hint(for: layer, yamaScope: yamaScope, confinement: confinement) }

    // Evidence.
    var evidence: [String] = []
    let me = observations.pid
    switch check {
    case .failure(.noSuchProcess):
      evidence.append(
        "ptrace(PTRACE_PEEKUSER, \(me)) on itself returned ESRCH (No such process), the kernel's answer for a process that is not a stopped tracee: seccomp lets ptrace through.")
    case .failure(let err):
      evidence.append(
        "ptrace(PTRACE_PEEKUSER, \(me)) on itself returned \(err.description) where the kernel answers ESRCH (kernel/ptrace.c ptrace_check_attach): a seccomp filter answers ptrace.")
    case .success(let value):
      evidence.append("ptrace(PTRACE_PEEKUSER, \(me)) on itself returned \(value), where the kernel answers ESRCH.")
    }
    for attempt in attempts {
      let target = attempt.targetPID.map { "\($0)" } ?? "?"
      let call = "ptrace(PTRACE_SEIZE, \(target)) from pid \(attempt.tracerPID), \(attempt.target.phrase),"
      switch attempt.outcome {
      case .attached(let detached, let notes):
        var sentence = "\(call) succeeded"
        sentence += detached ? "; PTRACE_INTERRUPT, the ptrace-stop and PTRACE_DETACH worked" : ""
        if !notes.isEmpty { sentence += "; " + notes.joined(separator: "; ") }
        evidence.append(sentence + ".")
      case .refused(let err, _):
        evidence.append("\(call) returned \(err.description).")
      case .killed(let ending):
        evidence.append("\(call) got no answer: the tracing process ended (\(Self.describe(ending))).")
      case .notRun(let why):
        evidence.append("Not tried: \(attempt.target.phrase), because \(why).")
      }
      if let blame = blame(attempt) { evidence.append("Why: \(blame.reason).") }
    }
    evidence += snapshot.yamaEvidence
    if let caps {
      evidence.append(
        "CAP_SYS_PTRACE is \(caps.contains(Capability.sysPtrace) ? "" : "not ")in the effective set (CapEff \(caps.hex)).")
    }
    if let dumpable {
      evidence.append("prctl(PR_GET_DUMPABLE) returned \(dumpable) for the probe's process; the targets it forks inherit it.")
    }
    if let confinement { evidence.append("This process runs under \(confinement).") }

    // Status.
    let facts = Self.facts(check: check, dumpable: dumpable, attempts: attempts, blame: blame, snapshot: snapshot)
    guard let child = attempt(.child), attempt(.nonDescendant) != nil else {
      return verdict(.error, "The probe made no attach attempt.", evidence: evidence, facts: facts)
    }
    if case .notRun(let why) = child.outcome {
      return verdict(.skipped, "Not run: \(why).", evidence: evidence, facts: facts)
    }
    if let refused = blame(child) {
      return verdict(
        .blocked, layer: refused.layer,
        "ptrace attach is refused even to a child (\(errnoName(child) ?? "no answer")): \(refused.reason)",
        evidence: evidence, hint: hint(for: refused.layer, yamaScope: yamaScope), facts: facts)
    }
    let nonDescendant = attempt(.nonDescendant)!
    if let refused = blame(nonDescendant) {
      return verdict(
        .degraded, layer: refused.layer,
        "Attaching to a child works, but attaching to a process that is not a descendant is refused (\(errnoName(nonDescendant) ?? "no answer")): \(refused.reason); `dlv attach`, `gdb -p` and `strace -p` on another process fail",
        evidence: evidence, hint: hint(for: refused.layer, yamaScope: yamaScope), facts: facts)
    }
    func attached(_ target: Target) -> Bool {
      if case .attached? = attempt(target)?.outcome { return true } else { return false }
    }
    /// "to a child and to a process that is not a descendant": only the targets really attached to.
    func list(_ items: [String]) -> String {
      items.count <= 1 ? items.joined() : items.dropLast().joined(separator: ", ") + " and " + items.last!
    }
    let shortPhrases: [Target: String] = [
      .child: "to a child", .nonDescendant: "to a process that is not a descendant",
      .nonDumpable: "to a non-dumpable process", .otherUID: "to one of another uid",
    ]
    let worked = list(Target.allCases.filter(attached).compactMap { shortPhrases[$0] })
    // Targets that could not be made (a fork refused by a pids limit, a failed prctl); an
    // other-uid target is not made without CAP_SETUID by design, and that is no gap.
    let hasSetUID = snapshot.has(Capability.setuid) == true
    var gaps: [(why: String, targets: [String])] = []
    for target in Target.allCases {
      guard case .notRun(let why)? = attempt(target)?.outcome, target != .otherUID || hasSetUID else { continue }
      let phrase = String(shortPhrases[target]!.dropFirst(3))
      if let index = gaps.firstIndex(where: { $0.why == why }) { gaps[index].targets.append(phrase) } else { gaps.append((why, [phrase])) }
    }
    let notTried = gaps.map { "; not tried, because \($0.why): \(list($0.targets))" }.joined()
    // Non-dumpable and other-uid targets need CAP_SYS_PTRACE: without it their refusal is the
    // kernel working as designed; any other refusal is a finding.
    var needCapability: [String] = []
    for target in [Target.nonDumpable, .otherUID] {
      guard let attempt = attempt(target), let refused = blame(attempt) else { continue }
      if refused.layer == .capabilities {
        needCapability.append(target == .nonDumpable ? "non-dumpable processes" : "processes of another uid")
        continue
      }
      return verdict(
        .degraded, layer: refused.layer,
        "Attaching \(worked) works, but attaching to \(target.phrase) is refused (\(errnoName(attempt) ?? "no answer")): \(refused.reason)",
        evidence: evidence, hint: hint(for: refused.layer, yamaScope: yamaScope), facts: facts)
    }
    var summary = "ptrace attach works: \(worked)"
    if needCapability.isEmpty {
      return verdict(.ok, summary + notTried, evidence: evidence, facts: facts)
    }
    summary += "; \(needCapability.joined(separator: " and ")) need CAP_SYS_PTRACE, which is not effective" + notTried
    return verdict(
      .ok, summary, evidence: evidence,
      hint: "To attach to \(needCapability.joined(separator: " and ")) (a program started setuid or with file capabilities, or an app running as another user): " + Hints.grantCapability("CAP_SYS_PTRACE"),
      facts: facts)
  }

  static func errnoName(_ attempt: Attempt) -> String? {
    switch attempt.outcome {
    case .refused(let err, _): return err.name
    case .killed(let ending): return Self.describe(ending)
    default: return nil
    }
  }

  static func facts(
    check: Result<Int, Errno>, dumpable: Int32?, attempts: [Attempt], blame: (Attempt) -> Blame?,
    snapshot: SnapshotFacts
  ) -> JSONObject {
    var targets = JSONObject()
    for attempt in attempts {
      var entry: JSONObject = ["pid": .from(attempt.targetPID.map(Int.init)), "tracer_pid": .int(Int(attempt.tracerPID))]
      switch attempt.outcome {
      case .attached(let detached, _):
        entry["result"] = "attached"
        entry["errno"] = .null
        entry["detached"] = .bool(detached)
      case .refused(let err, _):
        entry["result"] = "refused"
        entry["errno"] = .string(err.name)
        entry["detached"] = .null
      case .killed:
        entry["result"] = "killed"
        entry["errno"] = .null
        entry["detached"] = .null
      case .notRun(let why):
        entry["result"] = "not_run"
        entry["errno"] = .null
        entry["detached"] = .null
        entry["reason"] = .string(why)
      }
      entry["layer"] = .from(blame(attempt)?.layer.rawValue)
      targets[attempt.target.rawValue] = .object(entry)
    }
    return Self.baseFacts(check: check, dumpable: dumpable, snapshot: snapshot, targets: .object(targets), signal: nil, lastStep: nil)
  }

  static func baseFacts(
    check: Result<Int, Errno>?, dumpable: Int32?, snapshot: SnapshotFacts, targets: JSONValue, signal: String?, lastStep: String?
  ) -> JSONObject {
    let errnoName: JSONValue = check.map { .from($0.failure?.name) } ?? .null
    let filtered: JSONValue = check.map { .bool($0.failure != .noSuchProcess) } ?? .null
    return [
      "seccomp_check": ["call": "ptrace(PTRACE_PEEKUSER, self)", "errno": errnoName, "filtered": filtered],
      "yama_scope": .from(snapshot.yamaScope),
      "cap_sys_ptrace": .from(snapshot.has(Capability.sysPtrace)),
      "dumpable": .from(dumpable.map(Int.init)),
      "targets": targets,
      "signal": .from(signal),
      "last_step": .from(lastStep),
    ]
  }

  // MARK: Hints

  static func hint(for layer: Layer, yamaScope: Int?, confinement: String? = nil) -> String? {
    switch layer {
    case .seccomp:
      return PtraceAttachProbe.seccompHint
    case .yama:
      switch yamaScope {
      case 3?:
        return "Yama ptrace_scope 3 refuses every attach and PTRACE_TRACEME too, for every process whatever its capabilities, so neither attaching nor starting the program under a debugger (`dlv exec`, `gdb --args`, `strace COMMAND`) works, and the setting cannot be lowered until the host reboots. Reboot the host with a lower value (`kernel.yama.ptrace_scope = 1` in /etc/sysctl.d/ — find what sets 3 there), or debug on a node without it."
      case 2?:
        return "Yama ptrace_scope 2 lets only a tracer with CAP_SYS_PTRACE attach, and refuses PTRACE_TRACEME too unless the parent has CAP_SYS_PTRACE, so starting the program under the debugger (`dlv exec`, `gdb --args`, `strace COMMAND`) does not help without it. Grant CAP_SYS_PTRACE to the debugger's container (Docker/Podman `--cap-add SYS_PTRACE`; Kubernetes `securityContext.capabilities.add: [\"SYS_PTRACE\"]`, or `kubectl debug --profile=general`); then both attaching and starting under the debugger work. Or lower it on the host (`sysctl kernel.yama.ptrace_scope=1`; a host-wide setting, not a container one)."
      default:
        return "ptrace_scope is a host-wide sysctl, not a container setting. Either grant CAP_SYS_PTRACE (Docker/Podman `--cap-add SYS_PTRACE`; Kubernetes `securityContext.capabilities.add: [\"SYS_PTRACE\"]`, or `kubectl debug --profile=general`), or start the program under the debugger (`dlv exec`, `gdb --args`, `strace COMMAND`) so that it is a descendant (scope 1 allows that), or lower it on the host (`sysctl kernel.yama.ptrace_scope=0`; it affects every process of the host)."
      }
    case .capabilities:
      return "The target is not dumpable or runs as another user, so the tracer needs CAP_SYS_PTRACE: " + Hints.grantCapability("CAP_SYS_PTRACE")
        + " Or run the debugger as the target's user, against a target started without setuid or file capabilities."
    case .lsm:
      if let confinement, confinement.hasPrefix("AppArmor"), !confinement.contains("docker-default") {
        return "\(confinement) refuses it: AppArmor answers EACCES when a `ptrace` rule is missing or denied, and EPERM when it denies the capability (`deny capability sys_ptrace,`). Allow it in the profile (`ptrace (trace, read),` and `capability sys_ptrace,`), reload it (`apparmor_parser -r`), or confirm with `--security-opt apparmor=unconfined` (Kubernetes `securityContext.appArmorProfile: {type: Unconfined}`). The kernel log shows the denial (`apparmor=\"DENIED\" operation=\"ptrace\"` or `operation=\"capable\" capname=\"sys_ptrace\"`)."
      }
      return "Docker's AppArmor profile docker-default allows ptrace only between processes under that same profile (`ptrace (trace,read,tracedby,readby) peer=docker-default`); a debugger started with `docker exec` runs under it too. Confirm with `--security-opt apparmor=unconfined` (Kubernetes: `securityContext.appArmorProfile: {type: Unconfined}`, or the container.apparmor.security.beta.kubernetes.io annotation before 1.30); on SELinux hosts `--security-opt label=disable`. Then write a profile that allows the ptrace rule."
    default:
      return "Run `strace -f -e trace=ptrace` on the debugger, or rerun with `--security-opt seccomp=unconfined` and `--cap-add SYS_PTRACE` one at a time to see which layer answers."
    }
  }

  static let seccompHint =
    "Allow ptrace in the seccomp profile. Docker's default profile allows it on kernels ≥ 4.8 since Docker 19.03 (moby PR #38137) and always with `--cap-add SYS_PTRACE`; containerd's (Kubernetes RuntimeDefault) since containerd PR #6810 (2022, 1.6 backport #7171); Podman's since containers/common PR #973. A custom profile needs `{\"names\": [\"ptrace\"], \"action\": \"SCMP_ACT_ALLOW\"}` (Kubernetes: a Localhost seccompProfile with it). Concourse's containerd worker profile lacked ptrace (concourse#9174). To confirm: `--security-opt seccomp=unconfined`, Kubernetes `securityContext.seccompProfile: {type: Unconfined}`."

  // MARK: Endings without a result

  static func judgeUnfinished(_ ending: ProbeEnding, _ snapshot: SnapshotFacts) -> ProbeResult {
    let step = ending.lastStep ?? "its first step"
    func base(signal: String?) -> JSONObject {
      baseFacts(check: nil, dumpable: nil, snapshot: snapshot, targets: [:], signal: signal, lastStep: ending.lastStep)
    }
    switch ending.kind {
    case .forkFailed:
      var facts = base(signal: nil)
      facts["last_step"] = .null
      let forkError = ending.forkError ?? .resourceTemporarilyUnavailable
      facts["fork_errno"] = .string(forkError.name)
      return verdict(
        .skipped,
        "Not run: culprit could not create a child process to attach from (fork failed with \(forkError.name))",
        evidence: ["fork() returned -1 \(forkError.description)."] + ending.forkEvidence, facts: facts)
    case .signaled where ending.signal == 31:
      return verdict(
        .blocked, layer: .seccomp, "A seccomp filter kills the process that calls ptrace (SIGSYS) in \(step)",
        evidence: [
          "The probe's process was killed by SIGSYS while it ran \(step): a seccomp KILL_PROCESS or KILL_THREAD action (seccomp(2)); no handler runs for those actions. A debugger would die the same way."
        ] + snapshot.seccompEvidence,
        hint: Self.seccompHint, facts: base(signal: "SIGSYS"))
    case .trapped:
      let syscall = ending.trapSyscall ?? -1
      let name = syscall == Int32(SyscallNumber.ptrace.native ?? -1) ? "ptrace" : "system call \(syscall)"
      return verdict(
        .blocked, layer: .seccomp, "A seccomp filter traps \(name) (SIGSYS with SYS_SECCOMP) in \(step)",
        evidence: [
          "The probe's process caught SIGSYS with si_code SYS_SECCOMP for \(name) (si_errno \(ending.trapData ?? 0)) while it ran \(step): a seccomp TRAP action; the call was not executed."
        ] + snapshot.seccompEvidence,
        hint: Self.seccompHint, facts: base(signal: "SIGSYS"))
    case .timedOut:
      let ms = ending.afterMilliseconds ?? 0
      return verdict(
        .blocked, layer: .unknown, "The probe did not finish within \(ms) ms; it was killed in \(step)",
        evidence: ["The probe's process was still running after \(ms) ms, in \(step), so culprit killed it and its targets."],
        hint: "Run again with a larger --timeout; `strace -f -p` on the hanging process shows the call it waits in.",
        facts: base(signal: nil))
    case .signaled:
      let name = signalName(ending.signal ?? 0)
      return verdict(
        .error, "The probe's process died from \(name) in \(step): a bug in culprit",
        evidence: ["The probe's process was ended by \(name) while it ran \(step)."],
        hint: "Please report this with the output of `culprit --format markdown`.", facts: base(signal: name))
    case .exited:
      return verdict(
        .error, "The probe's process exited with code \(ending.exitCode ?? 0) without a result: a bug in culprit",
        evidence: ["The probe's process exited with code \(ending.exitCode ?? 0) after writing \(ending.outputBytes ?? 0) bytes that are not a result, in \(step)."],
        hint: "Please report this with the output of `culprit --format markdown`.", facts: base(signal: nil))
    }
  }
}
