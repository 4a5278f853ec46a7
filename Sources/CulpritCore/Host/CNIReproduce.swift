#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// `culprit host --reproduce cni`: the node's own loopback CNI plugin, ADD then DEL, in a fresh
/// network namespace each try, while a child of culprit's adds and removes addresses in that
/// namespace — the churn that makes the kernel flag an address dump NLM_F_DUMP_INTR, which
/// CNI plugins v1.6.x (vishvananda/netlink v1.3.0) turn into "interrupted system call"
/// (concourse#9027, containernetworking/plugins#1121; the retrying `pkg/netlinksafe` is in v1.7.0).
///
/// Before the plugin's tries, culprit dumps the addresses itself under the same churn and
/// counts the dumps the kernel flagged: a run whose churn flags no dump shows nothing, and says so.
/// Each namespace lives as long as its churn process (CNI_NETNS is /proc/PID/ns/net): nothing is
/// mounted, and every namespace is gone when its try ends.
public struct CNIReproduction: Equatable, Sendable {
  /// One kind of failure and how often it happened.
  public struct Failure: Equatable, Sendable {
    public var command: String
    public var message: String
    public var count: Int
    public var interrupted: Bool
  }

  /// culprit's own address dumps under the churn: how many came back flagged NLM_F_DUMP_INTR.
  public struct ChurnCheck: Equatable, Sendable {
    public var namespaces: Int
    public var dumps: Int
    public var interrupted: Int
    public var errors: Int
  }

  public var plugin: String?
  /// The plugin's own words about its version ("CNI loopback plugin v1.1.1"), from running it
  /// without CNI_COMMAND.
  public var pluginAbout: String?
  /// The spec versions its VERSION command lists.
  public var supportedVersions: [String] = []
  /// The cniVersion of the configuration culprit gave it.
  public var cniVersion: String = "0.4.0"
  public var config: String = ""
  public var triesRequested: Int
  public var secondsAllowed: Int
  /// ADD/DEL pairs run (each in its own namespace).
  public var tries: Int = 0
  public var addFailures: Int = 0
  public var delFailures: Int = 0
  /// Failures whose message is "interrupted system call" (EINTR), of ADD and DEL together.
  public var interruptedFailures: Int = 0
  public var failures: [Failure] = []
  /// IPv4 addresses kept on lo (127.14.x.y/32) beside the churning ones.
  public var standingAddresses: Int = 0
  /// Address changes the churn made during the plugin's tries.
  public var churnChanges: Int = 0
  public var churnCheck: ChurnCheck?
  /// Why the tries stopped early ("time", or what went wrong); nil when all were run.
  public var stoppedEarly: String?
  /// Why nothing could be run (no plugin, no namespace), nil when it ran.
  public var notRun: String?
  public var elapsedMilliseconds: Int = 0
  public var evidence: [String] = []

  public init(plugin: String?, triesRequested: Int, secondsAllowed: Int) {
    self.plugin = plugin
    self.triesRequested = triesRequested
    self.secondsAllowed = secondsAllowed
  }

  /// The directories searched for `loopback` when no `--cni-bin` is given, in order.
  public static let searchDirectories = ["/opt/cni/bin", "/usr/lib/cni", "/usr/libexec/cni", "/var/lib/cni/bin"]

  /// The loopback plugin: `directory`/loopback when a directory is given, else the first in
  /// `searchDirectories`.
  public static func findPlugin(in directory: String?) -> (path: String?, looked: [String]) {
    let candidates = (directory.map { [$0] } ?? searchDirectories).map { $0.hasSuffix("/") ? $0 + "loopback" : $0 + "/loopback" }
    for candidate in candidates where Sys.access(candidate, X_OK).failure == nil { return (candidate, candidates) }
    return (nil, candidates)
  }

  /// Whether a failure message is the EINTR one: Go's syscall.EINTR text.
  public static func isInterrupted(_ message: String) -> Bool {
    message.lowercased().contains("interrupted system call")
  }

  /// The message of a plugin's failure: the CNI error object's `msg` (and `details`) on stdout,
  /// else its stderr, else how it ended.
  public static func failureMessage(_ result: Subprocess.Result) -> String {
    if let json = try? JSONValue.parse(bytes: result.stdout), let message = json["msg"]?.stringValue {
      var text = message
      if let details = json["details"]?.stringValue, !details.isEmpty { text += ": " + details }
      if let code = json["code"]?.intValue { text += " (CNI error code \(code))" }
      return text
    }
    let message = result.message
    return message.isEmpty ? "the plugin \(result.endingDescription)" : message
  }

