/// What the image is configured to reach and how: the package sources of apt, apk, yum/dnf,
/// pip, npm and Go, and the proxy the environment names as curl and apt read it. Pure: the
/// readers take a `SystemSource` and an environment; the parsers take text.
public struct EgressTarget: Equatable, Sendable {
  public enum Scheme: String, Sendable { case http, https, tcp }

  public var scheme: Scheme
  /// A DNS name or an IP literal (without brackets).
  public var host: String
  public var port: UInt16
  /// The path to request ("/debian/dists/bookworm/InRelease"); "/" when no file is known.
  public var path: String
  /// Whether `path` names a real file worth a ranged GET (an apt InRelease, an APKINDEX, --url).
  public var knownFile: Bool
  /// Where it came from: "/etc/apt/sources.list:3", "--url", "PIP_INDEX_URL".
  public var origins: [String]

  /// localhost, 127.0.0.0/8 or ::1: reachable over loopback, even in a namespace with no other
  /// route (`--network none` with `--connect 127.0.0.1:5432`).
  public var isLoopback: Bool {
    if host.lowercased() == "localhost" { return true }
    guard let address = SocketAddress(parsing: host) else { return false }
    return address.family == .ipv4 ? address.bytes.first == 127 : address.bytes == [UInt8](repeating: 0, count: 15) + [1]
  }

  public init(scheme: Scheme, host: String, port: UInt16, path: String = "/", knownFile: Bool = false, origins: [String]) {
    self.scheme = scheme
    self.host = host
    self.port = port
    self.path = path
    self.knownFile = knownFile
    self.origins = origins
  }

  /// "http://deb.debian.org/debian/dists/bookworm/InRelease", "tcp://10.0.0.1:5432".
  public var display: String {
    let bracketed = host.contains(":") ? "[\(host)]" : host
    switch scheme {
    case .tcp: return "\(bracketed):\(port)"
    case .http: return "http://\(bracketed)\(port == 80 ? "" : ":\(port)")\(path)"
    case .https: return "https://\(bracketed)\(port == 443 ? "" : ":\(port)")\(path)"
    }
  }

  /// Parses an http or https URL ("https://user@host:8443/a/b?q"), nil for anything else.
  /// A "mirror+http://" apt URI is taken as its http URL.
  public init?(url text: String, origin: String, knownFile: Bool = false) {
    var rest = Substring(text.trimmed())
    if rest.hasPrefix("mirror+") { rest = rest.dropFirst(7) }
    let scheme: Scheme
    if rest.lowercased().hasPrefix("http://") {
      scheme = .http
      rest = rest.dropFirst(7)
    } else if rest.lowercased().hasPrefix("https://") {
      scheme = .https
      rest = rest.dropFirst(8)
    } else {
      return nil
    }
    let authorityEnd = rest.firstIndex(where: { $0 == "/" || $0 == "?" || $0 == "#" }) ?? rest.endIndex
    var authority = rest[..<authorityEnd]
    var path = String(rest[authorityEnd...])
    if let hash = path.firstIndex(of: "#") { path = String(path[..<hash]) }
    if !path.hasPrefix("/") { path = "/" + path }
    if let at = authority.lastIndex(of: "@") { authority = authority[authority.index(after: at)...] }
    guard let (host, port) = EgressTarget.hostPort(authority, defaultPort: scheme == .http ? 80 : 443) else { return nil }
    self.init(scheme: scheme, host: host, port: port, path: path, knownFile: knownFile, origins: [origin])
  }

  /// "host:port", "[::1]:443" or "10.0.0.1:5432" (for --connect): the host and port.
  public init?(connect text: String, origin: String = "--connect") {
    guard let (host, port) = EgressTarget.hostPort(Substring(text), defaultPort: nil) else { return nil }
    self.init(scheme: .tcp, host: host, port: port, origins: [origin])
  }

