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
                   [--containers] [--reproduce cni [--cni-bin <dir>] [--tries <n>]]
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

      --containers runs this culprit binary (static: dist/culprit) in a container of each \
      runtime found — Docker, Podman, containerd's ctr, runc and crun with their own default \
      spec — from an image made on the spot of the binary alone (no registry), with the \
      runtime's defaults except --network none for Docker and Podman (the probes run with \
      --offline), and puts the reports side by side: a probe × runtime table and each report's \
      differences from the first (as `culprit diff`). Each runtime is bounded (90 s) and \
      everything made is removed, whatever happened.

      --reproduce cni runs the loopback CNI plugin (--cni-bin DIR, else the one found) ADD and \
      DEL in a fresh network namespace per try while a child of culprit's adds and removes \
      addresses there (the churn that sets NLM_F_DUMP_INTR, which CNI plugins 1.6.x turn into \
      "interrupted system call"), and counts the failures (--tries, default 300; at most 60 s).

      EXAMPLES:
        culprit host
        culprit host --containers
        culprit host --reproduce cni --tries 500
        culprit host --format markdown --output node.md
        culprit host --format json | jq '.node.knownBugs.findings'

      EXIT STATUS:
        0  no known bug matched    2  usage error
        1  a known bug matched; with --containers, a runtime found gave no report
           or left something behind; with --reproduce, the CNI plugin failed
        3  culprit itself failed (cannot write the report)
      """)

  @ParentCommand var culprit: CulpritCommand

  @Option(help: ArgumentHelp("Write the report to this file instead of standard output.", valueName: "file"))
  var output: String?

  @Flag(help: "Run culprit in a default container of each runtime found and compare the reports.")
  var containers = false

  @Option(help: ArgumentHelp("Reproduce a known failure on this node: cni (the loopback plugin under netlink churn).", valueName: "what"))
  var reproduce: String?

  @Option(help: ArgumentHelp("The directory of the CNI plugins for --reproduce cni.", valueName: "dir"))
  var cniBin: String?

  @Option(help: ArgumentHelp("ADD/DEL pairs for --reproduce cni.", valueName: "n"))
  var tries: Int = 300

  func validate() throws {
    if let reproduce, reproduce != "cni" { throw ValidationError("--reproduce takes cni (the loopback plugin's EINTR failure), not \(reproduce)") }
    if cniBin != nil && reproduce == nil { throw ValidationError("--cni-bin goes with --reproduce cni") }
    if tries < 1 || tries > 100_000 { throw ValidationError("--tries is from 1 to 100000") }
  }

  /// --timeout as `culprit host` takes it: each version command's deadline (default 5 s).
  var versionTimeout: Double { culprit.timeoutGiven ? culprit.timeout : 5 }

  func run() throws {
    let snapshot = Snapshot()
    var report = HostReport.make(snapshot: snapshot, timeoutSeconds: versionTimeout)
    if containers || reproduce != nil {
      // A SIGTERM, SIGINT or SIGHUP now ends the runtime or plugin being run and lets culprit
      // remove what it made; culprit then ends by that signal.
      Termination.install()
      if containers {
        let prefix = Subprocess.currentEnvironment()["CULPRIT_HOST_PREFIX"] ?? "culprit-host"
        report.sections.append(ContainerRunner(prefix: prefix).run().section)
      }
      if reproduce == "cni" {
        let directory = cniBin ?? report.components.first { $0.kind == .cniPlugins && $0.path.hasSuffix("/loopback") }
          .map { String($0.path.dropLast("/loopback".count)) }
        report.sections.append(CNIReproduction.run(cniBin: directory, tries: tries).section)
      }
      Termination.checkPending()
      if Termination.signal != 0 { Termination.die() }
      Termination.uninstall()
    }
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
