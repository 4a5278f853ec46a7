import CCulprit

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// A system call to ask the seccomp filter about: its number as the filter sees it
/// (seccomp_data.nr: native, or an x32 number with bit 30 set on x86_64) and its six register
/// arguments. Filters read registers only, never the memory a pointer argument points to, so
/// the replay with these values is exact.
public struct OracleCall: Hashable, Sendable, CustomStringConvertible {
  public var number: Int
  public var arguments: [UInt64]

  /// Missing arguments are 0; more than six are an error of the caller.
  public init(number: Int, arguments: [UInt64] = []) {
    precondition(arguments.count <= 6, "a system call has at most six arguments")
    self.number = number
    self.arguments = arguments + [UInt64](repeating: 0, count: 6 - arguments.count)
  }

  public var description: String {
    let used = arguments.lastIndex(where: { $0 != 0 }).map { arguments[...$0] } ?? []
    return "syscall(\(([String(number)] + used.map { "0x" + String($0, radix: 16) }).joined(separator: ", ")))"
  }
}

/// Why the oracle could not ask (all or some of) its calls.
public enum OracleUnavailable: Error, Equatable, Sendable, CustomStringConvertible {
  /// The oracle replays native calls only (x86_64, aarch64).
  case unsupportedArchitecture
  /// seccomp() wanted no_new_privs (EACCES without CAP_SYS_ADMIN) and prctl(PR_SET_NO_NEW_PRIVS)
  /// was refused with this errno.
  case noNewPrivsRefused(Errno)
  /// seccomp(SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_NEW_LISTENER) failed: EINVAL on a kernel
  /// without user notification (Linux < 5.0), ENOSYS without seccomp, or an errno the
  /// container's filter answers `seccomp` with.
  case seccompRefused(Errno)
  /// The oracle's child died of this signal while setting up (a filter that kills `prctl` or
  /// `seccomp`).
  case setupKilled(signal: Int32, step: String)
  /// The listener could not be handed over (socketpair, sendmsg or recvmsg failed).
  case listenerNotPassed(Errno)
  /// No child process could be made.
  case forkFailed(Errno)
  /// No shared memory for the answers (mmap failed).
  case sharedMemory(Errno)
  /// The first replayed call was not sent to the listener, so the filter's address match does
  /// not work on this kernel; nothing else was asked, since a call could have run for real.
  case notIntercepted(String)
  /// The filter killed so many calls that the oracle stopped making children for them.
  case tooManyKills(Int)
  /// The oracle's child ended before it could ask (how it ended).
  case childEnded(String)
  /// The deadline came before this call was asked.
  case deadline

  public var description: String {
    switch self {
    case .unsupportedArchitecture: return "the oracle replays calls on x86_64 and aarch64 only"
    case .noNewPrivsRefused(let err): return "prctl(PR_SET_NO_NEW_PRIVS) failed with \(err.name) and seccomp() needs it without CAP_SYS_ADMIN"
    case .seccompRefused(let err):
      switch err {
      case .invalidArgument:
        return "seccomp(SECCOMP_FILTER_FLAG_NEW_LISTENER) failed with EINVAL: the kernel has no seccomp user notification (Linux < 5.0)"
      case .noFunction:
        return "seccomp() failed with ENOSYS: no seccomp filter support, or a filter answers seccomp with ENOSYS"
      default:
        return "seccomp(SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_NEW_LISTENER) failed with \(err.name): the container's filter refuses seccomp"
      }
    case .setupKilled(let signal, let step): return "the oracle's child died of \(signalName(signal)) in \(step)"
    case .listenerNotPassed(let err): return "the listener fd could not be passed to the parent (\(err.name))"
    case .forkFailed(let err): return "fork failed with \(err.name)"
    case .sharedMemory(let err): return "mmap of the answer page failed with \(err.name)"
    case .notIntercepted(let what): return "the replay was not intercepted (\(what)), so nothing was asked"
    case .tooManyKills(let n): return "the filter killed the oracle's children \(n) times; the calls after that were not asked"
    case .childEnded(let how): return "the oracle's child \(how) before asking"
    case .deadline: return "not asked before the deadline"
    }
  }
}

