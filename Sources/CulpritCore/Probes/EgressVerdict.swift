/// The egress probe's verdict: a pure function of what it observed.
struct EgressDecision {
  let probe: EgressProbe
  let observations: EgressObservations

  /// One target's outcome.
  struct Finding {
    var status: Status
    var layer: Layer?
    var sentence: String
    var hint: String?
  }

  static let firewallHint =
    "Allow egress to the mirror: a Kubernetes NetworkPolicy needs an egress rule for the mirror's address and port (and for kube-dns on UDP and TCP 53); on a host, check the FORWARD/OUTPUT rules of nftables or iptables; in CI, the runner's network or security group."
  static let routeHint =
    "The container has no route there: with Docker --network none (or a pod without a network) nothing leaves; attach a network (docker run --network bridge / a user network), or give the namespace a default route."
  static let ipv6Hint =
    "The name has an AAAA record sorted first but IPv6 packets get no answer: clients that try addresses in order (wget, apt without Happy Eyeballs) wait the whole connect timeout each time. Give the container a working IPv6 path, disable IPv6 in it (sysctl net.ipv6.conf.all.disable_ipv6=1), or tell the client to use IPv4 (apt: Acquire::ForceIPv4 \"true\"; wget -4; curl -4)."
  static let mtuHint =
    "The path's MTU is smaller than the interface's and the ICMP \"fragmentation needed\" messages that would say so are dropped (a path-MTU blackhole, usual with VXLAN overlays: 1450). Set the container's MTU to the path's: Docker --mtu or \"mtu\" in daemon.json, the CNI plugin's MTU (Calico/Flannel veth_mtu 1450 for VXLAN), or clamp the MSS on the router (nft: tcp flags syn tcp option maxseg size set rt mtu)."
  static let seccompHint =
    "A seccomp profile refuses the network calls; allow socket and connect (Docker's default profile does), or confirm with --security-opt seccomp=unconfined."
  static let lsmHint =
    "An LSM refuses the socket (AppArmor \"deny network\", SELinux): check the container's AppArmor profile (aa-status, dmesg for apparmor=\"DENIED\") or SELinux denials (ausearch -m avc)."

  func proxyHint(_ proxy: ProxySetting) -> String {
    if let origin = proxy.origin {
      return "apt's own proxy setting does not work: fix or remove \(proxy.variable) in \(origin.split(separator: ":").first.map(String.init) ?? origin) (\"DIRECT\" turns it off for one host: Acquire::http::Proxy::HOST \"DIRECT\"); it overrides http_proxy for apt only, so curl and pip may still work."
    }
    return "The proxy that \(proxy.variable) names does not work. Fix or unset it: docker run -e \(proxy.variable)= (or --build-arg \(proxy.variable)= for a build), Kubernetes env, and for apt also Acquire::http::Proxy in /etc/apt/apt.conf.d; exempt internal mirrors with no_proxy."
  }

  func seconds(_ ms: Int) -> String {
    let tenths = (ms + 50) / 100
    return "\(tenths / 10).\(tenths % 10) s"
  }

  static func icmpName(_ error: QueuedSocketError) -> String {
    if error.origin == 3 {
      switch (error.type, error.code) {
      case (1, 0): return "ICMPv6 no route (1/0)"
      case (1, 1): return "ICMPv6 administratively prohibited (1/1)"
      case (1, 3): return "ICMPv6 address unreachable (1/3)"
      case (1, 4): return "ICMPv6 port unreachable (1/4)"
      case (1, 6): return "ICMPv6 reject route (1/6)"
      default: return "ICMPv6 \(error.type)/\(error.code)"
      }
    }
    switch (error.type, error.code) {
    case (3, 0): return "ICMP network unreachable (3/0)"
    case (3, 1): return "ICMP host unreachable (3/1)"
    case (3, 3): return "ICMP port unreachable (3/3)"
    case (3, 4): return "ICMP fragmentation needed (3/4)"
    case (3, 9), (3, 10), (3, 13): return "ICMP administratively prohibited (3/\(error.code))"
    default: return "ICMP \(error.type)/\(error.code)"
    }
  }

  /// ENETUNREACH (no route) or EADDRNOTAVAIL (no source address of the family, IPv6 disabled).
  static func isNoRoute(_ err: Errno) -> Bool { err == .networkUnreachable || err.rawValue == 99 }

