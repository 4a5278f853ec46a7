/// `--containers` as JSON, text and Markdown: each run, the probe × runtime table of verdicts
/// and layers, and each report's differences from the first (`ReportDiff`, as `culprit diff`).
extension ContainerRun {
  public var json: JSONValue {
    [
      "runtime": .string(runtime.rawValue),
      "state": .string(state.rawValue),
      "cli": .from(cli),
      "version": .from(version),
      "reason": .from(reason),
      "deviations": .from(deviations),
      "command": .from(command),
      "image": .from(image),
      "elapsedMs": .int(elapsedMilliseconds),
      "cleanup": .from(cleanup),
      "cleanupFailures": .from(cleanupFailures),
      "evidence": .from(evidence),
      "report": reportJSON ?? .null,
    ]
  }

  /// Reads a run back (a recorded `--containers` output: the renderers' fixtures).
  public init(json: JSONValue) throws(ContractError) {
    guard let runtime = json["runtime"]?.stringValue.flatMap(Runtime.init(rawValue:)),
      let state = json["state"]?.stringValue.flatMap(State.init(rawValue:))
    else { throw ContractError("a container run needs a known runtime and state") }
    self.init(runtime: runtime, state: state)
    func strings(_ key: String) -> [String] { json[key]?.arrayValue?.compactMap(\.stringValue) ?? [] }
    cli = json["cli"]?.stringValue
    version = json["version"]?.stringValue
    reason = json["reason"]?.stringValue
    deviations = strings("deviations")
    command = strings("command")
    image = json["image"]?.stringValue
    elapsedMilliseconds = json["elapsedMs"]?.intValue ?? 0
    cleanup = strings("cleanup")
    cleanupFailures = strings("cleanupFailures")
    evidence = strings("evidence")
    if let report = json["report"], report != .null {
      reportJSON = report
      self.report = try Report(validating: report)
    }
  }
}

extension ReportDiff {
  /// The differences as data, for the host report's JSON.
  public var json: JSONValue {
    func verdict(_ p: ProbeResult?) -> JSONValue {
      guard let p else { return .null }
      return ["status": .string(p.status.rawValue), "layer": .from(p.layer?.rawValue), "summary": .string(p.summary)]
    }
    func facts(_ list: [FactChange]) -> JSONValue {
      .array(list.map { ["name": .string($0.name), "before": .string($0.before), "after": .string($0.after)] })
    }
    return [
      "before": .string(beforeName),
      "after": .string(afterName),
      "verdicts": .array(verdicts.map { ["id": .string($0.id), "before": verdict($0.before), "after": verdict($0.after)] }),
      "host": facts(host),
      "capabilities": .array(capabilities.map { ["name": .string($0.name), "added": .from($0.added), "removed": .from($0.removed)] }),
      "seccomp": facts(seccomp),
      "syscalls": facts(syscalls),
      "cgroup": facts(cgroup),
    ]
  }
}

extension ContainerComparison {
  public var json: JSONValue {
    let reports = reported
    return [
      "binary": .string(binary),
      "culpritArguments": .from(culpritArguments),
      "baseline": .from(baseline),
      "runs": .array(runs.map(\.json)),
      "table": .array(probeIDs.map { id in
        var cells = JSONObject()
        for (label, report) in reports {
          if let probe = report.probes.first(where: { $0.id == id }) {
            cells[label] = ["status": .string(probe.status.rawValue), "layer": .from(probe.layer?.rawValue)]
          } else {
            cells[label] = .null
          }
        }
        return ["probe": .string(id), "cells": .object(cells)]
      }),
      "differences": .array(differences.map(\.json)),
    ]
  }

  public init(json: JSONValue) throws(ContractError) {
    guard let runs = json["runs"]?.arrayValue else { throw ContractError("the containers section has no runs") }
    var parsed: [ContainerRun] = []
    for run in runs { parsed.append(try ContainerRun(json: run)) }
    self.init(
      runs: parsed, binary: json["binary"]?.stringValue ?? "",
      culpritArguments: json["culpritArguments"]?.arrayValue?.compactMap(\.stringValue) ?? [])
  }