/// What the filters a process runs under do with one exact call (field-facts §12).
public enum OracleAnswer: Equatable, Sendable, CustomStringConvertible {
  /// Every filter lets it through (ALLOW; also LOG, and TRACE, which USER_NOTIF outranks): the
  /// kernel would run it. It was not run.
  case allowed
  /// A filter answers with this errno (SECCOMP_RET_ERRNO), runc's -ENOSYS stub included.
  case errno(Errno)
  /// A filter answered SECCOMP_RET_ERRNO with data 0: the call "succeeds" with this value
  /// without running.
  case returned(Int)
  /// A filter kills the caller (KILL_THREAD or KILL_PROCESS): the child died of this signal
  /// (SIGSYS).
  case killed(signal: Int32)
  /// A filter traps it (SIGSYS with si_code SYS_SECCOMP); `data` is SECCOMP_RET_DATA.
  case trapped(data: Int32)
  /// The kernel runs this number without consulting seccomp at all, so no filter decides it:
  /// x86_64's uretprobe (335, Linux 6.11) and uprobe (336) pass through (measured on 6.18:
  /// under an EPERM filter 335 still raised SIGILL and 336 returned ENXIO). Never replayed.
  case bypassesSeccomp
  /// Not asked.
  case unavailable(OracleUnavailable)

  public var description: String {
    switch self {
    case .allowed: return "allowed"
    case .errno(let err): return err.name
    case .returned(let value): return "returned \(value) without running"
    case .bypassesSeccomp: return "not filtered (the kernel bypasses seccomp for it)"
    case .killed(let signal): return "killed (\(signalName(signal)))"
    case .trapped(let data): return "trapped (SIGSYS, data \(data))"
    case .unavailable(let why): return "not asked: \(why)"
    }
  }
}

/// The answers to a batch, with what it cost.
public struct OracleBatch: Sendable {
  /// One per call, in order.
  public var answers: [OracleAnswer]
  /// Child processes used: one, plus one more after each call a filter killed.
  public var children: Int
  /// Notifications received (the calls that every filter allows).
  public var notifications: Int
  public var elapsedMicroseconds: Int
  /// Set when some or all calls could not be asked; those answers are `.unavailable`.
  public var unavailable: OracleUnavailable?
}

/// The exact seccomp oracle: a child stacks a filter answering SECCOMP_RET_USER_NOTIF for the
/// calls it replays and hands the listener to this process. ERRNO, TRAP and KILL of the filters
/// already installed outrank USER_NOTIF, ALLOW does not; so a notification means "allowed", an
/// errno without one is the filter's answer, and SIGSYS is a TRAP or a KILL. A notified call is
/// answered here with a marker value and never runs. Needs Linux ≥ 5.0 and `seccomp` allowed;
/// works without any capability.
///
/// This process stays single-threaded: it waits on the listener and the child's end with
/// ppoll(2). The child makes only the replayed calls after its setup, from one syscall
/// instruction the filter recognises by address, so its own plumbing is never intercepted.
public enum SeccompOracle {
  /// What a notified call returns to the child instead of running: above any pid, fd or size
  /// a first calibration call (getpid) could return for real.
  static let marker: Int = 0x7c_0ffe_e0c9

  // Layout of the shared answer page: a header, then two slots per call.
  static let headerSlots = 4
  static let phaseSlot = 0, indexSlot = 1, setupErrnoSlot = 2, setupStepSlot = 3
  static let phaseGuard: Int64 = 1, phaseInstall: Int64 = 2, phaseCalls: Int64 = 3, phaseDone: Int64 = 4
  static let stateAsking: Int64 = 1, stateReturned: Int64 = 2, stateTrapped: Int64 = 3
  /// Children a batch may use: a filter that kills every call would otherwise cost a fork per
  /// number.
  static let maxChildren = 48

