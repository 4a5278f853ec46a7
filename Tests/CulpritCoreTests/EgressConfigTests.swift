import Foundation
import Testing

@testable import CulpritCore

/// The egress probe's readers and its verdict, from real text: Debian 12's own deb822 sources
/// (this machine's /etc/apt/sources.list.d/debian.sources, 2026-12), this machine's
/// /proc/net/route and /proc/net/ipv6_route, and the formats' documented examples.
@Suite struct EgressConfigTests {
  static let debianSources = """
    Types: deb
    # http://snapshot.debian.org/archive/debian/20250520T000000Z
    URIs: http://deb.debian.org/debian
    Suites: bookworm bookworm-updates
    Components: main
    Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

    Types: deb
    # http://snapshot.debian.org/archive/debian-security/20250520T000000Z
    URIs: http://deb.debian.org/debian-security
    Suites: bookworm-security
    Components: main
    Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

    Types: deb
    URIs: https://off.example/debian
    Suites: stable
    Enabled: no
    """

  @Test func deb822() {
    let targets = PackageSources.parseDeb822(Self.debianSources, file: "debian.sources")
    #expect(targets.map(\.display) == [
      "http://deb.debian.org/debian/dists/bookworm/InRelease",
      "http://deb.debian.org/debian/dists/bookworm-updates/InRelease",
      "http://deb.debian.org/debian-security/dists/bookworm-security/InRelease",
    ])
    #expect(targets[0].origins == ["debian.sources:1"] && targets[2].origins == ["debian.sources:8"])
    #expect(targets.allSatisfy { $0.knownFile })
    // One endpoint: merged, the origins kept.
    let merged = PackageSources.merge(targets, limit: 16)
    #expect(merged.count == 1 && merged[0].origins.count == 2)
  }

  @Test func oneLineSources() {
    let text = """
      # comment
      deb [arch=amd64 signed-by=/k.gpg] http://mirror.local:8080/debian/ bookworm main
      deb-src https://deb.example.org/debian bookworm main
      deb http://flat.example/repo ./
      deb cdrom:[Debian]/ bookworm main
      """
    let targets = PackageSources.parseAptList(text, file: "sources.list")
    #expect(targets.map(\.display) == [
      "http://mirror.local:8080/debian/dists/bookworm/InRelease",
      "https://deb.example.org/debian/dists/bookworm/InRelease",
      "http://flat.example/repo/./InRelease",
    ])
    #expect(targets[0].origins == ["sources.list:2"])
  }

  @Test func apkYumPipNpmGoproxy() {
    let apk = PackageSources.parseApk("https://dl-cdn.alpinelinux.org/alpine/v3.20/main\n@edge http://dl-cdn.alpinelinux.org/alpine/edge/testing\n#x\n", file: "repositories", arch: "x86_64")
    #expect(apk.map(\.display) == [
      "https://dl-cdn.alpinelinux.org/alpine/v3.20/main/x86_64/APKINDEX.tar.gz",
      "http://dl-cdn.alpinelinux.org/alpine/edge/testing/x86_64/APKINDEX.tar.gz",
    ])
    let yum = PackageSources.parseYum("""
      [baseos]
      name=Rocky
      mirrorlist=https://mirrors.rockylinux.org/mirrorlist?arch=$basearch&repo=BaseOS-$releasever
      [appstream]
      baseurl=http://dl.rockylinux.org/$contentdir/$releasever/AppStream/$basearch/os/
        http://mirror2.example/rocky/
      [off]
      enabled=0
      baseurl=http://off.example/
      """, file: "r.repo")
    #expect(yum.map(\.host) == ["mirrors.rockylinux.org", "dl.rockylinux.org", "mirror2.example"])
    #expect(yum[1].path == "/", "an unexpanded $variable path is not asked for")
    let pip = PackageSources.parsePipConf("[global]\nindex-url = https://pypi.internal/simple\nextra_index_url = http://extra.example/simple\n[freeze]\nindex-url=http://no/\n", file: "pip.conf")
    #expect(pip.map(\.host) == ["pypi.internal", "extra.example"])
    #expect(PackageSources.parseNpmrc("registry=https://registry.npmjs.org/\n//registry.npmjs.org/:_authToken=x\n", file: ".npmrc").map(\.host) == ["registry.npmjs.org"])
    #expect(PackageSources.parseGoproxy("https://proxy.golang.org,direct").map(\.host) == ["proxy.golang.org"])
    #expect(PackageSources.parseGoproxy("off").isEmpty)
  }

  @Test func urlsAndEndpoints() {
    #expect(EgressTarget(url: "http://user:pw@[2001:db8::1]:8080/a?b", origin: "x")?.display == "http://[2001:db8::1]:8080/a?b")
    #expect(EgressTarget(url: "ftp://x/", origin: "x") == nil)
    #expect(EgressTarget(url: "http://a/b/../", origin: "x")?.host == "a")
    #expect(EgressTarget(url: "http://bad host/", origin: "x") == nil)
    #expect(EgressTarget(connect: "db:5432")?.port == 5432)
    #expect(EgressTarget(connect: "[::1]:443")?.host == "::1")
    #expect(EgressTarget(connect: "db") == nil)
    #expect(EgressTarget(connect: "db:0") == nil)
    #expect(EgressTarget(connect: "db:70000") == nil)
  }

  @Test func proxiesAsCurlReadsThem() {
    let env = ["http_proxy": "http://u:secret@10.0.0.1:3128/", "HTTPS_PROXY": "proxy.corp", "no_proxy": ".internal,10.1.2.3"]
    let http = ProxySetting.choose(for: .http, host: "deb.debian.org", environment: env)
    #expect(http?.variable == "http_proxy" && http?.host == "10.0.0.1" && http?.port == 3128)
    #expect(http?.redacted == "http://10.0.0.1:3128", "the password never reaches the report")
    let https = ProxySetting.choose(for: .https, host: "pypi.org", environment: env)
    #expect(https?.variable == "HTTPS_PROXY" && https?.port == 1080, "curl's default proxy port")
    #expect(ProxySetting.choose(for: .http, host: "apt.internal", environment: env) == nil)
    #expect(ProxySetting.choose(for: .http, host: "x.apt.internal", environment: env) == nil)
    #expect(ProxySetting.choose(for: .http, host: "10.1.2.3", environment: env) == nil)
    // curl ignores upper-case HTTP_PROXY.
    #expect(ProxySetting.choose(for: .http, host: "a", environment: ["HTTP_PROXY": "http://p:1"]) == nil)
    #expect(ProxySetting.choose(for: .http, host: "a", environment: ["ALL_PROXY": "http://p:1"])?.variable == "ALL_PROXY")
    #expect(ProxySetting.choose(for: .http, host: "a", environment: ["http_proxy": "http://p:1", "no_proxy": "*"]) == nil)
    let cidr = ["http_proxy": "http://p:1", "no_proxy": "10.0.0.0/8, fd00::/8"]
    #expect(ProxySetting.choose(for: .http, host: "10.20.30.40", environment: cidr) == nil)
    #expect(ProxySetting.choose(for: .http, host: "fd00::5", environment: cidr) == nil)
    #expect(ProxySetting.choose(for: .http, host: "11.0.0.1", environment: cidr) != nil)
  }

  @Test func routeTables() throws {
    // This machine's tables (eth0 in 192.0.2.0/24 with a default route; IPv6 on fd00::/64).
    let v4 = RouteTable.parseIPv4("""
      Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT
      eth0\t00000000\t010200C0\t0003\t0\t0\t0\t00000000\t0\t0\t0
      eth0\t000200C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0
      """)
    let v6 = RouteTable.parseIPv6("""
      fd000000000000000000000000000000 40 00000000000000000000000000000000 00 00000000000000000000000000000000 00000100 00000001 00000000 00000001     eth0
      00000000000000000000000000000000 00 00000000000000000000000000000000 00 fd000000000000000000000000000001 00000400 00000002 00000000 00000003     eth0
      00000000000000000000000000000001 80 00000000000000000000000000000000 00 00000000000000000000000000000000 00000000 00000002 00000000 80200001       lo
      00000000000000000000000000000000 00 00000000000000000000000000000000 00 00000000000000000000000000000000 ffffffff 00000001 00000000 00200200       lo
      """)
    let table = RouteTable(ipv4: v4, ipv6: v6)
    #expect(table.hasDefaultIPv4 && table.hasDefaultIPv6 && !table.onlyLoopback)
    #expect(table.route(to: SocketAddress(parsing: "192.0.2.7")!)?.prefixLength == 24)
    #expect(table.route(to: SocketAddress(parsing: "8.8.8.8")!)?.prefixLength == 0)
    #expect(v6.count == 3, "the reject route (RTF_REJECT) of an empty namespace is not a route")
    // `unshare -n` with lo up: /proc/net/route has only its header.
    let empty = RouteTable(ipv4: RouteTable.parseIPv4("Iface\tDestination\n"), ipv6: [])
    #expect(empty.onlyLoopback && !empty.hasDefaultIPv4)
  }

  @Test func tcpInfoOffsets() throws {
    var bytes = [UInt8](repeating: 0, count: 232)
    bytes[0] = 2  // SYN_SENT
    bytes[2] = 3  // retransmits
    bytes[16] = 0xb4; bytes[17] = 0x05  // snd_mss 1460
    bytes[20] = 0x08; bytes[21] = 0x05  // rcv_mss 1288
    bytes[52] = 0x10; bytes[53] = 0x27  // last_data_recv 10000
    let info = try #require(TCPInfo(bytes: bytes))
    #expect(info.state == TCPInfo.synSent && info.retransmits == 3 && info.sendMSS == 1460 && info.receiveMSS == 1288 && info.lastDataReceivedMilliseconds == 10_000)
    #expect(TCPInfo(bytes: Array(bytes.prefix(50))) == nil)
    #expect(TCPInfo.stateName(2) == "SYN_SENT" && TCPInfo.stateName(40) == "STATE 40")
  }

  /// The verdict as a table: observations in, status and layer out.
  @Test func verdictTable() throws {
    let target = try #require(EgressTarget(url: "http://m.test/debian/dists/x/InRelease", origin: "sources.list:1", knownFile: true))
    func judge(_ connections: [Connection], proxy: ProxySetting? = nil, lookupMs: Int = 5) -> ProbeResult {
      var obs = EgressObservations(targets: [target], sourcesRead: [], offline: false)
      obs.proxies = [proxy]
      obs.routes = RouteTable(ipv4: RouteTable.parseIPv4("h\neth0\t00000000\t0101A8C0\t0003\t0\t0\t0\t00000000\t0\t0\t0\n"))
      obs.routesReadable = true
      obs.lookups = ["m.test": .init(addresses: ["2001:db8::2", "10.0.0.2"], error: nil, milliseconds: lookupMs)]
      obs.connections = connections
      return EgressDecision(probe: EgressProbe(), observations: obs).judge()
    }
    func conn(_ address: String, order: Int, via: ConnectionPlan.Via = .direct, _ edit: (inout Connection) -> Void) -> Connection {
      var c = Connection(plan: ConnectionPlan(target: 0, via: via, address: address, port: via == .proxy ? 3128 : 80, order: order, kind: .head))
      edit(&c)
      return c
    }
    let ok4 = conn("10.0.0.2", order: 1) { $0.connected = true; $0.httpStatus = 200; $0.statusLine = "HTTP/1.0 200 OK" }
    let silent6 = conn("2001:db8::2", order: 0) { $0.connectTimedOut = true; $0.waitedMilliseconds = 3000; $0.info = TCPInfo(state: 2, retransmits: 2) }
    let noRoute6 = conn("2001:db8::2", order: 0) { $0.connectError = .networkUnreachable }
    let r1 = judge([silent6, ok4])
    #expect(r1.status == .degraded && r1.layer == .network && r1.summary.contains("AAAA 2001:db8::2 first"))
    let r2 = judge([noRoute6, ok4])
    #expect(r2.status == .ok, "a fast failure of the first address costs nothing: \(r2.summary)")
    let admin = conn("10.0.0.2", order: 1) {
      $0.connectError = Errno(rawValue: 113)
      $0.queued = [QueuedSocketError(errno: Errno(rawValue: 113), origin: 2, type: 3, code: 13, sender: "10.0.0.1")]
    }
    let r3 = judge([noRoute6, admin])
    #expect(r3.status == .blocked && r3.layer == .network && r3.summary.contains("ICMP administratively prohibited (3/13) from 10.0.0.1"))
    let refusedProxy = conn("10.9.9.9", order: 0, via: .proxy) { $0.connectError = .connectionRefused }
    let proxy = ProxySetting(variable: "http_proxy", redacted: "http://10.9.9.9:3128", host: "10.9.9.9", port: 3128)
    let r4 = judge([noRoute6, ok4, refusedProxy], proxy: proxy)
    #expect(r4.status == .blocked && r4.layer == .proxy && r4.summary.contains("refuses connections (RST); the target itself answers directly"))
    let r5 = judge([noRoute6, ok4], lookupMs: 3000)
    #expect(r5.status == .degraded && r5.summary.contains("resolves only after 3.0 s"))
    let seccomp = conn("10.0.0.2", order: 1) { $0.connectError = .notPermitted; $0.connectCheck = .notPermitted }
    #expect(judge([noRoute6, seccomp]).layer == .seccomp)
    let netfilter = conn("10.0.0.2", order: 1) { $0.connectError = .notPermitted; $0.connectCheck = .badFileDescriptor }
    #expect(judge([noRoute6, netfilter]).layer == .network)
  }

  /// A path-MTU blackhole's MTU is the MSS plus the headers of the address's family: 40 bytes
  /// for IPv4, 60 for IPv6, in the fact as in the sentence.
  @Test(arguments: [("10.0.0.2", 1360, 1400), ("2001:db8::2", 1340, 1400)])
  func mtuBlackholeAddsTheFamilysHeaders(address: String, mss: Int, mtu: Int) throws {
    let target = try #require(EgressTarget(url: "http://m.test/debian/dists/x/InRelease", origin: "sources.list:1", knownFile: true))
    var obs = EgressObservations(targets: [target], sourcesRead: [], offline: false)
    obs.proxies = [nil]
    obs.routes = RouteTable(ipv4: RouteTable.parseIPv4("h\neth0\t00000000\t0101A8C0\t0003\t0\t0\t0\t00000000\t0\t0\t0\n"))
    obs.routesReadable = true
    obs.lookups = ["m.test": .init(addresses: [address], error: nil, milliseconds: 5)]
    var head = Connection(plan: ConnectionPlan(target: 0, via: .direct, address: address, port: 80, order: 0, kind: .head))
    head.connected = true
    head.httpStatus = 200
    head.statusLine = "HTTP/1.0 200 OK"
    var get = Connection(plan: ConnectionPlan(target: 0, via: .direct, address: address, port: 80, order: 0, kind: .get))
    get.connected = true
    get.stalled = true
    get.bytesReceived = 2896
    obs.connections = [head, get]
    obs.mtuSearch = .init(largestWorkingMSS: mss, smallestFailingMSS: mss + 1, tried: [mss: true, mss + 1: false], address: address)
    let result = EgressDecision(probe: EgressProbe(), observations: obs).judge()
    #expect(result.status == .blocked && result.layer == .network, "\(result.summary)")
    #expect(result.summary.contains("path MTU \(mtu) (MSS + \(mtu - mss))"), "\(result.summary)")
    let search = try #require(result.facts["mtu_search"]?.objectValue)
    #expect(search["path_mtu"] == .int(mtu))
  }
}

