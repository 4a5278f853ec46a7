import Foundation
import Testing

/// The getaddrinfo probe against a real loopback DNS server (dnsmasq) in a network namespace of
/// its own, real resolver files, real seccomp filters and a real pids cgroup.
@Suite struct GetaddrinfoProbeTests {
  func getaddrinfo(_ sandbox: DNSSandbox = DNSSandbox(), names: [String] = ["test.culprit"], jail: [String] = [])
    throws -> (RunResult, [String: Any])
  {
    let result = try sandbox.culprit(["--format", "json", "--only", "getaddrinfo"] + names.flatMap { ["--resolve", $0] }, jail: jail)
    #expect(try schemaErrors(result.stdout) == [], "stderr: \(result.stderr)")
    return (result, try result.probe("getaddrinfo"))
  }

  func lookups(_ probe: [String: Any]) -> [String: [String: Any]] {
    var byName: [String: [String: Any]] = [:]
    for entry in probe.fact("names") as? [[String: Any]] ?? [] { byName[entry["name"] as! String] = entry }
    return byName
  }

  @Test func loopbackServerAnswersBothWays() throws {
    let (result, probe) = try getaddrinfo()
    #expect(probe["status"] as? String == "ok", "\(probe)")
    let names = lookups(probe)
    for variant in ["main_thread", "new_thread"] {
      let lookup = try #require(names["test.culprit"]?[variant] as? [String: Any])
      #expect(lookup["status"] as? String == "resolved")
      #expect(lookup["addresses"] as? [String] == ["127.0.0.42"])
      #expect((names["localhost"]?[variant] as? [String: Any])?["status"] as? String == "resolved")
    }
    let servers = try #require(probe.fact("nameservers") as? [[String: Any]])
    #expect(servers.count == 1 && servers[0]["reachable"] as? Bool == true)
    let answers = try #require(servers[0]["answers"] as? [[String: Any]])
    #expect(answers.contains { $0["name"] as? String == "test.culprit" && $0["addresses"] as? [String] == ["127.0.0.42"] })
    #expect((probe["evidence"] as? [String])?.contains { $0.contains("127.0.0.42") } == true)
    #expect(result.seconds < 10)
  }

  @Test func nameThatDoesNotExist() throws {
    let (_, probe) = try getaddrinfo(names: ["nx.culprit"])
    #expect(probe["status"] as? String == "degraded", "localhost still resolves")
    #expect(probe["layer"] as? String == "resolver-config")
    let lookup = try #require(lookups(probe)["nx.culprit"]?["main_thread"] as? [String: Any])
    #expect(lookup["error"] as? String == "EAI_NONAME")
    #expect((probe["evidence"] as? [String])?.contains { $0.contains("no such name exists") } == true)
  }

  @Test func nameserverWhereNothingListens() throws {
    var sandbox = DNSSandbox()
    sandbox.resolvConf = "nameserver 127.0.0.2\n"
    let (_, probe) = try getaddrinfo(sandbox)
    #expect(probe["status"] as? String == "degraded")
    #expect(probe["layer"] as? String == "network")
    let servers = try #require(probe.fact("nameservers") as? [[String: Any]])
    #expect(servers.first?["reachable"] as? Bool == false)
    let answers = try #require(servers.first?["answers"] as? [[String: Any]])
    #expect(answers.allSatisfy { $0["error"] as? String == "ECONNREFUSED" })
    #expect((probe["summary"] as? String)?.contains("no nameserver answers") == true)
  }

  @Test func noNetworkAtAll() throws {
    // lo is up but no route leads to this address: the query fails at once, nothing is sent.
    var sandbox = DNSSandbox()
    sandbox.dnsmasq = nil
    sandbox.resolvConf = "nameserver 192.0.2.53\n"
    let (result, probe) = try getaddrinfo(sandbox)
    #expect(probe["layer"] as? String == "network")
    let servers = try #require(probe.fact("nameservers") as? [[String: Any]])
    #expect((servers.first?["answers"] as? [[String: Any]])?.first?["error"] as? String == "ENETUNREACH")
    #expect(result.seconds < 5)
  }

  @Test func missingResolverFiles() throws {
    var sandbox = DNSSandbox()
    sandbox.dnsmasq = nil
    sandbox.resolvConf = nil
    sandbox.nsswitch = nil
    let (result, probe) = try getaddrinfo(sandbox, names: [])
    #expect(result.status == 0 || result.status == 1)
    #expect(probe["layer"] as? String == "resolver-config", "\(probe)")
    #expect(probe.fact("resolv_conf", "exists") as? Bool == false)
    #expect(probe.fact("hosts_sources") as? String == "dns [!UNAVAIL=return] files")
    #expect((probe["evidence"] as? [String])?.contains { $0.contains("/etc/resolv.conf could not be read: ENOENT") } == true)
  }

