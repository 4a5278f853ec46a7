/// What `culprit trace` saw the program do: its processes, the calls that failed in a way a
/// policy can cause (with the facts read at that moment), the ordinary failures counted, and
/// how each process ended. Observations only; `TraceJudge` decides the layers from them.
public struct TraceObservations: Sendable {
  public enum Mode: Equatable, Sendable {
    /// `culprit trace -- CMD`: the command was started under the tracer.
    case command([String])
    /// `culprit trace --pid PID`: an existing process was attached to.
    case attached(Int32)
  }

  public var mode: Mode
  /// The command's process, or the attached one.
  public var rootPID: Int32 = 0
  public var rootEnding: TraceProcess.Ending?
  public var processes: [Int32: TraceProcess] = [:]
  /// The recorded failures, in the order they first happened (repeats counted, not repeated).
  public var failures: [TraceFailure] = []
  /// SIGSYS with si_code SYS_SECCOMP: a filter's TRAP action.
  public var traps: [TraceTrap] = []
  /// "openat ENOENT" → how many: failures no policy causes.
  public var ordinary: [String: Int] = [:]
  /// Syscalls seen (entries).
  public var syscalls: Int = 0
  public var durationMilliseconds: Int = 0
  /// The signal that ended the tracing early (SIGINT from Ctrl-C, SIGTERM), or nil.
  public var interruptedBy: Int32?
  public var timedOut = false
  /// Tasks still running when the trace ended and were let go (detached).
  public var detachedTasks = 0
  /// --pid: what the process was waiting in when culprit attached.
  public var attachedWaits: [TraceWait] = []
  /// culprit's own seccomp state, to compare with the program's (Seccomp_filters).
  public var tracerSeccompFilters: Int?

  public init(mode: Mode) { self.mode = mode }
}

/// One process of the traced tree.
public struct TraceProcess: Sendable {
  public enum Ending: Equatable, Sendable {
    case exited(Int32)
    /// Killed by a signal; `seccompKill` when it was SIGSYS with no signal-delivery-stop (a
    /// seccomp KILL action), with the call the killed thread was in.
    case signaled(Int32, during: TraceCall?, seccompKill: Bool)
    /// Still running when the trace ended; culprit detached from it.
    case detached

    /// The shell's view: the exit code, or 128 + the signal.
    public var shellStatus: Int32? {
      switch self {
      case .exited(let code): return code
      case .signaled(let signal, _, _): return 128 + signal
      case .detached: return nil
      }
    }
  }

  public var pid: Int32
  public var parent: Int32?
  /// argv after the last execve, from /proc/PID/cmdline.
  public var argv: [String] = []
  public var ending: Ending?
  /// The last lines the process wrote to its stderr (fd 2), newest last.
  public var stderrTail: [String] = []

  /// "curl" (the argv[0] basename), or "pid 123".
  public var name: String {
    guard let first = argv.first, !first.isEmpty else { return "pid \(pid)" }
    return String(first.split(separator: "/").last ?? Substring(first))
  }
}

/// A system call as the tracer saw it at its entry: number, name and register arguments.
public struct TraceCall: Equatable, Sendable {
  public var nr: Int
  public var name: String
  public var args: [UInt64]
}

/// A socket address a call named.
public struct TraceAddress: Equatable, Sendable {
  /// AF_INET 2, AF_INET6 10, AF_UNIX 1, …
  public var family: Int
  /// "127.0.0.1:9", "[::1]:443", "/run/x.sock".
  public var text: String
  public var port: Int?
}

/// The facts of the failing thread read from /proc while it was stopped at the failure.
public struct TraceTaskFacts: Equatable, Sendable {
  public var effective: CapabilitySet?
  /// Real, effective, saved and filesystem uids (the Uid line).
  public var uids: [UInt32]
  public var gids: [UInt32]
  public var seccompMode: Int?
  public var seccompFilters: Int?
  public var noNewPrivs: Bool?
  /// /proc/TID/attr/current (AppArmor profile or SELinux context), when set.
  public var label: String?

  public var fsuid: UInt32? { uids.count > 3 ? uids[3] : uids.last }
  public var fsgid: UInt32? { gids.count > 3 ? gids[3] : gids.last }
}

