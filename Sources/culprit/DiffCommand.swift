import ArgumentParser
import CulpritCore

/// `culprit diff A.json B.json`: what changed between two JSON reports.
struct DiffCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "diff",
    abstract: "Compare two JSON reports: verdicts, layers, capabilities, seccomp, syscalls, cgroup limits.",
    discussion: """
      Typical use: a report from a runner where the job works and one where it fails, or from the \
      host and from the container, or before and after applying a fix.

      EXAMPLES:
        culprit --format json > good.json        (where it works)
        culprit --format json > bad.json         (where it fails)
        culprit diff good.json bad.json
        culprit diff --format markdown good.json bad.json >> issue.md

      OPTIONS:
        --format <format>   text (default) or markdown.

      EXIT STATUS:
        0  no verdict got worse    1  a verdict got worse
        2  a report is unreadable, not a culprit report, of another schema
           version, or breaks the contract (the message names the field)
      """)

  /// culprit's own --format (text or markdown here), which ArgumentParser parses for the
  /// parent command wherever it appears.
  @ParentCommand var culprit: CulpritCommand

  @Argument(help: ArgumentHelp("The earlier (or working) report.", valueName: "before.json"))
  var before: String

  @Argument(help: ArgumentHelp("The later (or failing) report.", valueName: "after.json"))
  var after: String

  func validate() throws {
    if culprit.format == .json { throw ValidationError("diff prints text or markdown, not json") }
  }

  func run() throws {
    let a = try load(before)
    let b = try load(after)
    let diff = ReportDiff(before: a, after: b, beforeName: before, afterName: after)
    try Output.write(diff.render(markdown: culprit.format == .markdown))
    if diff.gotWorse { throw ExitCode(Exit.failedCheck) }
  }

  /// Reads a report: the whole file (at most JSONInput.maxBytes), JSON as Go or Python reads
  /// it, checked against the published contract (schema/report.schema.json) before any field
  /// is used. Every refusal is a usage error (exit 2) naming the file and the field.
  func load(_ path: String) throws -> Report {
    let bytes: [UInt8]
    switch JSONInput.read(path) {
    case .success(let b): bytes = b
    case .failure(.unreadable(let err)): throw ValidationError("cannot read \(path): \(err)")
    case .failure(let err): throw ValidationError("\(path): \(err)")
    }
    let json: JSONValue
    do {
      json = try JSONValue.parse(bytes: bytes)
    } catch {
      throw ValidationError("\(path) is not JSON: \(error)")
    }
    do {
      return try Report(validating: json)
    } catch {
      throw ValidationError("\(path): \(error)")
    }
  }
}
