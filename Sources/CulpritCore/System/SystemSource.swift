import CCulprit

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Where the layer readers get the machine's state from: the live system, or a directory of
/// files captured from a real machine or container (a fixture) with the results of the few
/// system calls that are not files.
///
/// Readers only ever take a `SystemSource`, so every reader runs in tests against fixtures
/// recorded from real systems (`Tests/CulpritCoreTests/Fixtures/*`).
public protocol SystemSource: AnyObject {
  /// The whole text of a file (UTF-8, invalid bytes replaced).
  func readText(_ path: String) -> Result<String, Errno>
  /// The names in a directory.
  func list(_ path: String) -> Result<[String], Errno>
  /// lstat(2) type of a path, or the errno.
  func fileType(_ path: String) -> Result<FileType, Errno>
  /// The target of a symbolic link.
  func readLink(_ path: String) -> Result<String, Errno>
  /// The `length` bytes that follow the first occurrence of `needle` in a (binary) file, or nil
  /// when the needle does not occur. Used to read version banners out of shared libraries
  /// without copying them.
  func find(_ needle: String, inFile path: String, length: Int) -> Result<String?, Errno>
  /// uname(2).
  func uname() -> Result<Sys.UName, Errno>
  /// statfs(2)'s f_type.
  func filesystemType(_ path: String) -> Result<UInt, Errno>
  /// getrlimit(2).
  func rlimit(_ resource: RLimitResource) -> Result<Sys.Limit, Errno>
  /// The ids of this process.
  func identity() -> Sys.Identity
  /// The capability sets and no_new_privs from capget(2) and prctl(2), in /proc/self/status's
  /// field names (CapEff, CapBnd, …, NoNewPrivs, Seccomp): the fallback when /proc is missing.
  func capabilitiesBySyscall() -> Result<[String: String], Errno>
}

/// The file types that matter to the readers.
public enum FileType: String, Sendable {
  case regular, directory, symlink, characterDevice, blockDevice, fifo, socket, unknown

  init(mode: mode_t) {
    switch mode & S_IFMT {
    case S_IFREG: self = .regular
    case S_IFDIR: self = .directory
    case S_IFLNK: self = .symlink
    case S_IFCHR: self = .characterDevice
    case S_IFBLK: self = .blockDevice
    case S_IFIFO: self = .fifo
    case S_IFSOCK: self = .socket
    default: self = .unknown
    }
  }
}

/// The rlimits the probes care about, with their Linux numbers.
public enum RLimitResource: Int32, CaseIterable, Sendable {
  case nproc = 6
  case nofile = 7
  case stack = 3
  case memlock = 8
  case addressSpace = 9

  public var name: String {
    switch self {
    case .nproc: return "RLIMIT_NPROC"
    case .nofile: return "RLIMIT_NOFILE"
    case .stack: return "RLIMIT_STACK"
    case .memlock: return "RLIMIT_MEMLOCK"
    case .addressSpace: return "RLIMIT_AS"
    }
  }
}

extension SystemSource {
  public func exists(_ path: String) -> Bool { fileType(path).value != nil }

  /// The file's text without its trailing newline, or nil when it cannot be read.
  public func readLine(_ path: String) -> String? {
    readText(path).value.map { text in
      var t = Substring(text)
      while t.last == "\n" { t = t.dropLast() }
      return String(t)
    }
  }
}

/// The running system.
public final class LiveSystem: SystemSource {
  public init() {}

  public func readText(_ path: String) -> Result<String, Errno> {
    Sys.readFile(path).map { String(decoding: $0, as: UTF8.self) }
  }

  public func list(_ path: String) -> Result<[String], Errno> { Sys.listDirectory(path) }

  public func fileType(_ path: String) -> Result<FileType, Errno> {
    Sys.lstat(path).map { FileType(mode: $0.st_mode) }
  }

  public func readLink(_ path: String) -> Result<String, Errno> { Sys.readLink(path) }

  public func find(_ needle: String, inFile path: String, length: Int) -> Result<String?, Errno> {
    Sys.readFile(path, limit: 16 << 20).map { bytes in
      let pattern = Array(needle.utf8)
      let found: Int? = bytes.withUnsafeBytes { haystack in
        pattern.withUnsafeBytes { p in
          guard let h = haystack.baseAddress, let n = p.baseAddress else { return nil }
          let offset = culprit_memmem(h, haystack.count, n, p.count)
          return offset < 0 ? nil : offset
        }
      }
      guard let match = found else { return nil }
      let start = match + pattern.count
      let tail = bytes[start..<min(bytes.count, start + length)]
      return String(decoding: tail.prefix(while: { $0 != 0 }), as: UTF8.self)
    }
  }

