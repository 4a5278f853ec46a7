/// A seccomp profile as Docker (`--security-opt seccomp=FILE`), Podman and the OCI runtime spec
/// (`linux.seccomp`) write it, read the way moby (profiles/seccomp/seccomp_linux.go
/// setupSeccomp) and runc (libcontainer/seccomp/seccomp_linux.go) interpret it.
///
/// Parsing is pure and strict about types: a wrong type, an unknown action, operator or
/// architecture is an error naming the JSON path of the bad entry. Unknown keys ("comment",
/// Podman's "defaultErrno") are ignored, as Go's encoding/json does.
public struct SeccompProfile: Equatable, Sendable {
  public var defaultAction: ActionName
  public var defaultErrnoRet: Int?
  /// OCI `architectures` (SCMP_ARCH_*).
  public var architectures: [String]
  /// Docker's `archMap`: per native architecture, the sub-architectures to add.
  public var archMap: [ArchMapEntry]
  /// OCI `flags` (SECCOMP_FILTER_FLAG_*).
  public var flags: [String]
  public var syscalls: [Rule]
  /// What the runtimes accept but ignore, or do differently: rules without names (no-ops for
  /// Docker, runc and crun), with the JSON path.
  public var warnings: [String] = []

  public struct ArchMapEntry: Equatable, Sendable {
    public var architecture: String
    public var subArchitectures: [String]
  }

  /// The actions runc knows (libcontainer/seccomp getAction).
  public enum ActionName: String, Equatable, Sendable, CaseIterable {
    case kill = "SCMP_ACT_KILL"
    case killThread = "SCMP_ACT_KILL_THREAD"
    case killProcess = "SCMP_ACT_KILL_PROCESS"
    case trap = "SCMP_ACT_TRAP"
    case errno = "SCMP_ACT_ERRNO"
    case trace = "SCMP_ACT_TRACE"
    case allow = "SCMP_ACT_ALLOW"
    case log = "SCMP_ACT_LOG"
    case notify = "SCMP_ACT_NOTIFY"
  }

  public enum Operator: String, Equatable, Sendable, CaseIterable {
    case notEqual = "SCMP_CMP_NE"
    case lessThan = "SCMP_CMP_LT"
    case lessOrEqual = "SCMP_CMP_LE"
    case equal = "SCMP_CMP_EQ"
    case greaterOrEqual = "SCMP_CMP_GE"
    case greaterThan = "SCMP_CMP_GT"
    case maskedEqual = "SCMP_CMP_MASKED_EQ"
  }

  public struct Argument: Equatable, Sendable {
    public var index: Int
    public var value: UInt64
    public var valueTwo: UInt64
    public var op: Operator
  }

  /// Docker's includes/excludes: capabilities, architectures (Go names: amd64, arm64, x32…),
  /// minimum kernel.
  public struct Condition: Equatable, Sendable {
    public var caps: [String] = []
    public var arches: [String] = []
    public var minKernel: KernelVersion?
    public var isEmpty: Bool { caps.isEmpty && arches.isEmpty && minKernel == nil }
  }

  public struct Rule: Equatable, Sendable {
    /// "syscalls[3]"
    public var path: String
    public var names: [String]
    public var action: ActionName
    public var errnoRet: Int?
    public var args: [Argument]
    public var includes: Condition
    public var excludes: Condition
  }

  /// The architectures runc and libseccomp accept.
  public static let knownArchitectures: Set<String> = [
    "SCMP_ARCH_X86", "SCMP_ARCH_X86_64", "SCMP_ARCH_X32", "SCMP_ARCH_ARM", "SCMP_ARCH_AARCH64",
    "SCMP_ARCH_MIPS", "SCMP_ARCH_MIPS64", "SCMP_ARCH_MIPS64N32", "SCMP_ARCH_MIPSEL", "SCMP_ARCH_MIPSEL64",
    "SCMP_ARCH_MIPSEL64N32", "SCMP_ARCH_PPC", "SCMP_ARCH_PPC64", "SCMP_ARCH_PPC64LE", "SCMP_ARCH_S390",
    "SCMP_ARCH_S390X", "SCMP_ARCH_PARISC", "SCMP_ARCH_PARISC64", "SCMP_ARCH_RISCV64", "SCMP_ARCH_LOONGARCH64",
    "SCMP_ARCH_M68K", "SCMP_ARCH_SH", "SCMP_ARCH_SHEB",
  ]

