import CCulprit

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// A seccomp filter built with libseccomp and installed on the calling process (and inherited by
/// its children). Used by the what-if mode and by the tests' jail.
public final class SeccompFilter {
  /// A filter action, as profiles and the test jail name them.
  public enum Action: Equatable, Sendable, CustomStringConvertible {
    case allow
    case errno(Int32)
    case killThread
    case killProcess
    case trap
    case log
    case trace(UInt16)
    case notify

    var raw: UInt32 {
      switch self {
      case .allow: return SCMP_ACT_ALLOW
      case .errno(let e): return culprit_scmp_act_errno(UInt16(truncatingIfNeeded: e))
      case .killThread: return SCMP_ACT_KILL_THREAD
      case .killProcess: return SCMP_ACT_KILL_PROCESS
      case .trap: return SCMP_ACT_TRAP
      case .log: return SCMP_ACT_LOG
      case .trace(let message): return culprit_scmp_act_trace(message)
      case .notify: return SCMP_ACT_NOTIFY
      }
    }

    /// Parses "allow", "errno:EPERM", "errno:38", "kill", "kill_thread", "kill_process", "trap",
    /// "log", "trace".
    public init?(spec: String) {
      let lower = spec.lowercased()
      switch lower {
      case "allow": self = .allow
      case "kill", "kill_thread": self = .killThread
      case "kill_process": self = .killProcess
      case "trap": self = .trap
      case "log": self = .log
      case "trace": self = .trace(0)
      case "notify": self = .notify
      default:
        guard lower.hasPrefix("errno:") else { return nil }
        let value = String(spec.dropFirst(6))
        if let number = Int32(value) {
          self = .errno(number)
        } else if let named = Errno(name: value.uppercased()) {
          self = .errno(named.rawValue)
        } else {
          return nil
        }
      }
    }

    public var description: String {
      switch self {
      case .allow: return "allow"
      case .errno(let e): return "errno:\(Errno(rawValue: e).name)"
      case .killThread: return "kill_thread"
      case .killProcess: return "kill_process"
      case .trap: return "trap"
      case .log: return "log"
      case .trace: return "trace"
      case .notify: return "notify"
      }
    }
  }

  /// A failure of libseccomp, naming the call and its negative errno.
  public struct Failure: Error, CustomStringConvertible, Equatable {
    public var description: String
  }

  let context: scmp_filter_ctx

  /// A filter whose default action is `defaultAction`, for the native architecture.
  public init(defaultAction: Action) throws(Failure) {
    guard let ctx = seccomp_init(defaultAction.raw) else {
      throw Failure(description: "seccomp_init failed (libseccomp refused the default action \(defaultAction))")
    }
    context = ctx
  }

  /// A filter for one architecture (an AUDIT_ARCH value), native or not: for compiling a
  /// profile as another machine's runtime would, to interpret it, never to load it.
  public convenience init(defaultAction: Action, onlyArchitecture arch: UInt32) throws(Failure) {
    try self.init(defaultAction: defaultAction)
    let native = seccomp_arch_native()
    if arch != native {
      try addArchitecture(arch)
      let rc = seccomp_arch_remove(context, native)
      if rc != 0 { throw Failure(description: "seccomp_arch_remove failed: \(Errno(rawValue: -rc).name)") }
    }
  }

  deinit { seccomp_release(context) }

  /// Adds an architecture (an AUDIT_ARCH value) besides the native one.
  public func addArchitecture(_ arch: UInt32) throws(Failure) {
    let rc = seccomp_arch_add(context, arch)
    if rc != 0 && rc != -Errno.fileExists.rawValue {
      throw Failure(description: "seccomp_arch_add failed: \(Errno(rawValue: -rc).name)")
    }
  }


  /// The native number of a syscall name, as libseccomp resolves it; nil when unknown.
  public static func resolve(_ name: String) -> Int32? {
    let nr = seccomp_syscall_resolve_name(name)
    return nr == __NR_SCMP_ERROR ? nil : nr
  }

  /// The native number of a name, or libseccomp's negative pseudo-number for a call the native
  /// architecture lacks; nil when libseccomp does not know the name.
  static func resolveIncludingPseudo(_ name: String) -> Int32? {
    let nr = seccomp_syscall_resolve_name(name)
    return nr == __NR_SCMP_ERROR ? nil : nr
  }

  /// The number of a syscall name on an architecture (AUDIT_ARCH value); nil when unknown.
  public static func resolve(_ name: String, arch: UInt32) -> Int32? {
    let nr = seccomp_syscall_resolve_name_arch(arch, name)
    return nr == __NR_SCMP_ERROR ? nil : nr
  }

  /// The name libseccomp gives a syscall number on an architecture; nil when it knows none.
  public static func name(of number: Int32, arch: UInt32) -> String? {
    guard let name = seccomp_syscall_resolve_num_arch(arch, number) else { return nil }
    defer { free(name) }
    return String(cString: name)
  }

