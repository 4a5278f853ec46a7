/// The device majors that drivers registered: /proc/devices (proc(5)), two sections,
/// "Character devices:" and "Block devices:", of "major name" lines.
public struct RegisteredDevices: Equatable, Sendable {
  public static let path = "/proc/devices"

  public var characterMajors: Set<UInt32>
  public var blockMajors: Set<UInt32>

  public init(characterMajors: Set<UInt32>, blockMajors: Set<UInt32>) {
    self.characterMajors = characterMajors
    self.blockMajors = blockMajors
  }

  public static func parse(_ text: String) -> RegisteredDevices {
    var character: Set<UInt32> = []
    var block: Set<UInt32> = []
    var section = 0
    for line in text.split(separator: "\n") {
      let trimmed = line.trimmed()
      if trimmed.hasPrefix("Character devices") {
        section = 1
      } else if trimmed.hasPrefix("Block devices") {
        section = 2
      } else if let first = trimmed.split(separator: " ").first, let major = UInt32(first) {
        if section == 1 { character.insert(major) } else if section == 2 { block.insert(major) }
      }
    }
    return RegisteredDevices(characterMajors: character, blockMajors: block)
  }

  /// Majors that Documentation/admin-guide/devices.txt reserves for local or experimental use,
  /// for both character and block devices. 240–254 are reserved too, but the kernel hands out
  /// dynamic majors from 254 downwards (fs/char_dev.c find_dynamic_major, block/genhd.c
  /// __register_blkdev), so they are often taken; 60–63 and 120–127 are not.
  public static let localUseMajors: [UInt32] = Array(60...63) + Array(120...127)

  /// The first local-use major no driver registered, so that opening a node with it reaches
  /// the driver lookup and fails with ENXIO, harmlessly.
  public func unusedMajor(block: Bool) -> UInt32? {
    let taken = block ? blockMajors : characterMajors
    return RegisteredDevices.localUseMajors.first { !taken.contains($0) }
  }
}

/// Which layer refuses creating or opening a device node, from the errno and the states of the
/// layers (fs/namei.c: `may_mknod`, `vfs_mknod`, `may_open`; security/device_cgroup.c).
///
/// mknodat(2) checks, in order: the file type (EINVAL), the path and mount (EROFS on a
/// read-only mount, EACCES from directory permissions), then for character and block devices
/// `capable(CAP_MKNOD)` — in the initial user namespace, so a user namespace is refused even
/// with the capability — then the devices cgroup ('m' access), then the LSMs; every refusal of
/// the last three is EPERM, except an LSM's EACCES. FIFOs skip CAP_MKNOD and the devices cgroup.
/// open(2) of a device node checks the mount's nodev flag first (EACCES), then the devices
/// cgroup ('r'/'w', EPERM), then reaches the driver (ENXIO when no driver serves the number).
public enum DeviceNodeAccess {
  /// What the kernel looks at when a node is made or opened.
  public struct Situation: Sendable {
    /// The "does seccomp let mknodat through?" call's errno: EINVAL from the kernel, anything
    /// else from a filter. nil when it could not be made.
    public var seccompCheck: Errno?
    /// Whether this is the initial user namespace (nil: unknown).
    public var initialUserNamespace: Bool?
    /// CAP_MKNOD in the effective set (nil: unknown).
    public var hasMknodCapability: Bool?
    /// The v1 devices.list lines, or nil (v2, or unreadable).
    public var devicesList: [String]?
    /// The cgroup version ("v1", "v2", "hybrid"), nil when unknown.
    public var cgroupVersion: CgroupState.Version?
    /// The mount holding the directory.
    public var mount: Mount?
    /// "AppArmor profile docker-default (enforce)", when an enforcing LSM confines the process.
    public var confinement: String?

    public init(
      seccompCheck: Errno?, initialUserNamespace: Bool?, hasMknodCapability: Bool?, devicesList: [String]?,
      cgroupVersion: CgroupState.Version?, mount: Mount?, confinement: String?
    ) {
      self.seccompCheck = seccompCheck
      self.initialUserNamespace = initialUserNamespace
      self.hasMknodCapability = hasMknodCapability
      self.devicesList = devicesList
      self.cgroupVersion = cgroupVersion
      self.mount = mount
      self.confinement = confinement
    }

    /// Whether the seccomp check showed a filter answering mknodat.
    public var seccompFilters: Bool { seccompCheck != nil && seccompCheck != .invalidArgument }

    /// Whether devices.list grants `access` on the device; nil without a list.
    public func listAllows(_ access: Character, type: Character, device: DeviceNumber) -> Bool? {
      devicesList.map { DeviceRule.listAllows($0, access, type: type, major: Int(device.major), minor: Int(device.minor)) }
    }
  }