  static func isAdminProhibited(_ error: QueuedSocketError) -> Bool {
    error.origin == 3 ? error.type == 1 && (error.code == 1 || error.code == 6) : error.type == 3 && [9, 10, 13].contains(error.code)
  }

  /// What one connection's connect came to, in words, and whether it failed fast.
  func describeConnect(_ c: Connection) -> (sentence: String, layer: Layer, hint: String?, fast: Bool)? {
    let endpoint = c.plan.address.contains(":") ? "[\(c.plan.address)]:\(c.plan.port)" : "\(c.plan.address):\(c.plan.port)"
    if let err = c.socketError {
      if let check = c.socketCheck, check != .invalidArgument {
        return ("socket(2) failed with \(err.name), and socket(SOCK_STREAM | 0x100) got \(check.name) where the kernel answers EINVAL: a seccomp filter refuses socket", .seccomp, EgressDecision.seccompHint, true)
      }
      if err == .permissionDenied {
        return ("socket(2) failed with EACCES while the discriminating call reached the kernel (EINVAL): an LSM refuses the socket", .lsm, EgressDecision.lsmHint, true)
      }
      return ("socket(2) failed with \(err.name)", .unknown, nil, true)
    }
    if c.connected { return nil }
    if let icmp = c.queued.first(where: { $0.origin == 2 || $0.origin == 3 }) {
      let from = icmp.sender.map { " from \($0)" } ?? ""
      if EgressDecision.isAdminProhibited(icmp) {
        return ("connect to \(endpoint) was rejected by a firewall: \(EgressDecision.icmpName(icmp))\(from) after \(c.connectMilliseconds ?? 0) ms (connect: \(c.connectError?.name ?? "?"))", .network, EgressDecision.firewallHint, true)
      }
      return ("connect to \(endpoint) failed with \(c.connectError?.name ?? "?"): \(EgressDecision.icmpName(icmp))\(from) after \(c.connectMilliseconds ?? 0) ms — the router\(from.isEmpty ? "" : " at \(icmp.sender!)") cannot deliver to it, which is not a firewall's reject", .network, EgressDecision.firewallHint, true)
    }
    if let err = c.connectError {
      switch err {
      case .connectionRefused:
        return ("connect to \(endpoint) was refused (a TCP RST, ECONNREFUSED after \(c.connectMilliseconds ?? 0) ms, no ICMP error queued): the host answers but nothing listens on port \(c.plan.port), or a firewall resets", .network, "Check that the service listens on \(c.plan.port) at \(c.plan.address), or which firewall sends the reset.", true)
      case Errno(rawValue: 99):
        return ("connect to \(endpoint) failed at once with EADDRNOTAVAIL: this namespace has no \(c.plan.address.contains(":") ? "IPv6" : "IPv4") address to send from (IPv6 disabled, or no address on any interface)", .network, EgressDecision.routeHint, true)
      case .networkUnreachable:
        let table = c.plan.address.contains(":") ? "/proc/net/ipv6_route" : "/proc/net/route"
        return ("connect to \(endpoint) failed at once with ENETUNREACH: no route to it (\(table) has none)", .network, EgressDecision.routeHint, true)
      case .notPermitted, .permissionDenied:
        if let check = c.connectCheck, check != .badFileDescriptor {
          return ("connect to \(endpoint) failed with \(err.name), and connect(-1) got \(check.name) where the kernel answers EBADF: a seccomp filter refuses connect", .seccomp, EgressDecision.seccompHint, true)
        }
        if err == .permissionDenied {
          return ("connect to \(endpoint) failed with EACCES from the kernel (connect(-1) got EBADF, so no filter answered): an LSM refuses it", .lsm, EgressDecision.lsmHint, true)
        }
        return ("connect to \(endpoint) failed with EPERM from the kernel (connect(-1) got EBADF, so no seccomp filter answered): a local netfilter rule drops the packet in OUTPUT", .network, EgressDecision.firewallHint, true)
      default:
        return ("connect to \(endpoint) failed with \(err.description) after \(c.connectMilliseconds ?? 0) ms", .network, EgressDecision.firewallHint, true)
      }
    }
    if c.connectTimedOut || !c.connected {
      let state = c.info.map { TCPInfo.stateName($0.state) } ?? "unknown"
      let retrans = c.info.map { ", \($0.retransmits) SYN retransmission\($0.retransmits == 1 ? "" : "s")" } ?? ""
      return ("no answer to SYN on \(c.plan.address) port \(c.plan.port) within \(seconds(c.waitedMilliseconds)) (TCP_INFO: \(state)\(retrans); no ICMP error queued): the packets are dropped silently", .network, EgressDecision.firewallHint, false)
    }
    return nil
  }