  /// The highest configuration version the plugin supports of those culprit knows.
  public static func chooseVersion(_ supported: [String]) -> String {
    for version in ["1.0.0", "0.4.0", "0.3.1"] where supported.contains(version) { return version }
    return "0.4.0"
  }
}

extension CNIReproduction {
  static let cloneNewNet: Int = 0x4000_0000

  /// Runs the reproduction: at most `tries` ADD/DEL pairs and `seconds` seconds.
  public static func run(cniBin: String?, tries: Int = 300, seconds: Int = 60, checkNamespaces: Int = 10, standing: Int = 500) -> CNIReproduction {
    let started = Sys.monotonicNanoseconds()
    let deadline = started + UInt64(seconds) * 1_000_000_000
    let found = findPlugin(in: cniBin)
    var result = CNIReproduction(plugin: found.path, triesRequested: tries, secondsAllowed: seconds)
    result.standingAddresses = standing
    result = reproduce(into: result, found: found, deadline: deadline, checkNamespaces: checkNamespaces)
    result.elapsedMilliseconds = Int((Sys.monotonicNanoseconds() - started) / 1_000_000)
    return result
  }

  static func reproduce(into start: CNIReproduction, found: (path: String?, looked: [String]), deadline: UInt64, checkNamespaces: Int) -> CNIReproduction {
    var result = start
    let tries = result.triesRequested, seconds = result.secondsAllowed, standing = result.standingAddresses
    guard let plugin = found.path else {
      result.notRun = "no loopback CNI plugin: looked for " + found.looked.joined(separator: ", ")
      return result
    }
    let directory = String(plugin[..<plugin.lastIndex(of: "/")!])
    let baseEnvironment = ["PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "CNI_PATH": directory]

    // Its version, in its own words.
    let about = Subprocess.run([plugin], environment: baseEnvironment, timeoutMilliseconds: 5000)
    let aboutText = (about.stderrText + "\n" + about.stdoutText).split(whereSeparator: \.isNewline)
      .map { $0.trimmed() }.first { $0.hasPrefix("CNI ") }
    result.pluginAbout = aboutText
    result.evidence.append("`\(plugin)` run without CNI_COMMAND " + (aboutText.map { "says \"\($0)\"" } ?? about.endingDescription) + ".")
    var versionEnvironment = baseEnvironment
    versionEnvironment["CNI_COMMAND"] = "VERSION"
    let version = Subprocess.run([plugin], environment: versionEnvironment, input: Array("{\"cniVersion\":\"0.4.0\"}".utf8), timeoutMilliseconds: 5000)
    if let json = try? JSONValue.parse(bytes: version.stdout) {
      result.supportedVersions = (json["supportedVersions"]?.arrayValue ?? []).compactMap(\.stringValue)
    }
    result.evidence.append(
      "CNI_COMMAND=VERSION " + (result.supportedVersions.isEmpty ? version.endingDescription : "lists supportedVersions " + result.supportedVersions.joined(separator: ", ")) + ".")
    result.cniVersion = chooseVersion(result.supportedVersions)
    result.config = "{\"cniVersion\":\"\(result.cniVersion)\",\"name\":\"culprit-reproduce\",\"type\":\"loopback\"}"

    // culprit's own dumps under the churn: does the churn make the kernel flag dumps?
    var check = ChurnCheck(namespaces: 0, dumps: 0, interrupted: 0, errors: 0)
    // At least `checkNamespaces`; up to four times as many while no dump was flagged (a loaded
    // machine gives the churn less time beside the dumps).
    var checked = 0
    while Sys.monotonicNanoseconds() < deadline && (checked < checkNamespaces || (check.interrupted == 0 && checked < 4 * checkNamespaces)) {
      checked += 1
      switch startChurn(deadline: deadline, standing: standing) {
      case .failure(let why):
        result.notRun = why.reason
        return result
      case .success(let churn):
        let path = "/proc/\(churn.pid)/ns/net"
        let outcome = Children.run(deadline: min(deadline, Sys.monotonicNanoseconds() + 10_000_000_000)) { channel in
          guard case .success(let nsFD) = Sys.open(path, O_RDONLY) else { channel.setScratch(2, 1); return [] }
          guard case .success = Sys.raw(SyscallNumber.named("setns")!.native!, [Int(nsFD), cloneNewNet]) else {
            channel.setScratch(2, 1); return []
          }
          guard case .success(let fd) = RouteNetlink.open() else { channel.setScratch(2, 1); return [] }
          var interrupted: Int64 = 0, errors: Int64 = 0
          for seq in 1...100 {
            let dump = RouteNetlink.dumpAddresses(fd, seq: UInt32(seq))
            if dump.interrupted { interrupted += 1 }
            if dump.error != nil { errors += 1 }
          }
          channel.setScratch(0, 100)
          channel.setScratch(1, interrupted)
          channel.setScratch(2, errors)
          return Array("\(100) \(interrupted) \(errors)".utf8)
        }
        stopChurn(churn)
        check.namespaces += 1
        if case .success(let o) = outcome, case .exited(0, let output) = o.ending {
          let parts = String(decoding: output, as: UTF8.self).split(separator: " ").compactMap { Int($0) }
          if parts.count == 3 {
            check.dumps += parts[0]
            check.interrupted += parts[1]
            check.errors += parts[2]
            continue
          }
        }
        check.errors += 1
      }
    }
    result.churnCheck = check

    // The plugin's tries.
    var failures: [String: Failure] = [:]
    var order: [String] = []
    let pid = getpid()
    for index in 0..<tries {
      if Sys.monotonicNanoseconds() >= deadline {
        result.stoppedEarly = "time: the \(seconds) s bound was reached after \(result.tries) tries"
        break
      }
      if Termination.signal != 0 {
        result.stoppedEarly = "culprit received \(signalName(Termination.signal))"
        break
      }
      guard case .success(let churn) = startChurn(deadline: deadline, standing: standing) else {
        result.stoppedEarly = "a network namespace could not be made after \(result.tries) tries"
        break
      }
      let before = churn.channel.scratch(1)
      var environment = baseEnvironment
      environment["CNI_CONTAINERID"] = "culprit-reproduce-\(pid)-\(index)"
      environment["CNI_NETNS"] = "/proc/\(churn.pid)/ns/net"
      environment["CNI_IFNAME"] = "lo"
      for command in ["ADD", "DEL"] {
        environment["CNI_COMMAND"] = command
        let remaining = Int((deadline > Sys.monotonicNanoseconds() ? deadline - Sys.monotonicNanoseconds() : 0) / 1_000_000)
        let run = Subprocess.run([plugin], environment: environment, input: Array(result.config.utf8), timeoutMilliseconds: max(1000, min(remaining, 10_000)))
        if !run.succeeded {
          let message = failureMessage(run)
          let key = command + " " + message
          if failures[key] == nil { order.append(key) }
          failures[key, default: Failure(command: command, message: message, count: 0, interrupted: isInterrupted(message))].count += 1
          if command == "ADD" { result.addFailures += 1 } else { result.delFailures += 1 }
          if isInterrupted(message) { result.interruptedFailures += 1 }
        }
      }
      result.churnChanges += Int(churn.channel.scratch(1) - before)
      stopChurn(churn)
      result.tries += 1
    }
    result.failures = order.map { failures[$0]! }
    return result
  }

  /// A child of culprit's in a new network namespace, adding and removing 127.13.x.y/32 on lo
  /// without pause until it is killed. Returns once the namespace exists.
  static func startChurn(deadline: UInt64, standing: Int) -> Result<Child, ChurnError> {
    let spawned = Children.spawn(deadline: deadline) { channel in
      guard case .success = Sys.raw(SyscallNumber.named("unshare")!.native!, [cloneNewNet]) else {
        channel.setScratch(0, -Int64(Errno.current.rawValue))
        return []
      }
      guard case .success(let fd) = RouteNetlink.open() else {
        channel.setScratch(0, -Int64(Errno.current.rawValue))
        return []
      }
      // The standing addresses: a dump of lo must need more than one message buffer for the
      // kernel to flag it (a dump that fits in one is made in one pass under RCU, as
      // inet_dump_ifaddr is on recent kernels; measured, see `churnCheck`).
      for k in 0..<standing {
        RouteNetlink.changeAddress(fd, add: true, index: 1, address: [127, 14, UInt8(k / 250), UInt8(k % 250 + 1)], seq: UInt32(1_000_000 + k))
        if k % 32 == 31 { RouteNetlink.drain(fd) }
      }
      RouteNetlink.drain(fd)
      channel.setScratch(0, 1)
      var n = 0
      while true {
        // Eight addresses at a time: each add and each delete changes the namespace's address
        // generation, which is what the kernel compares to flag a dump.
        RouteNetlink.changeAddress(fd, add: true, index: 1, address: RouteNetlink.churnAddress(n), seq: UInt32(truncatingIfNeeded: 2 * n))
        if n >= 8 {
          RouteNetlink.changeAddress(fd, add: false, index: 1, address: RouteNetlink.churnAddress(n - 8), seq: UInt32(truncatingIfNeeded: 2 * n + 1))
        }
        n += 1
        channel.setScratch(1, Int64(n))
        if n % 32 == 0 { RouteNetlink.drain(fd) }
      }
    }
    guard case .success(let child) = spawned else {
      return .failure(ChurnError("culprit could not fork the process that holds the namespace: \(spawned.failure!.name)"))
    }
    let wait = Sys.monotonicNanoseconds() + 5_000_000_000
    while child.channel.scratch(0) == 0 && !child.hasEnded && Sys.monotonicNanoseconds() < wait { Sys.sleep(milliseconds: 1) }
    let state = child.channel.scratch(0)
    if state == 1 { return .success(child) }
    stopChurn(child)
    if state < 0 {
      return .failure(ChurnError("culprit cannot make a network namespace here: unshare(CLONE_NEWNET) or its netlink socket failed with \(Errno(rawValue: Int32(-state)).name)"))
    }
    return .failure(ChurnError("the process that makes the network namespace did not start within 5 s"))
  }

  struct ChurnError: Error { var reason: String; init(_ reason: String) { self.reason = reason } }

  static func stopChurn(_ child: Child) {
    _ = Sys.kill(-child.pid, SIGKILL)
    _ = Sys.kill(child.pid, SIGKILL)
    _ = Children.collect([child])
  }
}

extension CNIReproduction {
  /// What the run shows, in one sentence.
  public var verdict: String {
    if let notRun { return "not run: \(notRun)" }
    let name = pluginAbout ?? plugin ?? "the loopback plugin"
    let churn = churnCheck.map { c in
      c.interrupted > 0
        ? "the churn made the kernel flag \(c.interrupted) of \(c.dumps) of culprit's own address dumps NLM_F_DUMP_INTR"
        : "the churn made the kernel flag none of culprit's \(c.dumps) address dumps NLM_F_DUMP_INTR, so this run could not show the failure"
    } ?? "the churn was not checked"
    if interruptedFailures > 0 {
      return "reproduced: \(interruptedFailures) of \(tries) ADD/DEL pairs of \(name) failed with \"interrupted system call\" (\(churn))"
    }
    let failed = addFailures + delFailures
    if failed > 0 {
      return "\(failed) of \(tries) ADD/DEL pairs of \(name) failed, none with \"interrupted system call\" (\(churn))"
    }
    return "no failure in \(tries) ADD/DEL pairs of \(name) (\(churn))"
  }

  public var json: JSONValue {
    [
      "plugin": .from(plugin),
      "pluginAbout": .from(pluginAbout),
      "supportedVersions": .from(supportedVersions),
      "cniVersion": .string(cniVersion),
      "config": .string(config),
      "triesRequested": .int(triesRequested),
      "secondsAllowed": .int(secondsAllowed),
      "tries": .int(tries),
      "addFailures": .int(addFailures),
      "delFailures": .int(delFailures),
      "interruptedFailures": .int(interruptedFailures),
      "failures": .array(failures.map {
        ["command": .string($0.command), "message": .string($0.message), "count": .int($0.count), "interrupted": .bool($0.interrupted)]
      }),
      "standingAddresses": .int(standingAddresses),
      "churnChanges": .int(churnChanges),
      "churnCheck": churnCheck.map { c in
        ["namespaces": .int(c.namespaces), "dumps": .int(c.dumps), "interrupted": .int(c.interrupted), "errors": .int(c.errors)] as JSONValue
      } ?? .null,
      "stoppedEarly": .from(stoppedEarly),
      "notRun": .from(notRun),
      "elapsedMs": .int(elapsedMilliseconds),
      "verdict": .string(verdict),
      "evidence": .from(evidence),
    ]
  }
}
