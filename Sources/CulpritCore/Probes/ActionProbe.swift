/// An action probe: one that makes risky calls in a child and judges what came back.
///
/// Its work is split in two, so that every verdict can be tested from data:
/// - `observe` runs in the child and only makes calls and reads files, recording what it called
///   and what came back in an `Observations` value (Codable: a fixture can hold it);
/// - `observations(after:)` and `observationsWithoutChild` say what was seen when the child
///   ended without a result (killed, trapped, timed out) or could not be created;
/// - `judge` is a pure static function of the observations and the snapshot's facts: no I/O,
///   no clock, no pid. The same observations always give the same verdict.
public protocol ActionProbe: Probe {
  associatedtype Observations: Codable & Sendable
  init()
  /// Makes the probe's calls (in the child) and records them.
  func observe(_ context: ProbeContext) -> Observations
  /// What the probe saw when its child ended without a result.
  func observations(after outcome: ChildOutcome, context: ProbeContext) -> Observations
  /// What the probe saw when no child could be created (`forkError`), from culprit's own process.
  func observationsWithoutChild(_ context: ProbeContext, forkError: Errno) -> Observations
  /// The verdict: a pure function of what was observed and the snapshot.
  static func judge(_ observations: Observations, _ facts: SnapshotFacts) -> ProbeResult
}

extension ActionProbe {
  public func run(_ context: ProbeContext) -> ProbeResult {
    Self.judge(observe(context), SnapshotFacts(context.snapshot))
  }

  public func interpret(_ outcome: ChildOutcome, context: ProbeContext) -> ProbeResult {
    Self.judge(observations(after: outcome, context: context), SnapshotFacts(context.snapshot))
  }

  public func runWithoutChild(_ context: ProbeContext, forkError: Errno) -> ProbeResult {
    Self.judge(observationsWithoutChild(context, forkError: forkError), SnapshotFacts(context.snapshot))
  }

  /// A result carrying this probe's id and title, for the static `judge`.
  static func verdict(
    _ status: Status, layer: Layer? = nil, _ summary: String, evidence: [String] = [], hint: String? = nil,
    facts: JSONObject = [:]
  ) -> ProbeResult {
    Self().verdict(status, layer: layer, summary, evidence: evidence, hint: hint, facts: facts)
  }
}

// MARK: Recorded values

extension Errno: Codable {
  /// Encoded by name ("EPERM"), which is what a person reading a fixture compares with strace.
  public func encode(to encoder: any Encoder) throws {
    var container = encoder.singleValueContainer()
    try container.encode(name)
  }

  public init(from decoder: any Decoder) throws {
    let container = try decoder.singleValueContainer()
    if let number = try? container.decode(Int32.self) {
      self.init(rawValue: number)
      return
    }
    let name = try container.decode(String.self)
    guard let number = (1...4095).first(where: { Errno(rawValue: Int32($0)).name == name }) else {
      throw DecodingError.dataCorruptedError(in: container, debugDescription: "unknown errno name \(name)")
    }
    self.init(rawValue: Int32(number))
  }
}

/// The result of a call that returns a number or fails with an errno.
public struct CallResult: Codable, Equatable, Sendable {
  public var value: Int?
  public var errno: Errno?

  public init(_ result: Result<Int, Errno>) {
    switch result {
    case .success(let value): self.value = value
    case .failure(let err): self.errno = err
    }
  }

  public static func failed(_ err: Errno) -> CallResult { CallResult(.failure(err)) }
  public static func returned(_ value: Int) -> CallResult { CallResult(.success(value)) }

  public var result: Result<Int, Errno> {
    if let errno { return .failure(errno) }
    return .success(value ?? 0)
  }
}

/// A call that returns nothing but may fail: nil errno means it succeeded.
public struct VoidResult: Codable, Equatable, Sendable {
  public var errno: Errno?
  public init(_ result: Result<Void, Errno>) { errno = result.failure }
  public init(errno: Errno?) { self.errno = errno }
  public var result: Result<Void, Errno> { errno.map { .failure($0) } ?? .success(()) }
  public static let ok = VoidResult(errno: nil)
}

