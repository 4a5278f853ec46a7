import CCulprit

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// The tracing loop of `culprit trace`: ptrace(PTRACE_SEIZE) with EXITKILL (for a command),
/// TRACESYSGOOD, TRACECLONE, TRACEFORK, TRACEVFORK and TRACEEXEC, following every thread and
/// child, and PTRACE_GET_SYSCALL_INFO at each syscall-stop. It stops the tracee at every call's
/// entry and exit, as strace does, but does nothing at a stop beyond reading the call's
/// registers, except for the few calls that fail in a way a policy can cause: their details
/// (the path, the address, the thread's capabilities) are read while the thread is still
/// stopped, and everything costly (asking the seccomp filter, reading the layers) is done
/// after the program ended.
///
/// Single-threaded, like the rest of culprit. Signals to culprit (Ctrl-C, SIGTERM, --timeout's
/// SIGALRM) interrupt the blocking waitpid and are acted on between stops.
public final class Tracer {
  final class ThreadState {
    let pid: Int32
    var entry: TraceCall?
    var inSyscall = false
    /// Failures (indices) waiting to see what the thread does next, and how many calls ago.
    var watching: [Int] = []
    var callsSinceFailure = 0
    /// The reaction decided at an entry, completed at the exit: (failure, kind).
    var pendingReaction: (index: Int, fallback: String?)?
    /// write(2, buf, n) in progress: the buffer's address.
    var stderrBuffer: UInt64?
    /// Sequence number of the current call's entry.
    var entrySequence = 0
    init(pid: Int32) { self.pid = pid }
  }

  public struct Options: Sendable {
    public var timeoutMilliseconds: Int?
    public init(timeoutMilliseconds: Int? = nil) { self.timeoutMilliseconds = timeoutMilliseconds }
  }

  public private(set) var observations: TraceObservations
  let options: Options
  let snapshot: Snapshot
  var threads: [Int32: ThreadState] = [:]
  var names: [Int: String] = [:]
  let arch: UInt32
  let start = Sys.monotonicNanoseconds()
  var sequence = 0
  /// (pid, nr, errno, path or address) → index in observations.failures.
  var failureIndex: [String: Int] = [:]
  /// Non-blocking connects in progress: "pid:fd" → the address.
  var pendingConnects: [String: TraceAddress] = [:]
  var mountTables: [Int32: MountTable] = [:]
  var stopping = false
  /// Failures whose facts are read in full; beyond, repeats are only counted.
  static let detailedFailures = 256

  // Numbers of the calls handled specially, resolved once.
  let nrWrite: Int
  let nrConnect: Int
  let nrGetsockopt: Int
  let cloneFamily: Set<Int>

  public init(mode: TraceObservations.Mode, options: Options, snapshot: Snapshot) {
    self.observations = TraceObservations(mode: mode)
    self.options = options
    self.snapshot = snapshot
    arch = Architecture.native?.seccompToken ?? 0
    func nr(_ name: String) -> Int { Int(SeccompFilter.resolve(name) ?? -1) }
    nrWrite = nr("write")
    nrConnect = nr("connect")
    nrGetsockopt = nr("getsockopt")
    cloneFamily = Set(["clone", "clone3", "fork", "vfork"].map(nr).filter { $0 >= 0 })
    observations.tracerSeccompFilters = snapshot.seccomp.filters
  }

  var elapsedMilliseconds: Int { Int((Sys.monotonicNanoseconds() - start) / 1_000_000) }

  func name(_ nr: Int) -> String {
    if let known = names[nr] { return known }
    let found = SeccompFilter.name(of: Int32(truncatingIfNeeded: nr), arch: arch) ?? "syscall_\(nr)"
    names[nr] = found
    return found
  }

  // MARK: Starting

  /// Why the tracer could not start the command under ptrace.
  public enum StartFailure: Error, Sendable {
    /// fork failed.
    case fork(Errno)
    /// PTRACE_SEIZE of the command's process was refused; the process runs untraced (its pid).
    case seizeRefused(Errno, untracedPID: Int32)
  }

