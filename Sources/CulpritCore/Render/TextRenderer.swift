/// The report for a terminal: one aligned line per probe, then the evidence and fix of every
/// probe that is degraded, blocked, skipped or in error. Colour only when asked (a terminal
/// without NO_COLOR).
public struct TextRenderer {
  public var color: Bool

  public init(color: Bool) { self.color = color }

  func paint(_ text: String, _ status: Status) -> String {
    guard color else { return text }
    let code: String
    switch status {
    case .ok: code = "32"
    case .degraded: code = "33"
    case .blocked: code = "1;31"
    case .error: code = "35"
    case .skipped: code = "2"
    case .info: code = "36"
    }
    return "\u{1B}[\(code)m\(text)\u{1B}[0m"
  }

  func bold(_ text: String) -> String { color ? "\u{1B}[1m\(text)\u{1B}[0m" : text }

  static func pad(_ text: String, _ width: Int) -> String {
    text.count >= width ? text : text + String(repeating: " ", count: width - text.count)
  }

  public func render(_ report: Report) -> String {
    var out = bold("\(report.toolName) \(report.toolVersion)")
    out += " · Linux \(report.host.kernelRelease) \(report.host.machine) · runtime: \(report.host.runtime) · libc: \(report.host.libc)"
    out += " · uid \(report.host.uid)\n"
    if let profile = report.run.seccompProfile {
      out += "what-if: probes ran under the seccomp profile \(profile)\n"
    }
    if !report.run.forkWorked {
      out += "note: culprit could not always create a child process; probes then ran one at a time, or gave their verdict without one\n"
    }
    out += "\n"
    let statusWidth = max(8, (report.probes.map { $0.status.rawValue.count }.max() ?? 0) + 2)
    let idWidth = (report.probes.map(\.id.count).max() ?? 0) + 2
    let layerWidth = max(7, (report.probes.map { ($0.layer?.rawValue ?? "-").count }.max() ?? 0) + 2)
    for probe in report.probes {
      let status = paint(TextRenderer.pad(probe.status.rawValue, statusWidth), probe.status)
      out += status + TextRenderer.pad(probe.id, idWidth) + TextRenderer.pad(probe.layer?.rawValue ?? "-", layerWidth)
      out += probe.summary + "\n"
    }
    for probe in report.probes where probe.status.showsDetails {
      out += "\n" + paint(probe.status.rawValue, probe.status) + " " + bold(probe.id)
      if let layer = probe.layer { out += " (\(layer.rawValue))" }
      out += ": \(probe.summary)\n"
      for line in probe.evidence { out += "  - \(line)\n" }
      if let hint = probe.hint { out += "  fix: \(hint)\n" }
    }
    return out
  }
}