  /// Set in the header's errno slot when the calibration call came back unintercepted.
  static let calibrationFailedStep: Int64 = 9

  /// Asks about one call; `milliseconds` bounds the whole exchange.
  public static func ask(number: Int, arguments: [UInt64] = [], milliseconds: Int = 1000) -> OracleAnswer {
    ask([OracleCall(number: number, arguments: arguments)], milliseconds: milliseconds).answers[0]
  }

  /// Asks about many calls with as few processes as the filter allows.
  public static func ask(_ calls: [OracleCall], milliseconds: Int = 2000) -> OracleBatch {
    ask(calls, deadline: Sys.monotonicNanoseconds() + UInt64(max(0, milliseconds)) * 1_000_000)
  }

  /// Asks about many calls until `deadline` (CLOCK_MONOTONIC nanoseconds).
  public static func ask(_ calls: [OracleCall], deadline: UInt64) -> OracleBatch {
    let started = Sys.monotonicNanoseconds()
    var batch = OracleBatch(
      answers: [OracleAnswer](repeating: .unavailable(.deadline), count: calls.count), children: 0,
      notifications: 0, elapsedMicroseconds: 0, unavailable: nil)
    func finished(_ why: OracleUnavailable?) -> OracleBatch {
      if let why {
        batch.unavailable = why
        for index in batch.answers.indices {
          if case .unavailable = batch.answers[index] { batch.answers[index] = .unavailable(why) }
        }
      }
      batch.elapsedMicroseconds = Int((Sys.monotonicNanoseconds() - started) / 1000)
      return batch
    }
    guard let arch = Architecture.native else { return finished(.unsupportedArchitecture) }
    // Numbers the kernel runs without asking seccomp are answered without a replay.
    let bypassing = bypassNumbers(arch: arch)
    var asked: [Int] = []
    for (index, call) in calls.enumerated() {
      if bypassing.contains(call.number) { batch.answers[index] = .bypassesSeccomp } else { asked.append(index) }
    }
    if asked.isEmpty { return finished(nil) }
    // The calls go to a few children at once, each with its own listener: a round trip is a
    // wake-up of each side, so several in flight overlap on a loaded machine. Each child first
    // replays getpid, whose real result can never be the marker, and asks nothing unless that
    // came back intercepted.
    let calibration = OracleCall(number: arch == .x86_64 ? 39 : 172)
    let parallel = asked.count >= 64 ? 4 : 1
    let size = (asked.count + parallel - 1) / parallel
    var chunks: [Chunk] = []
    for first in stride(from: 0, to: asked.count, by: size) {
      let indices = Array(asked[first..<min(first + size, asked.count)])
      guard let chunk = Chunk(indices: indices, calls: [calibration] + indices.map { calls[$0] }) else {
        return finished(.sharedMemory(.current))
      }
      chunks.append(chunk)
    }
    while true {
      let active = chunks.filter { !$0.done }
      if active.isEmpty { return finished(nil) }
      if Sys.monotonicNanoseconds() >= deadline { return finished(.deadline) }
      if batch.children >= maxChildren { return finished(.tooManyKills(batch.children)) }
      var running: [Running] = []
      for chunk in active {
        switch start(chunk, deadline: deadline) {
        case .success(let r): running.append(r)
        case .failure(.forkFailed) where !running.isEmpty:
          // A pids limit with room for fewer children: the other chunks wait for a later round.
          break
        case .failure(let why):
          for r in running { r.abandon() }
          return finished(why)
        }
      }
      serve(running, deadline: deadline)
      var failure: OracleUnavailable?
      for r in running {
        let round = finish(r)
        batch.children += 1
        batch.notifications += round.notified.count
        for (index, answer) in r.chunk.answers(round) { batch.answers[index] = answer }
        if let why = r.chunk.advance(round) { failure = failure ?? why }
      }
      if let failure { return finished(failure) }
    }
  }

