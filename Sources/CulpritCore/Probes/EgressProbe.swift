/// `egress`: can the image reach what it is configured to download from? Resolves every package
/// source (and --url / --connect) as the clients do, connects to each address (and to the
/// proxy the environment names), sends an HTTP HEAD and a ranged GET, and records what came
/// back — RST, ICMP type/code/sender, silence with the SYN's retransmissions, a stalled large
/// reply — on non-blocking sockets in one poll loop, all targets at once. The verdict is
/// `EgressDecision.judge`, a pure function of these observations.
public struct EgressProbe: Probe {
  public init() {}
  public let id = "egress"
  public let title = "Network egress"
  public let abstract = "package sources (apt, apk, yum, pip, npm, GOPROXY), --url and --connect: DNS, TCP connect, HTTP through the environment's proxy; RST, ICMP, silence and path-MTU stalls told apart"
  public let isolation = Isolation.child(budgetMilliseconds: 9_000)

  /// Environment variables the probe reads.
  static let environmentNames = [
    "http_proxy", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY", "no_proxy", "NO_PROXY", "HTTP_PROXY",
    "PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL", "npm_config_registry", "NPM_CONFIG_REGISTRY", "GOPROXY", "HOME",
  ]

  /// The bound on one TCP connect: a SYN unanswered this long is "dropped" (Linux retransmits
  /// it after 1 s and 3 s).
  static let connectMilliseconds = 3_000
  /// A large reply that stops for this long has stalled.
  static let stallMilliseconds = 1_200
  /// The bytes of the ranged GET: at least 64 KiB, so that full-sized segments must cross.
  static let rangeBytes = 65_536

  public func run(_ context: ProbeContext) -> ProbeResult {
    let observations = EgressProbe.observe(context)
    return EgressDecision(probe: self, observations: observations).judge()
  }

  /// Without a child process (a pids limit), what needs no packet is still said: --offline,
  /// nothing configured, or no route but loopback (which is only file reads).
  public func runWithoutChild(_ context: ProbeContext, forkError: Errno) -> ProbeResult {
    let routes = RouteTable.read(context.snapshot.source)
    let targets = EgressProbe.configuration(context).targets
    if context.options.offline || targets.isEmpty || (routes.readable && routes.table.onlyLoopback && !targets.contains(where: \.isLoopback)) {
      return run(context)
    }
    return verdict(
      .skipped,
      "Not run: culprit could not create a child process to run it safely (fork failed with \(forkError.name)).",
      evidence: ["fork() returned -1 \(forkError.description)."] + forkFailureEvidence(context, forkError),
      facts: ["fork_errno": .string(forkError.name)])
  }

  /// Reads the configuration and the environment: the targets and their proxies.
  static func configuration(_ context: ProbeContext) -> (targets: [EgressTarget], read: [String], environment: [String: String]) {
    var environment: [String: String] = [:]
    for name in environmentNames { if let value = Sys.environment(name) { environment[name] = value } }
    let arch = context.snapshot.machine
    var (targets, read) = PackageSources.read(context.snapshot.source, environment: environment, arch: arch)
    var extra: [EgressTarget] = []
    for url in context.options.egressURLs {
      if let target = EgressTarget(url: url, origin: "--url", knownFile: true) { extra.append(target) }
    }
    for endpoint in context.options.egressConnects {
      if let target = EgressTarget(connect: endpoint) { extra.append(target) }
    }
    // The user's own targets first.
    targets = PackageSources.merge(extra + targets, limit: 16 + extra.count)
    return (targets, read, environment)
  }

