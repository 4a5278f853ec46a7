import Foundation
import Testing

@testable import CulpritCore

/// `culprit profile check/diff` on real profiles (Concourse's three, moby's default with and
/// without its clone3 rule, Podman's), each compiled with libseccomp as the runtime would and
/// interpreted for every number; the BPF interpreter on programs whose answer is known.
@Suite struct ProfileCheckTests {
  static let directory = SeccompProfileTests.directory

  static func evaluate(_ name: String, runtime: SeccompRuntime = .runc, arch: Architecture = .x86_64) throws -> ProfileEvaluation {
    let text = try String(contentsOf: directory.appendingPathComponent(name), encoding: .utf8)
    return try ProfileEvaluation.evaluate(text, path: name, runtime: runtime, arch: arch, kernel: KernelVersion(6, 1))
  }

  static func check(_ name: String, runtime: SeccompRuntime = .runc, libc: String = ProfileCheck.newestGlibc) throws -> ProfileCheck {
    let text = try String(contentsOf: directory.appendingPathComponent(name), encoding: .utf8)
    let profile = try SeccompProfile.parse(text)
    let evaluations = try ProfileEvaluation.architectures(of: profile).map { arch throws in
      try ProfileEvaluation.evaluate(text, path: name, runtime: runtime, arch: arch, kernel: KernelVersion(6, 1))
    }
    return ProfileCheck(evaluations: evaluations, libc: try #require(ProfileCheck.libc(libc)))
  }

  static func answer(_ map: SeccompMap, _ name: String) -> OracleAnswer? { map.answer(name)?.answer }

  // MARK: The interpreter

  @Test func theInterpreterRunsEveryKindOfInstruction() throws {
    typealias I = SeccompBPF.Instruction
    // A = nr; X = A; A = A + 1; M[0] = A; A = M[0]; if A & 0x8 goto errno else next;
    // A = arg0 high word; if A > 5 kill; ret allow
    let program = [
      I(code: 0x20, jt: 0, jf: 0, k: 0), I(code: 0x07, jt: 0, jf: 0, k: 0), I(code: 0x04, jt: 0, jf: 0, k: 1),
      I(code: 0x02, jt: 0, jf: 0, k: 0), I(code: 0x60, jt: 0, jf: 0, k: 0), I(code: 0x45, jt: 3, jf: 0, k: 8),
      I(code: 0x20, jt: 0, jf: 0, k: 20), I(code: 0x25, jt: 2, jf: 0, k: 5), I(code: 0x06, jt: 0, jf: 0, k: 0x7fff_0000),
      I(code: 0x06, jt: 0, jf: 0, k: 0x0005_0000 | 13), I(code: 0x06, jt: 0, jf: 0, k: 0),
    ]
    func run(_ nr: Int32, _ arg0: UInt64 = 0) throws -> SeccompBPF.Verdict {
      SeccompBPF.Verdict(try SeccompBPF.run(program, SeccompBPF.Data(nr: nr, arch: 0xc000_003e, args: [arg0])))
    }
    #expect(try run(7) == .errno(13))  // 7 + 1 = 8: bit 3 set
    #expect(try run(1) == .allow)
    #expect(try run(1, 6 << 32) == .killThread)
    #expect(throws: SeccompBPF.Fault.self) { try SeccompBPF.run([I(code: 0x20, jt: 0, jf: 0, k: 64)], SeccompBPF.Data(nr: 0, arch: 0)) }
    #expect(throws: SeccompBPF.Fault.self) { try SeccompBPF.run([I(code: 0x04, jt: 0, jf: 0, k: 1)], SeccompBPF.Data(nr: 0, arch: 0)) }
  }

  @Test func theOraclesOwnFilterNotifiesOnlyItsCallSite() throws {
    let program = SeccompOracle.filterProgram
    let (site, after) = SeccompOracle.callSite
    let arch = try #require(Architecture.native).seccompToken
    func verdict(_ ip: UInt64, arch: UInt32) throws -> SeccompBPF.Verdict {
      SeccompBPF.Verdict(try SeccompBPF.run(program, SeccompBPF.Data(nr: 39, arch: arch, instructionPointer: ip)))
    }
    #expect(try verdict(after, arch: arch) == .notify)
    #expect(try verdict(site, arch: arch) == .notify)
    #expect(try verdict(after + 4, arch: arch) == .allow)
    #expect(try verdict(after ^ (1 << 40), arch: arch) == .allow)
    #expect(try verdict(after, arch: 0x4000_0003) == .allow, "another architecture's calls are never intercepted")
  }

  @Test func runcsStubAsCompiledAnswersENOSYSAboveTheHighestName() throws {
    let evaluation = try Self.evaluate("concourse-7.12.1.json")
    #expect(evaluation.program.enosysStubAbove == 332)
    let map = evaluation.map
    #expect(map.stub == SeccompMap.Stub(start: 333, realDefault: .errno(.notPermitted)))
    #expect(Self.answer(map, "statx") == .allowed)
    #expect(Self.answer(map, "clone3") == .errno(.noFunction))
    #expect(Self.answer(map, "keyctl") == .errno(.notPermitted))
    #expect(map.numbers[400] == .errno(.noFunction), "above the stub even though unassigned")
    #expect(map.numbers[SeccompMap.upperBound] == .errno(.noFunction))
    // The x32 variant of a call goes to the profile, not to the stub (runc's JSET on bit 30).
    let x32 = SeccompBPF.Verdict(
      try SeccompBPF.run(SeccompBPF.decode(evaluation.program.instructions), SeccompBPF.Data(nr: 0x4000_0000 | 435, arch: 0xc000_003e)))
    #expect(x32 != .errno(38))
  }

  // MARK: Concourse

  @Test func concourse7121DefaultIsEPERMAndThreadsDependOnTheStub() throws {
    let check = try Self.check("concourse-7.12.1.json")
    #expect(check.evaluations.map(\.arch) == [.x86_64])
    #expect(!check.breaksSomething, "\(check.breaks.map(\.result.entry.id))")
    let map = check.evaluations[0].map
    #expect(map.realDefault == .errno(.notPermitted))
    #expect(map.stubRescues.map(\.name).contains("clone3"))
    let text = check.render(.text)
    #expect(text.contains("The profile's real default is EPERM; numbers from 333 up answer ENOSYS: runc's -ENOSYS stub, which starts above the highest syscall the profile names, 332 (statx)."))
    #expect(text.contains("clone3 (435) gets ENOSYS only from runc's -ENOSYS stub (this profile names nothing above 332); a profile that adds any call above 435 — as Concourse 7.13.0-rc did with faccessat2 (439) and openat2 (437) — turns clone3 into EPERM"))
    #expect(text.contains("Add clone3 → SCMP_ACT_ERRNO with errnoRet 38."))
    #expect(text.hasSuffix("Result: nothing breaks (exit 0).\n"))
  }

  @Test func concourse713rcBreaksEveryThread() throws {
    let check = try Self.check("concourse-7.13-rc.json")
    let map = check.evaluations[0].map
    #expect(map.stub == SeccompMap.Stub(start: 440, realDefault: .errno(.notPermitted)))
    #expect(Self.answer(map, "clone3") == .errno(.notPermitted))
    #expect(check.breaks.map(\.result.entry.id) == ["clone3"])
    #expect(check.breaks.first?.result.impact == .blocked)
    #expect(check.render(.text).contains("clone3 (435) gets EPERM, the profile's default, because runc's stub starts above 439, past clone3"))
    // musl and glibc 2.33 never call clone3 for threads: for them it is degraded (other
    // programs in the image may still use it), not blocked.
    for libc in ["musl-1.2.4", "glibc-2.33"] {
      let other = try Self.check("concourse-7.13-rc.json", libc: libc)
      #expect(other.breaks.map(\.result.entry.id) == ["clone3"], "\(libc)")
      #expect(other.breaks.first?.result.impact == .degraded, "\(libc)")
    }
  }

  @Test func concourse7130AnswersClone3ENOSYSByRule() throws {
    let check = try Self.check("concourse-7.13.0.json")
    #expect(check.evaluations.map(\.arch) == [.x86_64, .aarch64])
    #expect(!check.breaksSomething, "\(check.breaks.map { "\($0.arch) \($0.result.entry.id)" })")
    for evaluation in check.evaluations {
      #expect(Self.answer(evaluation.map, "clone3") == .errno(.noFunction), "\(evaluation.arch)")
      #expect(evaluation.map.stubRescues.isEmpty)
      #expect(Self.answer(evaluation.map, "socket") == .allowed, "\(evaluation.arch): names resolved for that architecture")
    }
    #expect(check.evaluations[1].map.stub?.start == check.evaluations[0].map.stub?.start, "futex_requeue is 456 on both")
  }

  @Test func diff7121To713rcShowsClone3FallingFromTheStubToTheDefault() throws {
    let diff = ProfileDiff(old: try Self.check("concourse-7.12.1.json"), new: try Self.check("concourse-7.13-rc.json"))
    let clone3 = try #require(diff.changes.first { $0.label == "clone3 (435)" })
    #expect(clone3.before == "ENOSYS (stub)")
    #expect(clone3.after == "EPERM (default)")
    #expect(clone3.effect == 1)
    #expect(clone3.consequence?.hasPrefix("breaks: glibc ≥ 2.34 creates every thread with clone3") == true)
    #expect(diff.gotWorse)
    #expect(diff.render(.text).contains("clone3 (435): ENOSYS (stub) → EPERM (default): breaks: glibc ≥ 2.34"))
  }

  @Test func diff713rcTo7130ShowsTheFix() throws {
    let diff = ProfileDiff(old: try Self.check("concourse-7.13-rc.json"), new: try Self.check("concourse-7.13.0.json"))
    let clone3 = try #require(diff.changes.first { $0.label == "clone3 (435)" })
    #expect(clone3.before == "EPERM (default)")
    #expect(clone3.after == "ENOSYS (rule)")
    #expect(clone3.effect == -1)
    #expect(!diff.gotWorse)
  }

  // MARK: Docker, Podman, runtimes

  @Test func mobysDefaultBeforeAndAfterItsClone3Rule() throws {
    let after = try Self.check("moby-default-0ec744f4.json", runtime: .docker2010)
    #expect(!after.breaksSomething, "\(after.breaks.map(\.result.entry.id))")
    #expect(Self.answer(after.evaluations[0].map, "clone3") == .errno(.noFunction))
    let before = try Self.check("moby-default-0ec744f4-without-clone3-rule.json", runtime: .docker2010)
    #expect(Self.answer(before.evaluations[0].map, "clone3") == .errno(.notPermitted), "names above 435, so the stub does not cover it")
    #expect(before.breaks.map { "\($0.arch.rawValue) \($0.result.entry.id)" } == ["x86_64 clone3", "aarch64 clone3"])
    let diff = ProfileDiff(old: before, new: after)
    #expect(diff.changes.contains { $0.label == "clone3 (435)" && $0.before == "EPERM (default)" && $0.after == "ENOSYS (rule)" })
  }

  @Test func docker2010DropsDefaultErrnoRet() throws {
    // Podman's profile relies on defaultErrnoRet 38 for every call it does not name.
    let docker23 = try Self.evaluate("podman-containers-common-0.50.1.json", runtime: .docker23)
    let docker2010 = try Self.evaluate("podman-containers-common-0.50.1.json", runtime: .docker2010)
    #expect(docker23.map.realDefault == .errno(.noFunction))
    #expect(docker2010.map.realDefault == .errno(.notPermitted))
    #expect(docker2010.warnings.contains { $0.contains("drops defaultErrnoRet (38, ENOSYS)") && $0.contains("moby#42604") })
    #expect(docker23.warnings.allSatisfy { !$0.contains("defaultErrnoRet") })
  }

  @Test func crunAddsNoStubSoConcourse7121BreaksThreadsUnderIt() throws {
    let runc = try Self.check("concourse-7.12.1.json", runtime: .runc)
    let crun = try Self.check("concourse-7.12.1.json", runtime: .crun)
    #expect(crun.evaluations[0].program.enosysStubAbove == nil)
    #expect(crun.evaluations[0].map.stub == nil)
    #expect(Self.answer(crun.evaluations[0].map, "clone3") == .errno(.notPermitted))
    // Without the stub every ENOSYS-only fallback named above 332 gets EPERM.
    #expect(crun.breaks.map(\.result.entry.id) == ["clone3", "faccessat2", "openat2", "fchmodat2"])
    #expect(crun.evaluations[0].map.fingerprint.hasPrefix("no -ENOSYS stub although the default is EPERM: crun"))
    #expect(runc.evaluations[0].map.fingerprint.hasPrefix("runc ≥ 1.0.0-rc93"))
  }

  @Test func podmansProfileBreaksNothingUnderPodman() throws {
    let check = try Self.check("podman-containers-common-0.50.1.json", runtime: .podman)
    #expect(!check.breaksSomething, "\(check.breaks.map(\.result.entry.id))")
    #expect(check.evaluations.allSatisfy { $0.map.realDefault == .errno(.noFunction) })
  }

  @Test func ociRuntimesIgnoreIncludesAndExcludes() throws {
    // moby's clone3 ENOSYS rule is excluded with CAP_SYS_ADMIN; runc given the Docker-format
    // file applies every rule, whichever comes first in libseccomp's order.
    let runc = try Self.evaluate("moby-default-0ec744f4.json", runtime: .runc)
    #expect(runc.warnings.contains { $0.contains("has no includes/excludes: every rule applies") })
    #expect(runc.resolved.excludedRules.isEmpty)
    let docker = try Self.evaluate("moby-default-0ec744f4.json", runtime: .docker23)
    #expect(!docker.resolved.excludedRules.isEmpty)
  }

  @Test func rulesWithoutNamesAndUnknownNamesAreAcceptedWithAWarning() throws {
    let text = """
      {"defaultAction": "SCMP_ACT_ERRNO", "architectures": ["SCMP_ARCH_X86_64"],
       "syscalls": [{"names": [], "action": "SCMP_ACT_ALLOW"},
                    {"names": ["read", "clone4", "exit_group"], "action": "SCMP_ACT_ALLOW"}]}
      """
    let evaluation = try ProfileEvaluation.evaluate(text, path: "p.json", runtime: .docker2010, arch: .x86_64, kernel: nil)
    #expect(evaluation.warnings.contains("syscalls[0]: the rule names no syscall; Docker, runc and crun accept it and it does nothing"))
    #expect(evaluation.warnings.contains { $0.hasPrefix("syscalls[1].names[1]: \"clone4\" is unknown") })
    #expect(Self.answer(evaluation.map, "read") == .allowed)
    #expect(evaluation.map.stub?.start == 232, "exit_group (231) is the highest name")
  }

  @Test func theJSONReportHasTheMapAndTheVerdict() throws {
    let check = try Self.check("concourse-7.13-rc.json")
    let json = try JSONValue.parse(check.render(.json))
    guard case .object(let root) = json else { Issue.record("not an object"); return }
    #expect(root["schema"] == "culprit-profile-check")
    #expect(root["breaks"] == .bool(true))
    guard case .array(let archs)? = root["architectures"], case .object(let first)? = archs.first,
      case .object(let map)? = first["map"], case .object(let stub)? = map["enosys_stub"]
    else { Issue.record("no map"); return }
    #expect(stub["start"] == .int(440))
    #expect(map["default"] == "EPERM")
  }

  // MARK: Real Docker

  /// The maps read live in Docker 20.10.24 with runc 1.1.5 (Fixtures/docker-maps, recorded by
  /// scripts/profile-live-check.sh) against the offline check, number by number.
  @Test(arguments: [
    "concourse-7.12.1", "concourse-7.13-rc", "concourse-7.13.0", "moby-default-0ec744f4",
    "moby-default-0ec744f4-without-clone3-rule", "podman-containers-common-0.50.1",
  ])
  func dockerMapsAgreeWithTheInterpreter(profile name: String) throws {
    let fixture = Self.directory.deletingLastPathComponent().appendingPathComponent("docker-maps/\(name).txt")
    let text = try String(contentsOf: Self.directory.appendingPathComponent(name + ".json"), encoding: .utf8)
    let evaluation = try ProfileEvaluation.evaluate(
      text, path: name, runtime: .docker2010, arch: .x86_64, kernel: KernelVersion(6, 18, 44))
    var live: [Int: String] = [:]
    for line in try String(contentsOf: fixture, encoding: .utf8).split(separator: "\n") {
      let parts = line.split(separator: " ", maxSplits: 1).map(String.init)
      if parts.count == 2, let n = Int(parts[0]) { live[n] = parts[1] }
    }
    #expect(live.count == SeccompMap.upperBound + 1)
    var disagreements: [String] = []
    for (n, answer) in evaluation.map.numbers.enumerated() {
      guard let seen = live[n], !seen.hasPrefix("not filtered") else { continue }
      if seen != answer.description { disagreements.append("\(n): offline \(answer), Docker \(seen)") }
    }
    #expect(disagreements.isEmpty, "\(name): \(disagreements.prefix(10))")
  }

  /// The same profile run by runc 1.1.5 and by crun 1.8.1 directly (OCI bundles, recorded):
  /// the stub shows under runc only, and `--runtime runc|crun` computes each map exactly.
  @Test(arguments: [("runc-1.1.5", SeccompRuntime.runc), ("crun-1.8.1", SeccompRuntime.crun)])
  func runcAndCrunMapsAgreeWithTheirModels(recorded: String, runtime: SeccompRuntime) throws {
    let fixture = Self.directory.deletingLastPathComponent().appendingPathComponent("docker-maps/\(recorded)-concourse-7.12.1.txt")
    let evaluation = try Self.evaluate("concourse-7.12.1.json", runtime: runtime)
    var live: [Int: String] = [:]
    for line in try String(contentsOf: fixture, encoding: .utf8).split(separator: "\n") {
      let parts = line.split(separator: " ", maxSplits: 1).map(String.init)
      if parts.count == 2, let n = Int(parts[0]) { live[n] = parts[1] }
    }
    #expect(live.count == SeccompMap.upperBound + 1)
    let disagreements = evaluation.map.numbers.enumerated().compactMap { n, answer -> String? in
      guard let seen = live[n], !seen.hasPrefix("not filtered"), seen != answer.description else { return nil }
      return "\(n): offline \(answer), \(recorded) \(seen)"
    }
    #expect(disagreements.isEmpty, "\(disagreements.prefix(10))")
    #expect(live[435] == (runtime == .runc ? "ENOSYS" : "EPERM"))
  }
}
