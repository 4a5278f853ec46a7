#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// `culprit host --containers`: culprit's own binary run in a container of each runtime found
/// on the node (Docker, Podman, containerd's ctr, runc and crun with their own default spec),
/// from an image made on the spot of that binary alone (no registry), with the runtime's
/// defaults, and the reports put side by side. Every runtime is driven through its own CLI as
/// a child with a deadline; what a run creates (container, image, bundle, containerd
/// namespace) is removed whatever happened, and the removal is reported.
public struct ContainerRun: Equatable, Sendable {
  public enum Runtime: String, CaseIterable, Sendable {
    case docker, podman, ctr, runc, crun
  }

  /// ran: a report came back; notFound: no CLI; unavailable: the CLI is there but its engine
  /// does not answer; failed: the container did not give a report; timedOut: the deadline.
  public enum State: String, Sendable {
    case ran, notFound = "not-found", unavailable, failed, timedOut = "timed-out"
  }

  public var runtime: Runtime
  public var state: State
  public var cli: String?
  public var version: String?
  /// Why it did not run, or what went wrong.
  public var reason: String?
  /// Options that are not the runtime's defaults, each with why.
  public var deviations: [String] = []
  /// The command that ran culprit in the container.
  public var command: [String] = []
  /// How the image (or bundle) was made.
  public var image: String?
  public var elapsedMilliseconds: Int = 0
  /// The container's culprit report, checked against the report schema.
  public var report: Report?
  public var reportJSON: JSONValue?
  /// What was removed at the end (and what could not be).
  public var cleanup: [String] = []
  public var cleanupFailures: [String] = []
  public var evidence: [String] = []

  public init(runtime: Runtime, state: State) {
    self.runtime = runtime
    self.state = state
  }

  /// "docker 20.10.24", or just the name.
  public var label: String { runtime.rawValue }
}

/// The runs, and how they compare.
public struct ContainerComparison: Equatable, Sendable {
  public var runs: [ContainerRun]
  /// The culprit binary that was put in the images.
  public var binary: String
  /// The options culprit was run with in every container.
  public var culpritArguments: [String]

  public init(runs: [ContainerRun], binary: String, culpritArguments: [String]) {
    self.runs = runs
    self.binary = binary
    self.culpritArguments = culpritArguments
  }

  /// The runs with a report, in order.
  public var reported: [(label: String, report: Report)] {
    runs.compactMap { run in run.report.map { (run.label, $0) } }
  }

  /// The first runtime with a report: the others are compared with it.
  public var baseline: String? { reported.first?.label }

  /// Every probe id any report has, in the order the reports list them.
  public var probeIDs: [String] {
    var ids: [String] = []
    for (_, report) in reported {
      for probe in report.probes where !ids.contains(probe.id) { ids.append(probe.id) }
    }
    return ids
  }

  /// "blocked/seccomp", "ok", or "-" when that report lacks the probe.
  public static func cell(_ report: Report, _ id: String) -> String {
    guard let probe = report.probes.first(where: { $0.id == id }) else { return "-" }
    return probe.status.rawValue + (probe.layer.map { "/" + $0.rawValue } ?? "")
  }

  /// Each other report against the baseline (`ReportDiff`, as `culprit diff` shows it).
  public var differences: [ReportDiff] {
    let all = reported
    guard let first = all.first else { return [] }
    return all.dropFirst().map { ReportDiff(before: first.report, after: $0.report, beforeName: first.label, afterName: $0.label) }
  }
}

// MARK: Running

public struct ContainerRunner {
  /// Prefix of every name culprit gives what it creates: NAME-PID-RUNTIME.
  public var prefix: String
  /// Bound on one runtime's whole run (import, run, collect), in seconds; removal gets its own.
  public var seconds: Int
  /// The inner culprit's own --timeout.
  public var innerTimeout: Int
  public var runtimes: [ContainerRun.Runtime]
  /// Directory for the image files and bundles.
  public var workParent: String
  /// culprit's environment for the CLIs (DOCKER_HOST, CONTAINER_HOST, PATH…).
  public var environment: [String: String]

  public init(
    prefix: String = "culprit-host", seconds: Int = 90, innerTimeout: Int = 20,
    runtimes: [ContainerRun.Runtime] = ContainerRun.Runtime.allCases, workParent: String? = nil
  ) {
    self.prefix = prefix
    self.seconds = seconds
    self.innerTimeout = innerTimeout
    self.runtimes = runtimes
    self.environment = Subprocess.currentEnvironment()
    self.workParent = workParent ?? environment["TMPDIR"] ?? "/var/tmp"
  }

