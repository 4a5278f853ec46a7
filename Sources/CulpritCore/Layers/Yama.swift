/// Yama's ptrace_scope (security/yama/yama_lsm.c): a global sysctl, readable in containers,
/// absent when Yama is not built in or not enabled.
public struct YamaState: Sendable {
  public static let path = "/proc/sys/kernel/yama/ptrace_scope"

  /// 0–3, or nil when Yama is absent or the file unreadable.
  public var scope: Int?
  /// true when Yama is active, false when it is known to be absent, nil when it cannot be told
  /// (the file is unreadable, or /proc/sys is not there at all).
  public var present: Bool?
  public var evidence: [String]

  public static func read(_ source: SystemSource) -> YamaState {
    switch source.readText(path) {
    case .success(let text):
      guard let value = Int(text.trimmed()) else {
        return YamaState(scope: nil, present: true, evidence: ["\(path) holds \"\(text.trimmed())\", not a number."])
      }
      // Yama refuses to store anything but 0-3 (yama_dointvec_minmax).
      guard (0...3).contains(value) else {
        return YamaState(scope: nil, present: true, evidence: ["\(path) holds \(value), not a ptrace_scope value (0-3)."])
      }
      return YamaState(scope: value, present: true, evidence: ["\(path) is \(value): \(meaning(value))."])
    case .failure(.noSuchFile) where !source.exists("/proc/sys/kernel"):
      return YamaState(
        scope: nil, present: nil,
        evidence: ["\(path) does not exist, and neither does /proc/sys/kernel: /proc/sys is not available here, so Yama's setting cannot be read."])
    case .failure(.noSuchFile):
      return YamaState(
        scope: nil, present: false,
        evidence: ["\(path) does not exist while /proc/sys/kernel does: Yama is not active, so it restricts nothing."])
    case .failure(let err):
      return YamaState(scope: nil, present: nil, evidence: ["\(path) could not be read: \(err.name)."])
    }
  }

  /// What a ptrace_scope value means for PTRACE_ATTACH/SEIZE (ptrace(2), "/proc/sys/kernel/yama/ptrace_scope").
  public static func meaning(_ scope: Int) -> String {
    switch scope {
    case 0: return "classic: any process with the same uid may be traced (no Yama restriction)"
    case 1: return "restricted: only descendants, or a process that named the tracer with PR_SET_PTRACER, unless the tracer has CAP_SYS_PTRACE"
    case 2: return "admin-only: only a tracer with CAP_SYS_PTRACE may attach"
    case 3: return "no attach: no process may attach, whatever its capabilities (cannot be lowered until reboot)"
    default: return "an unknown value"
    }
  }
}