  /// Splits an authority into host and port; nil when the host is not a host name or IP, or
  /// the port is missing (without a default) or out of range.
  static func hostPort(_ authority: Substring, defaultPort: UInt16?) -> (String, UInt16)? {
    var host: Substring
    var portText: Substring?
    if authority.hasPrefix("[") {
      guard let close = authority.firstIndex(of: "]") else { return nil }
      host = authority[authority.index(after: authority.startIndex)..<close]
      let after = authority[authority.index(after: close)...]
      if after.hasPrefix(":") { portText = after.dropFirst() } else if !after.isEmpty { return nil }
    } else if let colon = authority.lastIndex(of: ":"), authority.filter({ $0 == ":" }).count == 1 {
      host = authority[..<colon]
      portText = authority[authority.index(after: colon)...]
    } else {
      host = authority
    }
    let port: UInt16
    if let portText {
      guard let value = UInt16(portText), value > 0 else { return nil }
      port = value
    } else {
      guard let defaultPort else { return nil }
      port = defaultPort
    }
    let name = String(host).lowercased()
    guard HostName.isValid(name) else { return nil }
    return (name, port)
  }

  /// Whether two targets reach the same place (scheme, host, port).
  func sameEndpoint(_ other: EgressTarget) -> Bool { scheme == other.scheme && host == other.host && port == other.port }
}

