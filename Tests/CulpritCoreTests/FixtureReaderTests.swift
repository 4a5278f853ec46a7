import Foundation
import Testing

@testable import CulpritCore

// The layer readers run against fixtures recorded from real systems (Fixtures/<name>/, see each
// PROVENANCE.md), and must find what is true there (FixtureFacts.all).

@Suite struct FixtureInventoryTests {
  @Test func everyFixtureHasItsFactsAndProvenance() throws {
    #expect(Fixtures.names == FixtureFacts.all.map(\.name).sorted())
    for name in Fixtures.names {
      let provenance = try String(contentsOfFile: Fixtures.directory + "/\(name)/PROVENANCE.md", encoding: .utf8)
      #expect(provenance.hasPrefix("# \(name)\n"), "\(name)/PROVENANCE.md does not start with its name")
      for section in ["**System:**", "**Recorded:**", "**Edited:**", "**True here"] {
        #expect(provenance.contains(section), "\(name)/PROVENANCE.md lacks \(section)")
      }
    }
  }

  /// Fixtures hold small text files only: no binary was copied in.
  @Test(arguments: Fixtures.names)
  func fixtureFilesAreSmallText(name: String) throws {
    let root = URL(fileURLWithPath: Fixtures.directory + "/" + name)
    let files = FileManager.default.enumerator(at: root, includingPropertiesForKeys: [.isRegularFileKey])!
    var total = 0
    for case let url as URL in files where (try url.resourceValues(forKeys: [.isRegularFileKey])).isRegularFile == true {
      let data = try Data(contentsOf: url)
      total += data.count
      #expect(data.count < 64 << 10, "\(url.path) is \(data.count) bytes")
      #expect(String(data: data, encoding: .utf8) != nil, "\(url.path) is not UTF-8 text")
    }
    #expect(total < 128 << 10, "\(name) holds \(total) bytes")
  }

  /// The capture keeps only harmless variables of the captured process's environment.
  @Test(arguments: Fixtures.names)
  func environmentHoldsNoSecrets(name: String) throws {
    let allowed: Set<String> = ["container", "KUBERNETES_SERVICE_HOST", "KUBERNETES_SERVICE_PORT", "HOSTNAME", "HOME", "PATH", "TERM"]
    let environ = try Fixtures.text(name, "/proc/self/environ")
    for entry in environ.split(separator: "\0") {
      let variable = String(entry.prefix(while: { $0 != "=" }))
      #expect(allowed.contains(variable), "\(name) keeps \(variable)")
    }
  }
}

@Suite struct FixtureKernelTests {
  @Test(arguments: FixtureFacts.all)
  func kernelAndImageLibc(facts: FixtureFacts) throws {
    let snapshot = try Fixtures.snapshot(facts.name)
    let kernel = try snapshot.kernel.get()
    #expect(kernel.uname.release == facts.release)
    #expect(kernel.machine == "x86_64")
    #expect(kernel.version == KernelVersion(release: facts.release))
    #expect(snapshot.libc.family == facts.libc)
    #expect(snapshot.libc.version == facts.libcVersion)
    switch facts.libc {
    case .glibc:
      #expect(snapshot.libc.path == "/lib/x86_64-linux-gnu/libc.so.6")
      #expect(snapshot.libc.usesClone3ForThreads(machine: "x86_64") == true)
      #expect(snapshot.libc.evidence.contains { $0.contains("release version 2.36") })
    case .none:
      #expect(snapshot.libc.path == nil)
      #expect(snapshot.libc.usesClone3ForThreads(machine: "x86_64") == nil)
      #expect(snapshot.hostInfo.libc == "none")
    case .musl:
      Issue.record("no musl fixture yet")
    }
  }
}

@Suite struct FixtureRuntimeTests {
  @Test(arguments: FixtureFacts.all)
  func runtimeIsDetected(facts: FixtureFacts) throws {
    let snapshot = try Fixtures.snapshot(facts.name)
    #expect(snapshot.runtime.runtime == facts.runtime, "\(snapshot.runtime.evidence)")
    #expect(snapshot.hostInfo.runtime == facts.runtime.rawValue)
  }

  /// The host has a /.dockerenv left from its image, but is no container.
  @Test func markerFileAloneInTheInitialPidNamespaceIsNotAContainer() throws {
    let detection = try Fixtures.snapshot("host-debian12-hybrid").runtime
    #expect(detection.runtime == .none)
    #expect(detection.evidence.contains { $0.hasPrefix("/.dockerenv exists") })
    #expect(detection.evidence.contains { $0.contains("the initial pid namespace, and no other mark agrees") })
  }

