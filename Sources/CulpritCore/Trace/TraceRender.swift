/// The `trace` section of a report: how tracing went (or why it could not), the verdict on
/// every refused call, and how they render in the three formats.
public struct TraceSection: Sendable {
  /// When ptrace itself was refused: the errno, the layer and why; the battery ran instead.
  public struct Refusal: Sendable {
    public var call: String
    public var errno: Errno?
    public var layer: Layer
    public var reason: String
    public var evidence: [String]
    /// What to do about it (the ptrace-attach probe's hint for that layer).
    public var hint: String? = nil
    /// For a refused PTRACE_SEIZE: the observations it was judged from.
    public var observed: TraceSeizeObservation? = nil
  }

  public var verdict: TraceVerdict?
  public var refusal: Refusal?
  /// The command, or the attached pid's command line.
  public var command: [String]
  public var pid: Int32?
  /// The program's status when it ran untraced (ptrace refused).
  public var untracedExitStatus: Int32?
  /// execvp's errno when the command could not be run.
  public var execFailure: Errno?

  public init(verdict: TraceVerdict?, refusal: Refusal?, command: [String], pid: Int32?, untracedExitStatus: Int32? = nil, execFailure: Errno? = nil) {
    self.verdict = verdict
    self.refusal = refusal
    self.command = command
    self.pid = pid
    self.untracedExitStatus = untracedExitStatus
    self.execFailure = execFailure
  }

  public var exitStatus: Int32? { verdict?.exitStatus ?? untracedExitStatus }

  var mode: String { pid != nil ? "pid" : "command" }

  // MARK: JSON

  public var json: JSONValue {
    var object: JSONObject = [
      "mode": .string(mode),
      "command": .from(command),
      "pid": pid.map { .int(Int($0)) } ?? .null,
      "exitStatus": exitStatus.map { .int(Int($0)) } ?? .null,
      "execError": .from(execFailure?.name),
    ]
    if let refusal {
      object["tracing"] = [
        "traced": false, "call": .string(refusal.call), "errno": .from(refusal.errno?.name),
        "layer": .string(refusal.layer.rawValue), "reason": .string(refusal.reason), "evidence": .from(refusal.evidence),
        "hint": .from(refusal.hint), "observed": refusal.observed?.json ?? .null,
      ]
    } else {
      object["tracing"] = ["traced": true, "call": "PTRACE_SEIZE", "errno": .null, "layer": .null, "reason": .null, "evidence": .array([])]
    }
    guard let v = verdict else {
      object["ending"] = .null
      object["findings"] = .array([])
      object["mattered"] = .null
      object["ordinary"] = .object([:])
      object["message"] = .array([])
      object["waits"] = .array([])
      object["stats"] = .null
      return .object(object)
    }
    let o = v.observations
    object["ending"] = .from(o.rootEnding.map(TraceSection.endingText))
    object["findings"] = .array(v.findings.map(TraceSection.findingJSON))
    object["mattered"] = v.mattered.map { .int($0) } ?? .null
    var ordinary: JSONObject = [:]
    for (key, count) in o.ordinary { ordinary[key] = .int(count) }
    object["ordinary"] = .object(ordinary)
    object["message"] = .from(v.message)
    object["waits"] = .array(o.attachedWaits.map(TraceSection.waitJSON))
    object["stats"] = [
      "syscalls": .int(o.syscalls), "processes": .int(o.processes.count), "durationMs": .int(o.durationMilliseconds),
      "timedOut": .bool(o.timedOut), "interruptedBy": .from(o.interruptedBy.map(signalName)),
      "detachedTasks": .int(o.detachedTasks),
    ]
    return .object(object)
  }

  static func findingJSON(_ f: TraceFinding) -> JSONValue {
    var reaction: JSONValue = .null
    if let r = f.reaction {
      switch r {
      case .unknown: reaction = ["kind": "unknown", "to": .null, "succeeded": .null]
      case .retried(let ok): reaction = ["kind": "retried", "to": .null, "succeeded": .bool(ok)]
      case .fellBack(let to, let ok): reaction = ["kind": "fell-back", "to": .string(to), "succeeded": .bool(ok)]
      case .continued: reaction = ["kind": "continued", "to": .null, "succeeded": .null]
      case .gaveUp: reaction = ["kind": "gave-up", "to": .null, "succeeded": .null]
      }
    }
    var seccomp: JSONValue = .null
    if let s = f.seccomp {
      let answer: String
      var errno: String?
      switch s.answer {
      case .filtered(let e): answer = "filtered"; errno = e.name
      case .allowed: answer = "allowed"
      case .killed: answer = "killed"
      case .trapped: answer = "trapped"
      case .absent: answer = "absent"
      case .unknown: answer = "unknown"
      }
      seccomp = ["answer": .string(answer), "errno": .from(errno), "method": .string(s.method.rawValue), "evidence": .string(s.evidence)]
    }
    return [
      "kind": .string(f.kind.rawValue), "pid": .int(Int(f.pid)), "program": .string(f.program),
      "syscall": .string(f.call.name), "nr": .int(f.call.nr), "call": .string(f.callText),
      "errno": .from(f.errno?.name), "count": .int(f.count), "atMs": .int(f.atMilliseconds),
      "layer": .from(f.layer?.rawValue), "reason": .string(f.reason), "evidence": .from(f.evidence),
      "hint": .from(f.hint), "seccomp": seccomp, "reaction": reaction, "survived": .bool(f.survived),
      "mattered": .bool(f.mattered),
    ]
  }

