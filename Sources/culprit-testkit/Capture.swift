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
    makeDirectories(directory + "/root")
    for (path, text) in recorder.files {
      let target = directory + "/root" + path
      makeDirectories(String(target[..<target.lastIndex(of: "/")!]))
      if case .failure(let err) = Sys.writeFile(target, text) { fail("cannot write \(target): \(err)") }
    }
    if case .failure(let err) = Sys.writeFile(
      directory + "/syscalls.json", JSONValue.object(recorder.record).serialized(pretty: true) + "\n")
    {
      fail("cannot write syscalls.json: \(err)")
    }
    print("captured \(recorder.files.count) files into \(directory)")
    exit(0)
  }

  static func makeDirectories(_ path: String) {
    var current = ""
    for part in path.split(separator: "/") {
      current += (current.isEmpty && !path.hasPrefix("/") ? "" : "/") + part
      _ = Sys.mkdir(current, 0o755)
    }
  }
}
