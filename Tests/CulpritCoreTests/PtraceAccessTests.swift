import CulpritCore
import Testing

/// The ptrace access decision over its inputs. The build machine has no Yama, so every Yama
/// case is checked here, against security/yama/yama_lsm.c's rules; the live tests
/// (CulpritCLITests/PtraceAttachTests) cover seccomp, capabilities, uids and dumpable for real.
@Suite struct PtraceAccessTests {
  typealias S = PtraceAccess.Situation

  @Test(arguments: [
    // (scope, CAP_SYS_PTRACE, descendant, PR_SET_PTRACER, expected refusal)
    (nil, false, false, false, nil),
    (0, false, false, false, nil),
    (1, false, true, false, nil),
    (1, false, false, false, PtraceAccess.Refusal.yama(scope: 1)),
    (1, false, false, true, nil),
    (1, true, false, false, nil),
    (2, false, true, false, PtraceAccess.Refusal.yama(scope: 2)),
    (2, true, true, false, nil),
    (2, true, false, false, nil),
    (2, false, false, true, PtraceAccess.Refusal.yama(scope: 2)),
    (3, true, true, false, PtraceAccess.Refusal.yama(scope: 3)),
    (3, false, true, true, PtraceAccess.Refusal.yama(scope: 3)),
  ] as [(Int?, Bool, Bool, Bool, PtraceAccess.Refusal?)])
  func yamaScopes(scope: Int?, capability: Bool, descendant: Bool, namedTracer: Bool, expected: PtraceAccess.Refusal?) {
    let situation = S(
      yamaScope: scope, tracerHasSysPtrace: capability, targetIsDescendant: descendant, targetNamedTracer: namedTracer)
    #expect(PtraceAccess.refusal(situation) == expected)
  }

  @Test func yamaRefusalsBlameYamaAndSayWhichTargets() throws {
    let one = try #require(PtraceAccess.refusal(S(yamaScope: 1, tracerHasSysPtrace: false, targetIsDescendant: false)))
    #expect(one.layer == .yama)
    #expect(one.reason.contains("descendants") && one.reason.contains("PR_SET_PTRACER"))
    let two = try #require(PtraceAccess.refusal(S(yamaScope: 2, tracerHasSysPtrace: false, targetIsDescendant: true)))
    #expect(two.reason.contains("only with CAP_SYS_PTRACE"))
    let three = try #require(PtraceAccess.refusal(S(yamaScope: 3, tracerHasSysPtrace: true, targetIsDescendant: true)))
    #expect(three.reason.contains("whatever the capabilities"))
  }

  @Test func anUnknownScopeRefusesLikeYamaDefault() {
    #expect(PtraceAccess.refusal(S(yamaScope: 7, tracerHasSysPtrace: true, targetIsDescendant: true)) == .yama(scope: 7))
  }

  @Test func idsDumpableAndCapabilitiesNeedCapSysPtrace() {
    #expect(PtraceAccess.refusal(S(yamaScope: nil, tracerHasSysPtrace: false, idsMatch: false, targetIsDescendant: true)) == .ids)
    #expect(PtraceAccess.refusal(S(yamaScope: nil, tracerHasSysPtrace: true, idsMatch: false, targetIsDescendant: true)) == nil)
    #expect(PtraceAccess.refusal(S(yamaScope: nil, tracerHasSysPtrace: false, targetDumpable: false, targetIsDescendant: true)) == .notDumpable)
    #expect(PtraceAccess.refusal(S(yamaScope: nil, tracerHasSysPtrace: true, targetDumpable: false, targetIsDescendant: true)) == nil)
    #expect(
      PtraceAccess.refusal(S(yamaScope: nil, tracerHasSysPtrace: false, targetCapabilitiesWithinTracers: false, targetIsDescendant: true))
        == .capabilitiesBeyondTracers)
    for refusal in [PtraceAccess.Refusal.ids, .notDumpable, .capabilitiesBeyondTracers] {
      #expect(refusal.layer == .capabilities)
      #expect(refusal.reason.contains("CAP_SYS_PTRACE"))
    }
  }

  @Test func theKernelsOrderDecidesWhichCheckIsBlamed() {
    // __ptrace_may_access checks the ids, then dumpable, then the LSM hooks: commoncap first, Yama after.
    let everything = S(
      yamaScope: 2, tracerHasSysPtrace: false, idsMatch: false, targetDumpable: false,
      targetCapabilitiesWithinTracers: false, targetIsDescendant: false)
    #expect(PtraceAccess.refusal(everything) == .ids)
    var rest = everything
    rest.idsMatch = true
    #expect(PtraceAccess.refusal(rest) == .notDumpable)
    rest.targetDumpable = true
    #expect(PtraceAccess.refusal(rest) == .capabilitiesBeyondTracers)
    rest.targetCapabilitiesWithinTracers = true
    #expect(PtraceAccess.refusal(rest) == .yama(scope: 2))
  }

  @Test func theNewSyscallNumbersAgreeWithLibseccomp() {
    for number in [SyscallNumber.statx, .setresuid, .ptrace, .mknodat] {
      #expect(number.native.map(Int32.init) == SeccompFilter.resolve(number.name), "\(number.name)")
    }
  }
}
