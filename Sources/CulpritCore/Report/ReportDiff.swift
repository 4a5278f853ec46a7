/// What changed between two reports — a working runner and a failing one, the host and the
/// container, before and after a fix: verdicts and layers, the machine, capabilities, seccomp,
/// the syscall classifications, and the cgroup's version and limits.
public struct ReportDiff: Equatable, Sendable {
  /// One probe whose verdict differs (or that only one report has).
  public struct VerdictChange: Equatable, Sendable {
    public var id: String
    public var before: ProbeResult?
    public var after: ProbeResult?

    /// The status got more severe (ok → degraded → blocked).
    public var isWorse: Bool { (after?.status.severity ?? 0) > (before?.status.severity ?? 0) }
    public var isBetter: Bool { (after?.status.severity ?? 0) < (before?.status.severity ?? 0) }
  }

  /// One fact that differs: a name, and its value before and after, as text.
  public struct FactChange: Equatable, Sendable {
    public var name: String
    public var before: String
    public var after: String
  }

  /// Names that appear or vanish in a set (capabilities).
  public struct SetChange: Equatable, Sendable {
    public var name: String
    public var added: [String]
    public var removed: [String]
  }

  public var beforeName: String
  public var afterName: String
  public var verdicts: [VerdictChange]
  public var host: [FactChange]
  public var capabilities: [SetChange]
  public var seccomp: [FactChange]
  /// Syscalls whose classification changed, from the `syscalls` probe's table.
  public var syscalls: [FactChange]
  public var cgroup: [FactChange]

  /// Whether some probe's status got worse: `culprit diff` exits 1 then.
  public var gotWorse: Bool { verdicts.contains(where: \.isWorse) }

  public var isEmpty: Bool {
    verdicts.isEmpty && host.isEmpty && capabilities.isEmpty && seccomp.isEmpty && syscalls.isEmpty && cgroup.isEmpty
  }

