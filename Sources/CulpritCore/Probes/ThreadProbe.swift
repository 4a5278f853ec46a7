/// `thread`: raw clone3 and clone with arguments the kernel rejects at once, then a real
/// pthread_create, to tell a seccomp answer (EPERM: broken; ENOSYS: glibc falls back) from the
/// pids controller, RLIMIT_NPROC and threads-max.
public struct ThreadProbe: ActionProbe {
  public init() {}
  public let id = "thread"
  public let title = "Thread creation"
  public let abstract = "Raw clone3 and clone with arguments the kernel refuses, then pthread_create: seccomp EPERM vs ENOSYS, pids cgroup, RLIMIT_NPROC"
  public let isolation = Isolation.child(budgetMilliseconds: 2000)

  static let stepClone3 = "clone3(NULL, 0)"
  static let stepClone = "clone(CLONE_SIGHAND, 0, 0, 0, 0)"
  static let stepThread = "pthread_create"

  /// What the probe's child called and saw.
  public struct Observations: Codable, Equatable, Sendable {
    /// clone3(NULL, 0); nil when not reached.
    public var clone3: CallResult?
    /// clone(CLONE_SIGHAND without CLONE_VM); nil when not reached.
    public var clone: CallResult?
    /// pthread_create's error number, nil when it created the thread (see `threadTried`).
    public var threadError: Errno?
    public var threadTried: Bool
    public var threadRan: Bool
    /// The task limits read before the calls (without counting tasks), and again after an EAGAIN.
    public var before: TaskLimits?
    public var after: TaskLimits?
    /// How the child ended, when it gave no result (or could not be created).
    public var ending: ProbeEnding?

    public init(
      clone3: CallResult? = nil, clone: CallResult? = nil, threadError: Errno? = nil, threadTried: Bool = false,
      threadRan: Bool = false, before: TaskLimits? = nil, after: TaskLimits? = nil, ending: ProbeEnding? = nil
    ) {
      self.clone3 = clone3
      self.clone = clone
      self.threadError = threadError
      self.threadTried = threadTried
      self.threadRan = threadRan
      self.before = before
      self.after = after
      self.ending = ending
    }
  }

  /// What the probe knows about the libraries whose threads are at stake: culprit's own (static)
  /// libc, which the probe's pthread_create used, and the image's.
  struct Libraries {
    var own: String
    var ownUsesClone3: Bool?
    var image: ImageLibc
    var imageUsesClone3: Bool?

    init(_ facts: SnapshotFacts) {
      let machine = facts.machine
      if let version = facts.ownLibcVersion {
        own = "glibc \(version)"
        ownUsesClone3 = ImageLibc(family: .glibc, version: version, path: nil, evidence: []).usesClone3ForThreads(machine: machine)
      } else {
        own = "musl"
        ownUsesClone3 = false
      }
      image = facts.imageLibc
      imageUsesClone3 = image.usesClone3ForThreads(machine: machine)
    }

    /// One sentence on whether the image's own programs share the probe's fate.
    var imageSentence: String {
      switch (image.family, imageUsesClone3) {
      case (.none, _):
        return "The image has no C library (only static programs run in it); a static glibc ≥ 2.34 program such as this probe calls clone3 first, a musl or Go program never does."
      case (.musl, _):
        return "The image's libc is \(image.display), which creates threads with clone and never calls clone3."
      case (.glibc, true?):
        return "The image's libc is \(image.display), whose pthread_create calls clone3 first and falls back to clone only on ENOSYS, as this probe's does."
      case (.glibc, false?):
        return "The image's libc is \(image.display), whose pthread_create uses clone on this architecture and never calls clone3."
      case (.glibc, nil):
        return "The image's libc is glibc of unknown version: glibc ≥ 2.34 (x86_64) calls clone3 first."
      }
    }
  }

  // MARK: Observing

  public func observe(_ context: ProbeContext) -> Observations {
    let snapshot = context.snapshot
    let before = TaskLimits.read(snapshot.source, snapshot: snapshot, countTasks: false)
    context.step(ThreadProbe.stepClone3)
    let clone3Result = Sys.clone3WithZeroSize()
    context.step(ThreadProbe.stepClone)
    let cloneResult = Sys.cloneSighandWithoutVM()
    context.step(ThreadProbe.stepThread)
    let ran = Flag()
    let threadError = Sys.runInThread { ran.value = true }
    var after: TaskLimits?
    if threadError == .resourceTemporarilyUnavailable {
      after = TaskLimits.read(snapshot.source, snapshot: snapshot)
    }
    return Observations(
      clone3: CallResult(clone3Result), clone: CallResult(cloneResult), threadError: threadError, threadTried: true,
      threadRan: ran.value, before: before, after: after)
  }

