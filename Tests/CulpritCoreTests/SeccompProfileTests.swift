import Foundation
import Testing

@testable import CulpritCore

/// Parsing and deciding real profiles (Podman's from Debian, Docker's from moby) and malformed
/// ones, each with its expected result or error path.
@Suite struct SeccompProfileTests {
  static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    .appendingPathComponent("Fixtures/seccomp-profiles")

  static func load(_ name: String) throws -> SeccompProfile {
    let text = try String(contentsOf: directory.appendingPathComponent(name), encoding: .utf8)
    return try SeccompProfile.parse(text)
  }

  static let dockerCaps = Set(CapabilitySet.dockerDefault.names)
  static func target(caps: Set<String> = dockerCaps, kernel: KernelVersion = KernelVersion(6, 1), arch: Architecture = .x86_64)
    -> SeccompProfile.Target
  {
    SeccompProfile.Target(arch: arch, boundingCapabilities: caps, kernel: kernel)
  }

  static func rules(_ resolved: SeccompProfile.Resolved, _ name: String) -> [SeccompProfile.ResolvedRule] {
    resolved.rules.filter { $0.name == name }
  }

  @Test func podmansProfileDefaultsToENOSYSAndAllowsClone3() throws {
    let profile = try Self.load("podman-containers-common-0.50.1.json")
    #expect(profile.defaultAction == .errno)
    #expect(profile.defaultErrnoRet == 38)
    #expect(profile.syscalls.count == 35)
    let resolved = try profile.resolve(for: Self.target())
    #expect(resolved.defaultAction == .errno(38))
    #expect(resolved.listsNativeArchitecture)
    #expect(Self.rules(resolved, "clone3").map(\.action) == [.allow])
    #expect(Self.rules(resolved, "faccessat2").map(\.action) == [.allow])
    #expect(Self.rules(resolved, "userfaultfd").map(\.action) == [.errno(1)])
    // personality: five rules, one value each.
    #expect(Self.rules(resolved, "personality").map { $0.conditions.first?.value } == [0, 8, 131072, 131080, 4294967295])
    // bpf: allowed with CAP_SYS_ADMIN in the bounding set, EPERM without.
    #expect(Self.rules(resolved, "bpf").map(\.action) == [.errno(1)])
    let admin = try profile.resolve(for: Self.target(caps: Self.dockerCaps.union(["CAP_SYS_ADMIN"])))
    #expect(Self.rules(admin, "bpf").map(\.action) == [.allow])
    // 32-bit names are skipped on x86_64, as runc skips them.
    #expect(resolved.skippedNames.contains { $0.name == "chown32" })
    #expect(resolved.highestNamedNumber == 448)
  }

  @Test func podmansProfileOnAArch64() throws {
    let resolved = try Self.load("podman-containers-common-0.50.1.json").resolve(for: Self.target(arch: .aarch64))
    #expect(resolved.listsNativeArchitecture)
    #expect(Self.rules(resolved, "clone3").first?.number == 435)
    #expect(Self.rules(resolved, "clone").first?.number == 220)
    // arch_prctl's block is for amd64 and x32 only: left out before its name is looked up.
    #expect(Self.rules(resolved, "arch_prctl").isEmpty)
    #expect(resolved.skippedNames.contains { $0.name == "arch_prctl" } == false)
    #expect(resolved.excludedRules.contains { $0.reason == "includes.arches lacks arm64" })
    #expect(Self.rules(resolved, "set_tls").isEmpty == false || resolved.skippedNames.contains { $0.name == "set_tls" })
  }

  @Test func dockersProfileAnswersClone3ENOSYSWithoutCapSysAdmin() throws {
    let profile = try Self.load("moby-default-0ec744f4.json")
    #expect(profile.defaultErrnoRet == 1)
    let resolved = try profile.resolve(for: Self.target())
    #expect(resolved.defaultAction == .errno(1))
    #expect(Self.rules(resolved, "clone3").map(\.action) == [.errno(38)])
    // clone: allowed when no namespace flag is set (mask 0x7E020000).
    let clone = Self.rules(resolved, "clone")
    #expect(clone.count == 1)
    #expect(clone.first?.conditions == [SeccompProfile.Argument(index: 0, value: 2_114_060_288, valueTwo: 0, op: .maskedEqual)])
    // ptrace: minKernel 4.8.
    #expect(Self.rules(resolved, "ptrace").map(\.action) == [.allow])
    let old = try profile.resolve(for: Self.target(kernel: KernelVersion(4, 4)))
    #expect(Self.rules(old, "ptrace").isEmpty)
    #expect(old.excludedRules.contains { $0.reason == "includes.minKernel 4.8 > kernel 4.4" })
    // With CAP_SYS_ADMIN, clone3 is allowed and its ENOSYS rule excluded.
    let admin = try profile.resolve(for: Self.target(caps: Self.dockerCaps.union(["CAP_SYS_ADMIN"])))
    #expect(Self.rules(admin, "clone3").map(\.action) == [.allow])
    // arch_prctl only on amd64.
    #expect(Self.rules(resolved, "arch_prctl").count == 1)
    let arm = try profile.resolve(for: Self.target(arch: .aarch64))
    #expect(Self.rules(arm, "arch_prctl").isEmpty)
    #expect(Self.rules(arm, "set_tls").isEmpty == false || arm.skippedNames.contains { $0.name == "set_tls" })
  }

