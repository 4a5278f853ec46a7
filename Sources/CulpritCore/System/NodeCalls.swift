#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// A device number split into major and minor, in the kernel's userspace encoding
/// (glibc's gnu_dev_makedev: 12 bits of major and 20 of minor, spread over 64 bits).
public struct DeviceNumber: Equatable, Hashable, Sendable, CustomStringConvertible {
  public var major: UInt32
  public var minor: UInt32

  public init(major: UInt32, minor: UInt32) {
    self.major = major
    self.minor = minor
  }

  public init(encoded dev: UInt64) {
    major = UInt32(truncatingIfNeeded: ((dev >> 8) & 0xfff) | ((dev >> 32) & ~UInt64(0xfff)))
    minor = UInt32(truncatingIfNeeded: (dev & 0xff) | ((dev >> 12) & ~UInt64(0xff)))
  }

  /// The dev_t that mknod(2) takes.
  public var encoded: UInt64 {
    let major = UInt64(self.major), minor = UInt64(self.minor)
    return ((major & 0xfff) << 8) | ((major & ~UInt64(0xfff)) << 32) | (minor & 0xff) | ((minor & ~UInt64(0xff)) << 12)
  }

  /// "60:0".
  public var description: String { "\(major):\(minor)" }
}

/// What stat says about a node: its type (st_mode & S_IFMT) and, for devices, its number.
public struct NodeStatus: Equatable, Sendable {
  public var type: FileType
  public var device: DeviceNumber
  /// "statx" or "fstatat": the call that answered.
  public var call: String
}

extension Sys {
  /// Bits of stx_mask that statx(2) is asked to fill: STATX_TYPE | STATX_MODE.
  static let statxTypeAndMode: Int = 0x1 | 0x2

  /// open(2) of a directory without following a symbolic link, for the *at calls.
  public static func openDirectory(_ path: String) -> Result<Int32, Errno> {
    open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW)
  }

  /// mknodat(2): creates `name` in the directory `directoryFD`.
  public static func mknodat(_ directoryFD: Int32, _ name: String, _ mode: mode_t, _ device: DeviceNumber) -> Result<Void, Errno> {
    once { Glibc.mknodat(directoryFD, name, mode, dev_t(device.encoded)) }.map { _ in () }
  }

  /// mknodat(2) made raw with any mode and path, for the side-effect-free "does seccomp let
  /// mknodat through?" call: an unknown file type is refused by the kernel's first check
  /// (fs/namei.c may_mknod → EINVAL), before any path lookup.
  public static func mknodatRaw(_ path: String, mode: Int) -> Result<Int, Errno> {
    guard let number = SyscallNumber.mknodat.native else { return .failure(.noFunction) }
    return path.withCString { raw(number, [Int(AT_FDCWD), Int(bitPattern: $0), mode, 0]) }
  }

  /// openat(2) relative to a directory, close-on-exec.
  public static func openat(_ directoryFD: Int32, _ name: String, _ flags: Int32) -> Result<Int32, Errno> {
    retrying { Glibc.openat(directoryFD, name, flags | O_CLOEXEC) }
  }

  /// unlinkat(2); `removeDirectory` adds AT_REMOVEDIR.
  public static func unlinkat(_ directoryFD: Int32, _ name: String, removeDirectory: Bool = false) -> Result<Void, Errno> {
    once { Glibc.unlinkat(directoryFD, name, removeDirectory ? AT_REMOVEDIR : 0) }.map { _ in () }
  }

  /// The type and device number of `name` in `directoryFD`, without following a symbolic link:
  /// statx(2) (4.11+), or fstatat(2) when statx is missing or refused.
  public static func nodeStatus(_ directoryFD: Int32, _ name: String) -> Result<NodeStatus, Errno> {
    if let number = SyscallNumber.statx.native {
      // struct statx (include/uapi/linux/stat.h) is 256 bytes: stx_mode is the u16 at 28,
      // stx_rdev_major and stx_rdev_minor the u32s at 128 and 132.
      var buffer = [UInt8](repeating: 0, count: 256)
      let result = buffer.withUnsafeMutableBytes { out in
        name.withCString { path in
          raw(number, [Int(directoryFD), Int(bitPattern: path), Int(AT_SYMLINK_NOFOLLOW), statxTypeAndMode, Int(bitPattern: out.baseAddress)])
        }
      }
      if result.value != nil {
        return buffer.withUnsafeBytes { raw in
          let mode = raw.load(fromByteOffset: 28, as: UInt16.self)
          let device = DeviceNumber(
            major: raw.load(fromByteOffset: 128, as: UInt32.self), minor: raw.load(fromByteOffset: 132, as: UInt32.self))
          return .success(NodeStatus(type: FileType(mode: mode_t(mode)), device: device, call: "statx"))
        }
      }
    }
    var st = Glibc.stat()
    return once { Glibc.fstatat(directoryFD, name, &st, AT_SYMLINK_NOFOLLOW) }.map { _ in
      NodeStatus(type: FileType(mode: st.st_mode), device: DeviceNumber(encoded: UInt64(st.st_rdev)), call: "fstatat")
    }
  }

  /// realpath(3): the absolute path without symbolic links, "." or "..".
  public static func realPath(_ path: String) -> Result<String, Errno> {
    guard let resolved = Glibc.realpath(path, nil) else { return .failure(.current) }
    defer { free(resolved) }
    return .success(String(cString: resolved))
  }

  /// getcwd(3).
  public static func currentDirectory() -> Result<String, Errno> {
    var buffer = [CChar](repeating: 0, count: 4097)
    guard Glibc.getcwd(&buffer, buffer.count) != nil else { return .failure(.current) }
    return .success(String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
  }

  /// An environment variable, or nil when unset.
  public static func environment(_ name: String) -> String? {
    Glibc.getenv(name).map { String(cString: $0) }
  }
}
