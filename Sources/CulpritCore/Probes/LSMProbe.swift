/// `lsm`: active Linux security modules and this process's label.
public struct LSMProbe: Probe {
  public init() {}
  public let id = "lsm"
  public let title = "Security modules"
  public let abstract = "Active LSMs when visible, the AppArmor profile and the SELinux context of this process"
  public let isolation = Isolation.inProcess

  public func run(_ context: ProbeContext) -> ProbeResult {
    let lsm = context.snapshot.lsm
    let facts: JSONObject = [
      "active": lsm.active.map(JSONValue.from) ?? .null,
      "apparmor_profile": .from(lsm.appArmorProfile),
      "apparmor_enabled": .from(lsm.appArmorEnabled),
      "selinux_context": .from(lsm.seLinuxContext),
      "selinux_enforcing": .from(lsm.seLinuxEnforcing),
    ]
    var parts: [String] = []
    if let active = lsm.active { parts.append("active: \(active.joined(separator: ","))") }
    if let profile = lsm.appArmorProfile { parts.append("AppArmor profile \(profile)") }
    if let context = lsm.seLinuxContext {
      parts.append("SELinux context \(context)" + (lsm.seLinuxEnforcing.map { $0 ? " (enforcing)" : " (permissive)" } ?? ""))
    }
    if lsm.appArmorProfile == nil && lsm.seLinuxContext == nil { parts.append("no AppArmor or SELinux label on this process") }
    return verdict(.info, parts.joined(separator: "; "), evidence: lsm.evidence, facts: facts)
  }
}
