import CCulprit

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// The only place that calls libc for files, processes and signals. Each wrapper reads errno at
/// once and returns `Result<_, Errno>`; a denial is data, not an exception.
public enum Sys {
  /// Runs `body`, retrying on EINTR, and returns its value or the errno of a -1 result.
  @inline(__always)
  static func retrying<T: BinaryInteger>(_ body: () -> T) -> Result<T, Errno> {
    while true {
      let value = body()
      if value != -1 { return .success(value) }
      let err = Errno.current
      if err != .interrupted { return .failure(err) }
    }
  }

  @inline(__always)
  static func once<T: BinaryInteger>(_ body: () -> T) -> Result<T, Errno> {
    let value = body()
    return value == -1 ? .failure(Errno.current) : .success(value)
  }

  // MARK: Files

  public static func open(_ path: String, _ flags: Int32, _ mode: mode_t = 0) -> Result<Int32, Errno> {
    retrying { Glibc.open(path, flags | O_CLOEXEC, mode) }
  }

  public static func close(_ fd: Int32) {
    _ = Glibc.close(fd)
  }

  public static func read(_ fd: Int32, into buffer: UnsafeMutableRawBufferPointer) -> Result<Int, Errno> {
    retrying { Glibc.read(fd, buffer.baseAddress, buffer.count) }
  }

  /// Writes all of `bytes`, retrying short writes and EINTR.
  public static func writeAll(_ fd: Int32, _ bytes: [UInt8]) -> Result<Void, Errno> {
    var offset = 0
    while offset < bytes.count {
      let result = bytes.withUnsafeBytes { raw in
        retrying { Glibc.write(fd, raw.baseAddress! + offset, raw.count - offset) }
      }
      switch result {
      case .success(let n): offset += n
      case .failure(let err): return .failure(err)
      }
    }
    return .success(())
  }

  /// Reads a whole file. /proc and /sys files report size 0, so this reads until EOF.
  public static func readFile(_ path: String, limit: Int = 4 << 20) -> Result<[UInt8], Errno> {
    let fd: Int32
    switch open(path, O_RDONLY) {
    case .success(let value): fd = value
    case .failure(let err): return .failure(err)
    }
    defer { close(fd) }
    // Regular files report their size, so a big one (a libc) is read without regrowing the
    // array; /proc and /sys files report 0 and grow as they are read.
    var st = Glibc.stat()
    let size = fstat(fd, &st) == 0 ? Int(st.st_size) : 0
    var bytes = [UInt8](repeating: 0, count: min(limit, max(size + 1, 4096)))
    var used = 0
    while used < limit {
      if used == bytes.count { bytes.append(contentsOf: repeatElement(0, count: min(limit, bytes.count * 2) - bytes.count)) }
      let result = bytes.withUnsafeMutableBytes { raw in
        read(fd, into: UnsafeMutableRawBufferPointer(rebasing: raw[used...]))
      }
      switch result {
      case .success(0):
        bytes.removeSubrange(used...)
        return .success(bytes)
      case .success(let n): used += n
      case .failure(let err): return .failure(err)
      }
    }
    bytes.removeSubrange(used...)
    return .success(bytes)
  }

  /// Writes a whole file (creating or truncating it).
  public static func writeFile(_ path: String, _ text: String, mode: mode_t = 0o644) -> Result<Void, Errno> {
    switch open(path, O_WRONLY | O_CREAT | O_TRUNC, mode) {
    case .failure(let err): return .failure(err)
    case .success(let fd):
      defer { close(fd) }
      return writeAll(fd, Array(text.utf8))
    }
  }

  public static func lstat(_ path: String) -> Result<Glibc.stat, Errno> {
    var st = Glibc.stat()
    return once { Glibc.lstat(path, &st) }.map { _ in st }
  }

