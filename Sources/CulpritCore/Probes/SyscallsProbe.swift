/// `syscalls`: reads the seccomp profile from the inside. A filtered process cannot dump its
/// own filter (PTRACE_SECCOMP_GET_FILTER refuses it, field-facts §2.3), so the sweep asks it,
/// call by call, with arguments the kernel rejects early and without side effects (the table in
/// SyscallTable.swift), and classifies each answer.
///
/// The calls run in a grandchild with a SIGSYS handler that records a TRAP and lets the call
/// return; a KILL ends the grandchild, the shared page names the call it was in, and a new
/// grandchild goes on from the next call. So a whole allow-list runs in one process, and a
/// filter that kills on every call needs one process per killing call.
public struct SyscallsProbe: Probe {
  public init() {}
  public let id = "syscalls"
  public let title = "Seccomp syscall sweep"
  public let abstract =
    "Asks the seccomp filter about clone3, faccessat2, openat2, io_uring, bpf, socket families and 30 more calls, and fingerprints its default action"
  public let isolation = Isolation.child(budgetMilliseconds: 3000)

  /// A call the sweep makes: a table entry, or one of the two fingerprint numbers.
  struct Call {
    var number: Int
    var invocation: SweepEntry.Invocation
    var text: String
  }

  /// What the sweep found, before classification.
  struct Sweep: Sendable {
    var outcomes: [SweepOutcome]
    /// Grandchildren used (0 when the calls ran in the probe's own child).
    var children: Int
    /// fork's errno when no grandchild could be made.
    var forkError: Errno?
    var elapsedMicroseconds: Int
  }

  /// What the probe's child saw: the sweep's calls and their answers, the oracle's exact map
  /// (nil when it was not asked), and the environment read in the same child.
  public struct Observations: Sendable {
    var sweep: Sweep
    var oracle: OracleBatch?
    var env: SweepEnvironment
  }

  public func run(_ context: ProbeContext) -> ProbeResult {
    guard let arch = Architecture.native else {
      return verdict(.skipped, "The syscall sweep knows the numbers of x86_64 and aarch64 only; this is \(context.snapshot.machine).")
    }
    let observations = observe(context, arch: arch)
    return SyscallsProbe.judge(
      self, observations, profile: context.options.seccompProfile, notes: context.options.seccompProfileNotes)
  }

  /// The calls: the sweep (kernel-answer discriminators, the fallback and cross-check), then
  /// the exact oracle over every number and the argument-dependent calls.
  func observe(_ context: ProbeContext, arch: Architecture) -> Observations {
    var calls: [Call] = []
    for entry in SyscallSweep.table {
      guard let number = entry.syscall.number(on: arch) else { continue }
      calls.append(Call(number: number, invocation: entry.invocation, text: entry.call))
    }
    calls.append(Call(number: SyscallSweep.unassignedNumber, invocation: .raw { _ in [] }, text: "syscall(\(SyscallSweep.unassignedNumber)) /* unassigned */"))
    calls.append(Call(number: SyscallSweep.aboveEveryProfileNumber, invocation: .raw { _ in [] }, text: "syscall(\(SyscallSweep.aboveEveryProfileNumber)) /* above every assigned number */"))
    let env = environment(context, arch: arch)
    let sweep = runSweep(calls, context: context)
    var oracle: OracleBatch?
    let budget = min(context.remainingMilliseconds - 100, 1500)
    // With no filter at all (PR_GET_SECCOMP 0) every call reaches the kernel: nothing to ask.
    if budget > 50 && env.filterInstalled != false {
      context.step("the seccomp oracle: every syscall number 0–\(SeccompMap.upperBound) and \(SeccompMap.variants(arch: arch).count) calls with arguments")
      oracle = SeccompOracle.ask(SeccompMap.calls(arch: arch), deadline: context.deadline(inMilliseconds: budget))
    }
    return Observations(sweep: sweep, oracle: oracle, env: env)
  }

