import Foundation
import Testing

/// The configuration probes under real restrictions: capabilities really dropped, a real
/// seccomp filter, no_new_privs, another uid, no /proc/sys, a read-only root.
@Suite struct LiveRestrictionTests {
  func facts(_ result: RunResult, _ id: String) throws -> [String: Any] {
    try #require(try result.probes()[id]?["facts"] as? [String: Any], "no facts for \(id): \(result.stdout.prefix(400)) \(result.stderr)")
  }

  @Test func droppedCapabilitiesAreReportedInEverySet() throws {
    let result = try culprit(["--format", "json", "--only", "capabilities"], jail: ["--drop-caps", "CAP_SYS_PTRACE,CAP_MKNOD,CAP_NET_RAW"])
    let caps = try facts(result, "capabilities")
    for set in ["effective", "permitted", "bounding"] {
      let names = try #require(caps[set] as? [Any]).compactMap { $0 as? String }
      #expect(!names.contains("CAP_SYS_PTRACE") && !names.contains("CAP_MKNOD") && !names.contains("CAP_NET_RAW"), "\(set): \(names)")
      #expect(names.contains("CAP_SYS_ADMIN"), "\(set) lost more than was dropped")
    }
    #expect(caps["missing_from_docker_default"] as? [String] == ["CAP_NET_RAW", "CAP_MKNOD"])
  }

  @Test func dockersDefaultSetIsRecognised() throws {
    let docker = "CAP_CHOWN,CAP_DAC_OVERRIDE,CAP_FSETID,CAP_FOWNER,CAP_MKNOD,CAP_NET_RAW,CAP_SETGID,CAP_SETUID,CAP_SETFCAP,CAP_SETPCAP,CAP_NET_BIND_SERVICE,CAP_SYS_CHROOT,CAP_KILL,CAP_AUDIT_WRITE"
    let result = try culprit(["--format", "json", "--only", "capabilities"], jail: ["--keep-caps", docker])
    let caps = try facts(result, "capabilities")
    #expect(caps["effective_class"] as? String == "docker-default")
    #expect((caps["effective"] as? [Any])?.count == 14)
    #expect(try result.probes()["capabilities"]?["summary"] as? String == "Effective set is Docker's default (14 capabilities)")
  }

  @Test func anotherUserHasNoEffectiveCapabilities() throws {
    let result = try culprit(["--format", "json", "--only", "capabilities"], jail: ["--user", "65534:65534"])
    let caps = try facts(result, "capabilities")
    #expect(caps["effective_class"] as? String == "empty")
    #expect((caps["effective"] as? [Any])?.isEmpty == true)
    #expect(((caps["bounding"] as? [Any])?.count ?? 0) > 14)
    let json = try result.json()
    #expect((json["host"] as? [String: Any])?["uid"] as? Int == 65534)
  }

  @Test func aSeccompFilterAndNoNewPrivsAreSeen() throws {
    // 400 is an unassigned x86_64 number: the filter changes nothing culprit relies on.
    let result = try culprit(["--format", "json", "--only", "seccomp,capabilities"], jail: ["--no-new-privs", "--seccomp-rule", "400=errno:EPERM"])
    let seccomp = try facts(result, "seccomp")
    #expect(seccomp["mode"] as? String == "filter")
    #expect(seccomp["filters"] as? Int == 1)
    #expect((seccomp["actions_avail"] as? [String])?.contains("kill_process") == true)
    #expect(try facts(result, "capabilities")["no_new_privs"] as? Bool == true)
    #expect(try schemaErrors(result.stdout) == [])
  }

  @Test func noProcSysStillGivesEveryVerdict() throws {
    // procfs with subset=pid (as some hardened runtimes mount it) has no /proc/sys.
    let script = "mount -t proc -o subset=pid proc /proc && exec \(Binaries.culprit) --format json"
    let result = try run(["/usr/bin/unshare", "-n", "-m", "-p", "-f", "/bin/sh", "-c", script])
    #expect(result.status == 0 || result.status == 1, "\(result.stderr)")
    #expect(try schemaErrors(result.stdout) == [])
    let probes = try result.probes()
    let yama = try #require(probes["ptrace-scope"])
    #expect((yama["facts"] as? [String: Any])?["yama_present"] is NSNull, "without /proc/sys Yama's presence is unknown")
    #expect((probes["seccomp"]?["facts"] as? [String: Any])?["actions_avail"] is NSNull)
    #expect((probes["capabilities"]?["evidence"] as? [String])?.contains { $0.contains("cap_last_cap could not be read") } == true)
  }

  @Test func aReadOnlyRootChangesNothingForTheConfigurationProbes() throws {
    let script = "mount --make-rprivate / && mount -o remount,ro,bind / && exec \(Binaries.culprit) --format json"
    let result = try run(["/usr/bin/unshare", "-n", "-m", "/bin/sh", "-c", script])
    #expect(result.status == 0 || result.status == 1, "\(result.stderr)")
    #expect(try schemaErrors(result.stdout) == [])
    #expect(try result.probes().values.allSatisfy { ($0["status"] as? String) != "error" })
  }
}
