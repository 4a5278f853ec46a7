import CCulprit
import CulpritCore

#if canImport(Glibc)
import Glibc
#endif

/// Synthetic probes that misbehave in every way a real one can, to test the runner for real.
struct DemoProbe: Probe {
  let id: String
  var title: String { "Demo \(id)" }
  var abstract: String { "synthetic probe \(id)" }
  var isolation: Isolation {
    id == "inprocess" ? .inProcess : .child(budgetMilliseconds: id == "hang-short" ? 800 : 5000)
  }

  func run(_ context: ProbeContext) -> ProbeResult {
    switch id {
    case "hang", "hang-short":
      context.step("sleeping forever")
      while true { Sys.sleep(milliseconds: 1000) }
    case "kill", "trap":
      context.step("getppid() under a filter that \(id == "kill" ? "kills" : "traps") it")
      do throws(SeccompFilter.Failure) {
        let filter = try SeccompFilter(defaultAction: .allow)
        try filter.add(id == "kill" ? .killProcess : .trap, syscall: SeccompFilter.resolve("getppid")!)
        try filter.load()
      } catch {
        return verdict(.error, "filter: \(error)")
      }
      _ = getppid()
      return verdict(.ok, "getppid returned")
    case "crash":
      context.step("writing through a bad pointer")
      UnsafeMutablePointer<Int>(bitPattern: 8)!.pointee = 1
      return verdict(.ok, "unreachable")
    case "garbage":
      _ = Sys.writeAll(1, [])
      Sys.exitImmediately(0)
    case "grandchild":
      // A grandchild that would sleep forever in the probe's process group.
      let pid = fork()
      if pid == 0 {
        while true { Sys.sleep(milliseconds: 1000) }
      }
      return verdict(.ok, "left a grandchild", facts: ["grandchild": .int(Int(pid))])
    case "hold":
      // Holds its task for a while, as getaddrinfo's or ptrace-attach's children do.
      context.step("holding a task for 300 ms")
      Sys.sleep(milliseconds: 300)
      return verdict(.ok, "held a task for 300 ms")
    case "fork":
      // Needs one more task, as the thread probe's pthread_create does.
      context.step("fork() of a child that exits at once")
      let pid = fork()
      if pid == 0 { Sys.exitImmediately(0) }
      if pid < 0 {
        let err = Errno(rawValue: errno)
        return verdict(.blocked, layer: .unknown, "fork failed with \(err.name)", facts: ["errno": .string(err.name)])
      }
      var status: Int32 = 0
      _ = waitpid(pid, &status, 0)
      return verdict(.ok, "fork worked")
    default:
      return verdict(.ok, "fine", evidence: ["pid \(getpid())"], facts: ["pid": .int(Int(getpid()))])
    }
  }
}

enum RunnerDemo {
  static func run(_ args: [String]) -> Never {
    var timeout = 10_000
    var cases: [String] = []
    var index = 0
    while index < args.count {
      if args[index] == "--timeout", index + 1 < args.count, let ms = Int(args[index + 1]) {
        timeout = ms
        index += 2
        continue
      }
      cases.append(args[index])
      index += 1
    }
    let snapshot = Snapshot()
    let outcome = Runner(timeoutMilliseconds: timeout).run(cases.map { DemoProbe(id: $0) }, snapshot: snapshot)
    let report = Report(
      host: snapshot.hostInfo, run: RunInfo(timeoutSeconds: Double(timeout) / 1000, forkWorked: outcome.forkError == nil),
      probes: outcome.results)
    _ = Sys.writeAll(1, Array(JSONRenderer.render(report).utf8))
    exit(0)
  }
}
