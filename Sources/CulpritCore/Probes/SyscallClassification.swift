/// What one call of the sweep did, as the sweep child recorded it.
public enum SweepOutcome: Equatable, Sendable {
  /// The call returned this value (≥ 0).
  case returned(Int)
  /// The call returned -1 with this errno.
  case failed(Errno)
  /// A seccomp TRAP: SIGSYS with si_code SYS_SECCOMP; `data` is the filter's SECCOMP_RET_DATA.
  case trapped(data: Int32)
  /// The sweep child died on this call (SIGSYS: a seccomp KILL action).
  case killed(signal: Int32)
  /// The sweep child was still in this call at its deadline.
  case timedOut
  /// The sweep did not get to it (its deadline, or no child could be made).
  case notRun
}

/// How a call of the sweep was answered.
public enum SweepClassification: String, Sendable, CaseIterable {
  /// The kernel's own answer came back: no filter stopped it.
  case allowed
  case filteredENOSYS = "filtered-enosys"
  case filteredEPERM = "filtered-eperm"
  /// A filter answered with another errno.
  case filtered
  /// SIGSYS ended the process or thread (KILL_PROCESS or KILL_THREAD).
  case killed
  /// SIGSYS with si_code SYS_SECCOMP (TRAP).
  case trapped
  /// The running kernel predates the call (or was built without it).
  case absent
  /// A sysctl, not seccomp, answered (or no filter is installed and the kernel refused).
  case kernelRefused = "kernel-refused"
  case notRun = "not-run"
}

/// How much a classification matters for the image.
public enum SweepImpact: Int, Comparable, Sendable {
  case none = 0, degraded = 1, blocked = 2

  public static func < (a: SweepImpact, b: SweepImpact) -> Bool { a.rawValue < b.rawValue }

  public var label: String {
    switch self {
    case .none: return "none"
    case .degraded: return "degraded"
    case .blocked: return "blocked"
    }
  }
}

/// What the classifier needs to know about the system besides the call's answer.
public struct SweepEnvironment: Sendable {
  public var arch: Architecture?
  public var kernel: KernelVersion?
  /// Whether a seccomp filter is installed on the sweep (prctl(PR_GET_SECCOMP) == 2); nil when
  /// unknown.
  public var filterInstalled: Bool?
  /// The gates' sysctl values that could be read.
  public var sysctls: [KernelGate: Int]
  /// The effective capabilities, when known.
  public var capabilities: CapabilitySet?
  public var libc: ImageLibc
  public var machine: String

  public init(
    arch: Architecture?, kernel: KernelVersion?, filterInstalled: Bool?, sysctls: [KernelGate: Int],
    capabilities: CapabilitySet?, libc: ImageLibc, machine: String
  ) {
    self.arch = arch
    self.kernel = kernel
    self.filterInstalled = filterInstalled
    self.sysctls = sysctls
    self.capabilities = capabilities
    self.libc = libc
    self.machine = machine
  }
}

/// One classified call: the entry, what it did, what that means and what it breaks.
public struct SweepResult: Sendable {
  public var entry: SweepEntry
  public var outcome: SweepOutcome
  public var classification: SweepClassification
  /// The sentence that says how the classification was reached.
  public var evidence: String
  public var impact: SweepImpact
  /// What the answer means for programs, when it is not the kernel's own.
  public var consequence: String?
  /// The gate that explained a kernel refusal, with its value.
  public var gate: (KernelGate, Int)?
}

extension SweepOutcome {
  /// "returned EPERM", "returned 0", "was killed by SIGSYS".
  var said: String {
    switch self {
    case .returned(let value): return "returned \(value)"
    case .failed(let err): return "failed with \(err.name)"
    case .trapped(let data): return "raised SIGSYS with si_code SYS_SECCOMP (si_errno \(data))"
    case .killed(let signal): return "was ended by \(signalName(signal))"
    case .timedOut: return "did not return before the sweep's deadline"
    case .notRun: return "was not made"
    }
  }
}

