/// `culprit profile check` and `culprit profile diff`: a seccomp profile checked offline, as the
/// runtime that will load it builds it, by interpreting the filter for every syscall number.
/// Pure, given the evaluations: no container, no kernel filter.
public struct ProfileCheck: Sendable {
  public var evaluations: [ProfileEvaluation]
  public var libc: ImageLibc
  /// Per architecture, the classified calls of the sweep table (what a program needs).
  public var results: [[SweepResult]]

  /// "glibc-2.36", "musl-1.2.4", "none": the libc whose needs decide what breaks.
  public static func libc(_ spec: String) -> ImageLibc? {
    let lower = spec.lowercased()
    if lower == "none" || lower == "static" { return ImageLibc(family: .none, version: nil, path: nil, evidence: []) }
    let parts = lower.split(separator: "-", maxSplits: 1).map(String.init)
    guard parts.count == 2, KernelVersion(release: parts[1]) != nil, parts[1].first?.isNumber == true else { return nil }
    switch parts[0] {
    case "glibc": return ImageLibc(family: .glibc, version: parts[1], path: nil, evidence: [])
    case "musl": return ImageLibc(family: .musl, version: parts[1], path: nil, evidence: [])
    default: return nil
    }
  }

  /// The newest glibc whose behaviour culprit's table describes (fchmodat2 from 2.39).
  public static let newestGlibc = "glibc-2.41"

  public init(evaluations: [ProfileEvaluation], libc: ImageLibc) {
    self.evaluations = evaluations
    self.libc = libc
    results = evaluations.map { ProfileCheck.classify($0.map, libc: libc) }
  }

  /// The sweep table's calls, answered from the map's filter.
  static func classify(_ map: SeccompMap, libc: ImageLibc) -> [SweepResult] {
    let env = SweepEnvironment(
      arch: map.arch, kernel: nil, filterInstalled: true, sysctls: [:], capabilities: nil, libc: libc,
      machine: map.arch.rawValue)
    let evaluation = map
    return SyscallSweep.table.compactMap { entry in
      guard let call = SyscallSweep.oracleCall(entry, arch: map.arch, pointers: .placeholders) else { return nil }
      let answer = evaluation.answer(for: call)
      return SyscallSweep.classify(entry, SyscallSweep.outcome(of: answer, for: entry), in: env)
    }
  }

  /// The calls that break (impact degraded or blocked), per architecture.
  public var breaks: [(arch: Architecture, result: SweepResult)] {
    zip(evaluations, results).flatMap { evaluation, results in
      results.filter { $0.impact > .none }.map { (evaluation.arch, $0) }
    }
  }

  public var breaksSomething: Bool { !breaks.isEmpty }

  public var warnings: [String] {
    var seen: [String] = []
    for evaluation in evaluations { for w in evaluation.warnings where !seen.contains(w) { seen.append(w) } }
    return seen
  }

  // MARK: Rendering

  public func render(_ format: OutputFormat) -> String {
    switch format {
    case .json: return json.serialized(pretty: true) + "\n"
    case .text: return text(markdown: false)
    case .markdown: return text(markdown: true)
    }
  }

  func text(markdown: Bool) -> String {
    guard let first = evaluations.first else { return "" }
    var out: [String] = []
    let head = "culprit profile check \(first.path) — \(first.runtime.display), \(libc.display)"
    out.append(markdown ? "## \(head)" : head)
    for (evaluation, results) in zip(evaluations, results) {
      out.append("")
      let map = evaluation.map
      out.append(markdown ? "### \(map.arch.rawValue)" : "\(map.arch.rawValue):")
      let bullet = markdown ? "- " : "  "
      for sentence in map.meaning() { out.append(bullet + sentence) }
      out.append(bullet + "Map: " + ProfileCheck.compactRuns(map))
      let hurting = results.filter { $0.impact > .none }
      if hurting.isEmpty {
        out.append(bullet + "Nothing the \(results.count) checked calls' users need is refused in a way they cannot handle.")
      }
      for result in hurting {
        out.append(bullet + "\(result.impact == .blocked ? "BLOCKED" : "DEGRADED"): \(result.entry.call) → \(SyscallsProbe.answerText(result)): \(result.consequence ?? "")")
      }
    }
    if !warnings.isEmpty {
      out.append("")
      out.append(markdown ? "### Warnings" : "Warnings:")
      for w in warnings { out.append((markdown ? "- " : "  ") + w) }
    }
    out.append("")
    out.append(breaksSomething ? "Result: the profile breaks \(breaks.count) call(s) programs need (exit 1)." : "Result: nothing breaks (exit 0).")
    return out.joined(separator: "\n") + "\n"
  }

