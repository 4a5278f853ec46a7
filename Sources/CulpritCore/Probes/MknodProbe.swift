#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// `mknod`: whether FIFOs and device nodes can be created here and the devices opened, and
/// when not, which layer refuses.
///
/// In its child the probe first makes a mknodat call the kernel always answers EINVAL (an
/// unknown file type), so that a seccomp answer shows. It then makes a private directory,
/// `.culprit-mknod-<pid>`, in the first writable of TMPDIR, /tmp, /dev/shm, /run and the working
/// directory, creates a FIFO, a character and a block device in it, checks each node's type
/// with `st_mode & S_IFMT`, and opens the two devices for reading and for writing. The device
/// numbers use a major reserved for local use that no driver registered (/proc/devices), so
/// an open that every layer allows fails harmlessly with ENXIO, while the devices cgroup
/// answers EPERM and a nodev mount EACCES. Everything is removed in the child, and again by
/// `cleanUp(afterChild:)` should the child die half-way.
public struct MknodProbe: ActionProbe {
  public init() {}
  public let id = "mknod"
  public let title = "Device nodes"
  public let abstract = "mknod of a FIFO, a char and a block device in a temporary directory, then opening the devices"
  public let isolation = Isolation.child(budgetMilliseconds: 3000)

  /// The private directory's name for a probe child.
  public static func directoryName(pid: Int32) -> String { ".culprit-mknod-\(pid)" }

  /// A directory the probe may work in, and where it comes from.
  public struct Candidate: Codable, Equatable, Sendable {
    /// "TMPDIR", "/tmp", "/dev/shm", "/run" or "working directory".
    public var source: String
    public var path: String
  }

  /// TMPDIR, /tmp, /dev/shm, /run and the working directory, without repeats.
  public static func candidates() -> [Candidate] {
    var list: [Candidate] = []
    if let tmp = Sys.environment("TMPDIR"), !tmp.isEmpty { list.append(Candidate(source: "TMPDIR", path: tmp)) }
    for path in ["/tmp", "/dev/shm", "/run"] { list.append(Candidate(source: path, path: path)) }
    if let cwd = Sys.currentDirectory().value { list.append(Candidate(source: "working directory", path: cwd)) }
    var seen: Set<String> = []
    return list.filter { seen.insert($0.path).inserted }
  }

  /// The nodes the probe makes.
  public enum Kind: String, CaseIterable, Codable, Sendable {
    case fifo, char, block

    var mode: mode_t {
      switch self {
      case .fifo: return S_IFIFO | 0o600
      case .char: return S_IFCHR | 0o600
      case .block: return S_IFBLK | 0o600
      }
    }

    var fileType: FileType {
      switch self {
      case .fifo: return .fifo
      case .char: return .characterDevice
      case .block: return .blockDevice
      }
    }

    /// devices.list's letter: "p" stands for a FIFO, which the devices cgroup ignores.
    var letter: Character {
      switch self {
      case .fifo: return "p"
      case .char: return "c"
      case .block: return "b"
      }
    }

    var modeName: String {
      switch self {
      case .fifo: return "S_IFIFO"
      case .char: return "S_IFCHR"
      case .block: return "S_IFBLK"
      }
    }

    var phrase: String {
      switch self {
      case .fifo: return "FIFO"
      case .char: return "character device"
      case .block: return "block device"
      }
    }
  }

  /// What happened to one node.
  public struct Node: Codable, Equatable, Sendable {
    public var kind: Kind
    public var device: DeviceNumber
    public var mknod: VoidResult
    /// statx (or fstatat) of the node: its type and device, or the errno.
    public var stat: NodeStatus?
    public var statError: Errno?
    /// open(O_RDONLY) and open(O_WRONLY), closed at once.
    public var read: VoidResult?
    public var write: VoidResult?
    public var unlink: VoidResult?

    public init(kind: Kind, device: DeviceNumber, mknod: VoidResult) {
      self.kind = kind
      self.device = device
      self.mknod = mknod
    }

    var made: Result<Void, Errno> { mknod.result }
    var status: Result<NodeStatus, Errno>? { stat.map { .success($0) } ?? statError.map { .failure($0) } }
    var openRead: Result<Void, Errno>? { read?.result }
    var openWrite: Result<Void, Errno>? { write?.result }
    var removed: Result<Void, Errno>? { unlink?.result }
    var isCreated: Bool { made.value != nil }
    var typeMatches: Bool? { status?.value.map { $0.type == kind.fileType && (kind == .fifo || $0.device == device) } }
  }

  /// A candidate directory as the probe saw it.
  public struct Place: Codable, Equatable, Sendable {
    public var candidate: Candidate
    /// realpath(3) of it, to find its mount; nil when it does not resolve.
    public var realPath: String?
    /// lstat's st_mode and st_uid, to tell a directory permission (DAC) refusal from a module's.
    public var mode: UInt32?
    public var owner: UInt32?
    /// mkdir of the probe's directory in it; nil when it was not tried (an earlier one worked).
    public var mkdir: VoidResult?