  public init(before: Report, after: Report, beforeName: String = "before", afterName: String = "after") {
    self.beforeName = beforeName
    self.afterName = afterName

    var verdicts: [VerdictChange] = []
    let afterByID = Dictionary(after.probes.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
    let beforeIDs = Set(before.probes.map(\.id))
    for old in before.probes {
      let new = afterByID[old.id]
      if new == nil || new!.status != old.status || new!.layer != old.layer {
        verdicts.append(VerdictChange(id: old.id, before: old, after: new))
      }
    }
    for new in after.probes where !beforeIDs.contains(new.id) {
      verdicts.append(VerdictChange(id: new.id, before: nil, after: new))
    }
    self.verdicts = verdicts

    func change(_ name: String, _ a: String, _ b: String) -> FactChange? { a == b ? nil : FactChange(name: name, before: a, after: b) }
    self.host = [
      change("kernel", before.host.kernelRelease, after.host.kernelRelease),
      change("machine", before.host.machine, after.host.machine),
      change("runtime", before.host.runtime, after.host.runtime),
      change("image libc", before.host.libc, after.host.libc),
      change("uid", String(before.host.uid), String(after.host.uid)),
    ].compactMap { $0 }

    func facts(_ report: Report, _ id: String) -> JSONObject? { report.probes.first { $0.id == id }?.facts }
    func show(_ value: JSONValue?) -> String {
      switch value {
      case nil, .null?: return "none"
      case .string(let s)?: return s
      case let other?: return other.serialized(pretty: false)
      }
    }

    var capabilities: [SetChange] = []
    if let a = facts(before, "capabilities"), let b = facts(after, "capabilities") {
      for set in ["effective", "permitted", "bounding", "inheritable", "ambient"] {
        let old = (a[set]?.arrayValue ?? []).map(show)
        let new = (b[set]?.arrayValue ?? []).map(show)
        let added = new.filter { !old.contains($0) }
        let removed = old.filter { !new.contains($0) }
        if !added.isEmpty || !removed.isEmpty { capabilities.append(SetChange(name: set, added: added, removed: removed)) }
      }
      if let c = change("no_new_privs", show(a["no_new_privs"]), show(b["no_new_privs"])) {
        capabilities.append(SetChange(name: "no_new_privs", added: [c.after], removed: [c.before]))
      }
    }
    self.capabilities = capabilities

    var seccomp: [FactChange] = []
    if let a = facts(before, "seccomp"), let b = facts(after, "seccomp") {
      for key in ["mode", "filters"] {
        if let c = change(key, show(a[key]), show(b[key])) { seccomp.append(c) }
      }
    }
    if let c = change("what-if profile", before.run.seccompProfile ?? "none", after.run.seccompProfile ?? "none") {
      seccomp.append(c)
    }
    if let a = facts(before, "syscalls"), let b = facts(after, "syscalls") {
      for key in ["default_action"] where a[key] != nil || b[key] != nil {
        if let c = change("default action", show(a[key]), show(b[key])) { seccomp.append(c) }
      }
    }
    self.seccomp = seccomp

    var syscalls: [FactChange] = []
    if let a = facts(before, "syscalls"), let b = facts(after, "syscalls") {
      let old = ReportDiff.classifications(a)
      let new = ReportDiff.classifications(b)
      for (name, value) in old {
        let other = new.first { $0.name == name }?.value ?? "absent from the report"
        if other != value { syscalls.append(FactChange(name: name, before: value, after: other)) }
      }
      for (name, value) in new where !old.contains(where: { $0.name == name }) {
        syscalls.append(FactChange(name: name, before: "absent from the report", after: value))
      }
    }
    self.syscalls = syscalls

    var cgroup: [FactChange] = []
    if let a = facts(before, "cgroup"), let b = facts(after, "cgroup") {
      if let c = change("version", show(a["version"]), show(b["version"])) { cgroup.append(c) }
      if let c = change("namespace", show(a["namespace"]), show(b["namespace"])) { cgroup.append(c) }
      func pidsMax(_ f: JSONObject) -> String {
        guard let pids = f["pids"]?.objectValue else { return "no pids limit" }
        return pids["max"]?.intValue.map(String.init) ?? "max"
      }
      if let c = change("pids.max", pidsMax(a), pidsMax(b)) { cgroup.append(c) }
      if let c = change("memory limit (bytes)", show(a["memory_limit_bytes"]), show(b["memory_limit_bytes"])) { cgroup.append(c) }
      if let c = change("cpu quota", show(a["cpu_quota"]), show(b["cpu_quota"])) { cgroup.append(c) }
      let oldDevices = (a["devices_list"]?.arrayValue ?? []).map(show)
      let newDevices = (b["devices_list"]?.arrayValue ?? []).map(show)
      if oldDevices != newDevices {
        cgroup.append(FactChange(
          name: "devices.list", before: oldDevices.isEmpty ? "none" : oldDevices.joined(separator: "; "),
          after: newDevices.isEmpty ? "none" : newDevices.joined(separator: "; ")))
      }
    }
    self.cgroup = cgroup
  }

  /// (syscall name, classification) pairs from a `syscalls` probe's facts: its `table` list of
  /// objects with `name` and `classification`.
  static func classifications(_ facts: JSONObject) -> [(name: String, value: String)] {
    (facts["table"]?.arrayValue ?? []).compactMap { entry in
      guard let name = entry["name"]?.stringValue, let value = entry["classification"]?.stringValue else { return nil }
      return (name, value)
    }
  }
}

extension ReportDiff {
  /// The diff for a terminal (markdown: false) or a GitHub issue (markdown: true).
  public func render(markdown: Bool) -> String {
    var out = markdown
      ? "### culprit diff: `\(beforeName)` → `\(afterName)`\n"
      : "culprit diff: \(beforeName) → \(afterName)\n"
    if isEmpty {
      return out + "\nNo differences in verdicts, capabilities, seccomp, syscalls or cgroup limits.\n"
    }
    func section(_ title: String, _ lines: [String]) {
      guard !lines.isEmpty else { return }
      if markdown {
        out += "\n**\(title)**\n\n" + lines.map { "- \(MarkdownRenderer.text($0))\n" }.joined()
      } else {
        out += "\n\(title):\n" + lines.map { "  \($0)\n" }.joined()
      }
    }
    func verdict(_ p: ProbeResult?) -> String {
      guard let p else { return "not run" }
      return p.status.rawValue + (p.layer.map { " (\($0.rawValue))" } ?? "")
    }
    section("Verdicts", verdicts.map { change in
      let mark = change.isWorse ? "worse" : change.isBetter ? "better" : "changed"
      var line = "\(mark): \(change.id): \(verdict(change.before)) → \(verdict(change.after))"
      if let summary = change.after?.summary ?? change.before?.summary { line += " — \(summary)" }
      return line
    })
    section("Host", host.map { "\($0.name): \($0.before) → \($0.after)" })
    section("Capabilities", capabilities.map { set in
      if set.name == "no_new_privs" { return "no_new_privs: \(set.removed[0]) → \(set.added[0])" }
      return "\(set.name): " + (set.added.map { "+\($0)" } + set.removed.map { "-\($0)" }).joined(separator: " ")
    })
    section("Seccomp", seccomp.map { "\($0.name): \($0.before) → \($0.after)" })
    section("Syscalls", syscalls.map { "\($0.name): \($0.before) → \($0.after)" })
    section("Cgroup", cgroup.map { "\($0.name): \($0.before) → \($0.after)" })
    return out
  }
}

extension Report {
  /// Reads a report for `diff`: its schema version first (a report of another version gets
  /// that said, not a list of unknown fields), then the whole document against the published
  /// contract, then the model.
  public init(validating json: JSONValue) throws(ContractError) {
    if case .object = json, let version = json["schemaVersion"], version != .int(Report.schemaVersion) {
      throw ContractError("the report has schemaVersion \(JSONSchemaValidator.describe(version)); this culprit reads schemaVersion \(Report.schemaVersion)")
    }
    if let violation = ReportSchema.violation(in: json) {
      throw ContractError("breaks the report contract (schema/report.schema.json) at \(ReportDiff.name(violation.path, in: json)): \(violation.message)")
    }
    try self.init(json: json)
  }
}

extension HostInfo {
  /// A report's `host.uid` or `host.gid` as the uid_t it stands for: nil unless it is a whole
  /// number from 0 to 2^32-1 (so −1, 2^32 or 1e10 never reach a trapping conversion).
  public static func id(_ value: JSONValue?) -> UInt32? {
    guard let value else { return nil }
    if let exact = value.exactInteger, let id = UInt32(exactly: exact) { return id }
    return nil
  }
}

extension ReportDiff {
  /// A violation's path with the probe's id beside its index: `probes[3] (thread).facts.x`.
  static func name(_ path: String, in json: JSONValue) -> String {
    guard path.hasPrefix("probes["), let close = path.firstIndex(of: "]"),
      let index = Int(path[path.index(path.startIndex, offsetBy: 7)..<close]),
      let probes = json["probes"]?.arrayValue, probes.indices.contains(index),
      let id = probes[index]["id"]?.stringValue
    else { return path.isEmpty ? "the top level" : path }
    let rest = path[path.index(after: close)...]
    return "probes[\(index)] (\(id.prefix(40)))\(rest)"
  }
}
