import ArgumentParser
import CCulprit
import CulpritCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

extension OutputFormat: ExpressibleByArgument {}

/// The level at which culprit's exit status turns to 1.
enum FailOn: String, CaseIterable, ExpressibleByArgument {
  case never, degraded, blocked

  /// The smallest status severity that fails the run.
  var threshold: Int? {
    switch self {
    case .never: return nil
    case .degraded: return Status.degraded.severity
    case .blocked: return Status.blocked.severity
    }
  }
}

/// Exit statuses: 0 nothing at or above --fail-on, 1 something is, 2 usage error, 3 culprit
/// itself failed.
enum Exit {
  static let clean: Int32 = 0
  static let failedCheck: Int32 = 1
  static let usage: Int32 = 2
  static let toolFailure: Int32 = 3
}

struct CulpritCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "culprit",
    abstract: "Tells which layer of a container blocks threads, DNS, ptrace and device nodes.",
    usage: """
      culprit [--format <format>] [--only <ids>] [--timeout <seconds>]
                [--fail-on <level>] [--resolve <name> ...]
                [--url <url> ...] [--connect <host:port> ...] [--offline]
                [--seccomp-profile <file> [--runtime <runtime>]]
        culprit --list
        culprit profile check|diff [--runtime <runtime>] [--libc <libc>] <file>...
        culprit diff [--format <format>] <before.json> <after.json>
        culprit trace [--format <format>] [--output <file>] -- <command> ...
        culprit trace [--format <format>] [--output <file>] --pid <pid>
        culprit host [--format <format>] [--output <file>] [--timeout <seconds>]
      """,
    discussion: """
      Runs a battery of probes and, for each one that fails, names the layer that \
      blocks it (seccomp, capabilities, Yama, LSM, the devices or pids cgroup, the \
      user namespace, mount options, rlimits, the kernel, the network, the \
      resolver configuration or a proxy), with the evidence and a fix.

      EXAMPLES:
        culprit                           Every probe, as text for a terminal.
        culprit --format markdown         A report to paste into a bug report.
        culprit --format json --only capabilities,cgroup
        culprit --fail-on degraded        Exit 1 if anything is degraded too.
        culprit --seccomp-profile p.json  What would this profile break?
        culprit --url http://mirror/debian/dists/bookworm/InRelease --connect db:5432
        culprit --offline                 Everything but what sends packets.
        docker cp dist/culprit c1:/culprit && docker exec c1 /culprit
        culprit host                      On the node: runtime stack vs known bugs.

      EXIT STATUS:
        0  no probe is at or above --fail-on   1  a probe is
        2  usage error, or a bad profile       3  culprit itself failed, or the
                                                  profile cannot be installed
      """,
    version: Culprit.version,
    subcommands: [DiffCommand.self, ProfileCommand.self, TraceCommand.self, HostCommand.self]
  )

  @Option(help: "Output format: text, json or markdown.")
  var format: OutputFormat = .text

  @Option(help: ArgumentHelp("Run only these probes: ids separated by commas (see --list).", valueName: "ids"))
  var only: [String] = []

  @Flag(help: "List the probes, one line each, and exit.")
  var list = false

  @Option(help: ArgumentHelp("Bound on the whole run, in seconds.", valueName: "seconds"))
  var timeout: Double = 10

  @Option(help: ArgumentHelp("Exit 1 when a probe is at or above this level: never, degraded or blocked.", valueName: "level"))
  var failOn: FailOn = .blocked

  @Option(help: ArgumentHelp("A name for the getaddrinfo probe to resolve besides localhost (repeatable).", valueName: "name"))
  var resolve: [String] = []

  @Option(help: ArgumentHelp("An http or https URL for the egress probe to reach besides the image's package sources (repeatable).", valueName: "url"))
  var url: [String] = []

  @Option(help: ArgumentHelp("A HOST:PORT for the egress probe to connect to over TCP (repeatable).", valueName: "host:port"))
  var connect: [String] = []

  @Flag(help: "Send no packet: the egress probe and the nameserver queries of getaddrinfo are skipped, and the report says so.")
  var offline = false

  @Option(
    help: ArgumentHelp(
      "Run the probes under this seccomp profile (the JSON that Docker's --security-opt seccomp=, Podman and runc take) to see what it breaks.",
      valueName: "file"))
  var seccompProfile: String?

  @Option(
    help: ArgumentHelp(
      "The runtime that loads the profile, for --seccomp-profile (default docker-23) and 'profile' (default runc): docker-20.10, docker-23, podman, runc, crun, containerd.",
      valueName: "runtime"))
  var runtime: SeccompRuntime?

  /// --timeout as `culprit trace` takes it: no bound unless given.
  var traceTimeout: Double? { timeoutGiven ? timeout : nil }

  /// Whether --timeout was on the command line (trace's default is no bound, the probes' 10 s).
  var timeoutGiven: Bool { CommandLine.arguments.contains { $0 == "--timeout" || $0.hasPrefix("--timeout=") } }

  /// The probe ids of --only, split on commas.
  var selectedIDs: [String] {
    only.flatMap { $0.split(separator: ",").map { $0.trimmed() } }.filter { !$0.isEmpty }
  }

  func validate() throws {
    guard timeout > 0, timeout <= 3600, timeout.isFinite else {
      throw ValidationError("--timeout must be a number of seconds above 0 and at most 3600, not \(timeout)")
    }
    if !only.isEmpty && selectedIDs.isEmpty {
      throw ValidationError("--only needs at least one probe id (see --list)")
    }
    for id in selectedIDs where ProbeCatalog.probe(id) == nil {
      throw ValidationError("unknown probe id '\(id)'; known ids: \(ProbeCatalog.ids.joined(separator: ", "))")
    }
    for name in resolve where name.isEmpty || name.utf8.count > 253 {
      throw ValidationError("--resolve needs a host name of 1 to 253 characters")
    }
    for text in url where EgressTarget(url: text, origin: "--url") == nil {
      throw ValidationError("--url '\(text)' is not an http:// or https:// URL with a host name or IP address")
    }
    for text in connect where EgressTarget(connect: text) == nil {
      throw ValidationError("--connect '\(text)' is not HOST:PORT (a host name or IP address, [v6]:port, and a port 1-65535)")
    }
    if offline && !(url.isEmpty && connect.isEmpty && resolve.isEmpty) {
      throw ValidationError("--offline sends no packet, so it cannot be combined with --url, --connect or --resolve")
    }
    for name in resolve where !HostName.isValid(name) {
      throw ValidationError("--resolve '\(name)' is not a host name or an IP address (letters, digits, '-', '_' and '.' only)")
    }
  }

  func run() throws {
    if list {
      let width = (ProbeCatalog.ids.map(\.count).max() ?? 0) + 2
      var out = ""
      for probe in ProbeCatalog.all {
        out += probe.id + String(repeating: " ", count: width - probe.id.count) + probe.abstract + "\n"
      }
      try Output.write(out)
      return
    }

    let ids = selectedIDs
    let probes = ids.isEmpty ? ProbeCatalog.all : ProbeCatalog.all.filter { ids.contains($0.id) }
    let started = Sys.monotonicNanoseconds()
    let snapshot = Snapshot()
    var options = ProbeOptions(resolveNames: resolve)
    options.egressURLs = url
    options.egressConnects = connect
    options.offline = offline
    var prepareChild: (() -> String?)?
    if let seccompProfile {
      let whatIf = try WhatIf.prepare(seccompProfile, snapshot: snapshot, runtime: runtime ?? .docker23)
      options.seccompProfile = seccompProfile
      options.seccompProfileNotes = whatIf.notes
      let program = whatIf.profile.program
      prepareChild = {
        program.install().failure.map { "installing the seccomp profile failed: \($0.description)" }
      }
    }
    let startStack = culprit_startup_stack_limit()
    if startStack > 0, let now = Sys.rlimit(RLimitResource.stack.rawValue).value?.soft {
      Output.note(
        "the stack limit (ulimit -s) was \(startStack / 1024) KiB; culprit raised its soft limit to \(now / 1024) KiB, since the Swift runtime needs more than 64 KiB, and its probe processes (the thread probe's threads too) run with that")
    }
    if case .failure(let err) = Sys.lstat("/proc/self") {
      // Every probe says which of its files it could not read; this says why, once.
      Output.note(
        "/proc is not mounted here (/proc/self: \(err.name)), so what culprit reads from /proc is missing from this report; each probe names the files it could not read")
    }
    var runner = Runner(timeoutMilliseconds: Int(timeout * 1000), options: options, prepareChild: prepareChild)
    runner.ownCallKilled = Startup.ownCallKilled
    let outcome = runner.run(probes, snapshot: snapshot)
    let elapsed = Int((Sys.monotonicNanoseconds() - started) / 1_000_000)
    let report = Report(
      host: snapshot.hostInfo,
      run: RunInfo(
        timeoutSeconds: timeout, only: ids.isEmpty ? nil : ids, seccompProfile: seccompProfile,
        durationMilliseconds: elapsed,
        forkWorked: outcome.forkError == nil),
      probes: outcome.results)
    try Output.write(format.render(report, color: format == .text && Output.wantsColor))
    if let threshold = failOn.threshold, report.worstSeverity >= threshold {
      throw ExitCode(Exit.failedCheck)
    }
  }
}