  @Test func podmanIsToldByItsEnvironmentFileAndCgroup() throws {
    let evidence = try Fixtures.snapshot("podman-default").runtime.evidence
    #expect(evidence.contains("/run/.containerenv exists (Podman creates it)."))
    #expect(evidence.contains("The environment holds container=podman."))
    #expect(evidence.contains { $0.hasPrefix("The cgroup path /libpod_parent/libpod-") })
  }

  /// The engines ran on data directories of their own (dockerd --data-root, podman --root and
  /// --runroot under /var/tmp): their bind mounts still name them.
  @Test func engineBindMountsAreRecognisedWhereverTheirDataRootIs() throws {
    for name in ["docker-debian-default", "docker-scratch-capdrop"] {
      let evidence = try Fixtures.snapshot(name).runtime.evidence
      #expect(evidence.contains {
        $0.contains(" is bind-mounted from /var/tmp/culprit-docker/data/containers/")
          && $0.hasSuffix(" (Docker's container directory).")
      }, "\(name): \(evidence)")
    }
    let podman = try Fixtures.snapshot("podman-default").runtime.evidence
    // Podman's mount order varies from run to run: any of its per-container files will do.
    #expect(podman.contains {
      $0.contains(" is bind-mounted from /var/tmp/culprit-podman/run/overlay-containers/")
        && $0.contains("/userdata/") && $0.hasSuffix(" (Podman's storage).")
    }, "\(podman)")
    // And nothing of the kind on the host or under runc.
    for name in ["host-debian12-hybrid", "runc-default", "cgroupv2-qemu"] {
      #expect(!(try Fixtures.snapshot(name).runtime.evidence.contains { $0.contains("bind-mounted from") }))
    }
  }

  @Test func containerFilePatterns() {
    let id = String(repeating: "0123456789abcdef", count: 4)
    #expect(RuntimeDetection.isDockerContainerFile("/var/lib/docker/containers/\(id)/hostname"))
    #expect(RuntimeDetection.isDockerContainerFile("/mnt/d/containers/\(id)/resolv.conf"))
    #expect(!RuntimeDetection.isDockerContainerFile("/mnt/d/containers/\(id)/config.v2.json"))
    #expect(!RuntimeDetection.isDockerContainerFile("/mnt/d/containers/short/hosts"))
    #expect(!RuntimeDetection.isDockerContainerFile("/containers/\(id.uppercased())/hosts"))
    #expect(!RuntimeDetection.isDockerContainerFile("/hosts"))
    #expect(RuntimeDetection.isContainersStorageFile("/run/containers/storage/overlay-containers/\(id)/userdata/hostname"))
    #expect(RuntimeDetection.isContainersStorageFile("/x/vfs-containers/\(id)/userdata/run/secrets"))
    #expect(!RuntimeDetection.isContainersStorageFile("/x/overlay-containers/\(id)"))
    #expect(!RuntimeDetection.isContainersStorageFile("/x/overlay-containers/\(id)/data/hosts"))
  }

  @Test func runcByHandIsAnUnmarkedContainer() throws {
    let evidence = try Fixtures.snapshot("runc-default").runtime.evidence
    #expect(evidence.first == "/proc/self/ns/pid is pid:[4026532180], not the initial pid namespace (4026531836).")
    #expect(evidence.contains("PID 1 is culprit-testkit."))
  }
}

@Suite struct FixtureCapabilityTests {
  @Test(arguments: FixtureFacts.all)
  func capabilitySets(facts: FixtureFacts) throws {
    let caps = try Fixtures.snapshot(facts.name).capabilities.get()
    #expect(caps.effective.bits == facts.effective)
    #expect(caps.permitted.bits == facts.effective)
    #expect(caps.bounding.bits == facts.bounding)
    #expect(caps.inheritable.bits == facts.inheritable)
    #expect(caps.ambient.bits == facts.ambient)
    #expect(caps.noNewPrivs == facts.noNewPrivs)
    #expect(caps.lastCap == 40)
    #expect(caps.effectiveClassification == facts.capabilityClass)
    #expect(caps.evidence.contains { $0.hasPrefix("/proc/self/status: CapInh ") })
  }

