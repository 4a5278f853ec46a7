import Foundation
import Testing

@testable import CulpritCore

/// `culprit trace --pid` of a non-descendant in scripts/vm-matrix.sh's VM (Debian's kernel with
/// Yama and AppArmor): PTRACE_SEIZE refused by Yama 2 (no CAP_SYS_PTRACE), Yama 3 and an AppArmor
/// profile denying ptrace. Each recorded report carries the observations the refusal was judged
/// from (trace.tracing.observed); here they are judged again by TraceSession.judgeSeizeRefusal
/// and held to scripts/vm-matrix/trace-expect.table. The fixtures are
/// Fixtures/vm-matrix/trace/NAME/ (trace.json, trace.txt, kernel.log, setup.txt), written by
/// `scripts/vm-matrix.sh --install-trace` (or --install); trace/recorded.txt says when.
/// The battery rows are checked on the recorded probes (their own fixtures are the scenarios').
@Suite struct VMMatrixTraceFixtureTests {
  static let fixtures = Fixtures.directory + "/vm-matrix/trace"
  static let table = VMMatrixFixtureTests.repository.appendingPathComponent("scripts/vm-matrix/trace-expect.table").path

  static let rows: [VMMatrixFixtureTests.Row] = {
    guard let text = try? String(contentsOfFile: table, encoding: .utf8) else { return [] }
    var rows: [VMMatrixFixtureTests.Row] = []
    for (index, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
      let line = raw.trimmingCharacters(in: .whitespaces)
      if line.isEmpty || line.hasPrefix("#") { continue }
      let parts = line.split(separator: " ", maxSplits: 2, omittingEmptySubsequences: true)
      guard parts.count == 3 else { continue }
      rows.append(.init(line: index + 1, scenario: String(parts[0]), kind: String(parts[1]), args: parts[2].trimmingCharacters(in: .whitespaces)))
    }
    return rows
  }()

  static var scenarios: [String] { Array(Set(rows.map(\.scenario))).sorted() }

  static func report(_ scenario: String) throws -> [String: Any] {
    let data = try Data(contentsOf: URL(fileURLWithPath: fixtures + "/" + scenario + "/trace.json"))
    return try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
  }

  static func tracing(_ report: [String: Any]) throws -> [String: Any] {
    try #require((report["trace"] as? [String: Any])?["tracing"] as? [String: Any])
  }

  /// The recorded observations, decoded.
  static func observation(_ tracing: [String: Any]) throws -> TraceSeizeObservation {
    let o = try #require(tracing["observed"] as? [String: Any], "the report carries no observations")
    func int(_ key: String) -> Int? { o[key] as? Int }
    func bool(_ key: String) -> Bool? { o[key] as? Bool }
    let errno = try #require(int("errno"))
    let targetName = try #require(o["target"] as? String)
    let target = try #require(PtraceAttachProbe.Target(rawValue: targetName))
    let tracer = try #require(int("tracerPid"))
    let cap = try #require(bool("capSysPtrace"))
    return TraceSeizeObservation(
      errno: Errno(rawValue: Int32(errno)), peek: int("peekErrno").map { Errno(rawValue: Int32($0)) }, target: target,
      pid: int("pid").map(Int32.init), tracerPID: Int32(tracer), yamaScope: int("yamaScope"), hasSysPtrace: cap,
      dumpable: int("dumpable").map(Int32.init), targetUid: o["targetUid"] as? String, tracedBy: int("tracedBy"),
      idsMatch: bool("idsMatch"), targetCapabilitiesWithinTracers: bool("targetCapabilitiesWithinTracers"),
      confinement: o["confinement"] as? String)
  }

  @Test func everyScenarioHasItsFixture() {
    #expect(!Self.scenarios.isEmpty)
    for scenario in Self.scenarios {
      #expect(FileManager.default.fileExists(atPath: Self.fixtures + "/" + scenario + "/trace.json"), "no fixture for \(scenario)")
    }
  }

  /// The refusal judged again from its observations is the one recorded in the VM.
  /// The scenarios where ptrace was refused (the others traced a command).
  static var refusedScenarios: [String] {
    scenarios.filter { (try? tracing(report($0)))?["traced"] as? Bool == false }
  }