/// The what-if mode's preparation: load the profile, decide it for this system, compile it, and
/// install it once in a throwaway child, so that a profile the kernel refuses is an exit 3 up
/// front, never a probe-by-probe surprise or a half-applied filter.
enum WhatIf {
  /// The profile cannot be installed on this system (exit 3).
  struct InstallFailed: Error, CustomStringConvertible {
    var description: String
  }

  static func prepare(_ path: String, snapshot: Snapshot, runtime: SeccompRuntime = .docker23) throws -> (profile: WhatIfProfile, notes: [String]) {
    guard let arch = Architecture.native else {
      throw InstallFailed(description: "--seccomp-profile knows the syscall numbers of x86_64 and aarch64 only, not \(snapshot.machine)")
    }
    let bounding = snapshot.capabilities.value.map { Set($0.bounding.names) } ?? []
    let target = SeccompProfile.Target(arch: arch, boundingCapabilities: bounding, kernel: snapshot.kernelVersion)
    let profile: WhatIfProfile
    do {
      profile = try WhatIfProfile.load(path, source: snapshot.source, target: target, runtime: runtime)
    } catch {
      throw ValidationError("--seccomp-profile \(path): \(error.description)")
    }
    if case .failure(let err) = Sys.prctl(21 /* PR_GET_SECCOMP */) {
      throw InstallFailed(description: "seccomp profile \(path) cannot be installed: this kernel has no seccomp (prctl(PR_GET_SECCOMP) failed with \(err.name))")
    }
    let program = profile.program
    // Success is announced through the shared page, which needs no system call: once the
    // filter is in place it may refuse write or exit_group, which the pipe and _exit need.
    let trial = Children.run(deadline: Sys.monotonicNanoseconds() + 2_000_000_000) { channel in
      channel.step(WhatIf.installing)
      switch program.install() {
      case .success:
        channel.step(WhatIf.installed)
        return []
      case .failure(let err): return Array(err.description.utf8)
      }
    }
    switch trial {
    case .failure(let err):
      throw InstallFailed(description: "seccomp profile \(path) could not be tried: fork failed with \(err.name)")
    case .success(let outcome):
      if let why = WhatIf.trialFailure(outcome) {
        throw InstallFailed(description: "seccomp profile \(path) cannot be installed here: \(why)")
      }
    }
    return (profile, profile.notes(target: target))
  }

