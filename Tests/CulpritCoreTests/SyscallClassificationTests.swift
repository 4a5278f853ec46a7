import Testing

@testable import CulpritCore

/// The classifier, driven with outcomes as the sweep records them.
@Suite struct SyscallClassificationTests {
  static let glibc236 = ImageLibc(family: .glibc, version: "2.36", path: "/lib/x86_64-linux-gnu/libc.so.6", evidence: [])
  static let musl125 = ImageLibc(family: .musl, version: "1.2.5", path: "/lib/ld-musl-x86_64.so.1", evidence: [])

  static func env(
    kernel: KernelVersion? = KernelVersion(6, 1), filter: Bool? = true, sysctls: [KernelGate: Int] = [:],
    caps: CapabilitySet? = .dockerDefault, libc: ImageLibc = glibc236
  ) -> SweepEnvironment {
    SweepEnvironment(
      arch: .x86_64, kernel: kernel, filterInstalled: filter, sysctls: sysctls, capabilities: caps, libc: libc,
      machine: "x86_64")
  }

  static func entry(_ id: String) -> SweepEntry { SyscallSweep.table.first { $0.id == id }! }

  @Test func theKernelsOwnAnswerIsAllowed() {
    let r = SyscallSweep.classify(Self.entry("clone3"), .failed(.invalidArgument), in: Self.env())
    #expect(r.classification == .allowed)
    #expect(r.impact == .none)
    #expect(r.consequence == nil)
    #expect(SyscallSweep.classify(Self.entry("unshare"), .returned(0), in: Self.env()).classification == .allowed)
  }

  @Test func epermOnClone3BlocksGlibc234ButOnlyDegradesMusl() {
    let glibc = SyscallSweep.classify(Self.entry("clone3"), .failed(.notPermitted), in: Self.env())
    #expect(glibc.classification == .filteredEPERM)
    #expect(glibc.impact == .blocked)
    #expect(glibc.consequence?.contains("falls back to clone only on ENOSYS") == true)
    let musl = SyscallSweep.classify(Self.entry("clone3"), .failed(.notPermitted), in: Self.env(libc: Self.musl125))
    #expect(musl.impact == .degraded)
  }

  @Test func enosysFromAFilterIsHarmlessWhereCallersFallBack() {
    let r = SyscallSweep.classify(Self.entry("clone3"), .failed(.noFunction), in: Self.env())
    #expect(r.classification == .filteredENOSYS)
    #expect(r.impact == .none)
    #expect(r.consequence == "ENOSYS is what glibc expects: threads fall back to clone.")
    // clone has no fallback: even ENOSYS breaks fork.
    #expect(SyscallSweep.classify(Self.entry("clone"), .failed(.noFunction), in: Self.env()).impact == .blocked)
  }

  @Test func enosysOnAKernelThatPredatesTheCallIsAbsent() {
    let r = SyscallSweep.classify(Self.entry("clone3"), .failed(.noFunction), in: Self.env(kernel: KernelVersion(5, 2)))
    #expect(r.classification == .absent)
    #expect(r.evidence.contains("added in Linux 5.3"))
    let noFilter = SyscallSweep.classify(Self.entry("io_uring_setup"), .failed(.noFunction), in: Self.env(filter: false))
    #expect(noFilter.classification == .absent)
    #expect(noFilter.evidence.contains("CONFIG_IO_URING"))
  }

  @Test func anotherErrnoIsNamed() {
    let r = SyscallSweep.classify(Self.entry("keyctl"), .failed(.permissionDenied), in: Self.env())
    #expect(r.classification == .filtered)
    #expect(r.evidence.contains("EACCES"))
    #expect(r.impact == .none)
  }