  /// The flags runc accepts (libcontainer/seccomp setFlag).
  public static let knownFlags: Set<String> = [
    "SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW",
    "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV",
  ]
}

/// A profile that cannot be used, with the JSON path of the bad entry.
public struct SeccompProfileError: Error, Equatable, CustomStringConvertible {
  /// "syscalls[3].action", or "" for the whole document.
  public var path: String
  public var message: String

  public init(_ path: String, _ message: String) {
    self.path = path
    self.message = message
  }

  public var description: String { path.isEmpty ? message : "\(path): \(message)" }
}

extension SeccompProfile {
  /// Parses the JSON text of a profile.
  public static func parse(_ text: String) throws(SeccompProfileError) -> SeccompProfile {
    let json: JSONValue
    do {
      json = try JSONValue.parse(text)
    } catch {
      throw SeccompProfileError("", "not valid JSON: \(error.description)")
    }
    return try parse(json)
  }

  public static func parse(_ json: JSONValue) throws(SeccompProfileError) -> SeccompProfile {
    guard case .object(let root) = json else {
      throw SeccompProfileError("", "a seccomp profile is a JSON object, found \(json.typeName)")
    }
    let defaultText = try string(root["defaultAction"], "defaultAction")
    guard let defaultText, !defaultText.isEmpty else {
      throw SeccompProfileError("defaultAction", "missing: a profile needs a default action")
    }
    let defaultAction = try action(defaultText, "defaultAction")
    let defaultErrnoRet = try errnoValue(root["defaultErrnoRet"], "defaultErrnoRet")

    var architectures: [String] = []
    for (index, arch) in (try strings(root["architectures"], "architectures") ?? []).enumerated() {
      guard knownArchitectures.contains(arch) else {
        throw SeccompProfileError("architectures[\(index)]", "unknown architecture \"\(arch)\"")
      }
      architectures.append(arch)
    }
    var archMap: [ArchMapEntry] = []
    for (index, value) in (try array(root["archMap"], "archMap") ?? []).enumerated() {
      let path = "archMap[\(index)]"
      guard case .object(let entry) = value else { throw SeccompProfileError(path, "expected an object, found \(value.typeName)") }
      guard let arch = try string(entry["architecture"], path + ".architecture") else {
        throw SeccompProfileError(path + ".architecture", "missing")
      }
      guard knownArchitectures.contains(arch) else {
        throw SeccompProfileError(path + ".architecture", "unknown architecture \"\(arch)\"")
      }
      let subs = try strings(entry["subArchitectures"], path + ".subArchitectures") ?? []
      for (subIndex, sub) in subs.enumerated() where !knownArchitectures.contains(sub) {
        throw SeccompProfileError(path + ".subArchitectures[\(subIndex)]", "unknown architecture \"\(sub)\"")
      }
      archMap.append(ArchMapEntry(architecture: arch, subArchitectures: subs))
    }
    if !architectures.isEmpty && !archMap.isEmpty {
      throw SeccompProfileError(
        "", "both 'architectures' and 'archMap' are given; use one of them (as Docker requires)")
    }
    let flags = try strings(root["flags"], "flags") ?? []
    for (index, flag) in flags.enumerated() where !knownFlags.contains(flag) {
      throw SeccompProfileError("flags[\(index)]", "unknown flag \"\(flag)\"")
    }

    var rules: [Rule] = []
    var warnings: [String] = []
    for (index, value) in (try array(root["syscalls"], "syscalls") ?? []).enumerated() {
      let parsed = try rule(value, "syscalls[\(index)]")
      if parsed.names.isEmpty {
        // moby's setupSeccomp, runc and crun loop over the names: a rule without any is a no-op.
        warnings.append("\(parsed.path): the rule names no syscall; Docker, runc and crun accept it and it does nothing")
      }
      rules.append(parsed)
    }
    return SeccompProfile(
      defaultAction: defaultAction, defaultErrnoRet: defaultErrnoRet, architectures: architectures,
      archMap: archMap, flags: flags, syscalls: rules, warnings: warnings)
  }

