/// The exact map of a seccomp filter: its answer for every syscall number of an architecture
/// (assigned or not) and for the argument-dependent calls users hit, read live by the oracle
/// (the `syscalls` probe) or computed by interpreting a compiled profile (`culprit profile
/// check`). Pure: what the map means (the real default, runc's -ENOSYS stub, which calls get
/// ENOSYS only by the stub) is decided here, from the answers alone.
public struct SeccompMap: Equatable, Sendable {
  public var arch: Architecture
  /// Answers for the numbers 0...`upperBound`, by number.
  public var numbers: [OracleAnswer]
  /// Argument-dependent calls: label → answer.
  public var variants: [Variant]

  public struct Variant: Equatable, Sendable {
    /// "clone(CLONE_NEWUSER)", "socket(AF_VSOCK)".
    public var label: String
    public var call: OracleCall
    public var answer: OracleAnswer
  }

  public init(arch: Architecture, numbers: [OracleAnswer], variants: [Variant] = []) {
    self.arch = arch
    self.numbers = numbers
    self.variants = variants
  }

  /// The numbers every map covers: 0 to past the highest number any kernel assigns on
  /// x86_64 and aarch64 (469, file_setattr, Linux 6.17), so that the top of the range shows
  /// what a filter does with numbers it has never heard of.
  public static let upperBound = 511

  /// The number of a syscall on `arch`, from culprit's table or libseccomp.
  static func number(_ name: String, _ arch: Architecture) -> Int? {
    if case .number(let n) = SyscallNumber.resolve(name, on: arch) { return n }
    return nil
  }

  /// Whether any kernel assigns `number` on `arch` (x86_64: 0–334, 335/336 uretprobe/uprobe,
  /// 424–469; aarch64, the generic table: 0–243, 260–294, 424–469, the 244–259 block being
  /// reserved for architecture-specific calls arm64 has none of).
  public static func isAssigned(_ number: Int, on arch: Architecture) -> Bool {
    switch arch {
    case .x86_64: return (0...336).contains(number) || (424...469).contains(number)
    case .aarch64: return (0...243).contains(number) || (260...294).contains(number) || (424...469).contains(number)
    }
  }

  /// Calls whose users fall back only when the answer is ENOSYS: the ones runc's stub can
  /// rescue by accident.
  public static let enosysFallbacks: [(name: String, who: String)] = [
    ("clone3", "glibc ≥ 2.34 creates every thread with clone3 and falls back to clone only on ENOSYS: any other answer fails every pthread_create"),
    ("faccessat2", "glibc ≥ 2.33 faccessat() (bash's [ -x ], test -x, make) falls back to faccessat only on ENOSYS"),
    ("statx", "glibc's statx() falls back to fstatat only on ENOSYS"),
    ("fchmodat2", "glibc ≥ 2.39 fchmodat(AT_SYMLINK_NOFOLLOW) falls back only on ENOSYS"),
    ("epoll_pwait2", "glibc's and Go's epoll_pwait2 users fall back to epoll_pwait only on ENOSYS"),
  ]

  // MARK: What the map says

  /// A run of consecutive numbers with the same answer.
  public struct Run: Equatable, Sendable {
    public var first: Int
    public var last: Int
    public var answer: OracleAnswer
    public var text: String { first == last ? "\(first)" : "\(first)–\(last)" }
  }

  public var runs: [Run] {
    var out: [Run] = []
    for (n, answer) in numbers.enumerated() {
      if var last = out.last, last.answer == answer, last.last == n - 1 {
        last.last = n
        out[out.count - 1] = last
      } else {
        out.append(Run(first: n, last: n, answer: answer))
      }
    }
    return out
  }

  /// How many numbers got each answer, keyed by the answer's text.
  public var counts: [(answer: String, count: Int)] {
    var order: [String] = []
    var counts: [String: Int] = [:]
    for answer in numbers {
      let key = Self.key(answer)
      if counts[key] == nil { order.append(key) }
      counts[key, default: 0] += 1
    }
    return order.map { ($0, counts[$0]!) }
  }