  /// The verdict, from the observations alone.
  static func judge(_ probe: SyscallsProbe, _ observations: Observations, profile: String?, notes: [String]) -> ProbeResult {
    let entries = SyscallSweep.table.filter { observations.env.arch.flatMap($0.syscall.number(on:)) != nil }
    let outcomes = observations.sweep.outcomes
    var results: [SweepResult] = []
    for (index, entry) in entries.enumerated() where index < outcomes.count {
      results.append(SyscallSweep.classify(entry, outcomes[index], in: observations.env))
    }
    let unassigned = entries.count < outcomes.count ? outcomes[entries.count] : .notRun
    let above = entries.count + 1 < outcomes.count ? outcomes[entries.count + 1] : .notRun
    var map: SeccompMap?
    // A map only from answers the filter gave: bypassed numbers are answered without asking.
    let asked: (OracleAnswer) -> Bool = { answer in
      switch answer {
      case .unavailable, .bypassesSeccomp: return false
      default: return true
      }
    }
    if let batch = observations.oracle, batch.answers.contains(where: asked),
      let arch = observations.env.arch, batch.answers.count == SeccompMap.calls(arch: arch).count
    {
      map = SeccompMap(arch: arch, answers: batch.answers)
    }
    return verdict(
      probe, results: results, unassigned: unassigned, above: above, env: observations.env, sweep: observations.sweep,
      profile: profile, notes: notes, map: map, oracle: observations.oracle)
  }

  /// Reads what classification needs: the seccomp mode as this child sees it (a what-if profile
  /// is installed by now), the gates' sysctls, capabilities, the image's libc.
  func environment(_ context: ProbeContext, arch: Architecture) -> SweepEnvironment {
    var sysctls: [KernelGate: Int] = [:]
    for gate in KernelGate.allCases {
      if let value = context.snapshot.source.readLine(gate.path).flatMap({ Int($0.trimmed()) }) { sysctls[gate] = value }
    }
    let mode = Sys.prctl(KernelQueries.prGetSeccomp).value
    return SweepEnvironment(
      arch: arch, kernel: context.snapshot.kernelVersion, filterInstalled: mode.map { $0 != 0 },
      sysctls: sysctls, capabilities: context.snapshot.capabilities.value?.effective,
      libc: context.snapshot.libc, machine: context.snapshot.machine)
  }

  // MARK: Running the calls

  /// Per call in the shared results: state, value, data.
  static let slots = 3
  static let stateReturned: Int64 = 1, stateFailed: Int64 = 2, stateTrapped: Int64 = 3

