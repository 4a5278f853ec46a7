/// `getaddrinfo`: resolves localhost and every --resolve name in the main thread and again from
/// a new thread (the pair that separates "DNS is broken" from curl's "getaddrinfo() thread
/// failed to start"), reads the resolver configuration, and asks each nameserver directly.
public struct GetaddrinfoProbe: Probe {
  public init() {}
  public let id = "getaddrinfo"
  public let title = "Name resolution"
  public let abstract = "getaddrinfo of localhost and --resolve names in the main thread and a new thread; resolv.conf, nsswitch.conf, /etc/hosts; each nameserver asked directly"
  /// Every lookup is bounded by --resolve's per-query timeout (default 2 s) and they run in
  /// parallel; the budget only bounds the probe as a whole.
  public let isolation = Isolation.child(budgetMilliseconds: 10_000)

  /// Time kept between the lookups' deadline and the probe's own, to collect and report (at
  /// most a quarter of what is left).
  static let marginMilliseconds = 150

  /// How one lookup ended.
  enum Lookup: Equatable {
    case resolved([String])
    case failed(AddressLookupError)
    /// The new-thread variant: pthread_create returned this error, so getaddrinfo never ran.
    case threadFailed(Errno)
    case timedOut(Int)
    /// A seccomp KILL (SIGSYS) or TRAP ended it.
    case seccomp(signal: String, step: String?)
    case crashed(String, step: String?)
    /// No process could be created to run it, and it was not run in-process.
    case notRun(Errno)

    var resolved: Bool { if case .resolved = self { return true } else { return false } }

    var json: JSONValue {
      switch self {
      case .resolved(let addresses):
        return ["status": "resolved", "addresses": .from(addresses), "error": .null, "errno": .null]
      case .failed(let err):
        return ["status": "failed", "addresses": [], "error": .string(err.name), "errno": .from(err.errno?.name)]
      case .threadFailed(let err):
        return ["status": "thread-failed", "addresses": [], "error": .string(err.name), "errno": .null]
      case .timedOut(let ms):
        return ["status": "timed-out", "addresses": [], "error": .string("timeout after \(ms) ms"), "errno": .null]
      case .seccomp(let signal, _):
        return ["status": "seccomp", "addresses": [], "error": .string(signal), "errno": .null]
      case .crashed(let signal, _):
        return ["status": "crashed", "addresses": [], "error": .string(signal), "errno": .null]
      case .notRun(let err):
        return ["status": "not-run", "addresses": [], "error": .string(err.name), "errno": .null]
      }
    }

    /// What a lookup child wrote: {"addresses": [...]}, {"eai": -3, "errno": "..."} or
    /// {"thread_error": "EPERM"}.
    init(childOutput json: JSONValue) {
      if let addresses = json["addresses"]?.arrayValue {
        self = .resolved(addresses.compactMap(\.stringValue))
      } else if let code = json["eai"]?.intValue {
        self = .failed(AddressLookupError(code: Int32(code), errno: json["errno"]?.stringValue.flatMap(Errno.init(name:))))
      } else if let name = json["thread_error"]?.stringValue, let err = Errno(name: name) {
        self = .threadFailed(err)
      } else {
        self = .crashed("no result", step: nil)
      }
    }

    static func output(_ result: Result<[SocketAddress], AddressLookupError>) -> JSONValue {
      switch result {
      case .success(let addresses): return ["addresses": .from(addresses.map(\.host))]
      case .failure(let err): return ["eai": .int(Int(err.code)), "errno": .from(err.errno?.name)]
      }
    }

    /// "127.0.0.1, ::1", "EAI_AGAIN (…)", "pthread_create returned EPERM".
    var text: String {
      switch self {
      case .resolved(let addresses): return addresses.isEmpty ? "no addresses" : addresses.joined(separator: ", ")
      case .failed(let err): return "failed with \(err.description)"
      case .threadFailed(let err): return "pthread_create returned \(err.description), so getaddrinfo never ran"
      case .timedOut(let ms): return "did not return within \(ms) ms (killed)"
      case .seccomp(let signal, let step): return "was ended by a seccomp filter (\(signal))" + (step.map { " during \($0)" } ?? "")
      case .crashed(let signal, let step): return "crashed (\(signal))" + (step.map { " during \($0)" } ?? "")
      case .notRun(let err): return "could not run (fork failed with \(err.name))"
      }
    }
  }

