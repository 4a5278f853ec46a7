import Foundation
import Testing

/// The egress probe in a real topology of network namespaces (EgressSandbox), one scenario per
/// fault, each compared with what curl, wget and apt-get really do in the same namespace.
@Suite(.serialized) struct EgressProbeTests {
  static let url = "http://mirror.c11.test/debian/dists/c11/InRelease"
  static let curl = "curl -sS -v --max-time 6 -o /dev/null \(url)"
  static let wget = "wget -q -T 6 -t 1 -O /dev/null \(url)"
  static let apt =
    "mkdir -p $HOME/lists/partial $HOME/cache/archives/partial && apt-get -q -o Dir::State::Lists=$HOME/lists -o Dir::Cache=$HOME/cache -o Debug::NoLocking=1 -o APT::Sandbox::User=root -o Acquire::http::Timeout=6 -o Acquire::Retries=0 update"

  func connections(_ probe: [String: Any], _ fragment: String = "mirror.c11.test") -> [[String: Any]] {
    probe.egressTarget(fragment)?["connections"] as? [[String: Any]] ?? []
  }

  @Test func healthy() throws {
    let run = try EgressSandbox().egress(clients: [Self.curl, Self.wget, Self.apt])
    let clients = run.clients
    for (place, probe) in run.each {
      #expect(probe["status"] as? String == "ok", "\(place): \(probe)")
      let direct = connections(probe).filter { $0["via"] as? String == "direct" && $0["request"] as? String == "head" }
      #expect(direct.first?["result"] as? String == "connected")
      #expect(direct.first?["http_status"] as? Int == 200)
      let get = connections(probe).first { $0["request"] as? String == "get" }
      #expect(get?["completed"] as? Bool == true)
      #expect((get?["body_bytes"] as? Int ?? 0) >= 65_536)
      // The target came from the image's apt sources.
      #expect((probe.egressTarget("mirror")?["origins"] as? [String])?.first?.hasPrefix("/etc/apt/sources.list:1") == true)
    }
    #expect(clients[0].status == 0, "curl: \(clients[0].stderr)")
    #expect(clients[1].status == 0, "wget")
    #expect(clients[2].stdout.contains("mirror.c11.test/debian c11 InRelease"), "apt: \(clients[2].stdout)")
    #expect(!clients[2].stdout.contains("Could not connect"))
  }
}

extension EgressProbeTests {
  static let v4 = "ip daddr 10.111.2.2 tcp dport 80"
  static let v6 = "ip6 daddr 2001:db8:11:2::2 tcp dport 80"
  /// Milliseconds a client took, printed after its own output: `timed CMD`.
  static func timed(_ command: String) -> String {
    "s=$(date +%s%N); \(command); rc=$?; echo \"elapsed_ms=$(( ($(date +%s%N) - s) / 1000000 ))\"; exit $rc"
  }

  func first(_ probe: [String: Any], family4: Bool = true) -> [String: Any]? {
    connections(probe).first { $0["via"] as? String == "direct" && $0["request"] as? String == "head" && (($0["address"] as? String)?.contains(":") == !family4) }
  }

  @Test func synDropped() throws {
    var sandbox = EgressSandbox()
    sandbox.clientIPv6 = false
    sandbox.forwardRules = ["\(Self.v4) drop"]
    let run = try sandbox.egress(clients: [Self.curl, Self.wget, Self.apt])
    let clients = run.clients
    for (place, probe) in run.each {
      #expect(probe["status"] as? String == "blocked", "\(place): \(probe["summary"] ?? "")")
      #expect(probe["layer"] as? String == "network", "\(place): \(probe["summary"] ?? "")")
      let c = try #require(first(probe))
      #expect(c["result"] as? String == "syn-timeout")
      #expect(c["tcp_state"] as? String == "SYN_SENT")
      #expect((c["syn_retransmits"] as? Int ?? 0) >= 1, "\(c)")
      #expect(c["icmp"] is NSNull)
      #expect((probe["summary"] as? String)?.contains("no answer to SYN on 10.111.2.2 port 80 within 3.0 s") == true, "\(probe["summary"] ?? "")")
    }
    // The clients: curl and wget time out, apt says the connection timed out.
    #expect(clients[0].status == 28, "curl: \(clients[0].stderr)")
    #expect(clients[1].status == 4, "wget")
    #expect(clients[2].stdout.contains("Could not connect") || clients[2].stdout.contains("timed out"), "apt: \(clients[2].stdout)")
  }