  public static func readLink(_ path: String) -> Result<String, Errno> {
    var buffer = [CChar](repeating: 0, count: 4097)
    let n = Glibc.readlink(path, &buffer, 4096)
    if n < 0 { return .failure(.current) }
    return .success(String(decoding: buffer[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self))
  }

  /// Names in a directory, without "." and "..", in the order the kernel gives them.
  public static func listDirectory(_ path: String) -> Result<[String], Errno> {
    guard let dir = opendir(path) else { return .failure(.current) }
    defer { closedir(dir) }
    var names: [String] = []
    while let entry = readdir(dir) {
      let name = withUnsafePointer(to: entry.pointee.d_name) {
        $0.withMemoryRebound(to: CChar.self, capacity: 256) { String(cString: $0) }
      }
      if name != "." && name != ".." { names.append(name) }
    }
    return .success(names)
  }

  public static func mkdir(_ path: String, _ mode: mode_t) -> Result<Void, Errno> {
    once { Glibc.mkdir(path, mode) }.map { _ in () }
  }

  public static func rmdir(_ path: String) -> Result<Void, Errno> {
    once { Glibc.rmdir(path) }.map { _ in () }
  }

  public static func unlink(_ path: String) -> Result<Void, Errno> {
    once { Glibc.unlink(path) }.map { _ in () }
  }

  public static func mknod(_ path: String, _ mode: mode_t, _ device: dev_t) -> Result<Void, Errno> {
    once { Glibc.mknod(path, mode, device) }.map { _ in () }
  }

  public static func access(_ path: String, _ mode: Int32) -> Result<Void, Errno> {
    once { Glibc.access(path, mode) }.map { _ in () }
  }

  /// statfs(2)'s f_type: the filesystem's magic number.
  public static func filesystemType(_ path: String) -> Result<UInt, Errno> {
    once { culprit_statfs_type(path) }.map { UInt(bitPattern: $0) }
  }

  // MARK: Identity and limits

  public struct Identity: Equatable, Sendable {
    public var pid: Int32
    public var uid: UInt32
    public var euid: UInt32
    public var gid: UInt32
    public var egid: UInt32
  }

  public static func identity() -> Identity {
    Identity(pid: getpid(), uid: getuid(), euid: geteuid(), gid: getgid(), egid: getegid())
  }

  public struct Limit: Equatable, Sendable {
    /// nil means unlimited (RLIM_INFINITY).
    public var soft: UInt64?
    public var hard: UInt64?
  }

  public static func rlimit(_ resource: Int32) -> Result<Limit, Errno> {
    var value = Glibc.rlimit()
    let r = getrlimit(__rlimit_resource_t(UInt32(resource)), &value)
    if r != 0 { return .failure(.current) }
    func convert(_ v: rlim_t) -> UInt64? { v == rlim_t.max ? nil : UInt64(v) }
    return .success(Limit(soft: convert(value.rlim_cur), hard: convert(value.rlim_max)))
  }

  /// setrlimit(2) with the same soft and hard value.
  public static func setRLimit(_ resource: Int32, _ value: UInt64) -> Result<Void, Errno> {
    var limit = Glibc.rlimit(rlim_cur: rlim_t(value), rlim_max: rlim_t(value))
    return once { setrlimit(__rlimit_resource_t(UInt32(resource)), &limit) }.map { _ in () }
  }

  public struct UName: Equatable, Sendable {
    public var sysname: String
    public var release: String
    public var version: String
    public var machine: String
    public var nodename: String
  }

  public static func uname() -> Result<UName, Errno> {
    var u = utsname()
    if Glibc.uname(&u) != 0 { return .failure(.current) }
    func field<T>(_ value: T) -> String {
      withUnsafeBytes(of: value) { raw in
        let bytes = raw.prefix(while: { $0 != 0 })
        return String(decoding: bytes, as: UTF8.self)
      }
    }
    return .success(
      UName(
        sysname: field(u.sysname), release: field(u.release), version: field(u.version),
        machine: field(u.machine), nodename: field(u.nodename)))
  }

  // MARK: Processes

  /// fork(2). In the child, signal dispositions the runner installed are reset first.
  public static func fork() -> Result<pid_t, Errno> {
    let pid = Glibc.fork()
    if pid < 0 { return .failure(.current) }
    if pid == 0 { culprit_reset_signals_in_child() }
    return .success(pid)
  }

  public enum WaitStatus: Equatable, Sendable {
    case exited(Int32)
    case signaled(Int32, coreDumped: Bool)
    case stopped(Int32)
  }

  static func decode(_ status: Int32) -> WaitStatus {
    let low = status & 0x7f
    if low == 0 { return .exited((status >> 8) & 0xff) }
    if low == 0x7f { return .stopped((status >> 8) & 0xff) }
    return .signaled(low, coreDumped: status & 0x80 != 0)
  }

  /// waitpid(pid, WNOHANG): nil while the child still runs.
  public static func tryWait(_ pid: pid_t) -> Result<WaitStatus?, Errno> {
    var status: Int32 = 0
    switch retrying({ waitpid(pid, &status, WNOHANG) }) {
    case .failure(let err): return .failure(err)
    case .success(0): return .success(nil)
    case .success: return .success(decode(status))
    }
  }

  /// Blocking waitpid(pid, 0).
  public static func wait(_ pid: pid_t, flags: Int32 = 0) -> Result<WaitStatus, Errno> {
    var status: Int32 = 0
    return retrying { waitpid(pid, &status, flags) }.map { _ in decode(status) }
  }

  /// Reaps every exited child (of any pid) without blocking, including orphans handed to us as a
  /// subreaper.
  public static func reapAny() {
    var status: Int32 = 0
    while waitpid(-1, &status, WNOHANG | __WALL) > 0 {}
  }

  public static func kill(_ pid: pid_t, _ signal: Int32) -> Result<Void, Errno> {
    once { Glibc.kill(pid, signal) }.map { _ in () }
  }

  public static func exitImmediately(_ code: Int32) -> Never {
    _exit(code)
  }

  /// A pipe whose ends are close-on-exec; the read end is non-blocking. Only culprit's own
  /// plumbing uses pipes, so a failure is recorded as such (`Plumbing`).
  public static func pipe() -> Result<(read: Int32, write: Int32), Errno> {
    var fds: [Int32] = [0, 0]
    if culprit_pipe2(&fds, O_CLOEXEC) != 0 { return .failure(Plumbing.record("pipe2", .current).errno) }
    _ = fcntl(fds[0], F_SETFL, fcntl(fds[0], F_GETFL) | O_NONBLOCK)
    return .success((fds[0], fds[1]))
  }

  /// mmap(2) of `bytes` zeroed bytes shared with the children forked afterwards
  /// (MAP_SHARED | MAP_ANONYMOUS): what a child writes there survives its death.
  public static func mapShared(bytes: Int) -> Result<UnsafeMutableRawPointer, Errno> {
    guard let pointer = mmap(nil, bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0),
      pointer != MAP_FAILED
    else { return .failure(.current) }
    return .success(pointer)
  }

  public static func unmap(_ pointer: UnsafeMutableRawPointer, bytes: Int) {
    _ = munmap(pointer, bytes)
  }

  // MARK: Time

  /// CLOCK_MONOTONIC in nanoseconds.
  public static func monotonicNanoseconds() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
  }

  public static func sleep(milliseconds: Int) {
    var request = timespec(tv_sec: milliseconds / 1000, tv_nsec: (milliseconds % 1000) * 1_000_000)
    var remaining = timespec()
    while nanosleep(&request, &remaining) != 0 && errno == EINTR { request = remaining }
  }

  // MARK: Raw calls

  /// A raw system call with up to six arguments.
  public static func raw(_ number: Int, _ a: [Int] = []) -> Result<Int, Errno> {
    var args = a
    while args.count < 6 { args.append(0) }
    let result = culprit_syscall(number, args[0], args[1], args[2], args[3], args[4], args[5])
    return result == -1 ? .failure(.current) : .success(result)
  }

  public static func prctl(_ option: Int32, _ a2: UInt = 0, _ a3: UInt = 0, _ a4: UInt = 0, _ a5: UInt = 0)
    -> Result<Int32, Errno>
  {
    once { culprit_prctl(option, a2, a3, a4, a5) }
  }
}

extension Result {
  /// The error, or nil on success.
  public var failure: Failure? {
    if case .failure(let err) = self { return err }
    return nil
  }

  /// The value, or nil on failure.
  public var value: Success? {
    if case .success(let v) = self { return v }
    return nil
  }
}
