import Foundation
import Testing

@testable import CulpritCore

/// The action probes' verdicts as pure functions: observations and snapshot facts in, a verdict
/// out. Each case is a situation the kernel produced in scripts/vm-matrix.sh's VM or on this
/// machine (the fixture tests replay the recorded ones; these pin each branch by itself).
@Suite struct ActionProbeJudgeTests {
  static let root: UInt64 = 0x1ff_ffff_ffff
  static func without(_ capability: Int) -> UInt64 { root & ~(UInt64(1) << UInt64(capability)) }

  // MARK: thread

  static func limits(max: Int, current: Int, own: Int?, refusals: Int = 1) -> TaskLimits {
    TaskLimits(
      pids: [.init(directory: "/sys/fs/cgroup/c8", max: max, current: current, refusals: refusals)], nprocSoft: nil,
      realUID: 0, tasksOfUID: nil, exemptFromNproc: true, threadsMax: 100_000, threadsNow: 90, culpritTasks: own)
  }

  static func threadRun(threadError: Errno?, clone3: Errno = .invalidArgument, after: TaskLimits? = nil) -> ThreadProbe.Observations {
    ThreadProbe.Observations(
      clone3: .failed(clone3), clone: .failed(.invalidArgument), threadError: threadError, threadTried: true,
      threadRan: threadError == nil, before: after.map { var b = $0; b.pids[0].refusals = 0; return b }, after: after)
  }

  struct ThreadCase: CustomTestStringConvertible, Sendable {
    var name: String
    var observations: ThreadProbe.Observations
    var status: Status
    var layer: Layer?
    var summary: String
    var testDescription: String { name }
  }

  static let threadCases: [ThreadCase] = [
    .init(name: "threads work", observations: threadRun(threadError: nil), status: .ok, layer: nil, summary: "Threads work"),
    .init(
      name: "clone3 EPERM", observations: threadRun(threadError: .notPermitted, clone3: .notPermitted), status: .blocked,
      layer: .seccomp, summary: "answers clone3 with EPERM"),
    .init(
      name: "clone3 ENOSYS falls back", observations: threadRun(threadError: nil, clone3: .noFunction), status: .ok, layer: nil,
      summary: "glibc falls back to clone"),
    // pids.max 2, culprit and its probe child hold both: a lone program has room for one.
    .init(
      name: "pids.max 2 filled by culprit", observations: threadRun(threadError: .resourceTemporarilyUnavailable, after: limits(max: 2, current: 2, own: 2)),
      status: .degraded, layer: .cgroupPids, summary: "Threads start, but only one at a time"),
    // pids.max 3 beside a PID 1 that is not culprit's: again room for one.
    .init(
      name: "pids.max 3 beside PID 1", observations: threadRun(threadError: .resourceTemporarilyUnavailable, after: limits(max: 3, current: 3, own: 2)),
      status: .degraded, layer: .cgroupPids, summary: "only one at a time"),
    // Whenever the probe's child ran, a lone program has at least that child's task: the room is
    // culprit's own tasks less one. Here the other processes hold all but culprit's two.
    .init(
      name: "pids.max 8, six tasks not culprit's", observations: threadRun(threadError: .resourceTemporarilyUnavailable, after: limits(max: 8, current: 8, own: 2)),
      status: .degraded, layer: .cgroupPids, summary: "pids.max 8 leaves a program running here alone room for 1 task"),
    // culprit's tasks not counted: no claim about a lone program, the limit is blamed.
    .init(
      name: "pids full, own tasks unknown", observations: threadRun(threadError: .resourceTemporarilyUnavailable, after: limits(max: 2, current: 2, own: nil)),
      status: .blocked, layer: .cgroupPids, summary: "the pids cgroup limit is reached"),
    .init(
      name: "pids.max 1: culprit cannot fork",
      observations: ThreadProbe.Observations(after: limits(max: 1, current: 1, own: 1), ending: .forkFailed(.resourceTemporarilyUnavailable)),
      status: .blocked, layer: .cgroupPids, summary: "No new thread or process can be created"),
    .init(
      name: "killed in clone3", observations: ThreadProbe.Observations(ending: killed(step: ThreadProbe.stepClone3)), status: .blocked,
      layer: .seccomp, summary: "kills clone3"),
  ]