  /// Text (markdown: false) or Markdown.
  public func render(markdown: Bool) -> String {
    var out = ""
    let command = culpritArguments.joined(separator: " ")
    if markdown {
      out += "### Default containers\n\nculprit (`\(binary)`) run in a container of each runtime found, as `\(command)`, from an image of that binary alone.\n\n"
      out += "| runtime | version | state | non-default options | removed |\n|---|---|---|---|---|\n"
      for run in runs {
        let options = run.deviations.isEmpty ? "none" : run.deviations.map { MarkdownRenderer.text(ContainerComparison.short($0)) }.joined(separator: "; ")
        let removed = run.cleanupFailures.isEmpty ? (run.cleanup.isEmpty ? "nothing made" : "everything") : "NOT: " + run.cleanupFailures.map(MarkdownRenderer.text).joined(separator: "; ")
        let state = run.state.rawValue + (run.reason.map { ": " + MarkdownRenderer.text($0) } ?? "")
        out += "| \(run.runtime.rawValue) | \(run.version ?? "") | \(state) | \(options) | \(removed) |\n"
      }
    } else {
      out += "Default containers: culprit (\(binary)) run in a container of each runtime found, as\n  \(command)\nfrom an image of that binary alone.\n\n"
      let rows = runs.map { run -> [String] in
        [run.runtime.rawValue, run.version ?? "", run.state.rawValue,
         run.deviations.isEmpty ? "none" : run.deviations.map(ContainerComparison.short).joined(separator: "; ")]
      }
      out += table(["runtime", "version", "state", "non-default options"], rows)
      for run in runs {
        if let reason = run.reason { out += "  \(run.runtime.rawValue): \(reason)\n" }
        for failure in run.cleanupFailures { out += "  \(run.runtime.rawValue): NOT REMOVED: \(failure)\n" }
      }
    }
    let reports = reported
    guard !reports.isEmpty else {
      return out + (markdown ? "\nNo runtime gave a report.\n" : "\nNo runtime gave a report.\n")
    }
    let ids = probeIDs
    let header = ["probe"] + reports.map(\.label)
    let rows = ids.map { id in [id] + reports.map { ContainerComparison.cell($0.report, id) } }
    if markdown {
      out += "\n| " + header.joined(separator: " | ") + " |\n|" + String(repeating: "---|", count: header.count) + "\n"
      for row in rows { out += "| " + row.map { "`\($0)`" }.joined(separator: " | ") + " |\n" }
    } else {
      out += "\n" + table(header, rows)
    }
    for diff in differences {
      out += "\n" + diff.render(markdown: markdown)
    }
    return out
  }

  /// A deviation's option, without its reason (the text before the first ": ").
  static func short(_ deviation: String) -> String {
    var head = ""
    var rest = Substring(deviation)
    while let first = rest.first {
      if rest.hasPrefix(": ") { break }
      head.append(first)
      rest = rest.dropFirst()
    }
    return head.count > 60 ? String(head.prefix(57)) + "..." : head
  }

  /// Columns padded to their widest cell.
  func table(_ header: [String], _ rows: [[String]]) -> String {
    var widths = header.map(\.count)
    for row in rows { for (i, cell) in row.enumerated() where i < widths.count { widths[i] = max(widths[i], cell.count) } }
    func line(_ cells: [String]) -> String {
      var text = ""
      for (i, cell) in cells.enumerated() {
        text += i == cells.count - 1 ? cell : cell + String(repeating: " ", count: widths[i] - cell.count + 2)
      }
      return text + "\n"
    }
    return ([header] + rows).map(line).joined()
  }
}

extension CNIReproduction {
  /// Text (markdown: false) or Markdown.
  public func render(markdown: Bool) -> String {
    var lines: [String] = []
    lines.append("plugin: " + (plugin ?? "none found") + (pluginAbout.map { " (\($0))" } ?? ""))
    if notRun == nil {
      lines.append("config (stdin): \(config); CNI_IFNAME=lo, a fresh network namespace per try (CNI_NETNS=/proc/PID/ns/net of culprit's churn process)")
      lines.append("tries: \(tries) of \(triesRequested) ADD+DEL pairs (bound \(secondsAllowed) s, took \(elapsedMilliseconds) ms)" + (stoppedEarly.map { "; stopped: \($0)" } ?? ""))
      lines.append("failures: ADD \(addFailures), DEL \(delFailures), of which \"interrupted system call\" (EINTR): \(interruptedFailures)")
      for failure in failures { lines.append("  \(failure.count)× \(failure.command): \(failure.message)") }
      lines.append("churn: \(standingAddresses) standing 127.14.x.y/32 addresses on lo, \(churnChanges) address changes (127.13.x.y/32 added and removed) during the tries")
      if let c = churnCheck {
        lines.append("churn check: \(c.interrupted) of \(c.dumps) RTM_GETADDR dumps of culprit's own in \(c.namespaces) namespaces under the same churn came back with NLM_F_DUMP_INTR" + (c.errors > 0 ? " (\(c.errors) errors)" : ""))
      }
    }
    if markdown {
      return "### CNI reproduction\n\n**\(MarkdownRenderer.text(verdict))**\n\n" + lines.map { "- " + MarkdownRenderer.text($0) + "\n" }.joined()
    }
    return "CNI reproduction: \(verdict)\n" + lines.map { "  " + $0 + "\n" }.joined()
  }
}

extension ContainerComparison {
  /// The `culprit host` section (`node.containers`): failed when a runtime that was found gave
  /// no report, or something culprit made could not be removed.
  public var section: HostSection {
    let failed = runs.contains { [.failed, .timedOut].contains($0.state) || !$0.cleanupFailures.isEmpty }
    return HostSection(key: "containers", json: json, text: render(markdown: false), markdown: render(markdown: true), failed: failed)
  }
}

extension CNIReproduction {
  /// The `culprit host` section (`node.reproduce`, as {"cni": …}): failed when the plugin failed.
  public var section: HostSection {
    HostSection(
      key: "reproduce", json: ["cni": json], text: render(markdown: false), markdown: render(markdown: true),
      failed: addFailures + delFailures > 0)
  }
}