  struct NameResult {
    var name: String
    var main: Lookup
    var thread: Lookup
  }

  public func run(_ context: ProbeContext) -> ProbeResult {
    let snapshot = context.snapshot
    let config = ResolverConfig.read(snapshot.source)
    var names = ["localhost"]
    for name in context.options.resolveNames where !names.contains(name) { names.append(name) }

    let now = Sys.monotonicNanoseconds()
    let remaining = context.deadline > now ? context.deadline - now : 0
    let margin = min(UInt64(GetaddrinfoProbe.marginMilliseconds) * 1_000_000, remaining / 4)
    let probeDeadline = context.deadline > now + margin ? context.deadline - margin : now
    // The per-query bound glibc uses: resolv.conf's `timeout` (default 5 s, at most 30), per
    // query and server. Where the run's --timeout leaves less (but at least a second), the
    // bound is what is left: silence that long is already a finding.
    let resolvForBound = config.resolvConf.value ?? ResolvConf()
    let resolvTimeout = GetaddrinfoProbe.resolverTimeoutMilliseconds(resolvForBound)
    let available = Int((probeDeadline > now ? probeDeadline - now : 0) / 1_000_000)
    // A lookup asks the names its search list makes one after the other (A and AAAA together),
    // each waiting for its answer: a slow nameserver's delay counts once per name, so the bound
    // is the per-query timeout times the names of the longest search (ndots:5 and three
    // search domains: 4 names, 8 queries).
    let searchRounds = names.map { NameserverCheck.candidates(for: $0, search: resolvForBound.search, ndots: min(15, resolvForBound.option("ndots") ?? 1)).count }.max() ?? 1
    var timeout = max(1, context.options.resolveTimeoutMilliseconds ?? resolvTimeout * max(1, searchRounds))
    if context.options.resolveTimeoutMilliseconds == nil && timeout > available && available >= 1000 { timeout = available }
    let deadline = min(probeDeadline, now + UInt64(timeout) * 1_000_000)
    /// Less time than the per-query bound, because the run's --timeout is nearly spent.
    let budget = Int((deadline - now) / 1_000_000)
    let before = TaskLimits.read(snapshot.source, snapshot: snapshot, countTasks: false)

    // The nameservers and the questions for them.
    let resolv = config.resolvConf.value ?? ResolvConf()
    // --offline: no query of culprit's own.
    let servers = context.options.offline ? [] : resolv.effectiveNameservers.compactMap { SocketAddress(parsing: $0) }
    let ndots = min(15, resolv.option("ndots") ?? 1)
    var questions = [NameserverCheck.Question(name: ".", type: .ns, forName: nil)]
    let filesFirst = NsswitchConf.modules(config.hostsSources).first == "files"
    for name in names where !(name == "localhost" && filesFirst) {
      for candidate in NameserverCheck.candidates(for: name, search: resolv.search, ndots: ndots) {
        questions.append(.init(name: candidate, type: .a, forName: name))
        questions.append(.init(name: candidate, type: .aaaa, forName: name))
      }
    }

    // Every lookup and the nameserver check in children of their own.
    enum Job { case main(String), thread(String), nameservers }
    var jobs: [Job] = []
    for name in names { jobs += [.main(name), .thread(name)] }
    if !servers.isEmpty { jobs.append(.nameservers) }
    context.step("starting \(jobs.count) lookups")
    /// A job's work, bounded by `until` (the deadline of the process it runs in).
    func body(_ job: Job, until jobDeadline: UInt64) -> (ChildChannel?) -> [UInt8] {
      { channel in
        let output: JSONValue
        switch job {
        case .main(let name):
          channel?.step("getaddrinfo(\"\(name)\") in the main thread")
          output = Lookup.output(Sys.resolve(name))
        case .thread(let name):
          channel?.step("pthread_create for getaddrinfo(\"\(name)\")")
          final class Box: @unchecked Sendable { var result: Result<[SocketAddress], AddressLookupError>? }
          let box = Box()
          if let err = Sys.runInThread({
            channel?.step("getaddrinfo(\"\(name)\") in a new thread")
            box.result = Sys.resolve(name)
          }) {
            output = ["thread_error": .string(err.name)]
          } else {
            output = box.result.map(Lookup.output) ?? ["thread_error": "EFAULT"]
          }
        case .nameservers:
          // Stop waiting a little before this child's own deadline, so that it reports instead of
          // being killed.
          let answersBy = jobDeadline > Sys.monotonicNanoseconds() + 60_000_000 ? jobDeadline - 50_000_000 : jobDeadline
          let results = NameserverCheck.run(servers: servers, questions: questions, deadline: answersBy) { channel?.step($0) }
          output = .array(results.map(\.json))
        }
        return Array(output.serialized(pretty: false).utf8)
      }
    }
    // All at once, unless the pids cgroup has too little room for every job's process and
    // thread: then one at a time, so that no lookup thread is refused only because the other
    // jobs hold tasks at that moment.
    let oneAtATime = before.pidsHeadroom.map { $0 < 2 * jobs.count } ?? false
    var spawned: [(index: Int, child: Child)] = []
    var inline: [Int] = []
    var outputs = [ChildOutcome?](repeating: nil, count: jobs.count)
    for (index, job) in jobs.enumerated() {
      // One at a time, each job gets its own per-query bound, within the probe's.
      let jobDeadline = oneAtATime ? min(probeDeadline, Sys.monotonicNanoseconds() + UInt64(timeout) * 1_000_000) : deadline
      switch Children.spawn(deadline: jobDeadline, body: { body(job, until: jobDeadline)($0) }) {
      case .success(let child):
        if oneAtATime {
          outputs[index] = Children.collect([child])[0]
        } else {
          spawned.append((index, child))
        }
      case .failure: inline.append(index)
      }
    }
    for (entry, outcome) in zip(spawned, Children.collect(spawned.map(\.child))) { outputs[entry.index] = outcome }

    // What could not get a process of its own (a pids limit): retry once now that the others
    // are gone, then run it here, bounded by the probe's own deadline.
    var inlineOutputs = [Int: [UInt8]]()
    var forkError: Errno?
    for index in inline {
      let retryDeadline = min(probeDeadline, Sys.monotonicNanoseconds() + UInt64(timeout) * 1_000_000)
      switch Children.run(deadline: retryDeadline, body: { body(jobs[index], until: retryDeadline)($0) }) {
      case .success(let outcome): outputs[index] = outcome
      case .failure(let err):
        forkError = err
        context.step("running job \(index) in the probe's process (fork failed with \(err.name))")
        inlineOutputs[index] = body(jobs[index], until: retryDeadline)(context.channel)
      }
    }

    func lookup(_ index: Int) -> Lookup {
      if let bytes = inlineOutputs[index] {
        return (try? JSONValue.parse(bytes: bytes)).map(Lookup.init(childOutput:)) ?? .crashed("no result", step: nil)
      }
      guard let outcome = outputs[index] else { return .notRun(forkError ?? .resourceTemporarilyUnavailable) }
      switch outcome.ending {
      case .exited(0, let output):
        return (try? JSONValue.parse(bytes: output)).map(Lookup.init(childOutput:)) ?? .crashed("no result", step: outcome.lastStep)
      case .exited(let code, _): return .crashed("exit \(code)", step: outcome.lastStep)
      case .signaled(31, _): return .seccomp(signal: "SIGSYS", step: outcome.lastStep)
      case .trapped(let trap, _): return .seccomp(signal: "SIGSYS trap of system call \(trap.syscall)", step: outcome.lastStep)
      case .signaled(let signal, _): return .crashed(signalName(signal), step: outcome.lastStep)
      case .timedOut(let ms, _): return .timedOut(ms)
      }
    }
    var results: [NameResult] = []
    for (offset, name) in names.enumerated() {
      results.append(NameResult(name: name, main: lookup(offset * 2), thread: lookup(offset * 2 + 1)))
    }
    var nameservers: [NameserverCheck.Server] = []
    var nameserverFailure: Lookup?
    if let index = jobs.indices.last, case .nameservers = jobs[index] {
      if let bytes = inlineOutputs[index] {
        nameservers = (try? JSONValue.parse(bytes: bytes))?.arrayValue?.compactMap(NameserverCheck.Server.init(json:)) ?? []
      } else if let outcome = outputs[index], case .exited(0, let output) = outcome.ending {
        nameservers = (try? JSONValue.parse(bytes: output))?.arrayValue?.compactMap(NameserverCheck.Server.init(json:)) ?? []
      } else {
        nameserverFailure = lookup(index)
      }
    }

    let threadFailedWithEAGAIN = results.contains { $0.thread == .threadFailed(.resourceTemporarilyUnavailable) }
    let after = threadFailedWithEAGAIN ? TaskLimits.read(snapshot.source, snapshot: snapshot) : nil
    return GetaddrinfoDecision(
      probe: self, snapshot: snapshot, config: config, results: results, servers: servers, nameservers: nameservers,
      nameserverFailure: nameserverFailure, timeoutMilliseconds: timeout,
      perQueryMilliseconds: min(timeout, context.options.resolveTimeoutMilliseconds ?? resolvTimeout), budgetMilliseconds: budget, before: before,
      after: after
    ).verdict()
  }
}

