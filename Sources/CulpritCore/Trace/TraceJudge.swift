#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// What the seccomp filter says about one traced call, and how that was found out.
public struct TraceSeccompVerdict: Equatable, Sendable {
  public enum Answer: Equatable, Sendable {
    /// A filter answers the call with this errno.
    case filtered(Errno)
    /// The filters let the call through (to the kernel).
    case allowed
    /// A filter kills (KILL_PROCESS / KILL_THREAD) or traps it.
    case killed
    case trapped
    /// The running kernel lacks the call.
    case absent
    /// The filter could not be asked about this call.
    case unknown
  }

  public enum Method: String, Sendable {
    /// The exact call replayed under a USER_NOTIF filter (field-facts §12).
    case oracle = "user-notif-oracle"
    /// The sweep's discriminating call for this syscall, with arguments the kernel rejects.
    case kernelAnswer = "kernel-answer"
    /// ENOSYS for a call the running kernel has: only a filter answers that.
    case enosysRule = "enosys-for-a-present-call"
    case none
  }

  public var answer: Answer
  public var method: Method
  /// The sentence that says what was asked and what came back.
  public var evidence: String

  public init(answer: Answer, method: Method, evidence: String) {
    self.answer = answer
    self.method = method
    self.evidence = evidence
  }
}

/// The facts of the system the judge reads besides the observations.
public struct TraceSystemFacts: Sendable {
  public var kernel: KernelVersion?
  public var initialUserNamespace: Bool?
  public var devicesList: [String]?
  public var cgroupVersion: CgroupState.Version?
  /// "AppArmor profile docker-default", when an LSM confines culprit.
  public var confinement: String?
  public var yamaScope: Int?
  /// net.ipv4.ip_unprivileged_port_start.
  public var unprivilegedPortStart: Int?
  public var seccompFilterInstalled: Bool?

  public init(
    kernel: KernelVersion?, initialUserNamespace: Bool?, devicesList: [String]?, cgroupVersion: CgroupState.Version?,
    confinement: String?, yamaScope: Int?, unprivilegedPortStart: Int?, seccompFilterInstalled: Bool?
  ) {
    self.kernel = kernel
    self.initialUserNamespace = initialUserNamespace
    self.devicesList = devicesList
    self.cgroupVersion = cgroupVersion
    self.confinement = confinement
    self.yamaScope = yamaScope
    self.unprivilegedPortStart = unprivilegedPortStart
    self.seccompFilterInstalled = seccompFilterInstalled
  }

  public static func read(_ snapshot: Snapshot) -> TraceSystemFacts {
    TraceSystemFacts(
      kernel: snapshot.kernelVersion, initialUserNamespace: snapshot.userns.isInitial,
      devicesList: snapshot.cgroup.devicesList, cgroupVersion: snapshot.cgroup.version,
      confinement: snapshot.lsm.confinement, yamaScope: snapshot.yama.scope,
      unprivilegedPortStart: snapshot.source.readLine("/proc/sys/net/ipv4/ip_unprivileged_port_start").flatMap { Int($0) },
      seccompFilterInstalled: snapshot.seccomp.mode.map { $0 == .filter })
  }
}

/// One judged event of the trace: a refused call, a seccomp trap or kill.
public struct TraceFinding: Sendable {
  public enum Kind: String, Sendable { case failure, trap, kill }

  public var kind: Kind
  public var pid: Int32
  public var program: String
  public var call: TraceCall
  /// "clone3(0x7ffd…, 88)" with the path or address where known.
  public var callText: String
  public var errno: Errno?
  public var count: Int
  public var atMilliseconds: Int
  public var sequence: Int
  /// The layer that refused it; nil when no container layer did (the file's own mode, no
  /// driver behind a device number).
  public var layer: Layer?
  /// Why, in a sentence.
  public var reason: String
  public var evidence: [String]
  public var hint: String?
  public var seccomp: TraceSeccompVerdict?
  public var reaction: TraceReaction?
  /// The program went on (it retried with success, fell back, or continued) and its process
  /// did not fail: the refusal is not what broke it.
  public var survived: Bool
  public var mattered = false
}

