import CCulprit

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// What a child can tell its parent besides its output: the step it was on and a seccomp TRAP it
/// caught. Lives in a shared page, so the parent can read it whatever way the child ended.
public struct ChildChannel {
  let page: UnsafeMutablePointer<culprit_shared_page>

  /// Announces the step about to be taken ("ptrace(PTRACE_SEIZE, 1234)"), so that a kill or a
  /// hang can be attributed to it.
  public func step(_ text: String) {
    let bytes = Array(text.utf8.prefix(491))
    withUnsafeMutableBytes(of: &page.pointee.step) { raw in
      raw.copyBytes(from: bytes)
      raw[bytes.count] = 0
    }
    page.pointee.step_length = UInt32(bytes.count)
  }

  /// The probe's own scratch area in the shared page (64 integers).
  public func scratch(_ index: Int) -> Int64 {
    withUnsafeBytes(of: &page.pointee.scratch) { $0.load(fromByteOffset: index * 8, as: Int64.self) }
  }

  public func setScratch(_ index: Int, _ value: Int64) {
    withUnsafeMutableBytes(of: &page.pointee.scratch) { $0.storeBytes(of: value, toByteOffset: index * 8, as: Int64.self) }
  }

  /// Installs a SIGSYS handler that records a seccomp TRAP and lets the call return (normally
  /// with ENOSYS), instead of ending the child. For probes that classify many calls.
  public func continueAfterTraps() { _ = culprit_install_sigsys_counter(page) }

  /// How many TRAPs were caught so far, and the last one's syscall and data.
  public var traps: (count: Int32, syscall: Int32, data: Int32) {
    (page.pointee.trapped, page.pointee.trap_syscall, page.pointee.trap_data)
  }

  var lastStep: String? {
    let length = Int(page.pointee.step_length)
    guard length > 0 else { return nil }
    return withUnsafeBytes(of: &page.pointee.step) { String(decoding: $0.prefix(length), as: UTF8.self) }
  }
}

/// A seccomp TRAP the child caught: SIGSYS with si_code SYS_SECCOMP.
public struct TrapRecord: Equatable, Sendable {
  public var syscall: Int32
  /// The filter's SECCOMP_RET_DATA (si_errno).
  public var data: Int32
  public var arch: UInt32
}

/// How a child ended.
public enum ChildEnding: Equatable, Sendable {
  /// It exited with this code; `output` is what it wrote.
  case exited(code: Int32, output: [UInt8])
  /// A signal ended it (SIGSYS: a seccomp KILL action).
  case signaled(signal: Int32, output: [UInt8])
  /// It caught a seccomp TRAP and exited.
  case trapped(TrapRecord, output: [UInt8])
  /// It was still running at its deadline and was killed.
  case timedOut(afterMilliseconds: Int, output: [UInt8])

  public var output: [UInt8] {
    switch self {
    case .exited(_, let o), .signaled(_, let o), .trapped(_, let o), .timedOut(_, let o): return o
    }
  }
}

/// A finished child: how it ended and the last step it announced.
public struct ChildOutcome: Sendable {
  public var ending: ChildEnding
  public var lastStep: String?
  public var pid: Int32
  /// Wall time from fork to the end, in milliseconds.
  public var elapsedMilliseconds: Int
}

/// A running child process.
public final class Child {
  public let pid: pid_t
  let readFD: Int32
  let channel: ChildChannel
  let deadline: UInt64
  let started: UInt64
  var output: [UInt8] = []
  var pipeOpen = true
  var outcome: ChildOutcome?

  init(pid: pid_t, readFD: Int32, channel: ChildChannel, deadline: UInt64, started: UInt64) {
    self.pid = pid
    self.readFD = readFD
    self.channel = channel
    self.deadline = deadline
    self.started = started
  }

  deinit {
    if pipeOpen { Sys.close(readFD) }
    culprit_shared_page_destroy(channel.page)
  }

