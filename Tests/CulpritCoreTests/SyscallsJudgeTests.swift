import Foundation
import Testing

@testable import CulpritCore

/// The syscalls probe's verdict as a pure function of its observations (the sweep's outcomes,
/// the oracle's answers, the environment), driven here by the exact answers a real profile's
/// filter gives (compiled with libseccomp and interpreted, which ProfileCommandTests checks
/// against the live oracle number by number).
@Suite struct SyscallsJudgeTests {
  static let env = SweepEnvironment(
    arch: .x86_64, kernel: KernelVersion(6, 1), filterInstalled: true, sysctls: [:], capabilities: nil,
    libc: ImageLibc(family: .glibc, version: "2.36", path: "/lib/x86_64-linux-gnu/libc.so.6", evidence: []),
    machine: "x86_64")

  static func observations(_ profile: String, oracle: Bool = true) throws -> SyscallsProbe.Observations {
    let evaluation = try ProfileCheckTests.evaluate(profile, runtime: .runc)
    let map = evaluation.map
    func outcome(_ answer: OracleAnswer) -> SweepOutcome {
      switch answer {
      case .errno(let e): return .failed(e)
      case .allowed: return .failed(.noFunction)  // an unassigned number the kernel itself refuses
      case .killed(let s): return .killed(signal: s)
      case .trapped(let d): return .trapped(data: d)
      case .returned(let v): return .returned(v)
      default: return .notRun
      }
    }
    var outcomes: [SweepOutcome] = SyscallSweep.table.compactMap { entry in
      guard let call = SyscallSweep.oracleCall(entry, arch: .x86_64, pointers: .placeholders) else { return nil }
      return SyscallSweep.outcome(of: map.answer(for: call), for: entry)
    }
    outcomes.append(outcome(map.numbers[SyscallSweep.unassignedNumber]))
    outcomes.append(outcome(map.numbers[SeccompMap.upperBound]))
    let batch = OracleBatch(
      answers: oracle ? map.numbers + map.variants.map(\.answer) : Array(repeating: .unavailable(.seccompRefused(.notPermitted)), count: SeccompMap.calls(arch: .x86_64).count),
      children: 1, notifications: 300, elapsedMicroseconds: 5000,
      unavailable: oracle ? nil : .seccompRefused(.notPermitted))
    return SyscallsProbe.Observations(
      sweep: SyscallsProbe.Sweep(outcomes: outcomes, children: 1, forkError: nil, elapsedMicroseconds: 1000),
      oracle: batch, env: env)
  }

  @Test func concourse7121IsOkButSaysThreadsDependOnTheStub() throws {
    let result = SyscallsProbe.judge(SyscallsProbe(), try Self.observations("concourse-7.12.1.json"), profile: nil, notes: [])
    #expect(result.status == .ok)
    #expect(result.summary.contains("the profile's default is EPERM, and numbers from 333 up get ENOSYS from runc's -ENOSYS stub; threads work only because of it"))
    #expect(!result.summary.contains("Podman-like"), "the old wording blamed no allow-list: \(result.summary)")
    #expect(result.hint?.hasPrefix("Add clone3 → SCMP_ACT_ERRNO with errnoRet 38") == true)
    #expect(result.evidence.contains { $0.contains("clone3 (435) gets ENOSYS only from runc's -ENOSYS stub (this profile names nothing above 332)") })
  }

  @Test func concourse713rcIsBlockedAndNamesTheBoundary() throws {
    let result = SyscallsProbe.judge(SyscallsProbe(), try Self.observations("concourse-7.13-rc.json"), profile: nil, notes: [])
    #expect(result.status == .blocked)
    #expect(result.layer == .seccomp)
    #expect(result.summary.hasPrefix("Seccomp answers clone3 with EPERM"))
    #expect(result.summary.contains("runc's -ENOSYS stub starts above 439, the highest call the profile names, past clone3 (435)"))
  }

  @Test func withoutTheOracleTheDiscriminatorsStillDecide() throws {
    let result = SyscallsProbe.judge(SyscallsProbe(), try Self.observations("concourse-7.13-rc.json", oracle: false), profile: nil, notes: [])
    #expect(result.status == .blocked, "clone3 EPERM is seen by the sweep alone")
    #expect(result.facts["filter_map"] == .null)
    #expect(result.evidence.contains { $0.hasPrefix("The exact oracle (SECCOMP_RET_USER_NOTIF) could not ask the filter: seccomp(SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_NEW_LISTENER) failed with EPERM") })
    let ok = SyscallsProbe.judge(SyscallsProbe(), try Self.observations("concourse-7.12.1.json", oracle: false), profile: nil, notes: [])
    #expect(ok.status == .ok)
    #expect(!ok.summary.contains("threads work only because"), "without the map the stub dependency is not claimed")
  }
}