extension EgressConfigTests {
  @Test func aptsOwnProxy() throws {
    let entries = AptProxyConfig.parse("""
      // corporate proxy
      Acquire::http::Proxy "http://user:pw@10.0.0.1:3128/";
      Acquire::http::Proxy::mirror.internal "DIRECT";
      Acquire::https::Proxy "false";
      APT::Get::Assume-Yes "true";
      """, file: "/etc/apt/apt.conf.d/01proxy")
    let config = AptProxyConfig(entries: entries)
    let debian = try #require(EgressTarget(url: "http://deb.debian.org/debian/dists/x/InRelease", origin: "/etc/apt/sources.list:1"))
    guard case .proxy(let proxy)? = config.choice(for: debian) else { Issue.record("no proxy"); return }
    #expect(proxy.host == "10.0.0.1" && proxy.port == 3128 && proxy.origin == "/etc/apt/apt.conf.d/01proxy:2")
    #expect(proxy.assignment == "`Acquire::http::Proxy \"http://10.0.0.1:3128\"` (/etc/apt/apt.conf.d/01proxy:2)")
    let inside = try #require(EgressTarget(url: "http://mirror.internal/x", origin: "/etc/apt/sources.list:2"))
    #expect(config.choice(for: inside) == .direct(origin: "/etc/apt/apt.conf.d/01proxy:3"))
    let https = try #require(EgressTarget(url: "https://deb.debian.org/x", origin: "/etc/apt/sources.list:3"))
    #expect(config.choice(for: https) == .direct(origin: "/etc/apt/apt.conf.d/01proxy:4"), "\"false\" is taken as no proxy")
  }
}