  @Test func refusedWithRST() throws {
    var sandbox = EgressSandbox()
    sandbox.clientIPv6 = false
    sandbox.forwardRules = ["\(Self.v4) reject with tcp reset"]
    let run = try sandbox.egress(clients: [Self.curl, Self.wget, Self.apt])
    let clients = run.clients
    for (place, probe) in run.each {
      #expect(probe["status"] as? String == "blocked", "\(place): \(probe["summary"] ?? "")")
      #expect(probe["layer"] as? String == "network", "\(place): \(probe["summary"] ?? "")")
      let c = try #require(first(probe))
      #expect(c["result"] as? String == "refused")
      #expect(c["errno"] as? String == "ECONNREFUSED")
      #expect(c["icmp"] is NSNull)
      #expect((probe["summary"] as? String)?.contains("refused (a TCP RST") == true)
    }
    #expect(clients[0].status == 7 && clients[0].stderr.contains("Couldn't connect to server"), "curl: \(clients[0].stderr)")
    #expect(clients[1].status == 4)
    #expect(clients[2].stdout.contains("Could not connect") || clients[2].stdout.contains("Connection refused"), "apt: \(clients[2].stdout)")
  }

  @Test func rejectedAdminProhibited() throws {
    var sandbox = EgressSandbox()
    sandbox.clientIPv6 = false
    sandbox.forwardRules = ["\(Self.v4) reject with icmp type admin-prohibited"]
    let run = try sandbox.egress(clients: [Self.curl, Self.wget, Self.apt])
    let clients = run.clients
    for (place, probe) in run.each {
      #expect(probe["status"] as? String == "blocked", "\(place): \(probe["summary"] ?? "")")
      #expect(probe["layer"] as? String == "network", "\(place): \(probe["summary"] ?? "")")
      let c = try #require(first(probe))
      #expect(c["result"] as? String == "icmp-admin-prohibited", "\(c)")
      let icmp = try #require(c["icmp"] as? [String: Any])
      #expect(icmp["type"] as? Int == 3 && icmp["code"] as? Int == 13)
      #expect(icmp["sender"] as? String == "10.111.1.1")
      #expect((probe["summary"] as? String)?.contains("rejected by a firewall: ICMP administratively prohibited (3/13) from 10.111.1.1") == true, "\(probe["summary"] ?? "")")
    }
    // curl prints the same line as for a RST: culprit tells them apart, curl does not.
    #expect(clients[0].status == 7 && clients[0].stderr.contains("Couldn't connect to server"), "curl: \(clients[0].stderr)")
    #expect(clients[1].status == 4)
    #expect(clients[2].stdout.contains("Could not connect") || clients[2].stdout.contains("No route to host"), "apt: \(clients[2].stdout)")
  }

  @Test func hostUnreachable() throws {
    var sandbox = EgressSandbox()
    sandbox.clientIPv6 = false
    sandbox.forwardRules = ["\(Self.v4) reject with icmp type host-unreachable"]
    let run = try sandbox.egress(clients: [Self.curl, Self.wget])
    let clients = run.clients
    for (place, probe) in run.each {
      #expect(probe["status"] as? String == "blocked", "\(place): \(probe["summary"] ?? "")")
      #expect(probe["layer"] as? String == "network", "\(place): \(probe["summary"] ?? "")")
      let c = try #require(first(probe))
      #expect(c["result"] as? String == "icmp-unreachable", "\(c)")
      let icmp = try #require(c["icmp"] as? [String: Any])
      #expect(icmp["type"] as? Int == 3 && icmp["code"] as? Int == 1)
      #expect(icmp["sender"] as? String == "10.111.1.1")
      let summary = try #require(probe["summary"] as? String)
      #expect(summary.contains("ICMP host unreachable (3/1) from 10.111.1.1") && summary.contains("not a firewall's reject"), "\(summary)")
    }
    #expect(clients[0].status == 7 && clients[0].stderr.contains("Couldn't connect to server"), "curl: \(clients[0].stderr)")
    #expect(clients[1].status == 4)
  }

