import Foundation
import Testing

@testable import CulpritCore

/// Every scenario of scripts/vm-matrix.sh, judged again from what its probes observed in the VM
/// (Debian's 6.1 kernel: cgroup v2, Yama, AppArmor, runc containers) and held to the same
/// expectations, scripts/vm-matrix/expect.table: the verdicts for layers this machine lacks,
/// checked on any machine in seconds. The fixtures are Fixtures/vm-matrix/scenarios/NAME/
/// (record.json: culprit-testkit observe's report, each action probe's verdict with the
/// observations and snapshot facts it was judged from; gt.txt: the kernel's raw answers to an
/// independent program; kernel.log: Yama's and AppArmor's audit lines), written by
/// `scripts/vm-matrix.sh --install`; Fixtures/vm-matrix/PROVENANCE.md says when and how.
@Suite struct VMMatrixFixtureTests {
  static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent()
  static let fixtures = Fixtures.directory + "/vm-matrix/scenarios"
  static let table = repository.appendingPathComponent("scripts/vm-matrix/expect.table").path

  struct Row: CustomTestStringConvertible, Sendable {
    var line: Int
    var scenario: String
    var kind: String
    var args: String
    var testDescription: String { "\(scenario) \(kind) \(args)" }
  }

  static let rows: [Row] = {
    guard let text = try? String(contentsOfFile: table, encoding: .utf8) else { return [] }
    var rows: [Row] = []
    for (index, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
      let line = raw.trimmingCharacters(in: .whitespaces)
      if line.isEmpty || line.hasPrefix("#") { continue }
      let parts = line.split(separator: " ", maxSplits: 2, omittingEmptySubsequences: true)
      guard parts.count == 3 else { continue }
      rows.append(
        Row(line: index + 1, scenario: String(parts[0]), kind: String(parts[1]), args: parts[2].trimmingCharacters(in: .whitespaces)))
    }
    return rows
  }()

  static var scenarios: [String] { Array(Set(rows.map(\.scenario))).sorted() }

  /// The verdicts of one scenario's action probes, judged again now from the recorded
  /// observations; and, per probe, the verdict recorded in the VM.
  static func judged(_ scenario: String) throws -> (now: [String: ProbeResult], recorded: [String: [String: Any]]) {
    let data = try Data(contentsOf: URL(fileURLWithPath: fixtures + "/" + scenario + "/record.json"))
    let report = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
    let probes = try #require(report["probes"] as? [[String: Any]])
    var now: [String: ProbeResult] = [:]
    var recorded: [String: [String: Any]] = [:]
    for probe in probes {
      guard let id = probe["id"] as? String, let facts = probe["facts"] as? [String: Any],
        let observations = facts["observations"], let snapshot = facts["snapshot_facts"]
      else { continue }
      recorded[id] = probe
      let observed = try JSONSerialization.data(withJSONObject: observations)
      let snapshotFacts = try JSONDecoder().decode(SnapshotFacts.self, from: try JSONSerialization.data(withJSONObject: snapshot))
      switch id {
      case "thread": now[id] = ThreadProbe.judge(try JSONDecoder().decode(ThreadProbe.Observations.self, from: observed), snapshotFacts)
      case "ptrace-attach":
        now[id] = PtraceAttachProbe.judge(try JSONDecoder().decode(PtraceAttachProbe.Observations.self, from: observed), snapshotFacts)
      case "mknod": now[id] = MknodProbe.judge(try JSONDecoder().decode(MknodProbe.Observations.self, from: observed), snapshotFacts)
      default: continue
      }
    }
    return (now, recorded)
  }

  static func text(_ scenario: String, _ file: String) -> String {
    (try? String(contentsOfFile: fixtures + "/" + scenario + "/" + file, encoding: .utf8)) ?? ""
  }