  static func waitJSON(_ w: TraceWait) -> JSONValue {
    [
      "tid": .int(Int(w.tid)), "syscall": .from(w.call?.name), "state": .string(w.state), "wchan": .from(w.wchan),
      "waitingMs": w.waitingMilliseconds.map { .int($0) } ?? .null, "descriptor": .from(w.descriptor),
    ]
  }

  static func endingText(_ e: TraceProcess.Ending) -> String {
    switch e {
    case .exited(let code): return "exited with status \(code)"
    case .signaled(let signal, let during, let kill):
      return "killed by \(signalName(signal))" + (during.map { " in \($0.name)" } ?? "") + (kill ? " (a seccomp KILL action)" : "")
    case .detached: return "still running; culprit detached from it"
    }
  }

  static func reactionText(_ f: TraceFinding) -> String? {
    guard let r = f.reaction else { return nil }
    switch r {
    case .unknown: return "the trace ended before the program's next call"
    case .retried(let ok): return ok ? "the program retried it, and a later attempt worked" : "the program retried it, in vain"
    case .fellBack(let to, let ok): return "the program fell back to \(to)" + (ok ? ", which worked" : ", which failed too")
    case .continued: return "the program went on without it"
    case .gaveUp: return "the program gave up: its process ended without trying again"
    }
  }

  // MARK: Text and Markdown

  func headline() -> String {
    let cmd = command.joined(separator: " ")
    let who = pid.map { "pid \($0)" + (cmd.isEmpty ? "" : " (\(cmd))") } ?? cmd
    if let execFailure { return "\(who): could not be run (\(execFailure.description))" }
    guard let v = verdict else {
      return "\(who): " + (untracedExitStatus.map { "ran untraced, exit status \($0)" } ?? "not traced")
    }
    let ending = v.observations.rootEnding.map(TraceSection.endingText) ?? "still running"
    return "\(who): \(ending)" + (v.exitStatus.map { $0 != 0 && v.observations.rootEnding.map({ if case .signaled = $0 { return true } else { return false } }) == true ? " (exit status \($0))" : "" } ?? "")
  }

  public func renderText() -> String {
    var out = "trace: \(headline())\n"
    if let refusal {
      out += "\nculprit could not trace it: \(refusal.call) was refused\(refusal.errno.map { " (\($0.name))" } ?? "") by \(refusal.layer.rawValue): \(refusal.reason)\n"
      for line in refusal.evidence { out += "  - \(line)\n" }
      if let hint = refusal.hint { out += "  fix: \(hint)\n" }
      out += "The probes below ran instead.\n"
      return out
    }
    guard let v = verdict else { return out }
    let o = v.observations
    out += "traced \(o.processes.count) process\(o.processes.count == 1 ? "" : "es"), \(o.syscalls) system calls in \(o.durationMilliseconds) ms"
    if o.timedOut { out += "; stopped at --timeout" }
    if let s = o.interruptedBy { out += "; interrupted by \(signalName(s))" }
    out += "\n"
    if !v.message.isEmpty { out += "the program said: " + v.message.joined(separator: " / ") + "\n" }
    for w in o.attachedWaits {
      out += "waiting: thread \(w.tid) " + (w.call.map { "in \($0.name)" } ?? "not in a system call (\(w.state))")
      if let ms = w.waitingMilliseconds { out += " for about \(TraceSection.seconds(ms))" }
      if let d = w.descriptor { out += "; \(d)" }
      if let wchan = w.wchan { out += " [kernel: \(wchan)]" }
      out += "\n"
    }
    if let index = v.mattered {
      out += "\nthe failure that mattered:\n" + TraceSection.findingText(v.findings[index])
    } else if v.exitStatus == 0 || v.exitStatus == nil {
      out += v.findings.isEmpty ? "\nno call was refused by a policy\n" : "\nthe program succeeded; no refusal broke it\n"
    } else {
      out += "\nno refused call explains the failure: the program failed for reasons of its own\n"
    }
    let others = v.findings.enumerated().filter { $0.offset != v.mattered }
    if !others.isEmpty {
      out += "\nother refused calls:\n"
      for (_, f) in others.prefix(40) { out += TraceSection.findingText(f) }
      if others.count > 40 { out += "  … and \(others.count - 40) more (see --format json)\n" }
    }
    if !o.ordinary.isEmpty {
      let top = o.ordinary.sorted { $0.value != $1.value ? $0.value > $1.value : $0.key < $1.key }.prefix(8)
      out += "\nordinary failures (counted, not reported): " + top.map { "\($0.key) ×\($0.value)" }.joined(separator: ", ")
      if o.ordinary.count > 8 { out += ", …" }
      out += "\n"
    }
    return out
  }