  static func observe(_ context: ProbeContext) -> EgressObservations {
    let (targets, read, environment) = configuration(context)
    var obs = EgressObservations(targets: targets, sourcesRead: read, offline: context.options.offline)
    // apt's own Acquire::http(s)::Proxy wins over the environment for apt's sources.
    let apt = AptProxyConfig.read(context.snapshot.source)
    obs.proxies = targets.map { target in
      if target.origins.allSatisfy({ $0.hasPrefix("/etc/apt/") }), let choice = apt.choice(for: target) {
        switch choice {
        case .direct: return nil
        case .proxy(let proxy): return proxy
        }
      }
      return ProxySetting.choose(for: target.scheme, host: target.host, environment: environment)
    }
    // apt's Acquire::ForceIPv4 / ForceIPv6: apt asks getaddrinfo for one family only.
    obs.aptFamily = targets.map { target in
      guard target.origins.allSatisfy({ $0.hasPrefix("/etc/apt/") }), let forced = apt.forcedFamily else { return nil }
      return .init(ipv4: forced.ipv4, setting: forced.setting)
    }
    obs.ignoredUpperHTTPProxy = environment["HTTP_PROXY"] != nil && environment["http_proxy"] == nil
    let routes = RouteTable.read(context.snapshot.source)
    obs.routes = routes.table
    obs.routesReadable = routes.readable
    for route in routes.table.ipv4 + routes.table.ipv6 where obs.interfaceMTU[route.interface] == nil {
      if let text = context.snapshot.source.readText("/sys/class/net/\(route.interface)/mtu").value, let mtu = Int(text.trimmed()) {
        obs.interfaceMTU[route.interface] = mtu
      }
    }
    if obs.offline || targets.isEmpty { return obs }
    if obs.routes.onlyLoopback && routes.readable && !targets.contains(where: \.isLoopback) {
      // No route leaves this namespace: nothing to wait for (--network none).
      return obs
    }

    // 1. Names, each in a child of its own (getaddrinfo blocks; culprit never uses threads).
    var hosts: [String] = []
    for (index, target) in targets.enumerated() {
      for host in [target.host] + (obs.proxies[index].map { [$0.host] } ?? []) where SocketAddress(parsing: host) == nil {
        if !hosts.contains(host) { hosts.append(host) }
      }
    }
    let dnsBudget = max(200, min(context.remainingMilliseconds / 2, context.options.resolveTimeoutMilliseconds ?? 5_000))
    obs.dnsBoundMilliseconds = dnsBudget
    context.step("resolving \(hosts.count) names")
    obs.lookups = resolveAll(hosts, deadline: context.deadline(inMilliseconds: dnsBudget))

    // 2. Connections: each target's addresses directly, and its proxy.
    var plans: [ConnectionPlan] = []
    for (index, target) in targets.enumerated() {
      let addresses = obs.addresses(of: target.host).prefix(4)
      let proxy = obs.proxies[index]
      for (order, address) in addresses.enumerated() {
        plans.append(ConnectionPlan(target: index, via: .direct, address: address, port: target.port, order: order, kind: .head))
      }
      if let proxy {
        for (order, address) in obs.addresses(of: proxy.host).prefix(2).enumerated() {
          plans.append(ConnectionPlan(target: index, via: .proxy, address: address, port: proxy.port, order: order, kind: .head))
        }
      }
      // The ranged GET of a real file, on the path the clients take: through the proxy when
      // one is set, else the first address.
      if target.scheme == .http, target.knownFile {
        if let proxy, let address = obs.addresses(of: proxy.host).first {
          plans.append(ConnectionPlan(target: index, via: .proxy, address: address, port: proxy.port, order: 0, kind: .get))
        } else if let address = addresses.first(where: { address in obs.aptFamily[index].map { address.contains(":") != $0.ipv4 } ?? true }) {
          plans.append(ConnectionPlan(target: index, via: .direct, address: address, port: target.port, order: 0, kind: .get))
        }
      }
    }
    context.step("connecting to \(plans.count) addresses")
    let phaseEnd = context.deadline(inMilliseconds: max(300, context.remainingMilliseconds - 400))
    obs.connections = Connections.run(plans, targets: targets, deadline: phaseEnd, mss: nil)

    // 3. A large reply that stalls while small ones arrive: bisect the MSS on fresh connections.
    for attempt in obs.connections where attempt.plan.kind == .get && attempt.plan.via == .direct && attempt.stalled {
      let headWorked = obs.connections.contains {
        $0.plan.target == attempt.plan.target && $0.plan.kind == .head && $0.plan.address == attempt.plan.address && $0.httpStatus != nil
      }
      guard headWorked else { continue }
      context.step("bisecting TCP_MAXSEG towards \(attempt.plan.address)")
      obs.mtuSearch = bisect(attempt.plan, targets: targets, context: context)
      break
    }
    return obs
  }