  /// Forks the command, seizes it before it calls execve, then lets it exec. On a refused
  /// seize the command is let go untraced, so that it still runs as the user asked.
  public func launch(_ argv: [String]) -> Result<Int32, StartFailure> {
    var go: [Int32] = [0, 0]
    var execError: [Int32] = [0, 0]
    guard culprit_pipe2(&go, O_CLOEXEC) == 0 else { return .failure(.fork(.current)) }
    guard culprit_pipe2(&execError, O_CLOEXEC) == 0 else {
      Sys.close(go[0]); Sys.close(go[1])
      return .failure(.fork(.current))
    }
    let cArgs: [UnsafeMutablePointer<CChar>?] = argv.map { strdup($0) } + [nil]
    let pid: pid_t
    switch Sys.fork() {
    case .failure(let err):
      for fd in go + execError { Sys.close(fd) }
      return .failure(.fork(err))
    case .success(0):
      Sys.close(go[1])
      Sys.close(execError[0])
      // The command must not outlive a tracer that dies before letting it exec.
      _ = Sys.prctl(1 /* PR_SET_PDEATHSIG */, UInt(SIGKILL))
      // culprit ignores SIGPIPE; the program must not inherit that.
      signal(SIGPIPE, SIG_DFL)
      // Wait for the tracer's word; without it (culprit died) the command must not run.
      var byte: UInt8 = 0
      var got = -1
      repeat { got = Glibc.read(go[0], &byte, 1) } while got == -1 && errno == EINTR
      if got != 1 { Sys.exitImmediately(127) }
      var argvCopy = cArgs
      execvp(argvCopy[0]!, &argvCopy)
      var err = errno
      _ = Glibc.write(execError[1], &err, 4)
      Sys.exitImmediately(127)
    case .success(let child):
      pid = child
    }
    Sys.close(go[0])
    Sys.close(execError[1])
    for p in cArgs { free(p) }
    observations.rootPID = pid
    observations.processes[pid] = TraceProcess(pid: pid, parent: getpid(), argv: argv)
    let opts = TracePtrace.optionSysGood | TracePtrace.optionFork | TracePtrace.optionVfork
      | TracePtrace.optionClone | TracePtrace.optionExec | TracePtrace.optionExitKill
    let seized = Sys.traceSeize(pid, options: opts)
    var byte: UInt8 = 1
    _ = Glibc.write(go[1], &byte, 1)
    Sys.close(go[1])
    if case .failure(let err) = seized {
      Sys.close(execError[0])
      return .failure(.seizeRefused(err, untracedPID: pid))
    }
    threads[pid] = ThreadState(pid: pid)
    // The exec error pipe closes on a successful execve (CLOEXEC); the read blocks until then.
    // The tracee stops at PTRACE_EVENT_EXEC before the pipe is closed, so read after the loop
    // has let it go: here only check without blocking after the loop starts.
    execErrorFD = execError[0]
    return .success(pid)
  }

  var execErrorFD: Int32 = -1

  /// The errno execvp failed with in the command's process, once it is known.
  public private(set) var execFailure: Errno?

  /// Attaches to a running process and all its threads (--pid), without EXITKILL: the process
  /// must outlive culprit. Reads what each thread waits in before interrupting it.
  public func attach(_ pid: Int32) -> Result<Void, Errno> {
    observations.rootPID = pid
    var process = TraceProcess(pid: pid, parent: nil)
    process.argv = readArgv(pid)
    observations.processes[pid] = process
    let tids = Sys.listDirectory("/proc/\(pid)/task").value?.compactMap { Int32($0) } ?? [pid]
    for tid in tids.sorted() {
      observations.attachedWaits.append(TraceWaits.read(pid: pid, tid: tid, name: name))
    }
    TraceWaits.restoreAffinity()
    let opts = TracePtrace.optionSysGood | TracePtrace.optionFork | TracePtrace.optionVfork
      | TracePtrace.optionClone | TracePtrace.optionExec
    for tid in tids.sorted() {
      if case .failure(let err) = Sys.traceSeize(tid, options: opts) {
        if tid == pid { return .failure(err) }
        continue
      }
      threads[tid] = ThreadState(pid: pid)
      // A seized thread runs on; a stop is needed before PTRACE_SYSCALL.
      _ = Sys.ptraceRaw(TracePtrace.interrupt, tid)
    }
    return .success(())
  }