  public func observations(after outcome: ChildOutcome, context: ProbeContext) -> Observations {
    Observations(ending: ProbeEnding(outcome))
  }

  /// culprit could not fork: the limits are read in culprit's own process (nothing risky runs
  /// there, no thread).
  public func observationsWithoutChild(_ context: ProbeContext, forkError: Errno) -> Observations {
    let snapshot = context.snapshot
    var observations = Observations(ending: .forkFailed(forkError))
    if forkError == .resourceTemporarilyUnavailable {
      observations.after = TaskLimits.read(snapshot.source, snapshot: snapshot)
    }
    return observations
  }

  final class Flag: @unchecked Sendable { var value = false }

  static func describe(_ result: Result<Int, Errno>) -> String {
    switch result {
    case .success(let pid): return "returned \(pid) (a process was created; it exited at once)"
    case .failure(let err): return "returned -1 \(err.description)"
    }
  }

  // MARK: Judging

  public static func judge(_ observations: Observations, _ facts: SnapshotFacts) -> ProbeResult {
    let libs = Libraries(facts)
    if let ending = observations.ending {
      return ending.kind == .forkFailed
        ? judgeWithoutChild(ending.forkError ?? .resourceTemporarilyUnavailable, limits: observations.after, facts, libs)
        : judgeUnfinished(ending, facts, libs)
    }
    let kernel = facts.kernelVersion
    let clone3Result = observations.clone3?.result ?? .failure(.noFunction)
    let cloneResult = observations.clone?.result ?? .failure(.noFunction)
    let before = observations.before ?? TaskLimits(pids: [], nprocSoft: nil, realUID: facts.uid, tasksOfUID: nil, exemptFromNproc: false)
    return decide(
      clone3: (clone3Result, CloneAnswer.clone3(clone3Result, kernel: kernel)),
      clone: (cloneResult, CloneAnswer.clone(cloneResult)), threadError: observations.threadError,
      threadRan: observations.threadRan, kernel: kernel, libs: libs, before: before, after: observations.after)
  }

