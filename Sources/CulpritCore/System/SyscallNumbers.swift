import CCulprit

/// System call numbers for the architectures culprit runs on. x86_64 numbers come from
/// arch/x86/entry/syscalls/syscall_64.tbl, aarch64 from the generic table (include/uapi/asm-generic/
/// unistd.h, scripts/syscall.tbl since 6.11). Since 5.1 (pidfd_send_signal, 424) every new call
/// has the same number on every architecture. The tests check each number against libseccomp's
/// resolver and, for calls the linked libseccomp does not know, against a recorded copy of the
/// kernel's table.
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

  /// libseccomp's token (an AUDIT_ARCH value).
  public var seccompToken: UInt32 {
    switch self {
    case .x86_64: return culprit_scmp_arch_x86_64()
    case .aarch64: return culprit_scmp_arch_aarch64()
    }
  }

  /// The name seccomp profiles use: "SCMP_ARCH_X86_64".
  public var profileName: String {
    switch self {
    case .x86_64: return "SCMP_ARCH_X86_64"
    case .aarch64: return "SCMP_ARCH_AARCH64"
    }
  }

  /// Go's GOARCH, which Docker profiles' `includes.arches`/`excludes.arches` name: "amd64".
  public var goName: String {
    switch self {
    case .x86_64: return "amd64"
    case .aarch64: return "arm64"
    }
  }
}

public struct SyscallNumber: Sendable, Equatable {
  public var name: String
  public var x86_64: Int?
  public var aarch64: Int?

  public init(name: String, x86_64: Int?, aarch64: Int?) {
    self.name = name
    self.x86_64 = x86_64
    self.aarch64 = aarch64
  }

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
  // The calls the runner, the layer readers and the probes make raw.
  public static let capget = SyscallNumber(name: "capget", x86_64: 125, aarch64: 90)
  public static let clone = SyscallNumber(name: "clone", x86_64: 56, aarch64: 220)
  public static let clone3 = SyscallNumber(name: "clone3", x86_64: 435, aarch64: 435)
  public static let ptrace = SyscallNumber(name: "ptrace", x86_64: 101, aarch64: 117)
  public static let mknodat = SyscallNumber(name: "mknodat", x86_64: 259, aarch64: 33)
  public static let statx = SyscallNumber(name: "statx", x86_64: 332, aarch64: 291)
  public static let setresuid = SyscallNumber(name: "setresuid", x86_64: 117, aarch64: 147)
  public static let seccomp = SyscallNumber(name: "seccomp", x86_64: 317, aarch64: 277)
  public static let socket = SyscallNumber(name: "socket", x86_64: 41, aarch64: 198)

