import Foundation
import Testing

/// The binary run as a user would: help, --list, errors, formats and exit codes.
@Suite struct CommandLineTests {
  @Test func helpShowsUsageOptionsAndExamples() throws {
    let result = try run([Binaries.culprit, "--help"])
    #expect(result.status == 0)
    for expected in ["USAGE: culprit", "--format <format>", "--only <ids>", "--list", "--timeout <seconds>",
                     "--fail-on <level>", "--version", "EXAMPLES:", "EXIT STATUS:"] {
      #expect(result.stdout.contains(expected), "help lacks \(expected)")
    }
  }

  @Test func versionPrintsTheVersion() throws {
    let result = try run([Binaries.culprit, "--version"])
    #expect(result.status == 0)
    #expect(result.stdout.trimmingCharacters(in: .whitespacesAndNewlines).range(of: #"^\d+\.\d+\.\d+$"#, options: .regularExpression) != nil)
  }

  @Test func listNamesEveryProbeOnItsOwnLine() throws {
    let result = try run([Binaries.culprit, "--list"])
    #expect(result.status == 0)
    let ids = result.stdout.split(separator: "\n").map { String($0.split(separator: " ")[0]) }
    for id in ["kernel", "runtime", "capabilities", "seccomp", "cgroup", "ptrace-scope", "userns", "lsm"] {
      #expect(ids.contains(id), "--list lacks \(id)")
    }
    #expect(Set(ids).count == ids.count)
  }

  @Test(arguments: [
    (["--only", "nonsense"], "unknown probe id 'nonsense'"),
    (["--bogus"], "Unknown option '--bogus'"),
    (["--format", "yaml"], "yaml"),
    (["--timeout", "0"], "--timeout"),
    (["--timeout", "-3"], "--timeout"),
    (["--fail-on", "sometimes"], "sometimes"),
    (["--only", ","], "--only"),
  ])
  func badInputIsOneLineAndExitTwo(arguments: [String], mention: String) throws {
    let result = try culprit(arguments)
    #expect(result.status == 2, "exit \(result.status) for \(arguments)")
    #expect(result.stdout.isEmpty)
    let lines = result.stderr.split(separator: "\n")
    #expect(lines.count == 1, "stderr: \(result.stderr)")
    #expect(result.stderr.hasPrefix("culprit: error: "))
    #expect(result.stderr.contains(mention), "stderr: \(result.stderr)")
  }

  @Test func jsonOutputFollowsTheSchema() throws {
    let result = try culprit(["--format", "json"])
    #expect(result.status == 0 || result.status == 1, "stderr: \(result.stderr)")
    #expect(try schemaErrors(result.stdout) == [])
    let report = try result.json()
    #expect(report["schemaVersion"] as? Int == 1)
    let probes = try result.probes()
    let listed = try run([Binaries.culprit, "--list"]).stdout.split(separator: "\n").map { String($0.split(separator: " ")[0]) }
    #expect(Set(probes.keys) == Set(listed))
  }

  @Test func onlyRunsTheNamedProbesInCatalogOrder() throws {
    let result = try culprit(["--format", "json", "--only", "cgroup,kernel", "--only", "userns"])
    let list = try #require(try result.json()["probes"] as? [[String: Any]])
    #expect(list.map { $0["id"] as? String } == ["kernel", "cgroup", "userns"])
    let run = try #require(try result.json()["run"] as? [String: Any])
    #expect(run["only"] as? [String] == ["cgroup", "kernel", "userns"])
  }

  @Test func textHasOneLinePerProbeAndNoColourWhenPiped() throws {
    let result = try culprit(["--only", "kernel,capabilities"])
    #expect(result.status == 0)
    #expect(!result.stdout.contains("\u{1B}["))
    let lines = result.stdout.split(separator: "\n")
    #expect(lines.contains { $0.hasPrefix("info") && $0.contains("kernel") })
    #expect(lines.contains { $0.hasPrefix("info") && $0.contains("capabilities") })
  }

  @Test func colourOnlyOnATerminalAndNeverWithNoColor() throws {
    // `script` gives culprit a pseudo-terminal as stdout.
    let command = "\(Binaries.culprit) --only kernel"
    let colored = try run(["/usr/bin/script", "-qec", command, "/dev/null"], environment: ["TERM": "xterm", "PATH": "/usr/bin:/bin"])
    #expect(colored.stdout.contains("\u{1B}["), "no colour on a terminal: \(colored.stdout)")
    let plain = try run(
      ["/usr/bin/script", "-qec", command, "/dev/null"], environment: ["TERM": "xterm", "NO_COLOR": "1", "PATH": "/usr/bin:/bin"])
    #expect(!plain.stdout.contains("\u{1B}["), "colour despite NO_COLOR")
  }

  @Test func markdownHasHeaderTableAndDetails() throws {
    let result = try culprit(["--format", "markdown", "--only", "kernel,cgroup"])
    #expect(result.status == 0)
    for expected in ["| Kernel |", "| Runtime |", "| Image libc |", "| Tool | culprit ", "| Status | Probe | Layer | Summary |",
                     "<details><summary><code>kernel</code>", "<details><summary><code>cgroup</code>", "</details>"] {
      #expect(result.stdout.contains(expected), "markdown lacks \(expected)")
    }
  }

  @Test func closedStdoutIsAToolFailure() throws {
    // stdout is a pipe whose reader is gone: writing fails with EPIPE, exit 3.
    let result = try run(["/bin/sh", "-c", "exec 3>&1; (\(Binaries.culprit) --only kernel; echo \"status=$?\" >&3) | true"])
    #expect(result.stdout.contains("status=3"), "\(result.stdout) \(result.stderr)")
  }
}