  static func seconds(_ ms: Int) -> String {
    ms < 10_000 ? String(Double(ms / 100) / 10) + " s" : "\(ms / 1000) s"
  }

  static func findingText(_ f: TraceFinding) -> String {
    let status = f.survived ? "survived" : "refused"
    var out = "  \(status)  \(f.layer?.rawValue ?? "-")  \(f.callText)"
    if let e = f.errno { out += " → \(e.name)" }
    if f.kind == .kill { out += " → killed (SIGSYS)" }
    if f.kind == .trap { out += " → SIGSYS (TRAP)" }
    if f.count > 1 { out += " ×\(f.count)" }
    out += " in \(f.program) (pid \(f.pid)): \(f.reason)\n"
    for line in f.evidence { out += "    - \(line)\n" }
    if let r = reactionText(f) { out += "    then: \(r)\n" }
    if let hint = f.hint, !f.survived { out += "    fix: \(hint)\n" }
    return out
  }

  public func renderMarkdown() -> String {
    var out = "### culprit trace\n\n**\(MarkdownRenderer.text(headline()))**\n\n"
    if let refusal {
      out += "culprit could not trace it: `\(refusal.call)` was refused\(refusal.errno.map { " (`\($0.name)`)" } ?? "") by **\(refusal.layer.rawValue)**: \(MarkdownRenderer.text(refusal.reason))\n\n"
      for line in refusal.evidence { out += "- \(MarkdownRenderer.text(line))\n" }
      if let hint = refusal.hint { out += "\n**Fix:** \(MarkdownRenderer.text(hint))\n" }
      out += "\nThe probes below ran instead.\n\n"
      return out
    }
    guard let v = verdict else { return out }
    let o = v.observations
    out += "Traced \(o.processes.count) processes, \(o.syscalls) system calls in \(o.durationMilliseconds) ms.\n\n"
    if !v.message.isEmpty { out += "The program said:\n\n```\n" + v.message.joined(separator: "\n") + "\n```\n\n" }
    for w in o.attachedWaits {
      out += "- thread \(w.tid): " + (w.call.map { "in `\($0.name)`" } ?? w.state)
      if let ms = w.waitingMilliseconds { out += " for about \(TraceSection.seconds(ms))" }
      if let d = w.descriptor { out += "; \(MarkdownRenderer.text(d))" }
      out += "\n"
    }
    if !v.findings.isEmpty {
      out += "| | Layer | Call | Errno | Program | Why |\n|---|---|---|---|---|---|\n"
      for f in v.findings {
        let mark = f.mattered ? "**mattered**" : f.survived ? "survived" : "refused"
        out += "| \(mark) | \(f.layer?.rawValue ?? "") | `\(MarkdownRenderer.cell(f.callText))` | \(f.errno?.name ?? (f.kind == .failure ? "" : "SIGSYS")) | \(MarkdownRenderer.cell(f.program)) | \(MarkdownRenderer.cell(f.reason)) |\n"
      }
      for f in v.findings where f.mattered || !f.survived {
        out += "\n<details\(f.mattered ? " open" : "")><summary><code>\(MarkdownRenderer.text(f.call.name))</code> \(f.errno?.name ?? "SIGSYS") (\(f.layer?.rawValue ?? "no layer"))</summary>\n\n"
        for line in f.evidence { out += "- \(MarkdownRenderer.text(line))\n" }
        if let r = TraceSection.reactionText(f) { out += "\nThen: \(MarkdownRenderer.text(r)).\n" }
        if let hint = f.hint { out += "\n**Fix:** \(MarkdownRenderer.text(hint))\n" }
        out += "\n</details>\n"
      }
    } else {
      out += "No call was refused by a policy.\n"
    }
    if !o.ordinary.isEmpty {
      let top = o.ordinary.sorted { $0.value != $1.value ? $0.value > $1.value : $0.key < $1.key }.prefix(8)
      out += "\nOrdinary failures (counted, not reported): " + top.map { "`\($0.key)` ×\($0.value)" }.joined(separator: ", ") + "\n"
    }
    return out
  }
}
