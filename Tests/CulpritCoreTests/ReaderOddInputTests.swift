import Foundation
import Testing

@testable import CulpritCore

// Parsers fed odd text, and readers run on real fixtures with one thing taken away or spoiled:
// every case must end in a clear verdict, never a crash.

@Suite struct ParserOddInputTests {
  @Test func procStatusIgnoresLinesWithoutAColon() {
    #expect(ProcStatus.parse("").fields.isEmpty)
    let status = ProcStatus.parse("garbage\n\n:\nCapEff:\tzz\nSeccomp:\t2\nName:\ta:b\n")
    #expect(status["CapEff"] == "zz")
    #expect(status.hex("CapEff") == nil)
    #expect(status.int("Seccomp") == 2)
    #expect(status["Name"] == "a:b")
    #expect(status[""] == "")
  }

  /// A kernel before 4.3 has no CapAmb, before 4.10 no NoNewPrivs, before 5.9 no Seccomp_filters.
  @Test func capabilitiesFromAnOldKernelsStatus() throws {
    let status = try Fixtures.text("docker-debian-default", "/proc/self/status")
    let old = status.split(separator: "\n").filter {
      !$0.hasPrefix("CapAmb:") && !$0.hasPrefix("NoNewPrivs:") && !$0.hasPrefix("Seccomp_filters:")
    }.joined(separator: "\n")
    let caps = try #require(CapabilityState.parse(ProcStatus.parse(old).fields, lastCap: nil))
    #expect(caps.effective == .dockerDefault)
    #expect(caps.ambient.isEmpty)
    #expect(caps.noNewPrivs == nil)
    #expect(caps.lastCap == 40, "without cap_last_cap, the names go up to at least 40")
  }

  @Test func capabilitiesNeedTheFourSets() {
    let fields = ["CapInh": "0", "CapPrm": "a80425fb", "CapEff": "a80425fb"]
    #expect(CapabilityState.parse(fields, lastCap: 40) == nil)
    #expect(CapabilityState.parse(fields.merging(["CapBnd": "not hex"]) { $1 }, lastCap: 40) == nil)
    #expect(CapabilityState.parse(fields.merging(["CapBnd": "a80425fb"]) { $1 }, lastCap: 40) != nil)
  }