  @Test func profilesCompileToALoadableProgramWithRuncsStub() throws {
    let resolved = try Self.load("moby-default-0ec744f4.json").resolve(for: Self.target())
    let program = try resolved.compile(arch: .x86_64)
    #expect(program.enosysStubAbove == resolved.highestNamedNumber)
    #expect(program.count > 6)
    // ld [4]; jeq AUDIT_ARCH_X86_64; ld [0]; jset x32; jgt highest; ret ERRNO|ENOSYS.
    let first = Array(program.instructions.prefix(48))
    func word(_ at: Int) -> UInt32 { UInt32(first[at]) | UInt32(first[at + 1]) << 8 | UInt32(first[at + 2]) << 16 | UInt32(first[at + 3]) << 24 }
    #expect(first[0] == 0x20 && word(4) == 4)
    #expect(first[8] == 0x15 && word(12) == 0xC000_003E)
    #expect(first[32] == 0x25 && word(36) == UInt32(resolved.highestNamedNumber!))
    #expect(first[40] == 0x06 && word(44) == 0x0005_0026)
    // A permissive default gets no stub.
    let allow = try SeccompProfile.parse(#"{"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_X86_64"], "syscalls": [{"names": ["keyctl"], "action": "SCMP_ACT_ERRNO"}]}"#)
    #expect(try allow.resolve(for: Self.target()).compile(arch: .x86_64).enosysStubAbove == nil)
  }

  @Test func runcSemanticsForActionsAndRules() throws {
    let text = #"""
      {"defaultAction": "SCMP_ACT_ERRNO",
       "syscalls": [
         {"name": "keyctl", "action": "SCMP_ACT_KILL"},
         {"names": ["bpf"], "action": "SCMP_ACT_TRACE"},
         {"names": ["getpid"], "action": "SCMP_ACT_ERRNO"},
         {"names": ["socket"], "action": "SCMP_ACT_ALLOW", "args": [
           {"index": 0, "value": 1, "op": "SCMP_CMP_EQ"}, {"index": 0, "value": 2, "op": "SCMP_CMP_EQ"}]},
         {"names": ["mknodat"], "action": "SCMP_ACT_NOTIFY", "args": null, "comment": "ignored", "includes": {}, "excludes": null}
       ]}
      """#
    let profile = try SeccompProfile.parse(text)
    let resolved = try profile.resolve(for: Self.target())
    #expect(resolved.defaultAction == .errno(1))  // EPERM when defaultErrnoRet is absent
    #expect(Self.rules(resolved, "keyctl").map(\.action) == [.killThread])  // SCMP_ACT_KILL is KILL_THREAD
    #expect(Self.rules(resolved, "bpf").map(\.action) == [.trace(1)])
    #expect(Self.rules(resolved, "getpid").isEmpty)  // same as the default: skipped
    #expect(Self.rules(resolved, "socket").first?.conditions.count == 2)
    #expect(resolved.usesNotify)
    #expect(resolved.listsNativeArchitecture == false)
    let program = try resolved.compile(arch: .x86_64)
    #expect(program.enosysStubAbove == nil)  // no architectures listed: runc adds no stub
  }

  // MARK: Malformed profiles: each error names the JSON path.

  @Test(arguments: [
    (#"{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [}"#, "", "not valid JSON"),
    (#"[]"#, "", "a seccomp profile is a JSON object, found an array"),
    (#"{"syscalls": []}"#, "defaultAction", "missing"),
    (#"{"defaultAction": "SCMP_ACT_DENY"}"#, "defaultAction", "unknown action \"SCMP_ACT_DENY\""),
    (#"{"defaultAction": 1}"#, "defaultAction", "expected a string, found a number"),
    (#"{"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": "EPERM"}"#, "defaultErrnoRet", "expected a number, found a string"),
    (#"{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": {"names": []}}"#, "syscalls", "expected an array, found an object"),
    (#"{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": "clone3", "action": "SCMP_ACT_ALLOW"}]}"#, "syscalls[0].names", "expected an array, found a string"),
    (#"{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["read", 3], "action": "SCMP_ACT_ALLOW"}]}"#, "syscalls[0].names[1]", "expected a string, found a number"),
    (#"{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW"}, {"names": ["write"], "action": "ALLOW"}]}"#, "syscalls[1].action", "unknown action \"ALLOW\""),
    (#"{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["read"]}]}"#, "syscalls[0].action", "missing"),
    (#"{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"name": "read", "names": ["write"], "action": "SCMP_ACT_ALLOW"}]}"#, "syscalls[0]", "both 'name' and 'names'"),
    (#"{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 6, "value": 0, "op": "SCMP_CMP_EQ"}]}]}"#, "syscalls[0].args[0].index", "not an argument index"),
    (#"{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": -1, "op": "SCMP_CMP_EQ"}]}]}"#, "syscalls[0].args[0].value", "from 0 to 2^64-1"),
    (#"{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_XX"}]}]}"#, "syscalls[0].args[0].op", "unknown operator \"SCMP_CMP_XX\""),
    (#"{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW", "includes": {"minKernel": "four"}}]}"#, "syscalls[0].includes.minKernel", "not a kernel version"),
    (#"{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW", "excludes": {"caps": "CAP_SYS_ADMIN"}}]}"#, "syscalls[0].excludes.caps", "expected an array, found a string"),
    (#"{"defaultAction": "SCMP_ACT_ERRNO", "architectures": ["SCMP_ARCH_X86_64"], "archMap": [{"architecture": "SCMP_ARCH_X86_64"}]}"#, "", "both 'architectures' and 'archMap'"),
    (#"{"defaultAction": "SCMP_ACT_ERRNO", "architectures": ["SCMP_ARCH_VAX"]}"#, "architectures[0]", "unknown architecture \"SCMP_ARCH_VAX\""),
    (#"{"defaultAction": "SCMP_ACT_ERRNO", "flags": ["SECCOMP_FILTER_FLAG_FAST"]}"#, "flags[0]", "unknown flag"),
  ])
  func malformedProfilesAreRefusedWithTheirPath(text: String, path: String, message: String) {
    #expect(throws: SeccompProfileError.self) { try SeccompProfile.parse(text) }
    do {
      _ = try SeccompProfile.parse(text)
    } catch {
      #expect(error.path == path, "\(error)")
      #expect(error.message.contains(message), "\(error)")
    }
  }

  @Test func unknownSyscallNamesAreSkippedAsRuncDoesAndForeignOnesToo() throws {
    // runc and crun skip names their libseccomp does not know; so does culprit, with a note.
    let unknown = try SeccompProfile.parse(
      #"{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW"}, {"names": ["write", "clone4"], "action": "SCMP_ACT_ALLOW"}]}"#)
    let resolved = try unknown.resolve(for: Self.target())
    #expect(resolved.unknownNames.map(\.path) == ["syscalls[1].names[1]"])
    #expect(resolved.rules.map(\.name) == ["read", "write"])
    let foreign = try SeccompProfile.parse(
      #"{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["arch_prctl", "mseal"], "action": "SCMP_ACT_ALLOW"}]}"#)
    let arm = try foreign.resolve(for: Self.target(arch: .aarch64))
    #expect(arm.skippedNames.map(\.path) == ["syscalls[0].names[0]"])
    #expect(Self.rules(arm, "mseal").first?.number == 462)  // unknown to libseccomp 2.5.4, known to culprit
  }

  @Test func notifyCannotBeTheDefaultNorApplyToWrite() throws {
    let asDefault = try SeccompProfile.parse(#"{"defaultAction": "SCMP_ACT_NOTIFY"}"#)
    #expect(throws: SeccompProfileError.self) { try asDefault.resolve(for: Self.target()) }
    let onWrite = try SeccompProfile.parse(#"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["write"], "action": "SCMP_ACT_NOTIFY"}]}"#)
    #expect(throws: SeccompProfileError("syscalls[0].names[0]", "SCMP_ACT_NOTIFY cannot be used for write (runc refuses it)")) {
      try onWrite.resolve(for: Self.target())
    }
  }
}
