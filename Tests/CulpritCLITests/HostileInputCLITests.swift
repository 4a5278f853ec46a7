import Foundation
import Testing

/// The binary given hostile inputs and a hostile stdout: every refusal is a clear exit 2 or 3,
/// never a crash, a silent cut or a lie (issue 10).
@Suite struct HostileInputCLITests {
  func write(_ text: String, name: String = "json") throws -> String {
    let path = FileManager.default.temporaryDirectory.appendingPathComponent("c10-\(UUID().uuidString).\(name)").path
    try text.write(toFile: path, atomically: true, encoding: .utf8)
    return path
  }

  static let profile = #"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["mknod"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1}]}"#

  @Test(arguments: [["--version"], ["--help"], ["diff", "--help"]])
  func helpAndVersionFailLoudlyOnAFullOrClosedStdout(arguments: [String]) throws {
    let line = ([Binaries.culprit] + arguments).joined(separator: " ")
    let full = try run(["/bin/sh", "-c", "\(line) > /dev/full"])
    #expect(full.status == 3 && full.stderr.contains("cannot write to standard output: ENOSPC"), "\(full.status) \(full.stderr)")
    let closed = try run(["/bin/sh", "-c", "\(line) >&-"])
    #expect(closed.status == 3 && closed.stderr.contains("EBADF"), "\(closed.status) \(closed.stderr)")
    #expect(try run([Binaries.culprit] + arguments).status == 0)
  }