  @Test func noRoute() throws {
    var sandbox = EgressSandbox()
    sandbox.clientIPv6 = false
    sandbox.clientDefaultRoute = false
    sandbox.aptSources = ""
    let run = try sandbox.egress("--connect 10.111.9.9:80", clients: ["curl -sS --max-time 6 -o /dev/null http://10.111.9.9/"])
    let clients = run.clients
    for (place, probe) in run.each {
      #expect(probe["status"] as? String == "blocked", "\(place): \(probe["summary"] ?? "")")
      #expect(probe["layer"] as? String == "network", "\(place): \(probe["summary"] ?? "")")
      let c = try #require(connections(probe, "10.111.9.9").first)
      #expect(c["result"] as? String == "no-route")
      #expect(c["errno"] as? String == "ENETUNREACH")
      #expect((c["connect_ms"] as? Int ?? 99) < 50)
      #expect((probe["summary"] as? String)?.contains("no route to it (/proc/net/route has none)") == true)
      #expect(probe.fact("routes", "ipv4_default") as? Bool == false)
    }
    #expect(clients[0].status == 7, "curl: \(clients[0].stderr)")
  }

  @Test func deadProxyRefuses() throws {
    var sandbox = EgressSandbox()
    sandbox.clientIPv6 = false
    let proxy = ["http_proxy=http://10.111.2.3:3128"]
    let run = try sandbox.egress(clients: [Self.curl, Self.wget, Self.apt], environment: proxy)
    let clients = run.clients
    for (place, probe) in run.each {
      #expect(probe["status"] as? String == "blocked", "\(place): \(probe["summary"] ?? "")")
      #expect(probe["layer"] as? String == "proxy", "\(place): \(probe["summary"] ?? "")")
      let summary = try #require(probe["summary"] as? String)
      #expect(summary.contains("`http_proxy=http://10.111.2.3:3128` refuses connections (RST); the target itself answers directly"), "\(summary)")
      #expect((probe.egressTarget("mirror")?["proxy"] as? [String: Any])?["variable"] as? String == "http_proxy")
    }
    #expect(clients[0].status == 7 && clients[0].stderr.contains("10.111.2.3"), "curl: \(clients[0].stderr)")
    #expect(clients[1].status == 4)
    #expect(clients[2].stdout.contains("10.111.2.3"), "apt: \(clients[2].stdout)")
  }

  @Test func silentProxy() throws {
    var sandbox = EgressSandbox()
    sandbox.clientIPv6 = false
    sandbox.forwardRules = ["ip daddr 10.111.2.4 drop"]
    let proxy = ["http_proxy=http://10.111.2.4:3128"]
    let run = try sandbox.egress(clients: [Self.curl], environment: proxy)
    let clients = run.clients
    for (place, probe) in run.each {
      #expect(probe["status"] as? String == "blocked", "\(place): \(probe["summary"] ?? "")")
      #expect(probe["layer"] as? String == "proxy", "\(place): \(probe["summary"] ?? "")")
      let summary = try #require(probe["summary"] as? String)
      #expect(summary.contains("`http_proxy=http://10.111.2.4:3128` does not answer (SYN unanswered for 3.0 s); the target itself answers directly"), "\(summary)")
    }
    #expect(clients[0].status == 28, "curl: \(clients[0].stderr)")
  }

