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
    bytes[52] = 0x10; bytes[53] = 0x27  // last_data_recv 10000
    let info = try #require(TCPInfo(bytes: bytes))
    #expect(info.state == TCPInfo.synSent && info.retransmits == 3 && info.sendMSS == 1460 && info.lastDataReceivedMilliseconds == 10_000)
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