  public func uname() -> Result<Sys.UName, Errno> { Sys.uname() }
  public func filesystemType(_ path: String) -> Result<UInt, Errno> { Sys.filesystemType(path) }
  public func rlimit(_ resource: RLimitResource) -> Result<Sys.Limit, Errno> { Sys.rlimit(resource.rawValue) }
  public func identity() -> Sys.Identity { Sys.identity() }
  public func capabilitiesBySyscall() -> Result<[String: String], Errno> { KernelQueries.capabilityFields() }
}

/// A system captured into a directory by `culprit-testkit capture`: the files the readers read,
/// under their own paths, plus `syscalls.json` holding uname, statfs, rlimits, ids and the
/// results of `find`. A path that was missing on the captured system is missing here too.
public final class FixtureSystem: SystemSource {
  public let directory: String
  let calls: JSONValue

  public init(directory: String) throws {
    self.directory = directory
    let text = try Sys.readFile(directory + "/syscalls.json").get()
    self.calls = try JSONValue.parse(bytes: text)
  }

  func local(_ path: String) -> String { directory + "/root" + path }

  /// Errors recorded at capture time for paths that could not be read (`"errors": {path: "EACCES"}`).
  func recordedError(_ path: String) -> Errno? {
    calls["errors"]?[path]?.stringValue.flatMap(Errno.init(name:))
  }

  public func readText(_ path: String) -> Result<String, Errno> {
    if let err = recordedError(path) { return .failure(err) }
    return Sys.readFile(local(path)).map { String(decoding: $0, as: UTF8.self) }
  }

  public func list(_ path: String) -> Result<[String], Errno> {
    if let err = recordedError(path) { return .failure(err) }
    if let names = calls["listings"]?[path]?.arrayValue { return .success(names.compactMap(\.stringValue)) }
    return Sys.listDirectory(local(path)).map { $0.sorted() }
  }

  public func fileType(_ path: String) -> Result<FileType, Errno> {
    if let err = recordedError(path) { return .failure(err) }
    if let recorded = calls["types"]?[path]?.stringValue {
      return recorded == "missing" ? .failure(.noSuchFile) : .success(FileType(rawValue: recorded) ?? .unknown)
    }
    return Sys.lstat(local(path)).map { FileType(mode: $0.st_mode) }
  }

  public func readLink(_ path: String) -> Result<String, Errno> {
    if let target = calls["links"]?[path]?.stringValue { return .success(target) }
    return .failure(recordedError(path) ?? .noSuchFile)
  }

  public func find(_ needle: String, inFile path: String, length: Int) -> Result<String?, Errno> {
    guard let entry = calls["finds"]?[path + "#" + needle] else { return .failure(.noSuchFile) }
    return .success(entry.stringValue)
  }

  public func uname() -> Result<Sys.UName, Errno> {
    guard let u = calls["uname"] else { return .failure(.noFunction) }
    return .success(
      Sys.UName(
        sysname: u["sysname"]?.stringValue ?? "Linux", release: u["release"]?.stringValue ?? "",
        version: u["version"]?.stringValue ?? "", machine: u["machine"]?.stringValue ?? "",
        nodename: u["nodename"]?.stringValue ?? ""))
  }

  public func filesystemType(_ path: String) -> Result<UInt, Errno> {
    guard let entry = calls["statfs"]?[path] else { return .failure(.noSuchFile) }
    if let name = entry.stringValue, let err = Errno(name: name) { return .failure(err) }
    return entry.intValue.map { .success(UInt($0)) } ?? .failure(.noSuchFile)
  }

  public func rlimit(_ resource: RLimitResource) -> Result<Sys.Limit, Errno> {
    guard let entry = calls["rlimits"]?[resource.name] else { return .failure(.invalidArgument) }
    func value(_ v: JSONValue?) -> UInt64? { v?.intValue.map { UInt64($0) } }
    return .success(Sys.Limit(soft: value(entry["soft"]), hard: value(entry["hard"])))
  }