/// The package sources of an image, as each tool reads them.
public enum PackageSources {
  /// One-line apt sources (sources.list(5)): "deb [options] URI suite [component...]". Each
  /// enabled deb/deb-src line gives the suite's InRelease file (a flat repository, whose suite
  /// ends with "/", has it right under the suite).
  public static func parseAptList(_ text: String, file: String) -> [EgressTarget] {
    var targets: [EgressTarget] = []
    for (number, rawLine) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
      var line = Substring(rawLine)
      if let hash = line.firstIndex(of: "#") { line = line[..<hash] }
      var words = line.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\r" }).map(String.init)
      guard let type = words.first, type == "deb" || type == "deb-src" else { continue }
      words.removeFirst()
      if words.first?.hasPrefix("[") == true {
        // Options run to the word ending in "]".
        while let word = words.first {
          words.removeFirst()
          if word.hasSuffix("]") { break }
        }
      }
      guard words.count >= 2 else { continue }
      if let target = aptTarget(uri: words[0], suite: words[1], origin: "\(file):\(number + 1)") { targets.append(target) }
    }
    return targets
  }

  /// deb822 apt sources (sources.list(5) "DEB822-STYLE FORMAT"): stanzas of Types, URIs,
  /// Suites, Components; "Enabled: no" turns a stanza off.
  public static func parseDeb822(_ text: String, file: String) -> [EgressTarget] {
    var targets: [EgressTarget] = []
    var fields: [String: String] = [:]
    var lastKey: String?
    var stanzaLine = 1
    func flush() {
      defer { fields = [:]; lastKey = nil }
      guard !fields.isEmpty, fields["enabled"]?.lowercased() != "no" else { return }
      let types = (fields["types"] ?? "").split(separator: " ")
      guard types.contains("deb") || types.contains("deb-src") else { return }
      for uri in (fields["uris"] ?? "").split(whereSeparator: \.isWhitespace) {
        for suite in (fields["suites"] ?? "").split(whereSeparator: \.isWhitespace) {
          if let target = aptTarget(uri: String(uri), suite: String(suite), origin: "\(file):\(stanzaLine)") {
            targets.append(target)
          }
        }
      }
    }
    for (number, rawLine) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
      let line = rawLine.hasSuffix("\r") ? rawLine.dropLast() : rawLine
      if line.allSatisfy({ $0 == " " || $0 == "\t" }) {
        flush()
        stanzaLine = number + 2
        continue
      }
      if line.hasPrefix("#") { continue }
      if line.first == " " || line.first == "\t" {
        if let lastKey { fields[lastKey, default: ""] += " " + line.trimmed() }
        continue
      }
      guard let colon = line.firstIndex(of: ":") else { continue }
      let key = line[..<colon].trimmed().lowercased()
      if fields.isEmpty { stanzaLine = number + 1 }
      fields[key] = line[line.index(after: colon)...].trimmed()
      lastKey = key
    }
    flush()
    return targets
  }

  static func aptTarget(uri: String, suite: String, origin: String) -> EgressTarget? {
    var base = uri
    while base.hasSuffix("/") { base.removeLast() }
    let path = suite.hasSuffix("/") ? "/\(suite)InRelease" : "/dists/\(suite)/InRelease"
    return EgressTarget(url: base + path, origin: origin, knownFile: !suite.contains("$"))
  }

  /// /etc/apk/repositories: one URL a line, optionally tagged ("@edge http://…"); each gives
  /// its APKINDEX.tar.gz for `arch`.
  public static func parseApk(_ text: String, file: String, arch: String) -> [EgressTarget] {
    var targets: [EgressTarget] = []
    for (number, rawLine) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
      var words = rawLine.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\r" }).map(String.init)
      guard let first = words.first, !first.hasPrefix("#") else { continue }
      if first.hasPrefix("@") { words.removeFirst() }
      guard var url = words.first else { continue }
      while url.hasSuffix("/") { url.removeLast() }
      if let target = EgressTarget(url: "\(url)/\(arch)/APKINDEX.tar.gz", origin: "\(file):\(number + 1)", knownFile: true) {
        targets.append(target)
      }
    }
    return targets
  }

  /// A yum/dnf .repo file (INI): every enabled section's baseurl (all of its URLs), mirrorlist
  /// and metalink. Variables ($releasever, $basearch) cannot be expanded here, so only the
  /// server is asked, at "/".
  public static func parseYum(_ text: String, file: String) -> [EgressTarget] {
    var targets: [EgressTarget] = []
    var section: [(key: String, value: String, line: Int)] = []
    func flush() {
      defer { section = [] }
      if section.contains(where: { $0.key == "enabled" && $0.value.trimmed() == "0" }) { return }
      for entry in section where ["baseurl", "mirrorlist", "metalink"].contains(entry.key) {
        for url in entry.value.split(whereSeparator: { $0 == " " || $0 == "," || $0 == "\t" }) {
          if var target = EgressTarget(url: String(url), origin: "\(file):\(entry.line)") {
            if target.path.contains("$") { target.path = "/" }
            targets.append(target)
          }
        }
      }
    }
    var lastKey: String?
    for (number, rawLine) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
      let line = rawLine.trimmed()
      if line.hasPrefix("[") {
        flush()
        lastKey = nil
        continue
      }
      if line.isEmpty || line.hasPrefix("#") || line.hasPrefix(";") { continue }
      if (rawLine.first == " " || rawLine.first == "\t"), let lastKey, let index = section.lastIndex(where: { $0.key == lastKey }) {
        section[index].value += " " + line
        continue
      }
      guard let equals = line.firstIndex(of: "=") else { continue }
      let key = line[..<equals].trimmed().lowercased()
      section.append((key, line[line.index(after: equals)...].trimmed(), number + 1))
      lastKey = key
    }
    flush()
    return targets
  }

  /// pip.conf (INI): `index-url` and `extra-index-url` of [global] or [install].
  public static func parsePipConf(_ text: String, file: String) -> [EgressTarget] {
    var targets: [EgressTarget] = []
    var section = ""
    for (number, rawLine) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
      let line = rawLine.trimmed()
      if line.hasPrefix("[") {
        section = String(line.filter { $0 != "[" && $0 != "]" }).trimmed().lowercased()
        continue
      }
      guard section == "global" || section == "install", let equals = line.firstIndex(of: "=") else { continue }
      let key = String(line[..<equals].trimmed().lowercased().map { $0 == "_" ? "-" : $0 })
      guard key == "index-url" || key == "extra-index-url" else { continue }
      for url in line[line.index(after: equals)...].split(whereSeparator: \.isWhitespace) {
        if let target = EgressTarget(url: String(url), origin: "\(file):\(number + 1)") { targets.append(target) }
      }
    }
    return targets
  }

  /// .npmrc: `registry=URL`.
  public static func parseNpmrc(_ text: String, file: String) -> [EgressTarget] {
    var targets: [EgressTarget] = []
    for (number, rawLine) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
      let line = rawLine.trimmed()
      guard !line.hasPrefix("#"), !line.hasPrefix(";"), let equals = line.firstIndex(of: "="),
        line[..<equals].trimmed() == "registry"
      else { continue }
      if let target = EgressTarget(url: line[line.index(after: equals)...].trimmed(), origin: "\(file):\(number + 1)") {
        targets.append(target)
      }
    }
    return targets
  }

  /// GOPROXY (`go help goproxy`): URLs separated by "," or "|"; "direct" and "off" are not
  /// servers.
  public static func parseGoproxy(_ value: String) -> [EgressTarget] {
    value.split(whereSeparator: { $0 == "," || $0 == "|" }).compactMap { EgressTarget(url: String($0), origin: "GOPROXY") }
  }

  /// Every source of the image, deduplicated by endpoint (the first path is kept, the origins
  /// merged), at most `limit`.
  public static func read(
    _ source: SystemSource, environment: [String: String], arch: String, limit: Int = 16
  ) -> (targets: [EgressTarget], read: [String]) {
    var found: [EgressTarget] = []
    var read: [String] = []
    func text(_ path: String) -> String? {
      guard case .success(let text) = source.readText(path) else { return nil }
      read.append(path)
      return text
    }
    func listed(_ directory: String, suffix: String) -> [String] {
      ((source.list(directory).value) ?? []).filter { $0.hasSuffix(suffix) }.sorted().map { "\(directory)/\($0)" }
    }
    if let t = text("/etc/apt/sources.list") { found += parseAptList(t, file: "/etc/apt/sources.list") }
    for path in listed("/etc/apt/sources.list.d", suffix: ".list") { if let t = text(path) { found += parseAptList(t, file: path) } }
    for path in listed("/etc/apt/sources.list.d", suffix: ".sources") { if let t = text(path) { found += parseDeb822(t, file: path) } }
    if let t = text("/etc/apk/repositories") { found += parseApk(t, file: "/etc/apk/repositories", arch: arch) }
    for path in listed("/etc/yum.repos.d", suffix: ".repo") { if let t = text(path) { found += parseYum(t, file: path) } }
    let home = environment["HOME"] ?? "/root"
    for path in ["/etc/pip.conf", "/etc/xdg/pip/pip.conf", "\(home)/.pip/pip.conf", "\(home)/.config/pip/pip.conf"] {
      if let t = text(path) { found += parsePipConf(t, file: path) }
    }
    for key in ["PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL"] {
      for url in (environment[key] ?? "").split(whereSeparator: \.isWhitespace) {
        if let target = EgressTarget(url: String(url), origin: key) { found.append(target) }
      }
    }
    for path in ["/etc/npmrc", "/usr/etc/npmrc", "\(home)/.npmrc"] { if let t = text(path) { found += parseNpmrc(t, file: path) } }
    for key in ["npm_config_registry", "NPM_CONFIG_REGISTRY"] {
      if let value = environment[key], let target = EgressTarget(url: value, origin: key) { found.append(target) }
    }
    if let value = environment["GOPROXY"] { found += parseGoproxy(value) }
    return (merge(found, limit: limit), read)
  }

  /// Deduplicates by endpoint, keeping the first known file and every origin.
  public static func merge(_ targets: [EgressTarget], limit: Int) -> [EgressTarget] {
    var merged: [EgressTarget] = []
    for target in targets {
      if let index = merged.firstIndex(where: { $0.sameEndpoint(target) }) {
        for origin in target.origins where !merged[index].origins.contains(origin) { merged[index].origins.append(origin) }
        if !merged[index].knownFile && target.knownFile {
          merged[index].path = target.path
          merged[index].knownFile = true
        }
      } else if merged.count < limit {
        merged.append(target)
      }
    }
    return merged
  }
}

