/// `capabilities`: the five capability sets, compared with the runtimes' defaults.
public struct CapabilitiesProbe: Probe {
  public init() {}
  public let id = "capabilities"
  public let title = "Capability sets"
  public let abstract = "Effective, permitted, inheritable, bounding and ambient capabilities, compared with Docker's and Podman's defaults"
  public let isolation = Isolation.inProcess

  public func run(_ context: ProbeContext) -> ProbeResult {
    switch context.snapshot.capabilities {
    case .failure(let failure):
      return verdict(
        .skipped, "Capabilities could not be read: neither /proc/self/status nor capget(2) answered.",
        evidence: failure.evidence)
    case .success(let caps):
      let docker = CapabilitySet.dockerDefault
      let added = caps.effective.subtracting(docker)
      let missing = docker.subtracting(caps.effective)
      let facts: JSONObject = [
        "inheritable": caps.inheritable.jsonList,
        "permitted": caps.permitted.jsonList,
        "effective": caps.effective.jsonList,
        "bounding": caps.bounding.jsonList,
        "ambient": caps.ambient.jsonList,
        "no_new_privs": .from(caps.noNewPrivs),
        "cap_last_cap": .int(caps.lastCap),
        "effective_class": .string(caps.effectiveClassification.rawValue),
        "added_to_docker_default": .from(added.names),
        "missing_from_docker_default": .from(missing.names),
      ]
      var evidence = caps.evidence
      evidence.append("Docker's default set is 0x\(docker.hex) (14 capabilities, moby oci/caps/defaults.go); Podman's is 0x\(CapabilitySet.podmanDefault.hex) (11).")
      return verdict(.info, summary(caps, added: added, missing: missing), evidence: evidence, facts: facts)
    }
  }

  func summary(_ caps: CapabilityState, added: CapabilitySet, missing: CapabilitySet) -> String {
    let count = caps.effective.numbers.count
    let full = CapabilitySet.full(lastCap: caps.lastCap)
    var text: String
    switch caps.effectiveClassification {
    case .dockerDefault: text = "Effective set is Docker's default (14 capabilities)"
    case .podmanDefault: text = "Effective set is Podman's default (11 capabilities)"
    case .full: text = "Effective set is full (all \(caps.lastCap + 1) capabilities)"
    case .empty: text = "Effective set is empty"
    case .custom:
      let absent = full.subtracting(caps.effective)
      if absent.numbers.count <= 3 {
        text = "Effective set is custom: all capabilities but \(absent.names.joined(separator: ", "))"
      } else {
        text = "Effective set is custom (\(count) capabilities)"
      }
    }
    if caps.effectiveClassification != .dockerDefault && caps.effectiveClassification != .empty {
      var diff: [String] = []
      if !added.isEmpty { diff.append(added.numbers.count > 4 ? "+\(added.numbers.count) capabilities" : added.names.map { "+" + $0 }.joined(separator: " ")) }
      if !missing.isEmpty { diff.append(missing.names.map { "-" + $0 }.joined(separator: " ")) }
      if !diff.isEmpty { text += "; against Docker's default: " + diff.joined(separator: " ") }
    }
    if caps.noNewPrivs == true { text += "; no_new_privs set" }
    return text
  }
}