    public init(candidate: Candidate, realPath: String? = nil, mode: UInt32? = nil, owner: UInt32? = nil, mkdir: VoidResult? = nil) {
      self.candidate = candidate
      self.realPath = realPath
      self.mode = mode
      self.owner = owner
      self.mkdir = mkdir
    }

    var error: Errno? { mkdir?.errno }
  }

  /// What the probe's child called and saw.
  public struct Observations: Codable, Equatable, Sendable {
    /// mknodat with S_IFMT: EINVAL from the kernel, anything else from a filter.
    public var check: CallResult?
    /// /proc/devices could not be read (the majors were then assumed free).
    public var registeredError: Errno?
    public var charDevice: DeviceNumber?
    public var blockDevice: DeviceNumber?
    /// Every candidate directory, in order; `chosen` indexes the one the probe worked in.
    public var places: [Place]
    public var chosen: Int?
    /// The probe's directory, when made.
    public var directory: String?
    public var openDirectoryError: Errno?
    public var nodes: [Node]
    public var directoryRemoved: VoidResult?
    public var tmpdirSet: Bool
    public var ending: ProbeEnding?

    public init(
      check: CallResult? = nil, registeredError: Errno? = nil, charDevice: DeviceNumber? = nil, blockDevice: DeviceNumber? = nil,
      places: [Place] = [], chosen: Int? = nil, directory: String? = nil, openDirectoryError: Errno? = nil, nodes: [Node] = [],
      directoryRemoved: VoidResult? = nil, tmpdirSet: Bool = false, ending: ProbeEnding? = nil
    ) {
      self.check = check
      self.registeredError = registeredError
      self.charDevice = charDevice
      self.blockDevice = blockDevice
      self.places = places
      self.chosen = chosen
      self.directory = directory
      self.openDirectoryError = openDirectoryError
      self.nodes = nodes
      self.directoryRemoved = directoryRemoved
      self.tmpdirSet = tmpdirSet
      self.ending = ending
    }
  }

  static let checkPath = "/nonexistent-culprit-mknod-check"

  /// The node type as `st_mode & S_IFMT` names it: "fifo", "char", "block", "regular", …
  static func typeName(_ type: FileType) -> String {
    switch type {
    case .characterDevice: return "char"
    case .blockDevice: return "block"
    default: return type.rawValue
    }
  }
  static let checkMode = 0o170600

  // MARK: Running

  public func observe(_ context: ProbeContext) -> Observations {
    context.step("mknodat(AT_FDCWD, \"\(Self.checkPath)\", S_IFMT|0600, 0): a file type the kernel refuses with EINVAL")
    var observed = Observations(check: CallResult(Sys.mknodatRaw(Self.checkPath, mode: Self.checkMode)))
    observed.tmpdirSet = Sys.environment("TMPDIR") != nil

    context.step("reading \(RegisteredDevices.path)")
    let registered = context.snapshot.source.readText(RegisteredDevices.path).map(RegisteredDevices.parse)
    observed.registeredError = registered.failure
    let charDevice = DeviceNumber(major: registered.value?.unusedMajor(block: false) ?? 60, minor: 0)
    let blockDevice = DeviceNumber(major: registered.value?.unusedMajor(block: true) ?? 60, minor: 0)
    observed.charDevice = charDevice
    observed.blockDevice = blockDevice

    let name = Self.directoryName(pid: getpid())
    for candidate in Self.candidates() {
      let st = Sys.lstat(candidate.path).value
      var place = Place(
        candidate: candidate, realPath: Sys.realPath(candidate.path).value, mode: st.map { UInt32($0.st_mode) },
        owner: st.map { UInt32($0.st_uid) })
      if observed.chosen == nil {
        let directory = candidate.path + "/" + name
        context.step("mkdir(\"\(directory)\", 0700)")
        var made = Sys.mkdir(directory, 0o700)
        if made.failure == .fileExists {
          // Left by an earlier culprit whose process had this pid and was killed.
          Self.removeDirectory(directory)
          made = Sys.mkdir(directory, 0o700)
        }
        place.mkdir = VoidResult(made)
        if made.value != nil {
          observed.chosen = observed.places.count
          observed.directory = directory
        }
      }
      observed.places.append(place)
    }
    guard let directory = observed.directory else { return observed }

    // Should culprit be killed now, this child's parent-death signal removes the nodes.
    Termination.removeOnDeath(directory: directory, names: Kind.allCases.map(\.rawValue))
    defer { Termination.disarm() }
    switch Sys.openDirectory(directory) {
    case .failure(let err):
      _ = Sys.rmdir(directory)
      observed.openDirectoryError = err
    case .success(let fd):
      observed.nodes = makeNodes(in: fd, directory: directory, char: charDevice, block: blockDevice, context)
      Sys.close(fd)
      context.step("rmdir(\"\(directory)\")")
      observed.directoryRemoved = VoidResult(Sys.unlinkat(AT_FDCWD, directory, removeDirectory: true))
    }
    return observed
  }

