import Foundation
import Testing

/// A small internet of network namespaces for the egress tests: a client, a router and a mirror,
/// joined by veth pairs, with addresses of their own (10.111.1.0/24 and 2001:db8:11:1::/64 on
/// the client's side, 10.111.2.0/24 and 2001:db8:11:2::/64 on the mirror's; documentation and
/// private ranges that exist only inside these namespaces). Nothing links them to this machine's
/// network, and the client's /etc/resolv.conf (in a mount namespace of its own) names only the
/// mirror's nameserver, so no test ever queries this machine's nameserver.
///
/// The mirror runs a Python HTTP server (dual-stack, port 80, serving
/// /debian/dists/c11/InRelease of 100 KiB) and a nameserver: dnsmasq, or late_dns.py, which
/// answers after a delay. 10.111.2.3 is on the mirror with nothing on port 3128 (a proxy that
/// refuses); the router's nftables rules make the faults. Names, veths and files carry "c11" and
/// a random suffix, so tests run side by side; everything is removed on the way out.
struct EgressSandbox {
  enum Nameserver {
    case dnsmasq
    /// Answers every query after this many seconds.
    case late(Double)
  }

  /// nft rules in the router's forward chain, and in its output chain (ICMP it sends itself).
  var forwardRules: [String] = []
  var outputRules: [String] = []
  /// The MTU of the router's interface towards the client (the link a VXLAN overlay would
  /// narrow), or nil for 1500.
  var routerClientMTU: Int? = nil
  var nameserver = Nameserver.dnsmasq
  /// IPv6 on the client: a global address and a default route, or none at all.
  var clientIPv6 = true
  /// The client has no default route (only its own subnet).
  var clientDefaultRoute = true
  var resolvConf = "nameserver 10.111.2.2\n"
  /// /etc/apt/sources.list of the client's view.
  var aptSources = "deb [trusted=yes] http://mirror.c11.test/debian c11 main\n"
  /// /etc/apt/apt.conf.d/01proxy of the client's view, or nil.
  var aptProxyConf: String? = nil
  /// A CONNECT proxy (EgressFixtures/connect_proxy.py) on the mirror at 10.111.2.3:8080, which
  /// knows mirror.c11.test as 10.111.2.2 (and asks no resolver).
  var connectProxy = false

