/// Turns the getaddrinfo probe's observations (lookups both ways, the configuration, the
/// nameservers' own answers) into one verdict with its evidence.
struct GetaddrinfoDecision {
  let probe: GetaddrinfoProbe
  let snapshot: Snapshot
  let config: ResolverConfig
  let results: [GetaddrinfoProbe.NameResult]
  let servers: [SocketAddress]
  let nameservers: [NameserverCheck.Server]
  /// The nameserver check's child did not report (killed, trapped, timed out).
  let nameserverFailure: GetaddrinfoProbe.Lookup?
  /// One lookup's bound: the per-query bound times the names its search list makes.
  let timeoutMilliseconds: Int
  /// glibc's per-query wait (resolv.conf `timeout`), as far as the lookup's bound allows.
  var perQueryMilliseconds: Int? = nil
  /// The time the lookups really had: less than `timeoutMilliseconds` when the run's --timeout
  /// was nearly spent, and then a timeout says nothing about the network.
  let budgetMilliseconds: Int
  let before: TaskLimits
  let after: TaskLimits?

  typealias Lookup = GetaddrinfoProbe.Lookup

  /// A layer to blame, the sentence saying why, and the fix.
  struct Cause {
    var layer: Layer
    var sentence: String
    var hint: String?
    var evidence: [String] = []
    /// A few words for the summary ("no nameserver answers").
    var short: String? = nil
  }

  static let cutShort = "the run's --timeout cut the lookups short"

  static let networkHint =
    "The nameservers in /etc/resolv.conf must be reachable over UDP port 53 from the container's network namespace. Docker/Podman: --dns ADDRESS (or the daemon's \"dns\" setting); Kubernetes: check the cluster DNS Service and any NetworkPolicy that blocks UDP/TCP 53 egress; with --network none there is no route at all."
  static let configHint =
    "Give the container a working resolver configuration: /etc/resolv.conf naming a reachable nameserver (Docker/Podman --dns, --dns-search; Kubernetes dnsPolicy and dnsConfig), /etc/hosts listing localhost, and /etc/nsswitch.conf with \"hosts: files dns\"."
  static let socketHint =
    "A seccomp profile refuses socket(2), so no DNS query can be sent. Allow socket (and connect, sendto, recvfrom) in the profile, or confirm with --security-opt seccomp=unconfined."

  // MARK: The nameservers

  var answeringServers: [NameserverCheck.Server] { nameservers.filter(\.answered) }
  var silentServers: [NameserverCheck.Server] { nameservers.filter { !$0.answered } }
  var seccompSocket: NameserverCheck.Server? { nameservers.first(where: \.socketBlockedBySeccomp) }

  /// Why a server gave no response, in words.
  func silence(_ server: NameserverCheck.Server) -> String {
    if let err = server.socketError { return "socket(2) failed with \(err.name)" }
    let errors = Set(server.answers.compactMap(\.error))
    if errors.contains(Errno.networkUnreachable.name) { return "no route to it (ENETUNREACH)" }
    if errors.contains(Errno.connectionRefused.name) { return "nothing listens on its port 53 (ECONNREFUSED: ICMP port unreachable)" }
    if errors == ["timeout"] { return "no response within \(budgetMilliseconds) ms" }
    return errors.sorted().joined(separator: ", ")
  }

  func serverSentences() -> [String] {
    var sentences: [String] = []
    for server in nameservers {
      if let err = server.socketError {
        let family = server.address.contains(":") ? "AF_INET6" : "AF_INET"
        var sentence = "socket(\(family), SOCK_DGRAM) for \(server.address) failed with \(err.description)"
        if let check = server.socketCheck {
          sentence += check == .invalidArgument
            ? "; socket(\(family), SOCK_DGRAM | 0x100) got the kernel's EINVAL, so the call reaches the kernel and \(err.name) comes from a later check"
            : "; socket(\(family), SOCK_DGRAM | 0x100) got \(check.name) where the kernel answers EINVAL, so a seccomp filter refuses socket"
        }
        sentences.append(sentence + ".")
        continue
      }
      let root = server.answers.first { $0.question.forName == nil }
      var sentence = "Asked directly, nameserver \(server.address) "
      if let root, let rcode = root.rcode {
        sentence += "answered the query for . NS with \(DNSWire.rcodeName(rcode)) in \(root.milliseconds ?? 0) ms"
      } else if server.answered {
        sentence += "answered"
      } else {
        sentence += "gave no response: \(silence(server))"
      }
      var perName: [String] = []
      for name in orderedNames(server) {
        let answers = server.answers.filter { $0.question.forName == name }
        if let hit = answers.first(where: { !$0.addresses.isEmpty }) {
          let all = answers.filter { $0.question.name == hit.question.name }.flatMap(\.addresses)
          perName.append("\(hit.question.name): \(all.joined(separator: ", "))")
        } else if answers.contains(where: { $0.rcode != nil }) {
          let codes = Set(answers.compactMap { $0.rcode.map(DNSWire.rcodeName) }).sorted()
          let tried = Set(answers.map(\.question.name)).count
          perName.append("\(name): \(codes.joined(separator: "/")) for \(tried == 1 ? "it" : "all \(tried) names tried with the search list"), no address")
        }
      }
      if !perName.isEmpty { sentence += "; " + perName.joined(separator: "; ") }
      sentences.append(sentence + ".")
    }
    return sentences
  }