  public func observations(after outcome: ChildOutcome, context: ProbeContext) -> Observations {
    Observations(ending: ProbeEnding(outcome))
  }

  public func observationsWithoutChild(_ context: ProbeContext, forkError: Errno) -> Observations {
    Observations(ending: .forkFailed(forkError, context))
  }

  func makeNodes(in fd: Int32, directory: String, char: DeviceNumber, block: DeviceNumber, _ context: ProbeContext) -> [Node] {
    var nodes: [Node] = []
    // Every node is made before any is looked at, so that a process killed later (a seccomp
    // KILL on statx or open) leaves all three behind for cleanUp(afterChild:) to remove.
    for kind in Kind.allCases {
      let device = kind == .block ? block : kind == .char ? char : DeviceNumber(major: 0, minor: 0)
      let shown = kind == .fifo ? "0" : "makedev(\(device.major), \(device.minor))"
      context.step("mknodat(\"\(directory)/\(kind.rawValue)\", \(kind.modeName)|0600, \(shown))")
      nodes.append(Node(kind: kind, device: device, mknod: VoidResult(Sys.mknodat(fd, kind.rawValue, kind.mode, device))))
    }
    for index in nodes.indices where nodes[index].isCreated {
      let name = nodes[index].kind.rawValue
      context.step("statx(\"\(directory)/\(name)\", AT_SYMLINK_NOFOLLOW)")
      switch Sys.nodeStatus(fd, name) {
      case .success(let status): nodes[index].stat = status
      case .failure(let err): nodes[index].statError = err
      }
      guard nodes[index].kind != .fifo else { continue }
      for (flag, flagName) in [(O_RDONLY, "O_RDONLY"), (O_WRONLY, "O_WRONLY")] {
        context.step("open(\"\(directory)/\(name)\", \(flagName)|O_NONBLOCK|O_NOCTTY)")
        let opened = Sys.openat(fd, name, flag | O_NONBLOCK | O_NOCTTY).map { Sys.close($0) }
        if flag == O_RDONLY { nodes[index].read = VoidResult(opened) } else { nodes[index].write = VoidResult(opened) }
      }
    }
    for index in nodes.indices where nodes[index].isCreated {
      context.step("unlinkat(\"\(directory)/\(nodes[index].kind.rawValue)\")")
      nodes[index].unlink = VoidResult(Sys.unlinkat(fd, nodes[index].kind.rawValue))
    }
    return nodes
  }

  /// Removes a probe directory and what is in it (nodes only; the probe makes no
  /// subdirectories). Only a real directory owned by this user is touched.
  static func removeDirectory(_ path: String) {
    guard let st = Sys.lstat(path).value, st.st_mode & S_IFMT == S_IFDIR, st.st_uid == geteuid() else { return }
    for entry in Sys.listDirectory(path).value ?? [] { _ = Sys.unlink(path + "/" + entry) }
    _ = Sys.rmdir(path)
  }

  /// Removes what a child killed half-way left behind, in culprit's own process.
  public func cleanUp(afterChild pid: Int32, context: ProbeContext) {
    let name = Self.directoryName(pid: pid)
    for candidate in Self.candidates() { Self.removeDirectory(candidate.path + "/" + name) }
  }

  // MARK: Deciding

  static func situation(check: Result<Int, Errno>, mount: Mount?, snapshot: SnapshotFacts) -> DeviceNodeAccess.Situation {
    DeviceNodeAccess.Situation(
      seccompCheck: check.failure, initialUserNamespace: snapshot.initialUserNamespace,
      hasMknodCapability: snapshot.has(Capability.mknod), devicesList: snapshot.devicesList,
      cgroupVersion: snapshot.cgroup, mount: mount, confinement: snapshot.enforcingConfinement)
  }

  /// The mount holding a candidate directory.
  static func mount(of place: Place, _ snapshot: SnapshotFacts) -> Mount? {
    snapshot.mountTable?.mount(containing: place.realPath ?? place.candidate.path)
  }

  /// Why mkdir in a candidate directory failed, when the directory's own permissions and the
  /// mount do not explain it: EACCES in a directory this process may write to (mode 1777, or
  /// CAP_DAC_OVERRIDE) on a read-write mount is a security module's answer.
  static func mkdirBlame(_ place: Place, _ snapshot: SnapshotFacts) -> Blame? {
    guard place.error == .permissionDenied else { return nil }
    if let mount = mount(of: place, snapshot), mount.isReadOnly { return nil }
    let mode = place.mode ?? 0
    let everyoneWrites = mode & 0o002 != 0
    let ownerWrites = place.owner == snapshot.uid && mode & 0o200 != 0
    let overrides = snapshot.has(Capability.dacOverride) == true
    guard everyoneWrites || ownerWrites || overrides else { return nil }
    let why = everyoneWrites
      ? "its mode \(String(mode & 0o7777, radix: 8)) lets everyone create entries"
      : overrides ? "CAP_DAC_OVERRIDE is effective" : "this uid owns it and may write to it"
    guard let confinement = snapshot.enforcingConfinement else {
      return Blame(
        layer: .unknown,
        reason: "EACCES on mkdir in \(place.candidate.path) although \(why) and its mount is read-write; no security module label is visible")
    }
    return Blame(
      layer: .lsm,
      reason: "EACCES on mkdir in \(place.candidate.path) although \(why) and its mount is read-write: \(confinement) refuses writes there")
  }

