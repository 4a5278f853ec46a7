/// The runtime that will load a profile, and what it does differently with it. A profile is
/// not a filter: Docker, Podman and containerd read it (and decide includes/excludes), then an
/// OCI runtime (runc or crun) compiles it with libseccomp, and only runc prepends its -ENOSYS
/// stub. The differences, each from the loader's source:
///
/// | runtime | loader | defaultErrnoRet | includes/excludes | -ENOSYS stub |
/// |---|---|---|---|---|
/// | docker-20.10 | moby 20.10 `profiles/seccomp` + runc | **dropped** (moby#42604, in Engine 23.0) | decided | yes (runc ≥ 1.0.0-rc93) |
/// | docker-23 | moby ≥ 23 + runc | honoured | decided | yes |
/// | containerd | containerd CRI (`contrib/seccomp`) + runc | honoured (runtime-spec field, runc ≥ 1.0.0-rc95) | decided | yes |
/// | podman | containers/common `pkg/seccomp` + crun (Podman's default runtime) | honoured | decided | **no** (crun adds none: containers/crun src/libcrun/seccomp.c) |
/// | runc | OCI `linux.seccomp` | honoured | **ignored** (not OCI fields: every rule applies) | yes |
/// | crun | OCI `linux.seccomp` | honoured | ignored | no |
///
/// All of them skip names their libseccomp does not know (runc: "unknown seccomp syscall
/// ignored"; crun: a warning) and accept rules without names as no-ops.
public enum SeccompRuntime: String, CaseIterable, Sendable {
  case docker2010 = "docker-20.10"
  case docker23 = "docker-23"
  case podman
  case runc
  case crun
  case containerd

  /// Whether the loader drops `defaultErrnoRet` (the default then answers EPERM).
  public var dropsDefaultErrnoRet: Bool { self == .docker2010 }

  /// Whether the OCI runtime underneath is runc, which prepends the -ENOSYS stub.
  public var addsENOSYSStub: Bool {
    switch self {
    case .podman, .crun: return false
    default: return true
    }
  }

  /// Whether includes/excludes (Docker's profile format) are decided before the filter is built.
  public var decidesConditions: Bool {
    switch self {
    case .runc, .crun: return false
    default: return true
    }
  }

  /// The capabilities a container gets by default, against which includes.caps are decided.
  public var defaultCapabilities: Set<String> {
    // Docker and containerd (CRI): moby's oci/caps/defaults.go, 14 capabilities.
    let docker: Set<String> = [
      "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW", "CAP_SETGID",
      "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE",
    ]
    switch self {
    // containers.conf default_capabilities: 11 (no MKNOD, NET_RAW, AUDIT_WRITE).
    case .podman: return docker.subtracting(["CAP_MKNOD", "CAP_NET_RAW", "CAP_AUDIT_WRITE"])
    default: return docker
    }
  }

  /// "Docker 20.10 (moby's loader drops defaultErrnoRet, moby#42604) with runc".
  public var display: String {
    switch self {
    case .docker2010: return "Docker 20.10 with runc"
    case .docker23: return "Docker ≥ 23 with runc"
    case .podman: return "Podman with crun"
    case .runc: return "runc"
    case .crun: return "crun"
    case .containerd: return "containerd with runc"
    }
  }
}

/// A profile as a given runtime will load it on one architecture: the filter it builds and the
/// map of that filter, computed by interpreting the BPF (exact, no kernel involved).
public struct ProfileEvaluation: Sendable {
  public var path: String
  public var runtime: SeccompRuntime
  public var arch: Architecture
  public var profile: SeccompProfile
  public var resolved: SeccompProfile.Resolved
  public var program: SeccompProgram
  public var map: SeccompMap
  /// What the runtime ignores or does differently with this profile.
  public var warnings: [String]

  /// The architectures to check: those the profile lists (of x86_64 and aarch64), or both
  /// when it lists none.
  public static func architectures(of profile: SeccompProfile) -> [Architecture] {
    var listed = profile.architectures
    listed += profile.archMap.flatMap { [$0.architecture] + $0.subArchitectures }
    let known = Architecture.allCases.filter { listed.contains($0.profileName) }
    return known.isEmpty ? Architecture.allCases : known
  }

  public static func evaluate(
    _ text: String, path: String, runtime: SeccompRuntime, arch: Architecture, kernel: KernelVersion?
  ) throws(SeccompProfileError) -> ProfileEvaluation {
    var profile = try SeccompProfile.parse(text)
    var warnings = profile.warnings
    if runtime.dropsDefaultErrnoRet, let ret = profile.defaultErrnoRet {
      warnings.append(
        "\(runtime.display) drops defaultErrnoRet (\(ret), \(Errno(rawValue: Int32(ret)).name)): the default answers EPERM (moby#42604, fixed in Docker Engine 23.0)")
      profile.defaultErrnoRet = nil
    }
    if !runtime.decidesConditions && profile.syscalls.contains(where: { !$0.includes.isEmpty || !$0.excludes.isEmpty }) {
      warnings.append(
        "\(runtime.display) reads an OCI profile, which has no includes/excludes: every rule applies, whatever the capabilities (Docker, Podman and containerd decide them)")
    }
    let target = SeccompProfile.Target(arch: arch, boundingCapabilities: runtime.defaultCapabilities, kernel: kernel)
    let resolved = try profile.resolve(for: target, dockerConditions: runtime.decidesConditions)
    for unknown in resolved.unknownNames {
      warnings.append("\(unknown.path): \"\(unknown.name)\" is unknown to culprit and to this libseccomp; runc and crun skip it, so the call gets the default action")
    }
    let program = try resolved.compile(arch: arch, enosysStub: runtime.addsENOSYSStub)
    let instructions = SeccompBPF.decode(program.instructions)
    func answer(_ call: OracleCall) throws(SeccompProfileError) -> OracleAnswer {
      let data = SeccompBPF.Data(nr: Int32(truncatingIfNeeded: call.number), arch: arch.seccompToken, args: call.arguments)
      do {
        return SeccompBPF.Verdict(try SeccompBPF.run(instructions, data)).answer
      } catch {
        throw SeccompProfileError("", "the compiled filter cannot be interpreted: \(error.description)")
      }
    }
    var answers: [OracleAnswer] = []
    for call in SeccompMap.calls(arch: arch) { answers.append(try answer(call)) }
    return ProfileEvaluation(
      path: path, runtime: runtime, arch: arch, profile: profile, resolved: resolved, program: program,
      map: SeccompMap(arch: arch, answers: answers), warnings: warnings)
  }
}