extension GetaddrinfoProbe {
  /// glibc's per-query, per-server wait (resolv.conf(5) `timeout`, default RES_TIMEOUT 5 s,
  /// capped at RES_MAXRETRANS 30 s; RES_OPTIONS overrides the file).
  static func resolverTimeoutMilliseconds(_ conf: ResolvConf) -> Int {
    var seconds = conf.option("timeout") ?? 5
    if let env = Sys.environment("RES_OPTIONS") {
      let overriding = ResolvConf(options: env.split(separator: " ").map(String.init))
      seconds = overriding.option("timeout") ?? seconds
    }
    return min(30, max(1, seconds)) * 1000
  }

  /// glibc's rounds over the servers (resolv.conf `attempts`, default 2, at most 5).
  static func resolverAttempts(_ conf: ResolvConf) -> Int { min(5, max(1, conf.option("attempts") ?? 2)) }

  /// The probe's own child was killed (a seccomp KILL on a call the probe makes itself, such as
  /// fork or ppoll) or ran out of time: the default verdict, with the facts this probe always
  /// reports (the configuration is re-read here; it is only file reads).
  public func interpret(_ outcome: ChildOutcome, context: ProbeContext) -> ProbeResult {
    var result = standardInterpretation(outcome)
    let config = ResolverConfig.read(context.snapshot.source)
    var names = ["localhost"]
    for name in context.options.resolveNames where !names.contains(name) { names.append(name) }
    let notRun: JSONValue = ["status": "not-run", "addresses": [], "error": .null, "errno": .null]
    result.facts["names"] = .array(names.map { ["name": .string($0), "main_thread": notRun, "new_thread": notRun] })
    result.facts["nameservers"] = []
    result.facts["resolv_conf"] = config.resolvConfFacts
    result.facts["nsswitch_hosts"] = .from(config.nsswitch.value?.hosts)
    result.facts["hosts_sources"] = .string(config.hostsSources)
    result.facts["nss_modules_needing_dlopen"] = .from(config.modulesNeedingDlopen)
    result.facts["etc_hosts_exists"] = .bool(config.hosts.failure != .noSuchFile)
    result.facts["etc_hosts_error"] = .from(config.hosts.failure?.name)
    result.facts["nsswitch_error"] = .from(config.nsswitch.failure?.name)
    result.facts["lookup_bound_ms"] = .null
    result.facts["timeout_ms"] = .int(
      max(1, context.options.resolveTimeoutMilliseconds ?? GetaddrinfoProbe.resolverTimeoutMilliseconds(config.resolvConf.value ?? ResolvConf())))
    result.evidence += config.evidence
    return result
  }
}
