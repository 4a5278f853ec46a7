/// `runtime`: which container runtime started this process.
public struct RuntimeProbe: Probe {
  public init() {}
  public let id = "runtime"
  public let title = "Container runtime"
  public let abstract = "Docker, Podman, containerd/Kubernetes, Concourse, LXC, systemd-nspawn or none, with the marks used"
  public let isolation = Isolation.inProcess

  static let names: [RuntimeDetection.Runtime: String] = [
    .docker: "Docker", .podman: "Podman", .kubernetes: "Kubernetes", .containerd: "containerd",
    .concourse: "Concourse", .lxc: "LXC", .systemdNspawn: "systemd-nspawn",
    .container: "a container whose runtime left no marks", .none: "no container",
  ]

  public func run(_ context: ProbeContext) -> ProbeResult {
    let detection = context.snapshot.runtime
    let name = RuntimeProbe.names[detection.runtime] ?? detection.runtime.rawValue
    let summary = detection.runtime == .none ? "Not in a container" : "Running under \(name)"
    return verdict(
      .info, summary, evidence: detection.evidence, facts: ["runtime": .string(detection.runtime.rawValue)])
  }
}