/// apt.conf as apt reads it: nested blocks, comments, statements over lines, ForceIPv4; checked
/// against `apt-config -c FILE dump` (apt 2.6.1 on this machine), apt's own reading.
extension EgressConfigTests {
  /// An image's apt.conf written the ways people write it (blocks, `::` paths, both comment
  /// kinds, a statement split over two lines, a retired setting inside /* */).
  static let nestedAptConf = """
    // a corporate image's apt.conf, as people write it
    Acquire {
      http {
        Proxy "http://10.0.0.1:3128/";   // the office proxy
        Proxy::mirror.internal "DIRECT";
      };
      https { Proxy "false"; };
    };
    /* retired:
    Acquire::http::Proxy "http://old:8080/";
    */
    Acquire::http { Timeout "10"; };
    # a hash comment
    acquire::FORCEIPV4 "true";
    Acquire::Languages { "none"; };
    APT::Get::Assume-Yes "true"; Acquire::https::Proxy::deb.example.org
      "http://10.0.0.2:3128/";
    """
  /// Quoting and comment corner cases, as apt-config dumps them.
  static let trickyAptConf = """
    Acquire::http::Proxy::q.test "http://u:p@10.0.0.9:3128/x//y";
    Acquire::ftp::Proxy "a;b";
    Acquire::http::User-Agent "one" "two";
    Acquire::c11 { a "1"; b { c "2"; }; d "3"; };
    Acquire::c11::e "4"; #clear Acquire::c11::b;
    /* a */ Acquire::c11::f "5"; /* b
    still */ Acquire::c11::g "6";
    Acquire::c11::h unquoted;
    """