  @Test func ipv6FirstWithoutPath() throws {
    var sandbox = EgressSandbox()
    sandbox.forwardRules = ["ip6 daddr 2001:db8:11:2::2 drop"]
    let run = try sandbox.egress(clients: [Self.timed(Self.curl), Self.timed(Self.wget)])
    let clients = run.clients
    for (place, probe) in run.each {
      #expect(probe["status"] as? String == "degraded", "\(place): \(probe["summary"] ?? "")")
      #expect(probe["layer"] as? String == "network", "\(place): \(probe["summary"] ?? "")")
      #expect(probe.egressTarget("mirror")?["addresses"] as? [String] == ["2001:db8:11:2::2", "10.111.2.2"])
      #expect(first(probe, family4: false)?["result"] as? String == "syn-timeout")
      #expect(first(probe)?["result"] as? String == "connected")
      #expect((probe["summary"] as? String)?.contains("answers AAAA 2001:db8:11:2::2 first, and IPv6 gets no answer") == true)
    }
    // curl races the families (Happy Eyeballs) and is fast; wget waits its whole -T 6 first.
    func elapsed(_ o: EgressSandbox.Outcome) -> Int { Int(o.stdout.split(separator: "=").last.map { String($0).trimmingCharacters(in: .whitespacesAndNewlines) } ?? "") ?? -1 }
    #expect(clients[0].status == 0 && elapsed(clients[0]) < 2_000, "curl: \(clients[0].stdout)")
    #expect(clients[1].status == 0 && elapsed(clients[1]) >= 5_500, "wget: \(clients[1].stdout)")
  }

  @Test func aaaaWithoutIPv6RouteIsHarmless() throws {
    var sandbox = EgressSandbox()
    sandbox.clientIPv6 = false
    let run = try sandbox.egress(clients: [Self.timed(Self.wget)])
    let clients = run.clients
    for (place, probe) in run.each {
      #expect(probe["status"] as? String == "ok", "\(place): \(probe["summary"] ?? "")")
      #expect(probe.egressTarget("mirror")?["addresses"] as? [String] == ["10.111.2.2", "2001:db8:11:2::2"], "glibc sorts the unusable AAAA last")
      #expect(first(probe, family4: false)?["result"] as? String == "no-route", "\(first(probe, family4: false) ?? [:])")
      #expect((probe["evidence"] as? [String])?.contains { $0.contains("has no IPv6 route here") && $0.contains("costs nothing") } == true)
    }
    #expect(clients[0].status == 0)
  }

  @Test func pathMTUBlackhole() throws {
    var sandbox = EgressSandbox()
    sandbox.clientIPv6 = false
    sandbox.routerClientMTU = 1400
    sandbox.outputRules = ["icmp type destination-unreachable icmp code frag-needed drop"]
    let run = try sandbox.egress(clients: [Self.curl, Self.apt])
    let clients = run.clients
    for (place, probe) in run.each {
      #expect(probe["status"] as? String == "blocked", "\(place): \(probe["summary"] ?? "")")
      #expect(probe["layer"] as? String == "network", "\(place): \(probe["summary"] ?? "")")
      // The link is 1400: MSS 1360 (1348 bytes of data and 12 of timestamps a segment) is the
      // largest that crosses. 1361 and 1362 complete too, but only because the sender cut its
      // segments to 1288 bytes after the full-sized ones were lost; tcpi_rcv_mss shows it and
      // they count as failing (measured with tcpdump on the router: see the issue note).
      let mss = try #require(probe.fact("mtu_search", "largest_working_mss") as? Int, "\(probe.fact("mtu_search") ?? "")")
      #expect(mss == 1360, "\(place): \(probe.fact("mtu_search") ?? "")")
      #expect(probe.fact("mtu_search", "path_mtu") as? Int == 1400)
      let summary = try #require(probe["summary"] as? String)
      #expect(summary.contains("replies above 1360 bytes of payload never arrive: path MTU 1400 (MSS + 40) while c11a"), "\(place): \(summary)")
      #expect(summary.contains("says 1500"))
      let head = try #require(first(probe))
      #expect(head["http_status"] as? Int == 200, "the small reply arrives")
    }
    #expect(clients[0].status == 28, "curl stalls: \(clients[0].stderr)")
    #expect(!clients[1].stdout.contains("Get:1") || clients[1].stdout.contains("Err:1") || clients[1].stderr.contains("timed out"), "apt: \(clients[1].stdout)")
  }