  static let installing = "seccomp(SECCOMP_SET_MODE_FILTER)"
  static let installed = "seccomp(SECCOMP_SET_MODE_FILTER) returned 0"

  /// Why the trial install failed, or nil when the filter went in (whatever the filter then
  /// did to the trial process's write or exit).
  static func trialFailure(_ outcome: ChildOutcome) -> String? {
    if outcome.lastStep == installed { return nil }
    let said = String(decoding: outcome.ending.output, as: UTF8.self)
    if outcome.lastStep == installing, !said.isEmpty {
      return "seccomp(SECCOMP_SET_MODE_FILTER) failed with \(said)"
    }
    let ending: String
    switch outcome.ending {
    case .exited(let code, _): ending = "exited with \(code)"
    case .signaled(let signal, _): ending = "was killed by \(signalName(signal))"
    case .trapped: ending = "caught a seccomp trap"
    case .timedOut(let ms, _): ending = "did not finish within \(ms) ms"
    }
    return "the trial process \(ending) without saying whether the filter went in"
  }
}

/// Writing to stdout, where a failure is culprit's own (exit 3).
enum Output {
  struct WriteFailed: Error, CustomStringConvertible {
    var errno: Errno
    var description: String { "cannot write to standard output: \(errno)" }
  }

  static func write(_ text: String) throws {
    if case .failure(let err) = Sys.writeAll(1, Array(text.utf8)) { throw WriteFailed(errno: err) }
  }

  /// Colour only on a terminal, never with NO_COLOR set (https://no-color.org) or TERM=dumb.
  static var wantsColor: Bool {
    if let noColor = getenv("NO_COLOR"), noColor.pointee != 0 { return false }
    if let term = getenv("TERM"), String(cString: term) == "dumb" { return false }
    return isatty(1) == 1
  }

