import CCulprit

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

  /// The number of a syscall name on an architecture (AUDIT_ARCH value); nil when unknown.
  public static func resolve(_ name: String, arch: UInt32) -> Int32? {
    let nr = seccomp_syscall_resolve_name_arch(arch, name)
    return nr == __NR_SCMP_ERROR ? nil : nr
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