  /// A short stable name for an answer: allowed, EPERM, ENOSYS, killed, trapped, bypass, …
  public static func key(_ answer: OracleAnswer) -> String {
    switch answer {
    case .allowed: return "allowed"
    case .errno(let e): return e.name
    case .returned(let v): return "returned-\(v)"
    case .killed: return "killed"
    case .trapped: return "trapped"
    case .bypassesSeccomp: return "not-filtered"
    case .unavailable: return "not-asked"
    }
  }

  /// The first number of the top run of ENOSYS answers (numbers the kernel skips seccomp for
  /// do not interrupt it), when the top of the range answers ENOSYS.
  public var enosysTailStart: Int? {
    guard case .errno(.noFunction)? = numbers.last else { return nil }
    var start = numbers.count - 1
    while start > 0 {
      switch numbers[start - 1] {
      case .errno(.noFunction), .bypassesSeccomp: start -= 1
      default: return start
      }
    }
    return 0
  }

  /// The answer of numbers no kernel assigns below `limit`: what the filter's default action
  /// does. The most common one, with how many numbers gave it.
  public func unassignedAnswer(below limit: Int) -> (answer: OracleAnswer, count: Int, of: Int)? {
    var tally: [(OracleAnswer, Int)] = []
    var total = 0
    for n in 0..<min(limit, numbers.count) where !Self.isAssigned(n, on: arch) {
      total += 1
      if let i = tally.firstIndex(where: { $0.0 == numbers[n] }) { tally[i].1 += 1 } else { tally.append((numbers[n], 1)) }
    }
    guard let best = tally.max(by: { $0.1 < $1.1 }) else { return nil }
    return (best.0, best.1, total)
  }

  /// runc's -ENOSYS stub as the map shows it: numbers from `start` up answer ENOSYS while the
  /// default answer of unassigned numbers below is something else.
  public struct Stub: Equatable, Sendable {
    /// The first number the stub answers: the filter names nothing at or above it.
    public var start: Int
    /// The default answer below it.
    public var realDefault: OracleAnswer
  }

  public var stub: Stub? {
    guard let start = enosysTailStart, start > 0 else { return nil }
    // The default below the tail: what unassigned numbers there get or, when every number
    // below is assigned (a stub starting at 333 on x86_64), the most common refusal there.
    let below: OracleAnswer
    if let unassigned = unassignedAnswer(below: start) {
      below = unassigned.answer
    } else {
      var tally: [(OracleAnswer, Int)] = []
      for answer in numbers[..<start] {
        switch answer {
        case .allowed, .bypassesSeccomp, .unavailable: continue
        default:
          if let i = tally.firstIndex(where: { $0.0 == answer }) { tally[i].1 += 1 } else { tally.append((answer, 1)) }
        }
      }
      guard let best = tally.max(by: { $0.1 < $1.1 }) else { return nil }
      below = best.0
    }
    switch below {
    case .errno(.noFunction), .allowed, .unavailable, .bypassesSeccomp: return nil
    default: return Stub(start: start, realDefault: below)
    }
  }

  /// The filter's default action for numbers it does not name: below the stub when there is
  /// one, else the answer of unassigned numbers.
  public var realDefault: OracleAnswer? {
    if let stub { return stub.realDefault }
    return unassignedAnswer(below: numbers.count)?.answer
  }

  /// Which runtime built the filter, as far as the map tells.
  public var fingerprint: String {
    if let stub {
      return "runc ≥ 1.0.0-rc93 (or Docker, containerd or Concourse, which run it): numbers from \(stub.start) up answer ENOSYS while the default is \(stub.realDefault); that is runc's -ENOSYS stub (opencontainers/runc#2750)"
    }
    switch realDefault {
    case .allowed?: return "no allow-list: the filter lets numbers it does not name through (a deny-list, or no runtime profile)"
    case .errno(.noFunction)?:
      return "the default answer is ENOSYS (Podman's containers-common profile, defaultErrnoRet 38), so a stub would not show"
    case .errno(let e)?:
      return "no -ENOSYS stub although the default is \(e.name): crun (which adds none, containers/crun src/libcrun/seccomp.c), runc before 1.0.0-rc93, or a profile that does not list this architecture"
    case .killed?, .trapped?: return "the default kills or traps: a hand-written or strict profile"
    default: return "not known"
    }
  }