  public var culpritArguments: [String] {
    ["/culprit", "--format", "json", "--fail-on", "never", "--offline", "--timeout", String(innerTimeout)]
  }

  /// Runs culprit (`binary`, normally /proc/self/exe) in a container of each runtime.
  public func run(binary: String = "/proc/self/exe") -> ContainerComparison {
    var comparison = ContainerComparison(runs: [], binary: binary, culpritArguments: culpritArguments)
    let bytes: [UInt8]
    switch Sys.readFile(binary, limit: 512 << 20) {
    case .success(let b): bytes = b
    case .failure(let err):
      comparison.runs = runtimes.map {
        var run = ContainerRun(runtime: $0, state: .failed)
        run.reason = "culprit cannot read its own binary \(binary): \(err.name)"
        return run
      }
      return comparison
    }
    if ImageFiles.isDynamicELF(bytes) == true {
      comparison.runs = runtimes.map {
        var run = ContainerRun(runtime: $0, state: .failed)
        run.reason = "this culprit (\(binary)) is dynamically linked (it has a PT_INTERP program header); an image of it alone cannot run it: use the static build (dist/culprit)"
        return run
      }
      return comparison
    }
    let work = "\(workParent)/\(prefix)-\(getpid())"
    _ = Sys.mkdir(work, 0o700)
    defer { FileTree.remove(work) }
    let layer = ImageFiles.tar(ImageFiles.rootfsEntries(binary: bytes))
    let layerPath = work + "/rootfs.tar"
    let wroteLayer = FileTree.write(layerPath, layer)
    for runtime in runtimes {
      if Termination.signal != 0 {
        var run = ContainerRun(runtime: runtime, state: .failed)
        run.reason = "not run: culprit received \(signalName(Termination.signal))"
        comparison.runs.append(run)
        continue
      }
      let started = Sys.monotonicNanoseconds()
      var session = Session(runner: self, runtime: runtime, work: work, layerPath: layerPath, layer: layer, binary: bytes, deadline: started + UInt64(seconds) * 1_000_000_000)
      if let err = wroteLayer {
        session.run.state = .failed
        session.run.reason = "culprit could not write the image's layer \(layerPath): \(err.name)"
      } else {
        session.start()
      }
      session.removeEverything()
      session.run.elapsedMilliseconds = Int((Sys.monotonicNanoseconds() - started) / 1_000_000)
      comparison.runs.append(session.run)
    }
    return comparison
  }
}

/// One runtime's run: what it created, so that removal knows.
struct Session {
  let runner: ContainerRunner
  let runtime: ContainerRun.Runtime
  let work: String
  let layerPath: String
  let layer: [UInt8]
  let binary: [UInt8]
  let deadline: UInt64
  var run: ContainerRun
  /// Commands that remove what was created, run last, in reverse order of creation.
  var removals: [(what: String, argv: [String])] = []
  var directories: [String] = []

  init(runner: ContainerRunner, runtime: ContainerRun.Runtime, work: String, layerPath: String, layer: [UInt8], binary: [UInt8], deadline: UInt64) {
    self.runner = runner
    self.runtime = runtime
    self.work = work
    self.layerPath = layerPath
    self.layer = layer
    self.binary = binary
    self.deadline = deadline
    self.run = ContainerRun(runtime: runtime, state: .failed)
  }

  var name: String { "\(runner.prefix)-\(getpid())-\(runtime.rawValue)" }

  var remainingMilliseconds: Int {
    let now = Sys.monotonicNanoseconds()
    return now >= deadline ? 0 : Int((deadline - now) / 1_000_000)
  }

  /// Runs a step of the run within what is left of the deadline. Nil when out of time (the
  /// run is then marked timed out).
  mutating func step(_ argv: [String], input: [UInt8] = [], directory: String? = nil, cap: Int = Int.max) -> Subprocess.Result? {
    let left = remainingMilliseconds
    guard left > 0 else {
      run.state = .timedOut
      run.reason = "the \(runner.seconds) s bound was reached before `\(argv.prefix(3).joined(separator: " "))`"
      return nil
    }
    let result = Subprocess.run(argv, environment: runner.environment, input: input, timeoutMilliseconds: min(left, cap), directory: directory)
    if result.ending == .timedOut {
      run.state = .timedOut
      run.reason = result.account
    }
    return result
  }

