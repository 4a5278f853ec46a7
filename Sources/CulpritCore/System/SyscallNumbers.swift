import CCulprit

/// System call numbers for the architectures culprit runs on. x86_64 numbers come from
/// arch/x86/entry/syscalls/syscall_64.tbl, aarch64 from include/uapi/asm-generic/unistd.h
/// (checked against libseccomp's resolver in the tests).
public enum Architecture: String, Sendable, CaseIterable {
  case x86_64, aarch64

  /// The architecture this binary was built for.
  public static var native: Architecture? {
    switch culprit_arch_family() {
    case 1: return .x86_64
    case 2: return .aarch64
    default: return nil
    }
  }
}

public struct SyscallNumber: Sendable {
  public var name: String
  public var x86_64: Int?
  public var aarch64: Int?

  public func number(on arch: Architecture) -> Int? {
    switch arch {
    case .x86_64: return x86_64
    case .aarch64: return aarch64
    }
  }

  /// This call's number on the architecture culprit runs on.
  public var native: Int? { Architecture.native.flatMap(number(on:)) }
}

extension SyscallNumber {
  /// The calls the runner and the layer readers make raw. The syscall sweep's own table is in
  /// Probes/SyscallTable.swift.
  public static let capget = SyscallNumber(name: "capget", x86_64: 125, aarch64: 90)
  public static let clone = SyscallNumber(name: "clone", x86_64: 56, aarch64: 220)
  public static let clone3 = SyscallNumber(name: "clone3", x86_64: 435, aarch64: 435)
  public static let ptrace = SyscallNumber(name: "ptrace", x86_64: 101, aarch64: 117)
  public static let mknodat = SyscallNumber(name: "mknodat", x86_64: 259, aarch64: 33)
  public static let statx = SyscallNumber(name: "statx", x86_64: 332, aarch64: 291)
  public static let setresuid = SyscallNumber(name: "setresuid", x86_64: 117, aarch64: 147)
  public static let seccomp = SyscallNumber(name: "seccomp", x86_64: 317, aarch64: 277)
  public static let socket = SyscallNumber(name: "socket", x86_64: 41, aarch64: 198)
}
