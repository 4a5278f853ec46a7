import CulpritCore

#if canImport(Glibc)
import Glibc
#endif

/// Runs action probes through the real runner and prints, for each, what its child observed,
/// the snapshot facts it was judged with, and the verdict: a fixture for the judge tests
/// (scripts/vm-matrix.sh records these in the VM and in runc containers).
///
///   culprit-testkit observe PROBE[,PROBE...]      (probes other than the action ones run as usual)
enum Observe {
  /// An action probe whose result also carries its observations and snapshot facts.
  struct Recorded<P: ActionProbe>: Probe {
    let inner = P()
    var id: String { inner.id }
    var title: String { inner.title }
    var abstract: String { inner.abstract }
    var isolation: Isolation { inner.isolation }

    func record(_ observations: P.Observations, _ context: ProbeContext) -> ProbeResult {
      let facts = SnapshotFacts(context.snapshot)
      var result = P.judge(observations, facts)
      result.facts["observations"] = (try? JSONValueEncoder.encode(observations)) ?? .null
      result.facts["snapshot_facts"] = (try? JSONValueEncoder.encode(facts)) ?? .null
      return result
    }

    func run(_ context: ProbeContext) -> ProbeResult { record(inner.observe(context), context) }
    func interpret(_ outcome: ChildOutcome, context: ProbeContext) -> ProbeResult {
      record(inner.observations(after: outcome, context: context), context)
    }
    func runWithoutChild(_ context: ProbeContext, forkError: Errno) -> ProbeResult {
      record(inner.observationsWithoutChild(context, forkError: forkError), context)
    }
    func cleanUp(afterChild pid: Int32, context: ProbeContext) { inner.cleanUp(afterChild: pid, context: context) }
  }

  static let probes: [String: any Probe] = [
    "thread": Recorded<ThreadProbe>(),
    "ptrace-attach": Recorded<PtraceAttachProbe>(),
    "mknod": Recorded<MknodProbe>(),
  ]

  static func run(_ args: [String]) -> Never {
    guard args.count == 1 else { fail("usage: culprit-testkit observe PROBE[,PROBE...]") }
    var chosen: [any Probe] = []
    for id in args[0].split(separator: ",") {
      // Action probes are recorded; the other probes run as culprit runs them.
      guard let probe = probes[String(id)] ?? ProbeCatalog.probe(String(id)) else { fail("no probe \(id)") }
      chosen.append(probe)
    }
    let snapshot = Snapshot()
    let outcome = Runner(timeoutMilliseconds: 20_000).run(chosen, snapshot: snapshot)
    let report: JSONValue = [
      "host": snapshot.hostInfo.json,
      "probes": .array(outcome.results.map(\.json)),
    ]
    print(report.serialized(pretty: true))
    exit(0)
  }
}