/// A proxy from the environment, as curl (lib/url.c, detect_proxy) and apt (methods/http.cc,
/// the `http_proxy` fallback of Acquire::http::Proxy) read it.
public struct ProxySetting: Equatable, Sendable {
  /// The variable that named it ("http_proxy", "HTTPS_PROXY", "all_proxy").
  public var variable: String
  /// Its value with any user:password removed.
  public var redacted: String
  public var host: String
  public var port: UInt16
  /// For apt's own setting: the file and line.
  public var origin: String? = nil

  /// How the report names it: "`http_proxy=http://10.0.0.1:3128`", or
  /// "`Acquire::http::Proxy \"http://10.0.0.1:3128\"` (/etc/apt/apt.conf.d/01proxy:1)".
  public var assignment: String {
    if let origin { return "`\(variable) \"\(redacted)\"` (\(origin))" }
    return "`\(variable)=\(redacted)`"
  }

  /// curl reads only the lower-case `http_proxy` (the upper-case one could be set by a CGI
  /// server from a request's "Proxy:" header), both cases of the others; a proxy URL without a
  /// port means 1080 to curl.
  public static func choose(for scheme: EgressTarget.Scheme, host: String, environment: [String: String]) -> ProxySetting? {
    if excluded(host, noProxy: environment["no_proxy"] ?? environment["NO_PROXY"]) { return nil }
    let names: [String]
    switch scheme {
    case .http: names = ["http_proxy", "all_proxy", "ALL_PROXY"]
    case .https: names = ["https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"]
    case .tcp: return nil
    }
    for name in names {
      guard let value = environment[name], !value.trimmed().isEmpty else { continue }
      return parse(value, variable: name)
    }
    return nil
  }