  /// Reads what is in the pipe without blocking.
  func drain() {
    guard pipeOpen else { return }
    var buffer = [UInt8](repeating: 0, count: 65536)
    while true {
      let n = buffer.withUnsafeMutableBytes { Glibc.read(readFD, $0.baseAddress, $0.count) }
      if n > 0 {
        output.append(contentsOf: buffer[0..<n])
        continue
      }
      if n == 0 {
        Sys.close(readFD)
        pipeOpen = false
      } else if errno == EINTR {
        continue
      }
      return
    }
  }
}

/// Runs code in child processes with deadlines, from a single thread: fork, a pipe and a shared
/// page per child, and ppoll(2) with SIGCHLD unblocked only while waiting, so a child's exit
/// wakes the wait without a race. Every child gets its own process group and dies with its
/// parent (PR_SET_PDEATHSIG), so killing the group at the end leaves nothing behind.
public enum Children {
  /// Exit code of a child that caught a seccomp TRAP (its SIGSYS handler exits with it).
  public static let trapExitCode: Int32 = 159
  static let prSetPdeathsig: Int32 = 1
  static let prSetChildSubreaper: Int32 = 36

  nonisolated(unsafe) static var preparedInProcess: pid_t = 0

  /// culprit's own process, set by the runner; its children inherit the value. Used to tell
  /// culprit's tasks from the workload's when a pids limit is reached.
  nonisolated(unsafe) public internal(set) static var culpritPID: pid_t = 0

  /// Installs the SIGCHLD wake-up and blocks SIGCHLD outside ppoll, once per process.
  static func prepareParent() {
    let me = getpid()
    guard preparedInProcess != me else { return }
    preparedInProcess = me
    _ = culprit_install_sigchld_wakeup(0)
    var set = sigset_t()
    sigemptyset(&set)
    sigaddset(&set, SIGCHLD)
    sigprocmask(SIG_BLOCK, &set, nil)
  }

  /// Makes this process the reaper of its orphaned descendants, so that grandchildren whose
  /// parent died are reaped here rather than left as zombies.
  public static func becomeSubreaper() {
    _ = Sys.prctl(prSetChildSubreaper, 1)
  }

  /// Reaps orphaned descendants handed to this process as a subreaper, waiting up to
  /// `milliseconds` for killed ones to die. Call once, after every child was collected: it
  /// would steal the exit status of a child still being waited for.
  public static func reapOrphans(milliseconds: Int = 200) {
    let deadline = Sys.monotonicNanoseconds() + UInt64(milliseconds) * 1_000_000
    while true {
      Sys.reapAny()
      // ECHILD: no children left at all.
      var status: Int32 = 0
      if waitpid(-1, &status, WNOHANG | __WALL) == -1 && errno == ECHILD { return }
      if Sys.monotonicNanoseconds() >= deadline { return }
      Sys.sleep(milliseconds: 1)
    }
  }

  /// Forks a child that runs `body` and writes its return value to the parent. The child ends
  /// with _exit, never returning into the caller. Returns the errno when fork (or the pipe or
  /// the shared page) fails.
  public static func spawn(deadline: UInt64, body: (ChildChannel) -> [UInt8]) -> Result<Child, Errno> {
    prepareParent()
    guard let page = culprit_shared_page_create() else { return .failure(.current) }
    let channel = ChildChannel(page: page)
    let fds: (read: Int32, write: Int32)
    switch Sys.pipe() {
    case .success(let pair): fds = pair
    case .failure(let err):
      culprit_shared_page_destroy(page)
      return .failure(err)
    }
    let parent = getpid()
    let started = Sys.monotonicNanoseconds()
    switch Sys.fork() {
    case .failure(let err):
      Sys.close(fds.read)
      Sys.close(fds.write)
      culprit_shared_page_destroy(page)
      return .failure(err)
    case .success(0):
      Sys.close(fds.read)
      _ = setpgid(0, 0)
      _ = Sys.prctl(prSetPdeathsig, UInt(SIGKILL))
      if getppid() != parent { Sys.exitImmediately(1) }
      _ = culprit_install_sigsys_recorder(page, trapExitCode)
      let output = body(channel)
      _ = Sys.writeAll(fds.write, output)
      Sys.exitImmediately(0)
    case .success(let pid):
      _ = setpgid(pid, pid)
      Sys.close(fds.write)
      return .success(Child(pid: pid, readFD: fds.read, channel: channel, deadline: deadline, started: started))
    }
  }

