import ArgumentParser
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
        culprit --list
        culprit diff [--format <format>] <before.json> <after.json>
      """,
    discussion: """
      Runs a battery of probes and, for each one that fails, names the layer that \
      blocks it (seccomp, capabilities, Yama, LSM, the devices or pids cgroup, the \
      user namespace, mount options, rlimits, the kernel, the network or the \
      resolver configuration), with the evidence and a fix.

      EXAMPLES:
        culprit                           Every probe, as text for a terminal.
        culprit --format markdown         A report to paste into a bug report.
        culprit --format json --only capabilities,cgroup
        culprit --fail-on degraded        Exit 1 if anything is degraded too.
        docker cp dist/culprit c1:/culprit && docker exec c1 /culprit

      EXIT STATUS:
        0  no probe is at or above --fail-on   1  a probe is
        2  usage error                         3  culprit itself failed
      """,
    version: Culprit.version,
    subcommands: [DiffCommand.self]
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
    let runner = Runner(
      timeoutMilliseconds: Int(timeout * 1000), options: ProbeOptions(resolveNames: resolve))
    let outcome = runner.run(probes, snapshot: snapshot)
    let elapsed = Int((Sys.monotonicNanoseconds() - started) / 1_000_000)
    let report = Report(
      host: snapshot.hostInfo,
      run: RunInfo(
        timeoutSeconds: timeout, only: ids.isEmpty ? nil : ids, durationMilliseconds: elapsed,
        forkWorked: outcome.forkError == nil),
      probes: outcome.results)
    try Output.write(format.render(report, color: format == .text && Output.wantsColor))
    if let threshold = failOn.threshold, report.worstSeverity >= threshold {
      throw ExitCode(Exit.failedCheck)
    }
  }
}

/// Writing to stdout, where a failure is culprit's own (exit 3).
enum Output {
  struct WriteFailed: Error, CustomStringConvertible {
    var errno: Errno
    var description: String { "cannot write the report to standard output: \(errno)" }
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

  static func error(_ message: String) {
    _ = Sys.writeAll(2, Array("culprit: error: \(message)\n".utf8))
  }
}

@main
enum Main {
  static func main() {
    // A closed stdout must give EPIPE, not kill culprit silently.
    signal(SIGPIPE, SIG_IGN)
    do {
      var command = try CulpritCommand.parseAsRoot()
      try command.run()
      exit(Exit.clean)
    } catch let code as ExitCode {
      exit(code.rawValue)
    } catch let failure as Output.WriteFailed {
      Output.error(failure.description)
      exit(Exit.toolFailure)
    } catch {
      let code = CulpritCommand.exitCode(for: error)
      if code == .success {
        // --help and --version.
        try? Output.write(CulpritCommand.fullMessage(for: error) + "\n")
        exit(Exit.clean)
      }
      let message = CulpritCommand.message(for: error)
        .split(separator: "\n").first.map(String.init) ?? "invalid arguments"
      Output.error(message + " (see 'culprit --help')")
      exit(Exit.usage)
    }
  }
}