  /// "http://user:secret@10.0.0.1:3128/" → 10.0.0.1 port 3128; a bare "host:port" is taken as
  /// http, as curl does. nil when it cannot be parsed (the target is then asked directly, and
  /// the verdict says so).
  public static func parse(_ value: String, variable: String) -> ProxySetting? {
    var rest = Substring(value.trimmed())
    var scheme = "http://"
    if let colon = rest.firstIndex(of: ":"), rest[colon...].hasPrefix("://") {
      let after = rest.index(colon, offsetBy: 3)
      scheme = String(rest[..<after])
      rest = rest[after...]
    }
    let end = rest.firstIndex(of: "/") ?? rest.endIndex
    var authority = rest[..<end]
    if let at = authority.lastIndex(of: "@") { authority = authority[authority.index(after: at)...] }
    guard let (host, port) = EgressTarget.hostPort(authority, defaultPort: 1080) else { return nil }
    let shownHost = host.contains(":") ? "[\(host)]" : host
    return ProxySetting(variable: variable, redacted: "\(scheme)\(shownHost):\(port)", host: host, port: port)
  }

  /// no_proxy: "*" excludes every host; otherwise a comma list of names (a leading dot is
  /// ignored; a name matches itself and its subdomains), IP addresses, or CIDR ranges of an IP
  /// target ("10.0.0.0/8", as curl ≥ 7.86 reads them).
  public static func excluded(_ host: String, noProxy: String?) -> Bool {
    guard let noProxy else { return false }
    for entry in noProxy.split(separator: ",").map({ $0.trimmed().lowercased() }) where !entry.isEmpty {
      if entry == "*" { return true }
      if let slash = entry.firstIndex(of: "/"), let address = SocketAddress(parsing: host),
        let network = SocketAddress(parsing: String(entry[..<slash])), network.family == address.family,
        let bits = Int(entry[entry.index(after: slash)...]), bits >= 0, bits <= network.bytes.count * 8
      {
        let route = RouteTable.Route(interface: "", destination: network.bytes, prefixLength: bits, gateway: [])
        if route.matches(address.bytes) { return true }
        continue
      }
      let name = entry.hasPrefix(".") ? String(entry.dropFirst()) : entry
      if host == name || host.hasSuffix("." + name) { return true }
    }
    return false
  }
}

/// The routing tables of the network namespace (/proc/net/route, /proc/net/ipv6_route): enough
/// to say "no route" with the table that shows it.
public struct RouteTable: Equatable, Sendable {
  public struct Route: Equatable, Sendable {
    public var interface: String
    /// Destination and mask bytes (network order), and the prefix length.
    public var destination: [UInt8]
    public var prefixLength: Int
    public var gateway: [UInt8]
  }

  public var ipv4: [Route]
  public var ipv6: [Route]

  public init(ipv4: [Route] = [], ipv6: [Route] = []) {
    self.ipv4 = ipv4
    self.ipv6 = ipv6
  }

  /// /proc/net/route: "Iface Destination Gateway Flags RefCnt Use Metric Mask …", addresses in
  /// little-endian hex; only routes with RTF_UP (flag 1).
  public static func parseIPv4(_ text: String) -> [Route] {
    var routes: [Route] = []
    for line in text.split(separator: "\n").dropFirst() {
      let f = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
      guard f.count >= 8, let dest = UInt32(f[1], radix: 16), let gw = UInt32(f[2], radix: 16),
        let flags = UInt32(f[3], radix: 16), flags & 1 != 0, let mask = UInt32(f[7], radix: 16)
      else { continue }
      func bytes(_ v: UInt32) -> [UInt8] { [UInt8(v & 0xff), UInt8(v >> 8 & 0xff), UInt8(v >> 16 & 0xff), UInt8(v >> 24)] }
      routes.append(Route(interface: String(f[0]), destination: bytes(dest), prefixLength: mask.nonzeroBitCount, gateway: bytes(gw)))
    }
    return routes
  }