  // MARK: The loop

  /// Runs until the command's process (or the attached one) ends, a signal asks culprit to
  /// stop, or the timeout passes. Returns the observations.
  public func run() -> TraceObservations {
    _ = culprit_trace_install_signal_flags()
    if let ms = options.timeoutMilliseconds { _ = culprit_trace_alarm(ms) }
    var status: Int32 = 0
    while !threads.isEmpty {
      let tid = Sys.traceWait(&status)
      if tid == -1 {
        let err = errno
        if err == EINTR {
          handleSignal(culprit_trace_take_signal())
          if stopping { break }
          continue
        }
        break  // ECHILD: nothing left
      }
      handle(tid, status)
      let signal = culprit_trace_take_signal()
      if signal != 0 {
        handleSignal(signal)
        if stopping { break }
      }
      if observations.rootEnding != nil && !(threads.isEmpty) && rootGone() { break }
    }
    _ = culprit_trace_alarm(0)
    finish()
    return observations
  }

  /// The command's process has ended (its leader reported): the rest is let go.
  func rootGone() -> Bool { observations.processes[observations.rootPID]?.ending != nil }

  func handleSignal(_ signal: Int32) {
    guard signal != 0 else { return }
    if signal == SIGALRM {
      observations.timedOut = true
    } else {
      observations.interruptedBy = signal
    }
    switch observations.mode {
    case .attached:
      stopping = true
    case .command:
      if signal == SIGALRM || observations.interruptedBy != nil && signal != SIGINT {
        // --timeout, SIGTERM, SIGHUP: end the command.
        for tid in threads.keys { _ = Sys.kill(tid, SIGKILL) }
      }
      // SIGINT from a terminal reached the command's process group too: let it end on its own;
      // a second Ctrl-C ends it.
      if signal == SIGINT {
        if interrupts > 0 { for tid in threads.keys { _ = Sys.kill(tid, SIGKILL) } }
        interrupts += 1
        if !isatty(0).boolValue { _ = Sys.kill(observations.rootPID, SIGINT) }
      }
    }
  }

  var interrupts = 0

  @inline(__always)
  func handle(_ tid: Int32, _ status: Int32) {
    let low = status & 0x7f
    if low == 0 || (low != 0x7f) {
      ended(tid, status)
      return
    }
    let signal = (status >> 8) & 0xff
    let event = (status >> 16) & 0xff
    let state: ThreadState
    if let known = threads[tid] {
      state = known
    } else {
      // A new task's first stop can come before its parent's fork event.
      state = ThreadState(pid: tgid(tid))
      threads[tid] = state
      noteProcess(state.pid, parent: nil)
    }
    if signal == TracePtrace.syscallStopSignal {
      syscallStop(tid, state)
      Sys.traceResume(tid)
      return
    }
    switch event {
    case 0:
      signalDeliveryStop(tid, state, signal)
    case TracePtrace.eventFork, TracePtrace.eventVfork, TracePtrace.eventClone:
      if let child = Sys.traceEventMessage(tid).map({ Int32(truncatingIfNeeded: $0) }), threads[child] == nil {
        let thread = event == TracePtrace.eventClone && tgid(child) == state.pid
        let child_ = ThreadState(pid: thread ? state.pid : child)
        threads[child] = child_
        if !thread { noteProcess(child, parent: state.pid) }
      }
      Sys.traceResume(tid)
    case TracePtrace.eventExec:
      if let former = Sys.traceEventMessage(tid).map({ Int32(truncatingIfNeeded: $0) }), former != tid {
        threads[former] = nil
      }
      observations.processes[state.pid]?.argv = readArgv(state.pid)
      mountTables[state.pid] = nil
      Sys.traceResume(tid)
    case TracePtrace.eventStop:
      if [SIGSTOP, SIGTSTP, SIGTTIN, SIGTTOU].contains(signal) {
        // A group-stop: keep job control working.
        _ = Sys.ptraceRaw(TracePtrace.listen, tid)
      } else {
        Sys.traceResume(tid)
      }
    default:
      Sys.traceResume(tid)
    }
  }