  /// getaddrinfo for every name at once, each in a child, bounded by `deadline`; in this process
  /// when no child can be created.
  static func resolveAll(_ hosts: [String], deadline: UInt64) -> [String: EgressObservations.NameLookup] {
    var result: [String: EgressObservations.NameLookup] = [:]
    var children: [(String, Child)] = []
    for host in hosts {
      let body: (ChildChannel?) -> [UInt8] = { _ in
        let start = Sys.monotonicNanoseconds()
        var output = GetaddrinfoProbe.Lookup.output(Sys.resolve(host))
        if case .object(var object) = output {
          object["ms"] = .int(Int((Sys.monotonicNanoseconds() - start) / 1_000_000))
          output = .object(object)
        }
        return Array(output.serialized(pretty: false).utf8)
      }
      switch Children.spawn(deadline: deadline, body: { body($0) }) {
      case .success(let child): children.append((host, child))
      case .failure:
        result[host] = parseLookup(body(nil), elapsed: 0)
      }
    }
    for ((host, _), outcome) in zip(children, Children.collect(children.map(\.1))) {
      switch outcome.ending {
      case .exited(0, let output): result[host] = parseLookup(output, elapsed: outcome.elapsedMilliseconds)
      case .timedOut(let ms, _): result[host] = .init(addresses: [], error: "timeout", milliseconds: ms)
      default: result[host] = .init(addresses: [], error: "the lookup's process ended abnormally", milliseconds: outcome.elapsedMilliseconds)
      }
    }
    return result
  }

  static func parseLookup(_ bytes: [UInt8], elapsed: Int) -> EgressObservations.NameLookup {
    guard let json = try? JSONValue.parse(bytes: bytes) else { return .init(addresses: [], error: "no result", milliseconds: elapsed) }
    let ms = json["ms"]?.intValue ?? elapsed
    switch GetaddrinfoProbe.Lookup(childOutput: json) {
    case .resolved(let addresses): return .init(addresses: addresses, error: nil, milliseconds: ms)
    case .failed(let err): return .init(addresses: [], error: err.description, milliseconds: ms, eai: err.name)
    default: return .init(addresses: [], error: "no result", milliseconds: ms)
    }
  }

  /// Finds the largest MSS whose replies arrive: rounds of parallel fresh connections, each
  /// announcing one TCP_MAXSEG and asking for the ranged GET.
  static func bisect(_ plan: ConnectionPlan, targets: [EgressTarget], context: ProbeContext) -> EgressObservations.MTUSearch {
    var low = 536  // the IPv4 minimum MSS; assumed to pass
    var high = plan.address.contains(":") ? 1440 : 1460
    var tried: [Int: Bool] = [:]
    var shrunk: [Int: Int] = [:]
    var rounds = 0
    while high - low > 1 && context.remainingMilliseconds > stallMilliseconds + 600 && rounds < 4 {
      rounds += 1
      let step = max(1, (high - low) / 8)
      let candidates = Array(Set(stride(from: low + step, to: high, by: step).map { $0 } + [low])).sorted()
      var plans: [ConnectionPlan] = []
      for mss in candidates {
        var p = plan
        p.mss = mss
        plans.append(p)
      }
      let results = Connections.run(plans, targets: targets, deadline: context.deadline(inMilliseconds: stallMilliseconds + 500), mss: nil)
      for result in results {
        guard let mss = result.plan.mss else { continue }
        // A reply that arrived only in segments well below the announced MSS (tcpi_rcv_mss; 12
        // bytes of timestamps are normal) was cut down by the sender after the full-sized ones
        // were lost: it says nothing for this MSS. Measured on a 1400-byte link: MSS 1361 and
        // 1362 completed with 1288-byte segments while their 1349/1350-byte ones never arrived.
        let largest = result.info?.receiveMSS ?? 0
        if result.completed && largest > 0 && largest + 20 < mss {
          tried[mss] = false
          shrunk[mss] = largest
        } else {
          tried[mss] = result.completed
        }
      }
      let passing = candidates.filter { tried[$0] == true }
      let failing = candidates.filter { tried[$0] == false }
      guard let best = passing.max() else { break }
      low = best
      high = failing.filter { $0 > best }.min() ?? high
    }
    return .init(
      largestWorkingMSS: tried[low] == true ? low : nil, smallestFailingMSS: high, tried: tried, shrunk: shrunk,
      address: plan.address)
  }
}