  @Test func aptConfNestedBlocks() throws {
    let items = AptConf.parse(Self.nestedAptConf, file: "/etc/apt/apt.conf")
    let config = AptProxyConfig(items: items)
    let debian = try #require(EgressTarget(url: "http://deb.debian.org/debian/dists/x/InRelease", origin: "/etc/apt/sources.list:1"))
    guard case .proxy(let proxy)? = config.choice(for: debian) else { Issue.record("no proxy: \(items)"); return }
    #expect(proxy.host == "10.0.0.1" && proxy.port == 3128 && proxy.origin == "/etc/apt/apt.conf:4")
    #expect(proxy.variable == "Acquire::http::Proxy")
    let inside = try #require(EgressTarget(url: "http://mirror.internal/x", origin: "/etc/apt/sources.list:2"))
    #expect(config.choice(for: inside) == .direct(origin: "/etc/apt/apt.conf:5"))
    let https = try #require(EgressTarget(url: "https://security.debian.org/x", origin: "/etc/apt/sources.list:3"))
    #expect(config.choice(for: https) == .direct(origin: "/etc/apt/apt.conf:7"))
    let split = try #require(EgressTarget(url: "https://deb.example.org/x", origin: "/etc/apt/sources.list:4"))
    guard case .proxy(let other)? = config.choice(for: split) else { Issue.record("no per-host proxy"); return }
    #expect(other.host == "10.0.0.2" && other.origin == "/etc/apt/apt.conf:17", "the statement ends on line 17")
    #expect(!items.contains { $0.value.contains("old:8080") }, "inside /* */")
    #expect(config.forceIPv4 == .init(value: true, origin: "/etc/apt/apt.conf:14"), "keys are case-insensitive")
    #expect(config.forcedFamily?.ipv4 == true)
    #expect(items.contains { $0.key == "Acquire::Languages::" && $0.value == "none" }, "a list element")
    // The old one-line form still reads.
    #expect(AptProxyConfig(items: AptConf.parse("Acquire::ForceIPv4 \"false\";\nAcquire::ForceIPv6 yes;\n", file: "f")).forcedFamily?.ipv4 == false)
    #expect(AptConf.bool("on") == true && AptConf.bool("0") == false && AptConf.bool("maybe") == nil)
  }