  static func checkEvidence(_ check: Result<Int, Errno>) -> String {
    let call = "mknodat(AT_FDCWD, \"\(Self.checkPath)\", S_IFMT|0600, 0)"
    switch check {
    case .failure(.invalidArgument):
      return "\(call) returned EINVAL (Invalid argument), the kernel's answer for an unknown file type (fs/namei.c may_mknod): seccomp lets mknodat through."
    case .failure(let err):
      return "\(call) returned \(err.description) where the kernel answers EINVAL (fs/namei.c may_mknod, its first check): a seccomp filter answers mknodat."
    case .success:
      return "\(call) succeeded, where the kernel answers EINVAL."
    }
  }

  static func mountFacts(_ mount: Mount?) -> JSONValue {
    guard let mount else { return .null }
    return ["mount_point": .string(mount.mountPoint), "fs_type": .string(mount.fsType), "options": .from(mount.options)]
  }

  static func baseFacts(check: Result<Int, Errno>?, snapshot: SnapshotFacts) -> JSONObject {
    [
      "seccomp_check": [
        "call": .string("mknodat(AT_FDCWD, \(Self.checkPath), S_IFMT|0600, 0)"),
        "errno": check.map { .from($0.failure?.name) } ?? .null,
        "filtered": check.map { .bool($0.failure != .invalidArgument) } ?? .null,
      ],
      "directory": .null, "directory_source": .null, "mount": .null, "candidates": [],
      "char_device": .null, "block_device": .null, "nodes": [:], "removed": .null,
      "cap_mknod": .from(snapshot.has(Capability.mknod)),
      "initial_userns": .from(snapshot.initialUserNamespace),
      "devices_list": snapshot.devicesList.map(JSONValue.from) ?? .null,
      "signal": .null, "last_step": .null,
    ]
  }

  static func candidateFacts(_ tried: [Place]) -> JSONValue {
    .array(
      tried.map {
        ["source": .string($0.candidate.source), "path": .string($0.candidate.path), "errno": .from($0.error?.name)]
      })
  }

  static func noDirectory(_ observed: Observations, check: Result<Int, Errno>, snapshot: SnapshotFacts) -> ProbeResult {
    let tried = observed.places.filter { $0.mkdir != nil }
    var evidence = [checkEvidence(check)]
    var reasons: [String] = []
    var blames: [Blame] = []
    for entry in tried {
      let mount = Self.mount(of: entry, snapshot)
      let err = entry.error ?? .noSuchFile
      let on = mount.map { " (on \($0.display))" } ?? ""
      evidence.append("mkdir in \(entry.candidate.source == entry.candidate.path ? entry.candidate.path : "\(entry.candidate.source) \(entry.candidate.path)") returned \(err.description)\(on).")
      if let blame = mkdirBlame(entry, snapshot) {
        evidence.append("Why: \(blame.reason).")
        blames.append(blame)
      }
      reasons.append("\(entry.candidate.path) \(err.name)\(mount.map { $0.isReadOnly ? " (\($0.mountPoint) is mounted ro)" : "" } ?? "")")
    }
    if !observed.tmpdirSet { evidence.append("TMPDIR is not set.") }
    if let confinement = snapshot.enforcingConfinement { evidence.append("This process runs under \(confinement).") }
    var facts = baseFacts(check: check, snapshot: snapshot)
    facts["candidates"] = candidateFacts(tried)
    facts["char_device"] = .from(observed.charDevice?.description)
    facts["block_device"] = .from(observed.blockDevice?.description)
    let hint = "Give the container a writable directory and point TMPDIR at it, e.g. Docker `--tmpfs /scratch:dev` (a Docker tmpfs is nodev unless given `dev`) or a Kubernetes emptyDir volume."
    if let lsm = blames.first(where: { $0.layer == .lsm }) {
      // A module refuses writes in directories everyone may write to: that is a finding about
      // the container, not a gap of culprit's.
      return verdict(
        .degraded, layer: .lsm,
        "Nodes could not be tried: no directory can be created (\(reasons.joined(separator: "; "))) — \(lsm.reason)",
        evidence: evidence,
        hint: "A security module refuses creating files in the temporary directories. Allow writes there in the profile (AppArmor: `/tmp/** rw,` and the like, then `apparmor_parser -r`), or confirm with `--security-opt apparmor=unconfined` (Kubernetes `securityContext.appArmorProfile: {type: Unconfined}`). " + hint,
        facts: facts)
    }
    return verdict(
      .skipped, "Not run: no writable directory to make nodes in (\(reasons.joined(separator: "; ")))",
      evidence: evidence, hint: hint, facts: facts)
  }

