/// Linux security modules: which are active, and this process's AppArmor profile or SELinux
/// context.
public struct LSMState: Sendable {
  /// /sys/kernel/security/lsm (needs securityfs, rarely mounted in containers).
  public var active: [String]?
  /// "docker-default (enforce)", "unconfined", …
  public var appArmorProfile: String?
  /// "system_u:system_r:container_t:s0:c1,c2".
  public var seLinuxContext: String?
  /// /sys/module/apparmor/parameters/enabled is "Y".
  public var appArmorEnabled: Bool?
  /// /sys/fs/selinux/enforce: 1 enforcing, 0 permissive.
  public var seLinuxEnforcing: Bool?
  public var evidence: [String]

  public static func read(_ source: SystemSource) -> LSMState {
    var state = LSMState(evidence: [])
    switch source.readLine("/sys/kernel/security/lsm") {
    case let list?:
      state.active = list.split(separator: ",").map(String.init)
      state.evidence.append("/sys/kernel/security/lsm: \(list).")
    case nil:
      state.evidence.append("/sys/kernel/security/lsm could not be read (securityfs not mounted here).")
    }
    if let enabled = source.readLine("/sys/module/apparmor/parameters/enabled") {
      state.appArmorEnabled = enabled == "Y"
      state.evidence.append("/sys/module/apparmor/parameters/enabled: \(enabled).")
    }
    if let enforce = source.readLine("/sys/fs/selinux/enforce") {
      state.seLinuxEnforcing = enforce == "1"
      state.evidence.append("/sys/fs/selinux/enforce: \(enforce).")
    }
    // Kernels with LSM stacking expose per-module files; older ones only attr/current.
    if let profile = source.readLine("/proc/self/attr/apparmor/current")?.trimmingNul() {
      state.appArmorProfile = profile
      state.evidence.append("/proc/self/attr/apparmor/current: \(profile).")
    }
    switch source.readText("/proc/self/attr/current") {
    case .success(let raw):
      let label = raw.trimmingNul().trimmed()
      if label.isEmpty { break }
      state.evidence.append("/proc/self/attr/current: \(label).")
      if label.split(separator: ":").count >= 3 && !label.contains(" (") {
        state.seLinuxContext = label
      } else if state.appArmorProfile == nil {
        state.appArmorProfile = label
      }
    case .failure(let err):
      state.evidence.append("/proc/self/attr/current could not be read: \(err.name) (no LSM provides a process label).")
    }
    return state
  }

  /// Whether the module confining this process enforces its policy: AppArmor's label ends in
  /// "(enforce)" (or "(kill)"), "(complain)" only logs; SELinux's /sys/fs/selinux/enforce. nil when
  /// nothing confines it or the mode cannot be told.
  public var enforcing: Bool? {
    if let profile = appArmorProfile, profile != "unconfined" {
      if profile.hasSuffix("(enforce)") || profile.hasSuffix("(kill)") { return true }
      if profile.hasSuffix("(complain)") || profile.hasSuffix("(unconfined)") { return false }
      return nil
    }
    if seLinuxContext != nil, confinement != nil { return seLinuxEnforcing }
    return nil
  }

  /// The LSM whose label this process carries, for blame: "AppArmor profile docker-default".
  public var confinement: String? {
    if let profile = appArmorProfile, profile != "unconfined" { return "AppArmor profile \(profile)" }
    if let context = seLinuxContext, !context.contains("unconfined_t"), !context.contains("spc_t") {
      return "SELinux context \(context)"
    }
    return nil
  }
}

extension StringProtocol {
  func trimmingNul() -> String { String(self.filter { $0 != "\0" }) }
}