  /// Without /proc/self/status the readers fall back to capget(2) and prctl(2); the capture
  /// recorded both on the same process, so they must agree.
  @Test(arguments: FixtureFacts.all)
  func capgetFallbackAgreesWithStatus(facts: FixtureFacts) throws {
    let edited = EditedSystem(try Fixtures.system(facts.name)).fail("/proc/self/status", .permissionDenied)
    let snapshot = Snapshot(source: edited)
    let caps = try snapshot.capabilities.get()
    #expect(caps.effective.bits == facts.effective)
    #expect(caps.permitted.bits == facts.effective)
    #expect(caps.bounding.bits == facts.bounding)
    #expect(caps.inheritable.bits == facts.inheritable)
    #expect(caps.ambient.bits == facts.ambient)
    #expect(caps.noNewPrivs == facts.noNewPrivs)
    #expect(caps.evidence.contains("/proc/self/status could not be read: EACCES."))
    #expect(caps.evidence.contains { $0.hasPrefix("capget(2): effective \(CapabilitySet(bits: facts.effective).hex)") })
    #expect(snapshot.seccomp.mode == facts.seccomp)
    #expect(snapshot.seccomp.filters == nil, "Seccomp_filters has no syscall equivalent")
    #expect(snapshot.seccomp.evidence.contains("prctl(PR_GET_SECCOMP) returned \(facts.seccomp == .filter ? 2 : 0)."))
  }

  @Test func dockerDefaultDiffersFromPodmanDefaultByThree() throws {
    let docker = try Fixtures.snapshot("docker-debian-default").capabilities.get().effective
    let podman = try Fixtures.snapshot("podman-default").capabilities.get().effective
    #expect(docker.subtracting(podman).names == ["CAP_NET_RAW", "CAP_MKNOD", "CAP_AUDIT_WRITE"])
    #expect(podman.subtracting(docker).isEmpty)
  }
}

@Suite struct FixtureSeccompTests {
  @Test(arguments: FixtureFacts.all)
  func seccompModeAndFilters(facts: FixtureFacts) throws {
    let seccomp = try Fixtures.snapshot(facts.name).seccomp
    #expect(seccomp.mode == facts.seccomp)
    #expect(seccomp.filters == facts.seccompFilters)
    #expect(seccomp.actionsAvailable == ["kill_process", "kill_thread", "trap", "errno", "user_notif", "trace", "log", "allow"])
  }
}

@Suite struct FixtureCgroupTests {
  @Test(arguments: FixtureFacts.all)
  func versionNamespaceAndControllers(facts: FixtureFacts) throws {
    let cgroup = try Fixtures.snapshot(facts.name).cgroup
    #expect(cgroup.version == facts.cgroupVersion, "\(cgroup.evidence)")
    #expect(cgroup.namespace == facts.cgroupNamespace)
    #expect(cgroup.controllers == facts.cgroupControllers)
  }

  @Test(arguments: FixtureFacts.all)
  func limits(facts: FixtureFacts) throws {
    let cgroup = try Fixtures.snapshot(facts.name).cgroup
    switch facts.pids {
    case .limit(let max):
      #expect(cgroup.pids?.max == max)
    case .unlimited:
      #expect(cgroup.directories["pids"] != nil)
      #expect(cgroup.pids?.max == nil)
    case .notVisible:
      #expect(cgroup.directories["pids"] == nil)
      #expect(cgroup.pids == nil)
    }
    #expect(cgroup.pids?.current == facts.pidsCurrent)
    #expect(cgroup.pids?.refusals == facts.pidsRefusals)
    #expect(cgroup.memoryLimitBytes == facts.memoryLimit)
    #expect(cgroup.cpuQuota.map { [$0.quota, $0.period] } == facts.cpuQuota)
    #expect(cgroup.devicesList == facts.devicesList)
  }

  @Test func devicesListDecidesDeviceAccess() throws {
    let list = try #require(try Fixtures.snapshot("docker-debian-default").cgroup.devicesList)
    #expect(DeviceRule.listAllows(list, "r", type: "c", major: 1, minor: 3))  // /dev/null
    #expect(DeviceRule.listAllows(list, "m", type: "b", major: 8, minor: 0))  // mknod of any block device
    #expect(!DeviceRule.listAllows(list, "r", type: "b", major: 8, minor: 0))  // but not opening it
    #expect(!DeviceRule.listAllows(list, "w", type: "c", major: 1, minor: 1))  // /dev/mem
    #expect(DeviceRule.listAllows(list, "w", type: "c", major: 136, minor: 7))  // a pty
  }