  /// Applies `action` to every call of syscall `number` (no argument conditions).
  public func add(_ action: Action, syscall number: Int32) throws(Failure) {
    let rc = seccomp_rule_add_array(context, action.raw, number, 0, nil)
    if rc != 0 { throw Failure(description: "seccomp_rule_add(\(number), \(action)) failed: \(Errno(rawValue: -rc).name)") }
  }

  /// One argument condition: argument `index` compared with `value` (masked for `.maskedEqual`).
  public struct Condition: Sendable {
    public enum Op: Sendable { case notEqual, lessThan, lessOrEqual, equal, greaterOrEqual, greaterThan, maskedEqual }
    public var index: UInt32
    public var op: Op
    public var value: UInt64
    public var valueTwo: UInt64

    public init(index: UInt32, op: Op, value: UInt64, valueTwo: UInt64 = 0) {
      self.index = index
      self.op = op
      self.value = value
      self.valueTwo = valueTwo
    }

    var raw: scmp_arg_cmp {
      let compare: scmp_compare
      switch op {
      case .notEqual: compare = SCMP_CMP_NE
      case .lessThan: compare = SCMP_CMP_LT
      case .lessOrEqual: compare = SCMP_CMP_LE
      case .equal: compare = SCMP_CMP_EQ
      case .greaterOrEqual: compare = SCMP_CMP_GE
      case .greaterThan: compare = SCMP_CMP_GT
      case .maskedEqual: compare = SCMP_CMP_MASKED_EQ
      }
      // For SCMP_CMP_MASKED_EQ, datum_a is the mask and datum_b the value.
      return scmp_arg_cmp(arg: index, op: compare, datum_a: value, datum_b: valueTwo)
    }
  }

  /// Applies `action` to calls of `number` whose arguments meet every condition.
  public func add(_ action: Action, syscall number: Int32, conditions: [Condition]) throws(Failure) {
    if conditions.isEmpty { return try add(action, syscall: number) }
    let raw = conditions.map(\.raw)
    let rc = raw.withUnsafeBufferPointer { buffer in
      seccomp_rule_add_array(context, action.raw, number, UInt32(buffer.count), buffer.baseAddress)
    }
    if rc != 0 {
      throw Failure(description: "seccomp_rule_add(\(number), \(action), \(conditions.count) conditions) failed: \(Errno(rawValue: -rc).name)")
    }
  }

  /// Installs the filter on the calling thread (and so on every process it forks). libseccomp
  /// sets no_new_privs first unless the caller has CAP_SYS_ADMIN.
  public func load() throws(Failure) {
    let rc = seccomp_load(context)
    if rc != 0 { throw Failure(description: "seccomp_load failed: \(Errno(rawValue: -rc).description)") }
  }
}

extension SeccompFilter {
  /// The filter's classic-BPF program as libseccomp generates it (seccomp_export_bpf), host
  /// byte order, 8 bytes per instruction.
  public func exportBPF() throws(Failure) -> [UInt8] {
    var program: UnsafeMutableRawPointer?
    var length = 0
    let rc = culprit_seccomp_export(context, &program, &length)
    guard rc == 0, let program else {
      throw Failure(description: "seccomp_export_bpf failed: \(Errno(rawValue: -rc).name)")
    }
    defer { free(program) }
    return Array(UnsafeRawBufferPointer(start: program, count: length))
  }

  /// Sets libseccomp's binary-tree optimisation (SCMP_FLTATR_CTL_OPTIMIZE, libseccomp ≥ 2.5), as
  /// runc does for profiles with more than 32 rules. Only the program's shape changes.
  public func optimize(level: UInt32) {
    _ = seccomp_attr_set(context, SCMP_FLTATR_CTL_OPTIMIZE, level)
  }
}

/// A classic-BPF seccomp program ready to be installed, built from a profile.
public struct SeccompProgram: Sendable, Equatable {
  /// struct sock_filter instructions, 8 bytes each, host byte order.
  public var instructions: [UInt8]
  /// SECCOMP_FILTER_FLAG_* for seccomp(2).
  public var flags: UInt32
  /// The -ENOSYS stub's threshold when one was prepended: calls numbered above it answer ENOSYS.
  public var enosysStubAbove: Int?

  public var count: Int { instructions.count / 8 }

  /// One BPF instruction.
  static func instruction(_ code: UInt16, _ jt: UInt8, _ jf: UInt8, _ k: UInt32) -> [UInt8] {
    var bytes: [UInt8] = []
    withUnsafeBytes(of: code) { bytes += $0 }
    bytes += [jt, jf]
    withUnsafeBytes(of: k) { bytes += $0 }
    return bytes
  }

