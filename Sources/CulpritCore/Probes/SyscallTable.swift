#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// One call of the syscall sweep: a system call that libcs, language runtimes or common tools
/// depend on, made with arguments the kernel rejects deterministically in its first lines
/// (field-facts §0, §1.6), so that the answer tells a filter from the kernel without any side
/// effect. Add a call by adding one entry to `SyscallSweep.table`.
public struct SweepEntry: Sendable {
  /// Stable id in the facts: the syscall name, or "socket(AF_INET)" for a variant.
  public var id: String
  public var syscall: SyscallNumber
  /// The call as a person would write it: "clone3(NULL, 0)".
  public var call: String
  /// How the call is made.
  public var invocation: Invocation
  /// The errnos the kernel itself gives for this call (any of them means the call reached the
  /// syscall's body, so no filter stopped it).
  public var kernelErrnos: [Errno]
  /// Whether the kernel may also succeed (unshare(0), personality(0xffffffff)).
  public var kernelMaySucceed: Bool = false
  /// The first kernel with the call (x86_64; `firstKernelAArch64` when aarch64 got it later).
  public var firstKernel: KernelVersion
  public var firstKernelAArch64: KernelVersion? = nil
  /// A build option without which the kernel answers ENOSYS ("CONFIG_IO_URING").
  public var configOption: String? = nil
  /// A sysctl that can make the kernel itself refuse the call.
  public var gate: KernelGate? = nil
  /// What the callers that matter do when the call fails.
  public var fallback: Fallback
  /// Who needs the call.
  public var need: Need
  /// What breaks when the answer defeats the callers' fallback (or the call kills).
  public var breaks: String
  /// What happens when the answer lets the callers fall back (ENOSYS), if worth saying.
  public var fallsBack: String? = nil

  public enum Invocation: Sendable {
    /// syscall(number, arguments…), the arguments built at call time.
    case raw(@Sendable (SweepPointers) -> [Int])
    /// clone3(NULL, 0) through the shim that never lets a child return into Swift.
    case clone3
    /// clone(flags, 0, 0, 0, 0) through the same kind of shim.
    case cloneLegacy(flags: UInt)
  }

  /// When the callers fall back.
  public enum Fallback: String, Sendable {
    /// Only on ENOSYS: any other errno is fatal to them (glibc's clone3, faccessat2, statx).
    case enosysOnly = "enosys-only"
    /// On any error (glibc's closefrom over close_range).
    case anyError = "any-error"
    /// Never: the call is essential (clone, socket).
    case none
  }

  /// Who depends on the call, which decides the status when it is filtered.
  public enum Need: Sendable, Equatable {
    /// The image's C library calls it implicitly when `use` applies to it: blocked when the
    /// image's libc uses it, degraded otherwise.
    case libc(LibcUse)
    /// Common runtimes and tools call it: degraded.
    case runtime
    /// Only programs that ask for the feature call it, and they expect refusals: facts only,
    /// unless the call kills.
    case optional

    public var label: String {
      switch self {
      case .libc: return "libc"
      case .runtime: return "runtime"
      case .optional: return "optional"
      }
    }
  }

  /// Which images' C library calls a system call implicitly.
  public enum LibcUse: Sendable, Equatable {
    /// glibc ≥ 2.34 pthread_create on x86_64 (aarch64 ≥ 2.38): clone3 first.
    case clone3Threads
    /// glibc ≥ 2.33 faccessat(), musl ≥ 1.2.2 faccessat() with flags: faccessat2 first.
    case faccessat2
    /// Every libc: fork(), posix_spawn and (musl, old glibc) threads use clone.
    case always

    /// Whether the image's libc makes this call; nil when its version is unknown.
    public func applies(to libc: ImageLibc, machine: String) -> Bool? {
      switch self {
      case .always: return libc.family != .none
      case .clone3Threads: return libc.usesClone3ForThreads(machine: machine)
      case .faccessat2:
        guard let version = libc.version.flatMap({ KernelVersion(release: $0) }) else {
          return libc.family == .none ? false : nil
        }
        switch libc.family {
        case .glibc: return version >= KernelVersion(2, 33)
        case .musl: return version >= KernelVersion(1, 2, 2)
        case .none: return false
        }
      }
    }
  }