  /// runc and Docker mount only the v1 hierarchies into a container on a hybrid host: v1 as
  /// the process sees it, but the evidence keeps the v2 line of /proc/self/cgroup in view.
  @Test func aContainerOnAHybridHostSeesV1AndIsToldWhy() throws {
    for (name, path) in [("runc-default", "/culprit-fx-default"), ("runc-userns", "/culprit-fx-userns")] {
      let cgroup = try Fixtures.snapshot(name).cgroup
      #expect(cgroup.version == .v1)
      #expect(cgroup.evidence.contains(
        "/proc/self/cgroup also names a v2 hierarchy (0::\(path)) that is not mounted here: the host runs hybrid, and only its v1 controllers are visible to this process."))
    }
    let host = try Fixtures.snapshot("host-debian12-hybrid").cgroup
    #expect(!host.evidence.contains { $0.contains("not mounted here") })
  }

  @Test func hybridHostFindsItsMemoryCgroupBelowTheRoot() throws {
    let cgroup = try Fixtures.snapshot("host-debian12-hybrid").cgroup
    #expect(cgroup.directories["memory"] == "/sys/fs/cgroup/memory/process_api/91ca2f7010cbebee2e4cbbc0c9427e01")
    #expect(cgroup.directories["pids"] == "/sys/fs/cgroup/pids")
    #expect(cgroup.directories["hugetlb"] == "/sys/fs/cgroup/unified")
    #expect(cgroup.evidence.contains("/sys/fs/cgroup/pids has no pids.max (the root cgroup has none): no pids limit applies here."))
  }

  /// After `unshare -C` without a new mount, /sys/fs/cgroup shows the root cgroup (root "/.."
  /// in mountinfo) while /proc/self/cgroup says "/": the root's files are not this process's.
  @Test func aMountFromOutsideTheCgroupNamespaceIsNotReadAsItsOwnCgroup() throws {
    let cgroup = try Fixtures.snapshot("cgroupv2-qemu-unshared").cgroup
    #expect(cgroup.memberships == [CgroupMembership(hierarchyID: 0, controllers: [], path: "/")])
    #expect(cgroup.directories.isEmpty)
    #expect(cgroup.controllers.isEmpty)
    #expect(cgroup.pids == nil && cgroup.memoryLimitBytes == nil && cgroup.cpuQuota == nil)
    #expect(cgroup.evidence.contains(
      "/sys/fs/cgroup has root /.. in /proc/self/mountinfo: it was mounted outside this process's cgroup namespace and shows an ancestor of its cgroup (/ in the namespace), whose files and limits are not this process's; its own cgroup cannot be named from here."))
  }

  @Test func v2InTheInitialNamespaceReadsItsOwnCgroupDirectory() throws {
    let cgroup = try Fixtures.snapshot("cgroupv2-qemu-hostns").cgroup
    #expect(cgroup.memberships == [CgroupMembership(hierarchyID: 0, controllers: [], path: "/culprit")])
    #expect(cgroup.pids?.directory == "/sys/fs/cgroup/culprit")
    #expect(cgroup.memoryLimitFile == "/sys/fs/cgroup/culprit/memory.max")
  }
}

@Suite struct FixtureUserNamespaceTests {
  @Test(arguments: FixtureFacts.all)
  func mapsAndInitial(facts: FixtureFacts) throws {
    let snapshot = try Fixtures.snapshot(facts.name)
    let userns = snapshot.userns
    #expect(userns.uidMap?.map { [$0.inside, $0.outside, $0.count] } == facts.uidMap)
    #expect(userns.gidMap?.map { [$0.inside, $0.outside, $0.count] } == facts.uidMap)
    #expect(userns.isInitial == facts.initialUserNamespace)
    #expect(userns.setgroups == "allow")
    #expect(userns.namespaceLink?.contains("4026531837") == facts.initialUserNamespace)
    #expect(snapshot.identity.uid == facts.uid)
  }
}