  /// runc's -ENOSYS stub (libcontainer/seccomp/patchbpf, runc ≥ 1.0.0-rc93) for the native
  /// architecture: a native call numbered above `highest` answers ENOSYS before the filter runs;
  /// x86_64 calls with the x32 bit set go to the filter.
  static func enosysStub(arch: Architecture, highest: Int) -> [UInt8] {
    let ldAbs: UInt16 = 0x20, jeq: UInt16 = 0x15, jgt: UInt16 = 0x25, jset: UInt16 = 0x45, ret: UInt16 = 0x06
    let enosys: UInt32 = 0x0005_0000 | 38
    var stub: [UInt8] = []
    stub += instruction(ldAbs, 0, 0, 4)  // A = seccomp_data.arch
    if arch == .x86_64 {
      stub += instruction(jeq, 0, 4, arch.seccompToken)  // other arch: to the filter
      stub += instruction(ldAbs, 0, 0, 0)  // A = seccomp_data.nr
      stub += instruction(jset, 2, 0, 0x4000_0000)  // x32: to the filter
    } else {
      stub += instruction(jeq, 0, 3, arch.seccompToken)
      stub += instruction(ldAbs, 0, 0, 0)
    }
    stub += instruction(jgt, 0, 1, UInt32(highest))
    stub += instruction(ret, 0, 0, enosys)
    return stub
  }

  /// Installs the program on the calling thread: seccomp(SECCOMP_SET_MODE_FILTER). Without
  /// CAP_SYS_ADMIN the kernel wants no_new_privs first (EACCES), which is then set and the load
  /// retried.
  public func install() -> Result<Void, Errno> {
    func load() -> Int32 {
      instructions.withUnsafeBytes { raw in culprit_seccomp_install(raw.baseAddress!, UInt16(count), flags) }
    }
    if load() >= 0 { return .success(()) }
    var err = Errno.current
    if err == .permissionDenied {
      if case .failure(let nnp) = Sys.prctl(38 /* PR_SET_NO_NEW_PRIVS */, 1) { return .failure(nnp) }
      if load() >= 0 { return .success(()) }
      err = .current
    }
    return .failure(err)
  }
}

extension SeccompProfile.Resolved {
  /// Builds the filter as runc does: libseccomp rules (conditions on one argument index each
  /// go in one rule; several on the same index become separate rules, ORed), then runc's
  /// -ENOSYS stub when the default action refuses and the profile lists this architecture.
  /// Only the native architecture is in the filter: the probes make native calls only.
  public func compile(arch: Architecture, enosysStub: Bool = true) throws(SeccompProfileError) -> SeccompProgram {
    let filter: SeccompFilter
    do {
      filter = try SeccompFilter(defaultAction: defaultAction, onlyArchitecture: arch.seccompToken)
    } catch {
      throw SeccompProfileError("defaultAction", error.description)
    }
    if rules.count > 32 { filter.optimize(level: 2) }
    for rule in rules {
      let conditions = rule.conditions.map { arg -> SeccompFilter.Condition in
        let op: SeccompFilter.Condition.Op
        switch arg.op {
        case .notEqual: op = .notEqual
        case .lessThan: op = .lessThan
        case .lessOrEqual: op = .lessOrEqual
        case .equal: op = .equal
        case .greaterOrEqual: op = .greaterOrEqual
        case .greaterThan: op = .greaterThan
        case .maskedEqual: op = .maskedEqual
        }
        return SeccompFilter.Condition(index: UInt32(arg.index), op: op, value: arg.value, valueTwo: arg.valueTwo)
      }
      let indices = rule.conditions.map(\.index)
      let groups: [[SeccompFilter.Condition]] =
        Set(indices).count == indices.count ? [conditions] : conditions.map { [$0] }
      // libseccomp takes rule numbers as the native architecture numbers them (negative
      // pseudo-numbers for calls it lacks) and translates them for each architecture of the
      // filter; for another architecture's filter the name is resolved natively.
      var number = Int32(rule.number)
      if arch != Architecture.native {
        guard let native = SeccompFilter.resolveIncludingPseudo(rule.name) else { continue }
        number = native
      }
      for group in groups {
        do {
          try filter.add(rule.action, syscall: number, conditions: group)
        } catch {
          throw SeccompProfileError(rule.path, "libseccomp refused the rule for \(rule.name): \(error.description)")
        }
      }
    }
    var bytes: [UInt8]
    do {
      bytes = try filter.exportBPF()
    } catch {
      throw SeccompProfileError("", error.description)
    }
    var stubAbove: Int?
    let permissive: Bool
    switch defaultAction {
    case .allow, .log, .trace: permissive = true
    default: permissive = false
    }
    if enosysStub, !permissive, listsNativeArchitecture, let highest = highestNamedNumber {
      bytes = SeccompProgram.enosysStub(arch: arch, highest: highest) + bytes
      stubAbove = highest
    }
    guard bytes.count / 8 <= 4096 else {
      throw SeccompProfileError("", "the filter needs \(bytes.count / 8) BPF instructions; the kernel takes at most 4096")
    }
    var flagBits: UInt32 = 0
    if flags.contains("SECCOMP_FILTER_FLAG_LOG") { flagBits |= 2 }
    if flags.contains("SECCOMP_FILTER_FLAG_SPEC_ALLOW") { flagBits |= 4 }
    return SeccompProgram(instructions: bytes, flags: flagBits, enosysStubAbove: stubAbove)
  }
}
