/// One line of /proc/self/mountinfo (proc(5)).
public struct Mount: Equatable, Sendable, Codable {
  public var id: Int
  public var parentID: Int
  /// "major:minor" of the filesystem.
  public var device: String
  /// The directory of the filesystem that is mounted here ("/" for a whole filesystem, a
  /// sub-path for a bind mount).
  public var root: String
  public var mountPoint: String
  /// Per-mount options: rw/ro, nodev, nosuid, noexec, relatime, …
  public var options: [String]
  public var fsType: String
  public var source: String
  /// Per-superblock options.
  public var superOptions: [String]

  public var isReadOnly: Bool { options.contains("ro") }
  public var isNoDev: Bool { options.contains("nodev") }
  public var isNoExec: Bool { options.contains("noexec") }
  public var isNoSuid: Bool { options.contains("nosuid") }

  /// "/tmp (tmpfs, rw,nosuid,nodev)".
  public var display: String { "\(mountPoint) (\(fsType), \(options.joined(separator: ",")))" }
}

/// The mount table of this process's mount namespace.
public struct MountTable: Sendable {
  public static let path = "/proc/self/mountinfo"
  public var mounts: [Mount]

  public init(mounts: [Mount]) { self.mounts = mounts }

  /// Parses mountinfo text; malformed lines are skipped.
  public static func parse(_ text: String) -> MountTable {
    var mounts: [Mount] = []
    for line in text.split(separator: "\n") {
      let fields = line.split(separator: " ", omittingEmptySubsequences: false)
      guard fields.count >= 9, let separator = fields.firstIndex(of: "-"), separator >= 6,
        let id = Int(fields[0]), let parent = Int(fields[1])
      else { continue }
      let after = Array(fields[(separator + 1)...])
      guard after.count >= 2 else { continue }
      mounts.append(
        Mount(
          id: id, parentID: parent, device: String(fields[2]), root: unescape(fields[3]),
          mountPoint: unescape(fields[4]), options: fields[5].split(separator: ",").map(String.init),
          fsType: String(after[0]), source: unescape(after[1]),
          superOptions: after.count > 2 ? after[2].split(separator: ",").map(String.init) : []))
    }
    return MountTable(mounts: mounts)
  }

  public static func read(_ source: SystemSource) -> Result<MountTable, Errno> {
    source.readText(path).map(parse)
  }

  /// mountinfo escapes space, tab, newline and backslash as \040, \011, \012, \134.
  static func unescape(_ field: Substring) -> String {
    guard field.contains("\\") else { return String(field) }
    var bytes: [UInt8] = []
    let utf8 = Array(field.utf8)
    var i = 0
    while i < utf8.count {
      if utf8[i] == UInt8(ascii: "\\"), i + 3 < utf8.count,
        let value = UInt8(String(decoding: utf8[(i + 1)...(i + 3)], as: UTF8.self), radix: 8)
      {
        bytes.append(value)
        i += 4
      } else {
        bytes.append(utf8[i])
        i += 1
      }
    }
    return String(decoding: bytes, as: UTF8.self)
  }

  /// The mount that holds `path` (an absolute, normalised path): the last-mounted of the
  /// mounts whose mount point is the longest prefix of it.
  public func mount(containing path: String) -> Mount? {
    var best: Mount?
    for mount in mounts where MountTable.isPrefix(mount.mountPoint, of: path) {
      if best == nil || mount.mountPoint.count >= best!.mountPoint.count { best = mount }
    }
    return best
  }

  static func isPrefix(_ mountPoint: String, of path: String) -> Bool {
    if mountPoint == "/" || mountPoint == path { return true }
    return path.hasPrefix(mountPoint + "/")
  }

  /// Mounts of a filesystem type, in table order.
  public func mounts(ofType type: String) -> [Mount] { mounts.filter { $0.fsType == type } }
}