  func runSweep(_ calls: [Call], context: ProbeContext) -> Sweep {
    let started = Sys.monotonicNanoseconds()
    var outcomes = [SweepOutcome](repeating: .notRun, count: calls.count)
    let bytes = calls.count * SyscallsProbe.slots * 8
    guard case .success(let raw) = Sys.mapShared(bytes: bytes) else {
      // Without shared memory, run in this child: a kill is then attributed by the runner to
      // the step announced last.
      return runInProcess(calls, context: context, started: started, forkError: nil)
    }
    defer { Sys.unmap(raw, bytes: bytes) }
    let shared = raw.bindMemory(to: Int64.self, capacity: calls.count * SyscallsProbe.slots)
    let pointers = SweepPointers.shared
    var start = 0
    var children = 0
    var forkError: Errno?
    // The core-dump guard is a setrlimit and a prctl, which a profile could kill: then the
    // next child goes without it.
    var guardCoreDumps = true
    while start < calls.count {
      context.step("fork() of the sweep's child \(children + 1), to make calls from \(calls[start].text) on")
      let deadline = context.deadline(inMilliseconds: 1000)
      let from = start
      let guarded = guardCoreDumps
      let spawned = Children.spawn(deadline: deadline) { channel in
        if guarded {
          channel.setScratch(0, -1)
          channel.step("setrlimit(RLIMIT_CORE, 0) and prctl(PR_SET_DUMPABLE, 0) before the sweep")
          SyscallsProbe.prepareSweepProcess()
        }
        channel.continueAfterTraps()
        for index in from..<calls.count {
          if Sys.monotonicNanoseconds() >= deadline { break }
          channel.setScratch(0, Int64(index + 1))
          channel.step(calls[index].text)
          let trapsBefore = channel.traps.count
          let result = SyscallsProbe.perform(calls[index], pointers)
          let traps = channel.traps
          let slot = shared + index * SyscallsProbe.slots
          if traps.count != trapsBefore {
            slot[1] = Int64(traps.syscall)
            slot[2] = Int64(traps.data)
            slot[0] = SyscallsProbe.stateTrapped
          } else {
            switch result {
            case .success(let value):
              slot[1] = Int64(value)
              slot[0] = SyscallsProbe.stateReturned
            case .failure(let err):
              slot[1] = Int64(err.rawValue)
              slot[0] = SyscallsProbe.stateFailed
            }
          }
        }
        channel.setScratch(0, 0)
        return []
      }
      guard case .success(let child) = spawned else {
        forkError = spawned.failure
        break
      }
      children += 1
      let outcome = Children.collect([child])[0]
      let position = Int(child.channel.scratch(0))
      for index in from..<calls.count {
        let slot = shared + index * SyscallsProbe.slots
        switch slot[0] {
        case SyscallsProbe.stateReturned: outcomes[index] = .returned(Int(slot[1]))
        case SyscallsProbe.stateFailed: outcomes[index] = .failed(Errno(rawValue: Int32(truncatingIfNeeded: slot[1])))
        case SyscallsProbe.stateTrapped: outcomes[index] = .trapped(data: Int32(truncatingIfNeeded: slot[2]))
        default: break
        }
      }
      if position == -1, guarded, case .signaled = outcome.ending {
        guardCoreDumps = false
        continue
      }
      // The child ended inside call `position - 1`, or between calls (position 0).
      guard position > 0, position - 1 >= from else { break }
      switch outcome.ending {
      case .signaled(let signal, _): outcomes[position - 1] = .killed(signal: signal)
      case .timedOut: outcomes[position - 1] = .timedOut
      case .trapped(let trap, _): outcomes[position - 1] = .trapped(data: trap.data)
      case .exited: break
      }
      start = position
      if context.remainingMilliseconds == 0 { break }
    }
    if let forkError, start < calls.count, children == 0 {
      return runInProcess(calls, context: context, started: started, forkError: forkError)
    }
    return Sweep(
      outcomes: outcomes, children: children, forkError: forkError,
      elapsedMicroseconds: Int((Sys.monotonicNanoseconds() - started) / 1000))
  }

  /// The calls made from the probe's own child, when no grandchild can be made: a TRAP is
  /// still recorded, but a KILL ends the probe, which the runner then attributes to the step.
  func runInProcess(_ calls: [Call], context: ProbeContext, started: UInt64, forkError: Errno?) -> Sweep {
    context.channel?.continueAfterTraps()
    let pointers = SweepPointers.shared
    var outcomes = [SweepOutcome](repeating: .notRun, count: calls.count)
    for (index, call) in calls.enumerated() {
      if context.remainingMilliseconds == 0 { break }
      context.step(call.text)
      let before = context.channel?.traps.count ?? 0
      let result = SyscallsProbe.perform(call, pointers)
      if let traps = context.channel?.traps, traps.count != before {
        outcomes[index] = .trapped(data: traps.data)
        continue
      }
      switch result {
      case .success(let value): outcomes[index] = .returned(value)
      case .failure(let err): outcomes[index] = .failed(err)
      }
    }
    return Sweep(
      outcomes: outcomes, children: 0, forkError: forkError,
      elapsedMicroseconds: Int((Sys.monotonicNanoseconds() - started) / 1000))
  }

