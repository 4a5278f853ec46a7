import Foundation
import Testing

/// A place where name resolution can be tested for real without ever querying this machine's
/// nameserver: a network namespace of its own holding only lo (brought up), optionally a dnsmasq
/// on 127.0.0.1:53, and the resolver files replaced in a private mount namespace (bind mounts, or a
/// tmpfs over /etc when a file must be missing). Everything runs in a new pid namespace whose init
/// dies with the test's process (`unshare --kill-child`), and dnsmasq is also killed through its
/// pid file on the way out, so nothing is left behind.
struct DNSSandbox {
  /// dnsmasq options besides the fixed ones (--no-resolv --no-hosts, 127.0.0.1 only); nil: no
  /// dnsmasq at all.
  var dnsmasq: [String]? = ["--address=/test.culprit/127.0.0.42", "--address=/nx.culprit/"]
  /// The files' contents; nil makes the file missing (then /etc becomes a tmpfs holding only the
  /// files given).
  var resolvConf: String? = "nameserver 127.0.0.1\n"
  var hosts: String? = "127.0.0.1 localhost\n::1 localhost ip6-localhost\n"
  var nsswitch: String? = "hosts: files dns\n"
  /// A loopback address where a UDP socket is bound that never answers (a nameserver that
  /// swallows queries), or nil.
  var silentListener: String? = nil
  /// Files of /etc (resolv.conf, hosts, nsswitch.conf) made directories instead (then /etc is a
  /// tmpfs), and files given mode 000 (unreadable for a process without CAP_DAC_OVERRIDE).
  var directories: [String] = []
  var unreadable: [String] = []

  static let script = #"""
    set -eu
    dir=$1; shift
    ip link set lo up
    if [ -f "$dir/dnsmasq.args" ]; then
      # shellcheck disable=SC2046
      dnsmasq --conf-file=/dev/null --no-resolv --no-hosts --listen-address=127.0.0.1 --bind-interfaces \
        --pid-file="$dir/dnsmasq.pid" --user=root $(cat "$dir/dnsmasq.args")
      trap 'kill "$(cat "$dir/dnsmasq.pid")" 2>/dev/null || true' EXIT
    fi
    if [ -f "$dir/silent.addr" ]; then
      python3 -c 'import socket, sys, time
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((sys.argv[1], 53))
    open(sys.argv[2], "w").close()
    time.sleep(120)' "$(cat "$dir/silent.addr")" "$dir/silent.ready" &
      tries=0
      while [ ! -f "$dir/silent.ready" ] && [ $tries -lt 250 ]; do sleep 0.02; tries=$((tries + 1)); done
    fi
    if [ -f "$dir/tmpfs-etc" ]; then
      mount -t tmpfs -o size=1m culprit-etc /etc
      for file in resolv.conf hosts nsswitch.conf; do
        if [ -f "$dir/files/$file" ]; then cp "$dir/files/$file" "/etc/$file"; fi
        if [ -f "$dir/dir.$file" ]; then mkdir "/etc/$file"; fi
        if [ -f "$dir/noread.$file" ]; then chmod 000 "/etc/$file"; fi
      done
    else
      for file in resolv.conf hosts nsswitch.conf; do mount --bind "$dir/files/$file" "/etc/$file"; done
    fi
    set +e
    "$@"
    status=$?
    exit $status
    """#

  /// Runs culprit with `arguments` in the sandbox, behind `jail` restrictions when given.
  func culprit(_ arguments: [String], jail: [String] = []) throws -> RunResult {
    var command: [String] = []
    if !jail.isEmpty { command += [Binaries.testkit, "jail"] + jail + ["--"] }
    return try runInside(command + [Binaries.culprit] + arguments)
  }

  /// Runs any program in the sandbox (the real clients, for comparison).
  func runInside(_ program: [String]) throws -> RunResult {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("culprit-dns-\(UUID().uuidString)")
    let files = directory.appendingPathComponent("files")
    try FileManager.default.createDirectory(at: files, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: directory) }
    if let dnsmasq { try dnsmasq.joined(separator: " ").write(to: directory.appendingPathComponent("dnsmasq.args"), atomically: true, encoding: .utf8) }
    if let silentListener { try silentListener.write(to: directory.appendingPathComponent("silent.addr"), atomically: true, encoding: .utf8) }
    let contents = ["resolv.conf": resolvConf, "hosts": hosts, "nsswitch.conf": nsswitch]
    for (name, text) in contents {
      if let text { try text.write(to: files.appendingPathComponent(name), atomically: true, encoding: .utf8) }
    }
    for name in directories { try "".write(to: directory.appendingPathComponent("dir.\(name)"), atomically: true, encoding: .utf8) }
    for name in unreadable { try "".write(to: directory.appendingPathComponent("noread.\(name)"), atomically: true, encoding: .utf8) }
    if contents.values.contains(where: { $0 == nil }) || !directories.isEmpty || !unreadable.isEmpty {
      try "".write(to: directory.appendingPathComponent("tmpfs-etc"), atomically: true, encoding: .utf8)
    }
    let command = ["/usr/bin/unshare", "-n", "-m", "-p", "-f", "--kill-child", "/bin/sh", "-c", DNSSandbox.script, "sandbox", directory.path]
    return try run(command + program)
  }
}

extension RunResult {
  /// One probe of a JSON report.
  func probe(_ id: String) throws -> [String: Any] {
    try #require(try probes()[id], "no \(id) in \(stdout.prefix(500)) \(stderr)")
  }
}

extension Dictionary where Key == String, Value == Any {
  /// A nested fact: facts["a"]["b"].
  func fact(_ path: String...) -> Any? {
    var current: Any? = self["facts"]
    for key in path { current = (current as? [String: Any])?[key] }
    return current
  }
}