  func finding(_ index: Int) -> Finding {
    let target = observations.targets[index]
    let all = observations.connections.filter { $0.plan.target == index && $0.plan.mss == nil }
    var direct = all.filter { $0.plan.via == .direct && $0.plan.kind == .head }.sorted { $0.plan.order < $1.plan.order }
    let proxied = all.filter { $0.plan.via == .proxy && $0.plan.kind == .head }
    let get = all.first { $0.plan.kind == .get }
    let name = target.display

    // The name.
    var notes: [String] = []
    if SocketAddress(parsing: target.host) == nil {
      let lookup = observations.lookups[target.host]
      if let lookup, lookup.addresses.isEmpty {
        return Finding(
          status: .blocked, layer: .network,
          sentence: "\(target.host) does not resolve (\(lookup.error ?? "no address") after \(lookup.milliseconds) ms); the getaddrinfo probe tells why",
          hint: "Run `culprit --only getaddrinfo --resolve \(target.host)`.")
      }
      if let lookup, lookup.milliseconds >= 1000 {
        notes.append("\(target.host) resolves only after \(seconds(lookup.milliseconds))")
      }
    }

    // apt held to one family (Acquire::ForceIPv4): only that family's addresses count for it.
    if observations.aptFamily.indices.contains(index), let family = observations.aptFamily[index] {
      let kept = direct.filter { $0.plan.address.contains(":") != family.ipv4 }
      let ignored = direct.filter { $0.plan.address.contains(":") == family.ipv4 }.map(\.plan.address)
      let v = family.ipv4 ? "IPv4" : "IPv6"
      if kept.isEmpty && !ignored.isEmpty && observations.proxies[index] == nil {
        return Finding(
          status: .blocked, layer: .network,
          sentence: "\(target.host) has only \(family.ipv4 ? "IPv6" : "IPv4") addresses (\(ignored.joined(separator: ", "))) and apt asks for \(v) only (\(family.setting)): apt cannot resolve it",
          hint: "Remove \(family.setting.split(separator: " ").first.map(String.init) ?? "the setting") from apt's configuration, or give the mirror an address of that family.")
      }
      if !ignored.isEmpty {
        notes.append("apt connects over \(v) only (\(family.setting)), so \(ignored.joined(separator: ", ")) \(ignored.count == 1 ? "does" : "do") not matter to apt")
      }
      direct = kept.enumerated().map { order, c in
        var c = c
        c.plan.order = order
        return c
      }
    }

    // Through the proxy.
    if let proxy = observations.proxies[index] {
      let working = proxied.first { $0.httpStatus != nil }
      let directWorks = direct.contains { $0.connected && ($0.httpStatus != nil || target.scheme != .http) }
      let directText = directWorks ? "the target itself answers directly" : "the target does not answer directly either"
      if observations.addresses(of: proxy.host).isEmpty {
        return Finding(status: .blocked, layer: .proxy, sentence: "\(proxy.assignment): the proxy's name does not resolve; \(directText)", hint: proxyHint(proxy))
      }
      if working == nil {
        let first = proxied.first
        var how = "gives no reply"
        if let first {
          if first.connectError == .connectionRefused { how = "refuses connections (RST)" }
          else if first.connectTimedOut { how = "does not answer (SYN unanswered for \(seconds(first.waitedMilliseconds)))" }
          else if let d = describeConnect(first) { how = "cannot be reached: \(d.sentence)" }
          else if first.connected { how = "accepts the connection but sends no HTTP reply within \(seconds(first.waitedMilliseconds))" }
        }
        return Finding(status: .blocked, layer: .proxy, sentence: "\(proxy.assignment) \(how); \(directText)", hint: proxyHint(proxy))
      }
      if let status = working?.httpStatus, status == 407 || status >= 500 || (target.scheme == .https && status != 200) {
        return Finding(status: .blocked, layer: .proxy, sentence: "\(proxy.assignment) answers \(working?.statusLine ?? "\(status)") for \(name); \(directText)", hint: proxyHint(proxy))
      }
      if target.scheme == .https, let tunnel = working, tunnel.httpStatus == 200 {
        let outcome = tlsOutcome(tunnel)
        if !outcome.works {
          let directHello = direct.first { $0.tls == .serverHello }
          return Finding(
            status: .degraded, layer: directHello != nil ? .proxy : .network,
            sentence: "\(name): \(proxy.assignment) answers CONNECT with \(tunnel.statusLine ?? "200"), but inside the tunnel \(outcome.text)"
              + (directHello.map { "; directly, \($0.plan.address) answers the ClientHello with a ServerHello, so the proxy's tunnel is at fault" } ?? ""),
            hint: directHello != nil ? proxyHint(proxy) : "Check what answers on port \(target.port) of \(target.host) behind the proxy (a plain-HTTP port, or a TLS-intercepting proxy that needs its CA).")
        }
        notes.append("through \(proxy.assignment): CONNECT answered \(tunnel.statusLine ?? "200"), and inside the tunnel the server \(outcome.text)")
      } else {
        notes.append("through \(proxy.assignment): \(working?.statusLine ?? "")")
      }
      return Finding(status: notes.count > 1 ? .degraded : .ok, layer: notes.count > 1 ? .network : nil, sentence: "\(name): " + notes.joined(separator: "; "))
    }

    // Directly: the addresses in getaddrinfo's order.
    guard let first = direct.first else {
      return Finding(status: .skipped, sentence: "\(name) was not tried (no time left)")
    }
    let firstFailure = describeConnect(first)
    let working = direct.first { $0.connected }
    guard let working else {
      // A filter on socket/connect explains every address's failure: it leads.
      let filtered = direct.compactMap(describeConnect).first { $0.layer == .seccomp || $0.layer == .lsm }
      let failure = filtered ?? firstFailure ?? (sentence: "no address of \(target.host) accepts a connection", layer: Layer.network, hint: Optional(EgressDecision.firewallHint), fast: true)
      var sentence = failure.sentence
      if direct.count > 1 {
        let others = direct.compactMap { describeConnect($0)?.sentence }.filter { $0 != failure.sentence }
        if !others.isEmpty { sentence += "; " + others.joined(separator: "; ") }
      }
      return Finding(status: .blocked, layer: failure.layer, sentence: sentence, hint: failure.hint)
    }
    if working.plan.order > 0, let firstFailure {
      if !firstFailure.fast && first.plan.address.contains(":") && !working.plan.address.contains(":") {
        return Finding(
          status: .degraded, layer: .network,
          sentence: "\(target.host) answers AAAA \(first.plan.address) first, and IPv6 gets no answer (\(firstFailure.sentence)) while IPv4 \(working.plan.address) connects in \(working.connectMilliseconds ?? 0) ms: clients that do not race IPv4 and IPv6 (wget, apt) wait for the connect timeout every time",
          hint: EgressDecision.ipv6Hint)
      }
      if firstFailure.fast {
        notes.append("the first address fails at once (\(firstFailure.sentence)) and \(working.plan.address) connects, so clients lose no time")
      } else {
        return Finding(
          status: .degraded, layer: firstFailure.layer,
          sentence: "\(firstFailure.sentence); \(working.plan.address) connects, after clients wait for the first", hint: firstFailure.hint)
      }
    }
    // AAAA listed but no IPv6 route: glibc sorts it last and clients skip it at once.
    let v6NoRoute = direct.filter { $0.plan.address.contains(":") && $0.connectError.map(EgressDecision.isNoRoute) == true }
    if !v6NoRoute.isEmpty && working.plan.order == 0 {
      notes.append("its AAAA \(v6NoRoute[0].plan.address) has no IPv6 route here (\(v6NoRoute[0].connectError?.name ?? "") at once), and getaddrinfo sorts it after \(working.plan.address), so it costs nothing")
    }
    if target.scheme == .http {
      guard let status = working.httpStatus else {
        return Finding(
          status: .degraded, layer: .network,
          sentence: "\(name): \(working.plan.address) port \(working.plan.port) accepts the connection but sends no HTTP reply to HEAD within \(seconds(working.waitedMilliseconds))",
          hint: "Check what listens on port \(working.plan.port) (a captive portal or a TLS port?).")
      }
      if let get, get.stalled, get.plan.address == working.plan.address {
        return mtuFinding(target: target, connection: working, get: get)
      }
      var sentence = "\(name): \(working.plan.address) answers \(working.statusLine ?? "HTTP \(status)") in \(working.connectMilliseconds ?? 0) ms"
      if let get, get.completed, get.httpStatus != nil { sentence += "; a ranged GET brought \(get.bodyBytes) bytes" }
      if !notes.isEmpty { sentence += "; " + notes.joined(separator: "; ") }
      let slowDNS = notes.contains { $0.contains("resolves only after") }
      return Finding(status: slowDNS ? .degraded : .ok, layer: slowDNS ? .network : nil, sentence: sentence,
        hint: slowDNS ? "The nameserver answers slowly; every lookup waits that long, and apt asks SRV _http._tcp first, so each download waits twice. Point the container at a nearer resolver (Docker --dns, Kubernetes dnsConfig) or lower `options ndots`." : nil)
    }
    var sentence = "\(name): \(working.plan.address) accepts a TCP connection in \(working.connectMilliseconds ?? 0) ms"
    if target.scheme == .https {
      switch working.tls {
      case .serverHello?:
        sentence += " and answers the ClientHello with a ServerHello"
      case .alert(_, let description)?:
        sentence += " and answers the ClientHello with TLS alert \(description)\(description == 70 ? " (protocol_version)" : description == 40 ? " (handshake_failure)" : ""): a TLS server, which does not accept what culprit offered"
      case .notTLS(let text)?:
        return Finding(
          status: .degraded, layer: .network,
          sentence: "\(name): \(working.plan.address) port \(working.plan.port) connects but answers the ClientHello with something that is not TLS (\"\(text)\"): a captive portal, a plain-HTTP port, or an intercepting middlebox",
          hint: "Check what answers on port \(working.plan.port); a transparent proxy may need its CA and https_proxy set.")
      case .incomplete?, nil:
        let why = working.completed ? "closes the connection" : "sends nothing within \(seconds(working.waitedMilliseconds))"
        return Finding(
          status: .degraded, layer: .network,
          sentence: "\(name): \(working.plan.address) port \(working.plan.port) accepts the connection but \(why) after the ClientHello: no ServerHello (a filtering middlebox, or an MTU problem on the reply)",
          hint: EgressDecision.firewallHint)
      }
    }
    if !notes.isEmpty { sentence += "; " + notes.joined(separator: "; ") }
    return Finding(status: .ok, sentence: sentence)
  }

