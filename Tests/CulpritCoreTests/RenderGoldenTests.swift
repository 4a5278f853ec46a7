import CulpritCore
import Foundation
import Testing

/// The three formats of one fixed report, compared byte for byte with Golden/. To re-record
/// after an intended change: CULPRIT_RECORD_GOLDEN=1 swift test --filter RenderGoldenTests, then
/// read the diff.
@Suite struct RenderGoldenTests {
  static let goldenDirectory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Golden")

  /// A report with every status, a layer on the failing probes, evidence, hints, facts, and the
  /// characters each format must escape.
  static let report = Report(
    toolVersion: "9.9.9",
    host: HostInfo(
      kernelRelease: "5.15.0-91-generic", machine: "x86_64", hostname: "ci-runner-7", runtime: "docker",
      libc: "glibc 2.35", uid: 0, gid: 0),
    run: RunInfo(timeoutSeconds: 10, only: nil, seccompProfile: nil, durationMilliseconds: 23, forkWorked: true),
    probes: [
      ProbeResult(
        id: "kernel", title: "Kernel and image libc", status: .info,
        summary: "Linux 5.15.0-91-generic x86_64; image libc: glibc 2.35, whose pthread_create tries clone3 first",
        evidence: ["uname(2): Linux 5.15.0-91-generic x86_64."],
        facts: ["release": "5.15.0-91-generic", "libc": ["family": "glibc", "version": "2.35", "path": "/lib/x86_64-linux-gnu/libc.so.6"]]),
      ProbeResult(
        id: "thread", title: "Thread creation", status: .blocked, layer: .seccomp,
        summary: "clone3 answers EPERM: every pthread_create of glibc ≥ 2.34 fails",
        evidence: [
          "clone3(NULL, 0) returned -1 EPERM (Operation not permitted); the kernel itself answers EINVAL, so a seccomp filter answered.",
          "pthread_create returned EPERM.",
        ],
        hint: "Docker ≥ 20.10.10 answers ENOSYS for clone3; or add {\"names\": [\"clone3\"], \"action\": \"SCMP_ACT_ERRNO\", \"errnoRet\": 38} to the profile.",
        facts: ["clone3": "EPERM", "pthread_create": "EPERM", "threads_work": false]),
      ProbeResult(
        id: "mknod", title: "Device nodes", status: .degraded, layer: .cgroupDevices,
        summary: "Nodes are created but devices cannot be opened | <the devices cgroup>",
        evidence: ["open(c 240:0) returned EPERM; devices.list has no rule for c 240:0."],
        hint: "docker run --device-cgroup-rule 'c 240:* rwm'", facts: [:]),
      ProbeResult(
        id: "ptrace-attach", title: "ptrace attach", status: .ok, summary: "Attached to a child and to a sibling"),
      ProbeResult(
        id: "getaddrinfo", title: "Name resolution", status: .skipped,
        summary: "Not run: culprit could not create a child process to run it safely (fork failed with EAGAIN).",
        evidence: ["fork() returned -1 EAGAIN (Resource temporarily unavailable)."]),
      ProbeResult(
        id: "lsm", title: "Security modules", status: .error,
        summary: "The probe's process died from SIGSEGV: a bug in culprit.",
        evidence: ["The probe's child was ended by SIGSEGV."], hint: "Please report this."),
    ])

  static func check(_ name: String, _ rendered: String) throws {
    let url = goldenDirectory.appendingPathComponent(name)
    if ProcessInfo.processInfo.environment["CULPRIT_RECORD_GOLDEN"] != nil {
      try rendered.write(to: url, atomically: true, encoding: .utf8)
      return
    }
    let expected = try String(contentsOf: url, encoding: .utf8)
    #expect(rendered == expected, "\(name) differs from the golden file; re-record with CULPRIT_RECORD_GOLDEN=1 if intended")
  }

  @Test func text() throws { try Self.check("report.txt", OutputFormat.text.render(Self.report)) }

  @Test func textInColour() throws {
    try Self.check("report.color.txt", OutputFormat.text.render(Self.report, color: true))
  }

  @Test func json() throws { try Self.check("report.json", OutputFormat.json.render(Self.report)) }

  @Test func markdown() throws { try Self.check("report.md", OutputFormat.markdown.render(Self.report)) }

  @Test func jsonRoundTripsThroughTheContractReader() throws {
    let parsed = try Report(json: JSONValue.parse(OutputFormat.json.render(Self.report)))
    #expect(parsed == Self.report)
  }

  @Test func whatIfAndForkFailureAreAnnounced() throws {
    var report = Self.report
    report.run.seccompProfile = "/profiles/docker-20.10.9.json"
    report.run.forkWorked = false
    let text = OutputFormat.text.render(report)
    #expect(text.contains("what-if: probes ran under the seccomp profile /profiles/docker-20.10.9.json"))
    #expect(text.contains("could not always create a child process"))
    let markdown = OutputFormat.markdown.render(report)
    #expect(markdown.contains("| What-if seccomp profile | `/profiles/docker-20.10.9.json` |"))
    #expect(markdown.contains("| Note | culprit could not always create a child process"))
  }
}
