/// How a probe came out.
public enum Status: String, CaseIterable, Sendable {
  /// It works.
  case ok
  /// It works, but only in part or with a real consequence.
  case degraded
  /// It does not work.
  case blocked
  /// It could not be tested; the summary says why.
  case skipped
  /// The probe itself failed: a bug in culprit.
  case error
  /// A probe that only reports facts.
  case info

  /// Rank for `--fail-on`: degraded 1, blocked 2, everything else 0.
  public var severity: Int {
    switch self {
    case .degraded: return 1
    case .blocked: return 2
    case .ok, .skipped, .error, .info: return 0
    }
  }
}

/// The layer a degraded or blocked verdict blames.
public enum Layer: String, CaseIterable, Sendable {
  case seccomp, capabilities, yama, lsm
  case cgroupDevices = "cgroup-devices"
  case cgroupPids = "cgroup-pids"
  case userns, mount, rlimit, kernel, network
  case resolverConfig = "resolver-config"
  /// The HTTP(S) proxy the environment names (http_proxy, https_proxy, all_proxy).
  case proxy
  case unknown
}

/// One probe's verdict: what it found, the layer to blame, the observations that decided it,
/// the fix, and machine-readable facts.
public struct ProbeResult: Equatable, Sendable {
  public var id: String
  public var title: String
  public var status: Status
  /// Set for degraded and blocked verdicts only (`normalized()` enforces it).
  public var layer: Layer?
  public var summary: String
  /// Sentences a person can check: the call made and what it returned, the file and the value.
  public var evidence: [String]
  /// The concrete fix, or nil.
  public var hint: String?
  public var facts: JSONObject

  public init(
    id: String, title: String, status: Status, layer: Layer? = nil, summary: String,
    evidence: [String] = [], hint: String? = nil, facts: JSONObject = [:]
  ) {
    self.id = id
    self.title = title
    self.status = status
    self.layer = layer
    self.summary = summary
    self.evidence = evidence
    self.hint = hint
    self.facts = facts
  }

  /// The contract: degraded and blocked name a layer (`unknown` when none was shown); every
  /// other status has none.
  public func normalized() -> ProbeResult {
    var copy = self
    switch status {
    case .degraded, .blocked: if copy.layer == nil { copy.layer = .unknown }
    default: copy.layer = nil
    }
    return copy
  }

  public var json: JSONValue {
    [
      "id": .string(id),
      "title": .string(title),
      "status": .string(status.rawValue),
      "layer": .from(layer?.rawValue),
      "summary": .string(summary),
      "evidence": .from(evidence),
      "hint": .from(hint),
      "facts": .object(facts),
    ]
  }

  /// Reads a probe object of the JSON contract.
  public init(json: JSONValue) throws(ContractError) {
    guard case .object(let object) = json else { throw ContractError("a probe is not an object") }
    func string(_ key: String) throws(ContractError) -> String {
      guard let s = object[key]?.stringValue else { throw ContractError("probe field \"\(key)\" is not a string") }
      return s
    }
    let statusText = try string("status")
    guard let status = Status(rawValue: statusText) else { throw ContractError("unknown status \"\(statusText)\"") }
    var layer: Layer?
    if let layerText = object["layer"]?.stringValue {
      guard let parsed = Layer(rawValue: layerText) else { throw ContractError("unknown layer \"\(layerText)\"") }
      layer = parsed
    }
    guard let evidence = object["evidence"]?.arrayValue?.compactMap(\.stringValue) else {
      throw ContractError("probe field \"evidence\" is not a list of strings")
    }
    self.init(
      id: try string("id"), title: try string("title"), status: status, layer: layer,
      summary: try string("summary"), evidence: evidence, hint: object["hint"]?.stringValue,
      facts: object["facts"]?.objectValue ?? [:])
  }
}

/// A report or probe that does not follow the JSON contract.
public struct ContractError: Error, CustomStringConvertible, Equatable {
  public var description: String
  public init(_ description: String) { self.description = description }
}

/// The machine the report was made on, as the header of every format shows it.
public struct HostInfo: Equatable, Sendable {
  public var kernelRelease: String
  public var machine: String
  public var hostname: String
  /// docker, podman, kubernetes, …, container, none.
  public var runtime: String
  /// "glibc 2.36", "musl 1.2.4", "none".
  public var libc: String
  public var uid: UInt32
  public var gid: UInt32

  public init(kernelRelease: String, machine: String, hostname: String, runtime: String, libc: String, uid: UInt32, gid: UInt32) {
    self.kernelRelease = kernelRelease
    self.machine = machine
    self.hostname = hostname
    self.runtime = runtime
    self.libc = libc
    self.uid = uid
    self.gid = gid
  }