  /// The answer to a ClientHello (directly or in a tunnel), in words, and whether a TLS server
  /// answered (a ServerHello, or an alert: TLS, refusing what culprit offered).
  func tlsOutcome(_ c: Connection) -> (works: Bool, text: String) {
    switch c.tls {
    case .serverHello?: return (true, "answers the ClientHello with a ServerHello")
    case .alert(_, let description)?:
      return (true, "answers the ClientHello with TLS alert \(description)\(description == 70 ? " (protocol_version)" : description == 40 ? " (handshake_failure)" : ""): a TLS server, which does not accept what culprit offered")
    case .notTLS(let text)?: return (false, "the ClientHello is answered with something that is not TLS (\"\(text)\")")
    case .incomplete?, nil:
      return (false, c.completed ? "the connection is closed after the ClientHello: no ServerHello" : "nothing answers the ClientHello within \(seconds(c.waitedMilliseconds)): no ServerHello")
    }
  }

  func mtuFinding(target: EgressTarget, connection: Connection, get: Connection) -> Finding {
    let family = connection.plan.address.contains(":") ? 60 : 40
    let route = SocketAddress(parsing: connection.plan.address).flatMap { observations.routes.route(to: $0) }
    let interfaceText = route.map { r in observations.interfaceMTU[r.interface].map { " while \(r.interface) says \($0)" } ?? "" } ?? ""
    var sentence = "\(target.display): the handshake and the small HEAD reply arrive, but the ranged GET stalls after \(get.bytesReceived) bytes (nothing for \(seconds(EgressProbe.stallMilliseconds)))"
    if let search = observations.mtuSearch, let mss = search.largestWorkingMSS {
      sentence += ": replies above \(mss) bytes of payload never arrive: path MTU \(mss + family) (MSS + \(family))\(interfaceText) (TCP_MAXSEG bisected on fresh connections: \(mss) works, \(search.smallestFailingMSS) stalls)"
    } else {
      sentence += ": a path-MTU blackhole (large segments are lost, the ICMP that would say so does not arrive)\(interfaceText)"
    }
    return Finding(status: .blocked, layer: .network, sentence: sentence, hint: EgressDecision.mtuHint)
  }