  static func killed(step: String) -> ProbeEnding {
    var ending = ProbeEnding(kind: .signaled, lastStep: step)
    ending.signal = 31
    return ending
  }

  @Test(arguments: threadCases)
  func thread(_ c: ThreadCase) {
    let result = ThreadProbe.judge(c.observations, SnapshotFacts(capEffective: Self.root))
    #expect(result.status == c.status, "\(result.summary)")
    #expect(result.layer == c.layer)
    #expect(result.summary.contains(c.summary), "\(result.summary)")
    if c.status == .degraded {
      #expect(result.facts["image_affected"] == .bool(false))
      #expect(result.facts["room_for_lone_program"] == .int(1))
    }
  }

  // MARK: ptrace-attach

  typealias Attempt = PtraceAttachProbe.Attempt

  static func attempts(child: Errno? = nil, sibling: Errno? = nil, nonDumpable: Errno? = nil, otherUID: Errno? = nil) -> [Attempt] {
    func outcome(_ err: Errno?) -> PtraceAttachProbe.Outcome {
      err.map { .refused($0, tracedBy: 0) } ?? .attached(detached: true, notes: [])
    }
    return [
      Attempt(target: .child, targetPID: 11, tracerPID: 10, outcome: outcome(child)),
      Attempt(target: .nonDescendant, targetPID: 11, tracerPID: 12, outcome: outcome(sibling)),
      Attempt(target: .nonDumpable, targetPID: 13, tracerPID: 10, outcome: outcome(nonDumpable)),
      Attempt(target: .otherUID, targetPID: 14, tracerPID: 10, outcome: outcome(otherUID)),
    ]
  }

  static func ptrace(_ attempts: [Attempt], yama: Int?, caps: UInt64 = root, confinement: String? = nil) -> ProbeResult {
    PtraceAttachProbe.judge(
      PtraceAttachProbe.Observations(pid: 10, check: .failed(.noSuchProcess), dumpable: 1, attempts: attempts),
      SnapshotFacts(capEffective: caps, yamaScope: yama, lsmConfinement: confinement, lsmEnforcing: confinement.map { _ in true }))
  }

  @Test func yamaOneRefusesANonDescendant() {
    let result = Self.ptrace(Self.attempts(sibling: .notPermitted, nonDumpable: .notPermitted), yama: 1, caps: Self.without(Capability.sysPtrace) & ~(1 << 7))
    #expect(result.status == .degraded && result.layer == .yama)
    #expect(result.hint?.contains("dlv exec") == true, "scope 1 allows starting the program under the debugger")
  }

  @Test func yamaTwoHintOffersNoTracemeWorkaround() throws {
    let result = Self.ptrace(Self.attempts(child: .notPermitted, sibling: .notPermitted), yama: 2, caps: Self.without(Capability.sysPtrace))
    #expect(result.status == .blocked && result.layer == .yama)
    let hint = try #require(result.hint)
    #expect(hint.contains("refuses PTRACE_TRACEME too"))
    #expect(!hint.contains("so that it is a descendant"))
    #expect(hint.contains("--cap-add SYS_PTRACE"))
  }

  @Test func yamaThreeHintSaysOnlyAReboot() throws {
    let result = Self.ptrace(Self.attempts(child: .notPermitted, sibling: .notPermitted, nonDumpable: .notPermitted, otherUID: .notPermitted), yama: 3)
    #expect(result.status == .blocked && result.layer == .yama)
    let hint = try #require(result.hint)
    #expect(hint.contains("PTRACE_TRACEME too") && hint.contains("Reboot"))
    #expect(!hint.contains("so that it is a descendant"))
    #expect(!hint.contains("--cap-add"), "no capability helps at scope 3")
  }

