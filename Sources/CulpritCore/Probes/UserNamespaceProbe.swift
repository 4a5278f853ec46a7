/// `userns`: the uid/gid maps and whether this is the initial user namespace.
public struct UserNamespaceProbe: Probe {
  public init() {}
  public let id = "userns"
  public let title = "User namespace"
  public let abstract = "uid/gid maps and whether this is the initial user namespace"
  public let isolation = Isolation.inProcess

  public func run(_ context: ProbeContext) -> ProbeResult {
    let ns = context.snapshot.userns
    func map(_ ranges: [UserNamespaceState.Range]?) -> JSONValue {
      ranges.map { .array($0.map { [.int(Int($0.inside)), .int(Int($0.outside)), .int(Int($0.count))] }) } ?? .null
    }
    let facts: JSONObject = [
      "uid_map": map(ns.uidMap), "gid_map": map(ns.gidMap), "initial": .from(ns.isInitial),
      "setgroups": .from(ns.setgroups),
    ]
    let summary: String
    switch ns.isInitial {
    case true?:
      summary = "The initial user namespace: uid 0 here is root on the host"
    case false?:
      if let first = ns.uidMap?.first {
        summary = "A user namespace: uid \(first.inside) maps to host uid \(first.outside) (\(first.count) ids); capabilities here do not count on the host, device nodes cannot be created"
      } else if ns.uidMap != nil {
        summary = "A user namespace (the uid map is empty)"
      } else {
        summary = "A user namespace (told by /proc/self/ns/user; the uid map could not be read)"
      }
    case nil:
      summary = "The user namespace could not be read"
    }
    return verdict(.info, summary, evidence: ns.evidence, facts: facts)
  }
}