  func judge() -> ProbeResult {
    let obs = observations
    var evidence: [String] = []
    var facts: JSONObject = [
      "offline": .bool(obs.offline),
      "sources_read": .from(obs.sourcesRead),
      "targets": .array(obs.targets.enumerated().map { index, target in targetFacts(index, target) }),
      "routes": [
        "readable": .bool(obs.routesReadable), "ipv4_default": .bool(obs.routes.hasDefaultIPv4),
        "ipv6_default": .bool(obs.routes.hasDefaultIPv6), "only_loopback": .bool(obs.routes.onlyLoopback),
      ],
      "interface_mtu": .object(jsonObject(obs.interfaceMTU.sorted { $0.key < $1.key }.map { ($0.key, JSONValue.int($0.value)) })),
      "dns_bound_ms": .int(obs.dnsBoundMilliseconds),
    ]
    if let search = obs.mtuSearch {
      facts["mtu_search"] = [
        "largest_working_mss": .from(search.largestWorkingMSS), "smallest_failing_mss": .int(search.smallestFailingMSS),
        "path_mtu": .from(search.pathMTU),
        "tried": .object(jsonObject(search.tried.sorted { $0.key < $1.key }.map { (String($0.key), JSONValue.bool($0.value)) })),
        "shrunk": .object(jsonObject(search.shrunk.sorted { $0.key < $1.key }.map { (String($0.key), JSONValue.int($0.value)) })),
      ]
    }
    if !obs.sourcesRead.isEmpty { evidence.append("Package sources read: \(obs.sourcesRead.joined(separator: ", ")).") }
    if obs.ignoredUpperHTTPProxy {
      evidence.append("HTTP_PROXY is set but http_proxy is not: curl ignores the upper-case HTTP_PROXY (a CGI server could set it from a request's Proxy: header), and so does culprit.")
    }
    if obs.targets.isEmpty {
      return probe.verdict(
        .skipped, "Nothing to test: the image names no package source (apt, apk, yum, pip, npm, GOPROXY) and no --url or --connect was given.",
        evidence: evidence, hint: "Name what the container must reach: culprit --url http://deb.debian.org/debian/dists/bookworm/InRelease --connect db:5432",
        facts: facts)
    }
    let list = obs.targets.map(\.display).joined(separator: ", ")
    if obs.offline {
      return probe.verdict(
        .skipped, "Not run: --offline sends no packet; \(obs.targets.count) target\(obs.targets.count == 1 ? "" : "s") configured (\(list)).",
        evidence: evidence, facts: facts)
    }
    if obs.routes.onlyLoopback && obs.routesReadable && !obs.targets.contains(where: \.isLoopback) {
      evidence.append("/proc/net/route and /proc/net/ipv6_route hold no route but loopback: nothing leaves this network namespace.")
      return probe.verdict(
        .blocked, layer: .network,
        "No route: this network namespace has only loopback, so \(obs.targets.count == 1 ? "the configured target" : "none of the \(obs.targets.count) configured targets") (\(list)) \(obs.targets.count == 1 ? "cannot" : "can") be reached.",
        evidence: evidence, hint: EgressDecision.routeHint, facts: facts)
    }
    for (host, lookup) in obs.lookups.sorted(by: { $0.key < $1.key }) {
      evidence.append("getaddrinfo(\"\(host)\") \(lookup.addresses.isEmpty ? "failed: \(lookup.error ?? "no address")" : "gave \(lookup.addresses.joined(separator: ", "))") in \(lookup.milliseconds) ms.")
    }
    let findings = obs.targets.indices.map(finding)
    for (target, finding) in zip(obs.targets, findings) {
      evidence.append("\(finding.sentence.hasPrefix(target.display) ? "" : target.display + ": ")\(finding.sentence) [\(target.origins.joined(separator: ", "))].")
    }
    let worst = findings.enumerated().max { $0.element.status.severity < $1.element.status.severity }!
    let reachable = findings.filter { $0.status == .ok || $0.status == .degraded }.count
    if worst.element.status.severity == 0 {
      return probe.verdict(
        .ok, (obs.targets.count == 1 ? "The target answers: " : "All \(obs.targets.count) targets answer: ")
          + "\(findings[0].sentence)\(obs.targets.count > 1 ? " (and \(obs.targets.count - 1) more)" : "").",
        evidence: evidence, facts: facts)
    }
    let target = obs.targets[worst.offset]
    let lead = worst.element.sentence.hasPrefix(target.display) ? worst.element.sentence : "\(target.display): \(worst.element.sentence)"
    let count = obs.targets.count > 1 ? " (\(reachable) of \(obs.targets.count) targets reachable)" : ""
    return probe.verdict(worst.element.status, layer: worst.element.layer, "\(lead)\(count).", evidence: evidence, hint: worst.element.hint, facts: facts)
  }