@Suite struct FixtureMountTests {
  @Test(arguments: FixtureFacts.all)
  func mountOptions(facts: FixtureFacts) throws {
    let table = try Fixtures.snapshot(facts.name).mounts.get()
    let root = try #require(table.mount(containing: "/"))
    #expect(root.isReadOnly == facts.rootReadOnly)
    #expect(table.mount(containing: "/proc/self/status")?.fsType == "proc")
    for check in facts.mounts {
      let mount = try #require(table.mounts.last { $0.mountPoint == check.mountPoint }, "no mount at \(check.mountPoint)")
      #expect(mount.fsType == check.fsType)
      for option in check.has {
        #expect(mount.options.contains(option) || mount.superOptions.contains(option), "\(check.mountPoint) lacks \(option)")
      }
      for option in check.lacks { #expect(!mount.options.contains(option), "\(check.mountPoint) has \(option)") }
    }
  }

  @Test func cgroupBindMountsCarryTheContainersCgroupAsRoot() throws {
    let table = try Fixtures.snapshot("runc-default").mounts.get()
    let pids = try #require(table.mount(containing: "/sys/fs/cgroup/pids/pids.max"))
    #expect(pids.root == "/culprit-fx-default")
    #expect(pids.superOptions == ["rw", "pids"])
    #expect(table.mount(containing: "/proc/keys")?.root == "/null")
  }
}

@Suite struct FixtureSecurityModuleTests {
  @Test(arguments: FixtureFacts.all)
  func yamaAndLSM(facts: FixtureFacts) throws {
    let snapshot = try Fixtures.snapshot(facts.name)
    #expect(snapshot.yama.scope == facts.yamaScope)
    #expect(snapshot.yama.present == (facts.yamaScope != nil))
    #expect(snapshot.lsm.active == facts.lsmActive)
    #expect(snapshot.lsm.appArmorProfile == facts.appArmorProfile)
    #expect(snapshot.lsm.appArmorEnabled == (facts.appArmorProfile == nil ? nil : true))
    #expect(snapshot.lsm.seLinuxContext == nil)
    #expect(snapshot.lsm.confinement == nil, "unconfined is no confinement")
  }
}

@Suite struct FixtureLimitsTests {
  @Test(arguments: FixtureFacts.all)
  func processLimits(facts: FixtureFacts) throws {
    let limits = try Fixtures.snapshot(facts.name).limits
    #expect(limits.nproc?.soft == facts.nprocSoft)
    #expect(limits.threadsMax != nil)
    #expect(limits.pidMax != nil)
  }
}

/// Every in-process probe, run on every fixture, gives a well-formed verdict that the JSON
/// contract accepts.
@Suite struct FixtureProbeTests {
  @Test(arguments: Fixtures.names)
  func probesAreWellFormed(name: String) throws {
    let results = runInProcessProbes(try Fixtures.snapshot(name))
    #expect(results.map(\.id) == ProbeCatalog.all.filter { $0.isolation == .inProcess }.map(\.id))
    for result in results {
      expectWellFormed(result, on: name)
      #expect(result.status == .info, "\(result.id) on \(name): \(result.summary)")
    }
  }

  @Test func everyInProcessProbeHasASchemaBlock() {
    for probe in ProbeCatalog.all where probe.isolation == .inProcess {
      #expect(SchemaFacts.keys(for: probe.id) != nil, "schema/report.schema.json has no facts block for \(probe.id)")
    }
  }

  @Test func reportsFollowTheSchema() throws {
    var documents: [(label: String, json: String)] = []
    for name in Fixtures.names {
      let snapshot = try Fixtures.snapshot(name)
      documents.append((name, report(snapshot, runInProcessProbes(snapshot)).json.serialized(pretty: false)))
    }
    #expect(try schemaErrors(documents) == [])
  }

  @Test func cgroupSummariesSayWhatLimits() throws {
    func summary(_ name: String) throws -> String {
      try #require(runInProcessProbes(try Fixtures.snapshot(name)).first { $0.id == "cgroup" }).summary
    }
    #expect(try summary("docker-scratch-capdrop")
      == "cgroup v1, host namespace; pids 1/64; memory limit 64 MiB; cpu limit 0.5 CPUs; devices allow-list of 12 rules")
    #expect(try summary("cgroupv2-qemu")
      == "cgroup v2, private namespace; pids 1/16; memory limit 256 MiB; cpu limit 0.5 CPUs; device access decided by a BPF program (not readable)")
    #expect(try summary("host-debian12-hybrid") == "cgroup hybrid, host namespace; no pids limit; all devices allowed")
    #expect(try summary("cgroupv2-qemu-unshared")
      == "cgroup v2, private namespace; pids controller not found (limit unknown); device access decided by a BPF program (not readable)")
  }
}
