/// One line of /proc/self/cgroup: "hierarchy-ID:controller-list:path" (cgroups(7)). v2 is ID 0
/// with an empty controller list.
public struct CgroupMembership: Equatable, Sendable {
  public var hierarchyID: Int
  public var controllers: [String]
  public var path: String

  public var isUnified: Bool { hierarchyID == 0 && controllers.isEmpty }
}

/// The process's cgroups: version, namespace, controllers, and the limits that bite probes.
public struct CgroupState: Sendable {
  public enum Version: String, Sendable { case v1, v2, hybrid }

  public enum Namespace: String, Sendable {
    /// The initial cgroup namespace: paths are the host's.
    case host
    /// A cgroup namespace of its own: its cgroup shows as "/".
    case `private`
  }

  public var version: Version?
  public var memberships: [CgroupMembership]
  public var namespace: Namespace?
  /// Controllers available to this process (v2: cgroup.controllers of its cgroup; v1: the
  /// mounted controller hierarchies).
  public var controllers: [String]
  /// Where each controller's files for this process live ("pids" → "/sys/fs/cgroup/pids").
  public var directories: [String: String]
  public var pids: PidsLimit?
  /// memory.max (v2) or memory.limit_in_bytes (v1); nil when unlimited or unreadable.
  public var memoryLimitBytes: UInt64?
  public var memoryLimitFile: String?
  /// cpu.max (v2) quota/period or cpu.cfs_quota_us/cpu.cfs_period_us (v1), in microseconds.
  public var cpuQuota: (quota: Int, period: Int)?
  public var cpuQuotaFile: String?
  /// The v1 devices.list lines; nil on v2 (a BPF program, unreadable) or when unreadable.
  public var devicesList: [String]?
  public var devicesListFile: String?
  public var evidence: [String]

  /// The pids controller's numbers.
  public struct PidsLimit: Sendable, Equatable {
    public var directory: String
    /// nil when "max".
    public var max: Int?
    public var current: Int?
    /// The "max" count of pids.events: how many forks the controller has refused.
    public var refusals: Int?
  }

  static let cgroup2Magic: UInt = 0x6367_7270
  static let tmpfsMagic: UInt = 0x0102_1994
  static let cgroup1Magic: UInt = 0x0027_e0eb
  /// The inode number of the initial cgroup namespace (PROC_CGROUP_INIT_INO, include/linux/proc_ns.h).
  static let initialNamespaceInode = "4026531835"

  public static func parseMemberships(_ text: String) -> [CgroupMembership] {
    text.split(separator: "\n").compactMap { line in
      let parts = line.split(separator: ":", maxSplits: 2, omittingEmptySubsequences: false)
      guard parts.count == 3, let id = Int(parts[0]) else { return nil }
      return CgroupMembership(
        hierarchyID: id, controllers: parts[1].split(separator: ",").map(String.init), path: String(parts[2]))
    }
  }

  /// "max" → nil (unlimited); a number; or nil with `valid` false when unparsable.
  static func parseLimit(_ text: String?) -> (value: UInt64?, valid: Bool) {
    guard let text = text?.trimmed(), !text.isEmpty else { return (nil, false) }
    if text == "max" { return (nil, true) }
    guard let v = UInt64(text) else { return (nil, false) }
    return (v, true)
  }

  /// The "max N" count from pids.events.
  public static func parsePidsEvents(_ text: String) -> Int? {
    for line in text.split(separator: "\n") {
      let parts = line.split(separator: " ")
      if parts.count == 2, parts[0] == "max" { return Int(parts[1]) }
    }
    return nil
  }

  public static func read(_ source: SystemSource, mounts: MountTable?) -> CgroupState {
    var evidence: [String] = []
    var memberships: [CgroupMembership] = []
    switch source.readText("/proc/self/cgroup") {
    case .success(let text):
      memberships = parseMemberships(text)
      let shown = memberships.map { "\($0.hierarchyID):\($0.controllers.joined(separator: ",")):\($0.path)" }
      evidence.append("/proc/self/cgroup: \(shown.isEmpty ? "(empty)" : shown.joined(separator: "; ")).")
    case .failure(let err):
      evidence.append("/proc/self/cgroup could not be read: \(err.name).")
    }

    let version = detectVersion(source, memberships: memberships, evidence: &evidence)

    var namespace: Namespace?
    if let link = source.readLink("/proc/self/ns/cgroup").value {
      namespace = link.contains(initialNamespaceInode) ? .host : .private
      evidence.append(
        "/proc/self/ns/cgroup is \(link): "
          + (namespace == .host ? "the initial cgroup namespace, so cgroup paths are the host's."
            : "not the initial cgroup namespace (\(initialNamespaceInode)), so this is a private cgroup namespace."))
    }

    var state = CgroupState(
      version: version, memberships: memberships, namespace: namespace, controllers: [], directories: [:],
      pids: nil, memoryLimitBytes: nil, memoryLimitFile: nil, cpuQuota: nil, cpuQuotaFile: nil,
      devicesList: nil, devicesListFile: nil, evidence: evidence)
    guard let version else { return state }
    state.locateDirectories(source, mounts: mounts, version: version)
    state.readLimits(source)
    return state
  }