  static func rule(_ value: JSONValue, _ path: String) throws(SeccompProfileError) -> Rule {
    guard case .object(let object) = value else { throw SeccompProfileError(path, "expected an object, found \(value.typeName)") }
    let name = try string(object["name"], path + ".name")
    var names = try strings(object["names"], path + ".names") ?? []
    if let name, !name.isEmpty {
      guard names.isEmpty else {
        throw SeccompProfileError(path, "both 'name' and 'names' are given; use one of them (as Docker requires)")
      }
      names = [name]
    }
    for (index, syscall) in names.enumerated() where syscall.isEmpty {
      throw SeccompProfileError(path + ".names[\(index)]", "an empty string is not a syscall name")
    }
    guard let actionText = try string(object["action"], path + ".action") else {
      throw SeccompProfileError(path + ".action", "missing")
    }
    let ruleAction = try action(actionText, path + ".action")
    let errnoRet = try errnoValue(object["errnoRet"], path + ".errnoRet")
    var args: [Argument] = []
    for (index, arg) in (try array(object["args"], path + ".args") ?? []).enumerated() {
      args.append(try argument(arg, path + ".args[\(index)]"))
    }
    return Rule(
      path: path, names: names, action: ruleAction, errnoRet: errnoRet, args: args,
      includes: try condition(object["includes"], path + ".includes"),
      excludes: try condition(object["excludes"], path + ".excludes"))
  }

  static func argument(_ value: JSONValue, _ path: String) throws(SeccompProfileError) -> Argument {
    guard case .object(let object) = value else { throw SeccompProfileError(path, "expected an object, found \(value.typeName)") }
    guard let index = try unsigned(object["index"], path + ".index") else { throw SeccompProfileError(path + ".index", "missing") }
    guard index < 6 else { throw SeccompProfileError(path + ".index", "\(index) is not an argument index (0 to 5)") }
    guard let opText = try string(object["op"], path + ".op") else { throw SeccompProfileError(path + ".op", "missing") }
    guard let op = Operator(rawValue: opText) else {
      throw SeccompProfileError(path + ".op", "unknown operator \"\(opText)\" (known: \(Operator.allCases.map(\.rawValue).joined(separator: ", ")))")
    }
    return Argument(
      index: Int(index), value: try unsigned(object["value"], path + ".value") ?? 0,
      valueTwo: try unsigned(object["valueTwo"], path + ".valueTwo") ?? 0, op: op)
  }

  static func condition(_ value: JSONValue?, _ path: String) throws(SeccompProfileError) -> Condition {
    guard let value, !value.isNull else { return Condition() }
    guard case .object(let object) = value else { throw SeccompProfileError(path, "expected an object, found \(value.typeName)") }
    var result = Condition()
    result.caps = try strings(object["caps"], path + ".caps") ?? []
    result.arches = try strings(object["arches"], path + ".arches") ?? []
    if let text = try string(object["minKernel"], path + ".minKernel"), !text.isEmpty {
      guard let version = KernelVersion(release: text), text.first?.isNumber == true else {
        throw SeccompProfileError(path + ".minKernel", "\"\(text)\" is not a kernel version such as \"4.8\"")
      }
      result.minKernel = version
    }
    return result
  }

  static func action(_ text: String, _ path: String) throws(SeccompProfileError) -> ActionName {
    guard let value = ActionName(rawValue: text) else {
      throw SeccompProfileError(path, "unknown action \"\(text)\" (known: \(ActionName.allCases.map(\.rawValue).joined(separator: ", ")))")
    }
    return value
  }

  // MARK: Typed access (null counts as absent, as in Go)

  static func string(_ value: JSONValue?, _ path: String) throws(SeccompProfileError) -> String? {
    guard let value, !value.isNull else { return nil }
    guard case .string(let s) = value else { throw SeccompProfileError(path, "expected a string, found \(value.typeName)") }
    return s
  }

