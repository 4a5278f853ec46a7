/// Fixes that more than one probe gives, worded for the runtimes people use. Probe-specific
/// hints live with their probe.
public enum Hints {
  public static let seccompKill =
    "A seccomp profile kills or traps this call. Find the rule in the profile the runtime applies (Docker: --security-opt seccomp=PROFILE.json; Podman: the same flag or containers.conf `seccomp_profile`; Kubernetes: securityContext.seccompProfile) and change its action to SCMP_ACT_ALLOW, or to SCMP_ACT_ERRNO with errno 38 (ENOSYS) where a fallback exists. To confirm, rerun with --security-opt seccomp=unconfined (Kubernetes: seccompProfile type Unconfined)."

  /// How to grant one capability, per runtime.
  public static func grantCapability(_ name: String) -> String {
    let short = name.hasPrefix("CAP_") ? String(name.dropFirst(4)) : name
    return
      "Grant \(name): Docker/Podman `--cap-add \(short)`; Kubernetes `securityContext.capabilities.add: [\"\(short)\"]`; Concourse runs tasks with all capabilities only when the step sets `privileged: true`."
  }
}