/// One connection to make: which target, directly or through its proxy, to which address,
/// and what to ask.
struct ConnectionPlan: Equatable {
  enum Via: String { case direct, proxy }
  enum Kind: String { case head, get }
  var target: Int
  var via: Via
  var address: String
  var port: UInt16
  /// The address's place in getaddrinfo's answer (0 first).
  var order: Int
  var kind: Kind
  /// TCP_MAXSEG to announce (the MTU search), or nil.
  var mss: Int? = nil
}

/// What the probe saw.
struct EgressObservations {
  struct NameLookup: Equatable {
    var addresses: [String]
    var error: String?
    var milliseconds: Int
    var eai: String? = nil
  }

  struct MTUSearch: Equatable {
    var largestWorkingMSS: Int?
    var smallestFailingMSS: Int
    var tried: [Int: Bool]
    /// MSS values whose reply came only in smaller segments: the largest segment seen.
    var shrunk: [Int: Int] = [:]
    /// The address bisected: its family decides the headers an MTU adds to the MSS.
    var address: String = ""
    /// IP and TCP headers without options: 40 for IPv4, 60 for IPv6.
    var headerBytes: Int { address.contains(":") ? 60 : 40 }
    /// The path MTU the largest working MSS means.
    var pathMTU: Int? { largestWorkingMSS.map { $0 + headerBytes } }
  }

  var targets: [EgressTarget]
  var sourcesRead: [String]
  var offline: Bool
  var proxies: [ProxySetting?] = []
  var ignoredUpperHTTPProxy = false
  var routes = RouteTable()
  var routesReadable = false
  var interfaceMTU: [String: Int] = [:]
  var dnsBoundMilliseconds = 0
  var lookups: [String: NameLookup] = [:]
  var connections: [Connection] = []
  var mtuSearch: MTUSearch?
  /// Per target: the one address family apt uses for it (Acquire::ForceIPv4 / ForceIPv6 for
  /// apt's own sources), or nil.
  var aptFamily: [AptFamily?] = []

  struct AptFamily: Equatable {
    var ipv4: Bool
    /// `Acquire::ForceIPv4 "true" (/etc/apt/apt.conf.d/99ipv4:1)`.
    var setting: String
  }

  func addresses(of host: String) -> [String] {
    if SocketAddress(parsing: host) != nil { return [host] }
    return lookups[host]?.addresses ?? []
  }
}

extension RouteTable {
  /// No route but loopback: the namespace of `--network none` or `unshare -n`.
  var onlyLoopback: Bool { ipv4.allSatisfy { $0.interface == "lo" } && ipv6.allSatisfy { $0.interface == "lo" } }
}

