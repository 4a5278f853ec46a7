/// /etc/resolv.conf as the C libraries read it (resolv.conf(5); glibc resolv/res_init.c, musl
/// src/network/resolvconf.c): nameservers, the search list and options.
public struct ResolvConf: Equatable, Sendable {
  /// Every `nameserver` address, in file order, as written.
  public var nameservers: [String]
  /// `nameserver` lines whose address neither inet_pton form accepts.
  public var invalidNameservers: [String]
  /// The search list: the last `search` or `domain` line wins (a `domain` line is a list of one).
  public var search: [String]
  /// The `options` tokens, in order ("ndots:5", "rotate", "timeout:2").
  public var options: [String]

  /// glibc and musl both use at most three nameservers (MAXNS); later lines are ignored.
  public static let maxNameservers = 3

  public init(nameservers: [String] = [], invalidNameservers: [String] = [], search: [String] = [], options: [String] = []) {
    self.nameservers = nameservers
    self.invalidNameservers = invalidNameservers
    self.search = search
    self.options = options
  }

  /// Parses the text of a resolv.conf. Lines starting with `#` or `;` are comments; a keyword
  /// counts only when a space or tab follows it, as in glibc's MATCH macro.
  public static func parse(_ text: String) -> ResolvConf {
    var conf = ResolvConf()
    // isNewline: a CRLF pair is one Character in Swift, so splitting on "\n" would miss it.
    for line in text.split(whereSeparator: \.isNewline) {
      guard let first = line.first, first != "#", first != ";" else { continue }
      let words = line.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
      guard words.count >= 2 else { continue }
      let keyword = words[0]
      let values = Array(words.dropFirst())
      switch keyword {
      case "nameserver":
        // glibc reads only the first word after the keyword.
        if SocketAddress(parsing: values[0]) != nil {
          conf.nameservers.append(values[0])
        } else {
          conf.invalidNameservers.append(values[0])
        }
      case "search":
        conf.search = values.filter { !$0.hasPrefix("#") && !$0.hasPrefix(";") }
      case "domain":
        conf.search = [values[0]]
      case "options":
        conf.options += values
      default:
        continue
      }
    }
    return conf
  }

  /// The nameservers the resolver sends queries to: the first three valid lines. Without any,
  /// glibc and musl both ask the local machine (127.0.0.1).
  public var effectiveNameservers: [String] {
    nameservers.isEmpty ? ["127.0.0.1"] : Array(nameservers.prefix(ResolvConf.maxNameservers))
  }

  /// The value of a numeric option ("ndots:5" → 5), the last occurrence winning.
  public func option(_ name: String) -> Int? {
    options.reversed().lazy.compactMap { token -> Int? in
      guard token.hasPrefix(name + ":") else { return nil }
      return Int(token.dropFirst(name.count + 1))
    }.first
  }

  public func hasOption(_ name: String) -> Bool { options.contains(name) }
}

/// /etc/nsswitch.conf (nsswitch.conf(5)): which sources each database consults, in order.
public struct NsswitchConf: Equatable, Sendable {
  /// Each database's line after the colon ("files dns"), by database name.
  public var databases: [String: String]

  /// glibc's default for `hosts` when the file or its `hosts:` line is missing
  /// (nss/nss_database.c, nss_database_default_dns): DNS first, files only when DNS is
  /// unavailable — so "localhost" is asked of the nameservers.
  public static let glibcDefaultHosts = "dns [!UNAVAIL=return] files"

  /// The NSS modules that glibc ≥ 2.34 carries inside libc (nss_files and nss_dns moved into
  /// libc in 2.34); any other module is loaded with dlopen("libnss_NAME.so.2").
  public static let builtinModules: Set<String> = ["files", "dns"]

  public init(databases: [String: String] = [:]) { self.databases = databases }

  /// Parses the text of an nsswitch.conf: "database: sources", `#` starting a comment.
  public static func parse(_ text: String) -> NsswitchConf {
    var databases: [String: String] = [:]
    for rawLine in text.split(whereSeparator: \.isNewline) {
      var line = Substring(rawLine)
      if let hash = line.firstIndex(of: "#") { line = line[..<hash] }
      guard let colon = line.firstIndex(of: ":") else { continue }
      let name = line[..<colon].trimmed()
      guard !name.isEmpty, !name.contains(" ") else { continue }
      let value = line[line.index(after: colon)...].split(whereSeparator: { $0 == " " || $0 == "\t" }).joined(separator: " ")
      databases[name] = value
    }
    return NsswitchConf(databases: databases)
  }

  /// The `hosts:` sources as written, or nil when there is no such line.
  public var hosts: String? { databases["hosts"] }