  /// AppArmor `deny capability sys_ptrace`: the capability check fails with EPERM where the
  /// target needs it. The verdict names the profile, and says nothing false about the target.
  @Test func appArmorDenyingTheCapabilityIsTheLSM() throws {
    let result = Self.ptrace(
      Self.attempts(nonDumpable: .notPermitted, otherUID: .notPermitted), yama: 0, confinement: "AppArmor profile c8-deny-cap-ptrace (enforce)")
    #expect(result.status == .degraded && result.layer == .lsm)
    #expect(result.summary.contains("c8-deny-cap-ptrace"))
    #expect(!result.evidence.joined().contains("the ids match, the target is dumpable"))
    #expect(result.evidence.contains { $0.contains("the target is not dumpable, which CAP_SYS_PTRACE (effective) allows") })
    #expect(result.hint?.contains("deny capability sys_ptrace") == true)
  }

  /// The same refusals without a confining module: no layer is known, and the sentence says
  /// what the kernel's checks allowed.
  @Test func unexplainedEPERMWithoutAModuleIsUnknown() {
    let result = Self.ptrace(Self.attempts(nonDumpable: .notPermitted), yama: 0)
    #expect(result.layer == .unknown)
    #expect(!result.evidence.joined().contains("the ids match, the target is dumpable"))
  }

  @Test func appArmorDenyingPtraceAnswersEACCES() {
    let result = Self.ptrace(
      Self.attempts(child: .permissionDenied, sibling: .permissionDenied, nonDumpable: .permissionDenied, otherUID: .permissionDenied),
      yama: 0, confinement: "AppArmor profile c8-deny-ptrace (enforce)")
    #expect(result.status == .blocked && result.layer == .lsm)
    #expect(result.summary.contains("c8-deny-ptrace"))
  }

  // MARK: mknod

  static let tmp = Mount(
    id: 1, parentID: 0, device: "0:20", root: "/", mountPoint: "/tmp", options: ["rw", "relatime"], fsType: "tmpfs", source: "tmpfs",
    superOptions: ["rw"])

  static func nodes(char: Errno?, open: Errno? = .noSuchDeviceOrAddress) -> [MknodProbe.Node] {
    MknodProbe.Kind.allCases.map { kind in
      let device = DeviceNumber(major: kind == .fifo ? 0 : 60, minor: 0)
      let err = kind == .fifo ? nil : char
      var node = MknodProbe.Node(kind: kind, device: device, mknod: VoidResult(errno: err))
      if err == nil {
        node.stat = NodeStatus(type: kind.fileType, device: device, call: "statx")
        if kind != .fifo {
          node.read = VoidResult(errno: open)
          node.write = VoidResult(errno: .noSuchDeviceOrAddress)
        }
        node.unlink = .ok
      }
      return node
    }
  }

  static func mknod(
    nodes: [MknodProbe.Node], mkdir: Errno? = nil, mode: UInt32 = 0o41777, uid: UInt32 = 0, caps: UInt64 = root,
    confinement: String? = nil, enforcing: Bool? = true, cgroup: String = "v2"
  ) -> ProbeResult {
    let place = MknodProbe.Place(
      candidate: .init(source: "/tmp", path: "/tmp"), realPath: "/tmp", mode: mode, owner: 0, mkdir: VoidResult(errno: mkdir))
    let made = mkdir == nil
    let observations = MknodProbe.Observations(
      check: .failed(.invalidArgument), charDevice: DeviceNumber(major: 60, minor: 0), blockDevice: DeviceNumber(major: 60, minor: 0),
      places: [place], chosen: made ? 0 : nil, directory: made ? "/tmp/.culprit-mknod-7" : nil, nodes: made ? nodes : [],
      directoryRemoved: made ? .ok : nil)
    let facts = SnapshotFacts(
      uid: uid, capEffective: caps, lsmConfinement: confinement, lsmEnforcing: confinement == nil ? nil : enforcing, cgroupVersion: cgroup,
      mounts: [tmp])
    return MknodProbe.judge(observations, facts)
  }

  /// AppArmor `deny capability mknod,` on cgroup v2: the capability check's LSM hook refuses
  /// before any device cgroup is consulted (issue 8, defect 1).
  @Test func appArmorDenyingCapMknodIsNotTheDevicesCgroup() {
    let result = Self.mknod(nodes: Self.nodes(char: .notPermitted), confinement: "AppArmor profile c8-deny-cap-mknod (enforce)")
    #expect(result.status == .degraded && result.layer == .lsm)
    #expect(result.summary.contains("c8-deny-cap-mknod") && !result.summary.contains("BPF device program"))
  }

