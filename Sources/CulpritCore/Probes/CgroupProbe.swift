/// `cgroup`: version, namespace, controllers, and the limits that bite the other probes.
public struct CgroupProbe: Probe {
  public init() {}
  public let id = "cgroup"
  public let title = "Control groups"
  public let abstract = "cgroup version (v1, v2, hybrid), namespace, controllers, pids/memory/cpu limits and the v1 devices list"
  public let isolation = Isolation.inProcess

  public func run(_ context: ProbeContext) -> ProbeResult {
    let state = context.snapshot.cgroup
    guard let version = state.version else {
      return verdict(
        .skipped, "No cgroup information: /sys/fs/cgroup and /proc/self/cgroup could not be read.",
        evidence: state.evidence, facts: ["version": .null])
    }
    var facts: JSONObject = [
      "version": .string(version.rawValue),
      "paths": .array(state.memberships.map {
        ["hierarchy": .int($0.hierarchyID), "controllers": .from($0.controllers), "path": .string($0.path)]
      }),
      "namespace": .from(state.namespace?.rawValue),
      "controllers": .from(state.controllers),
    ]
    if let pids = state.pids {
      facts["pids"] = [
        "max": .from(pids.max), "current": .from(pids.current), "events_max": .from(pids.refusals),
        "directory": .string(pids.directory),
      ]
    } else {
      facts["pids"] = .null
    }
    facts["memory_limit_bytes"] = state.memoryLimitBytes.map { .int(Int($0)) } ?? .null
    facts["cpu_quota"] = state.cpuQuota.map { ["quota_us": .int($0.quota), "period_us": .int($0.period)] } ?? .null
    facts["devices_list"] = state.devicesList.map(JSONValue.from) ?? .null

    var parts = ["cgroup \(version.rawValue)"]
    if let ns = state.namespace { parts[0] += ", \(ns.rawValue) namespace" }
    if let pids = state.pids {
      parts.append("pids \(pids.current.map(String.init) ?? "?")/\(pids.max.map(String.init) ?? "max")")
    } else if state.directories["pids"] != nil {
      parts.append("no pids limit")
    } else {
      parts.append("pids controller not found (limit unknown)")
    }
    if let memory = state.memoryLimitBytes { parts.append("memory limit \(formatBytes(memory))") }
    if let cpu = state.cpuQuota, cpu.quota > 0, cpu.period > 0 {
      parts.append("cpu limit \(formatDecimal(Double(cpu.quota) / Double(cpu.period))) CPUs")
    }
    if let devices = state.devicesList {
      parts.append(devices == ["a *:* rwm"] ? "all devices allowed" : "devices allow-list of \(devices.count) rules")
    } else if version == .v2 {
      parts.append("device access decided by a BPF program (not readable)")
    }
    return verdict(.info, parts.joined(separator: "; "), evidence: state.evidence, facts: facts)
  }
}

/// "512 MiB", "1.5 GiB".
func formatBytes(_ bytes: UInt64) -> String {
  let units = ["B", "KiB", "MiB", "GiB", "TiB"]
  var value = Double(bytes)
  var unit = 0
  while value >= 1024 && unit < units.count - 1 {
    value /= 1024
    unit += 1
  }
  return "\(formatDecimal(value)) \(units[unit])"
}

/// At most one decimal, no trailing ".0".
func formatDecimal(_ value: Double) -> String {
  let rounded = (value * 10).rounded() / 10
  return rounded == rounded.rounded() ? String(Int(rounded)) : String(rounded)
}
