/// `seccomp`: the seccomp mode, the number of stacked filters and the actions the kernel offers.
public struct SeccompProbe: Probe {
  public init() {}
  public let id = "seccomp"
  public let title = "Seccomp state"
  public let abstract = "Seccomp mode (disabled, strict, filter), stacked filter count, and the kernel's available actions"
  public let isolation = Isolation.inProcess

  public func run(_ context: ProbeContext) -> ProbeResult {
    let state = context.snapshot.seccomp
    let facts: JSONObject = [
      "mode": .from(state.mode?.rawValue),
      "filters": .from(state.filters),
      "actions_avail": state.actionsAvailable.map(JSONValue.from) ?? .null,
    ]
    let summary: String
    switch state.mode {
    case .filter?:
      summary = "A seccomp filter is installed" + (state.filters.map { " (\($0) stacked)" } ?? "")
        + "; what it blocks is found by the thread, ptrace-attach, mknod and syscalls probes"
    case .strict?: summary = "Seccomp strict mode: only read, write, exit and sigreturn are allowed"
    case .disabled?: summary = "No seccomp filter"
    case nil: summary = "The seccomp mode could not be read"
    }
    return verdict(.info, summary, evidence: state.evidence, facts: facts)
  }
}