  static func decide(
    clone3: (Result<Int, Errno>, CloneAnswer), clone: (Result<Int, Errno>, CloneAnswer), threadError: Errno?,
    threadRan: Bool, kernel: KernelVersion?, libs: Libraries, before: TaskLimits, after: TaskLimits?
  ) -> ProbeResult {
    let kernelText = kernel.map { "kernel \($0)" } ?? "a kernel of unknown version"
    var evidence: [String] = []
    switch clone3.1 {
    case .kernel:
      evidence.append("clone3(NULL, 0) \(Self.describe(clone3.0)): the kernel's own answer to a size below CLONE_ARGS_SIZE_VER0, so clone3 reaches the kernel.")
    case .seccompNoSys:
      evidence.append("clone3(NULL, 0) \(Self.describe(clone3.0)) on \(kernelText), which has clone3 (5.3+): a seccomp rule answers ENOSYS (Docker ≥ 20.10.10, containerd and Concourse ≥ 7.13 do this on purpose, or runc's ENOSYS stub).")
    case .kernelLacksCall:
      evidence.append("clone3(NULL, 0) \(Self.describe(clone3.0)): \(kernelText) predates clone3 (5.3).")
    case .noSysUnknownKernel:
      evidence.append("clone3(NULL, 0) \(Self.describe(clone3.0)): a seccomp rule or a kernel before 5.3 (the kernel version is unknown).")
    case .seccompErrno(let err):
      evidence.append("clone3(NULL, 0) \(Self.describe(clone3.0)): the kernel would answer EINVAL, so a seccomp rule answered \(err.name) before the kernel ran.")
    case .created:
      evidence.append("clone3(NULL, 0) \(Self.describe(clone3.0)), which no kernel should do.")
    }
    switch clone.1 {
    case .kernel:
      evidence.append("clone(CLONE_SIGHAND without CLONE_VM) \(Self.describe(clone.0)): the kernel's own answer, so clone reaches the kernel.")
    case .seccompNoSys, .seccompErrno:
      evidence.append("clone(CLONE_SIGHAND without CLONE_VM) \(Self.describe(clone.0)): the kernel would answer EINVAL, so a seccomp rule answered.")
    default:
      evidence.append("clone(CLONE_SIGHAND without CLONE_VM) \(Self.describe(clone.0)).")
    }
    if let threadError {
      evidence.append("pthread_create (\(libs.own), linked into culprit) returned \(threadError.description).")
    } else {
      evidence.append("pthread_create (\(libs.own), linked into culprit) created a thread that ran\(threadRan ? "" : " (its body did not report)") and was joined.")
    }
    evidence.append(libs.imageSentence)

    var facts: JSONObject = [
      "clone3": ["errno": .from(clone3.0.failure?.name), "answer": .string(clone3.1.factName)],
      "clone": ["errno": .from(clone.0.failure?.name), "answer": .string(clone.1.factName)],
      "pthread_create": ["error": .from(threadError?.name), "ran": .bool(threadRan)],
      "kernel_version": .from(kernel?.description),
      "own_libc": .string(libs.own),
      "own_libc_uses_clone3": .from(libs.ownUsesClone3),
      "image_libc": .string(libs.image.display),
      "image_libc_uses_clone3": .from(libs.imageUsesClone3),
      "image_affected": .null,
      "pids": pidsFact(after ?? before, before: before),
      "nproc_soft": (after ?? before).nprocSoft.map { .int(Int(clamping: $0)) } ?? .null,
      "fork_errno": .null,
    ]

    // Threads work.
    if threadError == nil {
      if clone.1.isFiltered {
        // Threads came from clone3; programs that use clone cannot create any.
        let imageUsesClone = libs.image.family == .musl || libs.imageUsesClone3 == false
        facts["image_affected"] = .bool(imageUsesClone)
        return verdict(
          imageUsesClone ? .blocked : .degraded, layer: .seccomp,
          "Threads of this probe work through clone3, but a seccomp rule refuses clone (\(clone.0.failure?.name ?? "?")): programs that create threads with clone (musl, Go, glibc before 2.34) cannot.",
          evidence: evidence, hint: ThreadHints.cloneBlocked, facts: facts)
      }
      facts["image_affected"] = .bool(false)
      let summary: String
      switch clone3.1 {
      case .seccompNoSys:
        summary = "Threads work: a seccomp rule answers clone3 with ENOSYS and glibc falls back to clone, as intended."
      case .kernelLacksCall:
        summary = "Threads work: \(kernelText) has no clone3 and glibc falls back to clone."
      case .noSysUnknownKernel:
        summary = "Threads work: clone3 answers ENOSYS and glibc falls back to clone."
      case .seccompErrno(let err):
        summary = "Threads work, although clone3 with a zero size answers \(err.name): the filter's clone3 rule depends on its arguments."
      case .kernel, .created:
        summary = "Threads work: clone3, clone and pthread_create all reach the kernel."
      }
      return verdict(.ok, summary, evidence: evidence, facts: facts)
    }

    // Threads fail.
    let failure = threadError!
    if failure == .resourceTemporarilyUnavailable {
      let limits = after ?? before
      let attribution = limits.attributeEAGAIN(call: "pthread_create", before: before)
      if attribution.layer == .cgroupPids, let room = limits.roomForLoneProgram, room > 0 {
        // The limit was reached by culprit's own processes: a program running here alone still
        // has room, so the verdict is about that room, not about culprit's failed thread.
        facts["image_affected"] = .bool(false)
        facts["room_for_lone_program"] = .int(room)
        return verdict(
          .degraded, layer: .cgroupPids,
          "Threads start, \(room == 1 ? "but only one at a time" : "up to \(room) at a time"): pids.max \(limits.limitedLevel?.max.map(String.init) ?? "?") leaves a program running here alone room for \(room) task\(room == 1 ? "" : "s") besides itself. culprit's own processes held the rest, so its probe thread got EAGAIN; a program needing more threads or processes than that fails the same way.",
          evidence: evidence + attribution.evidence, hint: ThreadHints.pidsLimit, facts: facts)
      }
      facts["image_affected"] = .bool(true)
      if attribution.layer == .cgroupPids, limits.roomForLoneProgram == 0 {
        facts["room_for_lone_program"] = .int(0)
      }
      return verdict(
        .blocked, layer: attribution.layer, attribution.summary, evidence: evidence + attribution.evidence,
        hint: attribution.hint, facts: facts)
    }
    if case .seccompErrno(let err) = clone3.1, err == failure {
      // clone3 refused with EPERM: glibc ≥ 2.34 does not fall back.
      let imageSafe = libs.imageUsesClone3 == false && clone.1 == .kernel
      facts["image_affected"] = .bool(!imageSafe)
      if imageSafe {
        return verdict(
          .degraded, layer: .seccomp,
          "A seccomp rule answers clone3 with \(err.name): threads of glibc ≥ 2.34 programs fail (this probe's did), but the image's \(libs.image.display) uses clone, which works.",
          evidence: evidence, hint: ThreadHints.clone3EPERM, facts: facts)
      }
      return verdict(
        .blocked, layer: .seccomp,
        "Threads fail: a seccomp rule answers clone3 with \(err.name), and glibc ≥ 2.34 falls back to clone only on ENOSYS.",
        evidence: evidence, hint: ThreadHints.clone3EPERM, facts: facts)
    }
    if clone3.1.glibcFallsBack, clone.1.isFiltered {
      facts["image_affected"] = .bool(true)
      return verdict(
        .blocked, layer: .seccomp,
        "Threads fail: clone3 answers ENOSYS and glibc falls back to clone, which a seccomp rule refuses (\(clone.0.failure?.name ?? "?")).",
        evidence: evidence, hint: ThreadHints.cloneBlocked, facts: facts)
    }
    facts["image_affected"] = .null
    return verdict(
      .blocked, layer: clone3.1.isFiltered || clone.1.isFiltered ? .seccomp : .unknown,
      "Threads fail: pthread_create returned \(failure.name), which neither the clone3 nor the clone check explains.",
      evidence: evidence + before.pids.map { "\($0.directory)/pids.current is \($0.current.map(String.init) ?? "?") of \($0.max.map(String.init) ?? "max")." },
      facts: facts)
  }