  public static func judge(_ observed: Observations, _ snapshot: SnapshotFacts) -> ProbeResult {
    if let ending = observed.ending { return judgeUnfinished(ending, snapshot) }
    let check = observed.check?.result ?? .failure(.invalidArgument)
    guard let chosenIndex = observed.chosen, let directory = observed.directory else {
      return noDirectory(observed, check: check, snapshot: snapshot)
    }
    if let err = observed.openDirectoryError {
      return verdict(
        .error, "culprit could not open the directory it had just made, \(directory): \(err.name)",
        evidence: ["open(\"\(directory)\", O_DIRECTORY|O_NOFOLLOW) returned \(err.description) right after mkdir succeeded."])
    }
    let chosenPlace = observed.places[chosenIndex]
    let chosen = (candidate: chosenPlace.candidate, directory: directory)
    let tried = observed.places.filter { $0.mkdir != nil }
    let nodes = observed.nodes
    let directoryRemoved = observed.directoryRemoved?.result ?? .success(())
    let base = chosen.candidate.path
    let mount = Self.mount(of: chosenPlace, snapshot)
    let s = situation(check: check, mount: mount, snapshot: snapshot)
    func node(_ kind: Kind) -> Node? { nodes.first { $0.kind == kind } }
    guard let char = node(.char), let block = node(.block), let fifo = node(.fifo) else {
      return verdict(.error, "The probe made no node in \(directory).", evidence: [checkEvidence(check)])
    }
    // Later candidates on a mount that is neither nodev nor read-only, for the nodev hint.
    let usable = observed.places[(chosenIndex + 1)...].filter { place in
      guard place.realPath != nil, let other = Self.mount(of: place, snapshot) else { return false }
      return !other.isNoDev && !other.isReadOnly
    }.map(\.candidate)
    // What the devices cgroup would say once the first refusal is fixed.
    var cgroupNext = ""
    if s.devicesList != nil, s.listAllows("r", type: "c", device: char.device) == false || s.listAllows("w", type: "c", device: char.device) == false {
      cgroupNext = "Past that, the devices cgroup refuses opening c \(char.device) too (devices.list grants it \(s.listAllows("m", type: "c", device: char.device) == true ? "'m' only" : "nothing")): a device needs `--device /dev/NAME` or a `--device-cgroup-rule`."
    }
    func hint(_ layer: Layer, mount: Mount?) -> String? {
      Self.hint(layer, mount: mount, alternatives: Array(usable), cgroupNote: cgroupNext)
    }

    // Blame per node: creation, type, open.
    func mknodBlame(_ n: Node) -> Blame? {
      n.made.failure.map { DeviceNodeAccess.mknodRefusal($0, type: n.kind.letter, device: n.device, s) }
    }
    func typeBlame(_ n: Node) -> Blame? {
      guard n.typeMatches == false, let status = n.status?.value else { return nil }
      return Blame(
        layer: .unknown,
        reason: "the \(n.kind.phrase) came out as \(Self.typeName(status.type)) \(status.device) (st_mode & S_IFMT), not what mknodat was asked for: a filesystem or a supervisor intercepting mknod")
    }
    func openBlame(_ n: Node) -> Blame? {
      let failures = [(n.openRead?.failure, Character("r")), (n.openWrite?.failure, Character("w"))]
      for (error, _) in failures {
        guard let error else { continue }
        let accesses = failures.filter { $0.0 == error }.map(\.1)
        if let blame = DeviceNodeAccess.openRefusal(error, type: n.kind.letter, device: n.device, accesses: accesses, s) {
          return blame
        }
      }
      return nil
    }

    // Evidence.
    var evidence = [checkEvidence(check)]
    for entry in tried where entry.error != nil {
      evidence.append("mkdir in \(entry.candidate.source) (\(entry.candidate.path)) returned \(entry.error!.description); the next candidate was tried.")
      if let blame = mkdirBlame(entry, snapshot) { evidence.append("Why: \(blame.reason).") }
    }
    evidence.append(
      "The probe worked in \(chosen.directory) (\(chosen.candidate.source))" + (mount.map { ", on \($0.display)" } ?? "") + ".")
    switch observed.registeredError {
    case nil:
      evidence.append(
        "\(RegisteredDevices.path) lists no driver for character major \(char.device.major) or block major \(block.device.major) (majors reserved for local use), so an open every layer allows ends in ENXIO.")
    case let err?:
      evidence.append("\(RegisteredDevices.path) could not be read (\(err.name)); major 60 (reserved for local use) was assumed free.")
    }
    for n in nodes {
      let what = n.kind == .fifo ? "\(n.kind.phrase)" : "\(n.kind.phrase) \(n.kind.letter) \(n.device)"
      switch n.made {
      case .failure(let err):
        evidence.append("mknodat(\(n.kind.rawValue), \(n.kind.modeName)|0600) for a \(what) returned \(err.description).")
        if let blame = mknodBlame(n) { evidence.append("Why: \(blame.reason).") }
        continue
      case .success:
        var sentence = "mknodat(\(n.kind.rawValue), \(n.kind.modeName)|0600) made a \(what)"
        switch n.status {
        case .success(let status)?:
          sentence += "; \(status.call) shows st_mode & S_IFMT = \(Self.typeName(status.type))"
          if n.kind != .fifo { sentence += ", device \(status.device)" }
        case .failure(let err)?: sentence += "; statx and fstatat failed with \(err.name)"
        case nil: break
        }
        evidence.append(sentence + ".")
      }
      if let blame = typeBlame(n) { evidence.append("Why: \(blame.reason).") }
      if n.kind != .fifo {
        func shown(_ r: Result<Void, Errno>?) -> String {
          switch r {
          case .success?: return "opened (a driver serves it; closed at once)"
          case .failure(let err)?: return err.name
          case nil: return "not tried"
          }
        }
        evidence.append("open(\(n.kind.rawValue), O_RDONLY) gave \(shown(n.openRead)); open(\(n.kind.rawValue), O_WRONLY) gave \(shown(n.openWrite)).")
        if let blame = openBlame(n) { evidence.append("Why: \(blame.reason).") }
      }
    }
    if let list = s.devicesList, let file = snapshot.devicesListFile {
      func grants(_ kind: Character, _ device: DeviceNumber) -> String {
        let letters = ["m", "r", "w"].filter { s.listAllows(Character($0), type: kind, device: device) == true }
        return letters.isEmpty ? "nothing" : "'" + letters.joined() + "'"
      }
      evidence.append(
        "\(file) (\(list.count) rules: \(list.prefix(4).joined(separator: "; "))\(list.count > 4 ? "; …" : "")) grants c \(char.device) \(grants("c", char.device)) and b \(block.device) \(grants("b", block.device)).")
    } else if s.cgroupVersion == .v2 {
      evidence.append("On cgroup v2 the devices policy is a BPF program attached to the cgroup, which cannot be read from inside; it is inferred from the answers above.")
    }
    if let caps = snapshot.capabilities {
      evidence.append("CAP_MKNOD is \(caps.contains(Capability.mknod) ? "" : "not ")in the effective set (CapEff \(caps.hex)).")
    }
    if s.initialUserNamespace == false { evidence += snapshot.userNamespaceEvidence.prefix(1) }
    if let confinement = snapshot.lsmConfinement {
      evidence.append("This process runs under \(confinement)\(snapshot.lsmEnforcing == false ? ", which only logs (complain mode)" : "").")
    }
    let leftovers = nodes.filter { $0.removed?.failure != nil }.map(\.kind.rawValue)
    if !leftovers.isEmpty || directoryRemoved.failure != nil {
      evidence.append(
        "Removing failed in the probe (\((leftovers + (directoryRemoved.failure != nil ? ["the directory"] : [])).joined(separator: ", "))); culprit's own process removes \(chosen.directory) after the probe.")
    }

    // Facts.
    var facts = baseFacts(check: check, snapshot: snapshot)
    facts["directory"] = .string(base)
    facts["directory_source"] = .string(chosen.candidate.source)
    facts["mount"] = mountFacts(mount)
    facts["candidates"] = candidateFacts(tried)
    facts["char_device"] = .string(char.device.description)
    facts["block_device"] = .string(block.device.description)
    var nodeFacts = JSONObject()
    for n in nodes {
      func answer(_ r: Result<Void, Errno>?) -> JSONValue {
        switch r {
        case .success?: return "opened"
        case .failure(let err)?: return .string(err.name)
        case nil: return .null
        }
      }
      let layer = mknodBlame(n) ?? typeBlame(n) ?? openBlame(n)
      nodeFacts[n.kind.rawValue] = [
        "mknod": n.made.failure.map { .string($0.name) } ?? "ok",
        "type": .from(n.status?.value.map { Self.typeName($0.type) }),
        "type_ok": .from(n.typeMatches),
        "open_read": answer(n.openRead),
        "open_write": answer(n.openWrite),
        "layer": .from(layer?.layer.rawValue),
      ]
    }
    facts["nodes"] = .object(nodeFacts)
    facts["removed"] = .bool(leftovers.isEmpty && directoryRemoved.failure == nil)

    // Status.
    let unwritable = tried.compactMap { entry in
      entry.error.map { "\(entry.candidate.source == entry.candidate.path ? "" : entry.candidate.source + " ")\(entry.candidate.path): \($0.name)" }
    }
    let place = "in \(base)" + (unwritable.isEmpty ? "" : " (not writable: \(unwritable.joined(separator: ", ")))")
    let devices = [char, block]
    if !fifo.isCreated && !char.isCreated && !block.isCreated {
      let blame = mknodBlame(fifo)!
      return verdict(
        .blocked, layer: blame.layer,
        "No node can be created \(place): mknodat gives \(fifo.made.failure!.name) — \(blame.reason)",
        evidence: evidence, hint: hint(blame.layer, mount: mount), facts: facts)
    }
    if !fifo.isCreated {
      let blame = mknodBlame(fifo)!
      return verdict(
        .degraded, layer: blame.layer, "Device nodes can be created \(place) but not a FIFO (\(fifo.made.failure!.name)): \(blame.reason)",
        evidence: evidence, hint: hint(blame.layer, mount: mount), facts: facts)
    }
    if let refused = devices.first(where: { !$0.isCreated }) {
      let blame = mknodBlame(refused)!
      let which = devices.allSatisfy { !$0.isCreated } ? "device nodes cannot" : "a \(refused.kind.phrase) cannot"
      return verdict(
        .degraded, layer: blame.layer,
        "FIFOs can be created \(place), \(which) (\(refused.made.failure!.name)): \(blame.reason)",
        evidence: evidence, hint: hint(blame.layer, mount: mount), facts: facts)
    }
    if let odd = nodes.first(where: { typeBlame($0) != nil }) {
      let blame = typeBlame(odd)!
      return verdict(
        .degraded, layer: blame.layer, "Nodes are created \(place), but \(blame.reason)",
        evidence: evidence, hint: hint(blame.layer, mount: mount), facts: facts)
    }
    if let refused = devices.first(where: { openBlame($0) != nil }) {
      let blame = openBlame(refused)!
      let both = devices.allSatisfy { openBlame($0) != nil }
      let errors = Set(devices.flatMap { [$0.openRead?.failure, $0.openWrite?.failure] }.compactMap { $0?.name }.filter { $0 != "ENXIO" })
      return verdict(
        .degraded, layer: blame.layer,
        "Device nodes can be created \(place) but \(both ? "not opened" : "a \(refused.kind.phrase) cannot be opened") (\(errors.sorted().joined(separator: ", "))): \(blame.reason)",
        evidence: evidence, hint: hint(blame.layer, mount: mount), facts: facts)
    }
    return verdict(
      .ok,
      "A FIFO, a character and a block device can be created \(place), and the devices opened as far as the kernel allows (no driver: ENXIO)",
      evidence: evidence, facts: facts)
  }