  func ended(_ tid: Int32, _ status: Int32) {
    guard let state = threads.removeValue(forKey: tid) else { return }
    let low = status & 0x7f
    let pid = state.pid
    for index in state.watching where observations.failures[index].reaction == .unknown {
      observations.failures[index].reaction = .gaveUp
    }
    if low == SIGSYS, let call = state.entry, state.entrySequence >= (killedIn[pid]?.sequence ?? 0) {
      // Killed by SIGSYS in its last call (the kernel reports the skipped call's exit, then the
      // uncatchable SIGSYS of KILL_PROCESS ends the process without a signal-delivery-stop);
      // with KILL_PROCESS every thread dies of it: the one that entered its call last is the
      // one the filter killed.
      killedIn[pid] = (state.entrySequence, call)
    }
    guard tid == pid else { return }
    let ending: TraceProcess.Ending
    if low == 0 {
      ending = .exited((status >> 8) & 0xff)
    } else {
      let during = killedIn[pid]?.call ?? state.entry
      ending = .signaled(low, during: during, seccompKill: low == SIGSYS && !deliveredSIGSYS.contains(pid) && killedIn[pid] != nil)
    }
    observations.processes[pid]?.ending = ending
    if pid == observations.rootPID { observations.rootEnding = ending }
  }

  var killedIn: [Int32: (sequence: Int, call: TraceCall)] = [:]
  var deliveredSIGSYS: Set<Int32> = []

  func signalDeliveryStop(_ tid: Int32, _ state: ThreadState, _ signal: Int32) {
    if signal == SIGSYS, let info = Sys.traceSignalInfo(tid) {
      if let nr = info.seccompSyscall {
        let call = state.entry?.nr == Int(nr) ? state.entry! : TraceCall(nr: Int(nr), name: name(Int(nr)), args: [])
        if let i = observations.traps.firstIndex(where: { $0.pid == state.pid && $0.call.nr == Int(nr) }) {
          observations.traps[i].count += 1
        } else {
          observations.traps.append(TraceTrap(pid: state.pid, tid: tid, call: call, data: info.seccompData, atMilliseconds: elapsedMilliseconds))
        }
      }
      deliveredSIGSYS.insert(state.pid)
    }
    Sys.traceResume(tid, signal: signal)
  }

  // MARK: Syscall-stops

  @inline(__always)
  func syscallStop(_ tid: Int32, _ state: ThreadState) {
    var info = culprit_trace_syscall_info()
    guard Sys.traceSyscallInfo(tid, into: &info) else { return }
    switch info.op {
    case 1:
      state.inSyscall = true
      sequence += 1
      observations.syscalls += 1
      let nr = Int(info.nr)
      let args = [info.args.0, info.args.1, info.args.2, info.args.3, info.args.4, info.args.5]
      state.entry = TraceCall(nr: nr, name: names[nr] ?? name(nr), args: args)
      state.entrySequence = sequence
      if !state.watching.isEmpty { react(state, nr: nr, args: args) }
      if nr == nrWrite && args[0] == 2 { state.stderrBuffer = args[1] } else { state.stderrBuffer = nil }
    case 2:
      state.inSyscall = false
      guard let call = state.entry else { return }
      if let pending = state.pendingReaction {
        let ok = info.is_error == 0
        observations.failures[pending.index].reaction =
          pending.fallback.map { .fellBack(to: $0, succeeded: ok) } ?? .retried(succeeded: ok)
        state.pendingReaction = nil
      }
      if info.is_error != 0 {
        let err = Errno(rawValue: Int32(truncatingIfNeeded: -info.rval))
        failed(tid, state, call, err)
      } else if let buffer = state.stderrBuffer, info.rval > 0 {
        captureStderr(state.pid, buffer, Int(info.rval))
      } else if call.nr == nrGetsockopt, call.args[1] == 1, call.args[2] == 4 {
        socketError(tid, state, call)
      }
      state.stderrBuffer = nil
    default:
      break
    }
  }

