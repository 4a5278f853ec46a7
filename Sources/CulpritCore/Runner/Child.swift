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
  /// A call culprit itself needs that failed while it ran this child (in the child, in one of
  /// its own children, or in culprit while collecting it): the ending is then not the probe's.
  public var plumbing: PlumbingFailure? = nil
  /// The errno of installing the child's SIGSYS recorder, when that failed (a TRAP then shows
  /// as a SIGSYS kill).
  public var recorderErrno: Errno? = nil
  /// Whether `plumbing` failed inside the child (its result is then not the probe's), rather
  /// than in culprit while collecting it.
  public var plumbingInChild: Bool = false
}

/// A running child process.
public final class Child {
  public let pid: pid_t
  let channel: ChildChannel
  let deadline: UInt64
  let started: UInt64
  var outcome: ChildOutcome?
  /// A call of culprit's own that failed while collecting this child (wait4, kill).
  var plumbing: PlumbingFailure?

  init(pid: pid_t, channel: ChildChannel, deadline: UInt64, started: UInt64) {
    self.pid = pid
    self.channel = channel
    self.deadline = deadline
    self.started = started
  }

  deinit {
    culprit_shared_page_destroy(channel.page)
  }

  /// Whether the child has ended (or delivered its result, which it does last), without
  /// reaping it: for loops that wait on something else until the child is gone. A child that
  /// cannot be waited for (wait4 refused) counts as ended once it delivered.
  public var hasEnded: Bool {
    if outcome != nil || outputDone { return true }
    return culprit_child_has_ended(pid) != 0
  }

  /// Whether the child has put its whole result on the shared page.
  var outputDone: Bool { channel.page.pointee.output_done != 0 }

  /// The child's result as it left it on the shared page (empty when it wrote none).
  var output: [UInt8] {
    let page = channel.page
    guard page.pointee.output_done != 0 else { return [] }
    let length = Int(min(page.pointee.output_length, page.pointee.output_capacity))
    return Array(UnsafeBufferPointer(start: culprit_shared_page_output(page), count: length))
  }
}

/// Runs code in child processes with deadlines, from a single thread: fork and a shared
/// mapping per child (no file descriptor: a low RLIMIT_NOFILE cannot stop a probe from
/// reporting), and ppoll(2) with SIGCHLD unblocked only while waiting, so a child's exit wakes
/// the wait without a race. Every child gets its own process group and dies with its parent
/// (PR_SET_PDEATHSIG), so killing the group at the end leaves nothing behind. A call of
/// culprit's own that fails on the way (mmap, getpid, getppid, wait4, kill) is recorded on the
/// outcome (`PlumbingFailure`), never passed off as the probe's ending.
public enum Children {
  /// Exit code of a child that caught a seccomp TRAP (its SIGSYS handler exits with it).
  public static let trapExitCode: Int32 = 159
  /// Exit code of a child that stopped because a call of culprit's own failed (recorded on its
  /// page).
  public static let plumbingExitCode: Int32 = 158
  static let prSetPdeathsig: Int32 = 1
  static let prSetChildSubreaper: Int32 = 36
  /// Room for a child's result on its shared mapping. MAP_NORESERVE: only what is written
  /// uses memory; the largest result (the syscall sweep's) is some tens of KiB.
  static let outputCapacity = 4 << 20

  nonisolated(unsafe) static var preparedInProcess: pid_t = 0
  /// False when the SIGCHLD wake-up could not be installed (rt_sigaction refused): waits then
  /// poll every few milliseconds instead of sleeping until a deadline, so verdicts stay right.
  nonisolated(unsafe) static var wakeups = true

  /// culprit's own process, set by the runner; its children inherit the value. Used to tell
  /// culprit's tasks from the workload's when a pids limit is reached.
  nonisolated(unsafe) public internal(set) static var culpritPID: pid_t = 0

  /// The plumbing failure of the last `spawn` that failed, nil when fork itself failed (fork
  /// is a clone: what the thread probe tests, not plumbing).
  nonisolated(unsafe) public internal(set) static var lastSpawnPlumbing: PlumbingFailure?