/// The trace's verdict: every finding, the one that mattered, and how the program ended.
public struct TraceVerdict: Sendable {
  public var observations: TraceObservations
  public var findings: [TraceFinding]
  /// Index into findings.
  public var mattered: Int?
  /// The program's exit status as a shell gives it (128 + signal), nil when it was left running.
  public var exitStatus: Int32?
  /// The last lines the program that failed wrote to stderr.
  public var message: [String]
}

/// Decides the layer of every recorded failure, with the probes' evidence rules: seccomp
/// first (the filter runs before the syscall's body), then the layer the call's own checks
/// point at, read from the facts captured at the failure.
public enum TraceJudge {
  public static func judge(
    _ obs: TraceObservations, facts: TraceSystemFacts, seccomp: (TraceCall, Errno) -> TraceSeccompVerdict
  ) -> TraceVerdict {
    var findings: [TraceFinding] = []
    for failure in obs.failures {
      findings.append(judge(failure, obs: obs, facts: facts, seccomp: seccomp(failure.call, failure.errno)))
    }
    // A process that died of SIGSYS after a seccomp SIGSYS was delivered to it: the KILL action
    // (which the kernel sends as an uncatchable SIGSYS with SYS_SECCOMP) or a TRAP it has no
    // handler for. One finding, not two.
    var dead: Set<Int32> = []
    for (pid, process) in obs.processes.sorted(by: { $0.key < $1.key }) {
      guard case .signaled(let signal, let during, let seccompKill)? = process.ending, signal == SIGSYS else { continue }
      dead.insert(pid)
      let trap = obs.traps.last { $0.pid == pid }
      let call = trap?.call ?? during ?? TraceCall(nr: -1, name: "an unknown call", args: [])
      let reason: String
      var evidence: [String] = []
      if let trap {
        reason = "a seccomp filter killed the process in \(call.name): SIGSYS with si_code SYS_SECCOMP for system call \(trap.call.nr), which ended it (the KILL action, or a TRAP the program has no handler for); the call was not executed"
        evidence.append("\(process.name) (pid \(pid)) received SIGSYS with si_code SYS_SECCOMP, si_syscall \(trap.call.nr) (\(call.name)), si_errno \(trap.data), and died of it (exit status \(128 + signal)).")
      } else if seccompKill {
        reason = "a seccomp filter's KILL action ended the process in \(call.name): it died of SIGSYS inside the call"
        evidence.append("\(process.name) (pid \(pid)) was killed by SIGSYS while in \(callText(call)) (syscall \(call.nr)).")
      } else {
        reason = "the process died of SIGSYS, which no seccomp filter reported sending (a SIGSYS sent to it by a process)"
        evidence.append("\(process.name) (pid \(pid)) was killed by SIGSYS; no SIGSYS with si_code SYS_SECCOMP was delivered to it.")
      }
      findings.append(
        TraceFinding(
          kind: .kill, pid: pid, program: process.name, call: call, callText: callText(call), errno: nil, count: 1,
          atMilliseconds: trap?.atMilliseconds ?? obs.durationMilliseconds, sequence: Int.max, layer: trap != nil || seccompKill ? .seccomp : .unknown,
          reason: reason, evidence: evidence, hint: Hints.seccompKill, seccomp: nil, reaction: nil, survived: false))
    }
    for trap in obs.traps where !dead.contains(trap.pid) {
      let program = obs.processes[trap.pid]?.name ?? "pid \(trap.pid)"
      findings.append(
        TraceFinding(
          kind: .trap, pid: trap.pid, program: program, call: trap.call, callText: callText(trap.call), errno: nil,
          count: trap.count, atMilliseconds: trap.atMilliseconds, sequence: Int.max - 1, layer: .seccomp,
          reason: "a seccomp filter's TRAP action answered \(trap.call.name): the process received SIGSYS with si_code SYS_SECCOMP (si_errno \(trap.data)), handled it and went on; the call was not executed",
          evidence: ["\(program) (pid \(trap.pid)) got SIGSYS, si_code SYS_SECCOMP, si_syscall \(trap.call.nr) (\(trap.call.name)), si_errno \(trap.data)."],
          hint: Hints.seccompKill, seccomp: nil, reaction: nil, survived: endedBadly(obs, trap.pid) == false))
    }
    findings.sort { $0.sequence < $1.sequence }

    // The failure that mattered: the last one the program did not get past before its
    // process (the command's, or the one that failed) ended badly.
    let exitStatus = obs.rootEnding?.shellStatus
    var mattered: Int?
    if let status = exitStatus, status != 0 {
      mattered = findings.lastIndex { !$0.survived && ($0.kind != .failure || endedBadly(obs, $0.pid)) }
        ?? findings.lastIndex { !$0.survived }
    }
    if let index = mattered { findings[index].mattered = true }
    var message: [String] = []
    if let index = mattered {
      message = obs.processes[findings[index].pid]?.stderrTail ?? []
    }
    if message.isEmpty, let status = exitStatus, status != 0 {
      message = obs.processes[obs.rootPID]?.stderrTail ?? []
    }
    return TraceVerdict(observations: obs, findings: findings, mattered: mattered, exitStatus: exitStatus, message: message)
  }

