import CulpritCore

#if canImport(Glibc)
import Glibc
#endif

/// Records a fixture: every file the configuration probes' readers read on this system, and the
/// results of the calls that are not files.
enum Capture {
  static func run(_ args: [String]) -> Never {
    guard args.count == 1 else { fail("usage: culprit-testkit capture DIR") }
    let directory = args[0]
    let recorder = RecordingSystem()
    let snapshot = Snapshot(source: recorder)
    let context = ProbeContext(snapshot: snapshot, options: ProbeOptions(), deadline: UInt64.max)
    for probe in ProbeCatalog.all where probe.isolation == .inProcess {
      _ = probe.run(context)
    }
    _ = snapshot.limits
    _ = snapshot.hostInfo
    // The readers use capget(2) only without /proc/self/status; recorded always, so that tests
    // can take the status file away and check the fallback against the same process.
    _ = recorder.capabilitiesBySyscall()
    makeDirectories(directory + "/root")
    for (path, text) in recorder.files {
      let target = directory + "/root" + path
      makeDirectories(String(target[..<target.lastIndex(of: "/")!]))
      let content = path == "/proc/self/environ" ? redactedEnvironment(text) : text
      if case .failure(let err) = Sys.writeFile(target, content) { fail("cannot write \(target): \(err)") }
    }
    if case .failure(let err) = Sys.writeFile(
      directory + "/syscalls.json", JSONValue.object(recorder.record).serialized(pretty: true) + "\n")
    {
      fail("cannot write syscalls.json: \(err)")
    }
    print("captured \(recorder.files.count) files into \(directory)")
    exit(0)
  }

  /// The variables the runtime reader looks at, and a few that carry no secret; every other
  /// variable of the captured process is left out of the fixture (tokens and keys live there).
  static let keptVariables: Set<Substring> = [
    "container", "KUBERNETES_SERVICE_HOST", "KUBERNETES_SERVICE_PORT", "HOSTNAME", "HOME", "PATH", "TERM",
  ]

  static func redactedEnvironment(_ environ: String) -> String {
    environ.split(separator: "\0").filter { entry in
      keptVariables.contains(entry.prefix(while: { $0 != "=" }))
    }.map { $0 + "\0" }.joined()
  }

  static func makeDirectories(_ path: String) {
    var current = ""
    for part in path.split(separator: "/") {
      current += (current.isEmpty && !path.hasPrefix("/") ? "" : "/") + part
      _ = Sys.mkdir(current, 0o755)
    }
  }
}