extension SyscallSweep {
  /// Classifies one call (pure: the tests drive it with recorded outcomes).
  public static func classify(_ entry: SweepEntry, _ outcome: SweepOutcome, in env: SweepEnvironment) -> SweepResult {
    let kernelSays = kernelAnswerText(entry)
    let first = entry.firstKernel(on: env.arch)
    func result(_ c: SweepClassification, _ evidence: String, gate: (KernelGate, Int)? = nil) -> SweepResult {
      let impact = self.impact(of: c, outcome: outcome, entry: entry, env: env)
      var consequence: String?
      switch c {
      case .filteredENOSYS, .filteredEPERM, .filtered, .killed, .trapped:
        if impact == .none, c == .filteredENOSYS || entry.fallback == .anyError, let fallsBack = entry.fallsBack {
          consequence = fallsBack
        } else {
          consequence = entry.breaks
        }
      default: break
      }
      return SweepResult(
        entry: entry, outcome: outcome, classification: c, evidence: evidence, impact: impact,
        consequence: consequence, gate: gate)
    }
    let made = "\(entry.call) \(outcome.said)"
    switch outcome {
    case .returned:
      if entry.kernelMaySucceed {
        return result(.allowed, "\(made): the kernel ran it, so no filter stopped it.")
      }
      return result(.allowed, "\(made) (the kernel normally answers \(kernelSays)): it reached the kernel.")
    case .failed(let err) where entry.kernelErrnos.contains(err):
      return result(.allowed, "\(made), the kernel's own answer: no filter stopped it.")
    case .failed(let err):
      if err == .noFunction {
        if let kernel = env.kernel, kernel < first {
          return result(.absent, "\(made): the running kernel \(kernel) predates it (added in Linux \(first)).")
        }
        if env.filterInstalled == false {
          let why = entry.configOption.map { "was built without \($0)" } ?? "lacks it"
          return result(.absent, "\(made) and no seccomp filter is installed: the kernel \(why).")
        }
        let caveat = entry.configOption.map { " (unless the kernel was built without \($0))" } ?? ""
        let kernelText = env.kernel.map { "the running kernel \($0) is new enough for it (added in \(first)), so " } ?? ""
        return result(
          .filteredENOSYS, "\(made); the kernel answers \(kernelSays): \(kernelText)a seccomp filter answered ENOSYS\(caveat).")
      }
      if let gate = entry.gate, let value = env.sysctls[gate],
        let why = gate.explains(err, value: value, kernel: env.kernel, capabilities: env.capabilities)
      {
        let seccompNote = env.filterInstalled == true ? " Whether the seccomp filter also refuses it cannot be seen behind the sysctl." : ""
        return result(.kernelRefused, "\(made): \(why)\(seccompNote)", gate: (gate, value))
      }
      if env.filterInstalled == false {
        return result(
          .kernelRefused,
          "\(made) though the kernel answers \(kernelSays) to this call, and no seccomp filter is installed: the kernel or an LSM refused it.")
      }
      let c: SweepClassification = err == .notPermitted ? .filteredEPERM : .filtered
      return result(c, "\(made); the kernel answers \(kernelSays), so a seccomp filter refused it with \(err.name).")
    case .trapped:
      return result(.trapped, "\(made): a seccomp TRAP action; the call was not executed.")
    case .killed(31):
      return result(.killed, "\(made): a seccomp KILL action (KILL_PROCESS or KILL_THREAD) ended the sweep's child on this call.")
    case .killed:
      return result(.notRun, "\(made), not a seccomp action: the answer is unknown.")
    case .timedOut, .notRun:
      return result(.notRun, "\(made).")
    }
  }

  /// "EINVAL", "EBADF or EINVAL", "success".
  static func kernelAnswerText(_ entry: SweepEntry) -> String {
    var parts = entry.kernelErrnos.map(\.name)
    if entry.kernelMaySucceed { parts.append("success") }
    if parts.count <= 1 { return parts.first ?? "success" }
    return parts.dropLast().joined(separator: ", ") + " or " + parts.last!
  }