  /// "0–332 allowed/EPERM (312/21) …": runs of the same answer, short.
  static func compactRuns(_ map: SeccompMap) -> String {
    // Runs of the stub and of long uniform stretches; mixed stretches are summarised by counts.
    var parts: [String] = []
    var mixedStart: Int?
    var mixed: [String: Int] = [:]
    func flush(_ end: Int) {
      guard let start = mixedStart else { return }
      if mixed.count == 1, let only = mixed.first {
        parts.append((start == end ? "\(start)" : "\(start)–\(end)") + " \(only.key)")
      } else {
        let counts = mixed.sorted { $0.value > $1.value || ($0.value == $1.value && $0.key < $1.key) }
          .map { "\($0.value) \($0.key)" }.joined(separator: ", ")
        parts.append("\(start)–\(end): \(counts)")
      }
      mixedStart = nil
      mixed = [:]
    }
    for run in map.runs {
      if run.last - run.first >= 15 {
        flush(run.first - 1)
        parts.append("\(run.text) \(SeccompMap.key(run.answer))")
      } else {
        if mixedStart == nil { mixedStart = run.first }
        mixed[SeccompMap.key(run.answer), default: 0] += run.last - run.first + 1
      }
    }
    flush(map.numbers.count - 1)
    return parts.joined(separator: "; ")
  }

  public var json: JSONValue {
    guard let first = evaluations.first else { return .null }
    return [
      "schema": "culprit-profile-check",
      "version": 1,
      "profile": .string(first.path),
      "runtime": .string(first.runtime.rawValue),
      "libc": .string(libc.display),
      "breaks": .bool(breaksSomething),
      "warnings": .array(warnings.map { .string($0) }),
      "architectures": .array(
        zip(evaluations, results).map { evaluation, results in
          [
            "architecture": .string(evaluation.arch.rawValue),
            "instructions": .int(evaluation.program.count),
            "map": evaluation.map.json,
            "meaning": .array(evaluation.map.meaning().map { .string($0) }),
            "calls": .array(
              results.map { r in
                [
                  "id": .string(r.entry.id), "answer": .string(SyscallsProbe.answerText(r)),
                  "classification": .string(r.classification.rawValue), "impact": .string(r.impact.label),
                  "consequence": .from(r.consequence),
                ]
              }),
          ]
        }),
    ]
  }
}

/// Two profiles compared call by call: the numbers and calls whose answer changes, with where
/// each answer comes from (a rule, the default, runc's stub) and what the change breaks or fixes.
public struct ProfileDiff: Sendable {
  public var old: ProfileCheck
  public var new: ProfileCheck

  public struct Change: Sendable {
    public var arch: Architecture
    public var label: String
    public var number: Int?
    public var before: String
    public var after: String
    public var consequence: String?
    /// +1 the change breaks something, -1 it fixes something, 0 neither.
    public var effect: Int
  }

  public init(old: ProfileCheck, new: ProfileCheck) {
    self.old = old
    self.new = new
  }

  static func source(_ answer: OracleAnswer, number: Int, map: SeccompMap) -> String {
    let key = SeccompMap.key(answer)
    if let stub = map.stub, number >= stub.start, answer == .errno(.noFunction) { return "\(key) (stub)" }
    if answer == map.realDefault { return "\(key) (default)" }
    return "\(key) (rule)"
  }

  public var changes: [Change] {
    var out: [Change] = []
    for (a, b) in zip(old.evaluations, new.evaluations) where a.arch == b.arch {
      let oldResults = old.results[old.evaluations.firstIndex(where: { $0.arch == a.arch })!]
      let newResults = new.results[new.evaluations.firstIndex(where: { $0.arch == b.arch })!]
      for n in 0..<min(a.map.numbers.count, b.map.numbers.count) where a.map.numbers[n] != b.map.numbers[n] {
        let name = SeccompFilter.name(of: Int32(n), arch: a.arch.seccompToken)
        var consequence: String?
        var effect = 0
        if let name, let fallback = SeccompMap.enosysFallbacks.first(where: { $0.name == name }) {
          let okBefore = [.errno(.noFunction), .allowed].contains(a.map.numbers[n])
          let okAfter = [.errno(.noFunction), .allowed].contains(b.map.numbers[n])
          if okBefore && !okAfter { consequence = "breaks: " + fallback.who; effect = 1 }
          if !okBefore && okAfter { consequence = "fixes: " + fallback.who; effect = -1 }
        }
        if let oldResult = oldResults.first(where: { $0.entry.syscall.name == name && $0.entry.id == name }),
          let newResult = newResults.first(where: { $0.entry.id == oldResult.entry.id })
        {
          if newResult.impact > oldResult.impact { effect = 1; consequence = consequence ?? "breaks: " + (newResult.consequence ?? "") }
          if newResult.impact < oldResult.impact { effect = -1; consequence = consequence ?? "fixes: " + (oldResult.consequence ?? "") }
        }
        out.append(
          Change(
            arch: a.arch, label: name.map { "\($0) (\(n))" } ?? "\(n) (unassigned)", number: n,
            before: Self.source(a.map.numbers[n], number: n, map: a.map), after: Self.source(b.map.numbers[n], number: n, map: b.map),
            consequence: consequence, effect: effect))
      }
      for (va, vb) in zip(a.map.variants, b.map.variants) where va.label == vb.label && va.answer != vb.answer {
        out.append(Change(arch: a.arch, label: va.label, number: nil, before: SeccompMap.key(va.answer), after: SeccompMap.key(vb.answer), consequence: nil, effect: 0))
      }
    }
    return out
  }