  /// Runs culprit ARGUMENTS in the client namespace and in a runc container joined to it (when a
  /// static binary exists), then `clients`; the reports, labelled, and the clients' outcomes.
  func reports(_ sandbox: EgressSandbox, _ arguments: String, clients: [String] = []) throws
    -> (reports: [(place: String, report: RunResult)], clients: [EgressSandbox.Outcome])
  {
    let contained = EgressSandbox.inRunc(arguments.split(separator: " ").map(String.init))
    let outcomes = try sandbox.run(["$CULPRIT \(arguments)"] + clients + (contained.map { [$0] } ?? []))
    func report(_ o: EgressSandbox.Outcome) -> RunResult { RunResult(status: o.status, stdout: o.stdout, stderr: o.stderr, seconds: 0) }
    var reports = [("namespace", report(outcomes[0]))]
    if contained != nil, let last = outcomes.last {
      _ = try EgressSandbox.containerProbe(last, "getaddrinfo")
      reports.append(("runc container", report(last)))
    }
    for (place, report) in reports { #expect(try schemaErrors(report.stdout) == [], "\(place): \(report.stderr)") }
    return (reports, Array(outcomes.dropFirst().prefix(clients.count)))
  }

  @Test func slowNameserver() throws {
    var sandbox = EgressSandbox()
    sandbox.clientIPv6 = false
    sandbox.nameserver = .late(3)
    let (reports, clients) = try reports(
      sandbox, "--format json --only getaddrinfo,egress --timeout 20 --resolve mirror.c11.test",
      clients: [Self.timed("getent ahosts mirror.c11.test")])
    for (place, report) in reports {
      let gai = try report.probe("getaddrinfo")
      #expect(gai["status"] as? String == "degraded", "\(place): \(gai["summary"] ?? "")")
      #expect(gai["layer"] as? String == "network", "\(place)")
      #expect((gai["summary"] as? String)?.contains("answers only after 3.0 s") == true, "\(place): \(gai["summary"] ?? "")")
      #expect((gai.fact("slowest_answer_ms") as? Int ?? 0) >= 2_900)
      #expect(gai.fact("timeout_ms") as? Int == 5_000, "glibc's default timeout, not a fixed 2000 ms")
      let egress = try report.probe("egress")
      #expect(egress["status"] as? String == "degraded", "\(place)")
      #expect((egress["summary"] as? String)?.contains("resolves only after 3.") == true, "\(place): \(egress["summary"] ?? "")")
    }
    #expect(clients[0].stdout.contains("elapsed_ms=3") || clients[0].stdout.contains("elapsed_ms=4"), "getent waits too: \(clients[0].stdout)")
  }

  @Test func searchAndNdotsQueryCount() throws {
    var sandbox = EgressSandbox()
    sandbox.clientIPv6 = false
    sandbox.resolvConf = "nameserver 10.111.2.2\nsearch a.c11.test b.c11.test c.c11.test\noptions ndots:5\n"
    let (reports, _) = try reports(sandbox, "--format json --only getaddrinfo --resolve mirror.c11.test")
    for (place, report) in reports {
      let gai = try report.probe("getaddrinfo")
      #expect(gai["status"] as? String == "ok", "\(place): \(gai["summary"] ?? "")")
      #expect(gai.fact("queries", "mirror.c11.test") as? Int == 8, "\(place): \(gai.fact("queries") ?? "")")
      #expect((gai["evidence"] as? [String])?.contains { $0.contains("\"mirror.c11.test\" costs 8 DNS queries") } == true, "\(place)")
    }
  }

  @Test func connectRefusedBySeccomp() throws {
    var sandbox = EgressSandbox()
    sandbox.aptSources = ""
    let run = try sandbox.egress("--connect 10.111.2.2:80", jail: "--seccomp-rule connect=errno:EPERM")
    for (place, probe) in run.each {
      #expect(probe["status"] as? String == "blocked", "\(place): \(probe["summary"] ?? "")")
      #expect(probe["layer"] as? String == "seccomp", "\(place): \(probe["summary"] ?? "")")
      #expect((probe["summary"] as? String)?.contains("connect(-1) got EPERM where the kernel answers EBADF") == true)
    }
  }

  @Test func underDockersDefaultProfile() throws {
    let profile = Binaries.packageRoot.appendingPathComponent("Tests/CulpritCoreTests/Fixtures/seccomp-profiles/moby-default-0ec744f4.json").path
    var sandbox = EgressSandbox()
    sandbox.clientIPv6 = false
    let run = try sandbox.egress(jail: "--seccomp-profile \(profile)")
    for (place, probe) in run.each {
      #expect(probe["status"] as? String == "ok", "\(place): \(probe["summary"] ?? "")")
      #expect(first(probe)?["http_status"] as? Int == 200)
    }
  }

  @Test func httpsServerHello() throws {
    var sandbox = EgressSandbox()
    sandbox.clientIPv6 = false
    sandbox.aptSources = ""
    let run = try sandbox.egress(
      "--url https://mirror.c11.test/debian/ --connect 10.111.2.2:443",
      clients: ["curl -sS -v -k --max-time 6 -o /dev/null https://mirror.c11.test/debian/"])
    let clients = run.clients
    for (place, probe) in run.each {
      #expect(probe["status"] as? String == "ok", "\(place): \(probe["summary"] ?? "")")
      let https = try #require(connections(probe, "https://mirror").first { $0["address"] as? String == "10.111.2.2" })
      #expect(https["tls"] as? String == "server-hello", "\(https)")
      #expect((probe["evidence"] as? [String])?.contains { $0.contains("answers the ClientHello with a ServerHello") } == true)
    }
    #expect(clients[0].status == 0 && clients[0].stderr.contains("Server hello"), "curl: \(clients[0].stderr)")
  }

  @Test func httpsPortDropped() throws {
    var sandbox = EgressSandbox()
    sandbox.clientIPv6 = false
    sandbox.aptSources = ""
    sandbox.forwardRules = ["ip daddr 10.111.2.2 tcp dport 443 drop"]
    let run = try sandbox.egress("--url https://mirror.c11.test/debian/", clients: ["curl -sS -k --max-time 6 -o /dev/null https://mirror.c11.test/debian/"])
    let clients = run.clients
    for (place, probe) in run.each {
      #expect(probe["status"] as? String == "blocked", "\(place): \(probe["summary"] ?? "")")
      #expect(probe["layer"] as? String == "network", "\(place): \(probe["summary"] ?? "")")
      #expect((probe["summary"] as? String)?.contains("no answer to SYN on 10.111.2.2 port 443") == true)
    }
    #expect(clients[0].status == 28)
  }

  @Test func aptsOwnProxyRefuses() throws {
    // apt.conf's proxy is apt's alone: apt fails through it while curl (no http_proxy) works.
    var sandbox = EgressSandbox()
    sandbox.clientIPv6 = false
    sandbox.aptProxyConf = "Acquire::http::Proxy \"http://10.111.2.3:3128/\";\n"
    let run = try sandbox.egress(clients: [Self.curl, Self.apt])
    let clients = run.clients
    for (place, probe) in run.each {
      #expect(probe["status"] as? String == "blocked", "\(place): \(probe["summary"] ?? "")")
      #expect(probe["layer"] as? String == "proxy", "\(place): \(probe["summary"] ?? "")")
      let summary = try #require(probe["summary"] as? String)
      #expect(summary.contains("`Acquire::http::Proxy \"http://10.111.2.3:3128\"` (/etc/apt/apt.conf.d/01proxy:1) refuses connections (RST); the target itself answers directly"), "\(summary)")
    }
    #expect(clients[0].status == 0, "curl does not read apt.conf")
    #expect(clients[1].stdout.contains("10.111.2.3"), "apt: \(clients[1].stdout)")
  }
}

/// https through a proxy's CONNECT tunnel, and apt held to IPv4 by its own configuration.
extension EgressProbeTests {
  static let proxyCurl = "curl -sS -v -k --max-time 6 -o /dev/null"

