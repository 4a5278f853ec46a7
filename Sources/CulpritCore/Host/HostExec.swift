#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// What one run of a component's version command gave: `runc --version`, with a deadline, in
/// a process group of its own that is killed at the deadline, stdin from /dev/null, stdout and
/// stderr together, a small fixed environment (no CNI_COMMAND: a CNI plugin run without one
/// prints its "about" line and exits).
public struct VersionRun: Equatable, Sendable {
  public var argv: [String]
  /// The exit code, when it exited.
  public var exitStatus: Int32?
  /// The signal that ended it (SIGKILL at the deadline is `timedOutAfterMilliseconds`).
  public var signal: Int32?
  public var timedOutAfterMilliseconds: Int?
  /// execve's errno when it could not be started (ENOEXEC for a foreign binary, EACCES, …).
  public var execError: Errno?
  /// culprit's own failure to run it (fork refused): the errno and the call.
  public var plumbingError: String?
  /// stdout and stderr as they came, at most `HostExec.outputLimit` bytes.
  public var output: String
  public var elapsedMilliseconds: Int

  public init(
    argv: [String], exitStatus: Int32? = nil, signal: Int32? = nil, timedOutAfterMilliseconds: Int? = nil,
    execError: Errno? = nil, plumbingError: String? = nil, output: String = "", elapsedMilliseconds: Int = 0
  ) {
    self.argv = argv
    self.exitStatus = exitStatus
    self.signal = signal
    self.timedOutAfterMilliseconds = timedOutAfterMilliseconds
    self.execError = execError
    self.plumbingError = plumbingError
    self.output = output
    self.elapsedMilliseconds = elapsedMilliseconds
  }

  /// The command as a person would type it.
  public var command: String { argv.joined(separator: " ") }

  /// One line saying how it ended.
  public var ending: String {
    if let plumbingError { return "not run: \(plumbingError)" }
    if let execError { return "could not be executed (execve: \(execError.name))" }
    if let ms = timedOutAfterMilliseconds { return "gave no answer within \(ms) ms and was killed" }
    if let signal { return "was killed by \(signalName(signal))" }
    if let code = exitStatus { return code == 0 ? "exited 0" : "exited \(code)" }
    return "ended in an unknown way"
  }

  /// Whether it answered (exited, with output): the output is then evidence.
  public var answered: Bool { exitStatus != nil && !output.trimmed().isEmpty }
}

/// Runs version commands in child processes, all at once, from culprit's single thread.
public enum HostExec {
  public static let outputLimit = 16 << 10
  static let execFailedMarker = "\u{0}culprit-execve-errno="

  /// Runs each argv (argv[0] an absolute path) with the deadline; the results in order.
  public static func run(_ commands: [[String]], timeoutMilliseconds: Int) -> [VersionRun] {
    guard !commands.isEmpty else { return [] }
    let deadline = Sys.monotonicNanoseconds() + UInt64(timeoutMilliseconds) * 1_000_000
    var children: [(index: Int, child: Child)] = []
    var results = commands.map { VersionRun(argv: $0) }
    for (index, argv) in commands.enumerated() {
      switch Children.spawn(deadline: deadline, body: { _ in runInChild(argv) }) {
      case .success(let child): children.append((index, child))
      case .failure(let err):
        results[index].plumbingError = "culprit could not fork a process to run it (\(err.name))"
      }
    }
    let outcomes = Children.collect(children.map(\.child))
    for (slot, outcome) in zip(children, outcomes) {
      results[slot.index] = decode(outcome, argv: commands[slot.index])
    }
    return results
  }

