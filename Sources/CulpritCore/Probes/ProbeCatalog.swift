/// Every probe, in report order. Listed here explicitly, never discovered.
public enum ProbeCatalog {
  public static let all: [any Probe] = [
    KernelProbe(),
    RuntimeProbe(),
    CapabilitiesProbe(),
    SeccompProbe(),
    CgroupProbe(),
    PtraceScopeProbe(),
    UserNamespaceProbe(),
    LSMProbe(),
    ThreadProbe(),
    GetaddrinfoProbe(),
    EgressProbe(),
    PtraceAttachProbe(),
    MknodProbe(),
    SyscallsProbe(),
  ]

  public static var ids: [String] { all.map(\.id) }

  public static func probe(_ id: String) -> (any Probe)? { all.first { $0.id == id } }
}
