/// Which container runtime started this process, told from the marks each one leaves: files it
/// creates, the host paths behind its bind mounts, cgroup paths and environment variables.
public struct RuntimeDetection: Sendable {
  public enum Runtime: String, Sendable, CaseIterable {
    case docker, podman, kubernetes, containerd, concourse, lxc
    case systemdNspawn = "systemd-nspawn"
    /// Isolated (private pid or mount namespace, container-like root) but unidentified: runc
    /// run by hand, or another engine.
    case container
    case none
  }

  public var runtime: Runtime
  /// Every mark found, whatever it points to.
  public var evidence: [String]

  struct Mark {
    var runtime: Runtime
    var sentence: String
    /// A marker file alone (/.dockerenv): a root filesystem copied from an image keeps it, so
    /// it counts only with isolation or another mark.
    var fileOnly = false
  }

  /// A file Docker keeps per container and bind-mounts into it: <data-root>/containers/<id>/
  /// hostname, hosts or resolv.conf. The data root is /var/lib/docker unless --data-root moved it.
  static func isDockerContainerFile(_ root: String) -> Bool {
    let parts = root.split(separator: "/")
    guard parts.count >= 3 else { return false }
    return ["hostname", "hosts", "resolv.conf"].contains(parts[parts.count - 1]) && isContainerID(parts[parts.count - 2])
      && parts[parts.count - 3] == "containers"
  }

  /// containers/storage's per-container directory (Podman; CRI-O and Buildah use it too):
  /// <runroot or root>/<driver>-containers/<id>/userdata/…, wherever --root/--runroot put it.
  static func isContainersStorageFile(_ root: String) -> Bool {
    let parts = root.split(separator: "/")
    guard let i = parts.firstIndex(where: { $0.hasSuffix("-containers") }), i + 2 < parts.count else { return false }
    return isContainerID(parts[i + 1]) && parts[i + 2] == "userdata"
  }

  /// A 64-digit lowercase hexadecimal container id.
  static func isContainerID(_ text: Substring) -> Bool {
    text.count == 64 && text.allSatisfy { ("0"..."9").contains($0) || ("a"..."f").contains($0) }
  }