  @Test func aProfileRefusingExitGroupIsInstalledAndSaysNothingFalse() throws {
    // The trial process cannot _exit the usual way under this filter; it must still count as
    // installed, and no message may say the install "failed with ok".
    let path = try write(#"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["exit_group"], "action": "SCMP_ACT_ERRNO"}]}"#)
    defer { try? FileManager.default.removeItem(atPath: path) }
    let result = try culprit(["--seccomp-profile", path, "--only", "kernel", "--format", "json"])
    #expect(result.status == 0, "\(result.stderr)")
    #expect(!result.stderr.contains("failed with ok"))
    #expect(try result.json()["run"].flatMap { ($0 as? [String: Any])?["seccompProfile"] as? String } == path)
  }

  @Test func aProfileIsReadWholeAndABigOneIsRefusedClearly() throws {
    // 5 MiB of a comment: valid, and Docker reads it (issue 10: refused as "unterminated object").
    let padding = String(repeating: "x", count: 5 << 20)
    let big = try write(#"{"comment": "\#(padding)", "defaultAction": "SCMP_ACT_ALLOW", "syscalls": []}"#)
    // A valid profile, then garbage past 4 MiB (issue 10: accepted).
    let trailing = try write(Self.profile + String(repeating: " ", count: 5 << 20) + "garbage")
    // Past the 16 MiB bound.
    let huge = try write(Self.profile + String(repeating: " ", count: 17 << 20))
    defer { for p in [big, trailing, huge] { try? FileManager.default.removeItem(atPath: p) } }
    let ok = try culprit(["--seccomp-profile", big, "--only", "kernel"])
    #expect(ok.status == 0, "\(ok.stderr)")
    let garbage = try culprit(["--seccomp-profile", trailing, "--only", "kernel"])
    #expect(garbage.status == 2 && garbage.stderr.contains("unexpected text after the JSON value"), "\(garbage.stderr)")
    let refused = try culprit(["--seccomp-profile", huge, "--only", "kernel"])
    #expect(refused.status == 2 && refused.stderr.contains("larger than 16 MiB"), "\(refused.stderr)")
  }

  @Test(arguments: ["01", "1.0", "1e2", "1E-400", "-0"])
  func profileNumbersDockerRefusesAreRefused(literal: String) throws {
    let path = try write(Self.profile.replacingOccurrences(of: #""errnoRet": 1"#, with: #""errnoRet": \#(literal)"#))
    defer { try? FileManager.default.removeItem(atPath: path) }
    let result = try culprit(["--seccomp-profile", path, "--only", "kernel"])
    #expect(result.status == 2, "\(literal): \(result.status) \(result.stderr)")
    #expect(result.stderr.split(separator: "\n").count == 1)
    #expect(literal == "01" ? result.stderr.contains("leading zero") : result.stderr.contains("syscalls[0].errnoRet"), "\(result.stderr)")
  }

  @Test func theWholeUint64RangeIsAnArgumentValue() throws {
    let path = try write(#"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["personality"], "action": "SCMP_ACT_ERRNO", "args": [{"index": 0, "value": 18446744073709551615, "op": "SCMP_CMP_EQ"}]}]}"#)
    defer { try? FileManager.default.removeItem(atPath: path) }
    let result = try culprit(["--seccomp-profile", path, "--only", "kernel"])
    #expect(result.status == 0, "\(result.stderr)")
  }

  /// A real report of every probe, broken one field at a time.
  @Test func diffRefusesReportsThatBreakTheContractAndNamesTheField() throws {
    let real = try culprit(["--format", "json"])
    let good = try write(real.stdout)
    defer { try? FileManager.default.removeItem(atPath: good) }
    #expect(try run([Binaries.culprit, "diff", good, good]).status == 0)
    let original = try real.json()
    let probes = try #require(original["probes"] as? [[String: Any]])
    let index = try #require(probes.firstIndex { ($0["evidence"] as? [Any])?.isEmpty == false })
    let id = probes[index]["id"] as! String
    func broken(_ change: (inout [String: Any]) -> Void) throws -> String {
      var copy = original
      change(&copy)
      return String(decoding: try JSONSerialization.data(withJSONObject: copy), as: UTF8.self)
    }
    func probe(_ change: @escaping (inout [String: Any]) -> Void) throws -> String {
      try broken { report in
        var list = report["probes"] as! [[String: Any]]
        change(&list[index])
        report["probes"] = list
      }
    }
    func host(_ key: String, _ literal: String) throws -> String {
      // Literal numbers (1e10) as a Python script would write them, not as Foundation would.
      try broken { $0["host"] = ($0["host"] as! [String: Any]).merging([key: "@@"]) { $1 } }
        .replacingOccurrences(of: #""@@""#, with: literal)
    }
    let cases: [(String, String)] = [
      (try host("uid", "-1"), "host.uid"), (try host("uid", "4294967296"), "host.uid"), (try host("gid", "1e10"), "host.gid"),
      (try broken { $0["host"] = "docker" }, "host"),
      (try probe { $0["evidence"] = ["fine", 3] }, "probes[\(index)] (\(id)).evidence[1]"),
      (try probe { $0["facts"] = [1] }, "probes[\(index)] (\(id)).facts"),
      (try probe { $0["layer"] = 7 }, "probes[\(index)] (\(id)).layer"),
      (try probe { $0["hint"] = ["no": "object"] }, "probes[\(index)] (\(id)).hint"),
    ]
    for (text, field) in cases {
      let path = try write(text)
      defer { try? FileManager.default.removeItem(atPath: path) }
      for order in [[good, path], [path, good]] {
        let result = try run([Binaries.culprit, "diff"] + order)
        #expect(result.status == 2, "\(field): exit \(result.status) \(result.stderr)")
        #expect(result.stderr.contains("at \(field): "), "\(field): \(result.stderr)")
        #expect(result.stderr.split(separator: "\n").count == 1)
      }
    }
  }

  @Test func diffRefusesAnOversizedReport() throws {
    let path = try write(String(repeating: " ", count: 17 << 20) + "{}")
    defer { try? FileManager.default.removeItem(atPath: path) }
    let result = try run([Binaries.culprit, "diff", path, path])
    #expect(result.status == 2 && result.stderr.contains("larger than 16 MiB"), "\(result.stderr)")
  }
}

/// Docker as the reference, for real: the same profiles through Go's encoding/json into the
/// types Docker 20.10 decodes into (Tests/go-reference/main.go) and through culprit. Each must
/// be accepted by both or refused by both.
@Suite(.enabled(if: GoReference.goPath != nil, "needs the Go toolchain (Debian's golang-go; scripts/bootstrap.sh installs it)"))
struct GoReferenceTests {
  static func profile(errnoRet: String = "1", value: String = "0", keys: (String, String, String) = ("defaultAction", "names", "action")) -> String {
    #"{"\#(keys.0)": "SCMP_ACT_ALLOW", "syscalls": [{"\#(keys.1)": ["personality"], "\#(keys.2)": "SCMP_ACT_ERRNO", "errnoRet": \#(errnoRet), "args": [{"index": 0, "value": \#(value), "op": "SCMP_CMP_EQ"}]}]}"#
  }

  static let cases: [String] = [
    profile(), profile(errnoRet: "01"), profile(errnoRet: "1.0"), profile(errnoRet: "1e2"), profile(errnoRet: "1E-400"),
    profile(errnoRet: "-0"), profile(errnoRet: "-1"), profile(errnoRet: "4000"), profile(errnoRet: "\"1\""),
    profile(value: "18446744073709551615"), profile(value: "18446744073709551616"), profile(value: "9007199254740993"),
    profile(value: "-0"), profile(value: "0.0"), profile(value: "00"),
    profile(keys: ("DefaultAction", "NAMES", "Action")), profile(keys: ("defaultaction", "Names", "ACTION")),
    profile() + " x", profile() + "\n\n", "[" + profile() + "]",
  ]

  @Test func culpritAcceptsExactlyWhatDockersDecoderAccepts() throws {
    let go = try GoReference.binary()
    var paths: [String] = []
    defer { for p in paths { try? FileManager.default.removeItem(atPath: p) } }
    for text in Self.cases {
      let path = FileManager.default.temporaryDirectory.appendingPathComponent("c10-go-\(UUID().uuidString).json").path
      try text.write(toFile: path, atomically: true, encoding: .utf8)
      paths.append(path)
    }
    let verdicts = try run([go] + paths).stdout.split(separator: "\n").map(String.init)
    try #require(verdicts.count == paths.count)
    for (index, path) in paths.enumerated() {
      let ours = try culprit(["--seccomp-profile", path, "--only", "kernel"])
      let goAccepts = verdicts[index] == "ok"
      #expect((ours.status == 0) == goAccepts, "\(Self.cases[index]): Go says \(verdicts[index]); culprit exits \(ours.status): \(ours.stderr)")
      #expect(goAccepts || ours.status == 2)
    }
  }
}

enum GoReference {
  static let goPath: String? = ["/usr/bin/go", "/usr/lib/go/bin/go"].first { FileManager.default.isExecutableFile(atPath: $0) }

  /// Tests/go-reference/main.go, built once per test run.
  static func binary() throws -> String {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("c10-go-reference-\(getpid())")
    let output = directory.appendingPathComponent("reference").path
    if FileManager.default.isExecutableFile(atPath: output) { return output }
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    let source = Binaries.packageRoot.appendingPathComponent("Tests/go-reference/main.go").path
    var environment = ProcessInfo.processInfo.environment
    environment["GOCACHE"] = directory.appendingPathComponent("cache").path
    environment["GOPATH"] = directory.appendingPathComponent("gopath").path
    environment["GOFLAGS"] = "-mod=mod"
    environment["GOTOOLCHAIN"] = "local"
    let built = try run([goPath!, "build", "-o", output, source], environment: environment, limit: 120)
    try #require(built.status == 0, "go build: \(built.stderr)")
    return output
  }
}