  @Test(arguments: refusedScenarios)
  func judgingAgainGivesTheRecordedRefusal(_ scenario: String) throws {
    let tracing = try Self.tracing(try Self.report(scenario))
    let again = TraceSession.judgeSeizeRefusal(try Self.observation(tracing))
    #expect(tracing["traced"] as? Bool == false)
    #expect(again.layer.rawValue == tracing["layer"] as? String)
    #expect(again.errno?.name == tracing["errno"] as? String)
    #expect(again.reason == tracing["reason"] as? String)
    #expect(again.hint == tracing["hint"] as? String)
  }

  @Test(arguments: rows)
  func expectation(_ row: VMMatrixFixtureTests.Row) throws {
    let report = try Self.report(row.scenario)
    let tracing = try Self.tracing(report)
    if tracing["traced"] as? Bool == true {
      // A traced command: its verdict as recorded (the report holds no call observations).
      let trace = try #require(report["trace"] as? [String: Any])
      switch row.kind {
      case "tracing":
        #expect(row.args == "traced=true")
      case "mattered":
        let index = try #require(trace["mattered"] as? Int, "no failure mattered")
        let finding = try #require((trace["findings"] as? [[String: Any]])?[index])
        func text(_ key: String) -> String {
          if let list = finding[key] as? [String] { return list.joined(separator: "\n") }
          return finding[key].map { "\($0)" } ?? "<missing>"
        }
        if let tilde = row.args.firstIndex(of: "~"), row.args.firstIndex(of: "=").map({ tilde < $0 }) ?? true {
          let key = String(row.args[..<tilde])
          #expect(text(key).contains(String(row.args[row.args.index(after: tilde)...])), "\(key): \(text(key))")
        } else {
          let parts = row.args.split(separator: "=", maxSplits: 1).map(String.init)
          #expect(text(parts[0]) == parts.last, "\(parts[0]) is \(text(parts[0]))")
        }
      case "kernel", "nokernel":
        let log = (try? String(contentsOfFile: Self.fixtures + "/" + row.scenario + "/kernel.log", encoding: .utf8)) ?? ""
        #expect(log.contains(row.args) == (row.kind == "kernel"))
      default:
        Issue.record("unknown check \(row.kind) for a traced command at line \(row.line)")
      }
      return
    }
    let again = TraceSession.judgeSeizeRefusal(try Self.observation(tracing))
    switch row.kind {
    case "tracing":
      // Judged now, not as recorded.
      let fields: [String: String] = [
        "traced": "false", "call": again.call, "errno": again.errno?.name ?? "null", "layer": again.layer.rawValue,
        "reason": again.reason, "hint": again.hint ?? "", "evidence": again.evidence.joined(separator: "\n"),
      ]
      if let tilde = row.args.firstIndex(of: "~"), row.args.firstIndex(of: "=").map({ tilde < $0 }) ?? true {
        let key = String(row.args[..<tilde]), text = String(row.args[row.args.index(after: tilde)...])
        #expect(fields[key]?.contains(text) == true, "\(key): \(fields[key] ?? "<missing>")")
      } else {
        let parts = row.args.split(separator: "=", maxSplits: 1).map(String.init)
        #expect(fields[parts[0]] == parts.last, "\(parts[0]) is \(fields[parts[0]] ?? "<missing>")")
      }
    case "battery":
      let parts = row.args.split(separator: " ", maxSplits: 1).map(String.init)
      let probe = try #require((report["probes"] as? [[String: Any]])?.first { $0["id"] as? String == parts[0] })
      let got = (probe["status"] as? String ?? "") + ((probe["layer"] as? String).map { "/" + $0 } ?? "")
      #expect(got == parts.last)
    case "kernel", "nokernel":
      let log = (try? String(contentsOfFile: Self.fixtures + "/" + row.scenario + "/kernel.log", encoding: .utf8)) ?? ""
      #expect(log.contains(row.args) == (row.kind == "kernel"))
    default:
      Issue.record("unknown check \(row.kind) at line \(row.line)")
    }
  }
}