  /// The calls that stand in for a refused one.
  static let fallbacks: [String: Set<String>] = [
    "clone3": ["clone", "fork", "vfork"],
    "faccessat2": ["faccessat", "access"],
    "statx": ["newfstatat", "fstat", "stat", "lstat"],
    "openat2": ["openat", "open"],
    "close_range": ["close"],
    "epoll_pwait2": ["epoll_pwait", "epoll_wait"],
    "pidfd_open": ["kill", "wait4", "waitid"],
    "copy_file_range": ["sendfile", "read", "splice"],
    "getrandom": ["openat", "open"],
    "fchmodat2": ["fchmodat", "chmod"],
    "pipe2": ["pipe"],
    "accept4": ["accept"],
    "preadv2": ["preadv", "pread64", "read"],
  ]

  /// After a failure, the thread's next calls tell what the program did about it.
  func react(_ state: ThreadState, nr: Int, args: [UInt64]) {
    state.callsSinceFailure += 1
    let callName = names[nr] ?? name(nr)
    var still: [Int] = []
    for index in state.watching {
      let failed = observations.failures[index].call
      // The same call again; for a call on a path, on the same path (a later open of another
      // file is not a retry).
      // A write on another descriptor (head's error message on fd 2 after ENOSPC on fd 1) is
      // not a retry either.
      let samePath = TraceCallShapes.pathArgument(callName).map { args[$0.index] == failed.args[$0.index] }
        ?? TraceCallShapes.writtenDescriptor(callName).map { args[$0] == failed.args[$0] } ?? true
      if nr == failed.nr && samePath {
        state.pendingReaction = (index, nil)
      } else if Tracer.fallbacks[failed.name]?.contains(callName) == true {
        state.pendingReaction = (index, callName)
      } else if state.callsSinceFailure < 24 {
        still.append(index)
        continue
      } else if observations.failures[index].reaction == .unknown {
        observations.failures[index].reaction = .continued
      }
    }
    state.watching = still
  }

  /// Whether an errno from this call is one a policy can cause.
  func policyShaped(_ call: TraceCall, _ err: Errno) -> Bool {
    switch err.rawValue {
    case EPERM, EACCES, EROFS, EMFILE, ENOSPC, ENOSYS: return true
    case EAGAIN: return cloneFamily.contains(call.nr)
    case ENXIO, ENODEV: return ["open", "openat", "openat2"].contains(call.name)
    case ETIMEDOUT, ECONNREFUSED, EHOSTUNREACH, ENETUNREACH: return call.nr == nrConnect
    default: return false
    }
  }

  func failed(_ tid: Int32, _ state: ThreadState, _ call: TraceCall, _ err: Errno) {
    // Kernel-internal restart codes (ERESTARTSYS 512 …) are never seen by the program.
    if err.rawValue >= 512 && err.rawValue <= 530 { return }
    guard policyShaped(call, err) else {
      observations.ordinary["\(call.name) \(err.name)", default: 0] += 1
      if call.nr == nrConnect, err.rawValue == EINPROGRESS, let address = readAddress(state.pid, call.args[1], Int(call.args[2])) {
        pendingConnects["\(state.pid):\(call.args[0])"] = address
      }
      return
    }
    record(tid, state, call, err, via: false)
  }