  @Test func localhostWithoutEtcHostsIsTheConfigurationNotTheNetwork() throws {
    // A bare runc rootfs: no /etc/hosts, no nsswitch.conf, a nameserver where nothing listens.
    // glibc asks DNS first (ECONNREFUSED), then files, which has nothing: EAI_AGAIN. Making the
    // nameserver reachable would not give localhost; an /etc/hosts would.
    var sandbox = DNSSandbox()
    sandbox.dnsmasq = nil
    sandbox.hosts = nil
    sandbox.nsswitch = nil
    let (_, probe) = try getaddrinfo(sandbox, names: [])
    #expect(probe["status"] as? String == "blocked", "\(probe)")
    #expect(probe["layer"] as? String == "resolver-config")
    #expect((lookups(probe)["localhost"]?["main_thread"] as? [String: Any])?["error"] as? String == "EAI_AGAIN")
    #expect((probe["summary"] as? String)?.contains("/etc/hosts is missing") == true, "\(probe)")
    #expect((probe["evidence"] as? [String])?.contains { $0.contains("localhost is not a name for DNS") } == true)
  }

  @Test func hostsLineNamingModulesAStaticProgramMustLoad() throws {
    var sandbox = DNSSandbox()
    sandbox.nsswitch = "hosts: files mdns4_minimal [NOTFOUND=return] dns myhostname\n"
    let (_, probe) = try getaddrinfo(sandbox)
    #expect(probe.fact("nss_modules_needing_dlopen") as? [String] == ["mdns4_minimal", "myhostname"])
    #expect((probe["evidence"] as? [String])?.contains { $0.contains("dlopen") } == true)
    #expect(probe["status"] as? String == "ok", "files and dns still answer: \(probe)")
  }

  @Test func threadsRefusedByClone3EPERM() throws {
    // curl's "getaddrinfo() thread failed to start": the main thread resolves, a new thread
    // cannot be created.
    let (_, probe) = try getaddrinfo(jail: ["--seccomp-rule", "clone3=errno:EPERM"])
    #expect(probe["status"] as? String == "degraded")
    #expect(probe["layer"] as? String == "seccomp")
    let lookup = try #require(lookups(probe)["test.culprit"])
    #expect((lookup["main_thread"] as? [String: Any])?["status"] as? String == "resolved")
    #expect((lookup["new_thread"] as? [String: Any])?["status"] as? String == "thread-failed")
    #expect((lookup["new_thread"] as? [String: Any])?["error"] as? String == "EPERM")
    #expect((probe["summary"] as? String)?.contains("getaddrinfo() thread failed to start") == true)
  }

  @Test func socketRefusedBySeccomp() throws {
    let (_, probe) = try getaddrinfo(jail: ["--seccomp-rule", "socket=errno:EPERM"])
    #expect(probe["layer"] as? String == "seccomp")
    let servers = try #require(probe.fact("nameservers") as? [[String: Any]])
    #expect(servers.first?["socket_error"] as? String == "EPERM")
    #expect(servers.first?["socket_check"] as? String == "EPERM")
  }

  @Test func socketKilledBySeccomp() throws {
    let (_, probe) = try getaddrinfo(jail: ["--seccomp-rule", "socket=kill_process"])
    #expect(probe["status"] as? String == "blocked")
    #expect(probe["layer"] as? String == "seccomp")
    #expect((lookups(probe)["test.culprit"]?["main_thread"] as? [String: Any])?["status"] as? String == "seccomp")
  }

  // The test kit's jail stays in the cgroup as the lookups' grandparent: it holds one task that
  // is not culprit's, as a container's shell does when culprit is started with `docker exec`.

  @Test func pidsLimitStarvingOnlyCulpritsOwnLookupThreadsIsNotBlamed() throws {
    // pids.max 3: the jail, culprit and the probe's child fill it, so culprit's lookup thread
    // gets EAGAIN; a program alone beside the jail (curl: main + resolver thread) fits. The
    // observation stays in the facts; the verdict is about the program (issue 8, defect 6).
    let cgroup = try TestCgroup(controller: "pids", name: "getaddrinfo3")
    try cgroup.write("pids.max", "3")
    let (_, probe) = try getaddrinfo(jail: ["--cgroup", cgroup.path])
    #expect(probe["status"] as? String == "ok", "\(probe)")
    #expect(probe["layer"] == nil || probe["layer"] is NSNull)
    #expect((probe["summary"] as? String)?.contains("a program running here alone has room for 1 more task") == true, "\(probe)")
    #expect((probe["summary"] as? String)?.contains("not from a new thread") == false)
    let lookup = try #require(lookups(probe)["test.culprit"])
    #expect((lookup["main_thread"] as? [String: Any])?["status"] as? String == "resolved")
    #expect((lookup["new_thread"] as? [String: Any])?["error"] as? String == "EAGAIN")
    #expect((probe["evidence"] as? [String])?.contains { $0.contains("culprit's own lookup thread got EAGAIN") } == true)
  }