  @Test func killsAndTrapsBreakEvenCallsWithAFallback() {
    let kill = SyscallSweep.classify(Self.entry("close_range"), .killed(signal: 31), in: Self.env())
    #expect(kill.classification == .killed)
    #expect(kill.impact == .degraded)
    let trap = SyscallSweep.classify(Self.entry("faccessat2"), .trapped(data: 7), in: Self.env())
    #expect(trap.classification == .trapped)
    #expect(trap.impact == .blocked)
    // Another signal is not seccomp's.
    #expect(SyscallSweep.classify(Self.entry("bpf"), .killed(signal: 11), in: Self.env()).classification == .notRun)
  }

  @Test func sysctlsThatRefuseAreKernelRefusals() {
    let io = SyscallSweep.classify(
      Self.entry("io_uring_setup"), .failed(.notPermitted), in: Self.env(sysctls: [.ioUringDisabled: 2]))
    #expect(io.classification == .kernelRefused)
    #expect(io.gate?.0 == .ioUringDisabled)
    #expect(io.evidence.contains("kernel.io_uring_disabled is 2"))
    // io_uring_disabled=1 spares CAP_SYS_ADMIN.
    let admin = SyscallSweep.classify(
      Self.entry("io_uring_setup"), .failed(.notPermitted),
      in: Self.env(sysctls: [.ioUringDisabled: 1], caps: CapabilitySet([Capability.sysAdmin])))
    #expect(admin.classification == .filteredEPERM)
    // unprivileged_bpf_disabled refuses early only before 6.5.
    let oldBPF = SyscallSweep.classify(
      Self.entry("bpf"), .failed(.notPermitted), in: Self.env(kernel: KernelVersion(5, 15), sysctls: [.unprivilegedBPFDisabled: 2]))
    #expect(oldBPF.classification == .kernelRefused)
    let newBPF = SyscallSweep.classify(
      Self.entry("bpf"), .failed(.notPermitted), in: Self.env(kernel: KernelVersion(6, 6), sysctls: [.unprivilegedBPFDisabled: 2]))
    #expect(newBPF.classification == .filteredEPERM)
    let uffd = SyscallSweep.classify(
      Self.entry("userfaultfd"), .failed(.notPermitted), in: Self.env(kernel: KernelVersion(5, 10), sysctls: [.unprivilegedUserfaultfd: 0]))
    #expect(uffd.classification == .kernelRefused)
  }

  @Test func withoutAFilterEveryRefusalIsTheKernels() {
    let r = SyscallSweep.classify(Self.entry("perf_event_open"), .failed(.permissionDenied), in: Self.env(filter: false))
    #expect(r.classification == .kernelRefused)
  }

  @Test func theDefaultActionFingerprint() {
    #expect(SyscallSweep.defaultAction(.failed(.notPermitted), filterInstalled: true).verdict == "errno-eperm")
    #expect(SyscallSweep.defaultAction(.failed(.noFunction), filterInstalled: true).verdict == "enosys")
    #expect(SyscallSweep.defaultAction(.failed(.noFunction), filterInstalled: false).verdict == "no-filter")
    #expect(SyscallSweep.defaultAction(.killed(signal: 31), filterInstalled: true).verdict == "kill")
    #expect(SyscallSweep.defaultAction(.trapped(data: 0), filterInstalled: true).verdict == "trap")
    #expect(SyscallSweep.defaultAction(.failed(.permissionDenied), filterInstalled: true).verdict == "errno-eacces")
  }

  @Test func faccessat2NeedDependsOnTheLibcVersion() {
    let use = SweepEntry.LibcUse.faccessat2
    #expect(use.applies(to: Self.glibc236, machine: "x86_64") == true)
    #expect(use.applies(to: ImageLibc(family: .glibc, version: "2.31", path: nil, evidence: []), machine: "x86_64") == false)
    #expect(use.applies(to: ImageLibc(family: .musl, version: "1.2.2", path: nil, evidence: []), machine: "x86_64") == true)
    #expect(use.applies(to: ImageLibc(family: .musl, version: nil, path: nil, evidence: []), machine: "x86_64") == nil)
  }
}
