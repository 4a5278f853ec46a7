#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// An error number returned by the kernel or libc.
///
/// The symbolic name (`EPERM`) is what evidence sentences show, because it is what a person
/// compares with man pages, strace output and seccomp profiles.
public struct Errno: Error, RawRepresentable, Hashable, Sendable, CustomStringConvertible {
  public var rawValue: Int32

  public init(rawValue: Int32) { self.rawValue = rawValue }

  /// The errno of the calling thread, read at once.
  public static var current: Errno { Errno(rawValue: errno) }

  /// Operation not permitted. The corresponding C error is `EPERM`.
  public static let notPermitted = Errno(rawValue: 1)
  /// No such file or directory. The corresponding C error is `ENOENT`.
  public static let noSuchFile = Errno(rawValue: 2)
  /// No such process. The corresponding C error is `ESRCH`.
  public static let noSuchProcess = Errno(rawValue: 3)
  /// Interrupted system call. The corresponding C error is `EINTR`.
  public static let interrupted = Errno(rawValue: 4)
  /// No such device or address. The corresponding C error is `ENXIO`.
  public static let noSuchDeviceOrAddress = Errno(rawValue: 6)
  /// Argument list too long. The corresponding C error is `E2BIG`.
  public static let argumentListTooLong = Errno(rawValue: 7)
  /// Bad file descriptor. The corresponding C error is `EBADF`.
  public static let badFileDescriptor = Errno(rawValue: 9)
  /// No child processes. The corresponding C error is `ECHILD`.
  public static let noChildProcess = Errno(rawValue: 10)
  /// Resource temporarily unavailable. The corresponding C error is `EAGAIN`.
  public static let resourceTemporarilyUnavailable = Errno(rawValue: 11)
  /// Cannot allocate memory. The corresponding C error is `ENOMEM`.
  public static let noMemory = Errno(rawValue: 12)
  /// Permission denied. The corresponding C error is `EACCES`.
  public static let permissionDenied = Errno(rawValue: 13)
  /// Bad address. The corresponding C error is `EFAULT`.
  public static let badAddress = Errno(rawValue: 14)
  /// File exists. The corresponding C error is `EEXIST`.
  public static let fileExists = Errno(rawValue: 17)
  /// No such device. The corresponding C error is `ENODEV`.
  public static let noSuchDevice = Errno(rawValue: 19)
  /// Not a directory. The corresponding C error is `ENOTDIR`.
  public static let notDirectory = Errno(rawValue: 20)
  /// Invalid argument. The corresponding C error is `EINVAL`.
  public static let invalidArgument = Errno(rawValue: 22)
  /// Read-only file system. The corresponding C error is `EROFS`.
  public static let readOnlyFileSystem = Errno(rawValue: 30)
  /// Function not implemented. The corresponding C error is `ENOSYS`.
  public static let noFunction = Errno(rawValue: 38)
  /// Operation not supported. The corresponding C error is `EOPNOTSUPP`.
  public static let notSupported = Errno(rawValue: 95)
  /// Address family not supported by protocol. The corresponding C error is `EAFNOSUPPORT`.
  public static let addressFamilyNotSupported = Errno(rawValue: 97)
  /// Network is unreachable. The corresponding C error is `ENETUNREACH`.
  public static let networkUnreachable = Errno(rawValue: 101)
  /// Connection refused. The corresponding C error is `ECONNREFUSED`.
  public static let connectionRefused = Errno(rawValue: 111)
  /// Connection timed out. The corresponding C error is `ETIMEDOUT`.
  public static let timedOut = Errno(rawValue: 110)

  /// The symbolic name, `EPERM`, or `errno 200` for a number the table does not know.
  public var name: String { Errno.table[rawValue]?.name ?? "errno \(rawValue)" }

  /// The message glibc prints for this number.
  public var message: String { Errno.table[rawValue]?.message ?? "Unknown error \(rawValue)" }

  /// `EPERM (Operation not permitted)`.
  public var description: String { "\(name) (\(message))" }

