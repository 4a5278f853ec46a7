import ArgumentParser
import CulpritCore

#if canImport(Glibc)
import Glibc
#endif

/// `culprit trace -- CMD` and `culprit trace --pid PID`: which layer refused the calls of the
/// user's own program.
struct TraceCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "trace",
    abstract: "Run a command (or attach to a process) and name the layer behind each system call a policy refused.",
    usage: """
      culprit trace [--format <format>] [--output <file>] [--timeout <seconds>] -- <command> [<arg> ...]
        culprit trace [--format <format>] [--output <file>] [--timeout <seconds>] --pid <pid>
      """,
    discussion: """
      The command runs as it would: its stdin, stdout, stderr, environment and working \
      directory are its own, and culprit exits with its exit status (128 + the signal when \
      it died of one). Every thread and child is followed with ptrace. Each call that fails \
      in a way a policy can cause (EPERM, EACCES, ENOSYS, EAGAIN from fork, EROFS, a refused \
      connect, a SIGSYS, …) is attributed to a layer with its evidence, and the failure that \
      mattered is named. The report goes to standard error, or to --output. Ctrl-C ends the \
      command and still prints the report; with --pid it detaches.

      When ptrace itself is refused, culprit says which layer refuses it, runs the command \
      untraced and runs its probes instead (`culprit --only ID,… trace …`: only those).

      EXAMPLES:
        culprit trace -- curl -sS https://example.org/
        culprit trace --format markdown --output trace.md -- make test
        culprit trace --pid 1234 --timeout 5     What is process 1234 stuck in?

      EXIT STATUS:
        the command's (or 128 + signal); 2 usage error; 3 culprit itself failed
      """)

  @ParentCommand var culprit: CulpritCommand

  @Option(help: ArgumentHelp("Write the report to this file instead of standard error.", valueName: "file"))
  var output: String?

  @Option(help: ArgumentHelp("Attach to this running process instead of starting a command.", valueName: "pid"))
  var pid: Int32?

  @Argument(parsing: .postTerminator, help: ArgumentHelp("The command and its arguments, after --.", valueName: "command"))
  var command: [String] = []

  var argv: [String] { command.first == "--" ? Array(command.dropFirst()) : command }

  func validate() throws {
    if pid == nil && argv.isEmpty { throw ValidationError("trace needs a command after -- or --pid PID") }
    if pid != nil && !argv.isEmpty { throw ValidationError("trace takes either a command or --pid, not both") }
    if let pid, pid <= 0 { throw ValidationError("--pid needs a process id above 0") }
  }

  func run() throws {
    let snapshot = Snapshot()
    let timeoutMilliseconds = culprit.traceTimeout.map { Int($0 * 1000) }
    let outcome: TraceSession.Outcome
    if let pid {
      outcome = TraceSession.attach(pid: pid, timeoutMilliseconds: timeoutMilliseconds, snapshot: snapshot)
    } else {
      outcome = TraceSession.run(command: argv, timeoutMilliseconds: timeoutMilliseconds, snapshot: snapshot)
    }
    var probes: [ProbeResult] = []
    var forkWorked = true
    if outcome.needsBattery {
      let runner = Runner(timeoutMilliseconds: 10_000)
      // `culprit --only ID,… trace …` runs only those probes.
      let ids = culprit.selectedIDs
      let ran = runner.run(ids.isEmpty ? ProbeCatalog.all : ProbeCatalog.all.filter { ids.contains($0.id) }, snapshot: snapshot)
      probes = ran.results
      forkWorked = ran.forkError == nil
    }
    let report = Report(
      host: snapshot.hostInfo,
      run: RunInfo(timeoutSeconds: culprit.traceTimeout ?? 10, durationMilliseconds: outcome.section.verdict?.observations.durationMilliseconds ?? 0, forkWorked: forkWorked),
      probes: probes)
    let text = TraceOutput.render(report, section: outcome.section, format: culprit.format, color: culprit.format == .text && output == nil && isatty(2) == 1 && Output.wantsColorOn(2))
    let bytes = Array(text.utf8)
    if let output {
      if case .failure(let err) = Sys.writeFile(output, text) {
        Output.error("cannot write the report to \(output): \(err)")
        throw ExitCode(Exit.toolFailure)
      }
    } else if case .failure(let err) = Sys.writeAll(2, bytes) {
      _ = err
      throw ExitCode(Exit.toolFailure)
    }
    if outcome.section.verdict == nil && outcome.section.untracedExitStatus == nil && outcome.section.pid == nil {
      throw ExitCode(Exit.toolFailure)
    }
    throw ExitCode(outcome.section.exitStatus ?? 0)
  }
}

/// The trace report in a format: the trace section first, then the probes when they ran.
enum TraceOutput {
  static func render(_ report: Report, section: TraceSection, format: OutputFormat, color: Bool) -> String {
    switch format {
    case .json:
      guard case .object(var object) = report.json else { return "" }
      object["trace"] = section.json
      return JSONValue.object(object).serialized(pretty: true) + "\n"
    case .text:
      var out = "\(report.toolName) \(report.toolVersion) trace · Linux \(report.host.kernelRelease) \(report.host.machine) · runtime: \(report.host.runtime) · libc: \(report.host.libc) · uid \(report.host.uid)\n"
      out += section.renderText()
      if !report.probes.isEmpty { out += "\n" + TextRenderer(color: color).render(report) }
      return out
    case .markdown:
      var out = section.renderMarkdown()
      if !report.probes.isEmpty { out += "\n" + MarkdownRenderer.render(report) }
      return out
    }
  }
}