  /// /proc/net/ipv6_route: "dest destlen src srclen nexthop metric refcnt use flags iface", hex;
  /// only RTF_UP routes that are not rejects (RTF_REJECT 0x200: the "unreachable" defaults).
  public static func parseIPv6(_ text: String) -> [Route] {
    var routes: [Route] = []
    for line in text.split(separator: "\n") {
      let f = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
      guard f.count >= 10, f[0].count == 32, let length = Int(f[1], radix: 16), let flags = UInt32(f[8], radix: 16),
        flags & 1 != 0, flags & 0x200 == 0
      else { continue }
      func bytes(_ hex: Substring) -> [UInt8] {
        stride(from: 0, to: 32, by: 2).map { UInt8(hex.dropFirst($0).prefix(2), radix: 16) ?? 0 }
      }
      routes.append(Route(interface: String(f[9]), destination: bytes(f[0]), prefixLength: length, gateway: bytes(f[4])))
    }
    return routes
  }

  public static func read(_ source: SystemSource) -> (table: RouteTable, readable: Bool) {
    let v4 = source.readText("/proc/net/route")
    let v6 = source.readText("/proc/net/ipv6_route")
    return (RouteTable(ipv4: v4.value.map(parseIPv4) ?? [], ipv6: v6.value.map(parseIPv6) ?? []), v4.value != nil)
  }

  /// The most specific route to `address`, or nil: no route.
  public func route(to address: SocketAddress) -> Route? {
    let routes = address.family == .ipv4 ? ipv4 : ipv6
    return routes.filter { $0.matches(address.bytes) }.max { $0.prefixLength < $1.prefixLength }
  }

  /// Whether any route leaves the host's own interfaces (a default route or any route not on lo).
  public var hasDefaultIPv4: Bool { ipv4.contains { $0.prefixLength == 0 } }
  public var hasDefaultIPv6: Bool { ipv6.contains { $0.prefixLength == 0 && $0.interface != "lo" } }
}

extension RouteTable.Route {
  func matches(_ bytes: [UInt8]) -> Bool {
    guard bytes.count == destination.count else { return false }
    var left = prefixLength
    for index in bytes.indices where left > 0 {
      let bits = min(8, left)
      let mask = UInt8(truncatingIfNeeded: 0xff << (8 - bits))
      if bytes[index] & mask != destination[index] & mask { return false }
      left -= bits
    }
    return true
  }
}

/// apt's own proxy settings (apt.conf(5): `Acquire::http::Proxy "http://10.0.0.1:3128/";`,
/// per host `Acquire::http::Proxy::deb.debian.org "DIRECT";`), which apt's http and https
/// methods prefer to the environment's http_proxy/https_proxy. Only the one-line `::` form is
/// read, not nested `Acquire { http { … } }` blocks.
public struct AptProxyConfig: Equatable, Sendable {
  public struct Entry: Equatable, Sendable {
    /// "http" or "https"; the host for a per-host entry, else nil.
    public var scheme: String
    public var host: String?
    public var value: String
    /// "/etc/apt/apt.conf.d/01proxy:1".
    public var origin: String
  }

  public var entries: [Entry] = []

  /// The proxy entries of one apt.conf file (any syntax apt reads: `::` paths, nested blocks,
  /// comments), in the order apt sets them.
  public static func parse(_ text: String, file: String) -> [Entry] {
    entries(AptConf.parse(text, file: file))
  }

  static func entries(_ items: [AptConf.Item]) -> [Entry] {
    items.compactMap { item in
      let key = item.path
      guard key.count >= 3, key[0] == "acquire", key[1] == "http" || key[1] == "https", key[2] == "proxy" else { return nil }
      let host = key.count > 3 ? key[3...].joined(separator: "::") : nil
      return Entry(scheme: key[1], host: host, value: item.value.trimmed(), origin: item.origin)
    }
  }

  /// `Acquire::ForceIPv4` / `Acquire::ForceIPv6` as apt reads them (the last setting wins; its
  /// boolean words), with where it was set: apt's http method then asks getaddrinfo for that
  /// family only (ai_family), so the other family's addresses never matter to apt.
  public struct Forced: Equatable, Sendable {
    public var value: Bool
    public var origin: String
  }
  public var forceIPv4: Forced?
  public var forceIPv6: Forced?