  @Test func pidsLimitThatStarvesAProgramAloneToo() throws {
    // pids.max 2: the jail and culprit fill it; a program alone beside the jail has no room for
    // its resolver thread either, so the pids cgroup is named.
    let cgroup = try TestCgroup(controller: "pids", name: "getaddrinfo2")
    try cgroup.write("pids.max", "2")
    let (_, probe) = try getaddrinfo(jail: ["--cgroup", cgroup.path])
    #expect(probe["status"] as? String == "degraded", "\(probe)")
    #expect(probe["layer"] as? String == "cgroup-pids")
    #expect((probe["summary"] as? String)?.contains("not from a new thread") == true, "\(probe)")
    let lookup = try #require(lookups(probe)["test.culprit"])
    #expect((lookup["main_thread"] as? [String: Any])?["status"] as? String == "resolved")
    #expect((lookup["new_thread"] as? [String: Any])?["error"] as? String == "EAGAIN")
    #expect((probe["evidence"] as? [String])?.contains { $0.contains("no room for another task either") } == true)
  }

  @Test func pidsLimitFourIsEnoughWhenTheLookupsTakeTurns() throws {
    // 4: culprit, the probe's child, one lookup child and its thread. All lookups at once would
    // starve the threads (or not, as the other lookups happen to end); one at a time they fit.
    let cgroup = try TestCgroup(controller: "pids", name: "getaddrinfo4")
    try cgroup.write("pids.max", "4")
    let (_, probe) = try getaddrinfo(jail: ["--cgroup", cgroup.path])
    #expect(probe["status"] as? String == "ok", "\(probe)")
    for name in ["localhost", "test.culprit"] {
      let lookup = try #require(lookups(probe)[name])
      #expect((lookup["new_thread"] as? [String: Any])?["status"] as? String == "resolved", "\(name): \(lookup)")
    }
  }

  @Test func lookupsAreBoundedByTheTimeout() throws {
    // A nameserver that swallows queries: glibc would wait 30 s per attempt; the probe's bound
    // follows resolv.conf's timeout but is capped by what --timeout 4 leaves, and it reports.
    var sandbox = DNSSandbox()
    sandbox.dnsmasq = nil
    sandbox.silentListener = "127.0.0.3"
    sandbox.resolvConf = "nameserver 127.0.0.3\noptions timeout:30 attempts:5\n"
    let result = try sandbox.culprit(["--format", "json", "--only", "getaddrinfo", "--timeout", "4", "--resolve", "slow.culprit"])
    #expect(try schemaErrors(result.stdout) == [])
    let probe = try result.probe("getaddrinfo")
    #expect(result.seconds < 6, "took \(result.seconds) s")
    #expect((probe.fact("timeout_ms") as? Int ?? 0) < 4_000, "capped below resolv.conf's 30 s")
    #expect(probe["status"] as? String == "degraded", "localhost resolves from /etc/hosts: \(probe)")
    #expect(probe["layer"] as? String == "network")
    let lookup = try #require(lookups(probe)["slow.culprit"]?["main_thread"] as? [String: Any])
    #expect(lookup["status"] as? String == "timed-out")
    let servers = try #require(probe.fact("nameservers") as? [[String: Any]])
    #expect((servers.first?["answers"] as? [[String: Any]])?.first?["error"] as? String == "timeout")
  }
}

/// Issue 10 item 14: an existing file that cannot be read is never called "missing", and a
/// directory in place of nsswitch.conf is blamed for what glibc really does with it.
@Suite struct ResolverWordingTests {
  func getaddrinfo(_ sandbox: DNSSandbox, names: [String] = ["test.culprit"], jail: [String] = []) throws -> [String: Any] {
    let result = try sandbox.culprit(["--format", "json", "--only", "getaddrinfo"] + names.flatMap { ["--resolve", $0] }, jail: jail)
    #expect(try schemaErrors(result.stdout) == [], "stderr: \(result.stderr)")
    return try result.probe("getaddrinfo")
  }

