/// A section another part of `culprit host` adds to the report (`--containers`,
/// `--reproduce cni`): its JSON under `node.<key>`, its text and Markdown appended after the
/// known bugs, and whether it makes the run fail (exit 1).
public struct HostSection: Sendable {
  /// The key under "node" in the JSON ("containers", "reproduce"); the schema's
  /// $defs/node must declare it.
  public var key: String
  public var json: JSONValue
  public var text: String
  public var markdown: String
  /// true when the section found something wrong (exit 1, as a matched bug).
  public var failed: Bool

  public init(key: String, json: JSONValue, text: String, markdown: String, failed: Bool = false) {
    self.key = key
    self.json = json
    self.text = text
    self.markdown = markdown
    self.failed = failed
  }
}

/// What `culprit host` reports: the stack found (with versions and evidence), the node's
/// kernel and security settings, the known-bug table checked against the stack, and the
/// sections other options add.
public struct HostReport: Sendable {
  public var host: HostInfo
  public var components: [HostComponent]
  public var system: HostSystem
  public var searched: HostDiscovery.Searched
  public var bugs: KnownBugCheck
  /// Things the reader must know to read it right (culprit runs in a container, /proc is
  /// missing).
  public var notes: [String]
  public var timeoutSeconds: Double
  public var durationMilliseconds: Int
  /// Optional sections, in order (`--containers`, `--reproduce`).
  public var sections: [HostSection]

  public init(
    host: HostInfo, components: [HostComponent], system: HostSystem, searched: HostDiscovery.Searched,
    bugs: KnownBugCheck, notes: [String] = [], timeoutSeconds: Double, durationMilliseconds: Int,
    sections: [HostSection] = []
  ) {
    self.host = host
    self.components = components
    self.system = system
    self.searched = searched
    self.bugs = bugs
    self.notes = notes
    self.timeoutSeconds = timeoutSeconds
    self.durationMilliseconds = durationMilliseconds
    self.sections = sections
  }

  /// Exit 1 when a known bug matched or a section failed.
  public var failed: Bool { !bugs.findings.isEmpty || sections.contains { $0.failed } }

  /// Reads the node: discovery, the system settings, the table. `timeoutSeconds` bounds each
  /// version command.
  public static func make(snapshot: Snapshot, timeoutSeconds: Double) -> HostReport {
    let started = Sys.monotonicNanoseconds()
    var notes: [String] = []
    if case .failure(let err) = Sys.lstat("/proc/self") {
      notes.append("/proc is not mounted here (/proc/self: \(err.name)): the kernel settings read from /proc are missing")
    }
    let discovered = HostDiscovery.discover(snapshot: snapshot, timeoutMilliseconds: Int(timeoutSeconds * 1000))
    let system = HostSystem.read(snapshot)
    if system.runningIn != "none" {
      notes.append(
        "culprit runs inside a container here (\(system.runningIn)): it sees the container's files, not the node's; run `culprit host` on the node itself")
    }
    let bugs = KnownBugCheck.check(discovered.components)
    return HostReport(
      host: snapshot.hostInfo, components: discovered.components, system: system, searched: discovered.searched,
      bugs: bugs, notes: notes, timeoutSeconds: timeoutSeconds,
      durationMilliseconds: Int((Sys.monotonicNanoseconds() - started) / 1_000_000))
  }

  // MARK: JSON

  /// The whole document: a culprit report (schemaVersion 1, no probes) with the "node"
  /// section ($defs/node in schema/report.schema.json).
  public var json: JSONValue {
    let report = Report(
      host: host, run: RunInfo(timeoutSeconds: timeoutSeconds, durationMilliseconds: durationMilliseconds), probes: [])
    guard case .object(var object) = report.json else { return report.json }
    object["node"] = nodeJSON
    return .object(object)
  }

  public var nodeJSON: JSONValue {
    var node: JSONObject = [
      "components": .array(components.map(\.json)),
      "system": system.json,
      "knownBugs": bugs.json,
      "searched": [
        "binDirectories": .from(searched.binDirectories), "cniDirectories": .from(searched.cniDirectories),
        "configs": .from(searched.configs),
      ],
      "notes": .from(notes),
    ]
    for section in sections { node[section.key] = section.json }
    return .object(node)
  }
}