  @Test func cgroupMembershipsSkipGarbage() {
    #expect(CgroupState.parseMemberships("").isEmpty)
    let parsed = CgroupState.parseMemberships("garbage\n12:pids\nx:pids:/a\n4:cpu,cpuacct:/a:b\n0::/\n")
    #expect(parsed == [
      CgroupMembership(hierarchyID: 4, controllers: ["cpu", "cpuacct"], path: "/a:b"),
      CgroupMembership(hierarchyID: 0, controllers: [], path: "/"),
    ])
  }

  @Test func pidsEventsAndLimits() {
    #expect(CgroupState.parsePidsEvents("") == nil)
    #expect(CgroupState.parsePidsEvents("max") == nil)
    #expect(CgroupState.parsePidsEvents("max x\n") == nil)
    #expect(CgroupState.parsePidsEvents("max 3\n") == 3)
    #expect(CgroupState.parsePidsEvents("max.imposed 1\nmax 3\n") == 3)
    #expect(CgroupState.parseLimit(nil) == (nil, false))
    #expect(CgroupState.parseLimit("") == (nil, false))
    #expect(CgroupState.parseLimit("max\n") == (nil, true))
    #expect(CgroupState.parseLimit(" 42 \n") == (42, true))
    #expect(CgroupState.parseLimit("-1") == (nil, false))
    #expect(CgroupState.parseLimit("lots") == (nil, false))
  }

  @Test func mountinfoSkipsMalformedLinesAndUnescapes() {
    #expect(MountTable.parse("").mounts.isEmpty)
    let text = """
      garbage
      1 2 3 4 5 6 7 8 9
      36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue
      40 36 0:50 / /mnt/with\\040space ro,nodev - tmpfs none rw
      41 36 0:51 / /no/super rw - tmpfs
      """
    let table = MountTable.parse(text)
    #expect(table.mounts.map(\.mountPoint) == ["/mnt2", "/mnt/with space"])
    #expect(table.mounts[0].root == "/mnt1")
    #expect(table.mounts[0].superOptions == ["rw", "errors=continue"])
    #expect(table.mounts[1].isReadOnly && table.mounts[1].isNoDev)
    #expect(table.mount(containing: "/mnt/with space/file")?.fsType == "tmpfs")
    #expect(table.mount(containing: "/elsewhere") == nil)
  }

  @Test func idMapsSkipGarbage() {
    #expect(UserNamespaceState.parseMap("").isEmpty)
    #expect(UserNamespaceState.parseMap("garbage\n0 0\n0 0 1 2\n-1 0 1\n").isEmpty)
    #expect(UserNamespaceState.parseMap("         0     100000      65536\n")
      == [UserNamespaceState.Range(inside: 0, outside: 100_000, count: 65536)])
  }

  @Test func deviceRulesRejectGarbage() {
    for line in ["", "a", "x 1:1 rwm", "c 1 rwm", "c 1:1", "c 1:1:1 rwm"] {
      #expect(DeviceRule(line) == nil, "\(line)")
    }
    #expect(DeviceRule("c *:* m")?.allows("m", type: "c", major: 4, minor: 2) == true)
    #expect(DeviceRule("c *:* m")?.allows("r", type: "c", major: 4, minor: 2) == false)
    #expect(DeviceRule("a *:* rwm")?.allows("w", type: "b", major: 8, minor: 0) == true)
    #expect(DeviceRule.listAllows([], "r", type: "c", major: 1, minor: 3) == false)
  }

  @Test func kernelVersions() {
    #expect(KernelVersion(release: "") == nil)
    #expect(KernelVersion(release: "abc") == nil)
    #expect(KernelVersion(release: "6") == nil)
    #expect(KernelVersion(release: "5.15") == KernelVersion(5, 15))
    #expect(KernelVersion(release: "4.19.0-0.bpo.6-amd64") == KernelVersion(4, 19, 0))
    #expect(KernelVersion(release: "6.1.0-56-amd64") == KernelVersion(6, 1, 0))
    #expect(KernelVersion(release: "6.18.44-fc-v657") == KernelVersion(6, 18, 44))
    #expect(KernelVersion(release: "99999999999999999999.1") == nil)
    #expect(ImageLibc.upstreamVersion("2.36-9+deb12u4") == "2.36")
    #expect(ImageLibc.upstreamVersion("1:2.31-0ubuntu9") == "2.31")
    #expect(ImageLibc.upstreamVersion("1.2.4-r2") == "1.2.4")
  }
}

/// Readers on real fixtures with one file or call taken away or spoiled.
@Suite struct ReaderOddInputTests {
  static let hybridDocker = "docker-debian-default"

  /// Status from a 4.x kernel: no CapAmb, NoNewPrivs or Seccomp_filters.
  @Test func statusWithoutNewerFields() throws {
    let base = try Fixtures.system(Self.hybridDocker)
    let status = try Fixtures.text(Self.hybridDocker, "/proc/self/status").split(separator: "\n").filter {
      !$0.hasPrefix("CapAmb:") && !$0.hasPrefix("NoNewPrivs:") && !$0.hasPrefix("Seccomp_filters:")
    }.joined(separator: "\n")
    let snapshot = Snapshot(source: EditedSystem(base).set("/proc/self/status", status))
    #expect(snapshot.seccomp.mode == .filter)
    #expect(snapshot.seccomp.filters == nil)
    let caps = try snapshot.capabilities.get()
    #expect(caps.ambient.isEmpty && caps.noNewPrivs == nil)
    let results = runInProcessProbes(snapshot)
    let seccomp = try #require(results.first { $0.id == "seccomp" })
    #expect(seccomp.facts["filters"] == .null)
    #expect(seccomp.summary == "A seccomp filter is installed; what it blocks is found by the thread, ptrace-attach, mknod and syscalls probes")
    let capabilities = try #require(results.first { $0.id == "capabilities" })
    #expect(capabilities.facts["no_new_privs"] == .null)
    for result in results { expectWellFormed(result, on: "status without newer fields") }
  }

  @Test func emptyStatusFallsBackToCapget() throws {
    let snapshot = Snapshot(source: EditedSystem(try Fixtures.system(Self.hybridDocker)).set("/proc/self/status", ""))
    let caps = try snapshot.capabilities.get()
    #expect(caps.effective == .dockerDefault)
    #expect(caps.evidence.contains("/proc/self/status has no CapInh/CapPrm/CapEff/CapBnd fields."))
    #expect(caps.evidence.contains { $0.hasPrefix("capget(2): effective 00000000a80425fb") })
    #expect(snapshot.seccomp.mode == .filter)
    #expect(snapshot.seccomp.evidence.contains("prctl(PR_GET_SECCOMP) returned 2."))
  }

