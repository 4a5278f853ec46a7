import Foundation
import Testing

@testable import CulpritCore

/// Numbers, sizes and contracts of the documents people hand culprit, decided as Docker (Go's
/// encoding/json) and the published report schema decide them.
@Suite struct JSONNumberTests {
  @Test(arguments: ["01", "-01", "00", "[01]", #"{"errnoRet": 01}"#, "0123.5", "-", "1.", ".5", "1e", "+1"])
  func leadingZerosAndBrokenNumbersAreNotJSON(text: String) {
    #expect(throws: JSONParseError.self) { try JSONValue.parse(text) }
  }

  @Test func integersKeepEveryDigit() throws {
    #expect(try JSONValue.parse("9007199254740993") == .int(9_007_199_254_740_993))
    #expect(try JSONValue.parse("18446744073709551615").unsignedLiteral == UInt64.max)
    #expect(try JSONValue.parse("18446744073709551616").unsignedLiteral == nil)
    #expect(try JSONValue.parse("-9223372036854775808") == .int(Int.min))
    // Beyond Int the text itself is kept and written back unchanged.
    let big = try JSONValue.parse(#"{"v": 18446744073709551615, "w": 1E-400, "x": -0}"#)
    #expect(big.serialized(pretty: false) == #"{"v":18446744073709551615,"w":1E-400,"x":-0}"#)
  }

  @Test(arguments: [("1.0", false), ("1e2", false), ("1E-400", false), ("-0", false), ("-1", false), ("0", true), ("4095", true)])
  func unsignedFieldsReadAsGoReadsThem(literal: String, accepted: Bool) throws {
    let value = try JSONValue.parse(literal)
    #expect((value.unsignedLiteral != nil) == accepted, "\(literal)")
  }

  @Test func goSignedIntegersAcceptMinusZero() throws {
    #expect(try JSONValue.parse("-0").signedLiteral == 0)
    #expect(try JSONValue.parse("1.0").signedLiteral == nil)
  }

  @Test func numbersCompareByValue() throws {
    #expect(try JSONValue.parse("-2.5e3") == .double(-2500))
    #expect(try JSONValue.parse("1.0") == .int(1))
    #expect(try JSONValue.parse("1.0").intValue == 1)
    #expect(try JSONValue.parse("1.5").intValue == nil)
  }

  @Test func aDuplicateKeyKeepsItsLastValueAsGoDoes() throws {
    let keys = (0..<20).map { #""k\#($0)": \#($0)"# }.joined(separator: ", ")
    let value = try JSONValue.parse("{\(keys), \"k3\": 99, \"k19\": -1}")
    #expect(value.objectValue?.count == 20)
    #expect(value["k3"] == .int(99))
    #expect(value["k19"] == .int(-1))
    #expect(value.objectValue?.keys.first == "k0")
  }

  @Test func largeObjectsKeepOrderAndFindEveryKey() throws {
    // 150,000 keys (issue 10's case): read in linear time; scripts/bench.sh times it.
    let text = "{" + (0..<150_000).map { #""k\#($0)": \#($0)"# }.joined(separator: ",") + "}"
    let object = try #require(try JSONValue.parse(text).objectValue)
    #expect(object.count == 150_000)
    #expect(object["k149999"] == .int(149_999))
    #expect(object.keys[70_000] == "k70000")
    var copy = object
    copy["k5"] = nil
    #expect(copy["k6"] == .int(6) && copy["k5"] == nil && copy.count == 149_999)
  }
}

@Suite struct ProfileNumberTests {
  static func profile(errnoRet: String) -> String {
    #"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["mknod"], "action": "SCMP_ACT_ERRNO", "errnoRet": \#(errnoRet)}]}"#
  }

  @Test(arguments: ["1.0", "1e2", "1E-400", "-0", "-1"])
  func integerFieldsRefuseWhatDockerRefuses(literal: String) {
    do {
      _ = try SeccompProfile.parse(Self.profile(errnoRet: literal))
      Issue.record("\(literal) was accepted")
    } catch {
      #expect(error.path == "syscalls[0].errnoRet", "\(error)")
      #expect(error.description.contains(literal) && error.description.contains("Docker"), "\(error)")
    }
  }

  @Test func aLeadingZeroIsNotJSON() {
    #expect(throws: SeccompProfileError.self) { try SeccompProfile.parse(Self.profile(errnoRet: "01")) }
  }

  @Test func keysMatchFieldsAsGoMatchesThem() throws {
    // encoding/json: the exact name, else case-insensitively; the last key for a field wins.
    let folded = try SeccompProfile.parse(
      #"{"DefaultAction": "SCMP_ACT_ALLOW", "SYSCALLS": [{"Names": ["mknod"], "ACTION": "SCMP_ACT_ERRNO", "errnoret": 13, "Args": [{"Index": 1, "Value": 8192, "OP": "SCMP_CMP_EQ"}]}]}"#)
    let canonical = try SeccompProfile.parse(
      #"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["mknod"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13, "args": [{"index": 1, "value": 8192, "op": "SCMP_CMP_EQ"}]}]}"#)
    #expect(folded.syscalls.map(\.names) == canonical.syscalls.map(\.names))
    #expect(folded.syscalls[0].errnoRet == 13 && folded.syscalls[0].args == canonical.syscalls[0].args)
    let last = try SeccompProfile.parse(#"{"defaultAction": "SCMP_ACT_ALLOW", "defaultaction": "SCMP_ACT_ERRNO", "syscalls": []}"#)
    #expect(last.defaultAction == .errno)
  }

  @Test func uint64ArgumentsTakeTheirWholeRange() throws {
    let text = #"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["personality"], "action": "SCMP_ACT_ERRNO", "args": [{"index": 0, "value": 18446744073709551615, "valueTwo": 9007199254740993, "op": "SCMP_CMP_EQ"}]}]}"#
    let profile = try SeccompProfile.parse(text)
    #expect(profile.syscalls[0].args[0].value == UInt64.max)
    #expect(profile.syscalls[0].args[0].valueTwo == 9_007_199_254_740_993)
    #expect(throws: SeccompProfileError.self) {
      try SeccompProfile.parse(text.replacingOccurrences(of: "18446744073709551615", with: "18446744073709551616"))
    }
  }

  @Test func repeatedNamesCompileToTheSameFilterAsOneOfEach() throws {
    // 72,000 names over ten syscalls (issue 10: 24.5 s): libseccomp gets each rule once.
    let ten = ["read", "write", "close", "fstat", "lseek", "mmap", "mprotect", "munmap", "brk", "ioctl"]
    func profile(_ names: [String]) -> String {
      #"{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": [\#(names.map { "\"\($0)\"" }.joined(separator: ","))], "action": "SCMP_ACT_ALLOW"}]}"#
    }
    let target = SeccompProfile.Target(arch: .x86_64, boundingCapabilities: [], kernel: KernelVersion(6, 1))
    let many = try SeccompProfile.parse(profile((0..<72_000).map { ten[$0 % 10] })).resolve(for: target).compile(arch: .x86_64)
    let once = try SeccompProfile.parse(profile(ten)).resolve(for: target).compile(arch: .x86_64)
    #expect(many.instructions == once.instructions)
  }

  @Test func moreDistinctRulesThanAFilterHoldsAreRefusedUpFront() throws {
    let rules = (0..<4097).map { #"{"names": ["ioctl"], "action": "SCMP_ACT_ERRNO", "args": [{"index": 1, "value": \#($0), "op": "SCMP_CMP_EQ"}]}"# }
    let text = #"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [\#(rules.joined(separator: ","))]}"#
    let target = SeccompProfile.Target(arch: .x86_64, boundingCapabilities: [], kernel: KernelVersion(6, 1))
    do {
      _ = try SeccompProfile.parse(text).resolve(for: target).compile(arch: .x86_64)
      Issue.record("compiled")
    } catch {
      #expect(error.description.contains("4097 distinct rules"), "\(error)")
    }
  }
}

@Suite struct ReportContractTests {
  /// A report as culprit writes it, with one probe the schema has no facts block for (the CLI
  /// tests break real reports of every probe).
  static func report() -> JSONValue {
    let host = HostInfo(kernelRelease: "6.1.0", machine: "x86_64", hostname: "h", runtime: "docker", libc: "glibc 2.36", uid: 0, gid: 0)
    let probe = ProbeResult(id: "custom", title: "Custom", status: .ok, summary: "It works.", evidence: ["it returned 42"])
    return Report(host: host, run: RunInfo(timeoutSeconds: 10), probes: [probe]).json
  }

  static func with(_ change: (inout JSONObject) -> Void) -> JSONValue {
    var object = report().objectValue!
    change(&object)
    return .object(object)
  }

  static func probe(_ change: @escaping (inout JSONObject) -> Void) -> JSONValue {
    with { report in
      var probe = report["probes"]!.arrayValue![0].objectValue!
      change(&probe)
      report["probes"] = .array([.object(probe)])
    }
  }

  static let firstID = report()["probes"]!.arrayValue![0]["id"]!.stringValue!

  @Test func aReportCulpritWroteFollowsTheContract() throws {
    #expect(ReportSchema.violation(in: Self.report()) == nil)
    #expect(try Report(validating: Self.report()).probes.count == 1)
  }

  @Test(arguments: [
    (with { $0["host"] = "x" }, "host", "expected an object"),
    (with { $0["host"] = ["kernel": "6.1.0"] }, "host.machine", "missing"),
    (probe { $0["evidence"] = ["a", 3] }, "probes[0] (\(Self.firstID)).evidence[1]", "expected a string"),
    (probe { $0["facts"] = ["a"] }, "probes[0] (\(Self.firstID)).facts", "expected an object"),
    (probe { $0["layer"] = 5 }, "probes[0] (\(Self.firstID)).layer", "not one of"),
    (probe { $0["hint"] = ["x": 1] }, "probes[0] (\(Self.firstID)).hint", "expected a string or null"),
    (probe { $0["status"] = "fine" }, "probes[0] (\(Self.firstID)).status", "not one of"),
    (with { $0["extra"] = 1 }, "extra", "not a field"),
  ])
  func aBrokenContractNamesTheField(json: JSONValue, field: String, says: String) {
    do {
      _ = try Report(validating: json)
      Issue.record("accepted")
    } catch {
      #expect(error.description.contains("at \(field):") && error.description.contains(says), "\(error)")
    }
  }

  @Test(arguments: ["-1", "4294967296", "1e10", "1.5", "\"0\""])
  func hostIDsOutsideUidTAreRefusedNotTrapped(literal: String) throws {
    let json = Self.with { $0["host"] = .object(Self.report()["host"]!.objectValue!.replacing("uid", with: try! JSONValue.parse(literal))) }
    #expect(throws: ContractError.self) { try Report(validating: json) }
    #expect(HostInfo.id(try JSONValue.parse(literal)) == nil)
    // Without the contract check, the conversion still never traps.
    #expect(try Report(json: json).host.uid == 0)
  }

  @Test func hostIDsConvertExactly() throws {
    #expect(HostInfo.id(try JSONValue.parse("4294967295")) == UInt32.max)
    #expect(HostInfo.id(try JSONValue.parse("1000.0")) == 1000)
  }

  @Test func theEmbeddedSchemaIsThePublishedOne() throws {
    let published = try String(contentsOfFile: SchemaFacts.schemaPath, encoding: .utf8)
    #expect(ReportSchema.text == published || ReportSchema.text + "\n" == published || ReportSchema.text == published + "\n")
  }
}

extension JSONObject {
  fileprivate func replacing(_ key: String, with value: JSONValue) -> JSONObject {
    var copy = self
    copy[key] = value
    return copy
  }
}
