import CCulprit

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// ptrace(2) requests culprit makes (include/uapi/linux/ptrace.h; the numbers are the same on
/// every architecture).
public enum PtraceRequest: Int32, Sendable {
  /// Reads a word of the tracee's USER area; on a process that is not our stopped tracee the
  /// kernel answers ESRCH (kernel/ptrace.c ptrace_check_attach) before anything else.
  case peekUser = 3
  /// Detaches from a stopped tracee, letting it run.
  case detach = 17
  /// Attaches without stopping the target or sending it a signal (3.4+).
  case seize = 0x4206
  /// Stops a seized tracee (PTRACE_EVENT_STOP), so that it can be detached.
  case interrupt = 0x4207

  public var name: String {
    switch self {
    case .peekUser: return "PTRACE_PEEKUSER"
    case .detach: return "PTRACE_DETACH"
    case .seize: return "PTRACE_SEIZE"
    case .interrupt: return "PTRACE_INTERRUPT"
    }
  }
}

extension Sys {
  static let prGetDumpable: Int32 = 3
  static let prSetDumpable: Int32 = 4

  /// ptrace(2) with no data (addr and data zero), as a raw result.
  public static func ptrace(_ request: PtraceRequest, _ pid: pid_t) -> Result<Int, Errno> {
    let value = culprit_ptrace(request.rawValue, pid, nil, nil)
    return value == -1 ? .failure(.current) : .success(value)
  }

  /// prctl(PR_GET_DUMPABLE): 1 when the process's memory may be dumped and traced by a process
  /// of the same uid, 0 (or 2) when only a CAP_SYS_PTRACE holder may trace it.
  public static func dumpable() -> Result<Int32, Errno> { prctl(prGetDumpable) }

  /// prctl(PR_SET_DUMPABLE, 0 or 1). Children created by fork inherit the flag (it lives in the
  /// memory descriptor, copied by fork).
  public static func setDumpable(_ value: Bool) -> Result<Void, Errno> {
    prctl(prSetDumpable, value ? 1 : 0).map { _ in () }
  }

  /// setresuid(2) made raw, for a single-threaded process (glibc's wrapper would signal every
  /// thread). Changing the effective uid clears the parent-death signal and the dumpable flag.
  public static func setresuid(real: UInt32, effective: UInt32, saved: UInt32) -> Result<Void, Errno> {
    guard let number = SyscallNumber.setresuid.native else { return .failure(.noFunction) }
    return raw(number, [Int(real), Int(effective), Int(saved)]).map { _ in () }
  }

  /// waitpid(pid, WNOHANG | __WALL): also reports a tracee's ptrace-stops to its tracer, which
  /// need not be its parent. nil while nothing changed.
  public static func tryWaitAny(_ pid: pid_t) -> Result<WaitStatus?, Errno> {
    var status: Int32 = 0
    switch retrying({ waitpid(pid, &status, WNOHANG | __WALL) }) {
    case .failure(let err): return .failure(err)
    case .success(0): return .success(nil)
    case .success: return .success(decode(status))
    }
  }
}
