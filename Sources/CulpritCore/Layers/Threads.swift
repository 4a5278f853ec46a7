/// What creating a thread or a process runs into: the seccomp answer to clone3 and clone, and
/// the limits that turn a new task into EAGAIN (the pids controller, RLIMIT_NPROC,
/// kernel.threads-max).
public enum CloneAnswer: Equatable, Sendable {
  /// The kernel's own answer (EINVAL to the probe's arguments): no filter stopped the call.
  case kernel
  /// ENOSYS on a kernel that has the call: a seccomp rule answering ENOSYS, or runc's ENOSYS stub.
  case seccompNoSys
  /// ENOSYS from a kernel older than the call (clone3: 5.3).
  case kernelLacksCall
  /// ENOSYS where the kernel's version is unknown: a filter or an old kernel.
  case noSysUnknownKernel
  /// Another errno, which only a seccomp rule gives to these arguments (EPERM: the default
  /// action of Docker's and Concourse's profiles).
  case seccompErrno(Errno)
  /// The call created a process: the kernel accepted arguments it must refuse.
  case created

  /// The first kernel with clone3 (clone(2), VERSIONS).
  public static let clone3Kernel = KernelVersion(5, 3)

  /// Classifies clone3(NULL, 0).
  public static func clone3(_ result: Result<Int, Errno>, kernel: KernelVersion?) -> CloneAnswer {
    switch result {
    case .success: return .created
    case .failure(.invalidArgument): return .kernel
    case .failure(.noFunction):
      guard let kernel else { return .noSysUnknownKernel }
      return kernel >= clone3Kernel ? .seccompNoSys : .kernelLacksCall
    case .failure(let err): return .seccompErrno(err)
    }
  }

  /// Classifies clone(CLONE_SIGHAND without CLONE_VM), which every kernel has.
  public static func clone(_ result: Result<Int, Errno>) -> CloneAnswer {
    switch result {
    case .success: return .created
    case .failure(.invalidArgument): return .kernel
    case .failure(.noFunction): return .seccompNoSys
    case .failure(let err): return .seccompErrno(err)
    }
  }

  /// Whether glibc's pthread_create can go on after this clone3 answer: it falls back to clone
  /// only on ENOSYS (sysdeps/unix/sysv/linux/clone-internal.c).
  public var glibcFallsBack: Bool {
    switch self {
    case .seccompNoSys, .kernelLacksCall, .noSysUnknownKernel: return true
    case .kernel, .seccompErrno, .created: return false
    }
  }

  /// Whether a filter answered rather than the kernel.
  public var isFiltered: Bool {
    switch self {
    case .seccompNoSys, .seccompErrno: return true
    default: return false
    }
  }

  /// The fact value: "kernel", "seccomp-enosys", "kernel-lacks-call", "enosys", "seccomp-errno",
  /// "created".
  public var factName: String {
    switch self {
    case .kernel: return "kernel"
    case .seccompNoSys: return "seccomp-enosys"
    case .kernelLacksCall: return "kernel-lacks-call"
    case .noSysUnknownKernel: return "enosys"
    case .seccompErrno: return "seccomp-errno"
    case .created: return "created"
    }
  }
}

/// How to fix a seccomp profile that answers clone3 with EPERM, with the releases that fixed it.
public enum ThreadHints {
  public static let clone3EPERM =
    "The seccomp profile answers clone3 with EPERM, so glibc ≥ 2.34 does not fall back to clone and every pthread_create fails (curl: \"getaddrinfo() thread failed to start\"). Runtimes whose default profile answers clone3 with ENOSYS instead: Docker ≥ 20.10.10 (moby#42681), containerd ≥ 1.5.6 and its 1.4 backport (containerd#5982, #6014), Concourse ≥ 7.13.0 (concourse#9173); Podman allows clone3. Upgrade the runtime, or add this entry to a custom profile: {\"names\": [\"clone3\"], \"action\": \"SCMP_ACT_ERRNO\", \"errnoRet\": 38} (38 is ENOSYS). To confirm: Docker/Podman --security-opt seccomp=unconfined; Kubernetes securityContext.seccompProfile.type: Unconfined."