/// One connection as it went.
struct Connection {
  var plan: ConnectionPlan
  /// socket(2) failed, and the discriminating call's answer.
  var socketError: Errno?
  var socketCheck: Errno?
  /// connect(2) or SO_ERROR: the error, nil when it connected.
  var connectError: Errno?
  /// For EPERM/EACCES at connect: connect(-1) answered this (EBADF: the kernel).
  var connectCheck: Errno?
  var connectMilliseconds: Int?
  var connected = false
  /// Still connecting when the bound passed.
  var connectTimedOut = false
  var waitedMilliseconds = 0
  var queued: [QueuedSocketError] = []
  var info: TCPInfo?
  /// The HTTP status of the reply (HEAD, GET or the proxy's), and the bytes received.
  var httpStatus: Int?
  var statusLine: String?
  var bytesReceived = 0
  var bodyBytes = 0
  var expectedBody: Int?
  /// The reply ended (EOF or all of the body).
  var completed = false
  /// The reply stopped arriving: no data for the stall bound.
  var stalled = false
  var readError: Errno?
  /// For an https target: what came back after the ClientHello (directly, or inside the
  /// proxy's tunnel once CONNECT was answered 200).
  var tls: TLSWire.Reply?
  /// The ClientHello went inside a proxy's CONNECT tunnel.
  var tunnelled = false
}

/// The poll loop: every planned connection on a non-blocking socket, one thread.
enum Connections {
  final class State {
    var connection: Connection
    var fd: Int32 = -1
    var phase = 0  // 0 connecting, 1 sending, 2 reading, 3 done
    var request: [UInt8] = []
    var sent = 0
    var header: [UInt8] = []
    var started: UInt64 = 0
    var lastData: UInt64 = 0
    /// The request is a TLS ClientHello (a direct https target, or inside a tunnel).
    var isTLS: Bool { request.first == 0x16 }
    /// For CONNECT to an https target: the ClientHello to send once the proxy answers 200.
    var tunnelHello: [UInt8]?
    init(_ plan: ConnectionPlan) { connection = Connection(plan: plan) }
  }

  static func request(_ plan: ConnectionPlan, _ target: EgressTarget) -> [UInt8] {
    let hostHeader = (target.host.contains(":") ? "[\(target.host)]" : target.host)
      + ((target.scheme == .http && target.port == 80) || (target.scheme == .https && target.port == 443) ? "" : ":\(target.port)")
    if target.scheme == .tcp { return [] }
    if target.scheme == .https {
      // Through a proxy: the CONNECT that curl and apt send; directly: a ClientHello.
      guard plan.via == .proxy else {
        return TLSWire.clientHello(serverName: target.host, seed: Sys.monotonicNanoseconds() ^ UInt64(plan.order + 1) << 40)
      }
      let authority = "\(target.host.contains(":") ? "[\(target.host)]" : target.host):\(target.port)"
      return Array("CONNECT \(authority) HTTP/1.1\r\nHost: \(authority)\r\nUser-Agent: culprit\r\n\r\n".utf8)
    }
    let path = plan.via == .proxy ? target.display : target.path
    var text = "\(plan.kind == .head ? "HEAD" : "GET") \(path) HTTP/1.1\r\nHost: \(hostHeader)\r\nUser-Agent: culprit\r\nAccept: */*\r\n"
    if plan.kind == .get { text += "Range: bytes=0-\(EgressProbe.rangeBytes - 1)\r\n" }
    text += "Connection: close\r\n\r\n"
    return Array(text.utf8)
  }

