import CulpritCore
import Foundation
import Testing

/// `culprit profile check|diff` as a user runs them, and the offline check against the live
/// map: the same profile installed for real (the jail loads it as the what-if mode does, runc's
/// stub included) and read by the exact oracle must give the interpreter's answer for every
/// number.
@Suite struct ProfileCommandTests {
  static let profiles = Binaries.packageRoot.appendingPathComponent("Tests/CulpritCoreTests/Fixtures/seccomp-profiles")
  static func profile(_ name: String) -> String { profiles.appendingPathComponent(name).path }

  static var x86_64: Bool { Architecture.native == .x86_64 }

  @Test func checkExitsZeroWhenNothingBreaksAndOneWhenThreadsFail() throws {
    let ok = try run([Binaries.culprit, "profile", "check", Self.profile("concourse-7.12.1.json")])
    #expect(ok.status == 0, "\(ok.stderr)")
    #expect(ok.stdout.contains("runc's -ENOSYS stub, which starts above the highest syscall the profile names, 332 (statx)"))
    let broken = try run([Binaries.culprit, "profile", "check", Self.profile("concourse-7.13-rc.json")])
    #expect(broken.status == 1)
    #expect(broken.stdout.contains("BLOCKED: clone3(NULL, 0) → EPERM"))
    let crun = try run([Binaries.culprit, "profile", "check", "--runtime", "crun", Self.profile("concourse-7.12.1.json")])
    #expect(crun.status == 1, "crun adds no stub: clone3 gets the EPERM default")
  }

  @Test func diffShowsTheConcourseRegressionAndItsFix() throws {
    let regression = try run([Binaries.culprit, "profile", "diff", Self.profile("concourse-7.12.1.json"), Self.profile("concourse-7.13-rc.json")])
    #expect(regression.status == 1)
    #expect(regression.stdout.contains("clone3 (435): ENOSYS (stub) → EPERM (default): breaks: glibc ≥ 2.34 creates every thread with clone3"))
    let fix = try run([Binaries.culprit, "profile", "diff", Self.profile("concourse-7.13-rc.json"), Self.profile("concourse-7.13.0.json")])
    #expect(fix.status == 0)
    #expect(fix.stdout.contains("clone3 (435): EPERM (default) → ENOSYS (rule): fixes:"))
    let markdown = try run([Binaries.culprit, "--format", "markdown", "profile", "diff", Self.profile("concourse-7.13-rc.json"), Self.profile("concourse-7.13.0.json")])
    #expect(markdown.stdout.hasPrefix("## culprit profile diff "))
  }

  @Test func jsonOutputMatchesItsSchema() throws {
    for arguments in [["profile", "check", Self.profile("concourse-7.13-rc.json")],
                      ["profile", "diff", Self.profile("concourse-7.12.1.json"), Self.profile("concourse-7.13-rc.json")]] {
      let result = try run([Binaries.culprit, "--format", "json"] + arguments)
      #expect(result.status == 1)
      #expect(try profileSchemaErrors(result.stdout) == [], "\(arguments)")
    }
  }

  @Test func badInputIsAUsageError() throws {
    let missing = try run([Binaries.culprit, "profile", "check", "/nonexistent-c9.json"])
    #expect(missing.status == 2)
    #expect(missing.stderr.contains("cannot read /nonexistent-c9.json"))
    let file = FileManager.default.temporaryDirectory.appendingPathComponent("c9-bad-\(UUID().uuidString).json")
    try #"{"defaultAction": "SCMP_ACT_MAYBE"}"#.write(to: file, atomically: true, encoding: .utf8)
    defer { try? FileManager.default.removeItem(at: file) }
    let bad = try run([Binaries.culprit, "profile", "check", file.path])
    #expect(bad.status == 2)
    #expect(bad.stderr.contains("defaultAction: unknown action \"SCMP_ACT_MAYBE\""))
    let libc = try run([Binaries.culprit, "profile", "check", "--libc", "uclibc", Self.profile("concourse-7.12.1.json")])
    #expect(libc.status == 2)
    let runtime = try run([Binaries.culprit, "profile", "check", "--runtime", "lxc", Self.profile("concourse-7.12.1.json")])
    #expect(runtime.status == 2)
  }

