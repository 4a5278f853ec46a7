/// The report as Markdown for a GitHub issue: a header, a table of every probe, and a
/// collapsed `<details>` block per probe with its evidence, fix and facts.
public enum MarkdownRenderer {
  /// Makes prose safe in GitHub Markdown: `<name>` would otherwise be taken for an HTML tag
  /// and vanish.
  static func text(_ text: String) -> String {
    text.replacingAll("&", with: "&amp;").replacingAll("<", with: "&lt;").replacingAll(">", with: "&gt;")
  }

  /// Makes text safe inside a table cell.
  static func cell(_ text: String) -> String {
    Self.text(text).replacingAll("|", with: "\\|").replacingAll("\n", with: " ")
  }

  public static func render(_ report: Report) -> String {
    var out = "### \(report.toolName) report\n\n"
    out += "| | |\n|---|---|\n"
    out += "| Kernel | `\(cell(report.host.kernelRelease))` (\(cell(report.host.machine))) |\n"
    out += "| Runtime | \(cell(report.host.runtime)) |\n"
    out += "| Image libc | \(cell(report.host.libc)) |\n"
    out += "| User | uid \(report.host.uid), gid \(report.host.gid) |\n"
    out += "| Tool | \(report.toolName) \(cell(report.toolVersion)) |\n"
    if let profile = report.run.seccompProfile {
      out += "| What-if seccomp profile | `\(cell(profile))` |\n"
    }
    if !report.run.forkWorked {
      out += "| Note | culprit could not always create a child process; probes then ran one at a time, or gave their verdict without one |\n"
    }
    out += "\n| Status | Probe | Layer | Summary |\n|---|---|---|---|\n"
    for probe in report.probes {
      let status = probe.status.severity > 0 ? "**\(probe.status.rawValue)**" : probe.status.rawValue
      out += "| \(status) | `\(probe.id)` | \(probe.layer?.rawValue ?? "") | \(cell(probe.summary)) |\n"
    }
    for probe in report.probes {
      out += "\n<details\(probe.status.showsDetails ? " open" : "")><summary><code>\(probe.id)</code>: \(probe.status.rawValue)"
      if let layer = probe.layer { out += " (\(layer.rawValue))" }
      out += " — \(text(probe.title))</summary>\n\n"
      out += "\(text(probe.summary))\n\n"
      if !probe.evidence.isEmpty {
        out += "**Evidence**\n\n"
        for line in probe.evidence { out += "- \(text(line))\n" }
        out += "\n"
      }
      if let hint = probe.hint { out += "**Fix:** \(text(hint))\n\n" }
      if !probe.facts.isEmpty {
        out += "```json\n\(JSONValue.object(probe.facts).serialized(pretty: true))\n```\n\n"
      }
      out += "</details>\n"
    }
    return out
  }
}

extension String {
  /// Every occurrence of the character `target` replaced by `replacement` (no Foundation).
  func replacingAll(_ target: Character, with replacement: String) -> String {
    guard contains(target) else { return self }
    var result = ""
    for ch in self {
      if ch == target { result += replacement } else { result.append(ch) }
    }
    return result
  }
}