  static func pidsFact(_ limits: TaskLimits, before: TaskLimits) -> JSONValue {
    guard let level = limits.fullLevel ?? limits.pids.first else { return .null }
    return [
      "directory": .string(level.directory), "max": .from(level.max), "current": .from(level.current),
      "events_max_before": .from(before.pids.first { $0.directory == level.directory }?.refusals),
      "events_max_after": .from(level.refusals),
    ]
  }

  // MARK: Without a child

  /// The facts of a run that never reached (or never reported) its calls: every call "not-run".
  static func unreachedFacts(_ facts: SnapshotFacts, _ libs: Libraries) -> JSONObject {
    [
      "clone3": ["errno": .null, "answer": "not-run"],
      "clone": ["errno": .null, "answer": "not-run"],
      "pthread_create": ["error": .null, "ran": .null],
      "kernel_version": .from(facts.kernelVersion?.description),
      "own_libc": .string(libs.own),
      "own_libc_uses_clone3": .from(libs.ownUsesClone3),
      "image_libc": .string(libs.image.display),
      "image_libc_uses_clone3": .from(libs.imageUsesClone3),
      "image_affected": .null,
      "pids": .null,
      "nproc_soft": .null,
      "fork_errno": .null,
    ]
  }

  /// culprit could not fork: a process and a thread are both tasks, so the limit that refused the
  /// fork refuses pthread_create too. Nothing risky runs here (no thread in culprit's process).
  static func judgeWithoutChild(_ forkError: Errno, limits: TaskLimits?, _ snapshotFacts: SnapshotFacts, _ libs: Libraries) -> ProbeResult {
    var facts = unreachedFacts(snapshotFacts, libs)
    facts["fork_errno"] = .string(forkError.name)
    var evidence = ["fork() in culprit returned -1 \(forkError.description), so the probe could not run in a child of its own; it made no clone or thread call."]
    switch forkError {
    case .resourceTemporarilyUnavailable:
      let limits = limits ?? TaskLimits(pids: [], nprocSoft: nil, realUID: snapshotFacts.uid, tasksOfUID: nil, exemptFromNproc: false)
      facts["pids"] = pidsFact(limits, before: limits)
      facts["nproc_soft"] = limits.nprocSoft.map { .int(Int(clamping: $0)) } ?? .null
      facts["image_affected"] = .bool(true)
      let attribution = limits.attributeEAGAIN(call: "fork", before: nil)
      evidence += attribution.evidence
      if attribution.layer == .cgroupPids, let room = limits.roomForLoneProgram {
        facts["room_for_lone_program"] = .int(room)
        if room > 0 {
          facts["image_affected"] = .bool(false)
          evidence.append("A thread is a task like a process; culprit's own tasks hold the limit, not the program's.")
          return Self.verdict(
            .degraded, layer: .cgroupPids,
            "culprit could not start its probe process: its own tasks fill pids.max \(limits.limitedLevel?.max.map(String.init) ?? "?"). A program running here alone has room for \(room) task\(room == 1 ? "" : "s") (threads or processes) besides itself; more fail with EAGAIN.",
            evidence: evidence, hint: attribution.hint, facts: facts)
        }
      }
      evidence.append("A thread is a task like a process, so pthread_create meets the same limit and fails with EAGAIN too.")
      return Self.verdict(
        .blocked, layer: attribution.layer, attribution.summary + " No new thread or process can be created.",
        evidence: evidence, hint: attribution.hint, facts: facts)
    case .notPermitted, .noFunction:
      facts["image_affected"] = .bool(true)
      evidence.append("fork() is a clone system call; no kernel check answers it with \(forkError.name), so a seccomp rule refuses clone.")
      return Self.verdict(
        .blocked, layer: .seccomp, "Processes cannot be created: clone answers \(forkError.name), so threads cannot be either.",
        evidence: evidence, hint: ThreadHints.cloneBlocked, facts: facts)
    default:
      return Self.verdict(
        .blocked, layer: .unknown, "culprit could not fork (\(forkError.name)), so threads were not tried.",
        evidence: evidence, facts: facts)
    }
  }