  public var json: JSONValue {
    [
      "kernel": .string(kernelRelease), "machine": .string(machine), "hostname": .string(hostname),
      "runtime": .string(runtime), "libc": .string(libc), "uid": .int(Int(uid)), "gid": .int(Int(gid)),
    ]
  }

  /// Reads the host object; a uid or gid outside 0...2^32-1 reads as 0 here (never a trap):
  /// `Report(validating:)` refuses it against the schema first, naming the field.
  init(json: JSONValue) {
    func s(_ key: String) -> String { json[key]?.stringValue ?? "" }
    self.init(
      kernelRelease: s("kernel"), machine: s("machine"), hostname: s("hostname"), runtime: s("runtime"),
      libc: s("libc"), uid: HostInfo.id(json["uid"]) ?? 0, gid: HostInfo.id(json["gid"]) ?? 0)
  }
}

/// How the run was made: the options that change what the report means.
public struct RunInfo: Equatable, Sendable {
  public var timeoutSeconds: Double
  /// The probes asked for with --only, or nil for all.
  public var only: [String]?
  /// The what-if profile the probes ran under (--seccomp-profile), or nil.
  public var seccompProfile: String?
  /// Wall time of the run in milliseconds.
  public var durationMilliseconds: Int
  /// Whether the runner could create child processes; when false, risky probes were skipped.
  public var forkWorked: Bool

  public init(timeoutSeconds: Double, only: [String]? = nil, seccompProfile: String? = nil, durationMilliseconds: Int = 0, forkWorked: Bool = true) {
    self.timeoutSeconds = timeoutSeconds
    self.only = only
    self.seccompProfile = seccompProfile
    self.durationMilliseconds = durationMilliseconds
    self.forkWorked = forkWorked
  }

  public var json: JSONValue {
    [
      "timeoutSeconds": .double(timeoutSeconds), "only": only.map(JSONValue.from) ?? .null,
      "seccompProfile": .from(seccompProfile), "durationMs": .int(durationMilliseconds),
      "forkWorked": .bool(forkWorked),
    ]
  }
}

/// The whole report: one model, rendered as text, JSON or Markdown.
public struct Report: Equatable, Sendable {
  public static let schemaVersion = 1

  public var toolName: String
  public var toolVersion: String
  public var host: HostInfo
  public var run: RunInfo
  public var probes: [ProbeResult]

  public init(toolName: String = Culprit.name, toolVersion: String = Culprit.version, host: HostInfo, run: RunInfo, probes: [ProbeResult]) {
    self.toolName = toolName
    self.toolVersion = toolVersion
    self.host = host
    self.run = run
    self.probes = probes
  }

  /// The worst status severity among the probes.
  public var worstSeverity: Int { probes.map(\.status.severity).max() ?? 0 }

  public var json: JSONValue {
    [
      "schemaVersion": .int(Report.schemaVersion),
      "tool": ["name": .string(toolName), "version": .string(toolVersion)],
      "host": host.json,
      "run": run.json,
      "probes": .array(probes.map(\.json)),
    ]
  }

  /// Reads a report of the JSON contract (for `culprit diff`). A report of another schema
  /// version is refused, since its fields may mean other things.
  public init(json: JSONValue) throws(ContractError) {
    guard case .object = json else { throw ContractError("the document is not a JSON object") }
    guard let version = json["schemaVersion"]?.intValue else {
      throw ContractError("the document has no schemaVersion: it is not a culprit report")
    }
    guard version == Report.schemaVersion else {
      throw ContractError("the report has schemaVersion \(version); this culprit reads schemaVersion \(Report.schemaVersion)")
    }
    guard let probes = json["probes"]?.arrayValue else { throw ContractError("the report has no probes list") }
    var parsed: [ProbeResult] = []
    for probe in probes { parsed.append(try ProbeResult(json: probe)) }
    let run = json["run"]
    self.init(
      toolName: json["tool"]?["name"]?.stringValue ?? "culprit",
      toolVersion: json["tool"]?["version"]?.stringValue ?? "",
      host: HostInfo(json: json["host"] ?? .null),
      run: RunInfo(
        timeoutSeconds: run?["timeoutSeconds"]?.doubleValue ?? 0,
        only: run?["only"]?.arrayValue?.compactMap(\.stringValue),
        seccompProfile: run?["seccompProfile"]?.stringValue,
        durationMilliseconds: run?["durationMs"]?.intValue ?? 0,
        forkWorked: run?["forkWorked"]?.boolValue ?? true),
      probes: parsed)
  }
}

/// The tool's name and version, shown by --version and in every report.
public enum Culprit {
  public static let name = "culprit"
  public static let version = "0.1.0"
}