  public static let cloneBlocked =
    "The seccomp profile refuses clone itself, which every threading library needs (musl, Go, glibc before 2.34, and glibc ≥ 2.34 after its clone3 fallback). Allow clone in the profile ({\"names\": [\"clone\"], \"action\": \"SCMP_ACT_ALLOW\"}, with Docker's argument filter on namespace flags if wanted), or run with --security-opt seccomp=unconfined to confirm."

  public static let pidsLimit =
    "The pids controller counts threads as well as processes. Raise the limit: Docker/Podman `--pids-limit N` (Podman's default is 2048; -1 or 0 removes it), docker-compose `pids_limit`, Kubernetes the kubelet's `podPidsLimit` (a node setting); or find what holds the tasks (pids.current counts every thread in the cgroup)."

  public static let nprocLimit =
    "RLIMIT_NPROC counts every task (thread or process) of the real uid in the user namespace, including those outside this container when there is no user namespace. Raise it (Docker/Podman `--ulimit nproc=N:N`; Kubernetes takes it from the container runtime's defaults), or run as a uid no other process uses."

  public static let threadsMax =
    "The whole machine has as many threads as kernel.threads-max allows. Raise it on the host (`sysctl kernel.threads-max=N`) or find the process that holds so many threads."
}

/// Readings that explain an EAGAIN from fork or pthread_create: the pids controller's files
/// (this cgroup and its visible ancestors), RLIMIT_NPROC and the tasks of the real uid, and
/// kernel.threads-max against the threads in existence.
public struct TaskLimits: Codable, Equatable, Sendable {
  public struct PidsLevel: Codable, Equatable, Sendable {
    public var directory: String
    public var max: Int?
    public var current: Int?
    /// pids.events "max": forks refused because of this cgroup's or an ancestor's limit.
    public var refusals: Int?
  }

  /// This cgroup first, then its ancestors up to the controller's root (which has no pids.max).
  public var pids: [PidsLevel]
  public var nprocSoft: UInt64?
  public var realUID: UInt32
  /// Threads of the real uid counted over /proc (only this pid namespace's tasks are visible).
  public var tasksOfUID: Int?
  /// The kernel skips the RLIMIT_NPROC check for root of the initial user namespace and for
  /// CAP_SYS_RESOURCE or CAP_SYS_ADMIN there (kernel/fork.c copy_process).
  public var exemptFromNproc: Bool
  public var threadsMax: Int?
  /// The total of /proc/loadavg's fourth field: every thread on the machine (nr_threads).
  public var threadsNow: Int?
  /// Tasks in the nearest limited pids cgroup that belong to culprit itself (its process and
  /// the probe processes below it), when they were counted.
  public var culpritTasks: Int? = nil

  /// Tasks that can still be created before a pids limit refuses one: the smallest max - current
  /// over the levels that have a limit; nil when none has (or none could be read).
  public var pidsHeadroom: Int? {
    pids.compactMap { level -> Int? in
      guard let max = level.max, let current = level.current else { return nil }
      return Swift.max(0, max - current)
    }.min()
  }

  /// The nearest level with a limit and a count: the one culprit's own tasks are counted in.
  public var limitedLevel: PidsLevel? { pids.first { $0.max != nil && $0.current != nil } }

  /// The tasks a program running here without culprit would have besides its own: pids.max less
  /// the tasks that are not culprit's (culprit's own processes and threads do not count against
  /// the user's program) less the program itself; nil when culprit's tasks were not counted.
  public var roomForLoneProgram: Int? {
    guard let own = culpritTasks, let level = limitedLevel, let max = level.max, let current = level.current else { return nil }
    return Swift.max(0, max - Swift.max(0, current - own) - 1)
  }

  /// The level whose limit is reached (current ≥ max), the nearest first.
  public var fullLevel: PidsLevel? {
    pids.first { level in
      guard let max = level.max, let current = level.current else { return false }
      return current >= max
    }
  }