  /// The module names of a sources line, without the [STATUS=action] items.
  public static func modules(_ sources: String) -> [String] {
    var modules: [String] = []
    var inBracket = false
    for word in sources.split(separator: " ") {
      if word.hasPrefix("[") { inBracket = true }
      if !inBracket { modules.append(String(word)) }
      if word.hasSuffix("]") { inBracket = false }
    }
    return modules
  }
}

/// /etc/hosts (hosts(5)): the addresses given for each name.
public struct HostsFile: Equatable, Sendable {
  public var entries: [(address: String, names: [String])]

  public static func == (a: HostsFile, b: HostsFile) -> Bool {
    a.entries.map(\.address) == b.entries.map(\.address) && a.entries.map(\.names) == b.entries.map(\.names)
  }

  public static func parse(_ text: String) -> HostsFile {
    var entries: [(String, [String])] = []
    for rawLine in text.split(whereSeparator: \.isNewline) {
      var line = Substring(rawLine)
      if let hash = line.firstIndex(of: "#") { line = line[..<hash] }
      let words = line.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\r" }).map(String.init)
      guard words.count >= 2 else { continue }
      entries.append((words[0], Array(words.dropFirst())))
    }
    return HostsFile(entries: entries)
  }

  /// The addresses listed for `name` (compared without case, as glibc's files module does).
  public func addresses(of name: String) -> [String] {
    let wanted = name.lowercased()
    return entries.filter { $0.names.contains { $0.lowercased() == wanted } }.map(\.address)
  }
}

/// The resolver configuration of the image: the three files and what they mean for a lookup.
public struct ResolverConfig: Sendable {
  public static let resolvConfPath = "/etc/resolv.conf"
  public static let nsswitchPath = "/etc/nsswitch.conf"
  public static let hostsPath = "/etc/hosts"

  public var resolvConf: Result<ResolvConf, Errno>
  public var nsswitch: Result<NsswitchConf, Errno>
  public var hosts: Result<HostsFile, Errno>
  /// The `hosts:` sources in force: the file's line or glibc's default.
  public var hostsSources: String
  /// Whether `hostsSources` is glibc's default because the file or its line is missing.
  public var hostsSourcesAreDefault: Bool
  /// Problems a person should fix, as sentences (a missing file, no nameserver, …).
  public var problems: [String]
  public var evidence: [String]

  /// The module names of `hostsSources` that a static glibc has to dlopen from the image.
  public var modulesNeedingDlopen: [String] {
    NsswitchConf.modules(hostsSources).filter { !NsswitchConf.builtinModules.contains($0) }
  }

  /// glibc opened /etc/nsswitch.conf but could not read it (a directory: EISDIR, or EIO): then
  /// it consults no source at all for any database — not /etc/hosts, not DNS — so every lookup
  /// fails at once, without a query (measured: glibc 2.36, `getent ahosts localhost` exits 2 and
  /// strace shows no read of /etc/hosts and no socket). An open that fails (ENOENT, EACCES,
  /// ELOOP, ENOTDIR, EPERM) is ignored instead, and the default line applies
  /// (nss/nss_database.c, nss_database_reload).
  public var nsswitchUnusable: Bool {
    guard case .failure(let err) = nsswitch else { return false }
    return ResolverConfig.isReadFailure(err)
  }

  /// Whether `err` came from read(2) on a file that opened (a directory, an I/O error) rather
  /// than from open(2).
  static func isReadFailure(_ err: Errno) -> Bool { err == Errno(rawValue: 21) || err == Errno(rawValue: 5) }

  /// How a configuration file that could not be read is: "missing" only for ENOENT, "a
  /// directory" for EISDIR, else "unreadable (EACCES)".
  public static func state(_ err: Errno) -> String {
    switch err {
    case .noSuchFile: return "missing"
    case Errno(rawValue: 21): return "a directory"
    default: return "unreadable (\(err.name))"
    }
  }

  /// The same for a path: "/etc/hosts is a directory".
  public static func describe(_ path: String, _ err: Errno) -> String { "\(path) is \(state(err))" }

  /// The `resolv_conf` fact: `exists` is false only for ENOENT; `error` names why an existing
  /// file could not be read.
  public var resolvConfFacts: JSONValue {
    switch resolvConf {
    case .success(let conf):
      return [
        "exists": true, "error": .null, "nameservers": .from(conf.nameservers), "search": .from(conf.search),
        "options": .from(conf.options),
      ]
    case .failure(let err):
      return ["exists": .bool(err != .noSuchFile), "error": .string(err.name), "nameservers": [], "search": [], "options": []]
    }
  }

  public var hostsUsesDNS: Bool { NsswitchConf.modules(hostsSources).contains("dns") }
  public var hostsUsesFiles: Bool { NsswitchConf.modules(hostsSources).contains("files") }