  /// The filter the oracle's child installs, for tests: interpreting it shows it notifies
  /// only calls from the replay instruction of the native architecture.
  public static var filterProgram: [SeccompBPF.Instruction] {
    var raw = [UInt64](repeating: 0, count: 16)
    var count: UInt16 = 0
    raw.withUnsafeMutableBytes { culprit_oracle_program($0.baseAddress!, &count) }
    let bytes = raw.withUnsafeBytes { Array($0.prefix(Int(count) * 8)) }
    return SeccompBPF.decode(bytes)
  }

  /// The replay's syscall instruction and the one after it.
  public static var callSite: (site: UInt64, after: UInt64) {
    var site: UInt64 = 0
    var after: UInt64 = 0
    culprit_oracle_call_addresses(&site, &after)
    return (site, after)
  }

  /// x86_64's uretprobe (335) and uprobe (336): from Linux 6.11 seccomp lets uretprobe through
  /// unfiltered (kernel/seccomp.c, the uprobe exception), and uprobe too where it exists. On
  /// older kernels both numbers are unassigned and asked like any other.
  static func bypassNumbers(arch: Architecture) -> Set<Int> {
    guard arch == .x86_64 else { return [] }
    // Without a kernel version, never replay them: on a kernel with the exception they would run.
    if let release = Sys.uname().value?.release, let kernel = KernelVersion(release: release), kernel < KernelVersion(6, 11) {
      return []
    }
    return [335, 336]
  }

  struct Round {
    var ending: ChildEnding?
    var notified: Set<Int> = []
    var failure: OracleUnavailable?
  }

  /// A share of a batch: its calls (the calibration first), where the next child starts, and
  /// the shared page its children write (a header, then two slots per call).
  final class Chunk {
    let indices: [Int]
    let calls: [OracleCall]
    let page: UnsafeMutablePointer<Int64>
    let bytes: Int
    var start = 0
    var guardCoreDumps = true
    var done = false

    init?(indices: [Int], calls: [OracleCall]) {
      self.indices = indices
      self.calls = calls
      bytes = (headerSlots + 2 * calls.count) * 8
      guard case .success(let raw) = Sys.mapShared(bytes: bytes) else { return nil }
      page = raw.bindMemory(to: Int64.self, capacity: bytes / 8)
    }

    deinit { Sys.unmap(UnsafeMutableRawPointer(page), bytes: bytes) }

    /// The answers the last child recorded, by index in the batch.
    func answers(_ round: Round) -> [(Int, OracleAnswer)] {
      var out: [(Int, OracleAnswer)] = []
      for index in max(start, 1)..<calls.count {
        let slot = page + headerSlots + 2 * index
        let answer: OracleAnswer?
        switch slot[0] {
        case stateReturned:
          let raw = Int(slot[1])
          if round.notified.contains(index) || raw == marker {
            answer = .allowed
          } else if raw < 0 && raw >= -4095 {
            answer = .errno(Errno(rawValue: Int32(-raw)))
          } else {
            answer = .returned(raw)
          }
        case stateTrapped: answer = .trapped(data: Int32(truncatingIfNeeded: slot[1]))
        case stateAsking:
          if case .signaled(let signal, _) = round.ending { answer = .killed(signal: signal) } else { answer = nil }
        default: answer = nil
        }
        if let answer { out.append((indices[index - 1], answer)) }
      }
      return out
    }