  static let script = #"""
    set -u
    dir=$1
    id=$(cat "$dir/id")
    cli=c11-$id-cli; rtr=c11-$id-rtr; srv=c11-$id-srv
    pids=""
    cleanup() {
      # SIGKILL, to the process group `timeout` made: the test runner may start this script
      # with SIGTERM blocked, and a server left alive would keep the runner waiting.
      for p in $pids; do kill -KILL -- "-$p" 2>/dev/null || kill -KILL "$p" 2>/dev/null; done
      [ -f "$dir/dnsmasq.pid" ] && kill -KILL "$(cat "$dir/dnsmasq.pid")" 2>/dev/null
      ip netns del "$cli" 2>/dev/null; ip netns del "$rtr" 2>/dev/null; ip netns del "$srv" 2>/dev/null
    }
    trap cleanup EXIT
    set -e
    for ns in "$cli" "$rtr" "$srv"; do ip netns add "$ns"; ip -n "$ns" link set lo up; done
    ip link add "c11a$id" netns "$cli" type veth peer name "c11b$id" netns "$rtr"
    ip link add "c11c$id" netns "$rtr" type veth peer name "c11d$id" netns "$srv"
    ip netns exec "$rtr" sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1
    ip -n "$cli" addr add 10.111.1.2/24 dev "c11a$id"
    ip -n "$rtr" addr add 10.111.1.1/24 dev "c11b$id"
    ip -n "$rtr" addr add 10.111.2.1/24 dev "c11c$id"
    ip -n "$srv" addr add 10.111.2.2/24 dev "c11d$id"
    ip -n "$srv" addr add 10.111.2.3/24 dev "c11d$id"
    ip -n "$rtr" addr add 2001:db8:11:1::1/64 dev "c11b$id" nodad
    ip -n "$rtr" addr add 2001:db8:11:2::1/64 dev "c11c$id" nodad
    ip -n "$srv" addr add 2001:db8:11:2::2/64 dev "c11d$id" nodad
    if [ -f "$dir/client-v6" ]; then
      ip -n "$cli" addr add 2001:db8:11:1::2/64 dev "c11a$id" nodad
    else
      ip netns exec "$cli" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
    fi
    for ns in "$cli" "$rtr" "$srv"; do for l in $(ip -n "$ns" -o link show | awk -F': ' '{print $2}' | cut -d@ -f1); do ip -n "$ns" link set "$l" up; done; done
    [ -f "$dir/router-mtu" ] && ip -n "$rtr" link set "c11b$id" mtu "$(cat "$dir/router-mtu")"
    if [ -f "$dir/client-default" ]; then
      ip -n "$cli" route add default via 10.111.1.1
      [ -f "$dir/client-v6" ] && ip -n "$cli" -6 route add default via 2001:db8:11:1::1
    fi
    ip -n "$srv" route add default via 10.111.2.1
    ip -n "$srv" -6 route add default via 2001:db8:11:2::1
    ip netns exec "$rtr" nft -f "$dir/router.nft"
    mkdir -p "$dir/www/debian/dists/c11"
    head -c 102400 /dev/urandom > "$dir/www/debian/dists/c11/InRelease"
    ip netns exec "$srv" timeout 170 python3 -c '
    import http.server, os, socket, sys
    os.chdir(sys.argv[1])
    class Server(http.server.ThreadingHTTPServer):
        address_family = socket.AF_INET6
        def server_bind(self):
            self.socket.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
            super().server_bind()
    class Handler(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args): pass
    server = Server(("::", 80), Handler)
    open(sys.argv[2], "w").close()
    server.serve_forever()' "$dir/www" "$dir/http.ready" &
    pids="$pids $!"
    # An https server on 443 with a throwaway self-signed certificate.
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 \
      -subj /CN=mirror.c11.test -keyout "$dir/key.pem" -out "$dir/cert.pem" 2>/dev/null
    ip netns exec "$srv" timeout 170 python3 -c '
    import http.server, os, socket, ssl, sys
    os.chdir(sys.argv[1])
    class Server(http.server.ThreadingHTTPServer):
        address_family = socket.AF_INET6
        def server_bind(self):
            self.socket.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
            super().server_bind()
    class Handler(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args): pass
    server = Server(("::", 443), Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(sys.argv[2], sys.argv[3])
    # The handshake in the thread of the handler (on its first read), as real servers do: in
    # accept() it would hold every later connection behind a client that stops half-way.
    server.socket = context.wrap_socket(server.socket, server_side=True, do_handshake_on_connect=False)
    open(sys.argv[4], "w").close()
    server.serve_forever()' "$dir/www" "$dir/cert.pem" "$dir/key.pem" "$dir/https.ready" &
    pids="$pids $!"
    if [ -f "$dir/late" ]; then
      ip netns exec "$srv" timeout 170 python3 "$dir/late_dns.py" 10.111.2.2 "$(cat "$dir/late")" \
        mirror.c11.test=10.111.2.2,2001:db8:11:2::2 &
      pids="$pids $!"
    else
      ip netns exec "$srv" dnsmasq --conf-file=/dev/null --no-resolv --no-hosts --listen-address=10.111.2.2 \
        --bind-interfaces --pid-file="$dir/dnsmasq.pid" --user=root --local=/c11.test/ \
        --host-record=mirror.c11.test,10.111.2.2,2001:db8:11:2::2 --host-record=v4.c11.test,10.111.2.2
    fi
    if [ -f "$dir/connect_proxy.py" ]; then
      ip netns exec "$srv" timeout 170 python3 "$dir/connect_proxy.py" 10.111.2.3 8080 "$dir/proxy.ready" mirror.c11.test=10.111.2.2 &
      pids="$pids $!"
    else
      : >"$dir/proxy.ready"
    fi
    tries=0
    while { [ ! -f "$dir/http.ready" ] || [ ! -f "$dir/https.ready" ] || [ ! -f "$dir/proxy.ready" ]; } && [ $tries -lt 250 ]; do sleep 0.02; tries=$((tries + 1)); done
    sleep 0.1
    set +e
    n=0
    while IFS= read -r command; do
      case "$command" in
        HOST:*)
          # In the machine's own namespaces (a container runtime that joins the client's
          # network namespace by its path, /run/netns/$C11_NETNS).
          C11_NETNS=$cli C11_DIR=$dir timeout 60 /bin/sh -c "${command#HOST:}" >"$dir/out.$n" 2>"$dir/err.$n" </dev/null
          echo $? >"$dir/rc.$n"
          n=$((n + 1))
          continue ;;
      esac
      ip netns exec "$cli" unshare -m /bin/sh -c '
        mount --bind "$1/resolv.conf" /etc/resolv.conf && mount --bind "$1/apt" /etc/apt && shift && exec "$@"' \
        sh "$dir" timeout 60 env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME="$dir/home" $(cat "$dir/env.$n" 2>/dev/null) \
        /bin/sh -c "$command" >"$dir/out.$n" 2>"$dir/err.$n" </dev/null
      echo $? >"$dir/rc.$n"
      n=$((n + 1))
    done <"$dir/commands"
    exit 0
    """#

  /// One command's result in the client namespace.
  struct Outcome {
    var status: Int32
    var stdout: String
    var stderr: String
  }

  /// Runs each shell command in the client namespace, one after the other, in one topology.
  /// `environment` (NAME=value words) is given to every command; "$CULPRIT" names the binary.
  func run(_ commands: [String], environment: [String] = [], testkit: Bool = false) throws -> [Outcome] {
    let id = String(UUID().uuidString.prefix(6)).lowercased()
    let directory = URL(fileURLWithPath: "/tmp").appendingPathComponent("c11-egress-\(id)")
    try FileManager.default.createDirectory(at: directory.appendingPathComponent("apt/sources.list.d"), withIntermediateDirectories: true)
    try FileManager.default.createDirectory(at: directory.appendingPathComponent("apt/apt.conf.d"), withIntermediateDirectories: true)
    try FileManager.default.createDirectory(at: directory.appendingPathComponent("home"), withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: directory) }
    func write(_ name: String, _ text: String) throws {
      try text.write(to: directory.appendingPathComponent(name), atomically: true, encoding: .utf8)
    }
    try write("id", id)
    try write("resolv.conf", resolvConf)
    try write("apt/sources.list", aptSources)
    if let aptProxyConf { try write("apt/apt.conf.d/01proxy", aptProxyConf) }
    if clientIPv6 { try write("client-v6", "") }
    if clientDefaultRoute { try write("client-default", "") }
    if let routerClientMTU { try write("router-mtu", "\(routerClientMTU)") }
    if connectProxy {
      let script = Binaries.packageRoot.appendingPathComponent("Tests/CulpritCLITests/EgressFixtures/connect_proxy.py")
      try FileManager.default.copyItem(at: script, to: directory.appendingPathComponent("connect_proxy.py"))
    }
    if case .late(let seconds) = nameserver {
      try write("late", "\(seconds)")
      let script = Binaries.packageRoot.appendingPathComponent("Tests/CulpritCLITests/EgressFixtures/late_dns.py")
      try FileManager.default.copyItem(at: script, to: directory.appendingPathComponent("late_dns.py"))
    }
    try write(
      "router.nft",
      """
      table inet c11 {
        chain c11forward {
          type filter hook forward priority 0; policy accept;
          \(forwardRules.joined(separator: "\n    "))
        }
        chain c11output {
          type filter hook output priority 0; policy accept;
          \(outputRules.joined(separator: "\n    "))
        }
      }

