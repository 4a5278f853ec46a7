/// `kernel`: the kernel's release and machine, and the C library of the image.
public struct KernelProbe: Probe {
  public init() {}
  public let id = "kernel"
  public let title = "Kernel and image libc"
  public let abstract = "Kernel release and machine; the image's C library (glibc version or musl) read from its files"
  public let isolation = Isolation.inProcess

  public func run(_ context: ProbeContext) -> ProbeResult {
    let snapshot = context.snapshot
    let libc = snapshot.libc
    var evidence: [String] = []
    var facts: JSONObject = [:]
    switch snapshot.kernel {
    case .success(let kernel):
      evidence.append("uname(2): \(kernel.uname.sysname) \(kernel.uname.release) \(kernel.uname.machine), \(kernel.uname.version).")
      facts["release"] = .string(kernel.uname.release)
      facts["version"] = .string(kernel.uname.version)
      facts["machine"] = .string(kernel.uname.machine)
      facts["kernel_version"] = .from(kernel.version?.description)
    case .failure(let err):
      evidence.append("uname(2) failed: \(err.name).")
      facts["release"] = .null
      facts["version"] = .null
      facts["machine"] = .null
      facts["kernel_version"] = .null
    }
    evidence += libc.evidence
    let clone3 = libc.usesClone3ForThreads(machine: snapshot.machine)
    facts["libc"] = ["family": .string(libc.family.rawValue), "version": .from(libc.version), "path": .from(libc.path)]
    facts["libc_threads_use_clone3"] = .from(clone3)

    var summary: String
    if let kernel = snapshot.kernel.value {
      summary = "Linux \(kernel.uname.release) \(kernel.uname.machine)"
    } else {
      summary = "Kernel unknown (uname failed)"
    }
    summary += "; image libc: \(libc.family == .none ? "none (static binaries only)" : libc.display)"
    switch clone3 {
    case true?: summary += ", whose pthread_create tries clone3 first"
    case false? where libc.family == .musl: summary += ", which never calls clone3"
    case false?: summary += ", which creates threads with clone"
    case nil: break
    }
    if clone3 != nil {
      evidence.append(
        libc.family == .musl
          ? "musl creates threads with clone(2) and never calls clone3, so a clone3 rule cannot break this image's threads."
          : clone3 == true
            ? "glibc \(libc.version ?? "") on \(snapshot.machine) calls clone3 first in pthread_create and falls back to clone only on ENOSYS (glibc ≥ 2.34: sysdeps/unix/sysv/linux/clone-internal.c)."
            : "glibc \(libc.version ?? "") on \(snapshot.machine) predates its clone3 wrapper there, so pthread_create uses clone.")
    }
    return verdict(.info, summary, evidence: evidence, facts: facts)
  }
}
