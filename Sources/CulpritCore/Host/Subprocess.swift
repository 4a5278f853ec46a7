import CCulprit

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// A program culprit runs on the node (a container runtime's CLI, a CNI plugin), from its own
/// single thread: fork and execve with pipes for stdin, stdout and stderr, one ppoll loop until
/// both outputs close and the program exits, and its whole process group killed at the deadline.
/// The program gets its own process group and dies with culprit (PR_SET_PDEATHSIG), so nothing
/// it started in that group outlives a run.
public struct Subprocess: Sendable {
  /// How a program ended.
  public enum Ending: Equatable, Sendable {
    case exited(Int32)
    case signaled(Int32)
    /// Killed at its deadline.
    case timedOut
    /// It could not be started: execve's (or fork's, pipe's) errno.
    case notStarted(Errno)
  }

  public struct Result: Equatable, Sendable {
    public var argv: [String]
    public var ending: Ending
    public var stdout: [UInt8]
    public var stderr: [UInt8]
    public var elapsedMilliseconds: Int

    public var succeeded: Bool { ending == .exited(0) }
    public var stdoutText: String { String(decoding: stdout, as: UTF8.self) }
    public var stderrText: String { String(decoding: stderr, as: UTF8.self) }

    /// The first line of stderr (or stdout), trimmed, at most 300 characters: for evidence.
    public var message: String {
      for text in [stderrText, stdoutText] {
        let lines = text.split(whereSeparator: \.isNewline).map { $0.trimmed() }
        if let line = lines.first(where: { !$0.isEmpty }) { return String(line.prefix(300)) }
      }
      return ""
    }

    /// "exited 1", "killed by SIGKILL", "timed out after 30 s", "could not be run: ENOENT".
    public var endingDescription: String {
      switch ending {
      case .exited(let code): return "exited \(code)"
      case .signaled(let signal): return "was killed by \(signalName(signal))"
      case .timedOut: return "did not finish within its deadline (\(elapsedMilliseconds) ms) and was killed"
      case .notStarted(let err): return "could not be run: \(err.name)"
      }
    }

    /// "`docker version` exited 1: Cannot connect…": a one-line account for evidence.
    public var account: String {
      let head = "`" + argv.map(Subprocess.quote).joined(separator: " ") + "` " + endingDescription
      let text = message
      return text.isEmpty || succeeded ? head : head + ": " + text
    }
  }

  /// Shell-style quoting for evidence (never executed).
  public static func quote(_ word: String) -> String {
    let safe = word.allSatisfy { $0.isLetter || $0.isNumber || "-_./=:,@+%".contains($0) }
    return safe && !word.isEmpty ? word : "'" + word.replacingAll("'", with: "'\\''") + "'"
  }

  /// Most output kept from each stream; the rest is read and dropped.
  public static let outputLimit = 16 << 20