  func orderedNames(_ server: NameserverCheck.Server) -> [String] {
    var names: [String] = []
    for answer in server.answers {
      if let name = answer.question.forName, !names.contains(name) { names.append(name) }
    }
    return names
  }

  /// Whether every response about `name` says it does not exist (NXDOMAIN, or NOERROR without
  /// an address), with at least one response.
  func dnsSaysNoSuchName(_ name: String) -> Bool {
    let answers = nameservers.flatMap(\.answers).filter { $0.question.forName == name && $0.rcode != nil }
    return !answers.isEmpty && answers.allSatisfy { ($0.rcode == 3 || $0.rcode == 0) && $0.addresses.isEmpty }
  }

  func dnsServerFailures(_ name: String) -> [String] {
    Array(Set(nameservers.flatMap(\.answers).filter { $0.question.forName == name }.compactMap { answer -> String? in
      guard let rcode = answer.rcode, rcode != 0, rcode != 3 else { return nil }
      return DNSWire.rcodeName(rcode)
    })).sorted()
  }

  var resolvConfMissing: Bool { config.resolvConf.failure != nil || (config.resolvConf.value?.nameservers.isEmpty ?? true) }

  // MARK: Causes

  func cause(of lookup: Lookup, name: String, variant: String) -> Cause {
    switch lookup {
    case .resolved:
      return Cause(layer: .unknown, sentence: "")
    case .failed(let err):
      return cause(of: err, name: name, variant: variant)
    case .threadFailed(let err):
      if err == .resourceTemporarilyUnavailable {
        let limits = after ?? before
        let attribution = limits.attributeEAGAIN(call: "pthread_create", before: before)
        return Cause(
          layer: attribution.layer, sentence: attribution.summary, hint: attribution.hint, evidence: attribution.evidence,
          short: "pthread_create returned EAGAIN")
      }
      if err == .notPermitted {
        var sentence = "pthread_create returned EPERM: a seccomp rule answers clone3 with EPERM and glibc ≥ 2.34 does not fall back to clone (the thread probe shows the clone3 answer)."
        if snapshot.libc.usesClone3ForThreads(machine: snapshot.machine) == false {
          sentence += " The image's \(snapshot.libc.display) creates threads with clone, so its own programs can start resolver threads; glibc ≥ 2.34 programs brought into it cannot."
        }
        return Cause(
          layer: .seccomp,
          sentence: sentence,
          hint: ThreadHints.clone3EPERM, short: "pthread_create returned EPERM")
      }
      return Cause(layer: .unknown, sentence: "pthread_create returned \(err.name).", hint: nil, short: "pthread_create returned \(err.name)")
    case .timedOut(let ms):
      if budgetMilliseconds < timeoutMilliseconds {
        return Cause(
          layer: .unknown,
          sentence: "getaddrinfo(\"\(name)\") \(variant) was stopped after \(ms) ms: the run's --timeout left the lookups only \(budgetMilliseconds) ms of their \(timeoutMilliseconds) ms bound, which says nothing about the network.",
          hint: "Run again with a larger --timeout (the lookups need up to \(timeoutMilliseconds) ms).", short: GetaddrinfoDecision.cutShort)
      }
      if !servers.isEmpty && answeringServers.isEmpty {
        return Cause(layer: .network, sentence: "getaddrinfo(\"\(name)\") \(variant) did not return within \(ms) ms, and no nameserver answers.", hint: GetaddrinfoDecision.networkHint, short: "no nameserver answers")
      }
      return Cause(layer: .unknown, sentence: "getaddrinfo(\"\(name)\") \(variant) did not return within \(ms) ms although the nameservers answer.", hint: "Run again with a larger --timeout, and compare with `getent ahosts \(name)` in the container.")
    case .seccomp(let signal, let step):
      return Cause(
        layer: .seccomp, sentence: "A seccomp filter ended the lookup \(variant) (\(signal))" + (step.map { " during \($0)" } ?? "") + ".",
        hint: Hints.seccompKill, short: "a seccomp filter ends the lookup (\(signal))")
    case .crashed(let signal, let step):
      var sentence = "The lookup \(variant) crashed (\(signal))" + (step.map { " during \($0)" } ?? "") + "."
      if !config.modulesNeedingDlopen.isEmpty {
        sentence += " The hosts: line names \(config.modulesNeedingDlopen.joined(separator: ", ")), which culprit's static glibc loads from the image with dlopen; a module built for another glibc can crash a static program while the image's own programs work."
      }
      return Cause(layer: .unknown, sentence: sentence, hint: "Please report this with the output of `culprit --format markdown`.")
    case .notRun(let err):
      if err == .resourceTemporarilyUnavailable {
        let limits = TaskLimits.read(snapshot.source, snapshot: snapshot)
        let attribution = limits.attributeEAGAIN(call: "fork", before: before)
        return Cause(layer: attribution.layer, sentence: attribution.summary, hint: attribution.hint, evidence: attribution.evidence)
      }
      return Cause(layer: .unknown, sentence: "The lookup could not run: fork failed with \(err.name).")
    }
  }

