import CulpritCore
import Testing

@Suite struct ReportDiffTests {
  static let host = HostInfo(kernelRelease: "6.1.0-18-amd64", machine: "x86_64", hostname: "a", runtime: "docker", libc: "glibc 2.36", uid: 0, gid: 0)

  static func report(_ probes: [ProbeResult], host: HostInfo = host, profile: String? = nil) -> Report {
    Report(toolVersion: "1.0.0", host: host, run: RunInfo(timeoutSeconds: 10, seccompProfile: profile), probes: probes)
  }

  static func caps(_ effective: [JSONValue], nnp: Bool = false) -> ProbeResult {
    ProbeResult(
      id: "capabilities", title: "Capability sets", status: .info, summary: "s",
      facts: ["effective": .array(effective), "permitted": .array(effective), "bounding": .array(effective),
              "inheritable": [], "ambient": [], "no_new_privs": .bool(nnp)])
  }

  @Test func identicalReportsHaveNoDifference() {
    let r = Self.report([Self.caps(["CAP_CHOWN"])])
    let diff = ReportDiff(before: r, after: r)
    #expect(diff.isEmpty)
    #expect(!diff.gotWorse)
    #expect(diff.render(markdown: false).contains("No differences"))
  }

  @Test func aWorseVerdictIsFlaggedAndABetterOneIsNot() {
    let ok = ProbeResult(id: "thread", title: "Threads", status: .ok, summary: "threads work")
    let blocked = ProbeResult(id: "thread", title: "Threads", status: .blocked, layer: .seccomp, summary: "clone3 answers EPERM")
    let worse = ReportDiff(before: Self.report([ok]), after: Self.report([blocked]))
    #expect(worse.gotWorse)
    #expect(worse.render(markdown: false).contains("worse: thread: ok → blocked (seccomp) — clone3 answers EPERM"))
    let better = ReportDiff(before: Self.report([blocked]), after: Self.report([ok]))
    #expect(!better.gotWorse)
    #expect(better.render(markdown: true).contains("- better: thread: blocked (seccomp) → ok"))
  }

  @Test func aLayerChangeAtTheSameStatusIsReported() {
    let a = ProbeResult(id: "mknod", title: "m", status: .degraded, layer: .cgroupDevices, summary: "x")
    var b = a
    b.layer = .mount
    let diff = ReportDiff(before: Self.report([a]), after: Self.report([b]))
    #expect(diff.verdicts.count == 1 && !diff.gotWorse)
  }

  @Test func capabilitiesSeccompSyscallsAndCgroupChanges() {
    let seccompA = ProbeResult(id: "seccomp", title: "s", status: .info, summary: "s", facts: ["mode": "disabled", "filters": 0])
    let seccompB = ProbeResult(id: "seccomp", title: "s", status: .info, summary: "s", facts: ["mode": "filter", "filters": 1])
    let sysA = ProbeResult(id: "syscalls", title: "s", status: .ok, summary: "s",
                           facts: ["table": [["name": "clone3", "classification": "filtered-enosys"], ["name": "openat2", "classification": "allowed"]]])
    let sysB = ProbeResult(id: "syscalls", title: "s", status: .ok, summary: "s",
                           facts: ["table": [["name": "clone3", "classification": "filtered-eperm"], ["name": "openat2", "classification": "allowed"]]])
    let cgA = ProbeResult(id: "cgroup", title: "c", status: .info, summary: "c",
                          facts: ["version": "v2", "namespace": "private", "pids": ["max": nil, "current": 3], "memory_limit_bytes": nil, "cpu_quota": nil, "devices_list": nil])
    let cgB = ProbeResult(id: "cgroup", title: "c", status: .info, summary: "c",
                          facts: ["version": "v1", "namespace": "host", "pids": ["max": 100, "current": 3], "memory_limit_bytes": 536870912, "cpu_quota": nil, "devices_list": ["c *:* m"]])
    var hostB = Self.host
    hostB.kernelRelease = "5.4.0-100-generic"
    let diff = ReportDiff(
      before: Self.report([Self.caps(["CAP_CHOWN", "CAP_MKNOD"]), seccompA, sysA, cgA]),
      after: Self.report([Self.caps(["CAP_CHOWN", "CAP_SYS_PTRACE"], nnp: true), seccompB, sysB, cgB], host: hostB, profile: "p.json"))
    let text = diff.render(markdown: false)
    #expect(text.contains("effective: +CAP_SYS_PTRACE -CAP_MKNOD"))
    #expect(text.contains("no_new_privs: false → true"))
    #expect(text.contains("mode: disabled → filter"))
    #expect(text.contains("what-if profile: none → p.json"))
    #expect(text.contains("clone3: filtered-enosys → filtered-eperm"))
    #expect(!text.contains("openat2"))
    #expect(text.contains("kernel: 6.1.0-18-amd64 → 5.4.0-100-generic"))
    #expect(text.contains("version: v2 → v1"))
    #expect(text.contains("pids.max: max → 100"))
    #expect(text.contains("memory limit (bytes): none → 536870912"))
    #expect(text.contains("devices.list: none → c *:* m"))
    #expect(!diff.gotWorse)
  }

  @Test func aProbeOnlyOneReportHasIsListed() {
    let extra = ProbeResult(id: "syscalls", title: "s", status: .degraded, layer: .seccomp, summary: "faccessat2 EPERM")
    let diff = ReportDiff(before: Self.report([]), after: Self.report([extra]))
    #expect(diff.gotWorse)
    #expect(diff.render(markdown: false).contains("syscalls: not run → degraded (seccomp)"))
  }

  @Test func anotherSchemaVersionIsRefused() throws {
    #expect(throws: ContractError.self) { try Report(json: ["schemaVersion": 2, "probes": []]) }
    #expect(throws: ContractError.self) { try Report(json: ["probes": []]) }
    #expect(throws: ContractError.self) { try Report(json: ["schemaVersion": 1, "probes": [["id": "x"]]]) }
  }
}