/// How the program answered a refused call.
public enum TraceReaction: Equatable, Sendable {
  /// Not yet known (the trace ended first).
  case unknown
  /// It made the same call again; `succeeded` when a later attempt worked.
  case retried(succeeded: Bool)
  /// It made the fallback call (clone after clone3, faccessat after faccessat2, …).
  case fellBack(to: String, succeeded: Bool)
  /// It went on with other calls.
  case continued
  /// Its process ended soon after, without trying again.
  case gaveUp
}

/// A call that failed in a way a policy can cause.
public struct TraceFailure: Sendable {
  public var pid: Int32
  public var tid: Int32
  public var call: TraceCall
  public var errno: Errno
  /// Milliseconds from the start of the trace (first occurrence).
  public var atMilliseconds: Int
  /// Sequence number (order of syscalls) of the first and last occurrence.
  public var firstSequence: Int
  public var lastSequence: Int
  public var count = 1
  /// The path the call named, made absolute (relative to the cwd or dirfd), when it takes one;
  /// for a write-family call on a descriptor (ENOSPC, EROFS), the file that descriptor is open on.
  public var path: String?
  /// The descriptor `path` was read from (/proc/PID/fd/N), when the call names no path itself.
  public var pathDescriptor: Int32?
  /// For ENOSPC: the filesystem's free space at that moment (statvfs of the path).
  public var space: TraceSpace?
  public var pathStat: Sys.PathStat?
  public var pathStatError: Errno?
  /// The mount holding the path (or its parent when the path does not exist).
  public var mount: Mount?
  public var address: TraceAddress?
  /// For a non-blocking connect, the error came from getsockopt(SO_ERROR).
  public var viaSocketError = false
  public var task: TraceTaskFacts?
  /// For EAGAIN from the clone family: the task limits at that moment.
  public var taskLimits: TaskLimits?
  public var reaction: TraceReaction = .unknown
  /// For EMFILE: the "Max open files" line of /proc/PID/limits at that moment.
  public var limitsLine: String?
  /// For calls on another process (ptrace, kill, process_vm_readv): that process's facts.
  public var target: TraceTargetFacts?
}

/// statvfs of a filesystem at an ENOSPC.
public struct TraceSpace: Equatable, Sendable {
  public var blockSize: UInt64
  public var blocks: UInt64
  public var blocksAvailable: UInt64
  public var inodes: UInt64
  public var inodesFree: UInt64

  public init(blockSize: UInt64, blocks: UInt64, blocksAvailable: UInt64, inodes: UInt64, inodesFree: UInt64) {
    self.blockSize = blockSize
    self.blocks = blocks
    self.blocksAvailable = blocksAvailable
    self.inodes = inodes
    self.inodesFree = inodesFree
  }

  /// Out of inodes rather than of blocks (a filesystem with an inode count, none left, blocks left).
  public var outOfInodes: Bool { inodes > 0 && inodesFree == 0 && blocksAvailable > 0 }

  /// "0 of 64 KiB free, 3 of 20 inodes free".
  public var text: String {
    func size(_ bytes: UInt64) -> String {
      let units = ["bytes", "KiB", "MiB", "GiB", "TiB"]
      var value = Double(bytes), unit = 0
      while value >= 1024 && unit < units.count - 1 { value /= 1024; unit += 1 }
      return unit == 0 ? "\(bytes) bytes" : (value == value.rounded() ? "\(Int(value)) \(units[unit])" : "\(Double(Int(value * 10)) / 10) \(units[unit])")
    }
    var out = "\(size(blocksAvailable * blockSize)) of \(size(blocks * blockSize)) free"
    if inodes > 0 { out += ", \(inodesFree) of \(inodes) inodes free" }
    return out
  }
}

/// The process a ptrace, kill or process_vm_readv named, read at the failure.
public struct TraceTargetFacts: Equatable, Sendable {
  public var pid: Int32
  public var uids: [UInt32]
  public var gids: [UInt32]
  public var permitted: CapabilitySet?
  /// TracerPid: already traced by another process.
  public var tracerPID: Int32?
  /// Whether it is a descendant of the calling process (in the traced tree).
  public var isDescendant: Bool
  public var exists: Bool
}