  static func detectVersion(
    _ source: SystemSource, memberships: [CgroupMembership], evidence: inout [String]
  ) -> Version? {
    switch source.filesystemType("/sys/fs/cgroup") {
    case .success(cgroup2Magic):
      evidence.append("statfs(/sys/fs/cgroup) is cgroup2 (0x63677270): unified v2.")
      return .v2
    case .success(tmpfsMagic):
      if source.filesystemType("/sys/fs/cgroup/unified").value == cgroup2Magic {
        evidence.append(
          "statfs(/sys/fs/cgroup) is tmpfs and /sys/fs/cgroup/unified is cgroup2: hybrid (v1 controllers plus a v2 hierarchy).")
        return .hybrid
      }
      evidence.append("statfs(/sys/fs/cgroup) is tmpfs with no cgroup2 at /sys/fs/cgroup/unified: v1.")
      if let unified = memberships.first(where: \.isUnified) {
        // Docker and runc mount only the v1 hierarchies into a container on a hybrid host.
        evidence.append(
          "/proc/self/cgroup also names a v2 hierarchy (0::\(unified.path)) that is not mounted here: the host runs hybrid, and only its v1 controllers are visible to this process.")
      }
      return .v1
    case .success(let other):
      evidence.append("statfs(/sys/fs/cgroup) is filesystem 0x\(String(other, radix: 16)), not a cgroup layout.")
    case .failure(let err):
      evidence.append("statfs(/sys/fs/cgroup) failed: \(err.name).")
    }
    // Without /sys/fs/cgroup, /proc/self/cgroup still tells the version.
    let hasUnified = memberships.contains { $0.isUnified }
    let hasV1 = memberships.contains { $0.hierarchyID != 0 }
    switch (hasUnified, hasV1) {
    case (true, false):
      evidence.append("/proc/self/cgroup has only the 0:: line: v2.")
      return .v2
    case (true, true):
      evidence.append("/proc/self/cgroup has numbered hierarchies and a 0:: line: hybrid.")
      return .hybrid
    case (false, true):
      evidence.append("/proc/self/cgroup has only numbered hierarchies: v1.")
      return .v1
    case (false, false):
      return nil
    }
  }

  /// Finds this process's cgroup directory for each controller: the mount of that hierarchy
  /// plus the process's path relative to the mount's root.
  mutating func locateDirectories(_ source: SystemSource, mounts: MountTable?, version: Version) {
    guard let mounts else {
      evidence.append(
        "Without /proc/self/mountinfo the cgroup mounts are assumed at /sys/fs/cgroup (v2) or /sys/fs/cgroup/<controller> (v1).")
      locateWithoutMountinfo(source, version: version)
      return
    }
    if version == .v2 || version == .hybrid, let unified = memberships.first(where: \.isUnified),
      let mount = mounts.mounts(ofType: "cgroup2").first(where: { $0.mountPoint.hasPrefix("/sys/fs/cgroup") })
        ?? mounts.mounts(ofType: "cgroup2").first
    {
      switch CgroupState.directory(of: unified.path, in: mount, source) {
      case .success(let dir):
        directories["unified"] = dir
        let listed = source.readLine(dir + "/cgroup.controllers")?.split(separator: " ").map(String.init) ?? []
        if version == .v2 {
          controllers = listed
          for controller in listed { directories[controller] = dir }
          evidence.append("\(dir)/cgroup.controllers: \(listed.isEmpty ? "(none)" : listed.joined(separator: " ")).")
        } else if !listed.isEmpty {
          for controller in listed { directories[controller] = dir }
          controllers += listed
          evidence.append("The v2 hierarchy at \(dir) holds: \(listed.joined(separator: " ")).")
        }
      case .failure(let unlocated):
        evidence.append(unlocated.sentence(mountPoints: [mount.mountPoint], path: unified.path))
      }
    }
    if version == .v1 || version == .hybrid {
      var v1: [String] = []
      var unlocated: [(reason: Unlocated, mountPoint: String, path: String)] = []
      for mount in mounts.mounts(ofType: "cgroup") {
        let names = mount.superOptions.filter { !$0.hasPrefix("name=") && !["rw", "ro", "relatime", "nosuid", "nodev", "noexec", "clone_children", "noprefix"].contains($0) && !$0.contains("=") }
        guard let membership = memberships.first(where: { m in names.contains(where: m.controllers.contains) }) else { continue }
        switch CgroupState.directory(of: membership.path, in: mount, source) {
        case .success(let dir):
          for name in names where directories[name] == nil {
            directories[name] = dir
            controllers.append(name)
            v1.append(name)
          }
        case .failure(let reason):
          unlocated.append((reason, mount.mountPoint, membership.path))
        }
      }
      if !v1.isEmpty {
        evidence.append("v1 controllers mounted: \(v1.joined(separator: " ")).")
      }
      // One sentence per kind of failure, naming every mount it applies to.
      var seen: [Unlocated] = []
      for entry in unlocated where !seen.contains(entry.reason) {
        seen.append(entry.reason)
        let same = unlocated.filter { $0.reason == entry.reason }
        evidence.append(entry.reason.sentence(mountPoints: same.map(\.mountPoint), path: entry.path))
      }
    }
  }