  /// Installs the SIGCHLD wake-up and blocks SIGCHLD outside ppoll, once per process.
  static func prepareParent() {
    let me = getpid()
    guard preparedInProcess != me else { return }
    preparedInProcess = me
    if culprit_install_sigchld_wakeup(0) != 0 { wakeups = false }
    var set = sigset_t()
    sigemptyset(&set)
    sigaddset(&set, SIGCHLD)
    if sigprocmask(SIG_BLOCK, &set, nil) != 0 { wakeups = false }
  }

  /// The longest single ppoll wait: unbounded with the SIGCHLD wake-up, a few ms without.
  static func pollWait(_ nanoseconds: UInt64) -> Int {
    Int(wakeups ? nanoseconds : min(nanoseconds, 2_000_000))
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
      // ECHILD: no children left at all. Any other failure (wait4 refused): nothing to do.
      var status: Int32 = 0
      if waitpid(-1, &status, WNOHANG | __WALL) == -1 { return }
      if Sys.monotonicNanoseconds() >= deadline { return }
      Sys.sleep(milliseconds: 1)
    }
  }

  /// Forks a child that runs `body` and hands its return value to the parent on a shared
  /// mapping. The child ends with _exit, never returning into the caller. Returns the errno
  /// when fork (or the mapping, or getpid) fails; `lastSpawnPlumbing` then says whether it was
  /// fork.
  public static func spawn(deadline: UInt64, body: (ChildChannel) -> [UInt8]) -> Result<Child, Errno> {
    prepareParent()
    lastSpawnPlumbing = nil
    guard let page = culprit_shared_page_create(outputCapacity) else {
      let err = Errno.current
      lastSpawnPlumbing = Plumbing.record("mmap", err)
      return .failure(err)
    }
    let channel = ChildChannel(page: page)
    let parent = getpid()
    if parent < 0 {
      // glibc's getpid and getppid never set errno: a refused call returns -errno itself.
      let err = Errno(rawValue: -parent)
      culprit_shared_page_destroy(page)
      lastSpawnPlumbing = Plumbing.record("getpid", err)
      return .failure(err)
    }
    let started = Sys.monotonicNanoseconds()
    switch Sys.fork() {
    case .failure(let err):
      culprit_shared_page_destroy(page)
      return .failure(err)
    case .success(0):
      // The probe's own page, where its children's plumbing failures go too.
      if Plumbing.probePage == nil { Plumbing.probePage = page }
      _ = setpgid(0, 0)
      _ = Sys.prctl(prSetPdeathsig, UInt(SIGKILL))
      // culprit's own steps: a process a filter kills in one of them is culprit's failure.
      channel.step(Plumbing.stepPrefix + "getppid")
      let ppid = getppid()
      if ppid < 0 {
        Plumbing.record("getppid", Errno(rawValue: -ppid))
        Sys.exitImmediately(plumbingExitCode)
      }
      if ppid != parent { Sys.exitImmediately(1) }
      channel.step(Plumbing.stepPrefix + "rt_sigaction")
      if culprit_install_sigsys_recorder(page, trapExitCode) != 0 { page.pointee.recorder_errno = Errno.current.rawValue }
      page.pointee.step_length = 0
      let output = body(channel)
      deliver(output, on: page)
      Sys.exitImmediately(0)
    case .success(let pid):
      _ = setpgid(pid, pid)
      return .success(Child(pid: pid, channel: channel, deadline: deadline, started: started))
    }
  }

  /// Copies a child's result onto its page, then marks it complete: the last thing a child does.
  static func deliver(_ output: [UInt8], on page: UnsafeMutablePointer<culprit_shared_page>) {
    let count = min(output.count, Int(page.pointee.output_capacity))
    output.withUnsafeBytes { raw in
      if count > 0 { culprit_shared_page_output(page).update(from: raw.bindMemory(to: UInt8.self).baseAddress!, count: count) }
    }
    page.pointee.output_length = UInt64(count)
    // A result cut at the capacity is no result: it would not parse.
    page.pointee.output_done = count == output.count ? 1 : 0
  }

  /// Waits for every child to end or reach its deadline (then kills its process group), and
  /// returns their outcomes in the order given. Where wait4 is refused, a child that put its
  /// whole result on its page counts as ended; one that did not is given up at its deadline.
  public static func collect(_ children: [Child]) -> [ChildOutcome] {
    prepareParent()
    while true {
      let now = Sys.monotonicNanoseconds()
      var nextDeadline = UInt64.max
      for child in children where child.outcome == nil {
        if child.plumbing?.call == "wait4" {
          // Cannot learn how it ended: its result, once complete, is all there is.
          if child.outputDone {
            finish(child, status: .exited(0), now: now)
            continue
          }
        } else {
          switch Sys.tryWait(child.pid) {
          case .success(let status?):
            finish(child, status: status, now: now)
            continue
          case .failure(.noChildProcess):
            // Already reaped elsewhere: report what it left.
            finish(child, status: .exited(-1), now: now)
            continue
          case .failure(let err):
            // From now on its page is all there is to go by (above).
            child.plumbing = Plumbing.record("wait4", err)
            if child.outputDone {
              finish(child, status: .exited(0), now: now)
              continue
            }
          case .success(nil):
            break
          }
        }
        if now >= child.deadline {
          killGroup(child)
          // A process in uninterruptible sleep does not die at once; never wait on it unbounded.
          if child.plumbing?.call != "wait4" {
            for _ in 0..<100 {
              if case .success(nil) = Sys.tryWait(child.pid) { Sys.sleep(milliseconds: 1) } else { break }
            }
          }
          let ms = Int((now - child.started) / 1_000_000)
          child.outcome = ChildOutcome(
            ending: .timedOut(afterMilliseconds: ms, output: child.output),
            lastStep: child.channel.lastStep, pid: child.pid, elapsedMilliseconds: ms,
            plumbing: Plumbing.recorded(on: child.channel.page) ?? child.plumbing,
            recorderErrno: recorderErrno(child), plumbingInChild: Plumbing.recorded(on: child.channel.page) != nil)
          continue
        }
        nextDeadline = min(nextDeadline, child.deadline)
      }
      if nextDeadline == UInt64.max { break }
      // Without wait4 nothing wakes the wait when a child is done: look again every 2 ms.
      let blind = children.contains { $0.outcome == nil && $0.plumbing?.call == "wait4" }
      var none: [pollfd] = []
      // SIGCHLD is unblocked only inside ppoll, so an exit wakes it even if it came earlier.
      _ = culprit_ppoll(&none, 0, blind ? min(pollWait(nextDeadline - now), 2_000_000) : pollWait(nextDeadline - now))
      if Termination.signal != 0 { Termination.endChildren(children) }
    }
    // Grandchildren left in a child's process group die with it.
    for child in children { _ = Sys.kill(-child.pid, SIGKILL) }
    return children.map { $0.outcome! }
  }

  static func recorderErrno(_ child: Child) -> Errno? {
    let number = child.channel.page.pointee.recorder_errno
    return number == 0 ? nil : Errno(rawValue: number)
  }

  static func finish(_ child: Child, status: Sys.WaitStatus, now: UInt64) {
    let page = child.channel.page.pointee
    let output = child.output
    let ending: ChildEnding
    switch status {
    case .exited(trapExitCode) where page.trapped > 0:
      ending = .trapped(TrapRecord(syscall: page.trap_syscall, data: page.trap_data, arch: page.trap_arch), output: output)
    case .exited(let code):
      ending = .exited(code: code, output: output)
    case .signaled(let signal, _):
      ending = .signaled(signal: signal, output: output)
    case .stopped(let signal):
      ending = .signaled(signal: signal, output: output)
    }
    child.outcome = ChildOutcome(
      ending: ending, lastStep: child.channel.lastStep, pid: child.pid,
      elapsedMilliseconds: Int((now - child.started) / 1_000_000),
      plumbing: Plumbing.recorded(on: child.channel.page) ?? child.plumbing,
      recorderErrno: recorderErrno(child), plumbingInChild: Plumbing.recorded(on: child.channel.page) != nil)
  }

  /// Kills a child's process group (and the child itself, should it have left the group).
  static func killGroup(_ pid: pid_t) {
    if let err = Sys.kill(-pid, SIGKILL).failure ?? Sys.kill(pid, SIGKILL).failure, err != .noSuchProcess {
      Plumbing.record("kill", err)
    }
  }

  /// killGroup, keeping a failure other than ESRCH on the child: culprit cannot end its own
  /// children.
  static func killGroup(_ child: Child) {
    let group = Sys.kill(-child.pid, SIGKILL)
    let itself = Sys.kill(child.pid, SIGKILL)
    if let err = itself.failure ?? group.failure, err != .noSuchProcess, child.plumbing == nil {
      child.plumbing = Plumbing.record("kill", err)
    }
  }

  /// Runs `body` in one child and waits for it: the common case of a probe that needs one
  /// isolated attempt.
  public static func run(deadline: UInt64, body: (ChildChannel) -> [UInt8]) -> Result<ChildOutcome, Errno> {
    spawn(deadline: deadline, body: body).map { collect([$0])[0] }
  }
}