  /// The same rule for another descriptor (the trace report goes to stderr).
  static func wantsColorOn(_ fd: Int32) -> Bool {
    if let noColor = getenv("NO_COLOR"), noColor.pointee != 0 { return false }
    if let term = getenv("TERM"), String(cString: term) == "dumb" { return false }
    return isatty(fd) == 1
  }

  static func note(_ message: String) {
    _ = Sys.writeAll(2, Array("culprit: note: \(message)\n".utf8))
  }

  static func error(_ message: String) {
    _ = Sys.writeAll(2, Array("culprit: error: \(message)\n".utf8))
  }
}

/// What the process was started with, read before the Swift runtime could lose it.
enum Startup {
  /// A call the runner alone needs that a seccomp filter kills (`culprit_check_own_calls`).
  nonisolated(unsafe) static var ownCallKilled: String?

  /// What culprit's own process needs each call of `culprit_check_own_calls` for.
  static func purpose(_ call: String) -> String {
    switch call {
    case "rt_sigaction": return "set its signal handlers"
    case "rt_sigprocmask": return "block signals outside its waits"
    case "getpid": return "know its own processes"
    case "kill": return "end its probe processes"
    case "wait4": return "collect its probe processes"
    case "ppoll": return "wait for its probe processes with a deadline"
    case "prctl": return "reap the orphans of its probe processes"
    case "setpgid": return "give each probe process a process group"
    case "mmap", "munmap": return "share a page with each probe process"
    case "write": return "write its report"
    case "ioctl": return "tell whether its output is a terminal"
    case "uname", "getuid", "geteuid", "getgid", "getegid": return "describe the system it runs on"
    default: return "read the configuration files"
    }
  }

  /// argv as glibc handed it to the start-up shim (CCulprit/startup.c), never from
  /// /proc/self/maps as `CommandLine.arguments` is: nil when it was not handed.
  static var arguments: [String]? {
    let argc = culprit_startup_argc()
    guard argc >= 1, let argv = culprit_startup_argv() else { return nil }
    var list: [String] = []
    for index in 0..<Int(argc) {
      guard let arg = argv[index] else { return nil }
      list.append(String(cString: arg))
    }
    return list
  }
}

@main
enum Main {
  static func main() {
    // A closed stdout must give EPIPE, and output past RLIMIT_FSIZE EFBIG, not kill culprit
    // silently (SIGPIPE, SIGXFSZ): both end as exit 3 with a message.
    // Before any of them: a seccomp KILL on a call culprit's own process needs is said, not
    // died of halfway through a run.
    let killed = culprit_check_own_calls()
    if killed >= 0 {
      let call = String(cString: culprit_own_call_name(killed))
      if Runner.runnerOnlyCalls.contains(call) {
        // Only running probe children needs it: the in-process probes still run.
        Startup.ownCallKilled = call
      } else {
        Output.error(
          "culprit cannot run here: seccomp kills (or traps) `\(call)`, which culprit's own process needs to \(Startup.purpose(call)); a child process tried it for culprit and died of SIGSYS")
        exit(Exit.toolFailure)
      }
    }
    if Startup.ownCallKilled != "rt_sigaction" {
      signal(SIGPIPE, SIG_IGN)
      signal(SIGXFSZ, SIG_IGN)
    }
    guard let arguments = Startup.arguments else {
      Output.error("culprit could not read its command-line arguments (the C library handed none to its start-up), so it will not guess what was asked")
      exit(Exit.toolFailure)
    }
    do {
      var command = try CulpritCommand.parseAsRoot(Array(arguments.dropFirst()))
      try command.run()
      exit(Exit.clean)
    } catch let code as ExitCode {
      exit(code.rawValue)
    } catch let failure as Output.WriteFailed {
      Output.error(failure.description)
      exit(Exit.toolFailure)
    } catch let failure as WhatIf.InstallFailed {
      Output.error(failure.description)
      exit(Exit.toolFailure)
    } catch {
      let code = CulpritCommand.exitCode(for: error)
      if code == .success {
        // --help and --version: a full or closed stdout is culprit's own failure, as for a report.
        do {
          try Output.write(CulpritCommand.fullMessage(for: error) + "\n")
        } catch {
          Output.error("\(error)")
          exit(Exit.toolFailure)
        }
        exit(Exit.clean)
      }
      let message = CulpritCommand.message(for: error)
        .split(separator: "\n").first.map(String.init) ?? "invalid arguments"
      Output.error(message + " (see 'culprit --help')")
      exit(Exit.usage)
    }
  }
}