  public init(entries: [Entry] = []) { self.entries = entries }

  public init(items: [AptConf.Item]) {
    entries = AptProxyConfig.entries(items)
    if let item = items.last(where: { $0.path == ["acquire", "forceipv4"] }) { forceIPv4 = Forced(value: AptConf.bool(item.value) ?? false, origin: item.origin) }
    if let item = items.last(where: { $0.path == ["acquire", "forceipv6"] }) { forceIPv6 = Forced(value: AptConf.bool(item.value) ?? false, origin: item.origin) }
  }

  /// The address family apt is held to, and the setting that holds it: ForceIPv4 wins when both
  /// are true, as in apt's connect code.
  public var forcedFamily: (ipv4: Bool, setting: String)? {
    if let v4 = forceIPv4, v4.value { return (true, "Acquire::ForceIPv4 \"true\" (\(v4.origin))") }
    if let v6 = forceIPv6, v6.value { return (false, "Acquire::ForceIPv6 \"true\" (\(v6.origin))") }
    return nil
  }

  public static func read(_ source: SystemSource) -> AptProxyConfig {
    AptProxyConfig(items: AptConf.read(source))
  }

  /// What apt uses for `target`: nil when apt.conf says nothing (the environment decides), else
  /// the proxy, or `.direct` for "DIRECT" or an empty value. The last setting wins, a per-host
  /// one over the general one.
  public enum Choice: Equatable, Sendable {
    case direct(origin: String)
    case proxy(ProxySetting)
  }

  public func choice(for target: EgressTarget) -> Choice? {
    guard target.scheme != .tcp else { return nil }
    let scheme = target.scheme.rawValue
    let relevant = entries.filter { $0.scheme == scheme }
    guard let entry = relevant.last(where: { $0.host == target.host }) ?? relevant.last(where: { $0.host == nil }) else { return nil }
    // "DIRECT" is apt.conf(5)'s word for none; an empty value or "false" (seen in images) are
    // not URLs, and are taken as none too.
    if entry.value.isEmpty || ["DIRECT", "FALSE"].contains(entry.value.uppercased()) { return .direct(origin: entry.origin) }
    let variable = "Acquire::\(scheme)::Proxy\(entry.host.map { "::\($0)" } ?? "")"
    guard var proxy = ProxySetting.parse(entry.value, variable: variable) else { return nil }
    proxy.origin = entry.origin
    return .proxy(proxy)
  }
}

/// apt's configuration as apt reads it (apt-pkg's ReadConfigFile): `Tag "value";` statements
/// whose tags are `::` paths, nested `Tag { ... };` blocks that prefix their contents, `//` and
/// `#` comments to the end of the line and `/* */` comments, outside quotes; a statement may span
/// lines. Keys are case-insensitive and the last setting wins. `#clear Tag;` removes what was
/// set below Tag; `#include` is not followed. Files: /etc/apt/apt.conf.d/* first (names of
/// `[A-Za-z0-9_.-]` with no extension or `.conf`, in sorted order), then /etc/apt/apt.conf, as
/// apt's pkgInitConfig reads them.
public enum AptConf {
  public struct Item: Equatable, Sendable {
    /// As written: "Acquire::http::Proxy".
    public var key: String
    public var value: String
    /// "/etc/apt/apt.conf.d/01proxy:3": the line the statement ends on.
    public var origin: String
    /// The key's parts, lower-cased.
    public var path: [String] {
      var parts: [String] = []
      var current = ""
      var chars = Array(key.lowercased())[...]
      while let c = chars.first {
        if c == ":" && chars.dropFirst().first == ":" {
          parts.append(current)
          current = ""
          chars = chars.dropFirst(2)
        } else {
          current.append(c)
          chars = chars.dropFirst()
        }
      }
      parts.append(current)
      return parts
    }
  }