  mutating func fail(_ reason: String, state: ContainerRun.State = .failed) {
    if run.state != .timedOut {
      run.state = state
      run.reason = reason
    }
  }

  mutating func start() {
    let names: [ContainerRun.Runtime: String] = [.docker: "docker", .podman: "podman", .ctr: "ctr", .runc: "runc", .crun: "crun"]
    guard let cli = Subprocess.which(names[runtime]!, environment: runner.environment) else {
      run.state = .notFound
      run.reason = "no \(names[runtime]!) on PATH"
      return
    }
    run.cli = cli
    switch runtime {
    case .docker, .podman: engine(cli)
    case .ctr: containerd(cli)
    case .runc, .crun: oci(cli)
    }
  }

  /// The culprit report on a container's stdout, checked against the report schema.
  mutating func collect(_ result: Subprocess.Result) {
    if run.state == .timedOut { return }
    guard !result.stdout.isEmpty else {
      fail("the container gave no report: " + result.account)
      return
    }
    let json: JSONValue
    do {
      json = try JSONValue.parse(bytes: result.stdout)
    } catch {
      fail("the container's output is not JSON (\(error)): " + result.account)
      return
    }
    do {
      run.report = try Report(validating: json)
      run.reportJSON = json
      run.state = .ran
      run.reason = nil
    } catch {
      run.reportJSON = json
      fail("the container's report breaks the report contract: \(error)")
    }
  }

  // MARK: Docker and Podman

