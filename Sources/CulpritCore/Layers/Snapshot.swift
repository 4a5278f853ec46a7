/// Everything the layer readers can say about this process, read on first use and kept. The
/// runner reads what the probes need before it forks, so probe children inherit it instead of
/// reading it again.
///
/// Not thread-safe, and it need not be: culprit's own path is single-threaded.
public final class Snapshot {
  public let source: SystemSource

  public init(source: SystemSource = LiveSystem()) {
    self.source = source
  }

  public lazy var status: Result<ProcStatus, Errno> = ProcStatus.read(source)
  public lazy var kernel: Result<KernelInfo, Errno> = KernelInfo.read(source)
  public lazy var libc: ImageLibc = ImageLibc.read(source, machine: machine)
  public lazy var capabilities: Result<CapabilityState, ReadFailure> = CapabilityState.read(source, status: status)
  public lazy var seccomp: SeccompState = SeccompState.read(source, status: status)
  public lazy var mounts: Result<MountTable, Errno> = MountTable.read(source)
  public lazy var cgroup: CgroupState = CgroupState.read(source, mounts: mounts.value)
  public lazy var yama: YamaState = YamaState.read(source)
  public lazy var lsm: LSMState = LSMState.read(source)
  public lazy var userns: UserNamespaceState = UserNamespaceState.read(source)
  public lazy var runtime: RuntimeDetection = RuntimeDetection.read(
    source, mounts: mounts.value, memberships: cgroup.memberships)
  public lazy var limits: ProcessLimits = ProcessLimits.read(source)
  public lazy var identity: Sys.Identity = source.identity()

  /// uname's machine ("x86_64"), or "unknown".
  public var machine: String { kernel.value?.machine ?? "unknown" }

  /// The parsed kernel version, when uname's release starts with one.
  public var kernelVersion: KernelVersion? { kernel.value?.version }

  /// The header every format shows.
  public var hostInfo: HostInfo {
    let uname = kernel.value?.uname
    return HostInfo(
      kernelRelease: uname?.release ?? "unknown", machine: machine, hostname: uname?.nodename ?? "unknown",
      runtime: runtime.runtime.rawValue, libc: libc.display, uid: identity.uid, gid: identity.gid)
  }
}