  @Test func httpsThroughAConnectProxy() throws {
    var sandbox = EgressSandbox()
    sandbox.clientIPv6 = false
    sandbox.aptSources = ""
    sandbox.connectProxy = true
    let proxy = ["https_proxy=http://10.111.2.3:8080"]
    let run = try sandbox.egress("--url https://mirror.c11.test/debian/", clients: ["\(Self.proxyCurl) https://mirror.c11.test/debian/"], environment: proxy)
    for (place, probe) in run.each {
      #expect(probe["status"] as? String == "ok", "\(place): \(probe["summary"] ?? "")")
      let tunnel = try #require(connections(probe, "https://mirror").first { $0["via"] as? String == "proxy" }, "\(place)")
      #expect(tunnel["http_status"] as? Int == 200 && tunnel["tunnelled"] as? Bool == true, "\(place): \(tunnel)")
      #expect(tunnel["tls"] as? String == "server-hello", "\(place): \(tunnel)")
      #expect((probe["summary"] as? String)?.contains("`https_proxy=http://10.111.2.3:8080`: CONNECT answered HTTP/1.1 200 Connection established, and inside the tunnel the server answers the ClientHello with a ServerHello") == true, "\(place): \(probe["summary"] ?? "")")
    }
    #expect(run.clients[0].status == 0 && run.clients[0].stderr.contains("CONNECT mirror.c11.test:443") && run.clients[0].stderr.contains("Server hello"), "curl: \(run.clients[0].stderr)")
  }