  func cause(of err: AddressLookupError, name: String, variant: String) -> Cause {
    let call = "getaddrinfo(\"\(name)\") \(variant) failed with \(err.description)"
    if let server = seccompSocket {
      return Cause(
        layer: .seccomp, sentence: "\(call): a seccomp filter refuses socket(2) (\(server.socketError!.name)), so no DNS query leaves the process.",
        hint: GetaddrinfoDecision.socketHint, short: "a seccomp filter refuses socket(2)")
    }
    let noSuchName = err.code == AddressLookupError.noName || err.code == AddressLookupError.noData
    if config.nsswitchUnusable, case .failure(let readError) = config.nsswitch {
      // glibc gives up before any source: what DNS would say does not matter.
      return Cause(
        layer: .resolverConfig,
        sentence: "\(call): \(ResolverConfig.describe(ResolverConfig.nsswitchPath, readError)); glibc opens it, its read fails with \(readError.name), and it then consults no source at all, neither /etc/hosts nor DNS (no query is sent).",
        hint: "Make /etc/nsswitch.conf a readable file with \"hosts: files dns\" (a bind mount of a directory over it, or a volume mounted at that path, makes it a directory).",
        short: "\(ResolverConfig.describe(ResolverConfig.nsswitchPath, readError)), so glibc consults no hosts source")
    }
    if name.lowercased() == "localhost" {
      // localhost comes from /etc/hosts: where the files do not give it, that is the cause,
      // whatever DNS answered (a nameserver that is reached says NXDOMAIN, or nothing).
      var why: [String] = []
      if case .failure(let err) = config.hosts { why.append(ResolverConfig.describe(ResolverConfig.hostsPath, err)) } else if config.hostsUsesFiles {
        if config.hosts.value?.addresses(of: "localhost").isEmpty ?? true { why.append("/etc/hosts does not list localhost") }
      }
      if !config.hostsUsesFiles { why.append("the hosts: sources \"\(config.hostsSources)\" do not include files") }
      if noSuchName && config.hostsSourcesAreDefault && config.hostsUsesDNS {
        why.append("without a hosts: line glibc asks DNS first and, when the nameserver says the name does not exist, never reads /etc/hosts")
      }
      if noSuchName || !why.isEmpty {
        var sentence = "\(call)" + (why.isEmpty ? "." : ": " + why.joined(separator: "; ") + ".")
        if !noSuchName {
          sentence += " DNS did not answer it either, but localhost is not a name for DNS: it comes from /etc/hosts."
        }
        return Cause(
          layer: .resolverConfig, sentence: sentence, hint: GetaddrinfoDecision.configHint,
          short: why.first ?? "localhost is not found")
      }
    }
    switch err.code {
    case AddressLookupError.noName, AddressLookupError.noData:
      if !config.problems.isEmpty {
        return Cause(
          layer: .resolverConfig, sentence: "\(call): \(config.problems.joined(separator: " "))", hint: GetaddrinfoDecision.configHint,
          short: config.resolvConf.failure.map { ResolverConfig.describe(ResolverConfig.resolvConfPath, $0) } ?? "the resolver configuration is incomplete")
      }
      if dnsSaysNoSuchName(name) {
        return Cause(
          layer: .resolverConfig,
          sentence: "\(call): the nameservers answer that no such name exists for every name tried (the search list included), so the name is wrong or needs another search domain.",
          hint: "Check the name, and the search domains in /etc/resolv.conf (Docker --dns-search; Kubernetes dnsConfig.searches); a short name needs a search domain that completes it.",
          short: "the nameservers say the name does not exist")
      }
      return Cause(layer: .resolverConfig, sentence: "\(call).", hint: GetaddrinfoDecision.configHint)
    case AddressLookupError.system:
      if let errno = err.errno, [Errno.networkUnreachable, .connectionRefused, .timedOut, Errno(rawValue: 113)].contains(errno) {
        return Cause(layer: .network, sentence: "\(call).", hint: GetaddrinfoDecision.networkHint)
      }
      return Cause(layer: .unknown, sentence: "\(call).", hint: nil)
    default:
      if config.resolvConf.failure != nil || config.resolvConf.value?.nameservers.isEmpty == true {
        return Cause(
          layer: .resolverConfig, sentence: "\(call): \(config.problems.joined(separator: " "))", hint: GetaddrinfoDecision.configHint,
          short: config.resolvConf.failure.map { ResolverConfig.describe(ResolverConfig.resolvConfPath, $0) } ?? "/etc/resolv.conf names no nameserver")
      }
      if !servers.isEmpty && answeringServers.isEmpty {
        let reasons = silentServers.map { "\($0.address): \(silence($0))" }.joined(separator: "; ")
        return Cause(
          layer: .network, sentence: "\(call), and no nameserver answers a query of culprit's own (\(reasons)).",
          hint: GetaddrinfoDecision.networkHint, short: "no nameserver answers")
      }
      let failures = dnsServerFailures(name)
      if !failures.isEmpty {
        return Cause(
          layer: .network,
          sentence: "\(call): the nameservers answer \(failures.joined(separator: "/")) for it ("
            + (failures.contains("SERVFAIL") ? "SERVFAIL: the nameserver could not get an answer from the servers that hold the name" : "REFUSED: the nameserver will not resolve it for this client, for lack of an upstream or by its access rules")
            + ").",
          hint: GetaddrinfoDecision.networkHint, short: "the nameservers answer \(failures.joined(separator: "/"))")
      }
      return Cause(layer: .network, sentence: "\(call).", hint: GetaddrinfoDecision.networkHint)
    }
  }

