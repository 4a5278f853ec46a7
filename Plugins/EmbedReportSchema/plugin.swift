import Foundation
import PackagePlugin

/// Puts schema/report.schema.json, the published contract, into CulpritCore as a string at
/// build time, so that `culprit diff` validates reports against the very file the README
/// publishes and the two can never drift apart. Likewise data/known-bugs.json, the table
/// `culprit host` matches the node's runtime stack against.
@main
struct EmbedReportSchema: BuildToolPlugin {
  func createBuildCommands(context: PluginContext, target: Target) throws -> [Command] {
    [
      embed("schema/report.schema.json", as: "reportSchemaText", into: "ReportSchemaText.swift", context),
      embed("data/known-bugs.json", as: "knownBugsText", into: "KnownBugsText.swift", context),
    ]
  }

  /// A build command that writes `let NAME = ##"""…"""##` holding the package file PATH.
  func embed(_ path: String, as name: String, into file: String, _ context: PluginContext) -> Command {
    let input = context.package.directoryURL.appending(path: path)
    let output = context.pluginWorkDirectoryURL.appending(path: file)
    let script = """
      set -e
      { printf '/// %s, embedded at build time (Plugins/EmbedReportSchema).\\n' "$3"
        printf 'let %s = ##\\042\\042\\042\\n' "$4"
        cat "$1"
        printf '\\n\\042\\042\\042##\\n'; } > "$2.tmp"
      mv "$2.tmp" "$2"
      """
    return .buildCommand(
      displayName: "Embedding \(path)",
      executable: URL(fileURLWithPath: "/bin/sh"),
      arguments: ["-c", script, "embed", input.path, output.path, path, name],
      inputFiles: [input], outputFiles: [output])
  }
}