  @Test func connectTunnelToAPlainHTTPPort() throws {
    var sandbox = EgressSandbox()
    sandbox.clientIPv6 = false
    sandbox.aptSources = ""
    sandbox.connectProxy = true
    let proxy = ["https_proxy=http://10.111.2.3:8080"]
    let run = try sandbox.egress("--url https://mirror.c11.test:80/", clients: ["\(Self.proxyCurl) https://mirror.c11.test:80/"], environment: proxy)
    for (place, probe) in run.each {
      #expect(probe["status"] as? String == "degraded", "\(place): \(probe["summary"] ?? "")")
      #expect(probe["layer"] as? String == "network", "\(place): not the proxy's fault, port 80 is not TLS directly either")
      let tunnel = try #require(connections(probe, "https://mirror").first { $0["via"] as? String == "proxy" }, "\(place)")
      #expect(tunnel["tls"] as? String == "not-tls" && tunnel["tunnelled"] as? Bool == true, "\(place): \(tunnel)")
      #expect((probe["summary"] as? String)?.contains("answers CONNECT with HTTP/1.1 200 Connection established, but inside the tunnel the ClientHello is answered with something that is not TLS (\"") == true, "\(place): \(probe["summary"] ?? "")")
    }
    // curl: the TLS handshake fails inside the tunnel (35).
    #expect(run.clients[0].status == 35, "curl: \(run.clients[0].stderr)")
  }