  func record(_ tid: Int32, _ state: ThreadState, _ call: TraceCall, _ err: Errno, via socketError: Bool, address given: TraceAddress? = nil) {
    let pid = state.pid
    var path = TraceCallShapes.pathArgument(call.name).flatMap { spec in resolvePath(pid: pid, tid: tid, call: call, spec: spec) }
    var pathDescriptor: Int32?
    if path == nil, err.rawValue == ENOSPC || err == .readOnlyFileSystem, let index = TraceCallShapes.writtenDescriptor(call.name) {
      let fd = Int32(truncatingIfNeeded: call.args[index])
      if let target = Sys.readLink("/proc/\(pid)/fd/\(fd)").value, target.hasPrefix("/") {
        path = target.hasSuffix(" (deleted)") ? String(target.dropLast(10)) : target
        pathDescriptor = fd
      }
    }
    let address = given ?? (["connect", "bind", "sendto"].contains(call.name) ? readAddress(pid, call.args[call.name == "sendto" ? 4 : 1], Int(call.args[call.name == "sendto" ? 5 : 2])) : nil)
    let key = "\(pid) \(call.nr) \(err.rawValue) \(path ?? address?.text ?? "")"
    if let index = failureIndex[key] {
      observations.failures[index].count += 1
      observations.failures[index].lastSequence = sequence
      watch(state, index)
      return
    }
    var failure = TraceFailure(
      pid: pid, tid: tid, call: call, errno: err, atMilliseconds: elapsedMilliseconds, firstSequence: sequence,
      lastSequence: sequence, path: path, address: address)
    failure.viaSocketError = socketError
    failure.pathDescriptor = pathDescriptor
    if observations.failures.count < Tracer.detailedFailures {
      if let path {
        switch Sys.stat(path) {
        case .success(let st): failure.pathStat = st
        case .failure(let e): failure.pathStatError = e
        }
        failure.mount = mountTable(pid)?.mount(containing: path)
        if err.rawValue == ENOSPC {
          // The path as the program sees it, through its root (/proc/PID/root).
          failure.space = TraceWaits.space("/proc/\(pid)/root" + path) ?? failure.mount.flatMap { TraceWaits.space("/proc/\(pid)/root" + $0.mountPoint) }
        }
      }
      failure.task = TraceWaits.taskFacts(tid)
      if err.rawValue == EMFILE {
        failure.limitsLine = LiveSystem().readText("/proc/\(pid)/limits").value?.split(separator: "\n")
          .first { $0.hasPrefix("Max open files") }.map { String($0.split(separator: " ", omittingEmptySubsequences: true).joined(separator: " ")) }
      }
      if ["ptrace", "process_vm_readv", "process_vm_writev", "kill", "tgkill"].contains(call.name) {
        let target = Int32(truncatingIfNeeded: call.args[call.name == "ptrace" ? 1 : 0])
        failure.target = targetFacts(target, caller: pid)
      }
      if err == .resourceTemporarilyUnavailable && cloneFamily.contains(call.nr) {
        var limits = TaskLimits.read(snapshot.source, snapshot: snapshot, countTasks: true)
        // The traced program is culprit's descendant, but its tasks are its own: the judge
        // counts only the tracer itself as culprit's.
        limits.culpritTasks = nil
        failure.taskLimits = limits
      }
    }
    failureIndex[key] = observations.failures.count
    observations.failures.append(failure)
    watch(state, observations.failures.count - 1)
  }

  func watch(_ state: ThreadState, _ index: Int) {
    if !state.watching.contains(index) { state.watching.append(index) }
    state.callsSinceFailure = 0
  }

  /// getsockopt(fd, SOL_SOCKET, SO_ERROR, &value): a non-blocking connect's result.
  func socketError(_ tid: Int32, _ state: ThreadState, _ call: TraceCall) {
    guard let bytes = Sys.traceRead(state.pid, address: call.args[3], limit: 4), bytes.count == 4 else { return }
    let value = Int32(bytes[0]) | Int32(bytes[1]) << 8 | Int32(bytes[2]) << 16 | Int32(bytes[3]) << 24
    guard [ETIMEDOUT, ECONNREFUSED, EHOSTUNREACH, ENETUNREACH].contains(value) else { return }
    let address = pendingConnects.removeValue(forKey: "\(state.pid):\(call.args[0])")
    let connect = TraceCall(nr: nrConnect, name: "connect", args: [call.args[0], 0, 0, 0, 0, 0])
    record(tid, state, connect, Errno(rawValue: value), via: true, address: address)
  }