/// A seccomp TRAP the program received (SIGSYS, si_code SYS_SECCOMP).
public struct TraceTrap: Sendable {
  public var pid: Int32
  public var tid: Int32
  public var call: TraceCall
  /// SECCOMP_RET_DATA (si_errno).
  public var data: Int32
  public var atMilliseconds: Int
  public var count = 1
}

/// What a thread of an attached process was blocked in when culprit attached (--pid).
public struct TraceWait: Sendable {
  public var tid: Int32
  /// nil when the thread was running or not in a system call.
  public var call: TraceCall?
  /// "running", or the kernel function it sleeps in (/proc/TID/wchan).
  public var state: String
  public var wchan: String?
  /// How long it had been off the CPU, in milliseconds: /proc/TID/sched se.exec_start against
  /// culprit's own, read while culprit ran on the CPU the thread last ran on (one runqueue
  /// clock); a lower bound by the IRQ and steal time that clock leaves out. nil when it cannot
  /// be told (running, culprit not allowed on that CPU, no CONFIG_SCHED_DEBUG).
  public var waitingMilliseconds: Int?
  /// What the call's file descriptor is: "socket 127.0.0.1:45678 -> 10.0.0.1:80 (SYN_SENT)",
  /// "pipe:[1234]", "/dev/pts/0".
  public var descriptor: String?
}

/// What culprit saw when PTRACE_SEIZE was refused (the command's process, or --pid's): the data
/// `TraceSession.judgeSeizeRefusal` decides the layer from, written into the report
/// (`tracing.observed`) so that a recorded refusal can be judged again anywhere.
public struct TraceSeizeObservation: Equatable, Sendable {
  public var errno: Errno
  /// What ptrace(PTRACE_PEEKUSER, itself) answered in a throwaway child (ESRCH is the kernel's
  /// own answer); nil when it succeeded.
  public var peek: Errno?
  public var target: PtraceAttachProbe.Target
  public var pid: Int32?
  public var tracerPID: Int32
  public var yamaScope: Int?
  public var hasSysPtrace: Bool
  /// culprit's own PR_GET_DUMPABLE (the target's is assumed the same).
  public var dumpable: Int32?
  /// The target's Uid line, TracerPid, whether its ids are culprit's, and whether its permitted
  /// capabilities are within culprit's (--pid only).
  public var targetUid: String?
  public var tracedBy: Int?
  public var idsMatch: Bool?
  public var targetCapabilitiesWithinTracers: Bool?
  public var confinement: String?

  public init(
    errno: Errno, peek: Errno? = .noSuchProcess, target: PtraceAttachProbe.Target, pid: Int32?, tracerPID: Int32,
    yamaScope: Int?, hasSysPtrace: Bool, dumpable: Int32?, targetUid: String? = nil, tracedBy: Int? = nil,
    idsMatch: Bool? = nil, targetCapabilitiesWithinTracers: Bool? = nil, confinement: String?
  ) {
    self.errno = errno
    self.peek = peek
    self.target = target
    self.pid = pid
    self.tracerPID = tracerPID
    self.yamaScope = yamaScope
    self.hasSysPtrace = hasSysPtrace
    self.dumpable = dumpable
    self.targetUid = targetUid
    self.tracedBy = tracedBy
    self.idsMatch = idsMatch
    self.targetCapabilitiesWithinTracers = targetCapabilitiesWithinTracers
    self.confinement = confinement
  }

  public var json: JSONValue {
    [
      "errno": .int(Int(errno.rawValue)), "peekErrno": peek.map { .int(Int($0.rawValue)) } ?? .null,
      "target": .string(target.rawValue), "pid": pid.map { .int(Int($0)) } ?? .null, "tracerPid": .int(Int(tracerPID)),
      "yamaScope": yamaScope.map { .int($0) } ?? .null, "capSysPtrace": .bool(hasSysPtrace),
      "dumpable": dumpable.map { .int(Int($0)) } ?? .null, "targetUid": .from(targetUid),
      "tracedBy": tracedBy.map { .int($0) } ?? .null, "idsMatch": idsMatch.map { .bool($0) } ?? .null,
      "targetCapabilitiesWithinTracers": targetCapabilitiesWithinTracers.map { .bool($0) } ?? .null,
      "confinement": .from(confinement),
    ]
  }
}