/// SIGTERM, SIGINT and SIGHUP during a run: recorded by a handler, acted on by the runner, which
/// ends its probe processes, removes what they made, and then ends by the same signal. They are
/// blocked outside ppoll, as SIGCHLD is, so they land only where the runner can act.
public enum Termination {
  /// The signal received so far, 0 for none.
  public static var signal: Int32 { culprit_termination_signal() }

  /// Installs the recorder and blocks the three signals outside ppoll. Returns false when they
  /// could not be installed (then a signal ends culprit as it always would).
  @discardableResult
  public static func install() -> Bool {
    guard culprit_install_termination_recorder() == 0 else { return false }
    var set = sigset_t()
    sigemptyset(&set)
    for signo in [SIGTERM, SIGINT, SIGHUP] { sigaddset(&set, signo) }
    return sigprocmask(SIG_BLOCK, &set, nil) == 0
  }

  /// Lets a signal that arrived while blocked be recorded now.
  public static func checkPending() {
    var none: [pollfd] = []
    _ = culprit_ppoll(&none, 0, 0)
  }

  /// Called once a signal was recorded: kills every child's group at once (they are past
  /// their deadline as far as the user is concerned), so that collecting ends now.
  static func endChildren(_ children: [Child]) {
    for child in children where child.outcome == nil {
      _ = Sys.kill(-child.pid, SIGKILL)
      _ = Sys.kill(child.pid, SIGKILL)
    }
  }