  /// Partial stderr lines per process, until their newline comes.
  var stderrPartial: [Int32: [UInt8]] = [:]

  func captureStderr(_ pid: Int32, _ buffer: UInt64, _ length: Int) {
    guard let bytes = Sys.traceRead(pid, address: buffer, limit: min(length, 2048)) else { return }
    var pending = (stderrPartial[pid] ?? []) + bytes
    var lines: [String] = []
    while let newline = pending.firstIndex(of: 10) {
      lines.append(String(decoding: pending[..<newline].prefix(300), as: UTF8.self))
      pending.removeSubrange(...newline)
    }
    stderrPartial[pid] = Array(pending.suffix(300))
    lines = lines.filter { !$0.allSatisfy { $0 == " " || $0 == "\r" } }
    guard !lines.isEmpty else { return }
    var tail = observations.processes[pid]?.stderrTail ?? []
    tail += lines
    observations.processes[pid]?.stderrTail = Array(tail.suffix(4))
  }

  // MARK: Reading the tracee

  func tgid(_ tid: Int32) -> Int32 {
    guard let text = LiveSystem().readText("/proc/\(tid)/status").value else { return tid }
    return ProcStatus.parse(text).int("Tgid").map(Int32.init) ?? tid
  }

  func noteProcess(_ pid: Int32, parent: Int32?) {
    if observations.processes[pid] == nil {
      var process = TraceProcess(pid: pid, parent: parent)
      process.argv = parent.flatMap { observations.processes[$0]?.argv } ?? readArgv(pid)
      observations.processes[pid] = process
    }
  }

  func targetFacts(_ pid: Int32, caller: Int32) -> TraceTargetFacts {
    guard pid > 0, let text = LiveSystem().readText("/proc/\(pid)/status").value else {
      return TraceTargetFacts(pid: pid, uids: [], gids: [], permitted: nil, tracerPID: nil, isDescendant: false, exists: false)
    }
    let status = ProcStatus.parse(text)
    func ids(_ key: String) -> [UInt32] {
      (status[key] ?? "").split(whereSeparator: { $0 == " " || $0 == "\t" }).compactMap { UInt32($0) }
    }
    var ancestor: Int32? = status.int("PPid").map(Int32.init)
    var descendant = false
    var steps = 0
    while let current = ancestor, current > 1, steps < 64 {
      if current == caller { descendant = true; break }
      ancestor = LiveSystem().readText("/proc/\(current)/stat").value.flatMap(TaskLimits.parseParentPID)
      steps += 1
    }
    return TraceTargetFacts(
      pid: pid, uids: ids("Uid"), gids: ids("Gid"), permitted: status.hex("CapPrm").map(CapabilitySet.init(bits:)),
      tracerPID: status.int("TracerPid").map(Int32.init), isDescendant: descendant, exists: true)
  }

  func readArgv(_ pid: Int32) -> [String] {
    guard let bytes = Sys.readFile("/proc/\(pid)/cmdline", limit: 8192).value else { return [] }
    return bytes.split(separator: 0, omittingEmptySubsequences: false).dropLast().map { String(decoding: $0, as: UTF8.self) }
  }

  func mountTable(_ pid: Int32) -> MountTable? {
    if let table = mountTables[pid] { return table }
    let table = LiveSystem().readText("/proc/\(pid)/mountinfo").value.map(MountTable.parse)
    mountTables[pid] = table
    return table
  }

