import CCulprit

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// The ptrace requests, options and events `culprit trace` uses (include/uapi/linux/ptrace.h;
/// the numbers are the same on every architecture).
public enum TracePtrace {
  public static let traceMe: Int32 = 0
  public static let cont: Int32 = 7
  public static let detach: Int32 = 17
  public static let syscall: Int32 = 24
  public static let getEventMessage: Int32 = 0x4201
  public static let seize: Int32 = 0x4206
  public static let interrupt: Int32 = 0x4207
  public static let listen: Int32 = 0x4208

  public static let optionSysGood: UInt = 0x1
  public static let optionFork: UInt = 0x2
  public static let optionVfork: UInt = 0x4
  public static let optionClone: UInt = 0x8
  public static let optionExec: UInt = 0x10
  public static let optionExitKill: UInt = 0x10_0000

  public static let eventFork: Int32 = 1
  public static let eventVfork: Int32 = 2
  public static let eventClone: Int32 = 3
  public static let eventExec: Int32 = 4
  public static let eventStop: Int32 = 128

  /// SIGTRAP | 0x80: a syscall-stop under PTRACE_O_TRACESYSGOOD.
  public static let syscallStopSignal: Int32 = SIGTRAP | 0x80
}

extension Sys {
  /// ptrace(request, tid, addr, data) with integer addr and data.
  @inline(__always)
  static func ptraceRaw(_ request: Int32, _ tid: pid_t, _ addr: UInt = 0, _ data: UInt = 0) -> Result<Int, Errno> {
    let value = culprit_ptrace(request, tid, UnsafeMutableRawPointer(bitPattern: addr), UnsafeMutableRawPointer(bitPattern: data))
    return value == -1 ? .failure(.current) : .success(value)
  }

  /// PTRACE_SEIZE with options: attaches without stopping the target.
  public static func traceSeize(_ pid: pid_t, options: UInt) -> Result<Void, Errno> {
    ptraceRaw(TracePtrace.seize, pid, 0, options).map { _ in () }
  }

  /// Resumes a stopped tracee until its next syscall-stop, delivering `signal` (0: none).
  @inline(__always)
  public static func traceResume(_ tid: pid_t, signal: Int32 = 0) {
    _ = ptraceRaw(TracePtrace.syscall, tid, 0, UInt(signal))
  }

  /// PTRACE_GETEVENTMSG: the new task's id after a fork/clone event, the former id after exec.
  public static func traceEventMessage(_ tid: pid_t) -> UInt? {
    var message: UInt = 0
    let rc = withUnsafeMutablePointer(to: &message) { culprit_ptrace(TracePtrace.getEventMessage, tid, nil, $0) }
    return rc == -1 ? nil : message
  }

  /// PTRACE_GET_SYSCALL_INFO of a tracee in a syscall-stop.
  @inline(__always)
  public static func traceSyscallInfo(_ tid: pid_t, into info: inout culprit_trace_syscall_info) -> Bool {
    culprit_trace_syscall_info_get(tid, &info) >= 0
  }

  /// What PTRACE_GETSIGINFO says about the signal a tracee is stopped for.
  public struct TraceSignalInfo: Equatable, Sendable {
    public var signal: Int32
    public var code: Int32
    public var sender: Int32
    /// For a seccomp SIGSYS (si_code SYS_SECCOMP): si_syscall and si_errno.
    public var seccompSyscall: Int32?
    public var seccompData: Int32
  }

  public static func traceSignalInfo(_ tid: pid_t) -> TraceSignalInfo? {
    var signo: Int32 = 0, code: Int32 = 0, sender: Int32 = 0, nr: Int32 = -1, data: Int32 = 0
    guard culprit_trace_siginfo(tid, &signo, &code, &sender, &nr, &data) == 0 else { return nil }
    return TraceSignalInfo(signal: signo, code: code, sender: sender, seccompSyscall: nr >= 0 ? nr : nil, seccompData: data)
  }

  /// Up to `limit` bytes of a tracee's memory.
  public static func traceRead(_ pid: pid_t, address: UInt64, limit: Int) -> [UInt8]? {
    guard address != 0, limit > 0 else { return nil }
    var buffer = [UInt8](repeating: 0, count: limit)
    let n = buffer.withUnsafeMutableBytes { culprit_trace_read_memory(pid, address, $0.baseAddress!, limit) }
    guard n > 0 else { return nil }
    return Array(buffer[0..<n])
  }

  /// A NUL-terminated string in a tracee's memory (at most 4096 bytes), read page by page so
  /// that a string near the end of a mapping is still read.
  public static func traceReadString(_ pid: pid_t, address: UInt64) -> String? {
    guard address != 0 else { return nil }
    var bytes: [UInt8] = []
    var at = address
    while bytes.count < 4096 {
      let toPageEnd = Int(4096 - (at % 4096))
      guard let chunk = traceRead(pid, address: at, limit: toPageEnd) else { break }
      if let nul = chunk.firstIndex(of: 0) {
        bytes += chunk[..<nul]
        return String(decoding: bytes, as: UTF8.self)
      }
      bytes += chunk
      at += UInt64(chunk.count)
    }
    return bytes.isEmpty ? nil : String(decoding: bytes, as: UTF8.self)
  }

  /// stat(2) (following links) of a path: type, mode, owner, device number.
  public struct PathStat: Equatable, Sendable {
    public var type: FileType
    public var mode: UInt32
    public var uid: UInt32
    public var gid: UInt32
    public var deviceMajor: UInt32
    public var deviceMinor: UInt32
  }

  public static func stat(_ path: String) -> Result<PathStat, Errno> {
    // O_PATH follows links and needs no permission on the file itself; fstat works on it.
    let fd = Glibc.open(path, 0o10000000 /* O_PATH */ | O_CLOEXEC)
    guard fd >= 0 else { return .failure(.current) }
    defer { Glibc.close(fd) }
    var st = Glibc.stat()
    guard fstat(fd, &st) == 0 else { return .failure(.current) }
    let rdev = UInt64(st.st_rdev)
    let major = UInt32(((rdev >> 8) & 0xfff) | ((rdev >> 32) & ~0xfff))
    let minor = UInt32((rdev & 0xff) | ((rdev >> 12) & ~0xff))
    return .success(
      PathStat(
        type: FileType(mode: st.st_mode), mode: UInt32(st.st_mode & 0o7777), uid: st.st_uid, gid: st.st_gid,
        deviceMajor: major, deviceMinor: minor))
  }

  /// waitpid(-1, __WALL), blocking; EINTR is returned (the loop checks its signal flags).
  @inline(__always)
  public static func traceWait(_ status: inout Int32) -> pid_t {
    waitpid(-1, &status, __WALL)
  }
}
