/// `ptrace-scope`: Yama's ptrace_scope and what it means for attaching.
public struct PtraceScopeProbe: Probe {
  public init() {}
  public let id = "ptrace-scope"
  public let title = "Yama ptrace_scope"
  public let abstract = "Yama's kernel.yama.ptrace_scope (0-3, or absent) and which attaches it allows"
  public let isolation = Isolation.inProcess

  public func run(_ context: ProbeContext) -> ProbeResult {
    let yama = context.snapshot.yama
    let facts: JSONObject = [
      "value": .from(yama.scope),
      "meaning": .from(yama.scope.map(YamaState.meaning)),
      "yama_present": .from(yama.present),
    ]
    let summary: String
    if let scope = yama.scope {
      summary = "ptrace_scope \(scope): \(YamaState.meaning(scope))"
    } else if yama.present == false {
      summary = "Yama is not active: no ptrace_scope restriction"
    } else if yama.present == true {
      summary = "Yama is active but ptrace_scope holds no valid value, so how it restricts attaching is unknown"
    } else {
      summary = "Yama's ptrace_scope could not be read, so whether Yama restricts attaching is unknown"
    }
    return verdict(.info, summary, evidence: yama.evidence, facts: facts)
  }
}