  // MARK: Slow answers, query counts

  /// An answer this late is a finding: every lookup waits that long.
  static let slowMilliseconds = 1000

  /// The latest of the nameservers' responses, in milliseconds.
  var slowestAnswer: Int? { nameservers.flatMap(\.answers).filter { $0.rcode != nil }.compactMap(\.milliseconds).max() }

  func seconds(_ ms: Int) -> String {
    let tenths = (ms + 50) / 100
    return "\(tenths / 10).\(tenths % 10) s"
  }

  var ndots: Int { min(15, config.resolvConf.value?.option("ndots") ?? 1) }
  var searchList: [String] { config.resolvConf.value?.search ?? [] }

  /// The DNS queries each name costs before it resolves (A and AAAA for every name the search
  /// list makes, up to the first that has an address): ndots:5 with three search domains makes
  /// 8 for a short name that exists only as written.
  var queryCounts: [(name: String, count: Int)] {
    results.filter { $0.name != "localhost" }.map { result in
      let candidates = NameserverCheck.candidates(for: result.name, search: searchList, ndots: ndots)
      let answers = nameservers.flatMap(\.answers).filter { $0.question.forName == result.name }
      let hit = candidates.firstIndex { candidate in answers.contains { $0.question.name == candidate && !$0.addresses.isEmpty } }
      return (result.name, 2 * ((hit ?? (candidates.count - 1)) + 1))
    }
  }

  // MARK: The verdict

