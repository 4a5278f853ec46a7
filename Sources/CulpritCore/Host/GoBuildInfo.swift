#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// The build information the Go linker puts into every Go binary, read from the file without
/// executing it, as `go version -m` shows it: the Go version, the main package's path, the
/// main module and its version, every dependency module with its version (and replacement),
/// and the build settings (-ldflags with its `-X pkg.Var=value` version stamps, tags, …).
///
/// Where it is: the ELF section `.go.buildinfo`, which starts with the 14-byte magic
/// "\xff Go buildinf:", then the pointer size and a flags byte. Go ≥ 1.18 (flags bit 1) stores
/// the two strings inline after a 32-byte header, each as a varint length and its bytes; older
/// Go stores two pointers to Go string headers in the data segment, which are followed through
/// the ELF program headers. A binary without section headers is searched for the magic on
/// 16-byte boundaries (as debug/buildinfo does). The module text carries a 16-byte sentinel at
/// each end, stripped as `runtime/debug` does.
public struct GoBuildInfo: Equatable, Sendable {
  public struct Module: Equatable, Sendable {
    public var path: String
    public var version: String
    public var sum: String?
    /// The `=>` line that followed it.
    public var replacement: (path: String, version: String)? {
      get { replacementPath.map { ($0, replacementVersion ?? "") } }
      set { replacementPath = newValue?.path; replacementVersion = newValue?.version }
    }
    var replacementPath: String?
    var replacementVersion: String?

    public init(path: String, version: String, sum: String? = nil) {
      self.path = path
      self.version = version
      self.sum = sum
    }
  }

  /// "go1.19.8".
  public var goVersion: String
  /// The main package's import path ("github.com/opencontainers/runc"); nil in a binary built
  /// without module information (GOPATH mode, as Debian builds).
  public var path: String?
  /// The main module ("mod" line); its version is "(devel)" for a build from a checkout.
  public var main: Module?
  public var dependencies: [Module]
  /// The "build" lines, key and value as `go version -m` prints them (values quoted by Go
  /// when they hold spaces).
  public var settings: [(key: String, value: String)]
  /// The module text, without its sentinels: the lines `go version -m` prints.
  public var moduleText: String
  /// Where it was read: ".go.buildinfo section at 0x…", or "magic found at 0x…".
  public var location: String

  public static func == (a: GoBuildInfo, b: GoBuildInfo) -> Bool {
    a.goVersion == b.goVersion && a.moduleText == b.moduleText && a.location == b.location
  }

  public init(goVersion: String, moduleText: String, location: String) {
    self.goVersion = goVersion
    self.moduleText = moduleText
    self.location = location
    path = nil
    main = nil
    dependencies = []
    settings = []
    for line in moduleText.split(separator: "\n", omittingEmptySubsequences: true) {
      let fields = line.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
      guard let kind = fields.first else { continue }
      func module() -> Module? {
        guard fields.count >= 3 else { return nil }
        return Module(path: fields[1], version: fields[2], sum: fields.count >= 4 ? fields[3] : nil)
      }
      switch kind {
      case "path" where fields.count >= 2: path = fields[1]
      case "mod": main = module()
      case "dep": if let m = module() { dependencies.append(m) }
      case "=>":
        guard fields.count >= 2 else { continue }
        let replacement = (path: fields[1], version: fields.count >= 3 ? fields[2] : "")
        if dependencies.isEmpty { main?.replacement = replacement } else { dependencies[dependencies.count - 1].replacement = replacement }
      case "build" where fields.count >= 2:
        let setting = fields[1...].joined(separator: "\t")
        if let eq = setting.firstIndex(of: "=") {
          settings.append((String(setting[..<eq]), String(setting[setting.index(after: eq)...])))
        } else {
          settings.append((setting, ""))
        }
      default: continue
      }
    }
  }

  /// The version a dependency module was built with (its replacement's when replaced with a
  /// versioned module).
  public func dependency(_ path: String) -> Module? { dependencies.first { $0.path == path } }

  /// A build setting's value, unquoted.
  public func setting(_ key: String) -> String? {
    settings.first { $0.key == key }.map { GoBuildInfo.unquote($0.value) }
  }