  /// The impact of a classification: how badly the answer breaks the call's callers.
  public static func impact(
    of c: SweepClassification, outcome: SweepOutcome, entry: SweepEntry, env: SweepEnvironment
  ) -> SweepImpact {
    var needLevel: SweepImpact {
      switch entry.need {
      case .libc(let use): return use.applies(to: env.libc, machine: env.machine) == true ? .blocked : .degraded
      case .runtime: return .degraded
      case .optional: return .none
      }
    }
    switch c {
    case .allowed, .absent, .kernelRefused, .notRun: return .none
    case .killed, .trapped: return max(needLevel, .degraded)
    case .filteredENOSYS: return entry.fallback == .none ? needLevel : .none
    case .filteredEPERM, .filtered:
      if case .failed(let err) = outcome, entry.id == "socket(AF_INET6)", err == .addressFamilyNotSupported { return .none }
      return entry.fallback == .anyError ? .none : needLevel
    }
  }

  /// What the answer to the unassigned number says about the filter's default action.
  public static func defaultAction(_ outcome: SweepOutcome, filterInstalled: Bool?) -> (verdict: String, meaning: String) {
    switch outcome {
    case .failed(.noFunction):
      if filterInstalled == false { return ("no-filter", "no seccomp filter: the kernel answered ENOSYS") }
      return (
        "enosys",
        "ENOSYS: an allow-list whose default is ENOSYS (Podman-like, containers/common ≥ 2021), or a filter without an allow-list that let the number reach the kernel"
      )
    case .failed(.notPermitted): return ("errno-eperm", "EPERM: an allow-list whose default is EPERM (Docker-like, moby's defaultErrnoRet 1)")
    case .failed(let err): return ("errno-\(err.name.lowercased())", "\(err.name): an allow-list whose default errno is \(err.name)")
    case .returned(let value): return ("returned", "the call returned \(value), which no kernel does for an unassigned number")
    case .trapped: return ("trap", "TRAP: unknown syscalls raise SIGSYS")
    case .killed(31): return ("kill", "KILL: unknown syscalls kill the process")
    case .killed, .timedOut, .notRun: return ("unknown", "the call gave no answer")
    }
  }
}

// MARK: The exact oracle and the sweep table

extension SweepPointers {
  /// Pointer values for calls that are only interpreted or replayed, never run: no profile
  /// filters on what a pointer points to, and the oracle's replay never dereferences them.
  static let placeholders = SweepPointers(root: 0x1000, empty: 0x1008, missing: 0x1010, name: 0x1018)
}

extension SyscallSweep {
  /// A table entry as the oracle asks it: the same number and register arguments the sweep uses.
  public static func oracleCall(_ entry: SweepEntry, arch: Architecture, pointers: SweepPointers) -> OracleCall? {
    guard let number = entry.syscall.number(on: arch) else { return nil }
    switch entry.invocation {
    case .raw(let arguments):
      return OracleCall(number: number, arguments: arguments(pointers).map { UInt64(bitPattern: Int64($0)) })
    case .clone3: return OracleCall(number: number, arguments: [0, 0])
    case .cloneLegacy(let flags): return OracleCall(number: number, arguments: [UInt64(flags)])
    }
  }

  /// The outcome the sweep would see for an entry whose exact call the filter answers this way:
  /// allowed means the kernel's own answer (its first errno, or success where the kernel may
  /// succeed). Used where the filter is known but the call is not made (profile check).
  public static func outcome(of answer: OracleAnswer, for entry: SweepEntry) -> SweepOutcome {
    switch answer {
    case .allowed, .bypassesSeccomp:
      if entry.kernelMaySucceed || entry.kernelErrnos.isEmpty { return .returned(0) }
      return .failed(entry.kernelErrnos[0])
    case .errno(let err): return .failed(err)
    case .returned(let value): return .returned(value)
    case .killed(let signal): return .killed(signal: signal)
    case .trapped(let data): return .trapped(data: data)
    case .unavailable: return .notRun
    }
  }
}