  mutating func engine(_ cli: String) {
    let image = "\(name):latest"
    let tool = runtime.rawValue
    guard let version = step([cli, "version", "--format", runtime == .docker ? "{{.Server.Version}}" : "{{.Client.Version}}"], cap: 20_000) else { return }
    guard version.succeeded else {
      fail("`\(tool) version` does not reach its engine: " + version.account, state: .unavailable)
      return
    }
    run.version = version.stdoutText.trimmed()
    run.evidence.append("`\(tool) version` names \(runtime == .docker ? "the daemon's" : "its") version \(run.version ?? "")" + (runtime == .docker ? (runner.environment["DOCKER_HOST"].map { " (DOCKER_HOST=\($0))" } ?? "") : "") + ".")
    guard let imported = step([cli, "import", layerPath, image]) else { return }
    removals.append(("image \(image)", [cli, "image", "rm", "--force", image]))
    guard imported.succeeded else {
      fail("`\(tool) import` failed: " + imported.account)
      return
    }
    run.image = "`\(tool) import` of a tar holding only /culprit (and empty /proc, /sys, /dev, /etc, /tmp) as \(image)"
    run.deviations = ["--network none: the runtime's default network would give culprit a route off the node; the probes are run with --offline besides"]
    var argv = [cli, "run", "--name", name, "--network", "none", image] + runner.culpritArguments
    removals.append(("container \(name)", [cli, "rm", "--force", name]))
    guard var result = step(argv) else { return }
    // What Podman's defaults get here may be no container at all: its default OCI runtime
    // (crun 1.8) refuses hybrid cgroups, and it gives a root container RLIMIT_NOFILE and
    // RLIMIT_NPROC above the hard limits a runtime without CAP_SYS_RESOURCE may set. That is
    // said (evidence); culprit then runs it again with the least it takes, one remedy at a
    // time, each a stated deviation: --runtime runc, then each refused limit at culprit's own
    // hard limit, halved while the runtime still refuses it.
    var extra: [String] = []
    var limits: [String: UInt64] = [:]
    var retries = 0
    while runtime == .podman, !result.succeeded, result.stdout.isEmpty, retries < 10 {
      let message = result.stderrText
      var deviation: String
      if message.contains("cgroups in hybrid mode not supported"), !extra.contains("--runtime"), Subprocess.which("runc", environment: runner.environment) != nil {
        extra += ["--runtime", "runc"]
        deviation = "--runtime runc: its default OCI runtime (crun) refuses this node's cgroups: \"\(result.message)\""
      } else if let limit = ContainerRun.refusedRlimit(message), let resource = ContainerRun.ulimitNames[limit] {
        let value: UInt64
        if let tried = limits[resource] {
          guard tried > 1024 else { break }
          value = tried / 2
        } else {
          value = ProcessLimitsReader.hard(limit)
        }
        limits[resource] = value
        deviation = "--ulimit \(resource)=\(value):\(value): the OCI runtime could not set \(limit) (\"\(result.message)\"); " + (value == ProcessLimitsReader.hard(limit) ? "\(value) is culprit's own hard limit" : "culprit's own hard limit was refused too; \(value) is the largest of the halvings tried")
      } else {
        break
      }
      if retries == 0 { run.evidence.append("With Podman's defaults the container did not start: " + result.account) }
      retries += 1
      run.deviations.removeAll { $0.hasPrefix(ContainerComparison.short(deviation).split(separator: "=").first.map(String.init) ?? deviation) && $0.hasPrefix("--ulimit") }
      run.deviations.append(deviation)
      guard let removed = step([cli, "rm", "--force", name], cap: 30_000), removed.succeeded else { return }
      argv = [cli, "run", "--name", name, "--network", "none"] + extra + limits.sorted { $0.key < $1.key }.flatMap { ["--ulimit", "\($0.key)=\($0.value):\($0.value)"] } + [image] + runner.culpritArguments
      guard let again = step(argv) else { return }
      result = again
    }
    run.command = argv
    collect(result)
  }

  // MARK: containerd

  mutating func containerd(_ cli: String) {
    guard let socket = ContainerdSocket.find() else {
      fail("no containerd socket: /proc/net/unix lists no path ending in containerd.sock, and none is at /run/containerd/containerd.sock, /run/docker/containerd/containerd.sock or under a running dockerd's --exec-root", state: .unavailable)
      return
    }
    let namespace = runner.prefix
    let base = [cli, "--address", socket, "--namespace", namespace]
    guard let version = step(base + ["version"], cap: 20_000) else { return }
    guard version.succeeded else {
      fail("`ctr version` does not reach containerd at \(socket): " + version.account, state: .unavailable)
      return
    }
    let lines = version.stdoutText.split(whereSeparator: \.isNewline).map { $0.trimmed() }
    let versions = lines.filter { $0.hasPrefix("Version:") }.map { $0.dropFirst(8).trimmed() }
    run.version = versions.count >= 2 ? versions[1] : versions.first
    run.evidence.append("containerd socket \(socket); `ctr version` names the server version \(run.version ?? "?") and the client \(versions.first ?? "?").")
    let reference = "docker.io/library/\(name):latest"
    let archive = work + "/\(runtime.rawValue)-oci.tar"
    let architecture = Architecture.native?.goName ?? "amd64"
    if let err = FileTree.write(archive, ImageFiles.ociArchive(layer: layer, reference: reference, architecture: architecture)) {
      fail("culprit could not write the OCI archive \(archive): \(err.name)")
      return
    }
    // The namespace is culprit's own: removed at the end if culprit made it (it fails,
    // harmlessly, when something else is in it).
    let existed = step(base + ["namespaces", "list", "--quiet"], cap: 20_000)?.stdoutText.split(whereSeparator: \.isNewline).contains { $0 == namespace } ?? false
    if !existed { removals.append(("containerd namespace \(namespace)", base + ["namespaces", "remove", namespace])) }
    guard let imported = step(base + ["images", "import", archive]) else { return }
    removals.append(("image \(reference)", base + ["images", "remove", "--sync", reference]))
    guard imported.succeeded else {
      fail("`ctr images import` failed: " + imported.account)
      return
    }
    run.image = "`ctr images import` of an OCI image layout made on the spot (one layer: /culprit and empty /proc, /sys, /dev, /etc, /tmp) as \(reference) in namespace \(namespace) of \(socket)"
    let argv = base + ["run", reference, name] + runner.culpritArguments
    removals.append(("container \(name)", base + ["containers", "delete", name]))
    removals.append(("task \(name)", base + ["tasks", "delete", "--force", name]))
    run.deviations = []
    run.evidence.append("ctr run's defaults: a new network namespace with only loopback, containerd's default spec (seccomp and capabilities as containerd's oci.WithDefaultSpec gives them, which ctr does not add to), the io.containerd.runc.v2 shim.")
    guard let result = step(argv) else { return }
    run.command = argv
    collect(result)
  }

  // MARK: runc and crun

  mutating func oci(_ cli: String) {
    let tool = runtime.rawValue
    guard let version = step([cli, "--version"], cap: 20_000) else { return }
    guard version.succeeded else {
      fail("`\(tool) --version` failed: " + version.account, state: .unavailable)
      return
    }
    let first = version.stdoutText.split(whereSeparator: \.isNewline).first.map { String($0) } ?? ""
    run.version = first.split(separator: " ").last.map(String.init)
    run.evidence.append("`\(tool) --version` says \"\(first)\".")
    let bundle = work + "/\(tool)-bundle"
    directories.append(bundle)
    for directory in [bundle, bundle + "/rootfs"] {
      if let err = Sys.mkdir(directory, 0o755).failure {
        fail("culprit could not make the bundle directory \(directory): \(err.name)")
        return
      }
    }
    for entry in ImageFiles.rootfsEntries(binary: binary) {
      let path = bundle + "/rootfs/" + entry.name
      if let contents = entry.contents {
        if let err = FileTree.write(path, contents, mode: mode_t(entry.mode)) {
          fail("culprit could not write \(path): \(err.name)")
          return
        }
      } else {
        _ = Sys.mkdir(path, mode_t(entry.mode))
        _ = chmod(path, mode_t(entry.mode))
      }
    }
    guard let spec = step([cli, "spec"], directory: bundle, cap: 20_000) else { return }
    guard spec.succeeded, case .success(let configBytes) = Sys.readFile(bundle + "/config.json"),
      let config = try? JSONValue.parse(bytes: configBytes), case .object(var object) = config,
      case .object(var process)? = object["process"]
    else {
      fail("`\(tool) spec` did not write a config.json culprit can read: " + spec.account)
      return
    }
    process["args"] = .from(runner.culpritArguments)
    process["terminal"] = .bool(false)
    object["process"] = .object(process)
    if let err = FileTree.write(bundle + "/config.json", Array(JSONValue.object(object).serialized(pretty: true).utf8)) {
      fail("culprit could not write the bundle's config.json: \(err.name)")
      return
    }
    run.image = "a bundle made on the spot: rootfs/ holding only /culprit (and empty /proc, /sys, /dev, /etc, /tmp), config.json from `\(tool) spec`"
    run.deviations = ["config.json from `\(tool) spec` with process.args set to culprit and process.terminal false (the default spec runs `sh` on a terminal); nothing else changed"]
    let argv = [cli, "run", "--bundle", bundle, name]
    removals.append(("container \(name)", [cli, "delete", "--force", name]))
    guard let result = step(argv) else { return }
    run.command = argv
    collect(result)
  }

  // MARK: Removal

  /// Runs every removal, each with its own 30 s bound (after the run's deadline too), and
  /// removes the bundle directories. A removal of something that is already gone is not a failure.
  mutating func removeEverything() {
    for removal in removals.reversed() {
      let result = Subprocess.run(removal.argv, environment: runner.environment, timeoutMilliseconds: 30_000, interruptible: false)
      let text = (result.stderrText + result.stdoutText).lowercased()
      let absent = ["no such", "not found", "does not exist", "not exist", "unknown"].contains { text.contains($0) }
      if result.succeeded {
        run.cleanup.append("removed \(removal.what)")
      } else if absent {
        if !removal.what.hasPrefix("task") { run.cleanup.append("\(removal.what): already gone") }
      } else {
        run.cleanupFailures.append("\(removal.what): " + result.account)
      }
    }
    for directory in directories {
      if FileTree.remove(directory) {
        run.cleanup.append("removed the bundle directory \(directory)")
      } else {
        run.cleanupFailures.append("the bundle directory \(directory) could not be removed")
      }
    }
  }
}

/// Where containerd listens: the bound Unix sockets of /proc/net/unix whose path ends in
/// containerd.sock (a standalone containerd's /run/containerd/containerd.sock first, then
/// Docker's own under its exec-root, e.g. /run/docker/containerd/containerd.sock).
public enum ContainerdSocket {
  public static func candidates(netUnix: String) -> [String] {
    var paths: [String] = []
    for line in netUnix.split(whereSeparator: \.isNewline).dropFirst() {
      guard let path = line.split(separator: " ").last.map(String.init), path.hasPrefix("/"), path.hasSuffix("/containerd.sock") else { continue }
      if !paths.contains(path) { paths.append(path) }
    }
    return paths.sorted { a, b in
      let ra = a == "/run/containerd/containerd.sock" ? 0 : 1, rb = b == "/run/containerd/containerd.sock" ? 0 : 1
      return ra != rb ? ra < rb : a < b
    }
  }