  @Test func aptForcedToIPv4IgnoresADeadIPv6Path() throws {
    var sandbox = EgressSandbox()
    sandbox.forwardRules = ["ip6 daddr 2001:db8:11:2::2 drop"]
    sandbox.aptProxyConf = "Acquire {\n  ForceIPv4 \"true\";  // IPv6 is broken here\n};\n"
    let run = try sandbox.egress(clients: [Self.timed(Self.apt)])
    for (place, probe) in run.each {
      #expect(probe["status"] as? String == "ok", "\(place): \(probe["summary"] ?? "")")
      #expect(probe.egressTarget("mirror")?["apt_family"] as? String == "ipv4", "\(place)")
      #expect(probe.egressTarget("mirror")?["addresses"] as? [String] == ["2001:db8:11:2::2", "10.111.2.2"])
      #expect((probe["summary"] as? String)?.contains("apt connects over IPv4 only (Acquire::ForceIPv4 \"true\" (/etc/apt/apt.conf.d/01proxy:2)), so 2001:db8:11:2::2 does not matter to apt") == true, "\(place): \(probe["summary"] ?? "")")
      let get = connections(probe).first { $0["request"] as? String == "get" }
      #expect(get?["address"] as? String == "10.111.2.2" && get?["completed"] as? Bool == true, "\(place): the ranged GET goes where apt goes")
    }
    // apt itself: fetches over IPv4 at once.
    #expect(run.clients[0].stdout.contains("Get:1 http://mirror.c11.test/debian c11 InRelease") && !run.clients[0].stdout.contains("Could not connect"), "apt: \(run.clients[0].stdout) \(run.clients[0].stderr)")
  }
}

extension EgressProbeTests {
  /// A slow nameserver and Kubernetes' search/ndots at once: each of the 4 names the search list
  /// makes waits for the late answer, so one lookup costs 8 queries and 4 waits.
  @Test func slowNameserverWithSearchAndNdots() throws {
    var sandbox = EgressSandbox()
    sandbox.clientIPv6 = false
    sandbox.nameserver = .late(1.5)
    sandbox.resolvConf = "nameserver 10.111.2.2\nsearch a.c11.test b.c11.test c.c11.test\noptions ndots:5\n"
    let (reports, clients) = try reports(
      sandbox, "--format json --only getaddrinfo --timeout 25 --resolve mirror.c11.test",
      clients: [Self.timed("getent ahosts mirror.c11.test")])
    for (place, report) in reports {
      let gai = try report.probe("getaddrinfo")
      #expect(gai["status"] as? String == "degraded", "\(place): \(gai["summary"] ?? "")")
      #expect(gai.fact("queries", "mirror.c11.test") as? Int == 8, "\(place): \(gai.fact("queries") ?? "")")
      #expect((gai.fact("slowest_answer_ms") as? Int ?? 0) >= 1_400, "\(place)")
      let summary = try #require(gai["summary"] as? String)
      #expect(summary.contains("answers only after 1.5 s"), "\(place): \(summary)")
      #expect(summary.contains("\"mirror.c11.test\" costs 8 queries (ndots 5, 3 search domains) in 4 rounds, so one lookup waits about 4 × 1.5 s = 6."), "\(place): \(summary)")
      // The lookup's bound is 4 names × 5 s (capped by the probe's own budget), no longer the
      // one query's 5 s that cut the 6 s lookup short ("does not resolve in the main thread").
      #expect(gai.fact("timeout_ms") as? Int == 5_000, "\(place)")
      #expect((gai.fact("lookup_bound_ms") as? Int ?? 0) > 6_500, "\(place): \(gai.fact("lookup_bound_ms") ?? "")")
    }
    // getent (glibc) waits the same: 4 rounds of 1.5 s.
    let ms = Int(clients[0].stdout.split(separator: "=").last.map { String($0).trimmingCharacters(in: .whitespacesAndNewlines) } ?? "") ?? -1
    #expect(clients[0].status == 0 && (5_800...8_000).contains(ms), "getent: \(clients[0].stdout)")
  }
}

extension EgressProbeTests {
  /// Only loopback (`--network none`): a loopback target is still tried, the rest is "no route".
  @Test func loopbackTargetWithoutANetwork() throws {
    let result = try CulpritCLITests.run([
      "/usr/bin/unshare", "-n", "/bin/sh", "-c",
      "ip link set lo up && python3 -c 'import socket,sys,time; s=socket.socket(); s.bind((\"127.0.0.1\",0)); s.listen(); print(s.getsockname()[1], flush=True); time.sleep(30)' > $0.port & p=$!; sleep 0.5; \"$1\" --format json --only egress --connect 127.0.0.1:$(cat $0.port) --connect 127.0.0.1:9; kill -KILL $p; rm -f $0.port",
      "/tmp/c11b-lo-\(UUID().uuidString.prefix(6))", Binaries.culprit,
    ], limit: 60)
    let probe = try result.probe("egress")
    #expect(probe.fact("routes", "only_loopback") as? Bool == true)
    let targets = try #require(probe.fact("targets") as? [[String: Any]])
    let results = targets.filter { ($0["host"] as? String) == "127.0.0.1" }.map { (($0["connections"] as? [[String: Any]])?.first?["result"] as? String) ?? "none" }
    #expect(results == ["connected", "refused"], "\(probe["summary"] ?? "")")
  }
}