  /// The `-X importpath.name=value` assignments of -ldflags, in order.
  public var linkerAssignments: [(name: String, value: String)] {
    guard let flags = setting("-ldflags") else { return [] }
    let words = GoBuildInfo.splitFlags(flags)
    var out: [(String, String)] = []
    var index = 0
    while index < words.count {
      var assignment: String?
      if words[index] == "-X" || words[index] == "--X", index + 1 < words.count {
        assignment = words[index + 1]
        index += 1
      } else if words[index].hasPrefix("-X=") {
        assignment = String(words[index].dropFirst(3))
      }
      if let assignment, let eq = assignment.firstIndex(of: "=") {
        out.append((String(assignment[..<eq]), String(assignment[assignment.index(after: eq)...])))
      }
      index += 1
    }
    return out
  }

  /// The value of the first `-X` assignment whose variable name ends with one of `suffixes`
  /// ("dockerversion.Version", "buildversion.BuildVersion").
  public func linkerValue(endingWith suffixes: [String]) -> (name: String, value: String)? {
    for assignment in linkerAssignments where suffixes.contains(where: { assignment.name.hasSuffix($0) }) {
      return assignment
    }
    return nil
  }

  /// The text `go version -m FILE` prints for this binary.
  public func goVersionM(file: String) -> String {
    var out = "\(file): \(goVersion)\n"
    for line in moduleText.split(separator: "\n", omittingEmptySubsequences: true) {
      out += "\t" + line + "\n"
    }
    return out
  }

  // MARK: Reading

  public enum ReadError: Error, Equatable, CustomStringConvertible {
    /// The file could not be opened or read.
    case unreadable(Errno)
    /// Not an ELF file.
    case notELF
    /// An ELF file whose headers or build info are cut or inconsistent.
    case malformed(String)

    public var description: String {
      switch self {
      case .unreadable(let err): return "unreadable (\(err.name))"
      case .notELF: return "not an ELF file"
      case .malformed(let why): return "malformed: \(why)"
      }
    }
  }

  static let magic: [UInt8] = [0xFF] + Array(" Go buildinf:".utf8)

  /// Reads the build info of the file at `path`; nil when it is an ELF file without any (not
  /// a Go program). Reads only the headers and the section (at most a few MiB of a scan when
  /// the section headers are gone).
  public static func read(path: String) -> Result<GoBuildInfo?, ReadError> {
    let file: BinaryFile
    switch BinaryFile.open(path) {
    case .success(let f): file = f
    case .failure(let err): return .failure(.unreadable(err))
    }
    defer { file.close() }
    return read(file)
  }

  static func read(_ file: BinaryFile) -> Result<GoBuildInfo?, ReadError> {
    let elf: ELFFile
    switch ELFFile.parse(file) {
    case .success(let e): elf = e
    case .failure(let err): return .failure(err)
    }
    if let section = elf.sections.first(where: { $0.name == ".go.buildinfo" }) {
      let size = Int(min(section.size, 8 << 20))
      guard let bytes = file.read(at: section.offset, count: size), bytes.count >= 32 else {
        return .failure(.malformed("the .go.buildinfo section is cut short"))
      }
      return decode(bytes, elf: elf, file: file, location: "section .go.buildinfo at file offset 0x\(String(section.offset, radix: 16))")
    }
    // No section headers (stripped with sstrip, or a packer): look for the magic in the
    // writable segments, aligned to 16 bytes.
    for segment in elf.segments where segment.type == 1 && segment.flags & 2 != 0 {
      let limit = min(segment.fileSize, 64 << 20)
      var offset: UInt64 = 0
      let chunk: UInt64 = 1 << 20
      while offset < limit {
        let count = Int(min(chunk + 32, limit - offset))
        guard let bytes = file.read(at: segment.offset + offset, count: count) else { break }
        var index = 0
        while index + 32 <= bytes.count && UInt64(index) < chunk {
          if bytes[index] == 0xFF && Array(bytes[index..<index + 14]) == magic {
            let at = segment.offset + offset + UInt64(index)
            guard let found = file.read(at: at, count: Int(min(8 << 20, segment.offset + segment.fileSize - at))) else {
              return .failure(.malformed("the build info at 0x\(String(at, radix: 16)) cannot be read"))
            }
            return decode(found, elf: elf, file: file, location: "magic at file offset 0x\(String(at, radix: 16)) (no section headers)")
          }
          index += 16
        }
        offset += chunk
      }
    }
    return .success(nil)
  }