  static func array(_ value: JSONValue?, _ path: String) throws(SeccompProfileError) -> [JSONValue]? {
    guard let value, !value.isNull else { return nil }
    guard case .array(let items) = value else { throw SeccompProfileError(path, "expected an array, found \(value.typeName)") }
    return items
  }

  static func strings(_ value: JSONValue?, _ path: String) throws(SeccompProfileError) -> [String]? {
    guard let items = try array(value, path) else { return nil }
    var out: [String] = []
    for (index, item) in items.enumerated() {
      guard case .string(let s) = item else {
        throw SeccompProfileError("\(path)[\(index)]", "expected a string, found \(item.typeName)")
      }
      out.append(s)
    }
    return out
  }

  static func unsigned(_ value: JSONValue?, _ path: String) throws(SeccompProfileError) -> UInt64? {
    guard let value, !value.isNull else { return nil }
    switch value {
    case .int(let i) where i >= 0: return UInt64(i)
    case .double(let d) where d >= 0 && d < 18_446_744_073_709_551_616.0 && d.rounded() == d: return UInt64(d)
    case .int, .double: throw SeccompProfileError(path, "expected a number from 0 to 2^64-1")
    default: throw SeccompProfileError(path, "expected a number, found \(value.typeName)")
    }
  }

  static func errnoValue(_ value: JSONValue?, _ path: String) throws(SeccompProfileError) -> Int? {
    guard let number = try unsigned(value, path) else { return nil }
    guard number <= 4095 else { throw SeccompProfileError(path, "\(number) is not an errno (at most 4095)") }
    return Int(number)
  }
}

// MARK: What applies here

extension SeccompProfile {
  /// What the profile's rules come to on one system: moby's includes/excludes decided, names
  /// resolved, actions as runc builds them.
  public struct Resolved: Equatable, Sendable {
    public var defaultAction: SeccompFilter.Action
    /// Whether the profile lists architectures (after archMap) that include this one; runc adds
    /// its -ENOSYS stub only then.
    public var listsNativeArchitecture: Bool
    public var rules: [ResolvedRule]
    /// Names this architecture does not have (skipped, as runc skips them), with their paths.
    public var skippedNames: [(path: String, name: String)]
    /// Names neither culprit nor the linked libseccomp knows: skipped, as runc and crun do.
    public var unknownNames: [(path: String, name: String)]
    /// Rules left out by includes/excludes, with the reason.
    public var excludedRules: [(path: String, reason: String)]
    /// The largest syscall number any applicable rule names (runc's stub threshold).
    public var highestNamedNumber: Int?
    public var flags: [String]
    public var usesNotify: Bool

    public static func == (a: Resolved, b: Resolved) -> Bool {
      a.defaultAction == b.defaultAction && a.rules == b.rules && a.highestNamedNumber == b.highestNamedNumber
        && a.skippedNames.map(\.name) == b.skippedNames.map(\.name)
    }
  }

  public struct ResolvedRule: Equatable, Sendable {
    public var path: String
    public var name: String
    public var number: Int
    public var action: SeccompFilter.Action
    public var conditions: [Argument]
  }

  /// The system the profile is decided against: moby checks includes/excludes against the
  /// container's bounding set, the architecture and the running kernel.
  public struct Target: Sendable {
    public var arch: Architecture
    public var boundingCapabilities: Set<String>
    public var kernel: KernelVersion?

    public init(arch: Architecture, boundingCapabilities: Set<String>, kernel: KernelVersion?) {
      self.arch = arch
      self.boundingCapabilities = boundingCapabilities
      self.kernel = kernel
    }
  }

  /// runc's getAction: SCMP_ACT_KILL is KILL_THREAD; ERRNO and TRACE default to EPERM.
  static func filterAction(_ name: ActionName, errnoRet: Int?) -> SeccompFilter.Action {
    switch name {
    case .kill, .killThread: return .killThread
    case .killProcess: return .killProcess
    case .trap: return .trap
    case .errno: return .errno(Int32(errnoRet ?? 1))
    case .trace: return .trace(UInt16(errnoRet ?? 1))
    case .allow: return .allow
    case .log: return .log
    case .notify: return .notify
    }
  }