  static func endedBadly(_ obs: TraceObservations, _ pid: Int32) -> Bool {
    switch obs.processes[pid]?.ending {
    case .exited(let code)?: return code != 0
    case .signaled?: return true
    default: return false
    }
  }

  /// "connect(3, 127.0.0.1:9)", "openat(\"/dev/x\")", "clone3(…)".
  static func callText(_ call: TraceCall, failure: TraceFailure? = nil) -> String {
    if let path = failure?.path {
      if let fd = failure?.pathDescriptor { return "\(call.name)(\(fd) = \"\(path)\")" }
      return "\(call.name)(\"\(path)\")"
    }
    if let address = failure?.address { return "\(call.name)(\(call.args[0]), \(address.text))" }
    return "\(call.name)(" + call.args.prefix(argumentCount(call.name)).map { $0 > 0xffff ? "0x" + String($0, radix: 16) : String($0) }.joined(separator: ", ") + ")"
  }

  static func argumentCount(_ name: String) -> Int {
    switch name {
    case "clone3", "unshare", "setuid", "setgid", "close", "umask", "setns": return name == "setns" || name == "clone3" ? 2 : 1
    case "socket", "faccessat2", "mknodat": return name == "faccessat2" ? 4 : 3
    case "ptrace", "kill": return 2
    default: return 3
    }
  }

  // MARK: One failure