  static func run(_ plans: [ConnectionPlan], targets: [EgressTarget], deadline: UInt64, mss: Int?) -> [Connection] {
    let states = plans.map(State.init)
    let connectBound = UInt64(EgressProbe.connectMilliseconds) * 1_000_000
    let stallBound = UInt64(EgressProbe.stallMilliseconds) * 1_000_000
    for state in states {
      let plan = state.connection.plan
      guard let address = SocketAddress(parsing: plan.address, port: plan.port) else {
        state.phase = 3
        continue
      }
      state.started = Sys.monotonicNanoseconds()
      switch Sys.tcpSocket(address.family) {
      case .failure(let err):
        state.connection.socketError = err
        state.connection.socketCheck = Sys.tcpSocketWithUnknownFlag(address.family)
        state.phase = 3
        continue
      case .success(let fd): state.fd = fd
      }
      _ = Sys.enableErrorQueue(state.fd, address.family)
      if let mss = plan.mss ?? mss { _ = Sys.setMaximumSegment(state.fd, mss) }
      state.request = request(plan, targets[plan.target])
      if plan.via == .proxy && targets[plan.target].scheme == .https {
        state.tunnelHello = TLSWire.clientHello(serverName: targets[plan.target].host, seed: Sys.monotonicNanoseconds() ^ UInt64(plan.order + 9) << 40)
      }
      switch Sys.connect(state.fd, to: address) {
      case .success:
        state.connection.connected = true
        state.connection.connectMilliseconds = 0
        state.phase = state.request.isEmpty ? 3 : 1
      case .failure(let err) where err.rawValue == 115:  // EINPROGRESS
        continue
      case .failure(let err):
        state.connection.connectError = err
        state.connection.connectMilliseconds = Int((Sys.monotonicNanoseconds() - state.started) / 1_000_000)
        state.connection.queued = Sys.readErrorQueue(state.fd)
        if err == .notPermitted || err == .permissionDenied { state.connection.connectCheck = Sys.connectWithBadDescriptor(address) }
        state.phase = 3
      }
    }

    while true {
      let now = Sys.monotonicNanoseconds()
      let active = states.filter { $0.phase < 3 }
      if active.isEmpty || now >= deadline { break }
      // Per-connection bounds: a connect that took too long, a reply that stalled.
      for state in active {
        if state.phase == 0 && now - state.started >= connectBound {
          state.connection.connectTimedOut = true
          finishWaiting(state, now: now)
        } else if state.phase == 2 && now - state.lastData >= stallBound {
          state.connection.stalled = true
          finishWaiting(state, now: now)
        }
      }
      let polled = states.filter { $0.phase < 3 }
      if polled.isEmpty { break }
      var wake = deadline
      for state in polled {
        wake = min(wake, state.phase == 0 ? state.started + connectBound : state.phase == 2 ? state.lastData + stallBound : deadline)
      }
      let wait = wake > now ? wake - now : 0
      let events = Sys.poll(
        polled.map { (fd: $0.fd, events: $0.phase == 2 ? Sys.pollIn : Sys.pollOut) }, nanoseconds: max(wait, 1_000_000))
      for (state, revents) in zip(polled, events) where revents != 0 {
        step(state, revents: revents)
      }
    }
    let end = Sys.monotonicNanoseconds()
    for state in states where state.phase < 3 {
      if state.phase == 0 { state.connection.connectTimedOut = true }
      if state.phase == 2 { state.connection.stalled = true }
      finishWaiting(state, now: end)
    }
    for state in states where state.fd >= 0 { Sys.close(state.fd) }
    return states.map(\.connection)
  }

  /// Records what the kernel knows about a connection that ran out of time.
  static func finishWaiting(_ state: State, now: UInt64) {
    state.connection.waitedMilliseconds = Int((now - state.started) / 1_000_000)
    state.connection.info = Sys.tcpInfo(state.fd)
    state.connection.queued += Sys.readErrorQueue(state.fd)
    state.phase = 3
  }