  public static func read(_ source: SystemSource, mounts: MountTable?, memberships: [CgroupMembership]) -> RuntimeDetection {
    var marks: [Mark] = []
    func mark(_ runtime: Runtime, _ sentence: String, fileOnly: Bool = false) {
      marks.append(Mark(runtime: runtime, sentence: sentence, fileOnly: fileOnly))
    }
    let pidNamespace = source.readLink("/proc/self/ns/pid").value
    let initialPidNamespace = pidNamespace?.contains("4026531836") ?? false

    if source.exists("/.dockerenv") {
      mark(.docker, "/.dockerenv exists (Docker creates it in every container).", fileOnly: true)
    }
    if let env = source.readText("/run/.containerenv").value {
      let engine = env.split(separator: "\n").first { $0.hasPrefix("engine=") }.map(String.init)
      mark(.podman, "/run/.containerenv exists (Podman creates it)" + (engine.map { "; it says \($0)." } ?? "."), fileOnly: true)
    }
    if let nspawn = source.readLine("/run/systemd/container") {
      let kind: Runtime = nspawn.contains("nspawn") ? .systemdNspawn : nspawn == "lxc" ? .lxc : nspawn == "podman" ? .podman : nspawn == "docker" ? .docker : .container
      mark(kind, "/run/systemd/container says \(nspawn).")
    }
    if source.exists("/var/run/secrets/kubernetes.io/serviceaccount") {
      mark(.kubernetes, "/var/run/secrets/kubernetes.io/serviceaccount exists (the kubelet mounts a service account token).")
    }
    if let environ = source.readText("/proc/self/environ").value {
      let vars = environ.split(separator: "\0")
      if vars.contains(where: { $0.hasPrefix("KUBERNETES_SERVICE_HOST=") }) {
        mark(.kubernetes, "The environment holds KUBERNETES_SERVICE_HOST (set by the kubelet).")
      }
      if let container = vars.first(where: { $0.hasPrefix("container=") }) {
        let value = container.dropFirst("container=".count)
        let kind: Runtime = value == "lxc" ? .lxc : value == "podman" ? .podman : value == "docker" ? .docker : value.contains("nspawn") ? .systemdNspawn : .container
        mark(kind, "The environment holds \(container).")
      }
    }

    if let mounts {
      for m in mounts.mounts where m.root.contains("/docker/containers/") || isDockerContainerFile(m.root) {
        mark(.docker, "\(m.mountPoint) is bind-mounted from \(m.root) (Docker's container directory).")
        break
      }
      for m in mounts.mounts
      where m.root.contains("/containers/storage/") || m.root.contains("/libpod/") || isContainersStorageFile(m.root) {
        mark(.podman, "\(m.mountPoint) is bind-mounted from \(m.root) (Podman's storage).")
        break
      }
      for m in mounts.mounts where m.root.contains("/kubelet/pods/") {
        mark(.kubernetes, "\(m.mountPoint) is bind-mounted from \(m.root) (the kubelet's pod directory).")
        break
      }
      for m in mounts.mounts where m.root.contains("/io.containerd.") || m.root.contains("/containerd/") {
        mark(.containerd, "\(m.mountPoint) is bind-mounted from \(m.root) (containerd's state).")
        break
      }
      if let build = mounts.mounts.first(where: { $0.mountPoint.hasPrefix("/tmp/build/") }) {
        mark(.concourse, "\(build.mountPoint) is a mount point: Concourse mounts task inputs and outputs under /tmp/build/.")
      }
    }

    for m in memberships {
      let p = m.path
      if p.contains("kubepods") { mark(.kubernetes, "The cgroup path \(p) is under kubepods."); break }
      if p.contains("/docker/") || p.contains("docker-") { mark(.docker, "The cgroup path \(p) is Docker's."); break }
      if p.contains("libpod") { mark(.podman, "The cgroup path \(p) is Podman's (libpod)."); break }
      if p.contains("lxc.payload") || p.hasPrefix("/lxc/") { mark(.lxc, "The cgroup path \(p) is LXC's."); break }
      if p.contains("garden") || p.contains("concourse") { mark(.concourse, "The cgroup path \(p) is Concourse's (garden/concourse)."); break }
      if p.contains("containerd") { mark(.containerd, "The cgroup path \(p) mentions containerd."); break }
    }

    // Kubernetes runs its pods through containerd or CRI-O and sometimes Docker: the
    // orchestrator is the more useful name. Concourse also runs on containerd.
    let order: [Runtime] = [.kubernetes, .concourse, .podman, .docker, .lxc, .systemdNspawn, .containerd, .container]
    var evidence = marks.map(\.sentence)
    let counted = marks.filter { mark in
      !mark.fileOnly || !initialPidNamespace || marks.contains { !$0.fileOnly && $0.runtime == mark.runtime }
    }
    if counted.count < marks.count, let pidNamespace {
      evidence.append(
        "But /proc/self/ns/pid is \(pidNamespace), the initial pid namespace, and no other mark agrees: a marker file alone only shows that the root filesystem came from a container image.")
    }
    for candidate in order where counted.contains(where: { $0.runtime == candidate }) {
      return RuntimeDetection(runtime: candidate, evidence: evidence)
    }

    // No engine's marks: a private pid namespace still says "container"; PID 1's name is
    // only reported, since hosts run all kinds of init.
    var isolation: [String] = evidence
    if let comm = source.readLine("/proc/1/comm") { isolation.append("PID 1 is \(comm).") }
    if let pidNamespace, !initialPidNamespace {
      isolation.insert("/proc/self/ns/pid is \(pidNamespace), not the initial pid namespace (4026531836).", at: 0)
      return RuntimeDetection(
        runtime: .container,
        evidence: isolation + ["No runtime left its marks (/.dockerenv, /run/.containerenv, Kubernetes' service account, Concourse's /tmp/build mounts)."])
    }
    if let pidNamespace, marks.isEmpty {
      isolation.insert("/proc/self/ns/pid is \(pidNamespace): the initial pid namespace.", at: 0)
    }
    return RuntimeDetection(
      runtime: .none,
      evidence: isolation + (marks.isEmpty ? ["No container marks: no /.dockerenv, /run/.containerenv or /run/systemd/container, no runtime's bind mounts or cgroup paths."] : []))
  }
}