  /// A fact at a dotted path ("targets.child.result", "candidates.0.errno"), as text.
  static func lookup(_ facts: JSONObject, _ path: String) -> String {
    var current: JSONValue? = .object(facts)
    for part in path.split(separator: ".") {
      switch current {
      case .object(let object)?: current = object[String(part)]
      case .array(let array)?: current = Int(part).flatMap { $0 < array.count ? array[$0] : nil }
      default: current = nil
      }
    }
    switch current {
    case nil: return "<missing>"
    case .null?: return "null"
    case .bool(let value)?: return value ? "true" : "false"
    case .int(let value)?: return "\(value)"
    case .double(let value)?: return "\(value)"
    case .string(let value)?: return value
    case let other?: return other.serialized(pretty: false)
    }
  }

  @Test func everyScenarioHasItsFixture() {
    #expect(!Self.rows.isEmpty, "no rows in \(Self.table)")
    for scenario in Self.scenarios {
      #expect(FileManager.default.fileExists(atPath: Self.fixtures + "/" + scenario + "/record.json"), "no fixture for \(scenario)")
    }
  }

  /// The verdict judged now is the one the VM's run gave (status and layer; the wording may have
  /// changed since the recording, which expect.table's text rows pin where it matters).
  @Test(arguments: scenarios)
  func judgingAgainGivesTheRecordedVerdict(_ scenario: String) throws {
    let (now, recorded) = try Self.judged(scenario)
    for (id, result) in now {
      let json = try #require(try JSONSerialization.jsonObject(with: Data(result.normalized().json.serialized().utf8)) as? [String: Any])
      #expect(json["status"] as? String == recorded[id]?["status"] as? String, "\(scenario) \(id)")
      #expect(json["layer"] as? String == recorded[id]?["layer"] as? String, "\(scenario) \(id)")
    }
  }

  @Test(arguments: rows)
  func expectation(_ row: Row) throws {
    switch row.kind {
    case "gt":
      let key = String(row.args.prefix { $0 != "=" })
      let want = String(row.args.dropFirst(key.count + 1))
      let found = Self.text(row.scenario, "gt.txt").split(separator: "\n").filter { $0.hasPrefix(key + "=") }
        .map { String($0.dropFirst(key.count + 1)) }
      #expect(!found.isEmpty && found.allSatisfy { $0 == want }, "gt printed \(key)=\(found)")
      return
    case "kernel":
      #expect(Self.text(row.scenario, "kernel.log").contains(row.args))
      return
    case "nokernel":
      #expect(!Self.text(row.scenario, "kernel.log").contains(row.args))
      return
    default: break
    }
    let probeID = String(row.args.prefix { $0 != " " })
    let rest = String(row.args.dropFirst(probeID.count + 1))
    let (now, _) = try Self.judged(row.scenario)
    guard let result = now[probeID]?.normalized() else {
      // Rows about probes that are not action probes (cgroup, lsm) are checked in the VM only.
      #expect(!["thread", "ptrace-attach", "mknod"].contains(probeID), "\(row.scenario): no recorded \(probeID)")
      return
    }
    switch row.kind {
    case "verdict":
      let got = result.status.rawValue + (result.layer.map { "/\($0.rawValue)" } ?? "")
      #expect(got == rest, "\(result.summary)")
    case "fact":
      let path = String(rest.prefix { $0 != "=" })
      #expect(Self.lookup(result.facts, path) == String(rest.dropFirst(path.count + 1)), "\(path)")
    default:
      let negated = row.kind.hasPrefix("no")
      let field = negated ? String(row.kind.dropFirst(2)) : row.kind
      let text: String
      switch field {
      case "summary": text = result.summary
      case "evidence": text = result.evidence.joined(separator: "\n")
      case "hint": text = result.hint ?? ""
      default:
        Issue.record("unknown check \(row.kind) at \(Self.table):\(row.line)")
        return
      }
      #expect(text.contains(rest) != negated, "\(field): \(text)")
    }
  }
}