  static func step(_ state: State, revents: Int16) {
    let now = Sys.monotonicNanoseconds()
    switch state.phase {
    case 0:
      let err = Sys.pendingError(state.fd)
      state.connection.connectMilliseconds = Int((now - state.started) / 1_000_000)
      state.connection.queued = Sys.readErrorQueue(state.fd)
      if let err {
        state.connection.connectError = err
        state.connection.info = Sys.tcpInfo(state.fd)
        state.phase = 3
        return
      }
      guard revents & Sys.pollOut != 0 else { return }
      state.connection.connected = true
      state.phase = state.request.isEmpty ? 3 : 1
      if state.phase == 1 { send(state, now: now) }
    case 1:
      send(state, now: now)
    default:
      switch Sys.receiveStream(state.fd) {
      case .success(let buffer) where buffer.isEmpty:
        state.connection.completed = true
        state.connection.info = Sys.tcpInfo(state.fd)
        state.phase = 3
      case .success(let buffer):
        let n = buffer.count
        state.lastData = now
        state.connection.bytesReceived += n
        if state.isTLS {
          state.header += buffer[0..<n]
          let reply = TLSWire.parseReply(state.header)
          if reply != .incomplete {
            state.connection.tls = reply
            state.connection.completed = true
            state.connection.info = Sys.tcpInfo(state.fd)
            state.phase = 3
          }
          return
        }
        if state.connection.httpStatus == nil {
          state.header += buffer[0..<n]
          parseHeader(state)
        } else {
          state.connection.bodyBytes += n
        }
        let plan = state.connection.plan
        if state.connection.httpStatus == 200, let hello = state.tunnelHello, state.request.starts(with: Array("CONNECT".utf8)) {
          // The tunnel is open: the ClientHello goes through it, and its first record is judged
          // as a direct one is. Bytes after the proxy's header are already the server's.
          let headerEnd = state.header.count - state.connection.bodyBytes
          state.header = Array(state.header[headerEnd...])
          state.connection.bodyBytes = 0
          state.connection.tunnelled = true
          state.request = hello
          state.sent = 0
          state.phase = 1
          send(state, now: now)
          return
        }
        if state.connection.httpStatus != nil {
          let proxyTunnel = state.request.starts(with: Array("CONNECT".utf8))
          let headDone = plan.kind == .head || proxyTunnel
          let expected = min(state.connection.expectedBody ?? EgressProbe.rangeBytes, EgressProbe.rangeBytes)
          if headDone || state.connection.bodyBytes >= expected {
            state.connection.completed = true
            state.connection.info = Sys.tcpInfo(state.fd)
            state.phase = 3
          }
        }
      case .failure(let err) where err == .resourceTemporarilyUnavailable:
        return
      case .failure(let err):
        state.connection.readError = err
        state.connection.queued += Sys.readErrorQueue(state.fd)
        state.phase = 3
      }
    }
  }

  static func send(_ state: State, now: UInt64) {
    switch Sys.sendStream(state.fd, Array(state.request[state.sent...])) {
    case .success(let n):
      state.sent += n
      if state.sent >= state.request.count {
        state.phase = 2
        state.lastData = now
      }
    case .failure(let err) where err == .resourceTemporarilyUnavailable: return
    case .failure(let err):
      state.connection.readError = err
      state.phase = 3
    }
  }

  /// Reads the status line and Content-Length once the header is complete; the bytes after it
  /// count as body.
  static func parseHeader(_ state: State) {
    let bytes = state.header
    guard let end = (0..<max(0, bytes.count - 3)).first(where: { bytes[$0] == 13 && bytes[$0 + 1] == 10 && bytes[$0 + 2] == 13 && bytes[$0 + 3] == 10 })
    else { return }
    let text = String(decoding: bytes[0..<end], as: UTF8.self)
    let lines = text.split(separator: "\r\n")
    guard let first = lines.first else { return }
    state.connection.statusLine = String(first.prefix(120))
    let words = first.split(separator: " ")
    state.connection.httpStatus = words.count >= 2 ? Int(words[1]) ?? 0 : 0
    for line in lines.dropFirst() {
      let parts = line.split(separator: ":", maxSplits: 1)
      if parts.count == 2, parts[0].lowercased() == "content-length" { state.connection.expectedBody = Int(parts[1].trimmed()) }
    }
    state.connection.bodyBytes = bytes.count - end - 4
  }
}