  public func capabilitiesBySyscall() -> Result<[String: String], Errno> {
    guard let fields = calls["capabilitiesBySyscall"]?.objectValue else { return .failure(.noFunction) }
    var out: [String: String] = [:]
    for (key, value) in fields { out[key] = value.stringValue }
    return .success(out)
  }

  public func identity() -> Sys.Identity {
    let ids = calls["identity"]
    func n(_ key: String) -> Int { ids?[key]?.intValue ?? 0 }
    return Sys.Identity(
      pid: Int32(n("pid")), uid: UInt32(n("uid")), euid: UInt32(n("euid")), gid: UInt32(n("gid")),
      egid: UInt32(n("egid")))
  }
}

/// Wraps the live system and remembers everything read through it, so that
/// `culprit-testkit capture` can write a fixture holding exactly what the readers used.
public final class RecordingSystem: SystemSource {
  let live = LiveSystem()
  public private(set) var files: [(path: String, text: String)] = []
  public private(set) var record = JSONObject()

  public init() {}

  func note(_ section: String, _ key: String, _ value: JSONValue) {
    var object = record[section]?.objectValue ?? JSONObject()
    object[key] = value
    record[section] = .object(object)
  }

  public func readText(_ path: String) -> Result<String, Errno> {
    let result = live.readText(path)
    switch result {
    case .success(let text): if !files.contains(where: { $0.path == path }) { files.append((path, text)) }
    case .failure(let err) where err != .noSuchFile: note("errors", path, .string(err.name))
    case .failure: break
    }
    return result
  }

  public func list(_ path: String) -> Result<[String], Errno> {
    let result = live.list(path)
    switch result {
    case .success(let names): note("listings", path, .from(names.sorted()))
    case .failure(let err) where err != .noSuchFile: note("errors", path, .string(err.name))
    case .failure: break
    }
    return result
  }

  public func fileType(_ path: String) -> Result<FileType, Errno> {
    let result = live.fileType(path)
    note("types", path, .string(result.value?.rawValue ?? "missing"))
    return result
  }

  public func readLink(_ path: String) -> Result<String, Errno> {
    let result = live.readLink(path)
    switch result {
    case .success(let target): note("links", path, .string(target))
    case .failure(let err) where err != .noSuchFile: note("errors", path, .string(err.name))
    case .failure: break
    }
    return result
  }

  public func find(_ needle: String, inFile path: String, length: Int) -> Result<String?, Errno> {
    let result = live.find(needle, inFile: path, length: length)
    if let found = result.value { note("finds", path + "#" + needle, .from(found)) }
    return result
  }

  public func uname() -> Result<Sys.UName, Errno> {
    let result = live.uname()
    if let u = result.value {
      record["uname"] = [
        "sysname": .string(u.sysname), "release": .string(u.release), "version": .string(u.version),
        "machine": .string(u.machine), "nodename": .string(u.nodename),
      ]
    }
    return result
  }

  public func filesystemType(_ path: String) -> Result<UInt, Errno> {
    let result = live.filesystemType(path)
    switch result {
    case .success(let type): note("statfs", path, .int(Int(type)))
    case .failure(let err): note("statfs", path, .string(err.name))
    }
    return result
  }

  public func rlimit(_ resource: RLimitResource) -> Result<Sys.Limit, Errno> {
    let result = live.rlimit(resource)
    if let limit = result.value {
      note(
        "rlimits", resource.name,
        ["soft": limit.soft.map { .int(Int($0)) } ?? .null, "hard": limit.hard.map { .int(Int($0)) } ?? .null])
    }
    return result
  }

  public func capabilitiesBySyscall() -> Result<[String: String], Errno> {
    let result = live.capabilitiesBySyscall()
    if let fields = result.value {
      var object = JSONObject()
      for key in fields.keys.sorted() { object[key] = .string(fields[key]!) }
      record["capabilitiesBySyscall"] = .object(object)
    }
    return result
  }

  public func identity() -> Sys.Identity {
    let ids = live.identity()
    record["identity"] = [
      "pid": .int(Int(ids.pid)), "uid": .int(Int(ids.uid)), "euid": .int(Int(ids.euid)),
      "gid": .int(Int(ids.gid)), "egid": .int(Int(ids.egid)),
    ]
    return ids
  }
}