  // MARK: Hints

  /// The fix for `layer`; `cgroupNote` says what the devices cgroup would refuse next.
  static func hint(_ layer: Layer, mount: Mount?, alternatives: [Candidate] = [], cgroupNote: String = "") -> String? {
    let next = cgroupNote.isEmpty ? "" : " " + cgroupNote
    switch layer {
    case .seccomp:
      return "Allow mknod and mknodat in the seccomp profile: `{\"names\": [\"mknod\", \"mknodat\"], \"action\": \"SCMP_ACT_ALLOW\"}` (Docker's and Podman's default profiles allow both). To confirm: `--security-opt seccomp=unconfined`, Kubernetes `securityContext.seccompProfile: {type: Unconfined}`."
    case .capabilities:
      return Hints.grantCapability("CAP_MKNOD")
        + " Docker's default set has it; Podman's has not since containers/common PR #1240 (2022). "
        + (cgroupNote.isEmpty ? "With it the devices cgroup still decides which devices open (Docker/Podman `--device` or `--device-cgroup-rule`)." : cgroupNote)
    case .userns:
      return "Device nodes cannot be created in a user namespace (rootless Docker or Podman, `--userns`, Kubernetes `hostUsers: false`), whatever the capabilities. Have the runtime bind-mount the host's device instead: Docker/Podman `--device /dev/NAME`; Kubernetes a device plugin or a hostPath volume; or run without a user namespace.\(next)"
    case .cgroupDevices:
      return "The devices cgroup refuses this device. Allow it: Docker/Podman `--device /dev/NAME` (the host's node) or `--device-cgroup-rule 'c MAJOR:MINOR rwm'` (an `m`-only rule lets mknod succeed while open still fails); Kubernetes has no field for it: a device plugin, or `privileged: true` (which also drops seccomp and AppArmor confinement); Concourse: `privileged: true` on the task."
    case .mount:
      if let mount, mount.isReadOnly {
        return "\(mount.mountPoint) is mounted read-only. Point TMPDIR at a writable mount, e.g. Docker `--tmpfs /scratch:dev` or a Kubernetes emptyDir volume.\(next)"
      }
      let point = mount?.mountPoint ?? "This mount"
      let here = alternatives.first.map { " Here \($0.path)\($0.source == $0.path ? "" : " (\($0.source))") is on a mount without nodev." } ?? ""
      return "\(point) is mounted nodev: nodes can be made there but not opened. Create device nodes on a mount without nodev — Docker's /dev is a tmpfs without it; a Docker `--tmpfs` mount is nodev unless given `dev` (`--tmpfs /scratch:dev`) — or remount the volume without nodev.\(here)\(next)"
    case .lsm:
      return "A security module refuses it. On an AppArmor host the kernel log names the rule: `apparmor=\"DENIED\" operation=\"capable\" … capname=\"mknod\"` for `deny capability mknod,` (allow it with `capability mknod,`), `operation=\"mknod\"` or `operation=\"open\"` with the node's `name=` for a path rule; change the profile and reload it (`apparmor_parser -r`). Confirm with `--security-opt apparmor=unconfined` (Kubernetes `securityContext.appArmorProfile: {type: Unconfined}`) or, on SELinux hosts, `--security-opt label=disable`.\(next)"
    default:
      return "Run `strace -f -e trace=mknodat,openat` on the failing program to see the call and its errno, and compare with the evidence above."
    }
  }