  // MARK: A killed or trapped child

  static func judgeUnfinished(_ ending: ProbeEnding, _ snapshotFacts: SnapshotFacts, _ libs: Libraries) -> ProbeResult {
    let step = ending.lastStep
    var facts = unreachedFacts(snapshotFacts, libs)
    facts["last_step"] = .from(step)
    let action: String
    let signalText: String
    switch ending.kind {
    case .signaled where ending.signal == 31:
      action = "KILL"
      signalText = "killed by SIGSYS"
      facts["signal"] = "SIGSYS"
    case .trapped:
      action = "TRAP"
      signalText = "sent SIGSYS (si_code SYS_SECCOMP, system call \(ending.trapSyscall ?? -1), si_errno \(ending.trapData ?? 0))"
      facts["signal"] = "SIGSYS"
      facts["trap_syscall"] = .int(Int(ending.trapSyscall ?? -1))
    default:
      var base = Self().standardInterpretation(ending.outcome!)
      for (key, value) in facts where base.facts[key] == nil { base.facts[key] = value }
      return base
    }
    let callName: String
    switch step {
    case ThreadProbe.stepClone3?: callName = "clone3"
    case ThreadProbe.stepClone?: callName = "clone"
    case ThreadProbe.stepThread?: callName = "clone3 or clone (inside pthread_create)"
    default: callName = "a system call"
    }
    let answered = step == ThreadProbe.stepClone3 ? "clone3" : step == ThreadProbe.stepClone ? "clone" : nil
    if answered == "clone3" { facts["clone3"] = ["errno": .null, "answer": .string("seccomp-\(action.lowercased())")] }
    if answered == "clone" {
      facts["clone3"] = ["errno": .null, "answer": "passed"]
      facts["clone"] = ["errno": .null, "answer": .string("seccomp-\(action.lowercased())")]
    }
    facts["image_affected"] = .bool(true)
    var evidence = [
      "The probe's child was \(signalText) while it ran \(step ?? "an unannounced step"): a seccomp \(action) action for \(callName); the call never reached the kernel."
    ]
    evidence.append(libs.imageSentence)
    let hint = answered == "clone3"
      ? "A seccomp profile \(action == "KILL" ? "kills" : "traps") clone3, which glibc ≥ 2.34 calls for every thread and posix_spawn. Change the clone3 rule to {\"names\": [\"clone3\"], \"action\": \"SCMP_ACT_ERRNO\", \"errnoRet\": 38} so glibc falls back to clone. " + Hints.seccompKill
      : Hints.seccompKill
    return Self.verdict(
      .blocked, layer: .seccomp,
      "A seccomp filter \(action == "KILL" ? "kills" : "traps") \(callName) (SIGSYS): creating threads ends the process.",
      evidence: evidence, hint: hint, facts: facts)
  }
}