  /// Why mknodat(2) of a FIFO or a device failed with `error`.
  /// `type` is "p" (FIFO), "c" or "b".
  public static func mknodRefusal(_ error: Errno, type: Character, device: DeviceNumber, _ s: Situation) -> Blame {
    let isDevice = type != "p"
    if error == .readOnlyFileSystem {
      return Blame(layer: .mount, reason: "the directory's mount is read-only (EROFS)")
    }
    if s.seccompFilters && error == s.seccompCheck {
      return Blame(
        layer: .seccomp,
        reason: "a seccomp filter answers mknodat with \(error.name) (the discriminating call got it too, where the kernel answers EINVAL)")
    }
    if error == .noFunction {
      return Blame(layer: .seccomp, reason: "mknodat answered ENOSYS, which the kernel (2.6.16+) never does: a seccomp rule")
    }
    if error == .permissionDenied {
      return Blame(
        layer: .lsm,
        reason: s.confinement.map { "EACCES from a security module (\($0))" }
          ?? "EACCES on a directory culprit owns: a security module (the directory's permissions allow it)")
    }
    guard error == .notPermitted, isDevice else {
      return Blame(layer: .unknown, reason: "mknodat answered \(error.name), which no known layer explains")
    }
    if s.initialUserNamespace == false {
      return Blame(
        layer: .userns,
        reason: "device nodes can be created only with CAP_MKNOD in the initial user namespace, and this is not it (vfs_mknod's capable(CAP_MKNOD))")
    }
    if s.hasMknodCapability == false {
      return Blame(layer: .capabilities, reason: "CAP_MKNOD is not in the effective set")
    }
    let kind: Character = type == "b" ? "b" : "c"
    if let allowed = s.listAllows("m", type: kind, device: device) {
      if !allowed {
        return Blame(layer: .cgroupDevices, reason: "the devices cgroup's devices.list grants no 'm' (mknod) access to \(kind) \(device)")
      }
      if let confinement = s.confinement {
        return Blame(
          layer: .lsm,
          reason: "devices.list grants 'm' to \(kind) \(device) and CAP_MKNOD is effective, yet mknodat answered EPERM: \(confinement) refuses it (AppArmor mediates capabilities: `deny capability mknod,` fails the CAP_MKNOD check with EPERM)")
      }
      return Blame(
        layer: .unknown,
        reason: "devices.list grants 'm' to \(kind) \(device) and CAP_MKNOD is effective, yet mknodat answered EPERM: a security module or a seccomp rule on mknodat's arguments")
    }
    if let confinement = s.confinement {
      // The devices cgroup's policy cannot be read here, so it does not explain the EPERM; an
      // enforcing module that mediates capabilities does, and runs first: the capability
      // check's LSM hook (AppArmor `deny capability mknod,`) refuses before the devices cgroup
      // is consulted.
      return Blame(
        layer: .lsm,
        reason: "CAP_MKNOD is effective in the initial user namespace, yet mknodat answered EPERM while \(confinement) confines this process: AppArmor mediates capabilities, and a `deny capability mknod,` rule fails the CAP_MKNOD check with EPERM before any devices cgroup is consulted (runc's and Docker's device rules allow mknod of every device, 'm' on c *:* and b *:*)")
    }
    if s.cgroupVersion == .v2 || s.cgroupVersion == .hybrid {
      return Blame(
        layer: .cgroupDevices,
        reason: "with CAP_MKNOD effective in the initial user namespace, EPERM comes from the devices cgroup: on cgroup v2 a BPF device program, which cannot be read from inside")
    }
    return Blame(
      layer: .cgroupDevices,
      reason: "with CAP_MKNOD effective in the initial user namespace, EPERM comes from the devices cgroup (its devices.list is not readable here)")
  }

  /// Why open(2) of a device node failed with `error` for `accesses` ("r" for O_RDONLY, "w"
  /// for O_WRONLY, both when both failed so); nil when the error is the driver's (ENXIO, ENODEV:
  /// the open got past every layer).
  public static func openRefusal(_ error: Errno, type: Character, device: DeviceNumber, accesses: [Character], _ s: Situation) -> Blame? {
    if error == .noSuchDeviceOrAddress || error == .noSuchDevice { return nil }
    if error == .permissionDenied {
      if let mount = s.mount, mount.isNoDev {
        return Blame(layer: .mount, reason: "\(mount.mountPoint) is mounted nodev, so its device nodes cannot be opened (EACCES)")
      }
      if let confinement = s.confinement {
        return Blame(layer: .lsm, reason: "EACCES from a security module (\(confinement)); the mount is not nodev")
      }
      if s.initialUserNamespace == false {
        return Blame(
          layer: .mount,
          reason: "EACCES without a nodev flag: the filesystem was mounted inside a user namespace, which makes it nodev (SB_I_NODEV)")
      }
      return Blame(layer: .unknown, reason: "EACCES although the mount is not nodev and no security module label is visible")
    }
    if error == .notPermitted {
      let kind: Character = type == "b" ? "b" : "c"
      if s.devicesList != nil {
        let missing = accesses.filter { s.listAllows($0, type: kind, device: device) == false }
        if !missing.isEmpty {
          return Blame(
            layer: .cgroupDevices,
            reason: "the devices cgroup's devices.list grants no \(missing.map { "'\($0)'" }.joined(separator: " or ")) access to \(kind) \(device)")
        }
        return Blame(
          layer: s.cgroupVersion == .hybrid ? .cgroupDevices : .unknown,
          reason: s.cgroupVersion == .hybrid
            ? "devices.list grants \(String(accesses)) to \(kind) \(device), yet open answered EPERM: on a hybrid system a BPF device program on the v2 hierarchy can refuse it too"
            : "devices.list grants \(String(accesses)) to \(kind) \(device), yet open answered EPERM")
      }
      return Blame(
        layer: .cgroupDevices,
        reason: s.cgroupVersion == .v2 || s.cgroupVersion == .hybrid
          ? "EPERM on opening a device node comes from the devices cgroup: on cgroup v2 a BPF device program, which cannot be read from inside"
          : "EPERM on opening a device node comes from the devices cgroup (its devices.list is not readable here)")
    }
    if error == .noFunction {
      return Blame(layer: .seccomp, reason: "open answered ENOSYS: a seccomp rule")
    }
    if error == Errno(rawValue: 24) {  // EMFILE
      return Blame(
        layer: .rlimit,
        reason: "open answered EMFILE: the process already holds as many descriptors as RLIMIT_NOFILE (`ulimit -n`) allows (the probe itself holds only the directory's)")
    }
    return Blame(layer: .unknown, reason: "open answered \(error.name), which no known layer explains")
  }
}