    /// Where the next child starts after `round`, or why the batch cannot go on.
    func advance(_ round: Round) -> OracleUnavailable? {
      if let failure = round.failure {
        if case .setupKilled = failure, guardCoreDumps, page[phaseSlot] == phaseGuard {
          // A filter that kills setrlimit or prctl(PR_SET_DUMPABLE): go on without the guard.
          guardCoreDumps = false
          return nil
        }
        done = true
        return failure
      }
      if start == 0 && !(page[headerSlots] == stateReturned && page[headerSlots + 1] == Int64(marker)) {
        // The calibration was not intercepted: nothing else was asked.
        done = true
        let value = page[headerSlots + 1]
        switch page[headerSlots] {
        case stateReturned where value < 0:
          return .notIntercepted(
            "the filter answered getpid() with \(Errno(rawValue: Int32(-value)).name), so the interception could not be confirmed")
        case stateReturned: return .notIntercepted("getpid() returned \(value) without a notification")
        case stateTrapped: return .notIntercepted("getpid() was trapped")
        case stateAsking: return .notIntercepted("getpid() was killed")
        default: return .deadline
        }
      }
      switch page[phaseSlot] {
      case phaseDone:
        done = true
        return nil
      case phaseCalls:
        // The child ended inside call `index`: killed (recorded) or out of time.
        let index = Int(page[indexSlot])
        guard case .signaled = round.ending, index >= start else {
          done = true
          return .deadline
        }
        start = index + 1
        if start >= calls.count { done = true }
        return nil
      default:
        done = true
        return .deadline
      }
    }
  }

  /// A child of a chunk, started: its listener once passed.
  final class Running {
    let chunk: Chunk
    let child: Child
    var socket: Int32
    var listener: Int32 = -1
    var passError: Errno?
    var round = Round()

    init(chunk: Chunk, child: Child, socket: Int32) {
      self.chunk = chunk
      self.child = child
      self.socket = socket
    }

    /// Kills the child and reaps it (when another chunk's child could not be made).
    func abandon() {
      Children.killGroup(child.pid)
      _ = Children.collect([child])
      if socket >= 0 { Sys.close(socket) }
      if listener >= 0 { Sys.close(listener) }
    }
  }