  /// The absolute path a call named: relative paths are taken from the cwd or the dirfd.
  func resolvePath(pid: Int32, tid: Int32, call: TraceCall, spec: TraceCallShapes.PathArgument) -> String? {
    guard spec.index < call.args.count, let raw = Sys.traceReadString(pid, address: call.args[spec.index]) else { return nil }
    if raw.hasPrefix("/") { return raw }
    var base: String?
    if let dirfd = spec.dirfd {
      let fd = Int32(truncatingIfNeeded: call.args[dirfd])
      base = fd == -100 ? Sys.readLink("/proc/\(tid)/cwd").value : Sys.readLink("/proc/\(pid)/fd/\(fd)").value
    } else {
      base = Sys.readLink("/proc/\(tid)/cwd").value
    }
    guard let base else { return raw }
    if raw.isEmpty { return base }
    return base == "/" ? "/" + raw : base + "/" + raw
  }

  func readAddress(_ pid: Int32, _ address: UInt64, _ length: Int) -> TraceAddress? {
    guard length >= 2, let bytes = Sys.traceRead(pid, address: address, limit: min(length, 128)) else { return nil }
    return TraceCallShapes.parseSockaddr(bytes)
  }

  // MARK: Ending

  func finish() {
    observations.durationMilliseconds = elapsedMilliseconds
    for (pid, partial) in stderrPartial where !partial.isEmpty {
      let line = String(decoding: partial, as: UTF8.self)
      if !line.allSatisfy({ $0 == " " || $0 == "\r" }) {
        let tail = observations.processes[pid]?.stderrTail ?? []
        observations.processes[pid]?.stderrTail = Array((tail + [line]).suffix(4))
      }
    }
    // Whatever still runs (a daemon the command left, an attached process) is let go.
    if !threads.isEmpty { detachAll() }
    if execErrorFD >= 0 {
      var err: Int32 = 0
      _ = fcntl(execErrorFD, F_SETFL, O_NONBLOCK)
      if Glibc.read(execErrorFD, &err, 4) == 4 { execFailure = Errno(rawValue: err) }
      Sys.close(execErrorFD)
      execErrorFD = -1
    }
    for (index, failure) in observations.failures.enumerated() {
      guard let ending = observations.processes[failure.pid]?.ending, ending != .detached else { continue }
      let failedEnd: Bool
      if case .exited(0) = ending { failedEnd = false } else { failedEnd = true }
      let last = !observations.failures[(index + 1)...].contains { $0.pid == failure.pid }
      // Unknown (the process ended first), or went on to other calls and then failed with this
      // as its last refusal: it gave up.
      if failure.reaction == .unknown || (failure.reaction == .continued && failedEnd && last) {
        observations.failures[index].reaction = .gaveUp
      }
    }
  }

  /// Stops every remaining task (PTRACE_INTERRUPT) and detaches it, within a second.
  func detachAll() {
    for tid in threads.keys { _ = Sys.ptraceRaw(TracePtrace.interrupt, tid) }
    _ = culprit_trace_alarm(1000)
    var status: Int32 = 0
    while !threads.isEmpty {
      let tid = Sys.traceWait(&status)
      if tid == -1 {
        if errno == EINTR && culprit_trace_take_signal() != SIGALRM { continue }
        break
      }
      let low = status & 0x7f
      guard low == 0x7f, let state = threads.removeValue(forKey: tid) else {
        ended(tid, status)
        continue
      }
      let signal = (status >> 8) & 0xff
      let event = (status >> 16) & 0xff
      let deliver = event == 0 && signal != TracePtrace.syscallStopSignal ? signal : 0
      _ = Sys.ptraceRaw(TracePtrace.detach, tid, 0, UInt(deliver))
      observations.detachedTasks += 1
      if tid == state.pid, observations.processes[tid]?.ending == nil { observations.processes[tid]?.ending = .detached }
    }
    _ = culprit_trace_alarm(0)
    for (pid, process) in observations.processes where process.ending == nil && threads.values.contains(where: { $0.pid == pid }) {
      observations.processes[pid]?.ending = .detached
    }
    threads.removeAll()
  }
}

extension Int32 {
  var boolValue: Bool { self != 0 }
}