  /// No core dump from a killed sweep child: RLIMIT_CORE 0 and PR_SET_DUMPABLE 0 (a piped
  /// core_pattern ignores the rlimit).
  static func prepareSweepProcess() {
    _ = Sys.setRLimit(4 /* RLIMIT_CORE */, 0)
    _ = Sys.prctl(4 /* PR_SET_DUMPABLE */, 0)
  }

  static func perform(_ call: Call, _ pointers: SweepPointers) -> Result<Int, Errno> {
    switch call.invocation {
    case .raw(let arguments): return Sys.raw(call.number, arguments(pointers))
    case .clone3: return Sys.sweepClone3()
    case .cloneLegacy(let flags): return Sys.sweepCloneLegacy(flags: flags)
    }
  }
}

// MARK: The verdict

extension SyscallsProbe {
  static func verdict(
    _ probe: SyscallsProbe, results: [SweepResult], unassigned: SweepOutcome, above: SweepOutcome,
    env: SweepEnvironment, sweep: Sweep, profile: String?, notes: [String] = [], map: SeccompMap? = nil,
    oracle: OracleBatch? = nil
  ) -> ProbeResult {
    var evidence: [String] = []
    if let profile {
      evidence.append("What-if mode: the calls ran in a child under the seccomp profile \(profile), installed the way runc does.")
    }
    evidence += notes
    switch env.filterInstalled {
    case true?: evidence.append("prctl(PR_GET_SECCOMP) in the sweep's process returned 2: a seccomp filter is installed.")
    case false?: evidence.append("prctl(PR_GET_SECCOMP) in the sweep's process returned 0: no seccomp filter, so every answer is the kernel's.")
    case nil: evidence.append("prctl(PR_GET_SECCOMP) failed, so whether a filter is installed is not known.")
    }

    // Default action and the runc stub.
    let fingerprint = SyscallSweep.defaultAction(unassigned, filterInstalled: env.filterInstalled)
    evidence.append(
      "syscall(\(SyscallSweep.unassignedNumber)), a number no kernel assigns, \(unassigned.said): default action \(fingerprint.meaning).")
    var stub: Bool?
    if env.filterInstalled != false, case .failed(let low) = unassigned, low != .noFunction {
      if case .failed(.noFunction) = above {
        stub = true
        evidence.append(
          "syscall(\(SyscallSweep.aboveEveryProfileNumber)) failed with ENOSYS while syscall(\(SyscallSweep.unassignedNumber)) got \(low.name): calls numbered above the profile's highest named syscall answer ENOSYS, as runc's -ENOSYS stub (runc ≥ 1.0.0-rc93) does; calls below it that the profile does not name get \(low.name).")
      } else {
        stub = false
        evidence.append("syscall(\(SyscallSweep.aboveEveryProfileNumber)) \(above.said) too: no -ENOSYS stub for numbers above the profile's syscalls (not runc ≥ 1.0.0-rc93, or a profile without architectures).")
      }
    }

    // The exact map, when the oracle could ask.
    if let map {
      evidence += map.meaning()
      if let stubFromMap = map.stub {
        stub = true
        _ = stubFromMap
      } else if map.realDefault != nil, map.realDefault != .errno(.noFunction) {
        stub = false
      }
      // Cross-check: the sweep's verdict against the oracle's for the same exact call.
      if let arch = env.arch {
        var disagreements: [String] = []
        for result in results {
          guard let call = SyscallSweep.oracleCall(result.entry, arch: arch, pointers: .placeholders) else { continue }
          let answer = map.answer(for: call)
          let sweepSaysAllowed = result.classification == .allowed || result.classification == .absent || result.classification == .kernelRefused
          switch answer {
          case .allowed, .bypassesSeccomp: if !sweepSaysAllowed && result.classification != .notRun { disagreements.append("\(result.entry.id) (sweep: \(result.classification.rawValue), oracle: allowed)") }
          case .errno(let e):
            if case .failed(let got) = result.outcome, got != e { disagreements.append("\(result.entry.id) (sweep: \(got.name), oracle: \(e.name))") }
          default: break
          }
        }
        if disagreements.isEmpty {
          evidence.append("The sweep's \(results.count) calls agree with the oracle's answers for the same calls.")
        } else {
          evidence.append("The sweep and the oracle disagree on \(disagreements.joined(separator: ", ")); the oracle's answer is the filter's, the sweep's may be the kernel's or an LSM's.")
        }
      }
    } else if let oracle, let why = oracle.unavailable {
      evidence.append("The exact oracle (SECCOMP_RET_USER_NOTIF) could not ask the filter: \(why); the answers below come from the kernel-answer discriminators only.")
    }

    // One sentence per call the kernel did not answer itself; one for those it did.
    let allowed = results.filter { $0.classification == .allowed }
    if !allowed.isEmpty {
      evidence.append("\(allowed.count) of \(results.count) calls reached the kernel and got its own answer: \(allowed.map(\.entry.id).joined(separator: ", ")).")
    }
    for result in results where result.classification != .allowed {
      var sentence = result.evidence
      if let consequence = result.consequence { sentence += " " + consequence }
      evidence.append(sentence)
    }
    if sweep.children > 1 {
      evidence.append("The sweep needed \(sweep.children) child processes: each KILL ended one, and the next went on from the following call.")
    }
    if let err = sweep.forkError {
      evidence.append(
        sweep.children == 0
          ? "No child process could be made for the sweep (fork failed with \(err.name)), so the calls ran in the probe's own process."
          : "fork failed with \(err.name) after \(sweep.children) sweep children; the calls after that were not made.")
    }

    let notMade = results.filter { $0.classification == .notRun }
    if notMade.count == results.count {
      return probe.verdict(
        .skipped, "The sweep could not make its calls", evidence: evidence,
        facts: ["syscalls": .array(results.map(resultJSON)), "children": .int(sweep.children)])
    }
    let worst = results.map(\.impact).max() ?? .none
    let hurting = results.filter { $0.impact == worst && worst > .none }
    let filtered = results.filter {
      [.filteredENOSYS, .filteredEPERM, .filtered, .killed, .trapped].contains($0.classification)
    }
    let status: Status
    var summary: String
    var hint: String?
    switch worst {
    case .blocked, .degraded:
      status = worst == .blocked ? .blocked : .degraded
      var groups: [(answer: String, names: [String])] = []
      for result in hurting {
        let answer = answerText(result)
        if let index = groups.firstIndex(where: { $0.answer == answer }) {
          groups[index].names.append(result.entry.id)
        } else {
          groups.append((answer, [result.entry.id]))
        }
      }
      let said = groups.map { group -> String in
        let names = group.names.count == 1 ? group.names[0] : group.names.dropLast().joined(separator: ", ") + " and " + group.names.last!
        switch group.answer {
        case "killed": return "kills \(names)"
        case "trapped": return "traps \(names)"
        default: return "answers \(names) with \(group.answer)"
        }
      }.joined(separator: "; ")
      let them = hurting.count == 1 ? "it" : "them"
      let who: String
      if worst == .blocked {
        who = "which \(env.libc.display), this image's libc, calls with no fallback for that answer"
      } else if hurting.allSatisfy({ $0.classification == .killed }) {
        who = "so any program that calls \(them) dies (SIGSYS)"
      } else if hurting.allSatisfy({ $0.classification == .trapped }) {
        who = "so any program that calls \(them) gets SIGSYS, which ends it unless it handles the signal"
      } else {
        who = "which defeats the fallback of the programs that call \(them)"
      }
      summary = "Seccomp \(said), \(who)"
      if let map, let stubbed = map.stub,
        let broken = map.brokenFallbacks.first(where: { b in hurting.contains { $0.entry.id == b.name } && b.number < stubbed.start })
      {
        summary += "; runc's -ENOSYS stub starts above \(stubbed.start - 1), the highest call the profile names, past \(broken.name) (\(broken.number)), so \(broken.name) falls to the profile's default \(stubbed.realDefault)"
      }
      hint = fixHint(hurting)
    case .none:
      status = .ok
      if filtered.isEmpty && notMade.isEmpty {
        summary = "All \(results.count) calls reached the kernel" + (env.filterInstalled == true ? " (the filter lets them through)" : "")
      } else {
        let unknown: String
        switch fingerprint.verdict {
        case "errno-eperm": unknown = "unknown syscalls get EPERM (Docker-like allow-list)"
        case "enosys": unknown = "unknown syscalls get ENOSYS (Podman-like, or no allow-list)"
        case "kill": unknown = "unknown syscalls are killed"
        case "trap": unknown = "unknown syscalls are trapped"
        case let v where v.hasPrefix("errno-"): unknown = "unknown syscalls get \(v.dropFirst(6).uppercased())"
        default: unknown = "the default action could not be seen"
        }
        summary = "\(filtered.count) of \(results.count) calls are filtered, each with an answer its callers handle; \(unknown)"
        if let map, let stubbed = map.stub {
          summary = "\(filtered.count) of \(results.count) calls are filtered, each with an answer its callers handle; the profile's default is \(stubbed.realDefault), and numbers from \(stubbed.start) up get ENOSYS from runc's -ENOSYS stub"
          if let clone3 = map.stubRescues.first(where: { $0.name == "clone3" }) {
            summary += "; threads work only because of it: clone3 (\(clone3.number)) gets ENOSYS from the stub since the profile names nothing above \(stubbed.start - 1), and a profile that adds any call above \(clone3.number) turns it into \(stubbed.realDefault)"
            hint = "Add clone3 → SCMP_ACT_ERRNO with errnoRet 38 to the profile ({\"names\": [\"clone3\"], \"action\": \"SCMP_ACT_ERRNO\", \"errnoRet\": 38}), so threads keep working when the profile names newer calls (Concourse 7.13.0-rc added faccessat2 and openat2 and every thread failed; 7.13.0 added this rule). Check a profile change before it ships with culprit profile diff OLD NEW."
          } else if !map.stubRescues.isEmpty {
            summary += "; \(map.stubRescues.map(\.name).joined(separator: ", ")) get ENOSYS only from the stub"
          }
        } else if let map, let d = map.realDefault {
          let key = SeccompMap.key(d)
          summary = "\(filtered.count) of \(results.count) calls are filtered, each with an answer its callers handle; numbers the profile does not name get \(key)" + (key == "ENOSYS" ? " (its default, as Podman's profile has)" : " and no -ENOSYS stub shows")
        }
      }
    }

    if !notMade.isEmpty {
      summary += " (\(notMade.count) of \(results.count) calls not made: \(notMade.map(\.entry.id).joined(separator: ", ")))"
    }
    var counts: JSONObject = [:]
    for c in SweepClassification.allCases {
      let n = results.filter { $0.classification == c }.count
      if n > 0 { counts[c.rawValue] = .int(n) }
    }
    let facts: JSONObject = [
      "architecture": .from(env.arch?.rawValue),
      "kernel_version": .from(env.kernel?.description),
      "filter_installed": .from(env.filterInstalled),
      "what_if_profile": .from(profile),
      "default_action": [
        "number": .int(SyscallSweep.unassignedNumber),
        "result": outcomeJSON(unassigned),
        "verdict": .string(fingerprint.verdict),
        "meaning": .string(fingerprint.meaning),
      ],
      "enosys_stub": [
        "number": .int(SyscallSweep.aboveEveryProfileNumber),
        "result": outcomeJSON(above),
        "present": .from(stub),
      ],
      "counts": .object(counts),
      "syscalls": .array(results.map(resultJSON)),
      "children": .int(sweep.children),
      "sweep_us": .int(sweep.elapsedMicroseconds),
      "filter_map": map?.json ?? .null,
      "oracle": oracle.map { batch -> JSONValue in
        [
          "available": .bool(map != nil), "unavailable": batch.unavailable.map { .string($0.description) } ?? .null,
          "children": .int(batch.children), "notifications": .int(batch.notifications), "us": .int(batch.elapsedMicroseconds),
        ]
      } ?? .null,
    ]
    return probe.verdict(status, layer: status == .ok ? nil : .seccomp, summary, evidence: evidence, hint: hint, facts: facts)
  }

