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
public enum OracleUnavailable: Equatable, Sendable, CustomStringConvertible {
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
    // The calibration call: getpid, whose real result can never be the marker.
    let calibration = OracleCall(number: arch == .x86_64 ? 39 : 172)
    let all = [calibration] + asked.map { calls[$0] }
    let bytes = (headerSlots + 2 * all.count) * 8
    let page: UnsafeMutablePointer<Int64>
    switch Sys.mapShared(bytes: bytes) {
    case .success(let raw): page = raw.bindMemory(to: Int64.self, capacity: bytes / 8)
    case .failure(let err): return finished(.sharedMemory(err))
    }
    defer { Sys.unmap(UnsafeMutableRawPointer(page), bytes: bytes) }

    var start = 0
    var guardCoreDumps = true
    while start < all.count {
      if Sys.monotonicNanoseconds() >= deadline { return finished(.deadline) }
      let round = runChild(all, from: start, page: page, guardCoreDumps: guardCoreDumps, deadline: deadline)
      batch.children += 1
      batch.notifications += round.notified.count
      // Collect the answers the child recorded.
      for index in start..<all.count {
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
        if let answer, index > 0 { batch.answers[asked[index - 1]] = answer }
      }
      if let failure = round.failure {
        if case .setupKilled = failure, guardCoreDumps, page[phaseSlot] == phaseGuard {
          // A filter that kills setrlimit or prctl(PR_SET_DUMPABLE): go on without the guard.
          guardCoreDumps = false
          continue
        }
        return finished(failure)
      }
      if start == 0 {
        // The calibration must have been intercepted, or nothing else was asked.
        switch page[headerSlots] {
        case stateReturned where page[headerSlots + 1] == Int64(marker): break
        default:
          if page[setupStepSlot] == calibrationFailedStep || page[phaseSlot] == phaseCalls
            || page[phaseSlot] == phaseDone
          {
            let seen: String
            switch page[headerSlots] {
            case stateReturned where page[headerSlots + 1] < 0:
              seen = "the filter answered getpid() with \(Errno(rawValue: Int32(-page[headerSlots + 1])).name), so the interception could not be confirmed"
            case stateReturned: seen = "getpid() returned \(page[headerSlots + 1]) without a notification"
            case stateTrapped: seen = "getpid() was trapped"
            case stateAsking: seen = "getpid() was killed"
            default: seen = "getpid() was not made"
            }
            return finished(.notIntercepted(seen))
          }
        }
      }
      switch page[phaseSlot] {
      case phaseDone: return finished(nil)
      case phaseCalls:
        // The child ended inside call `index`: killed (recorded above) or out of time.
        let index = Int(page[indexSlot])
        guard case .signaled = round.ending, index >= start else { return finished(.deadline) }
        start = index + 1
      default: return finished(.deadline)
      }
    }
    return finished(nil)
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

  /// One child: it installs the oracle filter, passes the listener, and replays
  /// `calls[from...]`; this process answers every notification with the marker.
  static func runChild(
    _ calls: [OracleCall], from: Int, page: UnsafeMutablePointer<Int64>, guardCoreDumps: Bool, deadline: UInt64
  ) -> Round {
    var round = Round()
    for slot in 0..<headerSlots { page[slot] = 0 }
    var fds: [Int32] = [-1, -1]
    if socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0, &fds) != 0 {
      round.failure = .listenerNotPassed(.current)
      return round
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
      round.failure = .forkFailed(spawned.failure ?? .current)
      return round
    }
    // The listener, or the child's end.
    var listener: Int32 = -1
    var passError: Errno?
    while listener < 0 && passError == nil {
      let now = Sys.monotonicNanoseconds()
      if now >= deadline { break }
      var set = [pollfd(fd: fds[1], events: Int16(POLLIN), revents: 0)]
      if culprit_ppoll(&set, 1, Int(deadline - now)) <= 0 { continue }
      let fd = culprit_oracle_receive_fd(fds[1])
      if fd >= 0 {
        listener = fd
      } else if fd != -ENODATA {
        passError = Errno(rawValue: -fd)
      } else {
        break  // the child closed its end without a listener: its setup failed
      }
    }
    Sys.close(fds[1])
    if listener >= 0 {
      _ = culprit_oracle_sync_wakeups(listener)
      var note = culprit_oracle_notification()
      // The child's end wakes the ppoll with SIGCHLD (Children's wake-up); without it, a
      // look every 2 ms.
      while !child.hasEnded {
        let now = Sys.monotonicNanoseconds()
        if now >= deadline { break }
        var set = [pollfd(fd: listener, events: Int16(POLLIN), revents: 0)]
        if culprit_ppoll(&set, 1, Children.pollWait(deadline - now)) <= 0 { continue }
        if set[0].revents & Int16(POLLIN) != 0, culprit_oracle_next(listener, &note) == 0 {
          let index = Int(page[indexSlot])
          let args = withUnsafeBytes(of: note.args) { Array($0.bindMemory(to: UInt64.self)) }
          if index < calls.count, Int(note.nr) == calls[index].number, args == calls[index].arguments {
            round.notified.insert(index)
          }
          _ = culprit_oracle_answer(listener, note.id, Int64(marker), 0)
          continue
        }
      }
      Sys.close(listener)
    }
    let outcome = Children.collect([child])[0]
    round.ending = outcome.ending
    if listener < 0 {
      if let passError {
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
