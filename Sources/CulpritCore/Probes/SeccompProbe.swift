/// `seccomp`: the seccomp mode, the number of stacked filters and the actions the kernel offers.
public struct SeccompProbe: Probe {
  public init() {}
  public let id = "seccomp"
  public let title = "Seccomp state"
  public let abstract = "Seccomp mode (disabled, strict, filter), stacked filter count, and the kernel's available actions"
  public let isolation = Isolation.inProcess

  public func run(_ context: ProbeContext) -> ProbeResult {
    let state = context.snapshot.seccomp
    let whatIf = context.options.seccompProfile
    let facts: JSONObject = [
      "mode": .from(state.mode?.rawValue),
      "filters": .from(state.filters),
      "actions_avail": state.actionsAvailable.map(JSONValue.from) ?? .null,
      "what_if_profile": .from(whatIf),
    ]
    var summary: String
    switch state.mode {
    case .filter?:
      summary = "A seccomp filter is installed" + (state.filters.map { " (\($0) stacked)" } ?? "")
        + "; what it blocks is found by the thread, ptrace-attach, mknod and syscalls probes"
    case .strict?: summary = "Seccomp strict mode: only read, write, exit and sigreturn are allowed"
    case .disabled?: summary = "No seccomp filter"
    case nil: summary = "The seccomp mode could not be read"
    }
    var evidence = state.evidence
    if let whatIf {
      // This probe reads culprit's own process, which the what-if profile is never installed on.
      summary += " in culprit's own process; what-if: the probes that run in a child ran under \(whatIf)"
      evidence.append(
        "What-if mode: the profile \(whatIf) is installed in every probe child (thread, getaddrinfo, ptrace, mknod, syscalls), not in culprit's own process, whose state is shown above.")
      evidence += context.options.seccompProfileNotes
    }
    return verdict(.info, summary, evidence: evidence, facts: facts)
  }
}