  /// Runs `argv` (argv[0] a path, or a name looked up in PATH) with `environment` (nil: culprit's
  /// own) and `input` on stdin, for at most `timeoutMilliseconds`.
  public static func run(
    _ argv: [String], environment: [String: String]? = nil, input: [UInt8] = [], timeoutMilliseconds: Int,
    directory: String? = nil, interruptible: Bool = true
  ) -> Result {
    precondition(!argv.isEmpty)
    let started = Sys.monotonicNanoseconds()
    func elapsed() -> Int { Int((Sys.monotonicNanoseconds() - started) / 1_000_000) }
    Children.prepareParent()
    var stdinPipe: [Int32] = [-1, -1], stdoutPipe: [Int32] = [-1, -1], stderrPipe: [Int32] = [-1, -1], execPipe: [Int32] = [-1, -1]
    for index in 0..<4 {
      let ok: Bool
      switch index {
      case 0: ok = culprit_pipe2(&stdinPipe, O_CLOEXEC) == 0
      case 1: ok = culprit_pipe2(&stdoutPipe, O_CLOEXEC) == 0
      case 2: ok = culprit_pipe2(&stderrPipe, O_CLOEXEC) == 0
      default: ok = culprit_pipe2(&execPipe, O_CLOEXEC) == 0
      }
      if !ok {
        let err = Errno.current
        for fd in stdinPipe + stdoutPipe + stderrPipe + execPipe where fd >= 0 { Sys.close(fd) }
        return Result(argv: argv, ending: .notStarted(err), stdout: [], stderr: [], elapsedMilliseconds: elapsed())
      }
    }
    // Everything the child needs is made before fork: after it, the child only calls execve.
    let path = resolve(argv[0], environment: environment)
    let cPath = strdup(path)!
    let cArgs: [UnsafeMutablePointer<CChar>?] = argv.map { strdup($0) } + [nil]
    var env = environment ?? currentEnvironment()
    if env["PATH"] == nil { env["PATH"] = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" }
    let cEnv: [UnsafeMutablePointer<CChar>?] = env.sorted { $0.key < $1.key }.map { strdup("\($0.key)=\($0.value)") } + [nil]
    let cDirectory = directory.map { strdup($0)! }
    defer {
      free(cPath)
      cArgs.forEach { free($0) }
      cEnv.forEach { free($0) }
      if let cDirectory { free(cDirectory) }
    }
    let parent = getpid()
    switch Sys.fork() {
    case .failure(let err):
      for fd in stdinPipe + stdoutPipe + stderrPipe + execPipe { Sys.close(fd) }
      return Result(argv: argv, ending: .notStarted(err), stdout: [], stderr: [], elapsedMilliseconds: elapsed())
    case .success(0):
      _ = setpgid(0, 0)
      _ = Sys.prctl(Children.prSetPdeathsig, UInt(SIGKILL))
      if getppid() != parent { Sys.exitImmediately(127) }
      _ = dup2(stdinPipe[0], 0)
      _ = dup2(stdoutPipe[1], 1)
      _ = dup2(stderrPipe[1], 2)
      var set = sigset_t()
      sigemptyset(&set)
      sigprocmask(SIG_SETMASK, &set, nil)
      signal(SIGPIPE, SIG_DFL)
      if let cDirectory, chdir(cDirectory) != 0 {
        var e = errno
        _ = Glibc.write(execPipe[1], &e, 4)
        Sys.exitImmediately(127)
      }
      var argvCopy = cArgs
      var envCopy = cEnv
      execve(cPath, &argvCopy, &envCopy)
      var e = errno
      _ = Glibc.write(execPipe[1], &e, 4)
      Sys.exitImmediately(127)
    case .success(let pid):
      _ = setpgid(pid, pid)
      Sys.close(stdinPipe[0]); Sys.close(stdoutPipe[1]); Sys.close(stderrPipe[1]); Sys.close(execPipe[1])
      let deadline = started + UInt64(max(timeoutMilliseconds, 1)) * 1_000_000
      for fd in [stdinPipe[1], stdoutPipe[0], stderrPipe[0]] { _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) }
      var inputFD: Int32 = input.isEmpty ? -1 : stdinPipe[1]
      if inputFD < 0 { Sys.close(stdinPipe[1]) }
      var written = 0
      var out: [UInt8] = [], err: [UInt8] = []
      var open: [Int32] = [stdoutPipe[0], stderrPipe[0]]
      var status: Sys.WaitStatus?
      var timedOut = false
      var buffer = [UInt8](repeating: 0, count: 65536)
      while true {
        if status == nil, case .success(let s?) = Sys.tryWait(pid) { status = s }
        if status != nil && open.isEmpty { break }
        let now = Sys.monotonicNanoseconds()
        // A SIGTERM, SIGINT or SIGHUP culprit received (`Termination`) ends the program as its
        // deadline would, unless it is one of culprit's removals.
        if now >= deadline || (interruptible && Termination.signal != 0) {
          timedOut = status == nil
          break
        }
        // Once the program exited, what is still in its pipes is read for a moment more (a
        // daemonised grandchild holding the pipe open must not keep culprit waiting).
        var fds = open.map { pollfd(fd: $0, events: Int16(POLLIN), revents: 0) }
        if inputFD >= 0 { fds.append(pollfd(fd: inputFD, events: Int16(POLLOUT), revents: 0)) }
        let wait = status != nil ? min(deadline - now, 200_000_000) : min(deadline - now, Children.wakeups ? deadline - now : 2_000_000)
        let ready = culprit_ppoll(&fds, UInt(fds.count), Int(wait))
        if ready == 0 && status != nil { break }
        for entry in fds where entry.revents != 0 {
          if entry.fd == inputFD {
            let n = input.withUnsafeBytes { raw in Glibc.write(inputFD, raw.baseAddress! + written, input.count - written) }
            if n > 0 { written += n }
            if n < 0 && errno != EAGAIN && errno != EINTR || written >= input.count {
              Sys.close(inputFD)
              inputFD = -1
            }
            continue
          }
          let n = buffer.withUnsafeMutableBytes { Glibc.read(entry.fd, $0.baseAddress, $0.count) }
          if n > 0 {
            if entry.fd == stdoutPipe[0] {
              if out.count < outputLimit { out += buffer[0..<min(n, outputLimit - out.count)] }
            } else if err.count < outputLimit {
              err += buffer[0..<min(n, outputLimit - err.count)]
            }
          } else if n == 0 || (errno != EAGAIN && errno != EINTR) {
            open.removeAll { $0 == entry.fd }
          }
        }
      }
      if inputFD >= 0 { Sys.close(inputFD) }
      for fd in [stdoutPipe[0], stderrPipe[0]] { Sys.close(fd) }
      // The group goes whatever happened: what the program left running in it is culprit's.
      _ = Sys.kill(-pid, SIGKILL)
      if timedOut { _ = Sys.kill(pid, SIGKILL) }
      if status == nil {
        for _ in 0..<2000 {
          if case .success(let s?) = Sys.tryWait(pid) { status = s; break }
          if case .failure = Sys.tryWait(pid) { break }
          Sys.sleep(milliseconds: 1)
        }
      }
      var execErrno: Int32 = 0
      let execFailed = Glibc.read(execPipe[0], &execErrno, 4) == 4
      Sys.close(execPipe[0])
      let ending: Ending
      if execFailed {
        ending = .notStarted(Errno(rawValue: execErrno))
      } else if timedOut {
        ending = .timedOut
      } else {
        switch status {
        case .exited(let code)?: ending = .exited(code)
        case .signaled(let signal, _)?: ending = .signaled(signal)
        case .stopped(let signal)?: ending = .signaled(signal)
        case nil: ending = .timedOut
        }
      }
      return Result(argv: argv, ending: ending, stdout: out, stderr: err, elapsedMilliseconds: elapsed())
    }
  }