  /// Every call the syscall sweep makes, and the calls newer than some libseccomp releases know
  /// (so that a profile naming them still resolves: libseccomp 2.5.4 upstream stops at
  /// futex_waitv; Debian's 2.5.4-1+deb12u1 adds cachestat, fchmodat2 and map_shadow_stack but
  /// not mseal). One entry per name; `nil` where the architecture has no such call.
  public static let table: [SyscallNumber] = [
    capget, clone, clone3, ptrace, mknodat, seccomp, socket,
    SyscallNumber(name: "statx", x86_64: 332, aarch64: 291),
    SyscallNumber(name: "rseq", x86_64: 334, aarch64: 293),
    SyscallNumber(name: "uretprobe", x86_64: 335, aarch64: nil),
    SyscallNumber(name: "userfaultfd", x86_64: 323, aarch64: 282),
    SyscallNumber(name: "bpf", x86_64: 321, aarch64: 280),
    SyscallNumber(name: "perf_event_open", x86_64: 298, aarch64: 241),
    SyscallNumber(name: "keyctl", x86_64: 250, aarch64: 219),
    SyscallNumber(name: "unshare", x86_64: 272, aarch64: 97),
    SyscallNumber(name: "setns", x86_64: 308, aarch64: 268),
    SyscallNumber(name: "mount", x86_64: 165, aarch64: 40),
    SyscallNumber(name: "membarrier", x86_64: 324, aarch64: 283),
    SyscallNumber(name: "copy_file_range", x86_64: 326, aarch64: 285),
    SyscallNumber(name: "memfd_create", x86_64: 319, aarch64: 279),
    SyscallNumber(name: "getrandom", x86_64: 318, aarch64: 278),
    SyscallNumber(name: "personality", x86_64: 135, aarch64: 92),
    SyscallNumber(name: "pidfd_send_signal", x86_64: 424, aarch64: 424),
    SyscallNumber(name: "io_uring_setup", x86_64: 425, aarch64: 425),
    SyscallNumber(name: "pidfd_open", x86_64: 434, aarch64: 434),
    SyscallNumber(name: "close_range", x86_64: 436, aarch64: 436),
    SyscallNumber(name: "openat2", x86_64: 437, aarch64: 437),
    SyscallNumber(name: "pidfd_getfd", x86_64: 438, aarch64: 438),
    SyscallNumber(name: "faccessat2", x86_64: 439, aarch64: 439),
    SyscallNumber(name: "process_madvise", x86_64: 440, aarch64: 440),
    SyscallNumber(name: "epoll_pwait2", x86_64: 441, aarch64: 441),
    SyscallNumber(name: "landlock_create_ruleset", x86_64: 444, aarch64: 444),
    SyscallNumber(name: "memfd_secret", x86_64: 447, aarch64: 447),
    SyscallNumber(name: "process_mrelease", x86_64: 448, aarch64: 448),
    SyscallNumber(name: "futex_waitv", x86_64: 449, aarch64: 449),
    SyscallNumber(name: "set_mempolicy_home_node", x86_64: 450, aarch64: 450),
    SyscallNumber(name: "cachestat", x86_64: 451, aarch64: 451),
    SyscallNumber(name: "fchmodat2", x86_64: 452, aarch64: 452),
    SyscallNumber(name: "map_shadow_stack", x86_64: 453, aarch64: 453),
    SyscallNumber(name: "futex_wake", x86_64: 454, aarch64: 454),
    SyscallNumber(name: "futex_wait", x86_64: 455, aarch64: 455),
    SyscallNumber(name: "futex_requeue", x86_64: 456, aarch64: 456),
    SyscallNumber(name: "statmount", x86_64: 457, aarch64: 457),
    SyscallNumber(name: "listmount", x86_64: 458, aarch64: 458),
    SyscallNumber(name: "lsm_get_self_attr", x86_64: 459, aarch64: 459),
    SyscallNumber(name: "lsm_set_self_attr", x86_64: 460, aarch64: 460),
    SyscallNumber(name: "lsm_list_modules", x86_64: 461, aarch64: 461),
    SyscallNumber(name: "mseal", x86_64: 462, aarch64: 462),
    SyscallNumber(name: "setxattrat", x86_64: 463, aarch64: 463),
    SyscallNumber(name: "getxattrat", x86_64: 464, aarch64: 464),
    SyscallNumber(name: "listxattrat", x86_64: 465, aarch64: 465),
    SyscallNumber(name: "removexattrat", x86_64: 466, aarch64: 466),
    SyscallNumber(name: "open_tree_attr", x86_64: 467, aarch64: 467),
    SyscallNumber(name: "file_getattr", x86_64: 468, aarch64: 468),
    SyscallNumber(name: "file_setattr", x86_64: 469, aarch64: 469),
  ]

  /// The table's entry for a name.
  public static func named(_ name: String) -> SyscallNumber? { table.first { $0.name == name } }

  /// How a syscall name resolves on an architecture: this table first (it knows calls newer
  /// than the linked libseccomp), then libseccomp.
  public enum Resolution: Equatable, Sendable {
    case number(Int)
    /// The name is a real system call, but not on this architecture (arch_prctl on aarch64).
    case notOnArchitecture
    /// Neither this table nor libseccomp knows the name.
    case unknown
  }

  public static func resolve(_ name: String, on arch: Architecture) -> Resolution {
    if let entry = named(name) {
      return entry.number(on: arch).map(Resolution.number) ?? .notOnArchitecture
    }
    guard let nr = SeccompFilter.resolve(name, arch: arch.seccompToken) else { return .unknown }
    // libseccomp answers a negative pseudo-number for a call that other architectures have.
    return nr >= 0 ? .number(Int(nr)) : .notOnArchitecture
  }
}