  // MARK: Endings without a result

  static func judgeUnfinished(_ ending: ProbeEnding, _ snapshot: SnapshotFacts) -> ProbeResult {
    let step = ending.lastStep ?? "its first step"
    var facts = baseFacts(check: nil, snapshot: snapshot)
    if ending.kind == .forkFailed {
      let forkError = ending.forkError ?? .resourceTemporarilyUnavailable
      facts["fork_errno"] = .string(forkError.name)
      return verdict(
        .skipped,
        "Not run: culprit could not create a child process to make nodes in safely (fork failed with \(forkError.name))",
        evidence: ["fork() returned -1 \(forkError.description)."] + ending.forkEvidence, facts: facts)
    }
    facts["last_step"] = .from(ending.lastStep)
    let cleaned = "culprit's own process then removes the probe's directory, \(Self.directoryName(pid: ending.pid ?? 0)), and the nodes in it."
    switch ending.kind {
    case .signaled where ending.signal == 31:
      facts["signal"] = "SIGSYS"
      return verdict(
        .blocked, layer: .seccomp, "A seccomp filter kills the process in \(step) (SIGSYS)",
        evidence: [
          "The probe's process was killed by SIGSYS while it ran \(step): a seccomp KILL_PROCESS or KILL_THREAD action (seccomp(2)); no handler runs for those actions.",
          cleaned,
        ], hint: Hints.seccompKill, facts: facts)
    case .trapped:
      facts["signal"] = "SIGSYS"
      return verdict(
        .blocked, layer: .seccomp, "A seccomp filter traps system call \(ending.trapSyscall ?? -1) in \(step) (SIGSYS with SYS_SECCOMP)",
        evidence: [
          "The probe's process caught SIGSYS with si_code SYS_SECCOMP for system call \(ending.trapSyscall ?? -1) (si_errno \(ending.trapData ?? 0)) while it ran \(step): a seccomp TRAP action; the call was not executed.",
          cleaned,
        ], hint: Hints.seccompKill, facts: facts)
    case .timedOut:
      let ms = ending.afterMilliseconds ?? 0
      return verdict(
        .blocked, layer: .unknown, "The probe did not finish within \(ms) ms; it was killed in \(step)",
        evidence: ["The probe's process was still running after \(ms) ms, in \(step), so culprit killed it.", cleaned],
        hint: "Run again with a larger --timeout; `strace -f -p` on the hanging process shows the call it waits in.", facts: facts)
    case .signaled:
      let name = signalName(ending.signal ?? 0)
      facts["signal"] = .string(name)
      return verdict(
        .error, "The probe's process died from \(name) in \(step): a bug in culprit",
        evidence: ["The probe's process was ended by \(name) while it ran \(step).", cleaned],
        hint: "Please report this with the output of `culprit --format markdown`.", facts: facts)
    case .exited, .forkFailed:
      let code = ending.exitCode ?? 0
      return verdict(
        .error, "The probe's process exited with code \(code) without a result: a bug in culprit",
        evidence: ["The probe's process exited with code \(code) after writing \(ending.outputBytes ?? 0) bytes that are not a result, in \(step).", cleaned],
        hint: "Please report this with the output of `culprit --format markdown`.", facts: facts)
    }
  }
}