  /// The first kernel with the call on an architecture.
  public func firstKernel(on arch: Architecture?) -> KernelVersion {
    arch == .aarch64 ? (firstKernelAArch64 ?? firstKernel) : firstKernel
  }
}

/// A sysctl with which the kernel itself refuses a call with EPERM (or EACCES), before or
/// instead of seccomp: the sweep reads it and calls the answer `kernel-refused` when it explains
/// what came back.
public enum KernelGate: String, Sendable, CaseIterable {
  case ioUringDisabled = "kernel.io_uring_disabled"
  case unprivilegedBPFDisabled = "kernel.unprivileged_bpf_disabled"
  case unprivilegedUserfaultfd = "vm.unprivileged_userfaultfd"
  case perfEventParanoid = "kernel.perf_event_paranoid"

  /// The file under /proc/sys.
  public var path: String { "/proc/sys/" + rawValue.replacingAll(".", with: "/") }

  /// Whether this gate, with the value read, makes the kernel answer `errno` itself; the
  /// sentence says why. nil when it does not.
  public func explains(
    _ errno: Errno, value: Int, kernel: KernelVersion?, capabilities: CapabilitySet?
  ) -> String? {
    func has(_ cap: Int) -> Bool { capabilities?.contains(cap) ?? false }
    switch self {
    case .ioUringDisabled:
      // io_uring/io_uring.c io_uring_allowed() (6.6+), checked before anything else.
      guard errno == .notPermitted else { return nil }
      if value == 2 { return "\(rawValue) is 2: io_uring_setup() is refused with EPERM for every process." }
      if value == 1 && !has(Capability.sysAdmin) {
        return "\(rawValue) is 1 and this process lacks CAP_SYS_ADMIN (and may not be in kernel.io_uring_group): the kernel refuses io_uring_setup() with EPERM."
      }
      return nil
    case .unprivilegedBPFDisabled:
      // kernel/bpf/syscall.c __sys_bpf() checked the sysctl first until 6.5, when the check
      // moved into map_create()/bpf_prog_load(); bpf_capable() is CAP_BPF (5.8+) or CAP_SYS_ADMIN.
      guard errno == .notPermitted, value != 0 else { return nil }
      if let kernel, kernel >= KernelVersion(6, 5) { return nil }
      if has(Capability.sysAdmin) || (has(Capability.bpf) && (kernel ?? KernelVersion(0, 0)) >= KernelVersion(5, 8)) { return nil }
      return "\(rawValue) is \(value) and this process lacks CAP_BPF and CAP_SYS_ADMIN: kernels before 6.5 refuse every bpf() call with EPERM before looking at the command."
    case .unprivilegedUserfaultfd:
      // fs/userfaultfd.c: 5.2–5.10 check the sysctl before the flags; 5.11+ let
      // UFFD_USER_MODE_ONLY through, which the sweep sets.
      guard errno == .notPermitted, value == 0, !has(Capability.sysPtrace) else { return nil }
      guard let kernel, kernel >= KernelVersion(5, 2), kernel < KernelVersion(5, 11) else { return nil }
      return "\(rawValue) is 0 and this process lacks CAP_SYS_PTRACE: kernels 5.2 to 5.10 refuse userfaultfd() with EPERM before checking its flags."
    case .perfEventParanoid:
      // Debian's and Ubuntu's perf_event_paranoid=3 patch answers EACCES.
      guard errno == .permissionDenied, value >= 3, !has(Capability.sysAdmin), !has(Capability.perfmon) else { return nil }
      return "\(rawValue) is \(value) (Debian's and Ubuntu's \"disallow perf_event_open\" level) and this process lacks CAP_PERFMON and CAP_SYS_ADMIN: the kernel answers EACCES."
    }
  }
}

/// C strings the sweep's calls point at, allocated once and never freed (the sweep runs in
/// short-lived children).
public struct SweepPointers: Sendable {
  /// "/"
  public var root: Int
  /// "" (an empty path: ENOENT from every lookup)
  public var empty: Int
  /// A path that does not exist, so that even a call the kernel wrongly accepted creates or
  /// changes nothing.
  public var missing: Int
  /// "culprit" (memfd_create's name)
  public var name: Int

  public static let missingPath = "/nonexistent-culprit-syscall-sweep"

  nonisolated(unsafe) static var cached: SweepPointers?