  static func answerText(_ result: SweepResult) -> String {
    switch result.outcome {
    case .failed(let err): return err.name
    case .killed: return "killed"
    case .trapped: return "trapped"
    default: return result.classification.rawValue
    }
  }

  /// The concrete fix: the profile entries to add, and the runtime versions that have them.
  static func fixHint(_ results: [SweepResult]) -> String {
    let names = results.map(\.entry.syscall.name)
    let unique = names.reduce(into: [String]()) { if !$0.contains($1) { $0.append($1) } }
    let quoted = unique.map { "\"\($0)\"" }.joined(separator: ", ")
    var hint = "In the seccomp profile, answer [\(quoted)] with ENOSYS so callers fall back, or allow them: {\"names\": [\(quoted)], \"action\": \"SCMP_ACT_ERRNO\", \"errnoRet\": 38} (or \"action\": \"SCMP_ACT_ALLOW\")."
    if unique.contains("clone3") { hint += " Docker ≥ 20.10.10 and containerd ≥ 1.5.6 / 1.4.10 (containerd#5982) already answer clone3 with ENOSYS; Concourse fixed it in 7.13 (concourse#9173)." }
    if unique.contains("faccessat2") { hint += " Docker ≥ 20.10.0 (with libseccomp ≥ 2.4.4) allows faccessat2." }
    hint += " To confirm, rerun with --security-opt seccomp=unconfined (Kubernetes: securityContext.seccompProfile.type: Unconfined), or test a profile here with culprit --seccomp-profile FILE."
    return hint
  }