  /// The room a program running here alone would have under the pids limit (pids.max less the
  /// tasks that are not culprit's, less itself), when a thread lookup was refused EAGAIN by the
  /// pids cgroup and that room is at least one task: then the refusal was culprit's overhead (its
  /// probe child and lookup processes), not something the user's program meets. Nil otherwise.
  var roomForLoneResolverThread: Int? {
    guard results.contains(where: { $0.thread == .threadFailed(.resourceTemporarilyUnavailable) }) else { return nil }
    let limits = after ?? before
    guard let room = limits.roomForLoneProgram, room > 0,
      limits.attributeEAGAIN(call: "pthread_create", before: before).layer == .cgroupPids
    else { return nil }
    return room
  }

  func verdict() -> ProbeResult {
    var evidence = config.evidence
    let ownLibc = Sys.ownLibcVersion.map { "glibc \($0)" } ?? "musl"
    if !config.modulesNeedingDlopen.isEmpty && Sys.ownLibcVersion != nil {
      let modules = config.modulesNeedingDlopen.joined(separator: ", ")
      var sentence = "culprit is a static \(ownLibc) program with only the files and dns NSS modules built in; the hosts: line also names \(modules), which static glibc loads from the image with dlopen (libnss_NAME.so.2, which pulls in the image's libc.so.6)"
      switch snapshot.libc.family {
      case .glibc where snapshot.libc.display == ownLibc:
        sentence += "; the image's libc is also \(ownLibc), so they load as they do for the image's programs."
      case .glibc:
        sentence += "; that is reliable only with the same glibc, and the image has \(snapshot.libc.display), so names those modules answer may resolve differently for the image's own programs."
      case .musl, .none:
        sentence += "; the image has no glibc, so they cannot load and culprit uses files and dns only (musl programs ignore nsswitch.conf altogether)."
      }
      evidence.append(sentence)
    }
    if snapshot.libc.family == .musl {
      evidence.append("The image's programs use musl, which ignores nsswitch.conf, reads /etc/hosts and then asks all nameservers in parallel; culprit's lookups follow glibc's rules.")
    }
    for result in results {
      if result.main == result.thread {
        evidence.append("getaddrinfo(\"\(result.name)\") in the main thread and in a new thread: \(result.main.text).")
      } else {
        evidence.append("getaddrinfo(\"\(result.name)\") in the main thread: \(result.main.text); in a new thread: \(result.thread.text).")
      }
    }
    evidence += serverSentences()
    if let failure = nameserverFailure {
      evidence.append("The direct nameserver check \(failure.text).")
    }

    var facts: JSONObject = [
      "names": .array(results.map { ["name": .string($0.name), "main_thread": $0.main.json, "new_thread": $0.thread.json] }),
      "nameservers": .array(nameservers.map(\.json)),
      "resolv_conf": config.resolvConfFacts,
      "nsswitch_hosts": .from(config.nsswitch.value?.hosts),
      "hosts_sources": .string(config.hostsSources),
      "nss_modules_needing_dlopen": .from(config.modulesNeedingDlopen),
      "etc_hosts_exists": .bool(config.hosts.failure != .noSuchFile),
      "etc_hosts_error": .from(config.hosts.failure?.name),
      "nsswitch_error": .from(config.nsswitch.failure?.name),
      "timeout_ms": .int(perQueryMilliseconds ?? timeoutMilliseconds),
      "lookup_bound_ms": .int(timeoutMilliseconds),
      "budget_ms": .int(budgetMilliseconds),
    ]
    if nameserverFailure != nil { facts["nameserver_check"] = nameserverFailure!.json }
    facts["slowest_answer_ms"] = .from(slowestAnswer)
    facts["queries"] = .object(jsonObject(queryCounts.map { ($0.name, JSONValue.int($0.count)) }))
    for (name, count) in queryCounts where count > 2 {
      evidence.append("\"\(name)\" costs \(count) DNS queries before it resolves: ndots \(ndots) and the search list \(searchList.joined(separator: " ")) make A and AAAA questions for \(count / 2) names.")
    }

    // A thread lookup that only culprit's own processes starved says nothing about the user's
    // program: judge that name by its main-thread lookup (the resolver is the same code in a
    // thread), and say why the thread was not tried.
    let loneRoom = roomForLoneResolverThread
    let judged = results.map { result -> GetaddrinfoProbe.NameResult in
      guard loneRoom != nil, result.thread == .threadFailed(.resourceTemporarilyUnavailable) else { return result }
      return GetaddrinfoProbe.NameResult(name: result.name, main: result.main, thread: result.main)
    }
    if let room = loneRoom {
      let limits = after ?? before
      let level = limits.limitedLevel
      evidence.append(
        "culprit's own lookup thread got EAGAIN because culprit's processes (\(limits.culpritTasks ?? 0) of the \(level?.current.map(String.init) ?? "?") tasks) fill pids.max \(level?.max.map(String.init) ?? "?"); a program running here alone has room for \(room) task\(room == 1 ? "" : "s") besides itself, so its resolver thread starts (curl's included): the new-thread lookup is judged by the main thread's, and the thread probe says how many threads fit.")
    }
    let mainFailures = judged.filter { !$0.main.resolved }
    let threadFailures = judged.filter { $0.main.resolved && !$0.thread.resolved }
    let anyResolved = judged.contains { $0.main.resolved || $0.thread.resolved }

    if mainFailures.isEmpty && threadFailures.isEmpty {
      let count = results.count
      var resolvedText = count == 1 ? "localhost resolves in the main thread and in a new thread" : "All \(count) names resolve in the main thread and in a new thread"
      if let room = loneRoom {
        resolvedText = (count == 1 ? "localhost resolves" : "All \(count) names resolve")
          + " in the main thread; a program running here alone has room for \(room) more task\(room == 1 ? "" : "s") under the pids limit, so its resolver thread starts (culprit's own thread lookup was starved only by culprit's processes)"
      }
      if let server = seccompSocket {
        return probe.verdict(
          .degraded, layer: .seccomp,
          "\(resolvedText), but a seccomp filter refuses socket(2) (\(server.socketError!.name)): no DNS name can be resolved.",
          evidence: evidence, hint: GetaddrinfoDecision.socketHint, facts: facts)
      }
      if case .seccomp(let signal, let step)? = nameserverFailure {
        return probe.verdict(
          .degraded, layer: .seccomp,
          "\(resolvedText), but a seccomp filter ended the DNS query of culprit's own (\(signal)\(step.map { " during \($0)" } ?? "")).",
          evidence: evidence, hint: Hints.seccompKill, facts: facts)
      }
      let onlyCutShort = budgetMilliseconds < timeoutMilliseconds
        && silentServers.allSatisfy { Set($0.answers.compactMap(\.error)) == ["timeout"] }
      if !silentServers.isEmpty && onlyCutShort {
        return probe.verdict(
          .degraded, layer: .unknown,
          "\(resolvedText), but the nameservers did not answer within the \(budgetMilliseconds) ms the run's --timeout left.",
          evidence: evidence, hint: "Run again with a larger --timeout (the lookups need up to \(timeoutMilliseconds) ms).",
          facts: facts)
      }
      if !servers.isEmpty && !nameservers.isEmpty && answeringServers.isEmpty {
        let reasons = silentServers.map { "\($0.address): \(silence($0))" }.joined(separator: "; ")
        let layer: Layer = resolvConfMissing ? .resolverConfig : .network
        return probe.verdict(
          .degraded, layer: layer,
          "\(resolvedText), but no nameserver answers (\(reasons)): only names in /etc/hosts resolve.",
          evidence: evidence, hint: layer == .network ? GetaddrinfoDecision.networkHint : GetaddrinfoDecision.configHint, facts: facts)
      }
      let rotate = config.resolvConf.value?.hasOption("rotate") ?? false
      if !silentServers.isEmpty, let first = nameservers.first, !first.answered || rotate {
        let reasons = silentServers.map { "\($0.address): \(silence($0))" }.joined(separator: "; ")
        return probe.verdict(
          .degraded, layer: .network,
          "\(resolvedText), but \(silentServers.count) of \(nameservers.count) nameservers do not answer (\(reasons)); lookups that reach them wait for the resolver's timeout.",
          evidence: evidence, hint: GetaddrinfoDecision.networkHint, facts: facts)
      }
      if let slow = slowestAnswer, slow >= GetaddrinfoDecision.slowMilliseconds {
        // A and AAAA of one name go out together: one wait per name the search list makes.
        let costs = queryCounts.filter { $0.count > 2 }.map {
          "\"\($0.name)\" costs \($0.count) queries (ndots \(ndots), \(searchList.count) search domain\(searchList.count == 1 ? "" : "s")) in \($0.count / 2) rounds, so one lookup waits about \($0.count / 2) × \(seconds(slow)) = \(seconds($0.count / 2 * slow))"
        }
        var text = "\(resolvedText), but the nameserver answers only after \(seconds(slow)): every lookup waits that long; apt-get asks SRV _http._tcp first, so each download waits twice"
        if !costs.isEmpty { text += "; " + costs.joined(separator: "; ") }
        return probe.verdict(
          .degraded, layer: .network, text + ".", evidence: evidence,
          hint: "The nameserver is slow: point the container at a nearer resolver (Docker --dns, Kubernetes dnsConfig.nameservers or NodeLocal DNSCache), and cut the queries per lookup (Kubernetes dnsConfig.options ndots:1 or a trailing dot on names).",
          facts: facts)
      }
      var summary = resolvedText
      if !silentServers.isEmpty {
        let silent = silentServers.map(\.address).joined(separator: ", ")
        summary += "; the first nameserver answers (\(silent) does not, and is asked only when the first fails)"
      } else if !answeringServers.isEmpty {
        summary += "; \(answeringServers.count == 1 ? "the nameserver answers" : "all \(answeringServers.count) nameservers answer")"
      }
      return probe.verdict(.ok, summary + ".", evidence: evidence, facts: facts)
    }

    // Something fails: blame the main thread's failure first (it fails whatever the threads do),
    // then the new thread's.
    let cause: Cause
    let summary: String
    if let both = mainFailures.first(where: { if case .threadFailed = $0.thread { return true } else { return false } }) {
      // Two faults: threads cannot start and the lookup fails anyway. Clients with a threaded
      // resolver (curl) hit the thread first, so it leads; the other comes after it.
      cause = self.cause(of: both.thread, name: both.name, variant: "in a new thread")
      let mainCause = self.cause(of: both.main, name: both.name, variant: "in the main thread")
      summary = "\"\(both.name)\" cannot be looked up from a new thread: \(cause.short ?? "the thread does not start") (curl reports this as \"getaddrinfo() thread failed to start\"); in the main thread it fails as well"
        + (mainCause.short.map { ": \($0)." } ?? ".")
      evidence.append(mainCause.sentence)
      evidence += mainCause.evidence
    } else if let first = mainFailures.first {
      cause = self.cause(of: first.main, name: first.name, variant: "in the main thread")
      let names = mainFailures.map { "\"\($0.name)\"" }.joined(separator: ", ")
      if !anyResolved {
        summary = "Nothing resolves: \(names) \(mainFailures.count == 1 ? "fails" : "fail") in the main thread and in a new thread"
          + (cause.short.map { ": \($0)." } ?? ".")
      } else {
        summary = "\(names) \(mainFailures.count == 1 ? "does" : "do") not resolve in the main thread"
          + (cause.short.map { ": \($0)" } ?? "")
          + (threadFailures.isEmpty ? "" : "; \(threadFailures.count) more only fail in a new thread") + "."
      }
      if !threadFailures.isEmpty, let thread = threadFailures.first {
        let threadCause = self.cause(of: thread.thread, name: thread.name, variant: "in a new thread")
        evidence.append(threadCause.sentence)
        evidence += threadCause.evidence
      }
    } else {
      let first = threadFailures[0]
      cause = self.cause(of: first.thread, name: first.name, variant: "in a new thread")
      let names = threadFailures.map { "\"\($0.name)\"" }.joined(separator: ", ")
      var text = "\(names) \(threadFailures.count == 1 ? "resolves" : "resolve") in the main thread but not from a new thread"
      if case .threadFailed = first.thread, let short = cause.short {
        text += ": \(short) (curl reports this as \"getaddrinfo() thread failed to start\")"
      } else if let short = cause.short {
        text += ": \(short)"
      }
      summary = text + "."
    }
    evidence.append(cause.sentence)
    evidence += cause.evidence
    if cause.short == GetaddrinfoDecision.cutShort {
      return probe.verdict(
        .skipped,
        "Not decided: the run's --timeout left the lookups only \(budgetMilliseconds) ms of their \(timeoutMilliseconds) ms bound.",
        evidence: evidence, hint: cause.hint, facts: facts)
    }
    return probe.verdict(
      anyResolved ? .degraded : .blocked, layer: cause.layer, summary, evidence: evidence, hint: cause.hint, facts: facts)
  }
}