  @Test func neitherStatusNorCapgetGivesASkippedVerdict() throws {
    let edited = EditedSystem(try Fixtures.system(Self.hybridDocker)).fail("/proc/self/status", .permissionDenied)
    edited.capget = .failure(.notPermitted)
    let snapshot = Snapshot(source: edited)
    let results = runInProcessProbes(snapshot)
    let capabilities = try #require(results.first { $0.id == "capabilities" })
    #expect(capabilities.status == .skipped)
    #expect(capabilities.evidence == [
      "/proc/sys/kernel/cap_last_cap is 40.", "/proc/self/status could not be read: EACCES.", "capget(2) failed: EPERM.",
    ])
    let seccomp = try #require(results.first { $0.id == "seccomp" })
    #expect(seccomp.summary == "The seccomp mode could not be read")
    #expect(seccomp.facts["mode"] == .null)
    for result in results { expectWellFormed(result, on: "no status, no capget") }
  }

  /// No /sys/fs/cgroup at all (not mounted): the version still comes from /proc/self/cgroup,
  /// but no limit can be read, and none may be claimed.
  @Test func noCgroupFilesystem() throws {
    let base = try Fixtures.system(Self.hybridDocker)
    let mountinfo = try Fixtures.text(Self.hybridDocker, "/proc/self/mountinfo").split(separator: "\n")
      .filter { !$0.contains("/sys/fs/cgroup") }.joined(separator: "\n")
    let edited = EditedSystem(base).set("/proc/self/mountinfo", mountinfo).fail("/sys/fs/cgroup")
    let snapshot = Snapshot(source: edited)
    let cgroup = snapshot.cgroup
    #expect(cgroup.version == .hybrid)
    #expect(cgroup.evidence.contains("statfs(/sys/fs/cgroup) failed: ENOENT."))
    #expect(cgroup.evidence.contains("/proc/self/cgroup has numbered hierarchies and a 0:: line: hybrid."))
    #expect(cgroup.directories.isEmpty && cgroup.pids == nil && cgroup.devicesList == nil)
    let probe = try #require(runInProcessProbes(snapshot).first { $0.id == "cgroup" })
    expectWellFormed(probe, on: "no /sys/fs/cgroup")
    #expect(!probe.summary.contains("no pids limit"), "nothing was read, so no limit may be denied: \(probe.summary)")
    #expect(probe.summary == "cgroup hybrid, host namespace; pids controller not found (limit unknown)")
    #expect(probe.evidence.contains("No pids controller was found for this process's cgroup, so whether a pids limit applies cannot be told."))
  }

  @Test func noCgroupInformationAtAll() throws {
    let edited = EditedSystem(try Fixtures.system(Self.hybridDocker)).fail("/sys/fs/cgroup").fail("/proc/self/cgroup")
    let snapshot = Snapshot(source: edited)
    #expect(snapshot.cgroup.version == nil)
    let probe = try #require(runInProcessProbes(snapshot).first { $0.id == "cgroup" })
    #expect(probe.status == .skipped)
    #expect(probe.evidence.contains("/proc/self/cgroup could not be read: ENOENT."))
    #expect(probe.evidence.contains("statfs(/sys/fs/cgroup) failed: ENOENT."))
    expectWellFormed(probe, on: "no cgroup information")
  }

  /// Without mountinfo, a v2 process in the initial cgroup namespace still finds its own
  /// cgroup's directory from /proc/self/cgroup, not the root's.
  @Test func v2WithoutMountinfoFollowsTheMembershipPath() throws {
    let edited = EditedSystem(try Fixtures.system("cgroupv2-qemu-hostns")).fail("/proc/self/mountinfo")
    let cgroup = Snapshot(source: edited).cgroup
    #expect(cgroup.version == .v2)
    #expect(cgroup.directories["pids"] == "/sys/fs/cgroup/culprit")
    #expect(cgroup.pids?.max == 16)
    #expect(cgroup.memoryLimitBytes == 268_435_456)
    #expect(cgroup.evidence.contains("Taken as this process's cgroup: /sys/fs/cgroup/culprit; /sys/fs/cgroup/culprit/cgroup.controllers: cpu memory pids."))
  }

  @Test func v2WithoutMountinfoInAPrivateNamespaceReadsTheMountPoint() throws {
    let edited = EditedSystem(try Fixtures.system("cgroupv2-qemu")).fail("/proc/self/mountinfo")
    let cgroup = Snapshot(source: edited).cgroup
    #expect(cgroup.directories["pids"] == "/sys/fs/cgroup")
    #expect(cgroup.pids?.max == 16)
  }

  @Test func v1WithoutMountinfoReadsTheControllerMounts() throws {
    let edited = EditedSystem(try Fixtures.system("docker-scratch-capdrop")).fail("/proc/self/mountinfo")
    let cgroup = Snapshot(source: edited).cgroup
    #expect(cgroup.version == .v1)
    #expect(cgroup.pids?.max == 64)
    #expect(cgroup.memoryLimitBytes == 67_108_864)
    #expect(cgroup.devicesList?.count == 12)
  }

  @Test func unreadableDevicesList() throws {
    let edited = EditedSystem(try Fixtures.system(Self.hybridDocker)).fail("/sys/fs/cgroup/devices/devices.list", .permissionDenied)
    let cgroup = Snapshot(source: edited).cgroup
    #expect(cgroup.devicesList == nil)
    #expect(cgroup.evidence.contains("/sys/fs/cgroup/devices/devices.list could not be read: EACCES."))
  }

  @Test func unlimitedV2FilesAreNoLimits() throws {
    let edited = EditedSystem(try Fixtures.system("cgroupv2-qemu"))
      .set("/sys/fs/cgroup/memory.max", "max\n").set("/sys/fs/cgroup/cpu.max", "max 100000\n").set("/sys/fs/cgroup/pids.max", "max\n")
    let cgroup = Snapshot(source: edited).cgroup
    #expect(cgroup.memoryLimitBytes == nil && cgroup.cpuQuota == nil)
    #expect(cgroup.pids?.max == nil && cgroup.pids?.current == 1)
  }

  @Test func garbageCgroupFiles() throws {
    let edited = EditedSystem(try Fixtures.system("cgroupv2-qemu"))
      .set("/sys/fs/cgroup/memory.max", "lots\n").set("/sys/fs/cgroup/cpu.max", "\n")
      .set("/sys/fs/cgroup/pids.max", "18446744073709551615\n").set("/sys/fs/cgroup/pids.current", "-\n")
      .set("/sys/fs/cgroup/pids.events", "max\n")
    let snapshot = Snapshot(source: edited)
    let cgroup = snapshot.cgroup
    #expect(cgroup.memoryLimitBytes == nil && cgroup.cpuQuota == nil)
    #expect(cgroup.pids?.max == nil && cgroup.pids?.current == nil && cgroup.pids?.refusals == nil)
    #expect(cgroup.evidence.contains("/sys/fs/cgroup/pids.max: 18446744073709551615 (not a pids limit); pids.current: unreadable."))
    let probe = try #require(runInProcessProbes(snapshot).first { $0.id == "cgroup" })
    expectWellFormed(probe, on: "garbage cgroup files")
  }

  @Test(arguments: ["-7", "abc", "", "64", "999999999999999999999"])
  func oddCapLastCap(value: String) throws {
    let snapshot = Snapshot(source: EditedSystem(try Fixtures.system("host-debian12-hybrid")).set(CapabilityState.capLastCapPath, value + "\n"))
    let caps = try snapshot.capabilities.get()
    #expect((0...63).contains(caps.lastCap))
    #expect(caps.evidence.contains { $0.hasPrefix("\(CapabilityState.capLastCapPath) ") })
    let probe = try #require(runInProcessProbes(snapshot).first { $0.id == "capabilities" })
    expectWellFormed(probe, on: "cap_last_cap \(value)")
    #expect(try schemaErrors([("cap_last_cap \(value)", report(snapshot, [probe]).json.serialized(pretty: false))]) == [])
  }

  @Test(arguments: ["0 0 18446744073709551615", "4294967296 0 1", "0 0 4294967295\n0 0 18446744073709551616"])
  func oddIDMaps(map: String) throws {
    let snapshot = Snapshot(source: EditedSystem(try Fixtures.system("runc-userns")).set("/proc/self/uid_map", map + "\n"))
    #expect(snapshot.userns.uidMap == nil)
    #expect(snapshot.userns.isInitial == false, "the namespace link user:[4026532177] still tells")
    #expect(snapshot.userns.evidence.contains { $0.hasPrefix("/proc/self/uid_map holds \"") && $0.hasSuffix("the map is not used.") })
    let probe = try #require(runInProcessProbes(snapshot).first { $0.id == "userns" })
    expectWellFormed(probe, on: "uid_map \(map)")
    #expect(try schemaErrors([("uid_map \(map)", report(snapshot, [probe]).json.serialized(pretty: false))]) == [])
  }

  @Test func anEmptyUIDMapIsAUserNamespaceWithNothingMapped() throws {
    let snapshot = Snapshot(source: EditedSystem(try Fixtures.system("runc-userns")).set("/proc/self/uid_map", ""))
    #expect(snapshot.userns.uidMap == [])
    #expect(snapshot.userns.isInitial == false)
    #expect(snapshot.userns.evidence.contains("/proc/self/uid_map: (empty: no ids mapped)."))
    #expect(runInProcessProbes(snapshot).first { $0.id == "userns" }?.summary == "A user namespace (the uid map is empty)")
  }

  @Test func unreadableIDMapsFallBackToTheNamespaceLink() throws {
    let edited = EditedSystem(try Fixtures.system("runc-userns")).fail("/proc/self/uid_map", .permissionDenied)
    let userns = Snapshot(source: edited).userns
    #expect(userns.uidMap == nil)
    #expect(userns.isInitial == false)
    #expect(userns.evidence.contains("/proc/self/uid_map could not be read: EACCES."))
    let probe = try #require(runInProcessProbes(Snapshot(source: edited)).first { $0.id == "userns" })
    #expect(probe.summary == "A user namespace (told by /proc/self/ns/user; the uid map could not be read)")
  }

  @Test(arguments: ["7", "-1", "", "two"])
  func oddPtraceScope(value: String) throws {
    let snapshot = Snapshot(source: EditedSystem(try Fixtures.system("cgroupv2-qemu")).set(YamaState.path, value + "\n"))
    #expect(snapshot.yama.scope == nil)
    let probe = try #require(runInProcessProbes(snapshot).first { $0.id == "ptrace-scope" })
    expectWellFormed(probe, on: "ptrace_scope \(value)")
    #expect(probe.summary == "Yama is active but ptrace_scope holds no valid value, so how it restricts attaching is unknown")
    #expect(snapshot.yama.present == true)
    #expect(try schemaErrors([("ptrace_scope \(value)", report(snapshot, [probe]).json.serialized(pretty: false))]) == [])
  }

  @Test func unameFails() throws {
    let edited = EditedSystem(try Fixtures.system(Self.hybridDocker))
    edited.unameResult = .failure(.notPermitted)
    let snapshot = Snapshot(source: edited)
    let kernel = try #require(runInProcessProbes(snapshot).first { $0.id == "kernel" })
    #expect(kernel.summary.hasPrefix("Kernel unknown (uname failed)"))
    #expect(kernel.evidence.first == "uname(2) failed: EPERM.")
    #expect(kernel.facts["release"] == .null)
    #expect(snapshot.hostInfo.kernelRelease == "unknown")
    expectWellFormed(kernel, on: "uname failing")
  }

  @Test func garbageMountinfoAndCgroup() throws {
    let edited = EditedSystem(try Fixtures.system(Self.hybridDocker))
      .set("/proc/self/mountinfo", "not\na mount table\n").set("/proc/self/cgroup", "neither\n")
    let snapshot = Snapshot(source: edited)
    #expect(try snapshot.mounts.get().mounts.isEmpty)
    #expect(snapshot.cgroup.memberships.isEmpty)
    #expect(snapshot.cgroup.evidence.contains("/proc/self/cgroup: (empty)."))
    for result in runInProcessProbes(snapshot) { expectWellFormed(result, on: "garbage mountinfo and cgroup") }
  }

  /// A system where nothing can be read: every probe still answers, and the report keeps the
  /// contract.
  @Test(arguments: [Errno.noSuchFile, .permissionDenied])
  func nothingReadable(error: Errno) throws {
    let snapshot = Snapshot(source: NothingSystem(error))
    let results = runInProcessProbes(snapshot)
    for result in results { expectWellFormed(result, on: "nothing readable (\(error.name))") }
    #expect(results.first { $0.id == "capabilities" }?.status == .skipped)
    #expect(results.first { $0.id == "cgroup" }?.status == .skipped)
    #expect(snapshot.libc.family == .none)
    #expect(snapshot.runtime.runtime == .none)
    #expect(snapshot.userns.isInitial == nil)
    #expect(try schemaErrors([("nothing readable", report(snapshot, results).json.serialized(pretty: false))]) == [])
  }
}