  /// Forks a child that installs the oracle filter, passes the listener and replays
  /// `chunk.calls[chunk.start...]`.
  static func start(_ chunk: Chunk, deadline: UInt64) -> Result<Running, OracleUnavailable> {
    let page = chunk.page
    let calls = chunk.calls
    let from = chunk.start
    let guardCoreDumps = chunk.guardCoreDumps
    for slot in 0..<headerSlots { page[slot] = 0 }
    var fds: [Int32] = [-1, -1]
    if socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0, &fds) != 0 {
      return .failure(.listenerNotPassed(.current))
    }
    let spawned = Children.spawn(deadline: deadline) { channel in
      Sys.close(fds[1])
      page[phaseSlot] = phaseGuard
      if guardCoreDumps {
        // A killed replay leaves no core dump (a piped core_pattern ignores the rlimit).
        _ = Sys.setRLimit(4 /* RLIMIT_CORE */, 0)
        _ = Sys.prctl(4 /* PR_SET_DUMPABLE */, 0)
      }
      page[phaseSlot] = phaseInstall
      var step: Int32 = 0
      let rc = culprit_oracle_install(fds[0], &step)
      Sys.close(fds[0])
      if rc != 0 {
        page[setupErrnoSlot] = Int64(-rc)
        page[setupStepSlot] = Int64(step)
        return []
      }
      channel.continueAfterTraps()
      page[phaseSlot] = phaseCalls
      for index in from..<calls.count {
        let slot = page + headerSlots + 2 * index
        page[indexSlot] = Int64(index)
        slot[0] = stateAsking
        let trapsBefore = channel.traps.count
        let result = calls[index].arguments.withUnsafeBufferPointer { culprit_oracle_call(calls[index].number, $0.baseAddress!) }
        let traps = channel.traps
        if traps.count != trapsBefore {
          slot[1] = Int64(traps.data)
          slot[0] = stateTrapped
        } else {
          slot[1] = Int64(result)
          slot[0] = stateReturned
        }
        if index == 0 && result != marker {
          // Not intercepted: a real call would run. getpid did; nothing else is made.
          page[setupStepSlot] = calibrationFailedStep
          return []
        }
      }
      page[phaseSlot] = phaseDone
      return []
    }
    Sys.close(fds[0])
    guard case .success(let child) = spawned else {
      Sys.close(fds[1])
      return .failure(.forkFailed(spawned.failure ?? .current))
    }
    return .success(Running(chunk: chunk, child: child, socket: fds[1]))
  }

  /// Receives each child's listener, then answers every notification with the marker until
  /// every child has ended or the deadline. A child's end wakes the ppoll with SIGCHLD
  /// (Children's wake-up; without it, a look every 2 ms).
  static func serve(_ running: [Running], deadline: UInt64) {
    var note = culprit_oracle_notification()
    while true {
      let now = Sys.monotonicNanoseconds()
      if now >= deadline { return }
      var set: [pollfd] = []
      var owners: [(Running, Int)] = []  // 0 socket, 1 listener
      for r in running where !r.child.hasEnded {
        if r.socket >= 0 {
          set.append(pollfd(fd: r.socket, events: Int16(POLLIN), revents: 0))
          owners.append((r, 0))
        }
        if r.listener >= 0 {
          set.append(pollfd(fd: r.listener, events: Int16(POLLIN), revents: 0))
          owners.append((r, 1))
        }
      }
      if set.isEmpty { return }
      if culprit_ppoll(&set, UInt(set.count), Children.pollWait(deadline - now)) <= 0 { continue }
      for (i, (r, kind)) in owners.enumerated() where set[i].revents != 0 {
        switch kind {
        case 0:
          let fd = culprit_oracle_receive_fd(r.socket)
          if fd >= 0 {
            r.listener = fd
            _ = culprit_oracle_sync_wakeups(fd)
          } else if fd != -ENODATA {
            r.passError = Errno(rawValue: -fd)
          }
          Sys.close(r.socket)
          r.socket = -1
        case 1:
          guard set[i].revents & Int16(POLLIN) != 0, culprit_oracle_next(r.listener, &note) == 0 else { continue }
          let page = r.chunk.page
          let calls = r.chunk.calls
          let index = Int(page[indexSlot])
          let args = withUnsafeBytes(of: note.args) { Array($0.bindMemory(to: UInt64.self)) }
          if index < calls.count, Int(note.nr) == calls[index].number, args == calls[index].arguments {
            r.round.notified.insert(index)
          }
          _ = culprit_oracle_answer(r.listener, note.id, Int64(marker), 0)
        default:
          break
        }
      }
    }
  }

  /// Collects the child and says how its setup went.
  static func finish(_ r: Running) -> Round {
    if r.socket >= 0 { Sys.close(r.socket) }
    if r.listener >= 0 { Sys.close(r.listener) }
    let outcome = Children.collect([r.child])[0]
    var round = r.round
    round.ending = outcome.ending
    let page = r.chunk.page
    if r.listener < 0 {
      if let passError = r.passError {
        round.failure = .listenerNotPassed(passError)
      } else if page[setupErrnoSlot] != 0 {
        let err = Errno(rawValue: Int32(page[setupErrnoSlot]))
        switch page[setupStepSlot] {
        case 1: round.failure = .noNewPrivsRefused(err)
        case 2: round.failure = .seccompRefused(err)
        default: round.failure = .listenerNotPassed(err)
        }
      } else if case .signaled(let signal, _) = outcome.ending {
        let step = page[phaseSlot] == phaseGuard
          ? "setrlimit(RLIMIT_CORE) or prctl(PR_SET_DUMPABLE)" : "prctl(PR_SET_NO_NEW_PRIVS) or seccomp()"
        round.failure = .setupKilled(signal: signal, step: step)
      } else if case .exited(let code, _) = outcome.ending {
        round.failure = .childEnded("exited with \(code)")
      } else {
        round.failure = .deadline
      }
    }
    return round
  }
}