  public func answer(_ name: String) -> (number: Int, answer: OracleAnswer)? {
    guard let n = Self.number(name, arch), n < numbers.count else { return nil }
    return (n, numbers[n])
  }

  /// The calls whose ENOSYS comes only from the stub, with who relies on it.
  public var stubRescues: [(name: String, number: Int, who: String)] {
    guard let stub else { return [] }
    return Self.enosysFallbacks.compactMap { entry in
      guard let (n, answer) = answer(entry.name), n >= stub.start, answer == .errno(.noFunction) else { return nil }
      return (entry.name, n, entry.who)
    }
  }

  /// The calls relying on an ENOSYS fallback that get another refusal.
  public var brokenFallbacks: [(name: String, number: Int, answer: OracleAnswer, who: String)] {
    Self.enosysFallbacks.compactMap { entry in
      guard let (n, answer) = answer(entry.name) else { return nil }
      switch answer {
      case .errno(.noFunction), .allowed, .bypassesSeccomp, .unavailable: return nil
      default: return (entry.name, n, answer, entry.who)
      }
    }
  }

  /// The highest number the filter treats differently from the stub: the profile's highest
  /// named call, when there is a stub.
  public var highestNamed: Int? { stub.map { $0.start - 1 } }

  /// Sentences that say what the map means.
  public func meaning() -> [String] {
    var out: [String] = []
    let counts = self.counts.map { "\($0.count) \($0.answer)" }.joined(separator: ", ")
    out.append("The filter's answer for every \(arch.rawValue) syscall number 0–\(numbers.count - 1), assigned or not, asked exactly: \(counts).")
    if let stub {
      let name = SeccompFilter.name(of: Int32(stub.start - 1), arch: arch.seccompToken).map { " (\($0))" } ?? ""
      out.append(
        "The profile's real default is \(stub.realDefault); numbers from \(stub.start) up answer ENOSYS: runc's -ENOSYS stub, which starts above the highest syscall the profile names, \(stub.start - 1)\(name).")
      for rescue in stubRescues {
        out.append(
          "\(rescue.name) (\(rescue.number)) gets ENOSYS only from runc's -ENOSYS stub (this profile names nothing above \(stub.start - 1)); a profile that adds any call above \(rescue.number) — as Concourse 7.13.0-rc did with faccessat2 (439) and openat2 (437) — turns \(rescue.name) into \(stub.realDefault): \(rescue.who). Add \(rescue.name) → SCMP_ACT_ERRNO with errnoRet 38.")
      }
      for broken in brokenFallbacks where broken.number < stub.start {
        out.append(
          "\(broken.name) (\(broken.number)) gets \(broken.answer), the profile's default, because runc's stub starts above \(stub.start - 1), past \(broken.name): \(broken.who). Add \(broken.name) → SCMP_ACT_ERRNO with errnoRet 38 (or allow it).")
      }
    } else if let d = realDefault {
      out.append("Numbers the filter does not name get \(d); no -ENOSYS stub shows: \(fingerprint).")
      for broken in brokenFallbacks {
        out.append("\(broken.name) (\(broken.number)) gets \(broken.answer): \(broken.who). Add \(broken.name) → SCMP_ACT_ERRNO with errnoRet 38 (or allow it).")
      }
    }
    return out
  }

