/// Linux capabilities (capabilities(7)): names, the runtimes' default sets, and the process's
/// five sets read from /proc/self/status or, without /proc, from capget(2) and prctl(2).
public enum Capability {
  /// Names by number, from include/uapi/linux/capability.h (0 … 40, CHECKPOINT_RESTORE, 5.9).
  public static let names: [String] = [
    "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL",
    "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE", "CAP_NET_BIND_SERVICE",
    "CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_IPC_LOCK", "CAP_IPC_OWNER",
    "CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT", "CAP_SYS_PTRACE", "CAP_SYS_PACCT",
    "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE", "CAP_SYS_RESOURCE", "CAP_SYS_TIME",
    "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE", "CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL",
    "CAP_SETFCAP", "CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN", "CAP_SYSLOG", "CAP_WAKE_ALARM",
    "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ", "CAP_PERFMON", "CAP_BPF", "CAP_CHECKPOINT_RESTORE",
  ]

  public static let chown = 0, dacOverride = 1, setuid = 7, setpcap = 8, netAdmin = 12, netRaw = 13
  public static let sysChroot = 18, sysPtrace = 19, sysAdmin = 21, sysResource = 24, mknod = 27
  public static let auditWrite = 29, setfcap = 31, perfmon = 38, bpf = 39

  /// "CAP_SYS_PTRACE", or nil for a number the table does not know.
  public static func name(_ number: Int) -> String? {
    names.indices.contains(number) ? names[number] : nil
  }

  /// Number for "CAP_SYS_PTRACE", "SYS_PTRACE" or "sys_ptrace".
  public static func number(_ name: String) -> Int? {
    let upper = name.uppercased()
    let full = upper.hasPrefix("CAP_") ? upper : "CAP_" + upper
    return names.firstIndex(of: full)
  }
}

/// A set of capabilities as the kernel stores it: one bit per capability number.
public struct CapabilitySet: Equatable, Hashable, Sendable {
  public var bits: UInt64

  public init(bits: UInt64) { self.bits = bits }

  public init(_ numbers: [Int]) {
    bits = numbers.reduce(0) { $0 | (1 << UInt64($1)) }
  }

  public func contains(_ number: Int) -> Bool { number < 64 && bits & (1 << UInt64(number)) != 0 }

  public var numbers: [Int] { (0..<64).filter(contains) }

  /// Names for known capabilities; unknown bits as their numbers (JSON integers).
  public var jsonList: JSONValue {
    .array(numbers.map { n in Capability.name(n).map(JSONValue.string) ?? .int(n) })
  }

  /// Names, with unknown bits as "cap_41".
  public var names: [String] { numbers.map { Capability.name($0) ?? "cap_\($0)" } }

  public func subtracting(_ other: CapabilitySet) -> CapabilitySet { CapabilitySet(bits: bits & ~other.bits) }
  public func union(_ other: CapabilitySet) -> CapabilitySet { CapabilitySet(bits: bits | other.bits) }

  public var isEmpty: Bool { bits == 0 }

  /// "00000000a80425fb", as /proc/self/status prints it.
  public var hex: String {
    let digits = String(bits, radix: 16)
    return String(repeating: "0", count: max(0, 16 - digits.count)) + digits
  }

  /// Every capability the kernel knows, 0 … cap_last_cap.
  public static func full(lastCap: Int) -> CapabilitySet {
    CapabilitySet(bits: lastCap >= 63 ? UInt64.max : lastCap < 0 ? 0 : (1 << UInt64(lastCap + 1)) - 1)
  }

  /// Docker's default set (moby oci/caps/defaults.go): 14 capabilities, 0xa80425fb.
  public static let dockerDefault = CapabilitySet(bits: 0xa804_25fb)
  /// Podman's default set (containers/common ≥ PR #1240, 2022): 11 capabilities, 0x800405fb.
  public static let podmanDefault = CapabilitySet(bits: 0x8004_05fb)
}

/// The capability state of this process.
public struct CapabilityState: Sendable {
  public var inheritable: CapabilitySet
  public var permitted: CapabilitySet
  public var effective: CapabilitySet
  public var bounding: CapabilitySet
  public var ambient: CapabilitySet
  /// NoNewPrivs (4.10+), nil when the kernel does not report it.
  public var noNewPrivs: Bool?
  /// /proc/sys/kernel/cap_last_cap, or 40 when it cannot be read.
  public var lastCap: Int
  /// The sentences that say where these values came from.
  public var evidence: [String]

