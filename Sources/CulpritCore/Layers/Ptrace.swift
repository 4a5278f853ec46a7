/// Who may attach to whom with ptrace: the kernel's access check for PTRACE_ATTACH and
/// PTRACE_SEIZE (PTRACE_MODE_ATTACH_REALCREDS), as a pure function of what culprit can observe.
///
/// The kernel checks, in this order (kernel/ptrace.c `__ptrace_may_access`, then the LSM hooks
/// in their registration order, the capability module first): the tracer's real uid and gid
/// against the target's real, effective and saved ids; the target's dumpable flag; commoncap's
/// `cap_ptrace_access_check` (the target's permitted set must lie within the tracer's); Yama's
/// `yama_ptrace_access_check`. Each one gives way to CAP_SYS_PTRACE in the target's user
/// namespace, except Yama's scope 3; each refusal is EPERM. AppArmor and SELinux come last and
/// answer EACCES, so they are told apart by the errno, not predicted here.
public enum PtraceAccess {
  /// What the kernel looks at.
  public struct Situation: Equatable, Sendable {
    /// Yama's ptrace_scope, or nil when Yama is not active.
    public var yamaScope: Int?
    /// The tracer holds CAP_SYS_PTRACE in the target's user namespace (for a target in the
    /// tracer's own namespace: CAP_SYS_PTRACE in the effective set).
    public var tracerHasSysPtrace: Bool
    /// The tracer's real uid and gid equal the target's real, effective and saved uids and gids.
    public var idsMatch: Bool
    /// The target's dumpable flag is 1 (SUID_DUMP_USER); setuid, setgid and file-capability
    /// executions and a change of effective uid clear it.
    public var targetDumpable: Bool
    /// The target's permitted capabilities are within the tracer's, in the same user namespace.
    public var targetCapabilitiesWithinTracers: Bool
    /// The target is a descendant of the tracer (Yama scope 1's relation).
    public var targetIsDescendant: Bool
    /// The target named the tracer with prctl(PR_SET_PTRACER) (Yama scope 1's exception).
    public var targetNamedTracer: Bool

    public init(
      yamaScope: Int?, tracerHasSysPtrace: Bool, idsMatch: Bool = true, targetDumpable: Bool = true,
      targetCapabilitiesWithinTracers: Bool = true, targetIsDescendant: Bool, targetNamedTracer: Bool = false
    ) {
      self.yamaScope = yamaScope
      self.tracerHasSysPtrace = tracerHasSysPtrace
      self.idsMatch = idsMatch
      self.targetDumpable = targetDumpable
      self.targetCapabilitiesWithinTracers = targetCapabilitiesWithinTracers
      self.targetIsDescendant = targetIsDescendant
      self.targetNamedTracer = targetNamedTracer
    }
  }

  /// The first check that refuses, in the kernel's order.
  public enum Refusal: Equatable, Sendable {
    /// The uids or gids differ and the tracer lacks CAP_SYS_PTRACE.
    case ids
    /// The target is not dumpable and the tracer lacks CAP_SYS_PTRACE.
    case notDumpable
    /// The target holds capabilities the tracer does not, and the tracer lacks CAP_SYS_PTRACE.
    case capabilitiesBeyondTracers
    /// Yama's ptrace_scope forbids it.
    case yama(scope: Int)

    /// The layer to blame.
    public var layer: Layer {
      switch self {
      case .ids, .notDumpable, .capabilitiesBeyondTracers: return .capabilities
      case .yama: return .yama
      }
    }

    /// Why, in a sentence fragment: "the target is not a descendant and Yama ptrace_scope is 1".
    public var reason: String {
      switch self {
      case .ids:
        return "the target's uids or gids differ from the tracer's, which then needs CAP_SYS_PTRACE (kernel/ptrace.c __ptrace_may_access)"
      case .notDumpable:
        return "the target is not dumpable, so the tracer needs CAP_SYS_PTRACE (kernel/ptrace.c __ptrace_may_access)"
      case .capabilitiesBeyondTracers:
        return "the target holds capabilities the tracer lacks, so the tracer needs CAP_SYS_PTRACE (commoncap cap_ptrace_access_check)"
      case .yama(let scope):
        switch scope {
        case 1: return "Yama ptrace_scope 1 allows attaching only to descendants (or to a process that named its tracer with PR_SET_PTRACER) without CAP_SYS_PTRACE"
        case 2: return "Yama ptrace_scope 2 allows attaching only with CAP_SYS_PTRACE"
        default: return "Yama ptrace_scope \(scope) forbids every attach, whatever the capabilities"
        }
      }
    }
  }

  /// The check that refuses the attach, or nil when the kernel would allow it.
  public static func refusal(_ s: Situation) -> Refusal? {
    if !s.idsMatch && !s.tracerHasSysPtrace { return .ids }
    if !s.targetDumpable && !s.tracerHasSysPtrace { return .notDumpable }
    if !s.targetCapabilitiesWithinTracers && !s.tracerHasSysPtrace { return .capabilitiesBeyondTracers }
    guard let scope = s.yamaScope else { return nil }
    switch scope {
    case 0:
      return nil
    case 1:
      return s.targetIsDescendant || s.targetNamedTracer || s.tracerHasSysPtrace ? nil : .yama(scope: 1)
    case 2:
      return s.tracerHasSysPtrace ? nil : .yama(scope: 2)
    default:
      // YAMA_SCOPE_NO_ATTACH and any other value: security/yama/yama_lsm.c's `default:` refuses.
      return .yama(scope: scope)
    }
  }
}