  static func outcomeJSON(_ outcome: SweepOutcome) -> JSONValue {
    var object: JSONObject = ["return": .null, "errno": .null, "signal": .null, "trap_data": .null]
    switch outcome {
    case .returned(let value): object["return"] = .int(value)
    case .failed(let err): object["errno"] = .string(err.name)
    case .trapped(let data): object["signal"] = "SIGSYS"; object["trap_data"] = .int(Int(data))
    case .killed(let signal): object["signal"] = .string(signalName(signal))
    case .timedOut, .notRun: break
    }
    return .object(object)
  }

  static func resultJSON(_ result: SweepResult) -> JSONValue {
    let entry = result.entry
    return [
      "id": .string(entry.id),
      "syscall": .string(entry.syscall.name),
      "number": .from(Architecture.native.flatMap(entry.syscall.number(on:))),
      "call": .string(entry.call),
      "result": outcomeJSON(result.outcome),
      "classification": .string(result.classification.rawValue),
      "kernel_answer": .array(entry.kernelErrnos.map { .string($0.name) } + (entry.kernelMaySucceed ? ["success"] : [])),
      "first_kernel": .string(entry.firstKernel(on: Architecture.native).description),
      "need": .string(entry.need.label),
      "fallback": .string(entry.fallback.rawValue),
      "impact": .string(result.impact.label),
      "consequence": .from(result.consequence),
      "sysctl": result.gate.map { ["name": .string($0.0.rawValue), "value": .int($0.1)] } ?? .null,
    ]
  }
}