  /// Parses /proc/loadavg's fourth field "runnable/total" and returns the total.
  public static func parseThreadCount(loadavg: String) -> Int? {
    let fields = loadavg.split(separator: " ")
    guard fields.count >= 4 else { return nil }
    let parts = fields[3].split(separator: "/")
    return parts.count == 2 ? Int(parts[1]) : nil
  }

  /// The real uid and thread count of a /proc/PID/status text.
  public static func parseTaskOwner(status: String) -> (uid: UInt32, threads: Int)? {
    let fields = ProcStatus.parse(status)
    guard let uid = fields["Uid"]?.split(whereSeparator: { $0 == " " || $0 == "\t" }).first.flatMap({ UInt32($0) }),
      let threads = fields.int("Threads")
    else { return nil }
    return (uid, threads)
  }

  /// Reads the limits now (not from the snapshot: counters move). `countTasks` also walks /proc
  /// to count the real uid's threads, which costs a read per process: only after a failure.
  public static func read(_ source: SystemSource, snapshot: Snapshot, countTasks: Bool = true) -> TaskLimits {
    var levels: [PidsLevel] = []
    if var dir = snapshot.cgroup.directories["pids"] {
      while dir.hasPrefix("/sys/fs/cgroup"), levels.count < 32 {
        let maxText = source.readLine(dir + "/pids.max")
        guard maxText != nil else { break }
        let limit = CgroupState.parseLimit(maxText)
        levels.append(
          PidsLevel(
            directory: dir, max: limit.value.map { Int($0) },
            current: source.readLine(dir + "/pids.current").flatMap { Int($0) },
            refusals: source.readText(dir + "/pids.events").value.flatMap(CgroupState.parsePidsEvents)))
        guard let slash = dir.lastIndex(of: "/"), slash != dir.startIndex else { break }
        dir = String(dir[..<slash])
      }
    }
    let identity = source.identity()
    let nproc = source.rlimit(.nproc).value?.soft
    var tasks: Int?
    if countTasks, nproc != nil, let entries = source.list("/proc").value {
      var count = 0
      for entry in entries.prefix(65536) where entry.first?.isNumber == true {
        guard let text = source.readText("/proc/\(entry)/status").value, let owner = parseTaskOwner(status: text) else { continue }
        if owner.uid == identity.uid { count += owner.threads }
      }
      tasks = count
    }
    var culpritTasks: Int?
    if countTasks, let level = levels.first(where: { $0.max != nil && $0.current != nil }) {
      culpritTasks = countCulpritTasks(source, directory: level.directory)
    }
    let initial = snapshot.userns.isInitial ?? true
    let effective = snapshot.capabilities.value?.effective
    let privileged = effective.map { $0.contains(Capability.sysResource) || $0.contains(Capability.sysAdmin) } ?? false
    return TaskLimits(
      pids: levels, nprocSoft: nproc, realUID: identity.uid, tasksOfUID: tasks,
      exemptFromNproc: initial && (identity.uid == 0 || privileged),
      threadsMax: source.readLine("/proc/sys/kernel/threads-max").flatMap { Int($0) },
      threadsNow: source.readLine("/proc/loadavg").flatMap(parseThreadCount), culpritTasks: culpritTasks)
  }

  /// The parent pid in a /proc/PID/stat text ("pid (comm) state ppid ..."; comm may hold spaces
  /// and parentheses, so the fields are read after the last ")").
  public static func parseParentPID(stat: String) -> Int32? {
    guard let close = stat.lastIndex(of: ")") else { return nil }
    let fields = stat[stat.index(after: close)...].split(separator: " ")
    return fields.count >= 2 ? Int32(fields[1]) : nil
  }

  /// The threads of the processes in `directory`/cgroup.procs that are culprit's own: culprit's
  /// process (`Children.culpritPID`) and its descendants, found by walking /proc/PID/stat's
  /// parent pids. nil when culprit's pid is unknown or the file cannot be read.
  static func countCulpritTasks(_ source: SystemSource, directory: String) -> Int? {
    let root = Children.culpritPID
    guard root > 0, let procs = source.readText(directory + "/cgroup.procs").value else { return nil }
    var count = 0
    for line in procs.split(separator: "\n") {
      guard let pid = Int32(line.trimmed()) else { continue }
      var ancestor: Int32? = pid
      var steps = 0
      while let current = ancestor, current > 1, current != root, steps < 16 {
        ancestor = source.readText("/proc/\(current)/stat").value.flatMap(parseParentPID)
        steps += 1
      }
      guard ancestor == root else { continue }
      count += source.readText("/proc/\(pid)/status").value.flatMap(parseTaskOwner)?.threads ?? 1
    }
    return count
  }