  /// The map as JSON facts: runs, counts, the stub, variants.
  public var json: JSONValue {
    var stubJSON: JSONValue = .null
    if let stub {
      stubJSON = ["start": .int(stub.start), "highest_named": .int(stub.start - 1), "default": .string(Self.key(stub.realDefault))]
    }
    var countsJSON = JSONObject()
    for c in counts { countsJSON[c.answer] = .int(c.count) }
    return [
      "architecture": .string(arch.rawValue),
      "numbers": .string("0-\(numbers.count - 1)"),
      "counts": .object(countsJSON),
      "runs": .array(runs.map { .string("\($0.text) \(Self.key($0.answer))") }),
      "default": realDefault.map { .string(Self.key($0)) } ?? .null,
      "enosys_stub": stubJSON,
      "stub_rescues": .array(stubRescues.map { .string($0.name) }),
      "fingerprint": .string(fingerprint),
      "variants": .array(variants.map { ["call": .string($0.label), "answer": .string(Self.key($0.answer))] }),
    ]
  }
}

extension SeccompMap {
  /// The argument-dependent calls users hit, with the exact register values: namespace flags
  /// of clone (Docker allows clone without them unless CAP_SYS_ADMIN), socket families,
  /// personality values, and the tty ioctls some profiles restrict.
  public static func variants(arch: Architecture) -> [(label: String, call: OracleCall)] {
    guard let clone = number("clone", arch), let socket = number("socket", arch),
      let personality = number("personality", arch), let ioctl = number("ioctl", arch)
    else { return [] }
    // SIGCHLD | CLONE_VM etc. are not needed: filters mask the namespace bits only.
    var out: [(String, OracleCall)] = [
      ("clone(SIGCHLD)", OracleCall(number: clone, arguments: [17])),
      ("clone(CLONE_NEWUSER)", OracleCall(number: clone, arguments: [0x1000_0000 | 17])),
      ("clone(CLONE_NEWNS)", OracleCall(number: clone, arguments: [0x0002_0000 | 17])),
      ("clone(CLONE_NEWNET)", OracleCall(number: clone, arguments: [0x4000_0000 | 17])),
      ("clone(CLONE_NEWPID)", OracleCall(number: clone, arguments: [0x2000_0000 | 17])),
    ]
    for (name, family) in [("AF_UNIX", 1), ("AF_INET", 2), ("AF_INET6", 10), ("AF_NETLINK", 16), ("AF_PACKET", 17), ("AF_VSOCK", 40), ("AF_ALG", 38)] {
      out.append(("socket(\(name))", OracleCall(number: socket, arguments: [UInt64(family), 1, 0])))
    }
    for (text, value) in [("0", 0), ("0xffffffff", 0xffff_ffff), ("PER_LINUX32", 8), ("UNAME26", 0x20000), ("READ_IMPLIES_EXEC", 0x400000)] {
      out.append(("personality(\(text))", OracleCall(number: personality, arguments: [UInt64(value)])))
    }
    out.append(("ioctl(0, TIOCSTI)", OracleCall(number: ioctl, arguments: [0, 0x5412])))
    out.append(("ioctl(0, TIOCLINUX)", OracleCall(number: ioctl, arguments: [0, 0x541c])))
    // The sweep table's own calls, with its exact arguments, so that its classification can
    // be read from the map.
    for entry in SyscallSweep.table {
      guard let call = SyscallSweep.oracleCall(entry, arch: arch, pointers: .placeholders) else { continue }
      if call.arguments.allSatisfy({ $0 == 0 }) || out.contains(where: { $0.1 == call }) { continue }
      out.append((entry.call, call))
    }
    return out
  }

  /// Every number 0...upperBound, then the variants: the calls a map asks.
  public static func calls(arch: Architecture) -> [OracleCall] {
    (0...upperBound).map { OracleCall(number: $0) } + variants(arch: arch).map(\.call)
  }

  /// Builds a map from the answers to `calls(arch:)`, in order.
  public init(arch: Architecture, answers: [OracleAnswer]) {
    let count = Self.upperBound + 1
    let variants = Self.variants(arch: arch)
    self.init(
      arch: arch, numbers: Array(answers.prefix(count)),
      variants: zip(variants, answers.dropFirst(count)).map { Variant(label: $0.0.label, call: $0.0.call, answer: $0.1) })
  }
}
