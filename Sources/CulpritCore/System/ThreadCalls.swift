import CCulprit

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Thread and task creation: the raw clone calls the thread probe makes with arguments the
/// kernel rejects early, and one real thread. Only ever called in a probe's child: culprit's own
/// process stays single-threaded.
extension Sys {
  /// CLONE_SIGHAND (include/uapi/linux/sched.h).
  static let cloneSighand: UInt = 0x0000_0800

  /// clone3(NULL, 0): the kernel answers EINVAL (copy_clone_args_from_user: size below
  /// CLONE_ARGS_SIZE_VER0) without creating anything, so any other answer came from a seccomp
  /// filter or a kernel without clone3 (before 5.3).
  public static func clone3WithZeroSize() -> Result<Int, Errno> {
    let result = culprit_clone3(nil, 0)
    return result == -1 ? .failure(.current) : .success(result)
  }

  /// Legacy clone(CLONE_SIGHAND, 0, 0, 0, 0): CLONE_SIGHAND without CLONE_VM is refused with
  /// EINVAL among copy_process's first checks, before anything is allocated. No namespace flag is
  /// set, so Docker's argument filter on clone lets it through.
  public static func cloneSighandWithoutVM() -> Result<Int, Errno> {
    let result = culprit_clone_legacy(cloneSighand)
    return result == -1 ? .failure(.current) : .success(result)
  }

  /// Runs `body` in a new thread created with pthread_create(3) and joins it. Returns nil when
  /// the thread ran, or pthread_create's error number (it returns the number; errno is not set).
  public static func runInThread(_ body: @escaping () -> Void) -> Errno? {
    final class Box {
      let body: () -> Void
      init(_ body: @escaping () -> Void) { self.body = body }
    }
    let box = Box(body)
    let code = withExtendedLifetime(box) {
      culprit_run_in_thread(
        { raw in Unmanaged<Box>.fromOpaque(raw!).takeUnretainedValue().body() },
        Unmanaged.passUnretained(box).toOpaque())
    }
    return code == 0 ? nil : Errno(rawValue: code)
  }

  /// The version of the C library culprit was linked with ("2.36"), or nil when it is not glibc.
  public static var ownLibcVersion: String? {
    culprit_own_libc_version().map { String(cString: $0) }
  }
}
