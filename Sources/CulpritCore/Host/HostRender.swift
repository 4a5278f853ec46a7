/// `culprit host` in the three formats. Text: the stack as an aligned table, the system
/// settings, the findings with their evidence, the rows checked; then the optional sections.
/// Markdown: the same, as tables a bug report can hold.
extension HostReport {
  public func render(_ format: OutputFormat, color: Bool = false) -> String {
    switch format {
    case .json: return json.serialized(pretty: true) + "\n"
    case .text: return renderText(color: color)
    case .markdown: return renderMarkdown()
    }
  }

  /// Components in the order of the table of kinds, each kind's paths in the order found.
  var orderedComponents: [HostComponent] {
    ComponentKind.allCases.flatMap { kind in components.filter { $0.kind == kind } }
  }

  var missingKinds: [ComponentKind] {
    ComponentKind.allCases.filter { kind in !components.contains { $0.kind == kind } }
  }

  static func versionCell(_ c: HostComponent) -> String {
    guard let v = c.version else { return "version unknown" }
    return v
  }

  static func sourceCell(_ c: HostComponent) -> String {
    switch c.versionSource {
    case .versionCommand?: return "`\(c.versionRun?.command ?? "")`"
    case .buildInfo?: return "Go build info"
    case .package?: return "dpkg: \(c.package ?? "")"
    case .reportedBy?: return "runc --version"
    case .fileName?: return "file name"
    case nil: return c.versionRun?.ending ?? "-"
    }
  }

  /// The checked line: the version and path against the affected versions (the full reason
  /// is in the JSON and, for a match, in the finding).
  static func shortReason(_ r: BugFinding) -> String {
    guard r.verdict == .notAffected, let version = r.component.version else { return r.reason }
    if let symbol = r.bug.fixedBySymbol, r.component.facts["symbol:" + symbol] == "present" { return r.reason }
    return "\(r.component.kind.rawValue) \(version) at \(r.component.path); affected: \(r.bug.affectedText)"
  }

  var systemLines: [String] {
    var lines: [String] = []
    lines.append("kernel: \(system.kernelRelease ?? "unknown")")
    let cgroup: String
    switch system.cgroupMode {
    case "v1"?: cgroup = "v1 (legacy hierarchies)"
    case "v2"?: cgroup = "v2 (unified)"
    case "hybrid"?: cgroup = "hybrid (v1 controllers, a v2 hierarchy beside them)"
    default: cgroup = "unknown"
    }
    lines.append("cgroup: \(cgroup)")
    switch (system.yamaPresent, system.yamaScope) {
    case (_, let scope?): lines.append("Yama ptrace_scope: \(scope) (\(YamaState.meaning(scope)))")
    case (false?, nil): lines.append("Yama: not active (no /proc/sys/kernel/yama)")
    default: lines.append("Yama: cannot be told")
    }
    var lsm: [String] = []
    switch system.appArmorEnabled {
    case true?: lsm.append("AppArmor enabled" + (system.appArmorProfilesLoaded.map { ", \($0) profiles loaded" } ?? ""))
    case false?: lsm.append("AppArmor built in but disabled")
    case nil: lsm.append("AppArmor not present")
    }
    switch system.seLinuxEnforcing {
    case true?: lsm.append("SELinux enforcing")
    case false?: lsm.append("SELinux permissive")
    case nil: lsm.append("SELinux not present")
    }
    if let active = system.lsmActive { lsm.append("active LSMs: \(active.joined(separator: ","))") }
    lines.append("LSM: " + lsm.joined(separator: "; "))
    if system.userNamespaceSysctls.isEmpty {
      lines.append("user namespaces: no sysctl readable")
    } else {
      lines.append("user namespaces: " + system.userNamespaceSysctls.map { "\($0.name)=\($0.value)" }.joined(separator: ", "))
    }
    return lines
  }