  func targetFacts(_ index: Int, _ target: EgressTarget) -> JSONValue {
    let obs = observations
    let lookup = obs.lookups[target.host]
    let connections = obs.connections.filter { $0.plan.target == index && $0.plan.mss == nil }
    return [
      "url": .string(target.display), "scheme": .string(target.scheme.rawValue), "host": .string(target.host),
      "port": .int(Int(target.port)), "origins": .from(target.origins),
      "proxy": obs.proxies.indices.contains(index) ? (obs.proxies[index].map { ["variable": .string($0.variable), "url": .string($0.redacted), "origin": .from($0.origin)] } ?? .null) : .null,
      "addresses": .from(obs.addresses(of: target.host)),
      "apt_family": obs.aptFamily.indices.contains(index) ? (obs.aptFamily[index].map { .string($0.ipv4 ? "ipv4" : "ipv6") } ?? .null) : .null,
      "lookup_ms": .from(lookup?.milliseconds), "lookup_error": .from(lookup?.error),
      "connections": .array(connections.map(connectionFacts)),
    ]
  }

  func connectionFacts(_ c: Connection) -> JSONValue {
    let icmp = c.queued.first
    var result: String
    if c.socketError != nil { result = "socket-failed" }
    else if c.connected { result = "connected" }
    else if let icmp, EgressDecision.isAdminProhibited(icmp) { result = "icmp-admin-prohibited" }
    else if icmp != nil { result = "icmp-unreachable" }
    else if c.connectError == .connectionRefused { result = "refused" }
    else if c.connectError.map(EgressDecision.isNoRoute) == true { result = "no-route" }
    else if c.connectError != nil { result = "error" }
    else { result = "syn-timeout" }
    return [
      "via": .string(c.plan.via.rawValue), "request": .string(c.plan.kind.rawValue), "address": .string(c.plan.address),
      "port": .int(Int(c.plan.port)), "order": .int(c.plan.order), "result": .string(result),
      "errno": .from((c.socketError ?? c.connectError)?.name), "connect_ms": .from(c.connectMilliseconds),
      "waited_ms": .int(c.waitedMilliseconds),
      "icmp": icmp.map { ["type": .int($0.type), "code": .int($0.code), "sender": .from($0.sender), "errno": .string($0.errno.name), "info": .int($0.info)] } ?? .null,
      "tcp_state": .from(c.info.map { TCPInfo.stateName($0.state) }), "syn_retransmits": .from(c.info.map(\.retransmits)),
      "http_status": .from(c.httpStatus), "status_line": .from(c.statusLine), "bytes": .int(c.bytesReceived),
      "body_bytes": .int(c.bodyBytes), "completed": .bool(c.completed), "stalled": .bool(c.stalled),
      "tunnelled": .bool(c.tunnelled),
      "tls": .from(c.tls.map { reply -> String in
        switch reply {
        case .serverHello: return "server-hello"
        case .alert(_, let d): return "alert \(d)"
        case .notTLS: return "not-tls"
        case .incomplete: return "incomplete"
        }
      }),
    ]
  }
}

/// A JSON object with keys in the given order.
func jsonObject(_ pairs: [(String, JSONValue)]) -> JSONObject {
  var object = JSONObject()
  for (key, value) in pairs { object[key] = value }
  return object
}