// MARK: Recorded values

extension FileType: Codable {}

extension DeviceNumber: Codable {
  enum CodingKeys: String, CodingKey { case major, minor }
  public init(from decoder: any Decoder) throws {
    let c = try decoder.container(keyedBy: CodingKeys.self)
    self.init(major: try c.decode(UInt32.self, forKey: .major), minor: try c.decode(UInt32.self, forKey: .minor))
  }
  public func encode(to encoder: any Encoder) throws {
    var c = encoder.container(keyedBy: CodingKeys.self)
    try c.encode(major, forKey: .major)
    try c.encode(minor, forKey: .minor)
  }
}

extension NodeStatus: Codable {
  enum CodingKeys: String, CodingKey { case type, device, call }
  public init(from decoder: any Decoder) throws {
    let c = try decoder.container(keyedBy: CodingKeys.self)
    self.init(
      type: try c.decode(FileType.self, forKey: .type), device: try c.decode(DeviceNumber.self, forKey: .device),
      call: try c.decode(String.self, forKey: .call))
  }
  public func encode(to encoder: any Encoder) throws {
    var c = encoder.container(keyedBy: CodingKeys.self)
    try c.encode(type, forKey: .type)
    try c.encode(device, forKey: .device)
    try c.encode(call, forKey: .call)
  }
}
