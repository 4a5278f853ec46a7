import ArgumentParser
import CulpritCore

#if canImport(Glibc)
import Glibc
#endif

/// `culprit host`: on the node, the runtime stack with its versions against the known bugs
/// that break containers before anything runs in them.
struct HostCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "host",
    abstract: "On the node: find the container runtime stack, read each version, and match it against known bugs.",
    usage: """
      culprit host [--format <format>] [--output <file>] [--timeout <seconds>]
      """,
    discussion: """
      Finds dockerd, containerd and its runc shim, runc (and the libseccomp it reports), \
      crun, podman, conmon, kubelet, the CNI plugins (/opt/cni/bin, /usr/lib/cni, \
      Concourse's bundle, the directories containerd's config.toml and CRI-O's crio.conf \
      name) and the concourse binary, and reads each version from the component itself: its \
      version command (run in a child with a deadline, --timeout, default 5 s), the Go build \
      info in its file (as `go version -m` shows it, without running it), and the package \
      that owns it. Reads the kernel, the cgroup mode, Yama, AppArmor/SELinux and the user \
      namespace sysctls. Nothing is installed, started or changed.

      Then matches the table of known bugs (data/known-bugs.json) against those versions: \
      each match is a finding with its layer, the version and path, the error text users \
      see, why, the fix and its sources; every other row is listed as checked.

      EXAMPLES:
        culprit host
        culprit host --format markdown --output node.md
        culprit host --format json | jq '.node.knownBugs.findings'

      EXIT STATUS:
        0  no known bug matched    2  usage error
        1  a known bug matched     3  culprit itself failed (cannot write the report)
      """)

  @ParentCommand var culprit: CulpritCommand

  @Option(help: ArgumentHelp("Write the report to this file instead of standard output.", valueName: "file"))
  var output: String?

  /// --timeout as `culprit host` takes it: each version command's deadline (default 5 s).
  var versionTimeout: Double { culprit.timeoutGiven ? culprit.timeout : 5 }

  func run() throws {
    let snapshot = Snapshot()
    let report = HostReport.make(snapshot: snapshot, timeoutSeconds: versionTimeout)
    let color = culprit.format == .text && output == nil && Output.wantsColor
    let text = report.render(culprit.format, color: color)
    if let output {
      if case .failure(let err) = Sys.writeFile(output, text) {
        Output.error("cannot write the report to \(output): \(err)")
        throw ExitCode(Exit.toolFailure)
      }
    } else {
      try Output.write(text)
    }
    if report.failed { throw ExitCode(Exit.failedCheck) }
  }
}
