/// The known-bug table (data/known-bugs.json, embedded at build time) and its matching against
/// the components found on the node: a pure function of the table and the components.
public struct KnownBug: Equatable, Sendable {
  public var id: String
  public var component: ComponentKind
  public var title: String
  public var affected: [VersionRange]
  /// A Go module whose version in the build info also shows the bug (the CNI plugins'
  /// vendored netlink), with its affected versions.
  public var dependency: (module: String, affected: [VersionRange])? {
    dependencyModule.map { ($0, dependencyAffected) }
  }
  var dependencyModule: String?
  var dependencyAffected: [VersionRange]
  /// A string whose presence in the binary shows the fix (a package of the fixed release).
  public var fixedBySymbol: String?
  /// seccomp, cgroup-devices, network, runtime.
  public var layer: String
  /// "default" or "custom-profile".
  public var scope: String
  public var symptom: String
  public var mechanism: String
  public var fix: String
  public var fixedIn: String
  public var profile: String?
  public var sources: [String]

  public static let layers: Set<String> = ["seccomp", "cgroup-devices", "network", "runtime", "kernel"]
  public static let scopes: Set<String> = ["default", "custom-profile"]

  /// The affected versions in words: "1.6.0 to before 1.7.0".
  public var affectedText: String {
    var parts = affected.map(\.description)
    if let dep = dependency { parts.append("or built with \(dep.module) " + dep.affected.map(\.description).joined(separator: ", ")) }
    return parts.joined(separator: ", ")
  }

  /// The table as shipped.
  public static let table: [KnownBug] = {
    switch parseTable(knownBugsText) {
    case .success(let rows): return rows
    case .failure(let err): fatalError("data/known-bugs.json is broken: \(err)")
    }
  }()

  public struct TableError: Error, CustomStringConvertible {
    public var description: String
  }

  /// Reads the table's JSON, refusing a row with a missing field, an unknown component, layer
  /// or scope, or a version that does not parse.
  public static func parseTable(_ text: String) -> Result<[KnownBug], TableError> {
    let json: JSONValue
    do { json = try JSONValue.parse(text) } catch { return .failure(TableError(description: "not JSON: \(error)")) }
    guard let rows = json["bugs"]?.arrayValue else { return .failure(TableError(description: "no \"bugs\" list")) }
    var bugs: [KnownBug] = []
    var ids = Set<String>()
    for (index, row) in rows.enumerated() {
      func string(_ key: String) throws(TableError) -> String {
        guard let s = row[key]?.stringValue, !s.isEmpty else { throw TableError(description: "row \(index): no \"\(key)\"") }
        return s
      }
      func ranges(_ value: JSONValue?, _ what: String) throws(TableError) -> [VersionRange] {
        guard let list = value?.arrayValue, !list.isEmpty else { throw TableError(description: "row \(index): no \(what) ranges") }
        var out: [VersionRange] = []
        for item in list {
          let from = item["from"]?.stringValue, before = item["before"]?.stringValue
          if let from, ComponentVersion(from) == nil { throw TableError(description: "row \(index): version \"\(from)\" does not parse") }
          if let before, ComponentVersion(before) == nil { throw TableError(description: "row \(index): version \"\(before)\" does not parse") }
          if from == nil && before == nil { throw TableError(description: "row \(index): a range with neither from nor before") }
          out.append(VersionRange(from: from, before: before))
        }
        return out
      }
      do {
        let id = try string("id")
        guard ids.insert(id).inserted else { throw TableError(description: "row \(index): id \"\(id)\" twice") }
        let componentName = try string("component")
        guard let component = ComponentKind(rawValue: componentName) else {
          throw TableError(description: "row \(index): unknown component \"\(componentName)\"")
        }
        let layer = try string("layer")
        guard layers.contains(layer) else { throw TableError(description: "row \(index): unknown layer \"\(layer)\"") }
        let scope = try string("scope")
        guard scopes.contains(scope) else { throw TableError(description: "row \(index): unknown scope \"\(scope)\"") }
        let fixedIn = try string("fixedIn")
        guard ComponentVersion(fixedIn) != nil else { throw TableError(description: "row \(index): fixedIn \"\(fixedIn)\" does not parse") }
        guard let sources = row["sources"]?.arrayValue?.compactMap(\.stringValue), !sources.isEmpty,
          sources.allSatisfy({ $0.hasPrefix("https://") })
        else { throw TableError(description: "row \(index): sources must be a list of https URLs") }
        var bug = KnownBug(
          id: id, component: component, title: try string("title"), affected: try ranges(row["affected"], "affected"),
          dependencyModule: nil, dependencyAffected: [], fixedBySymbol: row["fixedBySymbol"]?.stringValue, layer: layer,
          scope: scope, symptom: try string("symptom"), mechanism: try string("mechanism"), fix: try string("fix"),
          fixedIn: fixedIn, profile: row["profile"]?.stringValue, sources: sources)
        if let dep = row["dependency"] {
          guard let module = dep["module"]?.stringValue else { throw TableError(description: "row \(index): dependency without module") }
          bug.dependencyModule = module
          bug.dependencyAffected = try ranges(dep["affected"], "dependency")
        }
        bugs.append(bug)
      } catch {
        return .failure(error as? TableError ?? TableError(description: "row \(index): \(error)"))
      }
    }
    return .success(bugs)
  }
}

