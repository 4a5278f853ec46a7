/// What the tracer needs to know about a call's arguments to read its details: which argument
/// is a path (and which a directory fd it is relative to), and how a socket address is laid out.
public enum TraceCallShapes {
  public struct PathArgument: Sendable {
    public var index: Int
    /// The argument holding the directory fd a relative path is taken from (AT_FDCWD = cwd).
    public var dirfd: Int?
  }

  /// The path argument of calls that name a file (by name, so that every architecture's
  /// numbering works).
  static let paths: [String: PathArgument] = {
    var table: [String: PathArgument] = [:]
    for name in ["open", "creat", "access", "stat", "lstat", "execve", "mknod", "mkdir", "unlink", "rmdir", "chmod",
      "chown", "lchown", "truncate", "chdir", "chroot", "umount2", "readlink", "setxattr", "lsetxattr", "getxattr",
      "pivot_root", "swapon", "swapoff", "acct", "rename", "link", "statfs", "utimes", "mount_setattr"]
    {
      table[name] = PathArgument(index: 0, dirfd: nil)
    }
    for name in ["openat", "openat2", "faccessat", "faccessat2", "newfstatat", "fstatat64", "statx", "execveat",
      "mknodat", "mkdirat", "unlinkat", "renameat", "renameat2", "fchmodat", "fchmodat2", "fchownat", "utimensat",
      "readlinkat", "name_to_handle_at", "open_tree"]
    {
      table[name] = PathArgument(index: 1, dirfd: 0)
    }
    table["mount"] = PathArgument(index: 1, dirfd: nil)
    table["symlink"] = PathArgument(index: 1, dirfd: nil)
    table["symlinkat"] = PathArgument(index: 2, dirfd: 1)
    table["inotify_add_watch"] = PathArgument(index: 1, dirfd: nil)
    return table
  }()

  public static func pathArgument(_ name: String) -> PathArgument? { paths[name] }

  /// The argument of a call that writes to a descriptor (where ENOSPC and EROFS come from when
  /// no path is named): the file is read from /proc/PID/fd.
  public static func writtenDescriptor(_ name: String) -> Int? {
    switch name {
    case "write", "pwrite64", "writev", "pwritev", "pwritev2", "fallocate", "ftruncate", "fsync", "fdatasync",
      "sync_file_range", "sendfile", "fsetxattr", "fchmod", "fchown", "futimesat":
      return 0
    case "copy_file_range", "splice": return 2
    default: return nil
    }
  }

  /// Parses a struct sockaddr (AF_UNIX, AF_INET, AF_INET6) as the kernel lays it out.
  public static func parseSockaddr(_ bytes: [UInt8]) -> TraceAddress? {
    guard bytes.count >= 2 else { return nil }
    let family = Int(bytes[0]) | Int(bytes[1]) << 8
    switch family {
    case 1:
      let path = bytes.dropFirst(2)
      if path.first == 0 {
        let name = path.dropFirst().prefix { $0 != 0 }
        return TraceAddress(family: 1, text: "@" + String(decoding: name, as: UTF8.self), port: nil)
      }
      return TraceAddress(family: 1, text: String(decoding: path.prefix { $0 != 0 }, as: UTF8.self), port: nil)
    case 2:
      guard bytes.count >= 8 else { return nil }
      let port = Int(bytes[2]) << 8 | Int(bytes[3])
      return TraceAddress(family: 2, text: "\(bytes[4]).\(bytes[5]).\(bytes[6]).\(bytes[7]):\(port)", port: port)
    case 10:
      guard bytes.count >= 24 else { return nil }
      let port = Int(bytes[2]) << 8 | Int(bytes[3])
      var groups: [String] = []
      for i in stride(from: 8, to: 24, by: 2) { groups.append(String(Int(bytes[i]) << 8 | Int(bytes[i + 1]), radix: 16)) }
      return TraceAddress(family: 10, text: "[\(compressIPv6(groups))]:\(port)", port: port)
    default:
      return TraceAddress(family: family, text: "address family \(family)", port: nil)
    }
  }

  /// "0:0:0:0:0:0:0:1" → "::1": the longest run of zero groups becomes "::".
  static func compressIPv6(_ groups: [String]) -> String {
    var bestStart = -1, bestLength = 0, start = -1
    for (i, g) in groups.enumerated() {
      if g == "0" {
        if start < 0 { start = i }
        if i - start + 1 > bestLength { bestStart = start; bestLength = i - start + 1 }
      } else {
        start = -1
      }
    }
    guard bestLength >= 2 else { return groups.joined(separator: ":") }
    let head = groups[..<bestStart].joined(separator: ":")
    let tail = groups[(bestStart + bestLength)...].joined(separator: ":")
    return head + "::" + tail
  }
}