  @Test func aptConfPartNames() {
    #expect(AptConf.readsPart("01proxy") && AptConf.readsPart("99-ipv4.conf") && AptConf.readsPart("docker-clean"))
    #expect(!AptConf.readsPart("01proxy.bak") && !AptConf.readsPart("01proxy.dpkg-old") && !AptConf.readsPart(".hidden"))
    #expect(!AptConf.readsPart("with space") && !AptConf.readsPart("01proxy~"))
  }

  /// `apt-config dump` with apt's own files replaced: APT_CONFIG names a file that points
  /// Dir::Etc::parts and Dir::Etc::main at `parts` and `main` (this machine's /etc/apt is not
  /// read), then `-c extra` if given. Keys lower-cased.
  static func aptConfigDump(parts: String, main: String, extra: String? = nil) throws -> [String: String] {
    let isolate = FileManager.default.temporaryDirectory.appendingPathComponent("c11b-aptconfig-\(UUID().uuidString)")
    try "Dir::Etc::parts \"\(parts)\";\nDir::Etc::main \"\(main)\";\n".write(to: isolate, atomically: true, encoding: .utf8)
    defer { try? FileManager.default.removeItem(at: isolate) }
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/apt-config")
    process.arguments = (extra.map { ["-c", $0] } ?? []) + ["dump"]
    process.environment = ["APT_CONFIG": isolate.path, "PATH": "/usr/bin:/bin"]
    let pipe = Pipe()
    process.standardOutput = pipe
    process.standardError = FileHandle.nullDevice
    try process.run()
    let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    process.waitUntilExit()
    #expect(process.terminationStatus == 0)
    var apt: [String: String] = [:]
    for line in output.split(separator: "\n") {
      guard let space = line.firstIndex(of: " "), line.hasSuffix("\";") else { continue }
      apt[line[..<space].lowercased()] = String(line[line.index(after: space)...].dropFirst().dropLast(2))
    }
    return apt
  }