  /// Why a cgroup mount does not show this process's cgroup.
  enum Unlocated: Error, Equatable {
    /// The mount's root lies above the cgroup namespace's root: mountinfo shows it as "/.."
    /// (the mount was made before the namespace was unshared, as `unshare -C` leaves it).
    case outsideNamespace(root: String)
    /// The mount shows another branch of the hierarchy.
    case elsewhere(root: String)
    /// The directory the path leads to does not exist.
    case missing(directory: String)

    func sentence(mountPoints: [String], path: String) -> String {
      let mounts = mountPoints.joined(separator: ", ")
      let one = mountPoints.count == 1
      switch self {
      case .outsideNamespace(let root):
        return "\(mounts) \(one ? "has" : "have") root \(root) in /proc/self/mountinfo: \(one ? "it was" : "they were") mounted outside this process's cgroup namespace and \(one ? "shows" : "show") an ancestor of its cgroup (\(path) in the namespace), whose files and limits are not this process's; its own cgroup cannot be named from here."
      case .elsewhere(let root):
        return "\(mounts) \(one ? "shows" : "show") cgroup \(root), which does not hold this process's cgroup \(path): its limits cannot be read there."
      case .missing(let directory):
        return "\(directory), where this process's cgroup \(path) should be, does not exist: its limits cannot be read."
      }
    }
  }

  /// The directory of the cgroup at `path` (as /proc/self/cgroup names it, relative to this
  /// process's cgroup namespace) inside `mount`, whose root /proc/self/mountinfo gives relative
  /// to the same namespace.
  static func directory(of path: String, in mount: Mount, _ source: SystemSource) -> Result<String, Unlocated> {
    let root = mount.root
    if root == "/.." || root.hasPrefix("/../") { return .failure(.outsideNamespace(root: root)) }
    let relative: String
    if root == "/" {
      relative = path
    } else if path == root || path.hasPrefix(root + "/") {
      relative = String(path.dropFirst(root.count))
    } else {
      return .failure(.elsewhere(root: root))
    }
    let candidate = mount.mountPoint + (relative == "/" ? "" : relative)
    return source.exists(candidate) ? .success(candidate) : .failure(.missing(directory: candidate))
  }

  /// Without mountinfo the mounts and their roots are unknown, so the usual layout is assumed:
  /// cgroup2 at /sys/fs/cgroup, v1 controllers at /sys/fs/cgroup/<name>. The process's cgroup is
  /// its /proc/self/cgroup path below that when such a directory exists (a mount showing the
  /// whole hierarchy, as on a host), else the mount point itself (a container's mount shows its
  /// own cgroup as the root).
  mutating func locateWithoutMountinfo(_ source: SystemSource, version: Version) {
    func below(_ mountPoint: String, _ path: String?) -> String {
      guard let path, path != "/" else { return mountPoint }
      return source.exists(mountPoint + path) ? mountPoint + path : mountPoint
    }
    if version == .v2 {
      let dir = below("/sys/fs/cgroup", memberships.first(where: \.isUnified)?.path)
      directories["unified"] = dir
      controllers = source.readLine(dir + "/cgroup.controllers")?.split(separator: " ").map(String.init) ?? []
      for c in controllers { directories[c] = dir }
      evidence.append("Taken as this process's cgroup: \(dir); \(dir)/cgroup.controllers: \(controllers.isEmpty ? "(none)" : controllers.joined(separator: " ")).")
    } else {
      var found: [String] = []
      for c in ["pids", "memory", "cpu", "devices"] where source.exists("/sys/fs/cgroup/\(c)") {
        let dir = below("/sys/fs/cgroup/\(c)", memberships.first { $0.controllers.contains(c) }?.path)
        directories[c] = dir
        controllers.append(c)
        found.append(dir)
      }
      if !found.isEmpty { evidence.append("Taken as this process's cgroups: \(found.joined(separator: ", ")).") }
    }
  }