  /// Decodes the build info that starts with the magic at `bytes[0]`. `elf` and `file` are
  /// needed for the pointer format (Go < 1.18) only.
  static func decode(_ bytes: [UInt8], elf: ELFFile?, file: BinaryFile?, location: String) -> Result<GoBuildInfo?, ReadError> {
    guard bytes.count >= 32, Array(bytes[0..<14]) == magic else { return .success(nil) }
    let pointerSize = Int(bytes[14])
    let flags = bytes[15]
    let bigEndian = flags & 1 != 0
    if flags & 2 != 0 {
      var index = 32
      guard let version = varintBytes(bytes, &index), let modules = varintBytes(bytes, &index) else {
        return .failure(.malformed("the inline build info strings are cut short"))
      }
      return .success(GoBuildInfo(goVersion: String(decoding: version, as: UTF8.self), moduleText: stripSentinels(modules), location: location))
    }
    guard pointerSize == 4 || pointerSize == 8, let elf, let file else {
      return .failure(.malformed("pointer size \(pointerSize) in the build info header"))
    }
    func pointer(_ data: [UInt8], _ at: Int) -> UInt64? {
      guard at + pointerSize <= data.count else { return nil }
      var value: UInt64 = 0
      for i in 0..<pointerSize {
        let byte = UInt64(data[at + (bigEndian ? i : pointerSize - 1 - i)])
        value = value << 8 | byte
      }
      return value
    }
    /// A Go string header (data pointer, length) at virtual address `address`.
    func goString(_ address: UInt64) -> [UInt8]? {
      guard let headerOffset = elf.fileOffset(ofAddress: address),
        let header = file.read(at: headerOffset, count: 2 * pointerSize),
        let data = pointer(header, 0), let length = pointer(header, pointerSize), length <= 8 << 20
      else { return nil }
      if length == 0 { return [] }
      guard let dataOffset = elf.fileOffset(ofAddress: data), let text = file.read(at: dataOffset, count: Int(length)),
        text.count == Int(length)
      else { return nil }
      return text
    }
    guard let versionAddress = pointer(bytes, 16), let modulesAddress = pointer(bytes, 16 + pointerSize),
      let version = goString(versionAddress)
    else {
      return .failure(.malformed("the build info's version pointer leads nowhere"))
    }
    let modules = goString(modulesAddress) ?? []
    return .success(
      GoBuildInfo(goVersion: String(decoding: version, as: UTF8.self), moduleText: stripSentinels(modules), location: location + " (pointer format, Go < 1.18)"))
  }

  static func varintBytes(_ bytes: [UInt8], _ index: inout Int) -> [UInt8]? {
    var length: UInt64 = 0
    var shift: UInt64 = 0
    while true {
      guard index < bytes.count, shift < 63 else { return nil }
      let b = bytes[index]
      index += 1
      length |= UInt64(b & 0x7F) << shift
      if b & 0x80 == 0 { break }
      shift += 7
    }
    guard length <= UInt64(bytes.count - index) else { return nil }
    let text = Array(bytes[index..<index + Int(length)])
    index += Int(length)
    return text
  }

  /// runtime/debug's rule: 16 bytes of sentinel at each end when the text is long enough and
  /// the byte before the closing sentinel is a newline.
  static func stripSentinels(_ bytes: [UInt8]) -> String {
    guard bytes.count >= 33, bytes[bytes.count - 17] == UInt8(ascii: "\n") else { return String(decoding: bytes, as: UTF8.self) }
    return String(decoding: bytes[16..<bytes.count - 16], as: UTF8.self)
  }