  func renderText(color: Bool) -> String {
    func bold(_ s: String) -> String { color ? "\u{1B}[1m\(s)\u{1B}[0m" : s }
    func red(_ s: String) -> String { color ? "\u{1B}[1;31m\(s)\u{1B}[0m" : s }
    func green(_ s: String) -> String { color ? "\u{1B}[32m\(s)\u{1B}[0m" : s }
    var out = bold("\(Culprit.name) \(Culprit.version) host") + " · Linux \(host.kernelRelease) \(host.machine) · \(host.hostname)\n"
    for note in notes { out += "note: \(note)\n" }
    out += "\n" + bold("Runtime stack") + "\n"
    let rows = orderedComponents
    let kindWidth = (rows.map { $0.kind.rawValue.count }.max() ?? 0) + 2
    let versionWidth = (rows.map { HostReport.versionCell($0).count }.max() ?? 0) + 2
    let pathWidth = (rows.map { $0.path.count }.max() ?? 0) + 2
    for c in rows {
      out += "  " + TextRenderer.pad(c.kind.rawValue, kindWidth) + TextRenderer.pad(HostReport.versionCell(c), versionWidth)
      out += TextRenderer.pad(c.path, pathWidth) + HostReport.sourceCell(c) + "\n"
    }
    if rows.isEmpty { out += "  (no container runtime component found)\n" }
    if !missingKinds.isEmpty {
      out += "  not found: " + missingKinds.map(\.rawValue).joined(separator: ", ") + "\n"
    }
    out += "\n" + bold("Node") + "\n"
    for line in systemLines { out += "  \(line)\n" }
    let findings = bugs.findings
    out += "\n" + bold("Known bugs") + ": "
    out += findings.isEmpty ? green("none of the \(bugs.table.count) in the table matched") + "\n" : red("\(findings.count) matched") + " (of \(bugs.table.count) in the table)\n"
    for f in findings {
      out += "\n" + red("✗ \(f.bug.id)") + " [\(f.bug.layer)] \(f.bug.title)\n"
      if f.bug.scope == "custom-profile" { out += "  applies: only to containers started with their own seccomp profile\n" }
      out += "  found: \(f.reason)\n"
      out += "  symptom: \(f.bug.symptom)\n"
      out += "  why: \(f.bug.mechanism)\n"
      out += "  fix: \(f.bug.fix)\n"
      out += "  sources: \(f.bug.sources.joined(separator: " "))\n"
    }
    out += "\n" + bold("Checked") + "\n"
    let idWidth = (bugs.table.map(\.id.count).max() ?? 0) + 2
    for bug in bugs.table {
      let rows = bugs.results.filter { $0.bug.id == bug.id }
      if rows.isEmpty {
        out += "  " + TextRenderer.pad(bug.id, idWidth) + "not installed (\(bug.component.rawValue))\n"
        continue
      }
      for (i, r) in rows.enumerated() {
        let mark = r.verdict == .affected ? red("affected") : r.verdict == .notAffected ? green("not affected") : "version unknown"
        out += "  " + TextRenderer.pad(i == 0 ? bug.id : "", idWidth) + mark + ": \(HostReport.shortReason(r))\n"
      }
    }
    out += "\n" + bold("Evidence") + "\n"
    for c in rows {
      out += "  \(c.kind.rawValue) \(c.path)\n"
      for line in c.evidence { out += "    - \(line)\n" }
    }
    for section in sections { out += "\n" + section.text }
    return out
  }

  func renderMarkdown() -> String {
    func cell(_ s: String) -> String { s.replacingAll("|", with: "\\|").replacingAll("\n", with: " ") }
    var out = "### culprit host\n\n"
    out += "`\(Culprit.name) \(Culprit.version)` on Linux \(host.kernelRelease) \(host.machine) (\(host.hostname))\n\n"
    for note in notes { out += "> **Note:** \(note)\n\n" }
    out += "#### Runtime stack\n\n| component | version | path | read from |\n|---|---|---|---|\n"
    for c in orderedComponents {
      out += "| \(c.kind.rawValue) | \(cell(HostReport.versionCell(c))) | `\(cell(c.path))` | \(cell(HostReport.sourceCell(c))) |\n"
    }
    if !missingKinds.isEmpty { out += "\nNot found: " + missingKinds.map(\.rawValue).joined(separator: ", ") + ".\n" }
    out += "\n#### Node\n\n"
    for line in systemLines { out += "- \(line)\n" }
    let findings = bugs.findings
    out += "\n#### Known bugs\n\n"
    out += findings.isEmpty ? "None of the \(bugs.table.count) known bugs matched.\n" : "**\(findings.count) matched** (of \(bugs.table.count)).\n"
    for f in findings {
      out += "\n**\(f.bug.id)** (\(f.bug.layer)): \(f.bug.title)\n\n"
      if f.bug.scope == "custom-profile" { out += "- applies: only to containers started with their own seccomp profile\n" }
      out += "- found: \(f.reason)\n- symptom: `\(f.bug.symptom)`\n- why: \(f.bug.mechanism)\n- fix: \(f.bug.fix)\n"
      out += "- sources: " + f.bug.sources.map { "<\($0)>" }.joined(separator: ", ") + "\n"
    }
    out += "\n<details><summary>Checked rows and evidence</summary>\n\n| bug | result |\n|---|---|\n"
    for bug in bugs.table {
      let rows = bugs.results.filter { $0.bug.id == bug.id }
      let result = rows.isEmpty ? "not installed (\(bug.component.rawValue))" : rows.map { "\($0.verdict.rawValue): \($0.reason)" }.joined(separator: "<br>")
      out += "| \(bug.id) | \(cell(result)) |\n"
    }
    out += "\n"
    for c in orderedComponents {
      out += "- \(c.kind.rawValue) `\(c.path)`\n"
      for line in c.evidence { out += "  - \(line)\n" }
    }
    out += "\n</details>\n"
    for section in sections { out += "\n" + section.markdown }
    return out
  }
}