  /// `dockerConditions`: whether includes/excludes are decided (Docker, Podman and containerd
  /// read them; runc and crun take an OCI profile, whose schema has no such fields, and Go's
  /// encoding/json drops them, so every rule applies).
  public func resolve(for target: Target, dockerConditions: Bool = true) throws(SeccompProfileError) -> Resolved {
    if defaultAction == .notify {
      throw SeccompProfileError("defaultAction", "SCMP_ACT_NOTIFY cannot be the default action (runc refuses it)")
    }
    let defaultFilterAction = SeccompProfile.filterAction(defaultAction, errnoRet: defaultErrnoRet)
    var listed = architectures
    if let entry = archMap.first(where: { $0.architecture == target.arch.profileName }) {
      listed = [entry.architecture] + entry.subArchitectures
    }
    let goArch = target.arch.goName
    var rules: [ResolvedRule] = []
    var skipped: [(String, String)] = []
    var unknown: [(String, String)] = []
    var excluded: [(String, String)] = []
    var highest: Int?
    var usesNotify = false
    for rule in syscalls {
      if dockerConditions, let reason = exclusion(rule, target: target, goArch: goArch) {
        excluded.append((rule.path, reason))
        continue
      }
      let action = SeccompProfile.filterAction(rule.action, errnoRet: rule.errnoRet)
      for (index, name) in rule.names.enumerated() {
        let namePath = "\(rule.path).names[\(index)]"
        switch SyscallNumber.resolve(name, on: target.arch) {
        case .unknown:
          // runc ("unknown seccomp syscall ignored", seccomp_linux.go) and crun ("unknown
          // seccomp syscall `%s` ignored") skip names their libseccomp does not know; the call
          // then gets the default action.
          unknown.append((namePath, name))
        case .notOnArchitecture:
          skipped.append((namePath, name))
        case .number(let number):
          highest = max(highest ?? number, number)
          if rule.action == .notify {
            if name == "write" { throw SeccompProfileError(namePath, "SCMP_ACT_NOTIFY cannot be used for write (runc refuses it)") }
            usesNotify = true
          }
          // runc skips a rule whose action is the default one.
          if action == defaultFilterAction { continue }
          rules.append(ResolvedRule(path: rule.path, name: name, number: number, action: action, conditions: rule.args))
        }
      }
    }
    return Resolved(
      defaultAction: defaultFilterAction, listsNativeArchitecture: listed.contains(target.arch.profileName),
      rules: rules, skippedNames: skipped, unknownNames: unknown, excludedRules: excluded, highestNamedNumber: highest,
      flags: flags, usesNotify: usesNotify)
  }

  /// Why moby leaves a rule out on this target, or nil when it applies.
  func exclusion(_ rule: Rule, target: Target, goArch: String) -> String? {
    let ex = rule.excludes
    if !ex.arches.isEmpty, ex.arches.contains(goArch) { return "excludes.arches has \(goArch)" }
    if let cap = ex.caps.first(where: { target.boundingCapabilities.contains($0) }) {
      return "excludes.caps has \(cap), which the bounding set holds"
    }
    if let min = ex.minKernel, let kernel = target.kernel, kernel >= min { return "excludes.minKernel \(min) ≤ kernel \(kernel)" }
    let inc = rule.includes
    if !inc.arches.isEmpty, !inc.arches.contains(goArch) { return "includes.arches lacks \(goArch)" }
    if let cap = inc.caps.first(where: { !target.boundingCapabilities.contains($0) }) {
      return "includes.caps needs \(cap), which the bounding set lacks"
    }
    if let min = inc.minKernel, let kernel = target.kernel, kernel < min { return "includes.minKernel \(min) > kernel \(kernel)" }
    return nil
  }
}

// MARK: The what-if mode

/// A profile loaded for the what-if mode: read, checked, decided for this system and compiled.
public struct WhatIfProfile: Sendable {
  public var path: String
  public var profile: SeccompProfile
  public var resolved: SeccompProfile.Resolved
  public var program: SeccompProgram