  public enum Classification: String, Sendable {
    case dockerDefault = "docker-default"
    case podmanDefault = "podman-default"
    case full, empty, custom
  }

  /// Which well-known set the effective set equals.
  public var effectiveClassification: Classification {
    switch effective {
    case .dockerDefault: return .dockerDefault
    case .podmanDefault: return .podmanDefault
    case CapabilitySet.full(lastCap: lastCap): return .full
    case CapabilitySet(bits: 0): return .empty
    default: return .custom
    }
  }

  /// Whether the effective set holds `number`.
  public func has(_ number: Int) -> Bool { effective.contains(number) }

  public static let capLastCapPath = "/proc/sys/kernel/cap_last_cap"

  /// Parses the Cap* and NoNewPrivs fields. Fails when a set is missing.
  public static func parse(_ status: [String: String], lastCap: Int?) -> CapabilityState? {
    func set(_ key: String) -> CapabilitySet? {
      status[key].flatMap { UInt64($0, radix: 16) }.map(CapabilitySet.init(bits:))
    }
    guard let inh = set("CapInh"), let prm = set("CapPrm"), let eff = set("CapEff"), let bnd = set("CapBnd")
    else { return nil }
    let last = lastCap ?? max(40, 63 - bnd.bits.leadingZeroBitCount)
    return CapabilityState(
      inheritable: inh, permitted: prm, effective: eff, bounding: bnd,
      // CapAmb appeared in 4.3; before that there is no ambient set.
      ambient: set("CapAmb") ?? CapabilitySet(bits: 0),
      noNewPrivs: status["NoNewPrivs"].flatMap { Int($0) }.map { $0 != 0 },
      lastCap: last, evidence: [])
  }

  /// Reads /proc/self/status; without it, capget(2) and prctl(2).
  public static func read(_ source: SystemSource, status: Result<ProcStatus, Errno>) -> Result<CapabilityState, ReadFailure> {
    let lastCapText = source.readLine(capLastCapPath)
    // Capability sets are 64 bits wide: anything outside 0…63 is not a capability number.
    let lastCap = lastCapText.flatMap { Int($0.trimmed()) }.flatMap { (0...63).contains($0) ? $0 : nil }
    var evidence: [String] = []
    if let lastCap {
      evidence.append("\(capLastCapPath) is \(lastCap).")
    } else if let lastCapText {
      evidence.append("\(capLastCapPath) holds \"\(lastCapText.trimmed())\", not a capability number; capabilities up to the highest bounding bit are named.")
    } else {
      evidence.append("\(capLastCapPath) could not be read; capabilities up to the highest bounding bit are named.")
    }
    switch status {
    case .success(let status):
      if var state = parse(status.fields, lastCap: lastCap) {
        evidence.append(
          "\(ProcStatus.path): CapInh \(state.inheritable.hex), CapPrm \(state.permitted.hex), CapEff \(state.effective.hex), CapBnd \(state.bounding.hex), CapAmb \(state.ambient.hex)"
            + (status["NoNewPrivs"].map { ", NoNewPrivs \($0)." } ?? "."))
        state.evidence = evidence
        return .success(state)
      }
      evidence.append("\(ProcStatus.path) has no CapInh/CapPrm/CapEff/CapBnd fields.")
    case .failure(let err):
      evidence.append("\(ProcStatus.path) could not be read: \(err.name).")
    }
    switch source.capabilitiesBySyscall() {
    case .success(let fields):
      guard var state = parse(fields, lastCap: lastCap) else {
        return .failure(ReadFailure(evidence: evidence + ["capget(2) gave no usable sets."]))
      }
      evidence.append(
        "capget(2): effective \(state.effective.hex), permitted \(state.permitted.hex), inheritable \(state.inheritable.hex); prctl(PR_CAPBSET_READ): bounding \(state.bounding.hex); prctl(PR_CAP_AMBIENT_IS_SET): ambient \(state.ambient.hex)."
      )
      state.evidence = evidence
      return .success(state)
    case .failure(let err):
      return .failure(ReadFailure(evidence: evidence + ["capget(2) failed: \(err.name)."]))
    }
  }
}

/// A layer could not be read; the evidence says what was tried and what each attempt returned.
public struct ReadFailure: Error, Sendable {
  public var evidence: [String]
  public init(evidence: [String]) { self.evidence = evidence }
}
