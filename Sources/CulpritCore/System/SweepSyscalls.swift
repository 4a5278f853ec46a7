import CCulprit

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

extension Sys {
  /// clone3(NULL, 0) for the syscall sweep: the kernel answers EINVAL (size below
  /// CLONE_ARGS_SIZE_VER0) when no filter stops it. Should a child ever be created, it exits at
  /// once in C. Returns the errno, or nil when the call unexpectedly succeeded.
  public static func sweepClone3() -> Result<Int, Errno> {
    let result = culprit_clone3(nil, 0)
    return result == -1 ? .failure(.current) : .success(result)
  }

  /// clone(flags, 0, 0, 0, 0) through the same kind of shim.
  public static func sweepCloneLegacy(flags: UInt) -> Result<Int, Errno> {
    let result = culprit_clone_legacy(flags)
    return result == -1 ? .failure(.current) : .success(result)
  }
}