  @Test func anEmptyNamesRuleIsAcceptedWithAWarning() throws {
    let file = FileManager.default.temporaryDirectory.appendingPathComponent("c9-empty-\(UUID().uuidString).json")
    try #"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": [], "action": "SCMP_ACT_ERRNO"}]}"#.write(to: file, atomically: true, encoding: .utf8)
    defer { try? FileManager.default.removeItem(at: file) }
    let result = try run([Binaries.culprit, "profile", "check", "--runtime", "docker-20.10", file.path])
    #expect(result.status == 0, "\(result.stderr)")
    #expect(result.stdout.contains("syscalls[0]: the rule names no syscall; Docker, runc and crun accept it and it does nothing"))
  }

  /// Every number 0–511: the interpreter's answer for the profile as the what-if mode loads it
  /// (Docker's conditions decided against Docker's 14 capabilities, runc's stub) against the
  /// oracle's answer in a process that really runs under that filter.
  @Test(
    .enabled(if: ProfileCommandTests.x86_64),
    arguments: [
      "concourse-7.12.1.json", "concourse-7.13-rc.json", "concourse-7.13.0.json", "moby-default-0ec744f4.json",
      "moby-default-0ec744f4-without-clone3-rule.json", "podman-containers-common-0.50.1.json",
    ])
  func theInterpretedMapAgreesWithTheLiveOracle(profile name: String) throws {
    let path = Self.profile(name)
    let text = try String(contentsOfFile: path, encoding: .utf8)
    var u = utsname()
    uname(&u)
    let release = withUnsafeBytes(of: u.release) { String(decoding: $0.prefix(while: { $0 != 0 }), as: UTF8.self) }
    let evaluation = try ProfileEvaluation.evaluate(text, path: path, runtime: .docker23, arch: .x86_64, kernel: KernelVersion(release: release))
    let docker = CapabilitySet.dockerDefault.names.joined(separator: ",")
    let result = try run(
      [Binaries.testkit, "jail", "--keep-caps", docker, "--seccomp-profile", path, "--", Binaries.testkit, "oracle"]
        + (0...SeccompMap.upperBound).map(String.init), limit: 60)
    #expect(result.status == 0, "\(result.stderr)")
    var live: [Int: String] = [:]
    for line in result.stdout.split(separator: "\n") {
      let parts = line.split(separator: " ", maxSplits: 1).map(String.init)
      if parts.count == 2, let n = Int(parts[0]) { live[n] = parts[1] }
    }
    #expect(live.count == SeccompMap.upperBound + 1, "\(result.stdout.suffix(300))")
    var disagreements: [String] = []
    for (n, answer) in evaluation.map.numbers.enumerated() {
      guard let seen = live[n] else { continue }
      if seen.hasPrefix("not filtered") { continue }  // uretprobe/uprobe: the kernel skips seccomp
      if seen != answer.description { disagreements.append("\(n): interpreted \(answer), live \(seen)") }
    }
    #expect(disagreements.isEmpty, "\(name): \(disagreements.prefix(10))")
  }
}

/// Validates a `culprit profile` JSON document against schema/profile.schema.json.
func profileSchemaErrors(_ json: String) throws -> [String] {
  let schema = Binaries.packageRoot.appendingPathComponent("schema/profile.schema.json").path
  let file = FileManager.default.temporaryDirectory.appendingPathComponent("culprit-profile-\(UUID().uuidString).json")
  try json.write(to: file, atomically: true, encoding: .utf8)
  defer { try? FileManager.default.removeItem(at: file) }
  let script = """
    import json, sys, jsonschema
    schema = json.load(open(sys.argv[1]))
    jsonschema.Draft202012Validator.check_schema(schema)
    for error in jsonschema.Draft202012Validator(schema).iter_errors(json.load(open(sys.argv[2]))):
        print("/".join(str(p) for p in error.absolute_path) + ": " + error.message)
    """
  let result = try run(["/usr/bin/env", "python3", "-c", script, schema, file.path])
  if result.status != 0 { return ["the schema check itself failed: \(result.stderr)"] }
  return result.stdout.split(separator: "\n").map(String.init)
}