  /// The layer behind an EAGAIN, with the sentences that show it. `before` is a reading taken
  /// before the failed call, so that a pids.events increase can be seen.
  public func attributeEAGAIN(call: String, before: TaskLimits?) -> (layer: Layer, summary: String, evidence: [String], hint: String?) {
    var evidence: [String] = []
    for level in pids {
      var sentence = "\(level.directory)/pids.current is \(level.current.map(String.init) ?? "unreadable") of pids.max \(level.max.map(String.init) ?? "max")"
      if let refusals = level.refusals {
        if let earlier = before?.pids.first(where: { $0.directory == level.directory })?.refusals, earlier != refusals {
          sentence += "; pids.events max went from \(earlier) to \(refusals) across the failed \(call)"
        } else {
          sentence += "; pids.events max is \(refusals)"
        }
      }
      evidence.append(sentence + ".")
    }
    if let own = culpritTasks, own > 0, let level = limitedLevel, let current = level.current, let room = roomForLoneProgram {
      // A program that runs alone has the room culprit's own processes take, less its own task.
      evidence.append(
        "\(own) of the \(current) tasks in \(level.directory) are culprit's own (culprit and the processes it made for its probes): a program running here without culprit would have "
          + (room > 0 ? "room for \(room) more task\(room == 1 ? "" : "s") besides itself." : "no room for another task either."))
    }
    if let nprocSoft {
      evidence.append(
        "RLIMIT_NPROC is \(nprocSoft) for real uid \(realUID), which has \(tasksOfUID.map(String.init) ?? "an unknown number of") tasks visible in /proc"
          + (exemptFromNproc ? "; the kernel does not apply it to this process (root or CAP_SYS_RESOURCE/CAP_SYS_ADMIN in the initial user namespace)." : "."))
    } else {
      evidence.append("RLIMIT_NPROC is unlimited.")
    }
    if let threadsMax {
      evidence.append("kernel.threads-max is \(threadsMax); /proc/loadavg counts \(threadsNow.map(String.init) ?? "an unknown number of") threads on the machine.")
    }

    let increased = pids.contains { level in
      guard let now = level.refusals, let earlier = before?.pids.first(where: { $0.directory == level.directory })?.refusals else { return false }
      return now > earlier
    }
    if increased || fullLevel != nil {
      let level = fullLevel ?? pids.first!
      return (
        .cgroupPids,
        "\(call) failed with EAGAIN: the pids cgroup limit is reached (\(level.current.map(String.init) ?? "?") of \(level.max.map(String.init) ?? "max") tasks in \(level.directory)).",
        evidence, ThreadHints.pidsLimit
      )
    }
    if let nprocSoft, !exemptFromNproc, tasksOfUID.map({ UInt64($0) >= nprocSoft }) ?? true {
      return (
        .rlimit,
        "\(call) failed with EAGAIN: RLIMIT_NPROC (\(nprocSoft)) is reached for uid \(realUID).",
        evidence, ThreadHints.nprocLimit
      )
    }
    if let threadsMax, let threadsNow, threadsNow >= threadsMax {
      return (
        .kernel, "\(call) failed with EAGAIN: the machine has \(threadsNow) threads, kernel.threads-max is \(threadsMax).",
        evidence, ThreadHints.threadsMax
      )
    }
    evidence.append(
      "Neither the pids cgroup nor RLIMIT_NPROC nor kernel.threads-max is at its limit; pthread_create also reports a failed stack allocation (RLIMIT_AS, the memory cgroup) as EAGAIN, and a full pid space (kernel.pid_max) gives EAGAIN too.")
    return (.unknown, "\(call) failed with EAGAIN, but no task limit was found at its maximum.", evidence, nil)
  }
}