  /// Go's strconv.Unquote for the double-quoted values `go version -m` prints.
  static func unquote(_ text: String) -> String {
    guard text.count >= 2, text.first == "\"", text.last == "\"" else { return text }
    var out = ""
    var escaped = false
    for c in text.dropFirst().dropLast() {
      if escaped {
        switch c {
        case "t": out.append("\t")
        case "n": out.append("\n")
        case "r": out.append("\r")
        default: out.append(c)
        }
        escaped = false
      } else if c == "\\" {
        escaped = true
      } else {
        out.append(c)
      }
    }
    return out
  }

  /// Splits -ldflags into words as cmd/go does (quotes group, spaces and tabs separate).
  static func splitFlags(_ text: String) -> [String] {
    var words: [String] = []
    var current = ""
    var quote: Character?
    var inWord = false
    for c in text {
      if let q = quote {
        if c == q { quote = nil } else { current.append(c) }
        continue
      }
      switch c {
      case "\"", "'":
        quote = c
        inWord = true
      case " ", "\t", "\n", "\r":
        if inWord { words.append(current) }
        current = ""
        inWord = false
      default:
        current.append(c)
        inWord = true
      }
    }
    if inWord { words.append(current) }
    return words
  }
}

/// A file read at offsets with pread(2): a binary's headers and one section, never the whole
/// file.
final class BinaryFile {
  let fd: Int32
  let size: UInt64

  init(fd: Int32, size: UInt64) {
    self.fd = fd
    self.size = size
  }

  static func open(_ path: String) -> Result<BinaryFile, Errno> {
    switch Sys.open(path, O_RDONLY | O_NONBLOCK) {
    case .failure(let err): return .failure(err)
    case .success(let fd):
      var st = stat()
      guard fstat(fd, &st) == 0 else {
        let err = Errno.current
        Sys.close(fd)
        return .failure(err)
      }
      guard st.st_mode & S_IFMT == S_IFREG else {
        Sys.close(fd)
        return .failure(Errno(rawValue: st.st_mode & S_IFMT == S_IFDIR ? 21 : 22))
      }
      return .success(BinaryFile(fd: fd, size: UInt64(st.st_size)))
    }
  }

  func close() { Sys.close(fd) }

  /// Up to `count` bytes at `offset` (fewer at the end of the file); nil on a read error.
  func read(at offset: UInt64, count: Int) -> [UInt8]? {
    guard count >= 0, offset <= size else { return nil }
    let wanted = Int(min(UInt64(count), size - offset))
    var bytes = [UInt8](repeating: 0, count: wanted)
    var done = 0
    while done < wanted {
      let n = bytes.withUnsafeMutableBytes { raw in
        pread(fd, raw.baseAddress! + done, wanted - done, off_t(offset) + off_t(done))
      }
      if n < 0 && errno == EINTR { continue }
      if n <= 0 { break }
      done += n
    }
    if done < wanted { bytes.removeSubrange(done...) }
    return bytes
  }

  /// Whether `needle` occurs in the file (read in 1 MiB chunks, at most `limit` bytes).
  func contains(_ needle: [UInt8], limit: UInt64 = 512 << 20) -> Bool {
    guard !needle.isEmpty else { return true }
    let chunk = 1 << 20
    var offset: UInt64 = 0
    let end = min(size, limit)
    while offset < end {
      guard let bytes = read(at: offset, count: chunk + needle.count - 1), bytes.count >= needle.count else { return false }
      if DpkgDatabase.contains(bytes, needle) { return true }
      offset += UInt64(chunk)
    }
    return false
  }
}

/// The parts of an ELF file the build-info reader needs: section names, offsets and sizes, and
/// the loadable segments (to turn a virtual address into a file offset).
struct ELFFile {
  struct Section {
    var name: String
    var offset: UInt64
    var size: UInt64
    var address: UInt64
  }

  struct Segment {
    var type: UInt32
    var flags: UInt32
    var offset: UInt64
    var address: UInt64
    var fileSize: UInt64
  }

  var is64: Bool
  var bigEndian: Bool
  var sections: [Section]
  var segments: [Segment]