      """)
    let culprit = Binaries.culprit
    let kit = Binaries.testkit
    let expanded = commands.map {
      $0.replacingOccurrences(of: "$CULPRIT", with: culprit).replacingOccurrences(of: "$TESTKIT", with: kit)
    }
    try write("commands", expanded.joined(separator: "\n") + "\n")
    for index in commands.indices where !environment.isEmpty {
      try write("env.\(index)", environment.joined(separator: " "))
    }
    let result = try CulpritCLITests.run(["/bin/bash", "-c", EgressSandbox.script, "egress", directory.path], limit: 170)
    var outcomes: [Outcome] = []
    for index in commands.indices {
      func read(_ name: String) -> String {
        (try? String(contentsOf: directory.appendingPathComponent("\(name).\(index)"), encoding: .utf8)) ?? ""
      }
      guard let status = Int32(read("rc").trimmingCharacters(in: .whitespacesAndNewlines)) else {
        Issue.record("command \(index) did not run: \(result.stderr)")
        outcomes.append(Outcome(status: -1, stdout: "", stderr: result.stderr))
        continue
      }
      outcomes.append(Outcome(status: status, stdout: read("out"), stderr: read("err")))
    }
    return outcomes
  }

  /// One egress run: the probe's JSON object in the client namespace, the real clients'
  /// outcomes, and the same culprit in a real runc container joined to the client's network
  /// namespace (nil where no static binary or runc exists: the debug pass of a fresh clone).
  struct EgressRun {
    var probe: [String: Any]
    var clients: [Outcome]
    var container: [String: Any]?
    /// The namespace run, then the container run: every scenario asserts the same on both.
    var each: [(place: String, probe: [String: Any])] {
      [("namespace", probe)] + (container.map { [("runc container", $0)] } ?? [])
    }
  }

  /// The egress probe's JSON object, the real clients' outcomes, and the container's run.
  func egress(_ arguments: String = "", clients: [String] = [], environment: [String] = [], jail: String = "", container: Bool = true)
    throws -> EgressRun
  {
    let words = "--format json --only egress --timeout 15 \(arguments)"
    let command = (jail.isEmpty ? "" : "$TESTKIT jail \(jail) -- ") + "$CULPRIT \(words)"
    let contained = container && jail.isEmpty ? EgressSandbox.inRunc(words.split(separator: " ").map(String.init), environment: environment) : nil
    let outcomes = try run([command] + clients + (contained.map { [$0] } ?? []), environment: environment)
    let report = RunResult(status: outcomes[0].status, stdout: outcomes[0].stdout, stderr: outcomes[0].stderr, seconds: 0)
    #expect(try schemaErrors(report.stdout) == [], "stderr: \(report.stderr)")
    var result = EgressRun(probe: try report.probe("egress"), clients: Array(outcomes.dropFirst().prefix(clients.count)), container: nil)
    if contained != nil, let last = outcomes.last {
      result.container = try EgressSandbox.containerProbe(last, "egress")
    }
    return result
  }

  /// The static binary, which a scratch rootfs can run: CULPRIT_BIN in the static pass, or
  /// dist/culprit when it has been built.
  static var staticCulprit: String? {
    let candidates: [String?] = [ProcessInfo.processInfo.environment["CULPRIT_BIN"], Binaries.packageRoot.appendingPathComponent("dist/culprit").path]
    return candidates.compactMap { $0 }.first { FileManager.default.isExecutableFile(atPath: $0) && !$0.contains("/.build/") }
  }

  static var runc: String? {
    ["/usr/sbin/runc", "/usr/bin/runc"].first { FileManager.default.isExecutableFile(atPath: $0) }
  }

  /// A command (for `run`) that starts culprit ARGUMENTS in a real container: runc with
  /// `runc spec`'s bundle whose network namespace is the client's (its path under /run/netns),
  /// as a pod joins its sandbox's network. The rootfs holds the static binary and the client's
  /// /etc/resolv.conf, /etc/hosts and /etc/apt; `environment` goes into the container's
  /// environment. runc runs outside `ip netns exec`, whose own /sys hides the cgroup mounts runc
  /// needs. nil without a static binary or runc.
  static func inRunc(_ arguments: [String], environment: [String] = []) -> String? {
    guard let binary = staticCulprit, let runc else { return nil }
    let id = String(UUID().uuidString.prefix(6)).lowercased()
    let spec = try! JSONSerialization.data(withJSONObject: ["args": ["/culprit"] + arguments, "env": environment])
    let b = "/tmp/c11b-runc-\(id)"
    let script = [
      "b=\(b); trap 'rm -rf $b' EXIT; set -e; mkdir -p $b/rootfs/etc $b/rootfs/proc $b/rootfs/dev",
      "cp \(binary) $b/rootfs/culprit", "cp $C11_DIR/resolv.conf $b/rootfs/etc/resolv.conf", "cp -r $C11_DIR/apt $b/rootfs/etc/apt",
      "echo '127.0.0.1 localhost' >$b/rootfs/etc/hosts", "cd $b", "\(runc) spec", "echo \(spec.base64EncodedString()) | base64 -d >$b/spec.json",
      #"python3 -c 'import json,sys; c=json.load(open("config.json")); s=json.load(open("spec.json")); c["process"]["terminal"]=False; c["process"]["args"]=s["args"]; c["process"]["env"]+=s["env"]; [n.update(path="/run/netns/"+sys.argv[1]) for n in c["linux"]["namespaces"] if n["type"]=="network"]; json.dump(c,open("config.json","w"))' "$C11_NETNS""#,
      "set +e", "\(runc) --root $b/state run --bundle $b c11b-\(id) </dev/null",
    ]
    return "HOST:" + script.joined(separator: "; ")
  }

  /// The probe `id` of a container's JSON report, checked against the schema and for the
  /// container being seen as one.
  static func containerProbe(_ outcome: Outcome, _ id: String) throws -> [String: Any] {
    let report = RunResult(status: outcome.status, stdout: outcome.stdout, stderr: outcome.stderr, seconds: 0)
    #expect(try schemaErrors(report.stdout) == [], "runc: \(outcome.stderr)")
    #expect((try? report.json()["host"] as? [String: Any])?["runtime"] as? String != "none", "culprit sees a container")
    return try report.probe(id)
  }
}

extension Dictionary where Key == String, Value == Any {
  /// The egress facts of the target whose URL contains `fragment`.
  func egressTarget(_ fragment: String) -> [String: Any]? {
    (fact("targets") as? [[String: Any]])?.first { ($0["url"] as? String)?.contains(fragment) == true }
  }
}