  /// The first listening socket of /proc/net/unix (this network namespace's), else the first
  /// socket file among the usual paths and those under the exec-root of each running dockerd
  /// (`--exec-root` in /proc/PID/cmdline, default /var/run/docker).
  public static func find() -> String? {
    if case .success(let bytes) = Sys.readFile("/proc/net/unix", limit: 16 << 20),
      let first = candidates(netUnix: String(decoding: bytes, as: UTF8.self)).first
    {
      return first
    }
    var paths = ["/run/containerd/containerd.sock", "/run/docker/containerd/containerd.sock", "/var/run/docker/containerd/containerd.sock"]
    if case .success(let entries) = Sys.listDirectory("/proc") {
      for pid in entries where pid.allSatisfy(\.isNumber) {
        guard case .success(let bytes) = Sys.readFile("/proc/\(pid)/cmdline", limit: 65536) else { continue }
        let argv = bytes.split(separator: 0, omittingEmptySubsequences: false).map { String(decoding: $0, as: UTF8.self) }
        guard let name = argv.first?.split(separator: "/").last, name == "dockerd" else { continue }
        for (i, arg) in argv.enumerated() {
          if arg == "--exec-root", i + 1 < argv.count { paths.append(argv[i + 1] + "/containerd/containerd.sock") }
          if arg.hasPrefix("--exec-root=") { paths.append(String(arg.dropFirst(12)) + "/containerd/containerd.sock") }
        }
      }
    }
    return paths.first { path in
      if case .success(let st) = Sys.lstat(path) { return st.st_mode & S_IFMT == S_IFSOCK }
      return false
    }
  }
}

enum ProcessLimitsReader {
  /// culprit's own hard limit for "RLIMIT_NOFILE" or "RLIMIT_NPROC".
  static func hard(_ name: String) -> UInt64 {
    // RLIMIT_NPROC 6, RLIMIT_NOFILE 7 (asm-generic/resource.h, x86_64 and aarch64 alike).
    let resource: UInt32 = name == "RLIMIT_NPROC" ? 6 : 7
    var limit = rlimit()
    guard getrlimit(__rlimit_resource_t(resource), &limit) == 0 else { return 1024 }
    return UInt64(limit.rlim_max)
  }
}

extension ContainerRun {
  /// Podman's --ulimit names of the limits its runtime may fail to set.
  static let ulimitNames = ["RLIMIT_NOFILE": "nofile", "RLIMIT_NPROC": "nproc"]