  /// culprit's environment as a dictionary.
  public static func currentEnvironment() -> [String: String] {
    var result: [String: String] = [:]
    var pointer = environ
    while let entry = pointer.pointee {
      let text = String(cString: entry)
      if let equals = text.firstIndex(of: "=") {
        result[String(text[..<equals])] = String(text[text.index(after: equals)...])
      }
      pointer += 1
    }
    return result
  }

  /// A program name looked up in PATH (the environment's, else culprit's, else the usual
  /// directories); a name with a slash is returned as it is. Nil-free: an unfound name comes
  /// back unchanged and execve then reports ENOENT.
  public static func resolve(_ name: String, environment: [String: String]? = nil) -> String {
    if name.contains("/") { return name }
    return which(name, environment: environment) ?? name
  }

  /// The first executable `name` in PATH, or nil.
  public static func which(_ name: String, environment: [String: String]? = nil) -> String? {
    let path = environment?["PATH"] ?? (getenv("PATH").map { String(cString: $0) })
      ?? "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
    for directory in path.split(separator: ":") where !directory.isEmpty {
      let candidate = "\(directory)/\(name)"
      var st = Glibc.stat()
      if stat(candidate, &st) == 0, st.st_mode & S_IFMT == S_IFREG, access(candidate, X_OK) == 0 { return candidate }
    }
    return nil
  }
}
