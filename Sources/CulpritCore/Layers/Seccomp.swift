/// What the kernel tells a process about its own seccomp state. A filtered process cannot read
/// its filter (PTRACE_SECCOMP_GET_FILTER needs CAP_SYS_ADMIN in the initial namespace and an
/// unfiltered caller), so what the filter does is found by the probes that make calls.
public struct SeccompState: Sendable {
  public enum Mode: String, Sendable {
    case disabled, strict, filter

    init?(number: Int) {
      switch number {
      case 0: self = .disabled
      case 1: self = .strict
      case 2: self = .filter
      default: return nil
      }
    }
  }

  /// From the Seccomp field (3.8+, CONFIG_SECCOMP) or prctl(PR_GET_SECCOMP).
  public var mode: Mode?
  /// Seccomp_filters (5.9+): how many filters are stacked on this process.
  public var filters: Int?
  /// /proc/sys/kernel/seccomp/actions_avail (4.14+).
  public var actionsAvailable: [String]?
  public var evidence: [String]

  public static let actionsAvailPath = "/proc/sys/kernel/seccomp/actions_avail"

  public static func read(_ source: SystemSource, status: Result<ProcStatus, Errno>) -> SeccompState {
    var evidence: [String] = []
    var mode: Mode?
    var filters: Int?
    switch status {
    case .success(let status):
      if let value = status.int("Seccomp") {
        mode = Mode(number: value)
        evidence.append("\(ProcStatus.path): Seccomp \(value) (\(mode?.rawValue ?? "unknown mode")).")
      } else {
        evidence.append("\(ProcStatus.path) has no Seccomp field (kernel before 3.8, or built without CONFIG_SECCOMP).")
      }
      if let count = status.int("Seccomp_filters") {
        filters = count
        evidence.append("\(ProcStatus.path): Seccomp_filters \(count).")
      }
    case .failure(let err):
      evidence.append("\(ProcStatus.path) could not be read: \(err.name).")
    }
    if mode == nil, let fields = source.capabilitiesBySyscall().value, let value = fields["Seccomp"].flatMap({ Int($0) }) {
      mode = Mode(number: value)
      evidence.append("prctl(PR_GET_SECCOMP) returned \(value).")
    }
    var actions: [String]?
    switch source.readLine(actionsAvailPath) {
    case let line?:
      actions = line.split(separator: " ").map(String.init)
      evidence.append("\(actionsAvailPath): \(line).")
    case nil:
      evidence.append("\(actionsAvailPath) could not be read (kernel before 4.14, or /proc/sys not mounted).")
    }
    return SeccompState(mode: mode, filters: filters, actionsAvailable: actions, evidence: evidence)
  }
}