extension HostComponent {
  public var json: JSONValue {
    var build: JSONValue = .null
    if let info = buildInfo {
      let stamp = info.linkerValue(endingWith: kind.linkerVersionVariables)
      build = [
        "goVersion": .string(info.goVersion),
        "path": .from(info.path),
        "mainModule": .from(info.main?.path),
        "mainVersion": .from(info.main?.version),
        "ldflagsVersion": stamp.map { JSONValue.string("\($0.name)=\($0.value)") } ?? .null,
        "dependencies": .array(
          info.dependencies.map {
            ["path": .string($0.path), "version": .string($0.version), "replacement": .from($0.replacement.map { "\($0.path) \($0.version)" })]
          }),
        "location": .string(info.location),
      ]
    }
    var run: JSONValue = .null
    if let r = versionRun {
      run = [
        "command": .from(r.argv), "exitStatus": .from(r.exitStatus.map(Int.init)),
        "signal": .from(r.signal.map(signalName)), "timedOutAfterMs": .from(r.timedOutAfterMilliseconds),
        "execError": .from(r.execError?.name), "notRun": .from(r.plumbingError), "output": .string(r.output),
      ]
    }
    var factsObject = JSONObject()
    for key in facts.keys.sorted() { factsObject[key] = .string(facts[key]!) }
    return [
      "component": .string(kind.rawValue),
      "path": .string(path),
      "target": .from(target),
      "version": .from(version),
      "normalizedVersion": .from(parsedVersion?.normalized),
      "versionSource": .from(versionSource?.rawValue),
      "evidence": .from(evidence),
      "versionCommand": run,
      "goBuildInfo": build,
      "buildInfoProblem": .from(buildInfoProblem),
      "package": .from(package),
      "facts": .object(factsObject),
    ]
  }
}

extension HostSystem {
  public var json: JSONValue {
    var sysctls = JSONObject()
    for (name, value) in userNamespaceSysctls { sysctls[name] = .string(value) }
    return [
      "kernel": .from(kernelRelease),
      "cgroup": .from(cgroupMode),
      "cgroupEvidence": .from(cgroupEvidence),
      "yamaPtraceScope": .from(yamaScope),
      "yamaPresent": .from(yamaPresent),
      "appArmorEnabled": .from(appArmorEnabled),
      "appArmorProfilesLoaded": .from(appArmorProfilesLoaded),
      "seLinuxEnforcing": .from(seLinuxEnforcing),
      "lsm": lsmActive.map(JSONValue.from) ?? .null,
      "userNamespaceSysctls": .object(sysctls),
      "runningIn": .string(runningIn),
      "evidence": .from(yamaEvidence + lsmEvidence),
    ]
  }
}

extension KnownBugCheck {
  public var json: JSONValue {
    [
      "findings": .array(findings.map(\.json)),
      "checked": .array(
        table.map { bug in
          let rows = results.filter { $0.bug.id == bug.id }
          return [
            "bug": .string(bug.id),
            "component": .string(bug.component.rawValue),
            "title": .string(bug.title),
            "affected": .string(bug.affectedText),
            "result": .string(
              rows.isEmpty ? "not-installed" : rows.contains { $0.verdict == .affected } ? "affected"
                : rows.contains { $0.verdict == .versionUnknown } ? "version-unknown" : "not-affected"),
            "found": .array(
              rows.map {
                ["path": .string($0.component.path), "version": .from($0.component.version), "verdict": .string($0.verdict.rawValue), "reason": .string($0.reason)]
              }),
          ]
        }),
    ]
  }
}

extension BugFinding {
  public var json: JSONValue {
    [
      "bug": .string(bug.id),
      "component": .string(bug.component.rawValue),
      "path": .string(component.path),
      "version": .from(component.version),
      "layer": .string(bug.layer),
      "scope": .string(bug.scope),
      "title": .string(bug.title),
      "symptom": .string(bug.symptom),
      "mechanism": .string(bug.mechanism),
      "fix": .string(bug.fix),
      "fixedIn": .string(bug.fixedIn),
      "evidence": .from([reason] + component.evidence),
      "sources": .from(bug.sources),
    ]
  }
}