  mutating func readLimits(_ source: SystemSource) {
    if let dir = directories["pids"] {
      let maxText = source.readLine(dir + "/pids.max")
      let current = source.readLine(dir + "/pids.current").flatMap { Int($0) }
      let refusals = source.readText(dir + "/pids.events").value.flatMap(CgroupState.parsePidsEvents)
      if maxText != nil || current != nil {
        let limit = CgroupState.parseLimit(maxText)
        // The kernel refuses pids.max values above PID_MAX_LIMIT (4194304); a number too large
        // for an Int is none it wrote, and must not be converted (that traps).
        let max = limit.value.flatMap { Int(exactly: $0) }
        let understood = maxText == nil || (limit.valid && (limit.value == nil || max != nil))
        pids = PidsLimit(directory: dir, max: max, current: current, refusals: refusals)
        evidence.append(
          "\(dir)/pids.max: \(maxText ?? "unreadable")\(understood ? "" : " (not a pids limit)"); pids.current: \(current.map(String.init) ?? "unreadable")"
            + (refusals.map { "; pids.events max \($0)." } ?? "."))
      } else {
        evidence.append("\(dir) has no pids.max (the root cgroup has none): no pids limit applies here.")
      }
    } else {
      evidence.append("No pids controller was found for this process's cgroup, so whether a pids limit applies cannot be told.")
    }
    if let dir = directories["memory"] {
      for file in ["memory.max", "memory.limit_in_bytes"] {
        guard let text = source.readLine(dir + "/" + file) else { continue }
        let limit = CgroupState.parseLimit(text)
        // v1 reports "no limit" as a huge page-aligned number.
        if let v = limit.value, v < (1 << 62) {
          memoryLimitBytes = v
        }
        memoryLimitFile = dir + "/" + file
        evidence.append("\(dir)/\(file): \(text).")
        break
      }
    }
    if let dir = directories["cpu"] {
      if let text = source.readLine(dir + "/cpu.max") {
        let parts = text.split(separator: " ")
        if parts.count == 2, let quota = Int(parts[0]), let period = Int(parts[1]) { cpuQuota = (quota, period) }
        cpuQuotaFile = dir + "/cpu.max"
        evidence.append("\(dir)/cpu.max: \(text).")
      } else if let quota = source.readLine(dir + "/cpu.cfs_quota_us").flatMap({ Int($0) }),
        let period = source.readLine(dir + "/cpu.cfs_period_us").flatMap({ Int($0) })
      {
        if quota > 0 { cpuQuota = (quota, period) }
        cpuQuotaFile = dir + "/cpu.cfs_quota_us"
        evidence.append("\(dir)/cpu.cfs_quota_us: \(quota); cpu.cfs_period_us: \(period).")
      }
    }
    if version != .v2, let dir = directories["devices"] {
      switch source.readText(dir + "/devices.list") {
      case .success(let text):
        devicesList = text.split(separator: "\n").map(String.init)
        devicesListFile = dir + "/devices.list"
        evidence.append("\(dir)/devices.list: \(devicesList!.joined(separator: "; ")).")
      case .failure(let err):
        evidence.append("\(dir)/devices.list could not be read: \(err.name).")
      }
    }
  }
}

/// One rule of a v1 devices.list: "c 1:3 rwm", "b *:* m", "a *:* rwm".
public struct DeviceRule: Equatable, Sendable {
  public var type: Character
  public var major: Int?
  public var minor: Int?
  public var access: Set<Character>

  public init?(_ line: String) {
    let parts = line.split(separator: " ")
    guard parts.count == 3, let type = parts[0].first, "abc".contains(type) else { return nil }
    let numbers = parts[1].split(separator: ":", omittingEmptySubsequences: false)
    guard numbers.count == 2 else { return nil }
    self.type = type
    self.major = numbers[0] == "*" ? nil : Int(numbers[0])
    self.minor = numbers[1] == "*" ? nil : Int(numbers[1])
    self.access = Set(parts[2])
  }

  /// Whether this rule grants `access` ("r", "w" or "m") on a device.
  public func allows(_ access: Character, type: Character, major: Int, minor: Int) -> Bool {
    (self.type == "a" || self.type == type) && (self.major == nil || self.major == major)
      && (self.minor == nil || self.minor == minor) && self.access.contains(access)
  }

  /// Whether a v1 allow-list (devices.list) grants `access` on the device.
  public static func listAllows(_ list: [String], _ access: Character, type: Character, major: Int, minor: Int) -> Bool {
    list.compactMap(DeviceRule.init).contains { $0.allows(access, type: type, major: major, minor: minor) }
  }
}