  static func judge(_ f: TraceFailure, obs: TraceObservations, facts: TraceSystemFacts, seccomp s: TraceSeccompVerdict) -> TraceFinding {
    let program = obs.processes[f.pid]?.name ?? "pid \(f.pid)"
    var evidence: [String] = []
    let times = f.count > 1 ? " (\(f.count) times)" : ""
    evidence.append("\(program) (pid \(f.pid)) called \(callText(f.call, failure: f))\(f.viaSocketError ? "; the non-blocking connect's getsockopt(SO_ERROR) reported" : ", which returned") \(f.errno.name)\(times).")
    var blame = attribute(f, facts: facts, seccomp: s, evidence: &evidence)
    if blame.layer == .seccomp || s.answer != .unknown {
      evidence.append("seccomp (\(s.method.rawValue)): \(s.evidence)")
    }
    if let filters = f.task?.seccompFilters, let mine = obs.tracerSeccompFilters, filters > mine {
      evidence.append(
        "The program runs under \(filters) seccomp filters and culprit under \(mine): it installed \(filters - mine) of its own, which culprit's question to the filter does not include.")
      if blame.layer == nil || blame.layer == .unknown {
        blame = (.seccomp, "a seccomp filter the program installed itself may answer it (culprit can ask only the filters it runs under)", Hints.seccompKill)
      }
    }
    let reaction = f.reaction
    let processOK: Bool = {
      if case .exited(0)? = obs.processes[f.pid]?.ending { return true }
      return obs.processes[f.pid]?.ending == nil || obs.processes[f.pid]?.ending == .detached
    }()
    let survived: Bool
    switch reaction {
    case .retried(true), .fellBack(_, true): survived = true
    case .continued: survived = processOK
    default: survived = false
    }
    return TraceFinding(
      kind: .failure, pid: f.pid, program: program, call: f.call, callText: callText(f.call, failure: f), errno: f.errno,
      count: f.count, atMilliseconds: f.atMilliseconds, sequence: f.lastSequence, layer: blame.layer, reason: blame.reason,
      evidence: evidence, hint: blame.hint, seccomp: s, reaction: reaction, survived: survived)
  }

  typealias Attribution = (layer: Layer?, reason: String, hint: String?)

  static func attribute(_ f: TraceFailure, facts: TraceSystemFacts, seccomp s: TraceSeccompVerdict, evidence: inout [String]) -> Attribution {
    let name = f.call.name
    let err = f.errno
    // 1. The filter runs before the call's body: its answer decides first.
    if case .filtered(let answer) = s.answer {
      let exact = answer == err
      var hint = Hints.seccompKill
      if name == "clone3" && err == .notPermitted { hint = ThreadHints.clone3EPERM }
      if name == "faccessat2" && err == .notPermitted {
        hint = "The seccomp profile answers faccessat2 with EPERM, so glibc ≥ 2.33 and musl ≥ 1.2.2 do not fall back to faccessat. Docker allows faccessat2 from 20.10.0 (moby#41353, with libseccomp ≥ 2.4.4); for a custom profile, allow it or answer it with ENOSYS: {\"names\": [\"faccessat2\"], \"action\": \"SCMP_ACT_ERRNO\", \"errnoRet\": 38}."
      }
      return (.seccomp, exact
        ? "a seccomp filter answers \(name) with \(err.name)"
        : "a seccomp filter answers \(name) with \(answer.name) for the discriminating call (the program got \(err.name), so a rule on its arguments may differ)", hint)
    }
    if s.answer == .absent || (err == .noFunction && s.answer == .unknown && facts.seccompFilterInstalled == false) {
      return (.kernel, "the running kernel does not have \(name)", nil)
    }
    // 2. The call's own checks.
    switch (name, err) {
    case (_, .resourceTemporarilyUnavailable) where ["clone", "clone3", "fork", "vfork"].contains(name):
      guard let limits = f.taskLimits else { return (.unknown, "\(name) failed with EAGAIN; the task limits were not read", nil) }
      let judged = limits.attributeEAGAIN(call: name, before: nil)
      evidence += judged.evidence
      if let level = limits.pids.first(where: { $0.max != nil && $0.current != nil }), judged.layer == .cgroupPids {
        evidence.append(
          "culprit's tracer is 1 of the \(level.current!) tasks in \(level.directory): run without culprit, the program would have had room for one more task, and would fail one fork later.")
      }
      return (judged.layer, judged.summary, judged.hint)
    case (_, .noFunction):
      return (.seccomp, "ENOSYS for \(name), which the running kernel has: a seccomp rule answers ENOSYS (or runc's -ENOSYS stub for calls newer than the profile)", Hints.seccompKill)
    case (_, .readOnlyFileSystem):
      let where_ = f.mount.map { "\($0.display)" } ?? "the file's mount"
      return (.mount, "\(f.path ?? "the path") is on a read-only mount: \(where_)", "Mount a writable volume there (Docker `-v` or `--tmpfs`; Kubernetes an emptyDir), or drop `--read-only` / `readOnlyRootFilesystem`.")
    case ("connect", _):
      return network(f, evidence: &evidence)
    case (_, Errno(rawValue: EMFILE)):
      if let line = f.limitsLine { evidence.append("/proc/\(f.pid)/limits: \(line).") }
      return (.rlimit, "the process has as many open files as RLIMIT_NOFILE allows", "Raise the limit: Docker/Podman `--ulimit nofile=N:N`; Kubernetes takes it from the container runtime; or close descriptors the program leaks.")
    case (_, Errno(rawValue: ENOSPC)):
      if name == "unshare" || name == "clone" || name == "clone3" {
        return (.userns, "no more user namespaces may be created (user.max_user_namespaces)", nil)
      }
      if name.hasPrefix("inotify") {
        return (.kernel, "the inotify limits (fs.inotify.max_user_watches / max_user_instances) are reached", "Raise fs.inotify.max_user_watches on the host (the sysctl is not namespaced).")
      }
      // A full filesystem is no container layer's refusal: say which one, and how full.
      let where_ = f.mount.map { "at \($0.mountPoint) (\($0.fsType)\(sizeOption($0).map { ", \($0)" } ?? ""))" } ?? "holding \(f.path ?? "the file")"
      if let space = f.space { evidence.append("statvfs of \(f.path ?? "the file") at that moment: \(space.text).") }
      let what = f.space?.outOfInodes == true ? "has no free inodes left" : "is full"
      var hint = "Free space there, or give it more room"
      if let m = f.mount, m.fsType == "tmpfs" { hint += " (a tmpfs's size: Docker `--tmpfs \(m.mountPoint):size=…`, `mount -o remount,size=…`)" }
      return (nil, "the filesystem \(where_) \(what): no container layer refused the call", hint + ".")
    case (_, .noSuchDeviceOrAddress), (_, .noSuchDevice):
      return (nil, "the open passed every layer; no driver serves this device number", nil)
    default:
      break
    }
    if name == "mknod" || name == "mknodat" {
      let modeArg = f.call.args[name == "mknod" ? 1 : 2]
      let devArg = f.call.args[name == "mknod" ? 2 : 3]
      let type: Character = (modeArg & 0o170000) == 0o060000 ? "b" : (modeArg & 0o170000) == 0o020000 ? "c" : "p"
      let device = DeviceNumber(major: UInt32(((devArg >> 8) & 0xfff) | ((devArg >> 32) & ~0xfff)), minor: UInt32((devArg & 0xff) | ((devArg >> 12) & ~0xff)))
      let blame = DeviceNodeAccess.mknodRefusal(err, type: type, device: device, situation(f, facts: facts, seccomp: s))
      if let eff = f.task?.effective { evidence.append("CapEff of the thread at that moment: \(eff.hex)\(eff.contains(Capability.mknod) ? " (CAP_MKNOD held)" : " (no CAP_MKNOD)").") }
      return (blame.layer, blame.reason, blame.layer == .capabilities ? Hints.grantCapability("CAP_MKNOD") : nil)
    }
    if let st = f.pathStat, st.type == .characterDevice || st.type == .blockDevice, ["open", "openat", "openat2"].contains(name),
      err == .notPermitted || err == .permissionDenied
    {
      let flags = f.call.args[name == "open" ? 1 : 2]
      let accesses: [Character] = flags & 3 == 0 ? ["r"] : flags & 3 == 1 ? ["w"] : ["r", "w"]
      let device = DeviceNumber(major: st.deviceMajor, minor: st.deviceMinor)
      if let blame = DeviceNodeAccess.openRefusal(err, type: st.type == .blockDevice ? "b" : "c", device: device, accesses: accesses, situation(f, facts: facts, seccomp: s)) {
        if let list = facts.devicesList { evidence.append("devices.list: \(list.joined(separator: "; ")).") }
        return (blame.layer, blame.reason, nil)
      }
    }
    if name == "ptrace", err == .notPermitted || err == .permissionDenied {
      return ptrace(f, facts: facts, evidence: &evidence)
    }
    if err == .permissionDenied {
      if name == "execve" || name == "execveat", let mount = f.mount, mount.isNoExec {
        return (.mount, "\(f.path ?? "the file") is on a noexec mount: \(mount.display)", "Run it from a mount without noexec, or remount without it.")
      }
      if name == "bind", let port = f.address?.port, port < (facts.unprivilegedPortStart ?? 1024), f.task?.effective?.contains(Capability.number("NET_BIND_SERVICE")!) == false {
        return (.capabilities, "binding port \(port) (below net.ipv4.ip_unprivileged_port_start \(facts.unprivilegedPortStart ?? 1024)) needs CAP_NET_BIND_SERVICE, which is not effective", Hints.grantCapability("CAP_NET_BIND_SERVICE"))
      }
      if let dac = permissions(f) {
        evidence.append(dac.sentence)
        if dac.denies { return (nil, "the file's own permissions refuse it (\(dac.summary)): no container layer is involved", nil) }
      }
      if let label = f.task?.label, label != "unconfined" {
        return (.lsm, "EACCES that neither the file's mode nor a mount option explains, under the security label \(label)", "Look for the denial in the host's audit log (AppArmor: `dmesg | grep apparmor=\"DENIED\"`); run with `--security-opt apparmor=unconfined` (or SELinux `label=disable`) to confirm.")
      }
      if let confinement = facts.confinement {
        return (.lsm, "EACCES that neither the file's mode nor a mount option explains, under \(confinement)", nil)
      }
    }
    if err == .notPermitted || err == .permissionDenied, let gate = capabilityGate(f) {
      let capName = Capability.name(gate.cap) ?? "cap \(gate.cap)"
      if let eff = f.task?.effective {
        evidence.append("CapEff of the thread at that moment: \(eff.hex) (\(eff.contains(gate.cap) ? "holds" : "lacks") \(capName)).")
        if !eff.contains(gate.cap) {
          return (.capabilities, "\(gate.what) needs \(capName), which is not in the thread's effective set", Hints.grantCapability(capName))
        }
        if facts.initialUserNamespace == false {
          return (.userns, "\(capName) is held, but only inside a user namespace, and \(gate.what) is checked against the initial one or the namespace that owns the object", nil)
        }
        return (.unknown, "\(capName) is held, yet \(name) answered \(err.name): a security module, a seccomp rule on the arguments, or the object itself refused it", nil)
      }
      return (.unknown, "\(gate.what) needs \(capName); the thread's capabilities could not be read", nil)
    }
    if let label = f.task?.label, label != "unconfined", err == .permissionDenied {
      return (.lsm, "EACCES under the security label \(label), with no other explanation", nil)
    }
    if s.answer == .allowed {
      return (.unknown, "the seccomp filter lets \(name) through, and no other layer culprit knows explains \(err.name)", nil)
    }
    return (.unknown, "culprit could not ask the seccomp filter about \(name) and knows no other layer that explains \(err.name)", nil)
  }

  /// "size=64k" from a mount's super options (tmpfs), when set.
  static func sizeOption(_ m: Mount) -> String? {
    (m.superOptions + m.options).first { $0.hasPrefix("size=") }
  }

  static func situation(_ f: TraceFailure, facts: TraceSystemFacts, seccomp s: TraceSeccompVerdict) -> DeviceNodeAccess.Situation {
    let check: Errno?
    switch s.answer {
    case .filtered(let e): check = e
    case .allowed: check = .invalidArgument
    default: check = nil
    }
    return DeviceNodeAccess.Situation(
      seccompCheck: check, initialUserNamespace: facts.initialUserNamespace,
      hasMknodCapability: f.task?.effective.map { $0.contains(Capability.mknod) }, devicesList: facts.devicesList,
      cgroupVersion: facts.cgroupVersion, mount: f.mount, confinement: f.task?.label.flatMap { $0 == "unconfined" ? nil : $0 } ?? facts.confinement)
  }

  static func network(_ f: TraceFailure, evidence: inout [String]) -> Attribution {
    let to = f.address?.text ?? "the address"
    switch f.errno.rawValue {
    case ECONNREFUSED:
      return (.network, "nothing listens on \(to): the connection was refused (a TCP reset, or an ICMP port-unreachable)", "Check that the service is running and listening on \(to) from this container's network namespace; with --network none only loopback exists.")
    case ETIMEDOUT:
      return (.network, "\(to) did not answer: the connection timed out (packets dropped on the way, or a firewall that drops)", nil)
    case EHOSTUNREACH:
      return (.network, "no host answers at \(to) (no route or an ICMP host-unreachable; a REJECT firewall rule gives this too)", nil)
    case ENETUNREACH:
      return (.network, "there is no route to \(to) from this network namespace", "The container has no route to that network (Docker --network none has only loopback).")
    case EPERM, EACCES:
      return (.network, "a firewall rule in this network namespace (netfilter OUTPUT) refused the connection to \(to)", nil)
    default:
      return (.network, "connect to \(to) failed with \(f.errno.name)", nil)
    }
  }

  static func ptrace(_ f: TraceFailure, facts: TraceSystemFacts, evidence: inout [String]) -> Attribution {
    if f.errno == .permissionDenied {
      return (.lsm, "EACCES from ptrace comes from a security module, not the kernel's own checks (which answer EPERM)", nil)
    }
    guard let target = f.target, target.exists else {
      return (.unknown, "ptrace answered EPERM and the target process could not be read", nil)
    }
    if let tracer = target.tracerPID, tracer != 0 {
      return (.unknown, "the target (pid \(target.pid)) is already traced by pid \(tracer), and a process has only one tracer", nil)
    }
    let eff = f.task?.effective
    let hasSysPtrace = eff?.contains(Capability.sysPtrace) ?? false
    let idsMatch = !(f.task?.uids.isEmpty ?? true) && Set(target.uids).count == 1 && target.uids.first == f.task?.uids.first
    let permittedWithin = target.permitted.map { $0.subtracting(f.task?.effective ?? CapabilitySet(bits: 0)).isEmpty } ?? true
    let situation = PtraceAccess.Situation(
      yamaScope: facts.yamaScope, tracerHasSysPtrace: hasSysPtrace, idsMatch: idsMatch,
      targetCapabilitiesWithinTracers: permittedWithin, targetIsDescendant: target.isDescendant)
    evidence.append(
      "Target pid \(target.pid): uids \(target.uids.map(String.init).joined(separator: " ")), \(target.isDescendant ? "a descendant" : "not a descendant") of the caller; Yama ptrace_scope \(facts.yamaScope.map(String.init) ?? "absent"); caller \(hasSysPtrace ? "holds" : "lacks") CAP_SYS_PTRACE.")
    if let refusal = PtraceAccess.refusal(situation) {
      return (refusal.layer, refusal.reason, refusal.layer == .capabilities ? Hints.grantCapability("CAP_SYS_PTRACE") : nil)
    }
    return (.unknown, "EPERM although the ids match, Yama allows it and the capabilities suffice", nil)
  }

  /// The capability a call needs for these arguments (capabilities(7)).
  static func capabilityGate(_ f: TraceFailure) -> (cap: Int, what: String)? {
    let a = f.call.args
    func cap(_ name: String) -> Int { Capability.number(name)! }
    switch f.call.name {
    case "mount", "umount2", "pivot_root", "sethostname", "setdomainname", "quotactl", "setns", "swapon", "swapoff", "fsopen", "fsmount", "move_mount", "open_tree":
      return (cap("SYS_ADMIN"), f.call.name == "mount" ? "mount" : f.call.name)
    case "unshare":
      // CLONE_NEWUSER alone needs no capability.
      return a[0] & 0x7e02_0000 & ~0x1000_0000 != 0 ? (cap("SYS_ADMIN"), "unshare of a namespace other than a user namespace") : nil
    case "chroot": return (cap("SYS_CHROOT"), "chroot")
    case "chown", "fchown", "lchown", "fchownat": return (cap("CHOWN"), "changing a file's owner")
    case "setuid", "setreuid", "setresuid", "setfsuid": return (cap("SETUID"), f.call.name)
    case "setgid", "setregid", "setresgid", "setfsgid", "setgroups": return (cap("SETGID"), f.call.name)
    case "kill", "tgkill", "tkill": return (cap("KILL"), "signalling a process of another user")
    case "settimeofday", "clock_settime", "adjtimex", "clock_adjtime": return (cap("SYS_TIME"), "setting the clock")
    case "reboot": return (cap("SYS_BOOT"), "reboot")
    case "init_module", "finit_module", "delete_module": return (cap("SYS_MODULE"), "loading a kernel module")
    case "iopl", "ioperm": return (cap("SYS_RAWIO"), f.call.name)
    case "setpriority", "sched_setscheduler", "sched_setattr", "sched_setparam": return (cap("SYS_NICE"), "raising a priority")
    case "setrlimit", "prlimit64": return (cap("SYS_RESOURCE"), "raising a hard resource limit")
    case "mlock", "mlockall", "mlock2": return (cap("IPC_LOCK"), "locking memory beyond RLIMIT_MEMLOCK")
    case "bpf": return (cap("SYS_ADMIN"), "bpf")
    case "perf_event_open": return (cap("PERFMON"), "perf_event_open")
    case "acct": return (cap("SYS_PACCT"), "acct")
    case "syslog": return (cap("SYSLOG"), "reading the kernel log")
    case "capset": return (cap("SETPCAP"), "capset")
    case "socket":
      if a[0] == 17 || (a[1] & 0xf) == 3 { return (cap("NET_RAW"), a[0] == 17 ? "a packet socket" : "a raw socket") }
      return nil
    case "chmod", "fchmod", "fchmodat", "utimensat", "utime", "utimes": return (cap("FOWNER"), "changing a file the process does not own")
    default: return nil
    }
  }

  /// The file's mode bits against the thread's fsuid/fsgid, for the access the call asked for.
  static func permissions(_ f: TraceFailure) -> (denies: Bool, summary: String, sentence: String)? {
    guard let st = f.pathStat, let task = f.task, let uid = task.fsuid, let gid = task.fsgid else { return nil }
    let a = f.call.args
    var want: UInt32
    switch f.call.name {
    case "execve", "execveat": want = 1
    case "open": want = a[1] & 3 == 0 ? 4 : a[1] & 3 == 1 ? 2 : 6
    case "openat", "openat2": want = f.call.name == "openat2" ? 4 : (a[2] & 3 == 0 ? 4 : a[2] & 3 == 1 ? 2 : 6)
    case "access": want = UInt32(a[1] & 7)
    case "faccessat", "faccessat2": want = UInt32(a[2] & 7)
    default: return nil
    }
    if want == 0 { return nil }
    let bits: UInt32 = uid == st.uid ? (st.mode >> 6) & 7 : gid == st.gid ? (st.mode >> 3) & 7 : st.mode & 7
    let whose = uid == st.uid ? "owner" : gid == st.gid ? "group" : "other"
    let override = task.effective?.contains(Capability.dacOverride) ?? false
    var allowed = bits & want == want
    if override && (want & 1 == 0 || st.mode & 0o111 != 0) { allowed = true }
    let mode = String(st.mode & 0o7777, radix: 8)
    let summary = "mode \(mode), owner \(st.uid):\(st.gid), the process's fsuid \(uid) and fsgid \(gid) get the \(whose) bits"
    let sentence = "\(f.path ?? "the file") has \(summary)\(override ? " and CAP_DAC_OVERRIDE is effective" : ""): the mode \(allowed ? "allows" : "refuses") the access (supplementary groups and the directories above are not checked)."
    return (!allowed, summary, sentence)
  }
}