  /// Looks up a symbolic name such as `EPERM`.
  public init?(name: String) {
    guard let entry = Errno.table.first(where: { $0.value.name == name }) else { return nil }
    self.rawValue = entry.key
  }

  /// Linux error numbers (identical on x86_64 and aarch64, which use the generic table).
  static let table: [Int32: (name: String, message: String)] = [
    1: ("EPERM", "Operation not permitted"),
    2: ("ENOENT", "No such file or directory"),
    3: ("ESRCH", "No such process"),
    4: ("EINTR", "Interrupted system call"),
    5: ("EIO", "Input/output error"),
    6: ("ENXIO", "No such device or address"),
    7: ("E2BIG", "Argument list too long"),
    8: ("ENOEXEC", "Exec format error"),
    9: ("EBADF", "Bad file descriptor"),
    10: ("ECHILD", "No child processes"),
    11: ("EAGAIN", "Resource temporarily unavailable"),
    12: ("ENOMEM", "Cannot allocate memory"),
    13: ("EACCES", "Permission denied"),
    14: ("EFAULT", "Bad address"),
    15: ("ENOTBLK", "Block device required"),
    16: ("EBUSY", "Device or resource busy"),
    17: ("EEXIST", "File exists"),
    18: ("EXDEV", "Invalid cross-device link"),
    19: ("ENODEV", "No such device"),
    20: ("ENOTDIR", "Not a directory"),
    21: ("EISDIR", "Is a directory"),
    22: ("EINVAL", "Invalid argument"),
    23: ("ENFILE", "Too many open files in system"),
    24: ("EMFILE", "Too many open files"),
    25: ("ENOTTY", "Inappropriate ioctl for device"),
    26: ("ETXTBSY", "Text file busy"),
    27: ("EFBIG", "File too large"),
    28: ("ENOSPC", "No space left on device"),
    29: ("ESPIPE", "Illegal seek"),
    30: ("EROFS", "Read-only file system"),
    31: ("EMLINK", "Too many links"),
    32: ("EPIPE", "Broken pipe"),
    33: ("EDOM", "Numerical argument out of domain"),
    34: ("ERANGE", "Numerical result out of range"),
    35: ("EDEADLK", "Resource deadlock avoided"),
    36: ("ENAMETOOLONG", "File name too long"),
    37: ("ENOLCK", "No locks available"),
    38: ("ENOSYS", "Function not implemented"),
    39: ("ENOTEMPTY", "Directory not empty"),
    40: ("ELOOP", "Too many levels of symbolic links"),
    42: ("ENOMSG", "No message of desired type"),
    43: ("EIDRM", "Identifier removed"),
    44: ("ECHRNG", "Channel number out of range"),
    45: ("EL2NSYNC", "Level 2 not synchronized"),
    46: ("EL3HLT", "Level 3 halted"),
    47: ("EL3RST", "Level 3 reset"),
    48: ("ELNRNG", "Link number out of range"),
    49: ("EUNATCH", "Protocol driver not attached"),
    50: ("ENOCSI", "No CSI structure available"),
    51: ("EL2HLT", "Level 2 halted"),
    52: ("EBADE", "Invalid exchange"),
    53: ("EBADR", "Invalid request descriptor"),
    54: ("EXFULL", "Exchange full"),
    55: ("ENOANO", "No anode"),
    56: ("EBADRQC", "Invalid request code"),
    57: ("EBADSLT", "Invalid slot"),
    59: ("EBFONT", "Bad font file format"),
    60: ("ENOSTR", "Device not a stream"),
    61: ("ENODATA", "No data available"),
    62: ("ETIME", "Timer expired"),
    63: ("ENOSR", "Out of streams resources"),
    64: ("ENONET", "Machine is not on the network"),
    65: ("ENOPKG", "Package not installed"),
    66: ("EREMOTE", "Object is remote"),
    67: ("ENOLINK", "Link has been severed"),
    68: ("EADV", "Advertise error"),
    69: ("ESRMNT", "Srmount error"),
    70: ("ECOMM", "Communication error on send"),
    71: ("EPROTO", "Protocol error"),
    72: ("EMULTIHOP", "Multihop attempted"),
    73: ("EDOTDOT", "RFS specific error"),
    74: ("EBADMSG", "Bad message"),
    75: ("EOVERFLOW", "Value too large for defined data type"),
    76: ("ENOTUNIQ", "Name not unique on network"),
    77: ("EBADFD", "File descriptor in bad state"),
    78: ("EREMCHG", "Remote address changed"),
    79: ("ELIBACC", "Can not access a needed shared library"),
    80: ("ELIBBAD", "Accessing a corrupted shared library"),
    81: ("ELIBSCN", ".lib section in a.out corrupted"),
    82: ("ELIBMAX", "Attempting to link in too many shared libraries"),
    83: ("ELIBEXEC", "Cannot exec a shared library directly"),
    84: ("EILSEQ", "Invalid or incomplete multibyte or wide character"),
    85: ("ERESTART", "Interrupted system call should be restarted"),
    86: ("ESTRPIPE", "Streams pipe error"),
    87: ("EUSERS", "Too many users"),
    88: ("ENOTSOCK", "Socket operation on non-socket"),
    89: ("EDESTADDRREQ", "Destination address required"),
    90: ("EMSGSIZE", "Message too long"),
    91: ("EPROTOTYPE", "Protocol wrong type for socket"),
    92: ("ENOPROTOOPT", "Protocol not available"),
    93: ("EPROTONOSUPPORT", "Protocol not supported"),
    94: ("ESOCKTNOSUPPORT", "Socket type not supported"),
    95: ("EOPNOTSUPP", "Operation not supported"),
    96: ("EPFNOSUPPORT", "Protocol family not supported"),
    97: ("EAFNOSUPPORT", "Address family not supported by protocol"),
    98: ("EADDRINUSE", "Address already in use"),
    99: ("EADDRNOTAVAIL", "Cannot assign requested address"),
    100: ("ENETDOWN", "Network is down"),
    101: ("ENETUNREACH", "Network is unreachable"),
    102: ("ENETRESET", "Network dropped connection on reset"),
    103: ("ECONNABORTED", "Software caused connection abort"),
    104: ("ECONNRESET", "Connection reset by peer"),
    105: ("ENOBUFS", "No buffer space available"),
    106: ("EISCONN", "Transport endpoint is already connected"),
    107: ("ENOTCONN", "Transport endpoint is not connected"),
    108: ("ESHUTDOWN", "Cannot send after transport endpoint shutdown"),
    109: ("ETOOMANYREFS", "Too many references: cannot splice"),
    110: ("ETIMEDOUT", "Connection timed out"),
    111: ("ECONNREFUSED", "Connection refused"),
    112: ("EHOSTDOWN", "Host is down"),
    113: ("EHOSTUNREACH", "No route to host"),
    114: ("EALREADY", "Operation already in progress"),
    115: ("EINPROGRESS", "Operation now in progress"),
    116: ("ESTALE", "Stale file handle"),
    117: ("EUCLEAN", "Structure needs cleaning"),
    118: ("ENOTNAM", "Not a XENIX named type file"),
    119: ("ENAVAIL", "No XENIX semaphores available"),
    120: ("EISNAM", "Is a named type file"),
    121: ("EREMOTEIO", "Remote I/O error"),
    122: ("EDQUOT", "Disk quota exceeded"),
    123: ("ENOMEDIUM", "No medium found"),
    124: ("EMEDIUMTYPE", "Wrong medium type"),
    125: ("ECANCELED", "Operation canceled"),
    126: ("ENOKEY", "Required key not available"),
    127: ("EKEYEXPIRED", "Key has expired"),
    128: ("EKEYREVOKED", "Key has been revoked"),
    129: ("EKEYREJECTED", "Key was rejected by service"),
    130: ("EOWNERDEAD", "Owner died"),
    131: ("ENOTRECOVERABLE", "State not recoverable"),
    132: ("ERFKILL", "Operation not possible due to RF-kill"),
  ]
}
