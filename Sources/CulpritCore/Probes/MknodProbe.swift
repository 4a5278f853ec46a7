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
public struct MknodProbe: Probe {
  public init() {}
  public let id = "mknod"
  public let title = "Device nodes"
  public let abstract = "mknod of a FIFO, a char and a block device in a temporary directory, then opening the devices"
  public let isolation = Isolation.child(budgetMilliseconds: 3000)

  /// The private directory's name for a probe child.
  public static func directoryName(pid: Int32) -> String { ".culprit-mknod-\(pid)" }

  /// A directory the probe may work in, and where it comes from.
  public struct Candidate: Equatable, Sendable {
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
  public enum Kind: String, CaseIterable, Sendable {
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
  struct Node {
    var kind: Kind
    var device: DeviceNumber
    var made: Result<Void, Errno>
    var status: Result<NodeStatus, Errno>?
    /// open(O_RDONLY) and open(O_WRONLY): success when it opened (closed at once).
    var openRead: Result<Void, Errno>?
    var openWrite: Result<Void, Errno>?
    var removed: Result<Void, Errno>?

    var isCreated: Bool { made.value != nil }
    var typeMatches: Bool? { status?.value.map { $0.type == kind.fileType && (kind == .fifo || $0.device == device) } }
  }

  struct Tried {
    var candidate: Candidate
    var error: Errno?
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

  public func run(_ context: ProbeContext) -> ProbeResult {
    context.step("mknodat(AT_FDCWD, \"\(Self.checkPath)\", S_IFMT|0600, 0): a file type the kernel refuses with EINVAL")
    let check = Sys.mknodatRaw(Self.checkPath, mode: Self.checkMode)

    context.step("reading \(RegisteredDevices.path)")
    let registered = context.snapshot.source.readText(RegisteredDevices.path).map(RegisteredDevices.parse)
    let charDevice = DeviceNumber(major: registered.value?.unusedMajor(block: false) ?? 60, minor: 0)
    let blockDevice = DeviceNumber(major: registered.value?.unusedMajor(block: true) ?? 60, minor: 0)

    let name = Self.directoryName(pid: getpid())
    var tried: [Tried] = []
    var chosen: (candidate: Candidate, directory: String)?
    for candidate in Self.candidates() {
      let directory = candidate.path + "/" + name
      context.step("mkdir(\"\(directory)\", 0700)")
      var made = Sys.mkdir(directory, 0o700)
      if made.failure == .fileExists {
        // Left by an earlier culprit whose process had this pid and was killed.
        Self.removeDirectory(directory)
        made = Sys.mkdir(directory, 0o700)
      }
      tried.append(Tried(candidate: candidate, error: made.failure))
      if made.value != nil {
        chosen = (candidate, directory)
        break
      }
    }
    guard let chosen else {
      return noDirectory(check: check, tried: tried, context: context, devices: (charDevice, blockDevice))
    }

    let directory = chosen.directory
    // Should culprit be killed now, this child's parent-death signal removes the nodes.
    Termination.removeOnDeath(directory: directory, names: Kind.allCases.map(\.rawValue))
    defer { Termination.disarm() }
    var nodes: [Node] = []
    let directoryRemoved: Result<Void, Errno>
    switch Sys.openDirectory(directory) {
    case .failure(let err):
      _ = Sys.rmdir(directory)
      return verdict(
        .error, "culprit could not open the directory it had just made, \(directory): \(err.name)",
        evidence: ["open(\"\(directory)\", O_DIRECTORY|O_NOFOLLOW) returned \(err.description) right after mkdir succeeded."])
    case .success(let fd):
      nodes = makeNodes(in: fd, directory: directory, char: charDevice, block: blockDevice, context)
      Sys.close(fd)
      context.step("rmdir(\"\(directory)\")")
      directoryRemoved = Sys.unlinkat(AT_FDCWD, directory, removeDirectory: true)
    }
    return verdict(
      check: check, registered: registered, tried: tried, chosen: chosen, nodes: nodes,
      directoryRemoved: directoryRemoved, context: context)
  }