  @Test func hostsIsADirectory() throws {
    var sandbox = DNSSandbox()
    sandbox.hosts = nil
    sandbox.directories = ["hosts"]
    let probe = try getaddrinfo(sandbox, names: [])
    #expect(probe["layer"] as? String == "resolver-config")
    let summary = try #require(probe["summary"] as? String)
    #expect(summary.contains("/etc/hosts is a directory"), "\(summary)")
    #expect(!summary.contains("missing"))
    #expect(probe.fact("etc_hosts_exists") as? Bool == true)
    #expect(probe.fact("etc_hosts_error") as? String == "EISDIR")
  }

  @Test func unreadableHostsAndResolvConf() throws {
    // As uid 65534 (no CAP_DAC_OVERRIDE), mode 000 files really are unreadable.
    var sandbox = DNSSandbox()
    sandbox.unreadable = ["hosts", "resolv.conf"]
    let probe = try getaddrinfo(sandbox, names: [], jail: ["--user", "65534:65534"])
    let summary = try #require(probe["summary"] as? String)
    #expect(summary.contains("/etc/hosts is unreadable (EACCES)"), "\(summary)")
    #expect(!(probe["evidence"] as? [String] ?? []).contains { $0.contains("missing") }, "\(probe)")
    #expect(probe.fact("resolv_conf", "exists") as? Bool == true)
    #expect(probe.fact("resolv_conf", "error") as? String == "EACCES")
  }

  @Test func nsswitchIsADirectory() throws {
    // glibc opens it, read fails with EISDIR, and no source is consulted: no query, no
    // /etc/hosts — so the nameserver's ECONNREFUSED is not the cause, nor a "does not exist".
    var sandbox = DNSSandbox()
    sandbox.dnsmasq = nil
    sandbox.nsswitch = nil
    sandbox.directories = ["nsswitch.conf"]
    let probe = try getaddrinfo(sandbox, names: ["example.test"])
    #expect(probe["status"] as? String == "blocked")
    #expect(probe["layer"] as? String == "resolver-config")
    let summary = try #require(probe["summary"] as? String)
    #expect(summary.contains("/etc/nsswitch.conf is a directory"), "\(summary)")
    #expect(!summary.contains("does not exist"))
    #expect(probe.fact("nsswitch_error") as? String == "EISDIR")
    // The real client agrees: getent fails for localhost too.
    let getent = try sandbox.runInside(["/usr/bin/getent", "ahosts", "localhost"])
    #expect(getent.status == 2)
  }

  @Test func resolveNeedsAHostName() throws {
    for bad in ["a/b", "a..b", "exa mple"] {
      let result = try run([Binaries.culprit, "--resolve", bad])
      #expect(result.status == 2, "\(bad)")
      #expect(result.stderr.contains("is not a host name"))
    }
    #expect(HostNameCheck.valid(["example.com", "_http._tcp.deb.debian.org", "10.0.0.1", "::1", "localhost."]))
  }
}

/// Keeps the CLI tests free of CulpritCore imports: checks through the binary itself.
enum HostNameCheck {
  static func valid(_ names: [String]) -> Bool {
    names.allSatisfy { name in
      (try? run([Binaries.culprit, "--list", "--resolve", name]))?.status == 0
    }
  }
}

extension GetaddrinfoProbeTests {
  /// Two faults: clone3 refused with EPERM (threads cannot start) and a nameserver that refuses.
  /// curl hits the thread first ("getaddrinfo() thread failed to start"), so the headline leads
  /// with it and names the dead nameserver after it.
  @Test func twoFaultsLeadWithTheThread() throws {
    var sandbox = DNSSandbox()
    sandbox.dnsmasq = nil
    sandbox.resolvConf = "nameserver 127.0.0.2\n"
    let jail = ["--seccomp-rule", "clone3=errno:EPERM"]
    let (_, probe) = try getaddrinfo(sandbox, jail: jail)
    #expect(probe["layer"] as? String == "seccomp", "\(probe)")
    let summary = try #require(probe["summary"] as? String)
    #expect(summary.hasPrefix("\"test.culprit\" cannot be looked up from a new thread: pthread_create returned EPERM"), "\(summary)")
    #expect(summary.contains("no nameserver answers"), "\(summary)")
    let curl = try sandbox.runInside([Binaries.testkit, "jail"] + jail + ["--", "/usr/bin/curl", "-sS", "http://test.culprit/"])
    #expect(curl.status == 6 && curl.stderr.contains("getaddrinfo() thread failed to start"), "\(curl.stderr)")
  }
}