  public static func parse(_ text: String, file: String) -> [Item] {
    var items: [Item] = []
    var parents: [String] = []
    var parent = ""
    var buffer: [Character] = []
    var inComment = false
    for (index, rawLine) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
      let line = Array(rawLine)
      // The fragment of this line outside comments.
      var fragment: [Character] = []
      var inQuote = false
      var i = 0
      while i < line.count {
        let c = line[i]
        let next: Character? = i + 1 < line.count ? line[i + 1] : nil
        if inComment {
          if c == "*" && next == "/" { inComment = false; i += 2 } else { i += 1 }
          continue
        }
        if c == "\"" { inQuote.toggle() }
        if !inQuote {
          if c == "/" && next == "/" { break }
          if c == "/" && next == "*" { inComment = true; i += 2; continue }
          if c == "#" {
            let rest = String(line[i...])
            if !rest.hasPrefix("#clear") && !rest.hasPrefix("#include") { break }
          }
        }
        fragment.append(c)
        i += 1
      }
      let trimmedFragment = String(fragment).trimmed()
      if trimmedFragment.isEmpty { continue }
      if !buffer.isEmpty { buffer.append(" ") }
      buffer += Array(trimmedFragment)
      // Every statement the buffer now completes.
      while true {
        var quote = false
        guard let end = buffer.indices.first(where: { at in
          if buffer[at] == "\"" { quote.toggle() }
          return !quote && (buffer[at] == ";" || buffer[at] == "{" || buffer[at] == "}")
        }) else { break }
        let terminator = buffer[end]
        let statement = String(buffer[..<end]).trimmed()
        buffer = Array(String(buffer[(end + 1)...]).trimmed())
        let origin = "\(file):\(index + 1)"
        if statement.hasPrefix("#clear") {
          let cleared = String(statement.dropFirst(6)).trimmed().lowercased()
          items.removeAll { $0.key.lowercased() == cleared || $0.key.lowercased().hasPrefix(cleared + "::") }
        } else if statement.hasPrefix("#include") {
          // Not followed.
        } else if !statement.isEmpty {
          var parts = words(statement)
          var tag = parts.isEmpty ? "" : parts.removeFirst()
          var value: String? = parts.isEmpty ? nil : parts.joined(separator: " ")
          if value == nil && terminator != "{" {
            // A lone word is a list element of the block it is in.
            value = tag
            tag = ""
          }
          let key = parent.isEmpty ? tag : tag.isEmpty ? parent + "::" : parent + "::" + tag
          if let value { items.append(Item(key: key, value: value, origin: origin)) }
          if terminator == "{" {
            parents.append(parent)
            parent = key
          }
        } else if terminator == "{" {
          parents.append(parent)
        }
        if terminator == "}" { parent = parents.popLast() ?? "" }
      }
    }
    return items
  }

  /// A statement's words: whitespace separates them; quotes group (and are stripped), and a
  /// quoted part joins the word it touches.
  static func words(_ text: String) -> [String] {
    var words: [String] = []
    var current = ""
    var inQuote = false
    var started = false
    for c in text {
      if c == "\"" { inQuote.toggle(); started = true; continue }
      if !inQuote && (c == " " || c == "\t") {
        if started { words.append(current); current = ""; started = false }
        continue
      }
      current.append(c)
      started = true
    }
    if started { words.append(current) }
    return words
  }

  /// apt's StringToBool words; nil for anything else.
  public static func bool(_ text: String) -> Bool? {
    switch text.trimmed().lowercased() {
    case "yes", "true", "with", "on", "enable": return true
    case "no", "false", "without", "off", "disable": return false
    default: return Int(text.trimmed()).map { $0 != 0 }
    }
  }

  /// The files apt reads from apt.conf.d: no extension or `.conf`, only `[A-Za-z0-9_.-]`.
  public static func readsPart(_ name: String) -> Bool {
    guard !name.hasPrefix("."), !name.isEmpty,
      name.unicodeScalars.allSatisfy({ ("a"..."z").contains($0) || ("A"..."Z").contains($0) || ("0"..."9").contains($0) || "_.-".unicodeScalars.contains($0) })
    else { return false }
    return !name.contains(".") || name.hasSuffix(".conf")
  }

  public static func read(_ source: SystemSource) -> [Item] {
    var items: [Item] = []
    for name in (source.list("/etc/apt/apt.conf.d").value ?? []).sorted() where readsPart(name) {
      let path = "/etc/apt/apt.conf.d/\(name)"
      if let text = source.readText(path).value { items += parse(text, file: path) }
    }
    if let text = source.readText("/etc/apt/apt.conf").value { items += parse(text, file: "/etc/apt/apt.conf") }
    return items
  }
}