  @Test func withoutAModuleTheV2EPERMIsTheDevicesCgroup() {
    #expect(Self.mknod(nodes: Self.nodes(char: .notPermitted)).layer == .cgroupDevices)
    // A profile in complain mode refuses nothing.
    #expect(Self.mknod(nodes: Self.nodes(char: .notPermitted), confinement: "AppArmor profile x (complain)", enforcing: false).layer == .cgroupDevices)
  }

  @Test func withoutCapMknodItIsTheCapability() {
    let result = Self.mknod(nodes: Self.nodes(char: .notPermitted), caps: Self.without(Capability.mknod), confinement: "AppArmor profile docker-default (enforce)")
    #expect(result.layer == .capabilities)
  }

  /// EACCES on mkdir in a 1777 directory on a rw mount while a profile enforces: the module
  /// (issue 8, defect 3), not a skipped probe.
  @Test func mkdirRefusedInAWorldWritableDirectoryIsTheLSM() {
    let result = Self.mknod(nodes: [], mkdir: .permissionDenied, confinement: "AppArmor profile c8-deny-tmp-write (enforce)")
    #expect(result.status == .degraded && result.layer == .lsm)
    #expect(result.summary.contains("c8-deny-tmp-write") && result.summary.contains("1777"))
  }

  /// The same EACCES where the directory's own permissions explain it stays a skipped probe.
  @Test func mkdirRefusedByTheDirectoryModeIsNoFinding() {
    let result = Self.mknod(
      nodes: [], mkdir: .permissionDenied, mode: 0o40755, uid: 1000, caps: 0, confinement: "AppArmor profile docker-default (enforce)")
    #expect(result.status == .skipped && result.layer == nil)
  }

  @Test func openRefusedByAProfileIsTheLSM() {
    let result = Self.mknod(nodes: Self.nodes(char: nil, open: .permissionDenied), confinement: "AppArmor profile c8-deny-dev-read (enforce)")
    #expect(result.status == .degraded && result.layer == .lsm)
  }

  // MARK: Recording

  /// Observations survive the trip through the Foundation-free encoder, the text a fixture
  /// holds, and Foundation's decoder (what the fixture tests use).
  @Test func observationsRoundTrip() throws {
    func trip<T: Codable & Equatable>(_ value: T) throws -> T {
      let text = try JSONValueEncoder.encode(value).serialized(pretty: true)
      return try JSONDecoder().decode(T.self, from: Data(text.utf8))
    }
    let thread = Self.threadRun(threadError: .resourceTemporarilyUnavailable, after: Self.limits(max: 2, current: 2, own: 2))
    #expect(try trip(thread) == thread)
    let ptrace = PtraceAttachProbe.Observations(
      pid: 10, check: .failed(.noSuchProcess), dumpable: 1,
      attempts: Self.attempts(nonDumpable: .notPermitted) + [Attempt(target: .otherUID, tracerPID: 10, outcome: .notRun("no CAP_SETUID"))],
      ending: nil)
    #expect(try trip(ptrace) == ptrace)
    var killed = PtraceAttachProbe.Observations(pid: 3, ending: Self.killed(step: "ptrace"))
    killed.attempts = [Attempt(target: .nonDescendant, tracerPID: 4, outcome: .killed(Self.killed(step: "x")))]
    #expect(try trip(killed) == killed)
    let place = MknodProbe.Place(candidate: .init(source: "/tmp", path: "/tmp"), realPath: "/tmp", mode: 0o41777, owner: 0, mkdir: .ok)
    let mknod = MknodProbe.Observations(
      check: .failed(.invalidArgument), charDevice: DeviceNumber(major: 60, minor: 0), places: [place], chosen: 0, directory: "/tmp/d",
      nodes: Self.nodes(char: .notPermitted), directoryRemoved: .ok)
    #expect(try trip(mknod) == mknod)
    let facts = SnapshotFacts(capEffective: Self.root, yamaScope: 1, lsmConfinement: "AppArmor profile p (enforce)", mounts: [Self.tmp])
    #expect(try trip(facts) == facts)
  }
}