  /// Reads `path`, parses it, decides it for `target` and compiles it. Every problem is a
  /// SeccompProfileError naming the JSON path; an unreadable file has the empty path.
  /// The runtime that would load it (SeccompRuntime: what it drops, decides and adds).
  public var runtime: SeccompRuntime = .runc

  public static func load(_ path: String, source: SystemSource, target: SeccompProfile.Target, runtime: SeccompRuntime = .runc)
    throws(SeccompProfileError) -> WhatIfProfile
  {
    let text: String
    switch source.readText(path) {
    case .success(let value): text = value
    case .failure(let err): throw SeccompProfileError("", "cannot read the file: \(err.description)")
    }
    var profile = try SeccompProfile.parse(text)
    if runtime.dropsDefaultErrnoRet, let ret = profile.defaultErrnoRet {
      profile.warnings.append(
        "\(runtime.display) drops defaultErrnoRet (\(ret), \(Errno(rawValue: Int32(ret)).name)), so the default answers EPERM, as it will in that runtime (moby#42604, fixed in Docker Engine 23.0)")
      profile.defaultErrnoRet = nil
    }
    let resolved = try profile.resolve(for: target, dockerConditions: runtime.decidesConditions)
    let program = try resolved.compile(arch: target.arch, enosysStub: runtime.addsENOSYSStub)
    return WhatIfProfile(path: path, profile: profile, resolved: resolved, program: program, runtime: runtime)
  }

  /// Sentences that say how the profile was applied, for the report.
  public func notes(target: SeccompProfile.Target) -> [String] {
    var notes: [String] = []
    let action = profile.defaultAction.rawValue + (profile.defaultErrnoRet.map { " (errno \(Errno(rawValue: Int32($0)).name))" } ?? "")
    notes.append(
      "The profile \(path) (default \(action), \(profile.syscalls.count) rule blocks), loaded as \(runtime.display) would, came to \(resolved.rules.count) libseccomp rules for \(target.arch.rawValue), decided as Docker does against this process's bounding set and kernel \(target.kernel?.description ?? "unknown").")
    if !resolved.excludedRules.isEmpty {
      let shown = resolved.excludedRules.prefix(6).map { "\($0.path) (\($0.reason))" }.joined(separator: "; ")
      notes.append("\(resolved.excludedRules.count) rule blocks do not apply here: \(shown)\(resolved.excludedRules.count > 6 ? "; …" : "").")
    }
    if !resolved.unknownNames.isEmpty {
      let names = resolved.unknownNames.map(\.name)
      notes.append(
        "\(names.count) names neither culprit nor libseccomp knows were skipped, as runc and crun skip them (those calls get the default action): \(names.prefix(8).joined(separator: ", "))\(names.count > 8 ? ", …" : "").")
    }
    for warning in profile.warnings { notes.append("Warning: \(warning).") }
    if !resolved.skippedNames.isEmpty {
      let names = resolved.skippedNames.map(\.name)
      notes.append(
        "\(names.count) names this architecture does not have were skipped, as runc skips them: \(names.prefix(8).joined(separator: ", "))\(names.count > 8 ? ", …" : "").")
    }
    if let above = program.enosysStubAbove {
      notes.append(
        "As runc ≥ 1.0.0-rc93 does, calls numbered above \(above), the highest syscall the profile names here, answer ENOSYS before the profile's rules run.")
    } else if !runtime.addsENOSYSStub {
      notes.append("No -ENOSYS stub: \(runtime.display) adds none (crun does not), so calls the profile does not name get its default.")
    } else {
      notes.append("No -ENOSYS stub: runc adds one only when the default action refuses calls and the profile lists this architecture.")
    }
    if resolved.usesNotify {
      notes.append("SCMP_ACT_NOTIFY rules were installed without a supervisor, so those calls answer ENOSYS here; under the runtime a seccomp agent decides them.")
    }
    if resolved.rules.contains(where: { if case .trace = $0.action { return true } else { return false } }) {
      notes.append("SCMP_ACT_TRACE rules answer ENOSYS here, as they do whenever no tracer is attached.")
    }
    return notes
  }
}