  func makeNodes(in fd: Int32, directory: String, char: DeviceNumber, block: DeviceNumber, _ context: ProbeContext) -> [Node] {
    var nodes: [Node] = []
    // Every node is made before any is looked at, so that a process killed later (a seccomp
    // KILL on statx or open) leaves all three behind for cleanUp(afterChild:) to remove.
    for kind in Kind.allCases {
      let device = kind == .block ? block : kind == .char ? char : DeviceNumber(major: 0, minor: 0)
      let shown = kind == .fifo ? "0" : "makedev(\(device.major), \(device.minor))"
      context.step("mknodat(\"\(directory)/\(kind.rawValue)\", \(kind.modeName)|0600, \(shown))")
      nodes.append(Node(kind: kind, device: device, made: Sys.mknodat(fd, kind.rawValue, kind.mode, device)))
    }
    for index in nodes.indices where nodes[index].isCreated {
      let name = nodes[index].kind.rawValue
      context.step("statx(\"\(directory)/\(name)\", AT_SYMLINK_NOFOLLOW)")
      nodes[index].status = Sys.nodeStatus(fd, name)
      guard nodes[index].kind != .fifo else { continue }
      for (flag, flagName) in [(O_RDONLY, "O_RDONLY"), (O_WRONLY, "O_WRONLY")] {
        context.step("open(\"\(directory)/\(name)\", \(flagName)|O_NONBLOCK|O_NOCTTY)")
        let opened = Sys.openat(fd, name, flag | O_NONBLOCK | O_NOCTTY).map { Sys.close($0) }
        if flag == O_RDONLY { nodes[index].openRead = opened } else { nodes[index].openWrite = opened }
      }
    }
    for index in nodes.indices where nodes[index].isCreated {
      context.step("unlinkat(\"\(directory)/\(nodes[index].kind.rawValue)\")")
      nodes[index].removed = Sys.unlinkat(fd, nodes[index].kind.rawValue)
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

  func situation(check: Result<Int, Errno>, mount: Mount?, context: ProbeContext) -> DeviceNodeAccess.Situation {
    let snapshot = context.snapshot
    return DeviceNodeAccess.Situation(
      seccompCheck: check.failure, initialUserNamespace: snapshot.userns.isInitial,
      hasMknodCapability: snapshot.capabilities.value?.has(Capability.mknod), devicesList: snapshot.cgroup.devicesList,
      cgroupVersion: snapshot.cgroup.version, mount: mount, confinement: snapshot.lsm.confinement)
  }

  func checkEvidence(_ check: Result<Int, Errno>) -> String {
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

  func mountFacts(_ mount: Mount?) -> JSONValue {
    guard let mount else { return .null }
    return ["mount_point": .string(mount.mountPoint), "fs_type": .string(mount.fsType), "options": .from(mount.options)]
  }

  func baseFacts(check: Result<Int, Errno>?, context: ProbeContext) -> JSONObject {
    [
      "seccomp_check": [
        "call": .string("mknodat(AT_FDCWD, \(Self.checkPath), S_IFMT|0600, 0)"),
        "errno": check.map { .from($0.failure?.name) } ?? .null,
        "filtered": check.map { .bool($0.failure != .invalidArgument) } ?? .null,
      ],
      "directory": .null, "directory_source": .null, "mount": .null, "candidates": [],
      "char_device": .null, "block_device": .null, "nodes": [:], "removed": .null,
      "cap_mknod": .from(context.snapshot.capabilities.value?.has(Capability.mknod)),
      "initial_userns": .from(context.snapshot.userns.isInitial),
      "devices_list": context.snapshot.cgroup.devicesList.map(JSONValue.from) ?? .null,
      "signal": .null, "last_step": .null,
    ]
  }

  func candidateFacts(_ tried: [Tried]) -> JSONValue {
    .array(
      tried.map {
        ["source": .string($0.candidate.source), "path": .string($0.candidate.path), "errno": .from($0.error?.name)]
      })
  }

  func noDirectory(check: Result<Int, Errno>, tried: [Tried], context: ProbeContext, devices: (DeviceNumber, DeviceNumber)) -> ProbeResult {
    let mounts = context.snapshot.mounts.value
    var evidence = [checkEvidence(check)]
    var reasons: [String] = []
    for entry in tried {
      let mount = Sys.realPath(entry.candidate.path).value.flatMap { mounts?.mount(containing: $0) }
      let err = entry.error ?? .noSuchFile
      let on = mount.map { " (on \($0.display))" } ?? ""
      evidence.append("mkdir in \(entry.candidate.source == entry.candidate.path ? entry.candidate.path : "\(entry.candidate.source) \(entry.candidate.path)") returned \(err.description)\(on).")
      reasons.append("\(entry.candidate.path) \(err.name)\(mount.map { $0.isReadOnly ? " (\($0.mountPoint) is mounted ro)" : "" } ?? "")")
    }
    if Sys.environment("TMPDIR") == nil { evidence.append("TMPDIR is not set.") }
    var facts = baseFacts(check: check, context: context)
    facts["candidates"] = candidateFacts(tried)
    facts["char_device"] = .string(devices.0.description)
    facts["block_device"] = .string(devices.1.description)
    return verdict(
      .skipped, "Not run: no writable directory to make nodes in (\(reasons.joined(separator: "; ")))",
      evidence: evidence,
      hint: "Give the container a writable directory and point TMPDIR at it, e.g. Docker `--tmpfs /scratch:dev` (a Docker tmpfs is nodev unless given `dev`) or a Kubernetes emptyDir volume.",
      facts: facts)
  }

  func verdict(
    check: Result<Int, Errno>, registered: Result<RegisteredDevices, Errno>, tried: [Tried],
    chosen: (candidate: Candidate, directory: String), nodes: [Node], directoryRemoved: Result<Void, Errno>,
    context: ProbeContext
  ) -> ProbeResult {
    let base = chosen.candidate.path
    let realBase = Sys.realPath(base).value ?? base
    let mount = context.snapshot.mounts.value?.mount(containing: realBase)
    let s = situation(check: check, mount: mount, context: context)
    func node(_ kind: Kind) -> Node? { nodes.first { $0.kind == kind } }
    let char = node(.char)!, block = node(.block)!, fifo = node(.fifo)!
    // Later candidates on a mount that is neither nodev nor read-only, for the nodev hint.
    let later = Self.candidates().drop { $0.path != base }.dropFirst()
    let usable = later.filter { candidate in
      guard let real = Sys.realPath(candidate.path).value, let other = context.snapshot.mounts.value?.mount(containing: real)
      else { return false }
      return !other.isNoDev && !other.isReadOnly
    }
    // What the devices cgroup would say once the first refusal is fixed.
    var cgroupNext = ""
    if s.devicesList != nil, s.listAllows("r", type: "c", device: char.device) == false || s.listAllows("w", type: "c", device: char.device) == false {
      cgroupNext = "Past that, the devices cgroup refuses opening c \(char.device) too (devices.list grants it \(s.listAllows("m", type: "c", device: char.device) == true ? "'m' only" : "nothing")): a device needs `--device /dev/NAME` or a `--device-cgroup-rule`."
    }
    func hint(_ layer: Layer, mount: Mount?) -> String? {
      self.hint(layer, mount: mount, alternatives: Array(usable), cgroupNote: cgroupNext)
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
    }
    evidence.append(
      "The probe worked in \(chosen.directory) (\(chosen.candidate.source))" + (mount.map { ", on \($0.display)" } ?? "") + ".")
    switch registered {
    case .success:
      evidence.append(
        "\(RegisteredDevices.path) lists no driver for character major \(char.device.major) or block major \(block.device.major) (majors reserved for local use), so an open every layer allows ends in ENXIO.")
    case .failure(let err):
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
    if let list = s.devicesList, let file = context.snapshot.cgroup.devicesListFile {
      func grants(_ kind: Character, _ device: DeviceNumber) -> String {
        let letters = ["m", "r", "w"].filter { s.listAllows(Character($0), type: kind, device: device) == true }
        return letters.isEmpty ? "nothing" : "'" + letters.joined() + "'"
      }
      evidence.append(
        "\(file) (\(list.count) rules: \(list.prefix(4).joined(separator: "; "))\(list.count > 4 ? "; …" : "")) grants c \(char.device) \(grants("c", char.device)) and b \(block.device) \(grants("b", block.device)).")
    } else if s.cgroupVersion == .v2 {
      evidence.append("On cgroup v2 the devices policy is a BPF program attached to the cgroup, which cannot be read from inside; it is inferred from the answers above.")
    }
    if let caps = context.snapshot.capabilities.value {
      evidence.append("CAP_MKNOD is \(caps.has(Capability.mknod) ? "" : "not ")in the effective set (CapEff \(caps.effective.hex)).")
    }
    if s.initialUserNamespace == false { evidence += context.snapshot.userns.evidence.prefix(1) }
    let leftovers = nodes.filter { $0.removed?.failure != nil }.map(\.kind.rawValue)
    if !leftovers.isEmpty || directoryRemoved.failure != nil {
      evidence.append(
        "Removing failed in the probe (\((leftovers + (directoryRemoved.failure != nil ? ["the directory"] : [])).joined(separator: ", "))); culprit's own process removes \(chosen.directory) after the probe.")
    }

    // Facts.
    var facts = baseFacts(check: check, context: context)
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
  func hint(_ layer: Layer, mount: Mount?, alternatives: [Candidate] = [], cgroupNote: String = "") -> String? {
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
      return "A security module refuses it. Confirm with `--security-opt apparmor=unconfined` (Kubernetes `securityContext.appArmorProfile: {type: Unconfined}`) or, on SELinux hosts, `--security-opt label=disable`; then allow the device in the profile.\(next)"
    default:
      return "Run `strace -f -e trace=mknodat,openat` on the failing program to see the call and its errno, and compare with the evidence above."
    }
  }

  // MARK: Endings without a result

  public func runWithoutChild(_ context: ProbeContext, forkError: Errno) -> ProbeResult {
    var facts = baseFacts(check: nil, context: context)
    facts["fork_errno"] = .string(forkError.name)
    return verdict(
      .skipped,
      "Not run: culprit could not create a child process to make nodes in safely (fork failed with \(forkError.name))",
      evidence: ["fork() returned -1 \(forkError.description)."] + forkFailureEvidence(context, forkError), facts: facts)
  }

  public func interpret(_ outcome: ChildOutcome, context: ProbeContext) -> ProbeResult {
    let step = outcome.lastStep ?? "its first step"
    var facts = baseFacts(check: nil, context: context)
    facts["last_step"] = .from(outcome.lastStep)
    let cleaned = "culprit's own process then removes the probe's directory, \(Self.directoryName(pid: outcome.pid)), and the nodes in it."
    switch outcome.ending {
    case .signaled(31, _):
      facts["signal"] = "SIGSYS"
      return verdict(
        .blocked, layer: .seccomp, "A seccomp filter kills the process in \(step) (SIGSYS)",
        evidence: [
          "The probe's process was killed by SIGSYS while it ran \(step): a seccomp KILL_PROCESS or KILL_THREAD action (seccomp(2)); no handler runs for those actions.",
          cleaned,
        ], hint: Hints.seccompKill, facts: facts)
    case .trapped(let trap, _):
      facts["signal"] = "SIGSYS"
      return verdict(
        .blocked, layer: .seccomp, "A seccomp filter traps system call \(trap.syscall) in \(step) (SIGSYS with SYS_SECCOMP)",
        evidence: [
          "The probe's process caught SIGSYS with si_code SYS_SECCOMP for system call \(trap.syscall) (si_errno \(trap.data)) while it ran \(step): a seccomp TRAP action; the call was not executed.",
          cleaned,
        ], hint: Hints.seccompKill, facts: facts)
    case .timedOut(let ms, _):
      return verdict(
        .blocked, layer: .unknown, "The probe did not finish within \(ms) ms; it was killed in \(step)",
        evidence: ["The probe's process was still running after \(ms) ms, in \(step), so culprit killed it.", cleaned],
        hint: "Run again with a larger --timeout; `strace -f -p` on the hanging process shows the call it waits in.", facts: facts)
    case .signaled(let signal, _):
      facts["signal"] = .string(signalName(signal))
      return verdict(
        .error, "The probe's process died from \(signalName(signal)) in \(step): a bug in culprit",
        evidence: ["The probe's process was ended by \(signalName(signal)) while it ran \(step).", cleaned],
        hint: "Please report this with the output of `culprit --format markdown`.", facts: facts)
    case .exited(let code, let output):
      return verdict(
        .error, "The probe's process exited with code \(code) without a result: a bug in culprit",
        evidence: ["The probe's process exited with code \(code) after writing \(output.count) bytes that are not a result, in \(step).", cleaned],
        hint: "Please report this with the output of `culprit --format markdown`.", facts: facts)
    }
  }
}
