import CCulprit
import CulpritCore

#if canImport(Glibc)
import Glibc
#endif

/// Real restrictions, then exec: the tests' way of putting culprit under a seccomp filter,
/// without capabilities, as another user, in a cgroup or under an rlimit.
enum Jail {
  static let prCapbsetDrop: Int32 = 24
  static let prSetNoNewPrivs: Int32 = 38
  static let prCapAmbient: Int32 = 47
  static let prCapAmbientClearAll: UInt = 4

  static func run(_ args: [String]) -> Never {
    var seccompDefault: SeccompFilter.Action?
    var rules: [(String, SeccompFilter.Action)] = []
    var dropCaps: CapabilitySet?
    var user: (uid: UInt32, gid: UInt32)?
    var cgroups: [String] = []
    var rlimits: [(Int32, UInt64)] = []
    var noNewPrivs = false
    var profilePath: String?
    var command: [String] = []

    var index = 0
    func value() -> String {
      index += 1
      guard index < args.count else { fail("\(args[index - 1]) needs a value") }
      return args[index]
    }
    func capabilities(_ list: String) -> CapabilitySet {
      if list == "all" { return CapabilitySet(bits: UInt64.max) }
      return CapabilitySet(list.split(separator: ",").map { name in
        guard let n = Capability.number(String(name)) else { fail("unknown capability \(name)") }
        return n
      })
    }
    while index < args.count {
      switch args[index] {
      case "--seccomp-default":
        let spec = value()
        guard let action = SeccompFilter.Action(spec: spec) else { fail("bad action \(spec)") }
        seccompDefault = action
      case "--seccomp-rule":
        let spec = value()
        let parts = spec.split(separator: "=", maxSplits: 1)
        guard parts.count == 2, let action = SeccompFilter.Action(spec: String(parts[1])) else { fail("bad rule \(spec)") }
        rules.append((String(parts[0]), action))
      case "--drop-caps": dropCaps = capabilities(value())
      case "--keep-caps": dropCaps = CapabilitySet(bits: ~capabilities(value()).bits)
      case "--user":
        let parts = value().split(separator: ":")
        guard let uid = UInt32(parts[0]) else { fail("bad --user") }
        user = (uid, parts.count > 1 ? UInt32(parts[1]) ?? uid : uid)
      case "--cgroup": cgroups.append(value())
      case "--rlimit":
        let spec = value()
        let parts = spec.split(separator: "=")
        guard parts.count == 2, let n = UInt64(parts[1]) else { fail("bad --rlimit \(spec)") }
        switch parts[0] {
        case "nproc": rlimits.append((RLimitResource.nproc.rawValue, n))
        case "nofile": rlimits.append((RLimitResource.nofile.rawValue, n))
        default: fail("unknown rlimit \(parts[0])")
        }
      case "--no-new-privs": noNewPrivs = true
      case "--seccomp-profile": profilePath = value()
      case "--":
        command = Array(args[(index + 1)...])
        index = args.count
        continue
      default: fail("unknown jail option \(args[index])")
      }
      index += 1
    }
    guard !command.isEmpty else { fail("jail needs -- COMMAND") }

    for dir in cgroups {
      if case .failure(let err) = Sys.writeFile(dir + "/cgroup.procs", "\(getpid())\n") {
        fail("cannot join cgroup \(dir): \(err)")
      }
    }
    for (resource, limit) in rlimits {
      var value = rlimit(rlim_cur: rlim_t(limit), rlim_max: rlim_t(limit))
      if setrlimit(__rlimit_resource_t(UInt32(resource)), &value) != 0 { fail("setrlimit: \(Errno.current)") }
    }
    if let user {
      if setgroups(0, nil) != 0 { fail("setgroups: \(Errno.current)") }
      if setgid(user.gid) != 0 { fail("setgid: \(Errno.current)") }
      if setuid(user.uid) != 0 { fail("setuid: \(Errno.current)") }
    }
    if let dropCaps { drop(dropCaps) }
    if noNewPrivs, case .failure(let err) = Sys.prctl(prSetNoNewPrivs, 1) { fail("no_new_privs: \(err)") }
    if seccompDefault != nil || !rules.isEmpty {
      do throws(SeccompFilter.Failure) {
        let filter = try SeccompFilter(defaultAction: seccompDefault ?? .allow)
        for (name, action) in rules {
          guard let nr = Int32(name) ?? SeccompFilter.resolve(name) else { fail("unknown syscall \(name)") }
          try filter.add(action, syscall: nr)
        }
        try filter.load()
      } catch {
        fail(error.description)
      }
    }
    if let profilePath {
      // The what-if loader, so the jail installs a profile exactly as culprit would.
      let snapshot = Snapshot()
      guard let arch = Architecture.native else { fail("unknown architecture") }
      let target = SeccompProfile.Target(
        arch: arch, boundingCapabilities: Set(snapshot.capabilities.value?.bounding.names ?? []),
        kernel: snapshot.kernelVersion)
      do throws(SeccompProfileError) {
        // As the what-if mode's default: Docker's conditions decided, runc's stub added.
        let profile = try WhatIfProfile.load(profilePath, source: snapshot.source, target: target, runtime: .docker23)
        if case .failure(let err) = profile.program.install() { fail("installing \(profilePath): \(err)") }
      } catch {
        fail("\(profilePath): \(error)")
      }
    }
    var argv: [UnsafeMutablePointer<CChar>?] = command.map { strdup($0) }
    argv.append(nil)
    execvp(command[0], &argv)
    fail("exec \(command[0]): \(Errno.current)")
  }

  /// Removes capabilities from the bounding, ambient, inheritable, permitted and effective sets.
  static func drop(_ caps: CapabilitySet) {
    let lastCap = Int(LiveSystem().readLine("/proc/sys/kernel/cap_last_cap") ?? "40") ?? 40
    let setpcap = Capability.setpcap
    // CAP_SETPCAP is needed to drop from the bounding set: drop it last.
    for cap in (0...lastCap) where caps.contains(cap) && cap != setpcap {
      if case .failure(let err) = Sys.prctl(prCapbsetDrop, UInt(cap)) { fail("PR_CAPBSET_DROP \(cap): \(err)") }
    }
    if caps.contains(setpcap) { _ = Sys.prctl(prCapbsetDrop, UInt(setpcap)) }
    _ = Sys.prctl(prCapAmbient, prCapAmbientClearAll)
    guard let capget = SyscallNumber.capget.native else { fail("no capget on this architecture") }
    var header: [UInt32] = [0x2008_0522, 0]
    var data = [UInt32](repeating: 0, count: 6)
    _ = header.withUnsafeMutableBytes { h in
      data.withUnsafeMutableBytes { d in Sys.raw(capget, [Int(bitPattern: h.baseAddress), Int(bitPattern: d.baseAddress)]) }
    }
    let keepLow = ~UInt32(truncatingIfNeeded: caps.bits)
    let keepHigh = ~UInt32(truncatingIfNeeded: caps.bits >> 32)
    for i in 0..<3 {
      data[i] &= keepLow
      data[3 + i] &= keepHigh
    }
    let capset = capget + 1  // capset follows capget on x86_64 (126) and aarch64 (91)
    let result = header.withUnsafeMutableBytes { h in
      data.withUnsafeMutableBytes { d in Sys.raw(capset, [Int(bitPattern: h.baseAddress), Int(bitPattern: d.baseAddress)]) }
    }
    if let err = result.failure { fail("capset: \(err)") }
  }
}