  public static func read(_ source: SystemSource) -> ResolverConfig {
    var evidence: [String] = []
    var problems: [String] = []

    let resolv = source.readText(resolvConfPath).map(ResolvConf.parse)
    switch resolv {
    case .success(let conf):
      var parts: [String] = []
      parts.append(conf.nameservers.isEmpty ? "no nameserver line" : "nameserver \(conf.nameservers.joined(separator: ", "))")
      if !conf.search.isEmpty { parts.append("search \(conf.search.joined(separator: " "))") }
      if !conf.options.isEmpty { parts.append("options \(conf.options.joined(separator: " "))") }
      evidence.append("\(resolvConfPath): \(parts.joined(separator: "; ")).")
      if conf.nameservers.isEmpty {
        problems.append("\(resolvConfPath) names no nameserver, so the C library asks 127.0.0.1.")
      }
      if conf.nameservers.count > ResolvConf.maxNameservers {
        evidence.append(
          "\(resolvConfPath) lists \(conf.nameservers.count) nameservers; the C library uses only the first \(ResolvConf.maxNameservers) (MAXNS).")
      }
      if !conf.invalidNameservers.isEmpty {
        problems.append("\(resolvConfPath) has nameserver lines that are not IP addresses, which the C library ignores: \(conf.invalidNameservers.joined(separator: ", ")).")
      }
    case .failure(let err):
      evidence.append("\(resolvConfPath) could not be read: \(err.name).")
      problems.append("\(describe(resolvConfPath, err)), so the C library asks 127.0.0.1 for every DNS name.")
    }

    let nsswitch = source.readText(nsswitchPath).map(NsswitchConf.parse)
    var hostsSources = NsswitchConf.glibcDefaultHosts
    var isDefault = true
    switch nsswitch {
    case .success(let conf):
      if let line = conf.hosts {
        hostsSources = line
        isDefault = false
        evidence.append("\(nsswitchPath): hosts: \(line).")
      } else {
        evidence.append("\(nsswitchPath) has no hosts: line, so glibc uses its default \"\(hostsSources)\" (musl never reads this file).")
      }
    case .failure(let err) where isReadFailure(err):
      hostsSources = ""
      isDefault = false
      evidence.append(
        "\(nsswitchPath) opens but cannot be read (\(err.name)): glibc then consults no source for any name, neither /etc/hosts nor DNS, and sends no query (musl never reads this file).")
      problems.append(
        "\(describe(nsswitchPath, err)): glibc opens it, its read fails with \(err.name), and every lookup then fails at once without reading /etc/hosts or asking a nameserver.")
    case .failure(let err):
      evidence.append(
        "\(nsswitchPath) could not be read (\(err.name)), so glibc uses its default hosts: \"\(hostsSources)\": DNS is asked first, even for localhost (musl never reads this file).")
      if err != .noSuchFile { problems.append("\(describe(nsswitchPath, err)); glibc ignores it and uses its default hosts: line.") }
    }

    let hosts = source.readText(hostsPath).map(HostsFile.parse)
    switch hosts {
    case .success(let file):
      let localhost = file.addresses(of: "localhost")
      evidence.append(
        "\(hostsPath) exists with \(file.entries.count) entries"
          + (localhost.isEmpty ? "; none names localhost." : "; localhost is \(localhost.joined(separator: ", ")).")
      )
    case .failure(let err):
      evidence.append("\(hostsPath) could not be read: \(err.name).")
      problems.append("\(describe(hostsPath, err)), so names such as localhost are looked up only in DNS.")
    }

    var config = ResolverConfig(
      resolvConf: resolv, nsswitch: nsswitch, hosts: hosts, hostsSources: hostsSources, hostsSourcesAreDefault: isDefault,
      problems: problems, evidence: evidence)
    let modules = NsswitchConf.modules(hostsSources)
    if !config.nsswitchUnusable && !modules.contains("dns") && !modules.contains("resolve") {
      config.problems.append("The hosts: sources \"\(hostsSources)\" do not include dns, so no DNS name resolves through the C library.")
    }
    return config
  }
}

/// What --resolve, --url and --connect accept as a host.
public enum HostName {
  /// A DNS name (labels of letters, digits, '-' and '_', 1 to 63 bytes, an optional final dot)
  /// or an IPv4/IPv6 literal; not "a/b", not "a..b".
  public static func isValid(_ text: String) -> Bool {
    if SocketAddress(parsing: text) != nil { return true }
    guard !text.isEmpty, text.utf8.count <= 253 else { return false }
    var name = Substring(text)
    if name.hasSuffix(".") { name = name.dropLast() }
    guard !name.isEmpty else { return false }
    for label in name.split(separator: ".", omittingEmptySubsequences: false) {
      guard (1...63).contains(label.utf8.count),
        label.utf8.allSatisfy({ ($0 >= 0x30 && $0 <= 0x39) || ($0 | 0x20 >= 0x61 && $0 | 0x20 <= 0x7a) || $0 == 0x2d || $0 == 0x5f })
      else { return false }
    }
    return true
  }
}