  /// The child's body: a pipe, a grandchild that execs the command into it, read to EOF, wait.
  /// Returns "exit N\n" / "signal N\n" then the output.
  static func runInChild(_ argv: [String]) -> [UInt8] {
    var fds: [Int32] = [0, 0]
    guard pipe(&fds) == 0 else { return Array("plumbing pipe \(Errno.current.name)\n".utf8) }
    let environment = ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL=C", "HOME=/nonexistent"]
    // Everything execve needs is made before fork: the grandchild only calls async-signal-safe
    // functions.
    var cArgs: [UnsafeMutablePointer<CChar>?] = argv.map { strdup($0) } + [nil]
    var cEnv: [UnsafeMutablePointer<CChar>?] = environment.map { strdup($0) } + [nil]
    let devNull = strdup("/dev/null")
    let pid = Glibc.fork()
    if pid < 0 { return Array("plumbing fork \(Errno.current.name)\n".utf8) }
    if pid == 0 {
      let null = Glibc.open(devNull!, O_RDONLY)
      if null >= 0 { dup2(null, 0) }
      dup2(fds[1], 1)
      dup2(fds[1], 2)
      if fds[0] > 2 { Glibc.close(fds[0]) }
      if fds[1] > 2 { Glibc.close(fds[1]) }
      // culprit ignores these for itself; the command gets the defaults.
      signal(SIGPIPE, SIG_DFL)
      signal(SIGXFSZ, SIG_DFL)
      execve(cArgs[0]!, &cArgs, &cEnv)
      let err = errno
      var marker = Array(execFailedMarker.utf8) + Array(String(err).utf8) + [10]
      _ = Glibc.write(1, &marker, marker.count)
      _exit(127)
    }
    Glibc.close(fds[1])
    _ = fcntl(fds[0], F_SETFL, fcntl(fds[0], F_GETFL) | O_NONBLOCK)
    // Read until the command has exited and the pipe is drained: a background process it
    // left holding the pipe does not keep culprit waiting (the deadline still bounds all).
    var output: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 4096)
    var status: Int32 = 0
    var exited = false
    while true {
      var ready = pollfd(fd: fds[0], events: Int16(POLLIN), revents: 0)
      _ = poll(&ready, 1, exited ? 0 : 20)
      var sawEOF = false
      while true {
        let n = buffer.withUnsafeMutableBytes { Glibc.read(fds[0], $0.baseAddress, $0.count) }
        if n < 0 && errno == EINTR { continue }
        if n == 0 { sawEOF = true }
        if n <= 0 { break }
        if output.count < outputLimit { output += buffer[0..<min(n, outputLimit - output.count)] }
      }
      if exited || sawEOF && exited { break }
      if !exited {
        let pid2 = waitpid(pid, &status, WNOHANG)
        if pid2 == pid || (pid2 < 0 && errno != EINTR) { exited = true }
      }
      if sawEOF && !exited {
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        exited = true
      }
    }
    Glibc.close(fds[0])
    let low = status & 0x7f
    let head = low == 0 ? "exit \((status >> 8) & 0xff)\n" : "signal \(low)\n"
    return Array(head.utf8) + output
  }

  static func decode(_ outcome: ChildOutcome, argv: [String]) -> VersionRun {
    var run = VersionRun(argv: argv, elapsedMilliseconds: outcome.elapsedMilliseconds)
    switch outcome.ending {
    case .timedOut(let ms, _):
      run.timedOutAfterMilliseconds = ms
      return run
    case .signaled(let signal, _):
      run.plumbingError = "culprit's process running it was killed by \(signalName(signal))"
      return run
    case .trapped:
      run.plumbingError = "culprit's process running it caught a seccomp trap"
      return run
    case .exited(let code, let bytes):
      guard code == 0, let newline = bytes.firstIndex(of: 10) else {
        run.plumbingError = "culprit's process running it exited \(code) without a result"
        return run
      }
      let head = String(decoding: bytes[..<newline], as: UTF8.self).split(separator: " ")
      var text = String(decoding: bytes[(newline + 1)...], as: UTF8.self)
      if head.first == "plumbing" {
        run.plumbingError = "culprit could not \(head.dropFirst().first ?? "") (\(head.last ?? ""))"
        return run
      }
      let marker = Array(execFailedMarker.utf8)
      let body = Array(bytes[(newline + 1)...])
      if body.count >= marker.count, let at = (0...(body.count - marker.count)).first(where: { Array(body[$0..<$0 + marker.count]) == marker }) {
        let number = body[(at + marker.count)...].prefix { $0 >= 48 && $0 <= 57 }
        run.execError = Errno(rawValue: Int32(String(decoding: number, as: UTF8.self)) ?? 0)
        text = String(decoding: body[..<at], as: UTF8.self)
      }
      if head.first == "exit" { run.exitStatus = Int32(head.last ?? "") } else { run.signal = Int32(head.last ?? "") }
      run.output = text
      return run
    }
  }
}