/// How a probe's child ended when it gave no result, or that it could not be created.
public struct ProbeEnding: Codable, Equatable, Sendable {
  public enum Kind: String, Codable, Sendable {
    case exited, signaled, trapped
    case timedOut = "timed-out"
    case forkFailed = "fork-failed"
  }
  public var kind: Kind
  public var exitCode: Int32?
  public var signal: Int32?
  public var trapSyscall: Int32?
  public var trapData: Int32?
  public var afterMilliseconds: Int?
  public var outputBytes: Int?
  public var forkError: Errno?
  public var lastStep: String?
  public var pid: Int32?
  /// For a fork refused with EAGAIN: the task limits read in culprit's process at that moment.
  public var limits: TaskLimits?

  public init(kind: Kind, lastStep: String? = nil) {
    self.kind = kind
    self.lastStep = lastStep
  }

  public init(_ outcome: ChildOutcome) {
    lastStep = outcome.lastStep
    pid = outcome.pid
    switch outcome.ending {
    case .exited(let code, let output):
      kind = .exited
      exitCode = code
      outputBytes = output.count
    case .signaled(let signal, _):
      kind = .signaled
      self.signal = signal
    case .trapped(let trap, _):
      kind = .trapped
      signal = 31
      trapSyscall = trap.syscall
      trapData = trap.data
    case .timedOut(let ms, _):
      kind = .timedOut
      afterMilliseconds = ms
    }
  }

  public static func forkFailed(_ err: Errno, limits: TaskLimits? = nil) -> ProbeEnding {
    var ending = ProbeEnding(kind: .forkFailed)
    ending.forkError = err
    ending.limits = limits
    return ending
  }

  /// A failed fork, with the task limits read now when it failed with EAGAIN (the pids
  /// controller and RLIMIT_NPROC are the usual reasons).
  public static func forkFailed(_ err: Errno, _ context: ProbeContext) -> ProbeEnding {
    let limits = err == .resourceTemporarilyUnavailable
      ? TaskLimits.read(context.snapshot.source, snapshot: context.snapshot, countTasks: false) : nil
    return forkFailed(err, limits: limits)
  }

  /// The sentences that explain a failed fork from `limits`.
  public var forkEvidence: [String] {
    guard let limits else { return [] }
    var evidence = limits.pids.prefix(1).map {
      "\($0.directory)/pids.current is \($0.current.map(String.init) ?? "unreadable") of pids.max \($0.max.map(String.init) ?? "max")."
    }
    evidence.append("RLIMIT_NPROC is \(ProcessLimits.describe(limits.nprocSoft)).")
    return evidence
  }

  /// The child outcome again, for the shared wording (`standardInterpretation`); nil for a
  /// fork that failed.
  public var outcome: ChildOutcome? {
    let ending: ChildEnding
    switch kind {
    case .exited: ending = .exited(code: exitCode ?? 0, output: [UInt8](repeating: 0, count: outputBytes ?? 0))
    case .signaled: ending = .signaled(signal: signal ?? 0, output: [])
    case .trapped: ending = .trapped(TrapRecord(syscall: trapSyscall ?? -1, data: trapData ?? 0, arch: 0), output: [])
    case .timedOut: ending = .timedOut(afterMilliseconds: afterMilliseconds ?? 0, output: [])
    case .forkFailed: return nil
    }
    return ChildOutcome(ending: ending, lastStep: lastStep, pid: pid ?? 0, elapsedMilliseconds: afterMilliseconds ?? 0)
  }

  /// Killed by SIGSYS or trapped: a seccomp KILL or TRAP action.
  public var isSeccomp: Bool { kind == .trapped || (kind == .signaled && signal == 31) }
}

// MARK: The snapshot, as data

/// What the action probes' verdicts need from the snapshot, as plain values: the layers'
/// states read before the probe ran. A fixture holds it beside the observations.
public struct SnapshotFacts: Codable, Equatable, Sendable {
  public var kernelRelease: String?
  public var machine: String
  /// culprit's own (static) glibc version; nil for a musl build.
  public var ownLibcVersion: String?
  public var imageLibcFamily: String
  public var imageLibcVersion: String?

  public var uid: UInt32
  /// CapEff, as bits; nil when unreadable.
  public var capEffective: UInt64?

  public var yamaScope: Int?
  public var yamaEvidence: [String]