  /// Restores the default dispositions and unblocks the three signals: after the run, a
  /// signal ends culprit at once again (nothing is left to remove).
  public static func uninstall() {
    for signo in [SIGTERM, SIGINT, SIGHUP] { Glibc.signal(signo, SIG_DFL) }
    var set = sigset_t()
    sigemptyset(&set)
    for signo in [SIGTERM, SIGINT, SIGHUP] { sigaddset(&set, signo) }
    sigprocmask(SIG_UNBLOCK, &set, nil)
  }

  /// In a probe child that makes files: until `disarm`, a SIGTERM — which is then also the
  /// child's parent-death signal — removes `names` in `directory` and the directory, then ends
  /// the child. So a node is never left behind when culprit itself is killed, even by SIGKILL.
  public static func removeOnDeath(directory: String, names: [String]) {
    var pointers = names.map { strdup($0) }
    defer { pointers.forEach { free($0) } }
    pointers.withUnsafeMutableBufferPointer { buffer in
      buffer.baseAddress!.withMemoryRebound(to: UnsafePointer<CChar>.self, capacity: buffer.count) {
        _ = culprit_arm_removal(directory, $0, Int32(buffer.count))
      }
    }
  }

  /// Undoes `removeOnDeath`: the child removed everything itself.
  public static func disarm() { culprit_disarm_removal() }

  /// Ends culprit by the recorded signal.
  public static func die() -> Never {
    culprit_die_of(signal)
    Sys.exitImmediately(128 + signal)
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