  public static var shared: SweepPointers {
    if let cached { return cached }
    func c(_ s: String) -> Int { Int(bitPattern: strdup(s)) }
    let made = SweepPointers(root: c("/"), empty: c(""), missing: c(missingPath), name: c("culprit"))
    cached = made
    return made
  }
}

/// The sweep's table, kept in one place: each call, the kernel's own answer, who needs it and
/// what its refusal breaks.
public enum SyscallSweep {
  static let atFdcwd = -100
  static func n(_ name: String) -> SyscallNumber { SyscallNumber.named(name)! }
  static func socket(_ family: String, _ number: Int, need: SweepEntry.Need, fallback: SweepEntry.Fallback, breaks: String)
    -> SweepEntry
  {
    SweepEntry(
      id: "socket(\(family))", syscall: .socket, call: "socket(\(family), 15 /* no such type */, 0)",
      invocation: .raw { _ in [number, 15, 0] }, kernelErrnos: [.invalidArgument],
      firstKernel: KernelVersion(2, 0), fallback: fallback, need: need, breaks: breaks)
  }

  public static let table: [SweepEntry] = [
    SweepEntry(
      id: "clone3", syscall: .clone3, call: "clone3(NULL, 0)", invocation: .clone3,
      kernelErrnos: [.invalidArgument], firstKernel: KernelVersion(5, 3), fallback: .enosysOnly,
      need: .libc(.clone3Threads),
      breaks: "glibc ≥ 2.34 (x86_64; aarch64 from 2.38) creates every thread with clone3 and falls back to clone only on ENOSYS, so this answer breaks every pthread_create: \"getaddrinfo() thread failed to start\" (curl), \"pthread_create failed: Operation not permitted\" (moby#42680). Docker ≥ 20.10.10 and containerd's profile answer ENOSYS here.",
      fallsBack: "ENOSYS is what glibc expects: threads fall back to clone."),
    SweepEntry(
      id: "clone", syscall: .clone, call: "clone(CLONE_SIGHAND without CLONE_VM, 0, 0, 0, 0)",
      invocation: .cloneLegacy(flags: 0x800), kernelErrnos: [.invalidArgument], firstKernel: KernelVersion(2, 0),
      fallback: .none, need: .libc(.always),
      breaks: "fork(), posix_spawn(), musl's and Go's threads all use clone: with it refused no process or thread can be created."),
    SweepEntry(
      id: "faccessat2", syscall: n("faccessat2"), call: "faccessat2(AT_FDCWD, \"/\", 8 /* bad mode */, 0)",
      invocation: .raw { p in [atFdcwd, p.root, 8, 0] }, kernelErrnos: [.invalidArgument],
      firstKernel: KernelVersion(5, 8), fallback: .enosysOnly, need: .libc(.faccessat2),
      breaks: "glibc ≥ 2.33 faccessat() (musl ≥ 1.2.2 when given flags) tries faccessat2 first and falls back only on ENOSYS, so this answer breaks `test -x`, make and shells (\"make: /bin/sh: Operation not permitted\") on Alpine ≥ 3.14 / Fedora ≥ 34 images; Docker allows it from 20.10.0 (moby#41353).",
      fallsBack: "ENOSYS lets glibc and musl fall back to faccessat."),
    SweepEntry(
      id: "openat2", syscall: n("openat2"), call: "openat2(AT_FDCWD, \"/\", NULL, 0)",
      invocation: .raw { p in [atFdcwd, p.root, 0, 0] }, kernelErrnos: [.invalidArgument],
      firstKernel: KernelVersion(5, 6), fallback: .enosysOnly, need: .runtime,
      breaks: "Programs that try openat2 first and fall back only on ENOSYS fail (crun and cap-std added an EPERM fallback after hitting this: containers/crun#546, bytecodealliance/cap-std#147); glibc's open() does not use it.",
      fallsBack: "ENOSYS lets openat2 users fall back to openat."),
    SweepEntry(
      id: "close_range", syscall: n("close_range"), call: "close_range(1, 0, 0) /* first > last */",
      invocation: .raw { _ in [1, 0, 0] }, kernelErrnos: [.invalidArgument], firstKernel: KernelVersion(5, 9),
      fallback: .anyError, need: .runtime,
      breaks: "Programs that close their descriptors with close_range are killed instead of falling back (glibc ≥ 2.34 closefrom() falls back on any error).",
      fallsBack: "glibc ≥ 2.34 closefrom() falls back to closing descriptors one by one on any error."),
    SweepEntry(
      id: "statx", syscall: n("statx"), call: "statx(AT_FDCWD, \"/\", AT_STATX_SYNC_TYPE, STATX__RESERVED, NULL)",
      invocation: .raw { p in [atFdcwd, p.root, 0x6000, 0x8000_0000, 0] }, kernelErrnos: [.invalidArgument],
      firstKernel: KernelVersion(4, 11), fallback: .enosysOnly, need: .runtime,
      breaks: "glibc's statx() wrapper falls back only on ENOSYS, so programs that call statx() (coreutils `stat` and `ls`, Qt) fail with this errno; glibc's own stat family on 64-bit uses newfstatat and is unaffected. Docker allows statx since moby#36417.",
      fallsBack: "ENOSYS lets glibc's statx() fall back to fstatat."),
    SweepEntry(
      id: "rseq", syscall: n("rseq"), call: "rseq(NULL, 0, 0x40000000 /* unknown flag */, 0)",
      invocation: .raw { _ in [0, 0, 0x4000_0000, 0] }, kernelErrnos: [.invalidArgument],
      firstKernel: KernelVersion(4, 18), fallback: .anyError, need: .optional,
      breaks: "glibc ≥ 2.35 registers every thread with rseq; a filter applied after the main thread registered makes each new thread abort with \"Fatal glibc error: rseq registration failed\" (elastic/beats#30576).",
      fallsBack: "glibc ≥ 2.35 then runs without rseq (registration fails at start, which it tolerates)."),
    SweepEntry(
      id: "pidfd_open", syscall: n("pidfd_open"), call: "pidfd_open(0, 0)",
      invocation: .raw { _ in [0, 0] }, kernelErrnos: [.invalidArgument], firstKernel: KernelVersion(5, 3),
      fallback: .anyError, need: .optional,
      breaks: "pidfd-based process management (systemd, Go's os/exec on new kernels, Python os.pidfd_open) must fall back to pids."),
    SweepEntry(
      id: "pidfd_send_signal", syscall: n("pidfd_send_signal"), call: "pidfd_send_signal(-1, 0, NULL, 0x80000000 /* bad flag */)",
      invocation: .raw { _ in [-1, 0, 0, 0x8000_0000] }, kernelErrnos: [.invalidArgument, .badFileDescriptor],
      firstKernel: KernelVersion(5, 1), fallback: .anyError, need: .optional,
      breaks: "Signalling processes through pidfds fails; callers must use kill()."),
    SweepEntry(
      id: "pidfd_getfd", syscall: n("pidfd_getfd"), call: "pidfd_getfd(-1, 0, 1 /* bad flag */)",
      invocation: .raw { _ in [-1, 0, 1] }, kernelErrnos: [.invalidArgument, .badFileDescriptor],
      firstKernel: KernelVersion(5, 6), fallback: .anyError, need: .optional,
      breaks: "Taking another process's descriptor fails (Docker allows it only with CAP_SYS_PTRACE)."),
    SweepEntry(
      id: "io_uring_setup", syscall: n("io_uring_setup"), call: "io_uring_setup(1, NULL)",
      invocation: .raw { _ in [1, 0] }, kernelErrnos: [.badAddress], firstKernel: KernelVersion(5, 1),
      configOption: "CONFIG_IO_URING", gate: .ioUringDisabled, fallback: .anyError, need: .optional,
      breaks: "io_uring users (liburing programs, tokio-uring, QEMU aio=io_uring, PostgreSQL io_method=io_uring) must fall back to epoll or threads; Docker ≥ 25 blocks io_uring by default (moby#46762)."),
    SweepEntry(
      id: "userfaultfd", syscall: n("userfaultfd"), call: "userfaultfd(UFFD_USER_MODE_ONLY | 2 /* bad flag */)",
      invocation: .raw { _ in [1 | 2] }, kernelErrnos: [.invalidArgument], firstKernel: KernelVersion(4, 3),
      configOption: "CONFIG_USERFAULTFD", gate: .unprivilegedUserfaultfd, fallback: .anyError, need: .optional,
      breaks: "userfaultfd users (CRIU live migration, some garbage collectors) lose it; Docker and Podman block it on purpose."),
    SweepEntry(
      id: "bpf", syscall: n("bpf"), call: "bpf(-1, NULL, 0)",
      invocation: .raw { _ in [-1, 0, 0] }, kernelErrnos: [.invalidArgument], firstKernel: KernelVersion(3, 18),
      configOption: "CONFIG_BPF_SYSCALL", gate: .unprivilegedBPFDisabled, fallback: .anyError, need: .optional,
      breaks: "eBPF tools (bpftool, bpftrace, Cilium agents) cannot load programs; Docker allows bpf only with CAP_SYS_ADMIN."),
    SweepEntry(
      id: "perf_event_open", syscall: n("perf_event_open"), call: "perf_event_open(NULL, 0, -1, -1, ~0 /* bad flags */)",
      invocation: .raw { _ in [0, 0, -1, -1, -1] }, kernelErrnos: [.invalidArgument], firstKernel: KernelVersion(2, 6, 31),
      gate: .perfEventParanoid, fallback: .anyError, need: .optional,
      breaks: "Profilers (perf, async-profiler, pprof's perf mode) cannot open counters; Docker allows it only with CAP_SYS_ADMIN or CAP_PERFMON."),
    SweepEntry(
      id: "keyctl", syscall: n("keyctl"), call: "keyctl(0x7fffffff /* no such command */, 0, 0, 0, 0)",
      invocation: .raw { _ in [0x7fff_ffff, 0, 0, 0, 0] }, kernelErrnos: [.notSupported],
      firstKernel: KernelVersion(2, 6, 10), configOption: "CONFIG_KEYS", fallback: .anyError, need: .optional,
      breaks: "Kernel keyring users (keyutils, Kerberos KEYRING caches, systemd credentials) fail; Docker blocks keyctl, Podman allows it."),
    SweepEntry(
      id: "unshare", syscall: n("unshare"), call: "unshare(0)",
      invocation: .raw { _ in [0] }, kernelErrnos: [], kernelMaySucceed: true, firstKernel: KernelVersion(2, 6, 16),
      fallback: .anyError, need: .optional,
      breaks: "Creating namespaces fails (rootless builders such as buildah or BuildKit, `unshare`, Chrome's sandbox); Docker allows unshare only with CAP_SYS_ADMIN."),
    SweepEntry(
      id: "setns", syscall: n("setns"), call: "setns(-1, 0)",
      invocation: .raw { _ in [-1, 0] }, kernelErrnos: [.badFileDescriptor, .invalidArgument], firstKernel: KernelVersion(3, 0),
      fallback: .anyError, need: .optional,
      breaks: "Entering namespaces (nsenter, runc exec inside the container) fails; Docker allows setns only with CAP_SYS_ADMIN."),
    SweepEntry(
      id: "mount", syscall: n("mount"), call: "mount(NULL, \"\", NULL, 0, NULL)",
      invocation: .raw { p in [0, p.empty, 0, 0, 0] }, kernelErrnos: [.noSuchFile], firstKernel: KernelVersion(2, 0),
      fallback: .anyError, need: .optional,
      breaks: "Mounting fails even where capabilities allow it (nested containers, FUSE helpers, `mount` in build steps); Docker allows mount only with CAP_SYS_ADMIN."),
    SweepEntry(
      id: "membarrier", syscall: n("membarrier"), call: "membarrier(MEMBARRIER_CMD_QUERY, 2 /* bad flag */)",
      invocation: .raw { _ in [0, 2] }, kernelErrnos: [.invalidArgument], firstKernel: KernelVersion(4, 3),
      configOption: "CONFIG_MEMBARRIER", fallback: .anyError, need: .optional,
      breaks: "liburcu, .NET and JIT runtimes use membarrier for cross-thread barriers and fall back to slower mechanisms."),
    SweepEntry(
      id: "copy_file_range", syscall: n("copy_file_range"), call: "copy_file_range(-1, NULL, -1, NULL, 0, 1 /* bad flag */)",
      invocation: .raw { _ in [-1, 0, -1, 0, 0, 1] }, kernelErrnos: [.badFileDescriptor, .invalidArgument],
      firstKernel: KernelVersion(4, 5), fallback: .anyError, need: .optional,
      breaks: "In-kernel copies fail; coreutils cp and Go's io.Copy fall back to read/write on ENOSYS, EPERM and similar errors."),
    SweepEntry(
      id: "memfd_create", syscall: n("memfd_create"), call: "memfd_create(\"culprit\", 0x80000000 /* bad flag */)",
      invocation: .raw { p in [p.name, 0x8000_0000] }, kernelErrnos: [.invalidArgument], firstKernel: KernelVersion(3, 17),
      fallback: .anyError, need: .optional,
      breaks: "Anonymous memory files fail (systemd, Wayland and Chromium shared memory, runc's self-copy); callers fall back to /dev/shm where they can."),
    SweepEntry(
      id: "getrandom", syscall: n("getrandom"), call: "getrandom(NULL, 0, 0x8000 /* bad flag */)",
      invocation: .raw { _ in [0, 0, 0x8000] }, kernelErrnos: [.invalidArgument], firstKernel: KernelVersion(3, 17),
      fallback: .enosysOnly, need: .runtime,
      breaks: "glibc's getrandom() has no fallback, and libraries that fall back to /dev/urandom mostly do so only on ENOSYS: seeding random numbers fails (TLS libraries, language runtimes' hash seeds).",
      fallsBack: "ENOSYS lets getrandom users fall back to /dev/urandom."),
    SweepEntry(
      id: "landlock_create_ruleset", syscall: n("landlock_create_ruleset"), call: "landlock_create_ruleset(NULL, 0, LANDLOCK_CREATE_RULESET_VERSION)",
      invocation: .raw { _ in [0, 0, 1] }, kernelErrnos: [.notSupported], kernelMaySucceed: true,
      firstKernel: KernelVersion(5, 13), fallback: .anyError, need: .optional,
      breaks: "Programs that sandbox themselves with Landlock run without it."),
    SweepEntry(
      id: "process_madvise", syscall: n("process_madvise"), call: "process_madvise(-1, NULL, 0, 0, 1 /* bad flag */)",
      invocation: .raw { _ in [-1, 0, 0, 0, 1] }, kernelErrnos: [.invalidArgument], firstKernel: KernelVersion(5, 10),
      fallback: .anyError, need: .optional,
      breaks: "Memory advice to other processes fails (Docker allows it only with CAP_SYS_PTRACE)."),
    SweepEntry(
      id: "epoll_pwait2", syscall: n("epoll_pwait2"), call: "epoll_pwait2(-1, NULL, 0 /* no events */, NULL, NULL, 0)",
      invocation: .raw { _ in [-1, 0, 0, 0, 0, 0] }, kernelErrnos: [.invalidArgument, .badFileDescriptor],
      firstKernel: KernelVersion(5, 11), fallback: .enosysOnly, need: .optional,
      breaks: "Event loops that use epoll_pwait2 for nanosecond timeouts fail unless they fall back on this errno.",
      fallsBack: "ENOSYS lets event loops fall back to epoll_pwait."),
    SweepEntry(
      id: "futex_waitv", syscall: n("futex_waitv"), call: "futex_waitv(NULL, 0, 1 /* bad flag */, NULL, 0)",
      invocation: .raw { _ in [0, 0, 1, 0, 0] }, kernelErrnos: [.invalidArgument], firstKernel: KernelVersion(5, 16),
      fallback: .anyError, need: .optional,
      breaks: "Wine and Proton's fsync fall back to slower synchronisation."),
    SweepEntry(
      id: "cachestat", syscall: n("cachestat"), call: "cachestat(-1, NULL, NULL, 1 /* bad flag */)",
      invocation: .raw { _ in [Int(UInt32.max), 0, 0, 1] }, kernelErrnos: [.badFileDescriptor, .invalidArgument],
      firstKernel: KernelVersion(6, 5), fallback: .anyError, need: .optional,
      breaks: "Page-cache statistics are unavailable to the programs that ask for them."),
    SweepEntry(
      id: "fchmodat2", syscall: n("fchmodat2"), call: "fchmodat2(AT_FDCWD, \"\(SweepPointers.missingPath)\", 0, 1 /* bad flag */)",
      invocation: .raw { p in [atFdcwd, p.missing, 0, 1] }, kernelErrnos: [.invalidArgument], firstKernel: KernelVersion(6, 6),
      fallback: .enosysOnly, need: .runtime,
      breaks: "glibc ≥ 2.39 fchmodat() with AT_SYMLINK_NOFOLLOW (`chmod -h`, lchmod(), rsync, tar) tries fchmodat2 and falls back only on ENOSYS, so it fails with this errno.",
      fallsBack: "ENOSYS lets glibc ≥ 2.39 fall back to its O_PATH emulation."),
    SweepEntry(
      id: "map_shadow_stack", syscall: n("map_shadow_stack"), call: "map_shadow_stack(0, 0, 0x80000000 /* bad flag */)",
      invocation: .raw { _ in [0, 0, 0x8000_0000] }, kernelErrnos: [.invalidArgument, .notSupported],
      firstKernel: KernelVersion(6, 6), firstKernelAArch64: KernelVersion(6, 13),
      configOption: "CONFIG_X86_USER_SHADOW_STACK / CONFIG_ARM64_GCS", fallback: .anyError, need: .optional,
      breaks: "Programs built for shadow stacks (glibc's x86 CET tunable, arm64 GCS) run without them."),
    SweepEntry(
      id: "mseal", syscall: n("mseal"), call: "mseal(0, 0, 1 /* bad flag */)",
      invocation: .raw { _ in [0, 0, 1] }, kernelErrnos: [.invalidArgument], firstKernel: KernelVersion(6, 10),
      fallback: .anyError, need: .optional,
      breaks: "Programs that seal their mappings (Chromium) run without sealing."),
    SweepEntry(
      id: "ptrace", syscall: .ptrace, call: "ptrace(PTRACE_PEEKUSER, getpid(), 0, 0)",
      invocation: .raw { _ in [3, Int(getpid()), 0, 0] }, kernelErrnos: [.noSuchProcess], firstKernel: KernelVersion(2, 0),
      fallback: .anyError, need: .optional,
      breaks: "Debuggers and tracers (gdb, `dlv attach`, strace, py-spy) fail; Docker allows ptrace on kernels ≥ 4.8 (moby#38137), older profiles and Concourse's did not."),
    SweepEntry(
      id: "mknodat", syscall: .mknodat, call: "mknodat(AT_FDCWD, \"\(SweepPointers.missingPath)\", S_IFMT|0600 /* bad type */, 0)",
      invocation: .raw { p in [atFdcwd, p.missing, 0o170600, 0] }, kernelErrnos: [.invalidArgument],
      firstKernel: KernelVersion(2, 6, 16), fallback: .anyError, need: .optional,
      breaks: "Creating device nodes, FIFOs and sockets with mknod fails (`mkfifo`, package post-install scripts)."),
    SweepEntry(
      id: "personality", syscall: n("personality"), call: "personality(0xffffffff) /* query */",
      invocation: .raw { _ in [0xffff_ffff] }, kernelErrnos: [], kernelMaySucceed: true, firstKernel: KernelVersion(2, 0),
      fallback: .anyError, need: .optional,
      breaks: "Querying or changing the execution domain fails (`setarch`, `linux32`, ASLR-disabling debuggers); Docker allows only a few values."),
    socket("AF_UNIX", 1, need: .runtime, fallback: .none,
      breaks: "Unix sockets carry syslog, D-Bus, nscd, Docker's and X11's sockets: programs that talk to local services fail."),
    socket("AF_INET", 2, need: .runtime, fallback: .none,
      breaks: "No IPv4 socket can be created: every network client, DNS lookups included, fails."),
    socket("AF_INET6", 10, need: .runtime, fallback: .anyError,
      breaks: "IPv6 sockets fail; most clients then try IPv4, but programs that open an IPv6 socket first and die on a kill cannot."),
    socket("AF_NETLINK", 16, need: .optional, fallback: .anyError,
      breaks: "Netlink fails: `ip`, network managers and glibc's getaddrinfo(AI_ADDRCONFIG) interface check (which then assumes both IPv4 and IPv6) lose it."),
    socket("AF_PACKET", 17, need: .optional, fallback: .anyError,
      breaks: "Raw packet sockets fail (tcpdump, DHCP clients); Docker grants them only with CAP_NET_RAW."),
  ]

  /// An unassigned number on both architectures (x86_64 reserves 387–423; the generic table
  /// leaves 295–402 unused on 64-bit): the kernel answers ENOSYS, so what comes back is the
  /// filter's default action (field-facts §0.5).
  public static let unassignedNumber = 400
  /// A number above every syscall any profile names: runc's -ENOSYS stub answers it ENOSYS even
  /// when the default action is EPERM (field-facts §1.4).
  public static let aboveEveryProfileNumber = 1000
}
