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

  /// The help texts word for word, against Snapshots/. Re-record after an intended change with
  /// CULPRIT_RECORD_GOLDEN=1 swift test --filter helpTextsAreExact, then read the diff.
  @Test(arguments: [
    (["--help"], "help.txt"), (["diff", "--help"], "diff-help.txt"), (["profile", "--help"], "profile-help.txt"),
    (["profile", "check", "--help"], "profile-check-help.txt"), (["host", "--help"], "host-help.txt"),
  ])
  func helpTextsAreExact(arguments: [String], snapshot: String) throws {
    let result = try run([Binaries.culprit] + arguments, environment: ["COLUMNS": "80", "PATH": "/usr/bin:/bin"])
    #expect(result.status == 0)
    let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Snapshots/" + snapshot)
    if ProcessInfo.processInfo.environment["CULPRIT_RECORD_GOLDEN"] != nil {
      try result.stdout.write(to: url, atomically: true, encoding: .utf8)
      return
    }
    #expect(result.stdout == (try String(contentsOf: url, encoding: .utf8)), "help differs from \(snapshot)")
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

/// `culprit diff` on real reports.
@Suite struct DiffCommandTests {
  func write(_ text: String) throws -> String {
    let path = FileManager.default.temporaryDirectory.appendingPathComponent("culprit-diff-\(UUID().uuidString).json").path
    try text.write(toFile: path, atomically: true, encoding: .utf8)
    return path
  }

  @Test func reportsFromTwoRealConfigurations() throws {
    let host = try culprit(["--format", "json"])
    let jailed = try culprit(["--format", "json"], jail: ["--drop-caps", "CAP_SYS_PTRACE", "--seccomp-rule", "400=errno:EPERM"])
    let a = try write(host.stdout)
    let b = try write(jailed.stdout)
    defer { try? FileManager.default.removeItem(atPath: a); try? FileManager.default.removeItem(atPath: b) }
    let diff = try run([Binaries.culprit, "diff", a, b])
    #expect(diff.stdout.contains("effective: -CAP_SYS_PTRACE"), "\(diff.stdout)")
    #expect(diff.stdout.contains("mode: disabled → filter"), "\(diff.stdout)")
    let markdown = try run([Binaries.culprit, "diff", "--format", "markdown", a, b])
    #expect(markdown.stdout.hasPrefix("### culprit diff:"))
    #expect(markdown.stdout.contains("**Capabilities**"))
  }

  @Test func exitsOneWhenAVerdictGotWorse() throws {
    let real = try culprit(["--format", "json", "--only", "kernel,cgroup"])
    // The same report with one verdict turned to blocked, as a failing runner would give.
    var object = try real.json()
    var probes = try #require(object["probes"] as? [[String: Any]])
    probes[1]["status"] = "blocked"
    probes[1]["layer"] = "cgroup-pids"
    object["probes"] = probes
    let worse = String(decoding: try JSONSerialization.data(withJSONObject: object), as: UTF8.self)
    let a = try write(real.stdout)
    let b = try write(worse)
    defer { try? FileManager.default.removeItem(atPath: a); try? FileManager.default.removeItem(atPath: b) }
    let result = try run([Binaries.culprit, "diff", a, b])
    #expect(result.status == 1)
    #expect(result.stdout.contains("worse: cgroup: info → blocked (cgroup-pids)"))
    #expect(try run([Binaries.culprit, "diff", b, a]).status == 0)
  }

  @Test func badReportsAreOneLineErrors() throws {
    let good = try write(try culprit(["--format", "json", "--only", "kernel"]).stdout)
    let otherSchema = try write(#"{"schemaVersion": 2, "tool": {"name": "culprit", "version": "9.0.0"}, "probes": []}"#)
    let notJSON = try write("culprit 0.1.0 · Linux")
    defer { for p in [good, otherSchema, notJSON] { try? FileManager.default.removeItem(atPath: p) } }
    for (args, mention) in [([good, otherSchema], "schemaVersion 2"), ([good, notJSON], "is not JSON"),
                            ([good, "/nonexistent/x.json"], "cannot read /nonexistent/x.json"), ([good], "Missing expected argument")] {
      let result = try run([Binaries.culprit, "diff"] + args)
      #expect(result.status == 2, "\(args): \(result.status)")
      #expect(result.stderr.split(separator: "\n").count == 1 && result.stderr.contains(mention), "\(result.stderr)")
    }
    #expect(try run([Binaries.culprit, "diff", "--format", "json", good, good]).status == 2)
  }
}
