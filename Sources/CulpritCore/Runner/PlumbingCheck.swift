#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Asks the seccomp filter, with the exact oracle (field-facts §12) and without executing
/// anything, about the calls culprit's own plumbing makes, so that a probe hurt by one of them
/// is said to be culprit's failure, naming the call, instead of a layer's verdict.
public struct PlumbingCheck: Sendable {
  /// A call culprit needs, with representative arguments (filters in the field look at the
  /// arguments of none of these), and the probes that need it (nil: every child probe).
  struct Need {
    var call: String
    var arguments: [UInt64]
    var probes: Set<String>?
    /// culprit sees this call fail itself (spawn, collect, kill: `Plumbing.record`); the
    /// oracle's answer is then evidence only. The others fail inside glibc, where culprit
    /// cannot see them (a futex abort, a file getaddrinfo could not read): for those the
    /// oracle is the only way to know.
    var seenDirectly = true
  }

  static let needs: [Need] = [
    Need(call: "wait4", arguments: [0, 0, 1 /* WNOHANG */], probes: nil),
    Need(call: "getpid", arguments: [], probes: nil),
    Need(call: "getppid", arguments: [], probes: nil),
    Need(call: "mmap", arguments: [0, 4096, 3 /* PROT_READ|PROT_WRITE */, 0x4021 /* MAP_SHARED|MAP_ANONYMOUS|MAP_NORESERVE */, UInt64.max, 0], probes: nil),
    Need(call: "kill", arguments: [1, 9 /* SIGKILL */], probes: ["ptrace-attach", "getaddrinfo"]),
    Need(call: "futex", arguments: [0, 129 /* FUTEX_WAKE_PRIVATE */, 1], probes: ["thread", "getaddrinfo"], seenDirectly: false),
    Need(call: "pipe2", arguments: [0, 0x80000 /* O_CLOEXEC */], probes: ["ptrace-attach"]),
    // glibc's getaddrinfo reads its files with these (a program with glibc fails the same way).
    Need(call: "newfstatat", arguments: [UInt64(bitPattern: -100), 0, 0, 0], probes: ["getaddrinfo"], seenDirectly: false),
    Need(call: "lseek", arguments: [3, 0, 0 /* SEEK_SET */], probes: ["getaddrinfo"], seenDirectly: false),
  ]

  /// The refused calls, the filter's answer to each, and whether that answer ends the caller
  /// (KILL, TRAP) rather than returning an errno.
  public var refused: [(failure: PlumbingFailure, answer: String, ends: Bool)] = []

  public init() {}

  /// Asks the oracle about every call of `needs` when a seccomp filter is installed; nothing
  /// otherwise (no filter refuses anything then).
  public static func run(snapshot: Snapshot, deadline: UInt64) -> PlumbingCheck {
    var check = PlumbingCheck()
    guard snapshot.seccomp.mode == .filter else { return check }
    var asked: [(Need, OracleCall)] = []
    for need in needs {
      guard let number = SeccompFilter.resolve(need.call) else { continue }
      asked.append((need, OracleCall(number: Int(number), arguments: need.arguments)))
    }
    let batch = SeccompOracle.ask(asked.map(\.1), deadline: deadline)
    for ((need, _), answer) in zip(asked, batch.answers) {
      switch answer {
      case .errno(let err): check.refused.append((PlumbingFailure(call: need.call, errno: err), answer.description, false))
      case .killed, .trapped:
        check.refused.append((PlumbingFailure(call: need.call, errno: .notPermitted), answer.description, true))
      default: break
      }
    }
    return check
  }

  /// The first refused call that `probe` needs and that culprit could not see fail: one that
  /// fails inside glibc, or, for a probe process that died of SIGSYS, one the filter kills or
  /// traps (the process dies before it can record anything).
  func refusal(for probe: String, diedOfSIGSYS: Bool) -> (failure: PlumbingFailure, answer: String)? {
    refused.first { entry in
      guard let need = Self.needs.first(where: { $0.call == entry.failure.call }) else { return false }
      guard !need.seenDirectly || (entry.ends && diedOfSIGSYS) else { return false }
      return need.probes?.contains(probe) ?? true
    }.map { ($0.failure, $0.answer) }
  }
}
