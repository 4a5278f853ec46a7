import Foundation
import PackagePlugin

/// Puts schema/report.schema.json, the published contract, into CulpritCore as a string at
/// build time, so that `culprit diff` validates reports against the very file the README
/// publishes and the two can never drift apart. Likewise data/known-bugs.json, the table
/// `culprit host` matches the node's runtime stack against.
@main
struct EmbedReportSchema: BuildToolPlugin {
  func createBuildCommands(context: PluginContext, target: Target) throws -> [Command] {
    let schema = context.package.directoryURL.appending(path: "schema/report.schema.json")
    let output = context.pluginWorkDirectoryURL.appending(path: "ReportSchemaText.swift")
    let script = """
      set -e
      { printf '/// schema/report.schema.json, embedded at build time (Plugins/EmbedReportSchema).\\n'
        printf 'let reportSchemaText = ##\\042\\042\\042\\n'
        cat "$1"
        printf '\\n\\042\\042\\042##\\n'; } > "$2.tmp"
      mv "$2.tmp" "$2"
      """
    let bugs = context.package.directoryURL.appending(path: "data/known-bugs.json")
    let bugsOutput = context.pluginWorkDirectoryURL.appending(path: "KnownBugsText.swift")
    let bugsScript = """
      set -e
      { printf '/// data/known-bugs.json, embedded at build time (Plugins/EmbedReportSchema).\\n'
        printf 'let knownBugsText = ##\\042\\042\\042\\n'
        cat "$1"
        printf '\\n\\042\\042\\042##\\n'; } > "$2.tmp"
      mv "$2.tmp" "$2"
      """
    return [
      .buildCommand(
        displayName: "Embedding schema/report.schema.json",
        executable: URL(fileURLWithPath: "/bin/sh"),
        arguments: ["-c", script, "embed", schema.path, output.path],
        inputFiles: [schema], outputFiles: [output]),
      .buildCommand(
        displayName: "Embedding data/known-bugs.json",
        executable: URL(fileURLWithPath: "/bin/sh"),
        arguments: ["-c", bugsScript, "embed", bugs.path, bugsOutput.path],
        inputFiles: [bugs], outputFiles: [bugsOutput]),
    ]
  }
}