  func fileOffset(ofAddress address: UInt64) -> UInt64? {
    for s in segments where s.type == 1 && address >= s.address && address < s.address + s.fileSize {
      return s.offset + (address - s.address)
    }
    return nil
  }

  static func parse(_ file: BinaryFile) -> Result<ELFFile, GoBuildInfo.ReadError> {
    guard let ident = file.read(at: 0, count: 64), ident.count >= 52 else {
      return .failure(file.size < 52 ? .notELF : .malformed("the ELF header cannot be read"))
    }
    guard Array(ident[0..<4]) == [0x7F, 0x45, 0x4C, 0x46] else { return .failure(.notELF) }
    let is64 = ident[4] == 2
    let big = ident[5] == 2
    guard ident[4] == 1 || ident[4] == 2 else { return .failure(.malformed("ELF class \(ident[4])")) }
    func u(_ b: [UInt8], _ at: Int, _ n: Int) -> UInt64 {
      guard at + n <= b.count else { return 0 }
      var v: UInt64 = 0
      for i in 0..<n { v = v << 8 | UInt64(b[at + (big ? i : n - 1 - i)]) }
      return v
    }
    if is64 && ident.count < 64 { return .failure(.malformed("the ELF header is cut short")) }
    let phoff = is64 ? u(ident, 32, 8) : u(ident, 28, 4)
    let shoff = is64 ? u(ident, 40, 8) : u(ident, 32, 4)
    let phentsize = Int(is64 ? u(ident, 54, 2) : u(ident, 42, 2))
    let phnum = Int(is64 ? u(ident, 56, 2) : u(ident, 44, 2))
    let shentsize = Int(is64 ? u(ident, 58, 2) : u(ident, 46, 2))
    let shnum = Int(is64 ? u(ident, 60, 2) : u(ident, 48, 2))
    let shstrndx = Int(is64 ? u(ident, 62, 2) : u(ident, 50, 2))
    var segments: [Segment] = []
    if phoff > 0, phnum > 0, phnum < 4096, phentsize >= (is64 ? 56 : 32),
      let table = file.read(at: phoff, count: phnum * phentsize), table.count == phnum * phentsize
    {
      for i in 0..<phnum {
        let b = i * phentsize
        if is64 {
          segments.append(
            Segment(
              type: UInt32(u(table, b, 4)), flags: UInt32(u(table, b + 4, 4)), offset: u(table, b + 8, 8),
              address: u(table, b + 16, 8), fileSize: u(table, b + 32, 8)))
        } else {
          segments.append(
            Segment(
              type: UInt32(u(table, b, 4)), flags: UInt32(u(table, b + 24, 4)), offset: u(table, b + 4, 4),
              address: u(table, b + 8, 4), fileSize: u(table, b + 16, 4)))
        }
      }
    }
    var sections: [Section] = []
    if shoff > 0, shnum > 0, shnum < 65536, shentsize >= (is64 ? 64 : 40), shstrndx < shnum,
      let table = file.read(at: shoff, count: shnum * shentsize), table.count == shnum * shentsize
    {
      func header(_ i: Int) -> (name: UInt64, offset: UInt64, size: UInt64, address: UInt64) {
        let b = i * shentsize
        if is64 { return (u(table, b, 4), u(table, b + 24, 8), u(table, b + 32, 8), u(table, b + 16, 8)) }
        return (u(table, b, 4), u(table, b + 16, 4), u(table, b + 20, 4), u(table, b + 12, 4))
      }
      let strtab = header(shstrndx)
      let names = file.read(at: strtab.offset, count: Int(min(strtab.size, 1 << 20))) ?? []
      for i in 0..<shnum {
        let h = header(i)
        var name = ""
        if h.name < names.count {
          let start = Int(h.name)
          let end = names[start...].firstIndex(of: 0) ?? names.count
          name = String(decoding: names[start..<end], as: UTF8.self)
        }
        sections.append(Section(name: name, offset: h.offset, size: h.size, address: h.address))
      }
    }
    return .success(ELFFile(is64: is64, bigEndian: big, sections: sections, segments: segments))
  }
}