  /// The limit an OCI runtime says it could not set: crun's "setrlimit `RLIMIT_NPROC`:
  /// Operation not permitted", runc's "error setting rlimit type 7: operation not permitted".
  public static func refusedRlimit(_ message: String) -> String? {
    for name in ulimitNames.keys.sorted() where message.contains(name) && (message.contains("not permitted") || message.contains("EPERM")) {
      return name
    }
    if message.contains("rlimit type 7") { return "RLIMIT_NOFILE" }
    if message.contains("rlimit type 6") { return "RLIMIT_NPROC" }
    return nil
  }
}

/// Writing and removing culprit's own work files.
public enum FileTree {
  /// Writes `bytes` to a new file; nil on success, else the errno.
  public static func write(_ path: String, _ bytes: [UInt8], mode: mode_t = 0o644) -> Errno? {
    switch Sys.open(path, O_WRONLY | O_CREAT | O_TRUNC, mode) {
    case .failure(let err): return err
    case .success(let fd):
      defer { Sys.close(fd) }
      _ = fchmod(fd, mode)
      return Sys.writeAll(fd, bytes).failure
    }
  }

  /// Removes a file or a directory tree (never following symbolic links). True when it is gone.
  @discardableResult
  public static func remove(_ path: String) -> Bool {
    guard case .success(let st) = Sys.lstat(path) else { return true }
    if st.st_mode & S_IFMT == S_IFDIR {
      if case .success(let names) = Sys.listDirectory(path) {
        for name in names where name != "." && name != ".." { remove(path + "/" + name) }
      }
      return Sys.rmdir(path).failure == nil
    }
    return Sys.unlink(path).failure == nil
  }
}