  public var gotWorse: Bool { changes.contains { $0.effect > 0 } || new.breaks.count > old.breaks.count }

  public func render(_ format: OutputFormat) -> String {
    let changes = self.changes
    if format == .json {
      let value: JSONValue = [
        "schema": "culprit-profile-diff", "version": 1,
        "old": old.json, "new": new.json, "got_worse": .bool(gotWorse),
        "changes": .array(
          changes.map { c in
            [
              "architecture": .string(c.arch.rawValue), "call": .string(c.label), "number": .from(c.number),
              "before": .string(c.before), "after": .string(c.after), "consequence": .from(c.consequence),
            ]
          }),
      ]
      return value.serialized(pretty: true) + "\n"
    }
    let markdown = format == .markdown
    var out: [String] = []
    let oldPath = old.evaluations.first?.path ?? "", newPath = new.evaluations.first?.path ?? ""
    let head = "culprit profile diff \(oldPath) → \(newPath) — \(new.evaluations.first?.runtime.display ?? ""), \(new.libc.display)"
    out.append(markdown ? "## \(head)" : head)
    for (a, b) in zip(old.evaluations, new.evaluations) where a.arch == b.arch {
      out.append("")
      out.append(markdown ? "### \(a.arch.rawValue)" : "\(a.arch.rawValue):")
      let bullet = markdown ? "- " : "  "
      func stubText(_ m: SeccompMap) -> String {
        m.stub.map { "default \($0.realDefault), stub from \($0.start)" } ?? "default \(m.realDefault.map { "\($0)" } ?? "unknown"), no stub"
      }
      out.append(bullet + "before: \(stubText(a.map)); after: \(stubText(b.map))")
      let mine = changes.filter { $0.arch == a.arch }
      let important = mine.filter { $0.consequence != nil }
      for c in important { out.append(bullet + "\(c.label): \(c.before) → \(c.after): \(c.consequence!)") }
      let rest = mine.filter { $0.consequence == nil }
      if !rest.isEmpty {
        // Consecutive numbers with the same change read as one range.
        var groups: [(first: Change, last: Change, count: Int)] = []
        for change in rest {
          if let last = groups.last, let n = change.number, let m = last.last.number, n == m + 1,
            last.last.before == change.before, last.last.after == change.after
          {
            groups[groups.count - 1] = (last.first, change, last.count + 1)
          } else {
            groups.append((change, change, 1))
          }
        }
        let shown = groups.prefix(30).map { g -> String in
          if g.count == 1 { return "\(g.first.label) \(g.first.before) → \(g.first.after)" }
          return "\(g.first.number!)–\(g.last.number!) (\(g.count) numbers) \(g.first.before) → \(g.first.after)"
        }.joined(separator: "; ")
        out.append(bullet + "\(rest.count) other change(s): \(shown)\(groups.count > 30 ? "; …" : "")")
      }
      if mine.isEmpty { out.append(bullet + "no call's answer changes") }
    }
    out.append("")
    out.append(gotWorse ? "Result: the new profile breaks something the old one did not (exit 1)." : "Result: nothing got worse (exit 0).")
    return out.joined(separator: "\n") + "\n"
  }
}

extension SeccompMap {
  /// The answer the map's filter gives `call`: a number with no arguments reads the map; calls
  /// with arguments need the variants, or fall back to the number's answer when the map was
  /// read without them.
  func answer(for call: OracleCall) -> OracleAnswer {
    if let variant = variants.first(where: { $0.call == call }) { return variant.answer }
    guard call.number >= 0, call.number < numbers.count else { return .unavailable(.deadline) }
    return numbers[call.number]
  }
}