  /// Waits for every child to end or reach its deadline (then kills its process group), and
  /// returns their outcomes in the order given.
  public static func collect(_ children: [Child]) -> [ChildOutcome] {
    prepareParent()
    while true {
      let now = Sys.monotonicNanoseconds()
      var nextDeadline = UInt64.max
      var pollSet: [pollfd] = []
      for child in children where child.outcome == nil {
        child.drain()
        switch Sys.tryWait(child.pid) {
        case .success(let status?):
          finish(child, status: status, now: now)
          continue
        case .failure:
          // Already reaped elsewhere: report what it wrote.
          finish(child, status: .exited(-1), now: now)
          continue
        case .success(nil):
          break
        }
        if now >= child.deadline {
          killGroup(child.pid)
          // A process in uninterruptible sleep does not die at once; never wait on it unbounded.
          for _ in 0..<100 {
            if case .success(nil) = Sys.tryWait(child.pid) { Sys.sleep(milliseconds: 1) } else { break }
          }
          child.drain()
          child.outcome = ChildOutcome(
            ending: .timedOut(afterMilliseconds: Int((now - child.started) / 1_000_000), output: child.output),
            lastStep: child.channel.lastStep, pid: child.pid,
            elapsedMilliseconds: Int((now - child.started) / 1_000_000))
          continue
        }
        nextDeadline = min(nextDeadline, child.deadline)
        if child.pipeOpen { pollSet.append(pollfd(fd: child.readFD, events: Int16(POLLIN), revents: 0)) }
      }
      if nextDeadline == UInt64.max { break }
      // SIGCHLD is unblocked only inside ppoll, so an exit wakes it even if it came earlier.
      _ = culprit_ppoll(&pollSet, UInt(pollSet.count), Int(nextDeadline - now))
    }
    // Grandchildren left in a child's process group die with it.
    for child in children { _ = Sys.kill(-child.pid, SIGKILL) }
    return children.map { $0.outcome! }
  }

  static func finish(_ child: Child, status: Sys.WaitStatus, now: UInt64) {
    child.drain()
    let page = child.channel.page.pointee
    let ending: ChildEnding
    switch status {
    case .exited(trapExitCode) where page.trapped > 0:
      ending = .trapped(TrapRecord(syscall: page.trap_syscall, data: page.trap_data, arch: page.trap_arch), output: child.output)
    case .exited(let code):
      ending = .exited(code: code, output: child.output)
    case .signaled(let signal, _):
      ending = .signaled(signal: signal, output: child.output)
    case .stopped(let signal):
      ending = .signaled(signal: signal, output: child.output)
    }
    child.outcome = ChildOutcome(
      ending: ending, lastStep: child.channel.lastStep, pid: child.pid,
      elapsedMilliseconds: Int((now - child.started) / 1_000_000))
  }

  /// Kills a child's process group (and the child itself, should it have left the group).
  static func killGroup(_ pid: pid_t) {
    _ = Sys.kill(-pid, SIGKILL)
    _ = Sys.kill(pid, SIGKILL)
  }

  /// Runs `body` in one child and waits for it: the common case of a probe that needs one
  /// isolated attempt.
  public static func run(deadline: UInt64, body: (ChildChannel) -> [UInt8]) -> Result<ChildOutcome, Errno> {
    spawn(deadline: deadline, body: body).map { collect([$0])[0] }
  }
}

/// Signal names for evidence.
public func signalName(_ signal: Int32) -> String {
  let names: [Int32: String] = [
    1: "SIGHUP", 2: "SIGINT", 3: "SIGQUIT", 4: "SIGILL", 5: "SIGTRAP", 6: "SIGABRT", 7: "SIGBUS",
    8: "SIGFPE", 9: "SIGKILL", 10: "SIGUSR1", 11: "SIGSEGV", 12: "SIGUSR2", 13: "SIGPIPE",
    14: "SIGALRM", 15: "SIGTERM", 17: "SIGCHLD", 19: "SIGSTOP", 31: "SIGSYS",
  ]
  return names[signal] ?? "signal \(signal)"
}