/// How one row came out against one component found on the node.
public enum BugVerdict: String, Sendable {
  /// The component's version (or its dependency's) is affected.
  case affected
  /// Its version is outside the affected ranges, or the binary contains the fix.
  case notAffected = "not-affected"
  /// It is installed but no source gave a version (and no dependency decided it).
  case versionUnknown = "version-unknown"
}

/// A row matched against one component.
public struct BugFinding: Sendable {
  public var bug: KnownBug
  public var component: HostComponent
  public var verdict: BugVerdict
  /// Why: "runc 1.0.0-rc91 (/usr/sbin/runc, from `runc --version`) is in 1.0.0-rc91 to before
  /// 1.0.0-rc92".
  public var reason: String
}

/// The table checked against the node: the findings, and every row with what was found.
public struct KnownBugCheck: Sendable {
  public var results: [BugFinding]
  /// Rows whose component was not found on the node.
  public var notInstalled: [KnownBug]
  public var table: [KnownBug]

  public var findings: [BugFinding] { results.filter { $0.verdict == .affected } }

  /// Matches every row against every component of its kind. Pure.
  public static func check(_ components: [HostComponent], table: [KnownBug] = KnownBug.table) -> KnownBugCheck {
    var results: [BugFinding] = []
    var notInstalled: [KnownBug] = []
    for bug in table {
      let candidates = components.filter { $0.kind == bug.component }
      if candidates.isEmpty {
        notInstalled.append(bug)
        continue
      }
      for component in candidates { results.append(match(bug, component)) }
    }
    return KnownBugCheck(results: results, notInstalled: notInstalled, table: table)
  }

  /// One row against one component. Pure.
  public static func match(_ bug: KnownBug, _ component: HostComponent) -> BugFinding {
    let name = component.kind.rawValue
    let source = component.versionSource.map { " from \(sourceWords($0, component))" } ?? ""
    if let symbol = bug.fixedBySymbol, component.facts["symbol:" + symbol] == "present" {
      return BugFinding(
        bug: bug, component: component, verdict: .notAffected,
        reason: "\(component.path) contains \(symbol), the fix (whatever its version says)")
    }
    let version = component.parsedVersion
    if let version, let range = bug.affected.first(where: { $0.contains(version) }) {
      return BugFinding(
        bug: bug, component: component, verdict: .affected,
        reason: "\(name) \(version.original) (\(component.path)\(source)) is in the affected versions (\(range))" + distributionCaveat(version))
    }
    if let dep = bug.dependency, let depText = component.dependencyVersion(dep.module), let depVersion = ComponentVersion(depText),
      let range = dep.affected.first(where: { $0.contains(depVersion) })
    {
      let fixed = ComponentVersion(bug.fixedIn)!
      if version == nil || version! < fixed {
        return BugFinding(
          bug: bug, component: component, verdict: .affected,
          reason: "\(component.path) was built with \(dep.module) \(depText) (Go build info), which is in the affected versions (\(range)), and its own version \(version.map { "\($0.original) is before \(bug.fixedIn)" } ?? "is not stated")")
      }
    }
    guard let version else {
      var why = "\(name) at \(component.path) states no version"
      if let dep = bug.dependency {
        why += component.dependencyVersion(dep.module).map { ", and its \(dep.module) \($0) is outside the affected versions" }
          ?? ", and its build info names no \(dep.module)"
      }
      return BugFinding(bug: bug, component: component, verdict: .versionUnknown, reason: why)
    }
    var why = "\(name) \(version.original) (\(component.path)\(source)) is outside the affected versions (\(bug.affected.map(\.description).joined(separator: ", ")))"
    if let dep = bug.dependency, let depText = component.dependencyVersion(dep.module) {
      why += "; built with \(dep.module) \(depText)"
    }
    return BugFinding(bug: bug, component: component, verdict: .notAffected, reason: why)
  }

  /// A distribution's version ("20.10.5+dfsg1", "1.0.0~rc93+ds1-5") may carry a backported fix.
  static func distributionCaveat(_ version: ComponentVersion) -> String {
    let text = version.original
    guard text.contains("+") || text.contains("~") || text.contains("deb") else { return "" }
    return "; the version carries a distribution's suffix, so its package may carry the fix as a patch (its changelog says)"
  }

  static func sourceWords(_ source: VersionSource, _ c: HostComponent) -> String {
    switch source {
    case .versionCommand: return "`\(c.versionRun?.command ?? c.path + " --version")`"
    case .buildInfo: return "its Go build info"
    case .package: return "its package \(c.package ?? "")"
    case .reportedBy: return "runc's `--version`"
    case .fileName: return "the library's file name"
    }
  }
}