  /// "AppArmor profile NAME (enforce)" or "SELinux context …", when a module confines this process.
  public var lsmConfinement: String?
  /// Whether that confinement is enforcing (AppArmor "(enforce)", SELinux enforcing); nil when
  /// it cannot be told.
  public var lsmEnforcing: Bool?
  public var lsmEvidence: [String]

  public var initialUserNamespace: Bool?
  public var userNamespaceEvidence: [String]

  /// "v1", "v2" or "hybrid".
  public var cgroupVersion: String?
  public var devicesList: [String]?
  public var devicesListFile: String?

  public var mounts: [Mount]?
  public var seccompEvidence: [String]

  public init(
    kernelRelease: String? = "6.1.0-test", machine: String = "x86_64", ownLibcVersion: String? = "2.36",
    imageLibcFamily: String = "glibc", imageLibcVersion: String? = "2.36", uid: UInt32 = 0, capEffective: UInt64? = nil,
    yamaScope: Int? = nil, yamaEvidence: [String] = [], lsmConfinement: String? = nil, lsmEnforcing: Bool? = nil,
    lsmEvidence: [String] = [], initialUserNamespace: Bool? = true, userNamespaceEvidence: [String] = [],
    cgroupVersion: String? = "v2", devicesList: [String]? = nil, devicesListFile: String? = nil, mounts: [Mount]? = nil,
    seccompEvidence: [String] = []
  ) {
    self.kernelRelease = kernelRelease
    self.machine = machine
    self.ownLibcVersion = ownLibcVersion
    self.imageLibcFamily = imageLibcFamily
    self.imageLibcVersion = imageLibcVersion
    self.uid = uid
    self.capEffective = capEffective
    self.yamaScope = yamaScope
    self.yamaEvidence = yamaEvidence
    self.lsmConfinement = lsmConfinement
    self.lsmEnforcing = lsmEnforcing
    self.lsmEvidence = lsmEvidence
    self.initialUserNamespace = initialUserNamespace
    self.userNamespaceEvidence = userNamespaceEvidence
    self.cgroupVersion = cgroupVersion
    self.devicesList = devicesList
    self.devicesListFile = devicesListFile
    self.mounts = mounts
    self.seccompEvidence = seccompEvidence
  }

  public init(_ snapshot: Snapshot) {
    let lsm = snapshot.lsm
    self.init(
      kernelRelease: snapshot.kernel.value?.uname.release, machine: snapshot.machine, ownLibcVersion: Sys.ownLibcVersion,
      imageLibcFamily: snapshot.libc.family.rawValue, imageLibcVersion: snapshot.libc.version, uid: snapshot.identity.uid,
      capEffective: snapshot.capabilities.value?.effective.bits, yamaScope: snapshot.yama.scope,
      yamaEvidence: snapshot.yama.evidence, lsmConfinement: lsm.confinement, lsmEnforcing: lsm.enforcing,
      lsmEvidence: lsm.evidence, initialUserNamespace: snapshot.userns.isInitial,
      userNamespaceEvidence: snapshot.userns.evidence, cgroupVersion: snapshot.cgroup.version?.rawValue,
      devicesList: snapshot.cgroup.devicesList, devicesListFile: snapshot.cgroup.devicesListFile,
      mounts: snapshot.mounts.value?.mounts, seccompEvidence: snapshot.seccomp.evidence)
  }

  public var kernelVersion: KernelVersion? { kernelRelease.flatMap(KernelVersion.init(release:)) }
  public var capabilities: CapabilitySet? { capEffective.map(CapabilitySet.init(bits:)) }
  public func has(_ capability: Int) -> Bool? { capabilities?.contains(capability) }
  public var mountTable: MountTable? { mounts.map(MountTable.init(mounts:)) }
  public var cgroup: CgroupState.Version? { cgroupVersion.flatMap(CgroupState.Version.init(rawValue:)) }
  public var imageLibc: ImageLibc {
    ImageLibc(family: ImageLibc.Family(rawValue: imageLibcFamily) ?? .none, version: imageLibcVersion, path: nil, evidence: [])
  }
  /// The confinement, when it is known to enforce (the LSM rule: only an enforcing module
  /// refuses anything).
  public var enforcingConfinement: String? { lsmEnforcing == false ? nil : lsmConfinement }
}