  /// Every value culprit reads from these files is the value apt-config dumps for the key (the
  /// last setting, case-insensitive keys), and apt-config has no proxy or ForceIPv4 setting that
  /// culprit missed.
  @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/apt-config")))
  func aptConfAgreesWithAptConfig() throws {
    let root = FileManager.default.temporaryDirectory.appendingPathComponent("c11b-aptroot-\(UUID().uuidString)")
    defer { try? FileManager.default.removeItem(at: root) }
    let parts = root.appendingPathComponent("root/etc/apt/apt.conf.d")
    try FileManager.default.createDirectory(at: parts, withIntermediateDirectories: true)
    try "{}".write(to: root.appendingPathComponent("syscalls.json"), atomically: true, encoding: .utf8)
    for text in [Self.nestedAptConf, Self.trickyAptConf] {
      let file = root.appendingPathComponent("extra.conf")
      try text.write(to: file, atomically: true, encoding: .utf8)
      let apt = try Self.aptConfigDump(parts: parts.path, main: root.appendingPathComponent("none").path, extra: file.path)
      var ours: [String: String] = [:]
      for item in AptConf.parse(text, file: file.path) where !item.key.hasSuffix("::") { ours[item.key.lowercased()] = item.value }
      #expect(!ours.isEmpty)
      for (key, value) in ours { #expect(apt[key] == value, "\(key): apt-config says \(apt[key] ?? "nothing"), culprit \(value)") }
      // (A key with children only, like Acquire::http::Proxy above Proxy::HOST, dumps as "".)
      for (key, value) in apt where ((key.hasPrefix("acquire::http") && key.contains("::proxy")) || key == "acquire::forceipv4") && !(value.isEmpty && apt.keys.contains { $0.hasPrefix(key + "::") }) {
        #expect(ours[key] == value, "apt-config sets \(key) \"\(value)\"; culprit reads \(ours[key] ?? "nothing")")
      }
    }
    // Which files, in which order: apt.conf.d's parts (no extension or .conf) sorted, then
    // apt.conf, the last setting winning.
    let main = root.appendingPathComponent("root/etc/apt/apt.conf")
    try "Acquire::http::Proxy \"http://10.0.0.1:3128/\";\n".write(to: parts.appendingPathComponent("01proxy"), atomically: true, encoding: .utf8)
    try "Acquire::http::Proxy \"http://10.0.0.2:3128/\";\n".write(to: parts.appendingPathComponent("02proxy.conf"), atomically: true, encoding: .utf8)
    try "Acquire::http::Proxy \"http://10.0.0.3:3128/\";\n".write(to: parts.appendingPathComponent("03proxy.bak"), atomically: true, encoding: .utf8)
    try "Acquire::ForceIPv4 \"true\";\n".write(to: parts.appendingPathComponent("99ipv4"), atomically: true, encoding: .utf8)
    let target = try #require(EgressTarget(url: "http://deb.debian.org/debian/dists/x/InRelease", origin: "/etc/apt/sources.list:1"))
    let fixture = try FixtureSystem(directory: root.path)
    var apt = try Self.aptConfigDump(parts: parts.path, main: main.path)
    guard case .proxy(let first)? = AptProxyConfig.read(fixture).choice(for: target) else { Issue.record("no proxy"); return }
    #expect(apt["acquire::http::proxy"] == "http://10.0.0.2:3128/" && first.host == "10.0.0.2", "03proxy.bak is not read: \(apt["acquire::http::proxy"] ?? "")")
    #expect(apt["acquire::forceipv4"] == "true" && AptProxyConfig.read(fixture).forceIPv4?.value == true)
    try "Acquire { http { Proxy \"http://10.0.0.4:3128/\"; }; };\n".write(to: main, atomically: true, encoding: .utf8)
    apt = try Self.aptConfigDump(parts: parts.path, main: main.path)
    guard case .proxy(let last)? = AptProxyConfig.read(fixture).choice(for: target) else { Issue.record("no proxy"); return }
    #expect(apt["acquire::http::proxy"] == "http://10.0.0.4:3128/" && last.host == "10.0.0.4" && last.origin == "/etc/apt/apt.conf:1", "apt.conf is read after apt.conf.d")
  }
}

extension EgressConfigTests {
  /// apt under Acquire::ForceIPv4, and https through a proxy's CONNECT tunnel: verdict rows.
  @Test func verdictTableForcedFamilyAndTunnel() throws {
    let apt = try #require(EgressTarget(url: "http://m.test/debian/dists/x/InRelease", origin: "/etc/apt/sources.list:1", knownFile: true))
    let secure = try #require(EgressTarget(url: "https://m.test/simple/", origin: "--url", knownFile: true))
    func judge(_ target: EgressTarget, _ connections: [Connection], family: EgressObservations.AptFamily? = nil, proxy: ProxySetting? = nil, addresses: [String] = ["2001:db8::2", "10.0.0.2"]) -> ProbeResult {
      var obs = EgressObservations(targets: [target], sourcesRead: [], offline: false)
      obs.proxies = [proxy]
      obs.aptFamily = [family]
      obs.routes = RouteTable(ipv4: RouteTable.parseIPv4("h\neth0\t00000000\t0101A8C0\t0003\t0\t0\t0\t00000000\t0\t0\t0\n"))
      obs.routesReadable = true
      obs.lookups = ["m.test": .init(addresses: addresses, error: nil, milliseconds: 5)]
      obs.connections = connections
      return EgressDecision(probe: EgressProbe(), observations: obs).judge()
    }
    func conn(_ address: String, order: Int, via: ConnectionPlan.Via = .direct, port: UInt16 = 80, _ edit: (inout Connection) -> Void) -> Connection {
      var c = Connection(plan: ConnectionPlan(target: 0, via: via, address: address, port: port, order: order, kind: .head))
      edit(&c)
      return c
    }
    let v4 = EgressObservations.AptFamily(ipv4: true, setting: "Acquire::ForceIPv4 \"true\" (/etc/apt/apt.conf.d/99ipv4:1)")
    let ok4 = conn("10.0.0.2", order: 1) { $0.connected = true; $0.httpStatus = 200; $0.statusLine = "HTTP/1.0 200 OK" }
    let silent6 = conn("2001:db8::2", order: 0) { $0.connectTimedOut = true; $0.waitedMilliseconds = 3000; $0.info = TCPInfo(state: 2, retransmits: 2) }
    // AAAA first and IPv6 dropped: degraded for clients in general, not for apt held to IPv4.
    #expect(judge(apt, [silent6, ok4]).status == .degraded)
    let forced = judge(apt, [silent6, ok4], family: v4)
    #expect(forced.status == .ok, "\(forced.summary)")
    #expect(forced.summary.contains("apt connects over IPv4 only (Acquire::ForceIPv4 \"true\" (/etc/apt/apt.conf.d/99ipv4:1)), so 2001:db8::2 does not matter to apt"), "\(forced.summary)")
    // IPv4 dropped under ForceIPv4: apt's own failure, though IPv6 would work.
    let silent4 = conn("10.0.0.2", order: 1) { $0.connectTimedOut = true; $0.waitedMilliseconds = 3000; $0.info = TCPInfo(state: 2, retransmits: 2) }
    let ok6 = conn("2001:db8::2", order: 0) { $0.connected = true; $0.httpStatus = 200; $0.statusLine = "HTTP/1.0 200 OK" }
    #expect(judge(apt, [ok6, silent4]).status == .ok)
    let lost = judge(apt, [ok6, silent4], family: v4)
    #expect(lost.status == .blocked && lost.layer == .network && lost.summary.contains("no answer to SYN on 10.0.0.2 port 80"), "\(lost.summary)")
    // Only AAAA records and ForceIPv4: apt cannot resolve the name.
    let only6 = judge(apt, [ok6], family: v4, addresses: ["2001:db8::2"])
    #expect(only6.status == .blocked && only6.summary.contains("apt asks for IPv4 only"), "\(only6.summary)")

    // https through a proxy: CONNECT 200, then what the tunnel answers to the ClientHello.
    let proxy = ProxySetting(variable: "https_proxy", redacted: "http://10.9.9.9:8080", host: "10.9.9.9", port: 8080)
    func tunnel(_ edit: @escaping (inout Connection) -> Void) -> Connection {
      conn("10.9.9.9", order: 0, via: .proxy, port: 8080) {
        $0.connected = true; $0.httpStatus = 200; $0.statusLine = "HTTP/1.1 200 Connection established"; $0.tunnelled = true
        edit(&$0)
      }
    }
    let hello4 = conn("10.0.0.2", order: 1, port: 443) { $0.connected = true; $0.tls = .serverHello; $0.completed = true }
    let good = judge(secure, [hello4, tunnel { $0.tls = .serverHello; $0.completed = true }], proxy: proxy)
    #expect(good.status == .ok && good.summary.contains("CONNECT answered HTTP/1.1 200 Connection established, and inside the tunnel the server answers the ClientHello with a ServerHello"), "\(good.summary)")
    let plain = judge(secure, [hello4, tunnel { $0.tls = .notTLS("HTTP/1.0 400 Bad"); $0.completed = true }], proxy: proxy)
    #expect(plain.status == .degraded && plain.layer == .proxy, "direct TLS works, so the tunnel is at fault: \(plain.summary)")
    #expect(plain.summary.contains("something that is not TLS (\"HTTP/1.0 400 Bad\")") && plain.summary.contains("so the proxy's tunnel is at fault"))
    let silent = judge(secure, [tunnel { $0.stalled = true; $0.waitedMilliseconds = 1200 }], proxy: proxy, addresses: ["10.0.0.2"])
    #expect(silent.status == .degraded && silent.layer == .network && silent.summary.contains("nothing answers the ClientHello within 1.2 s"), "\(silent.summary)")
    let refused = judge(secure, [hello4, conn("10.9.9.9", order: 0, via: .proxy, port: 8080) { $0.connected = true; $0.httpStatus = 403; $0.statusLine = "HTTP/1.1 403 Forbidden" }], proxy: proxy)
    #expect(refused.status == .blocked && refused.layer == .proxy, "\(refused.summary)")
  }
}
