@testable import CulpritCore
import Foundation
import Testing

/// The fixtures recorded from real systems, each under Fixtures/<name>/ with its PROVENANCE.md.
enum Fixtures {
  static let directory: String = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    .appendingPathComponent("Fixtures").path

  /// Every whole-system fixture (a syscalls.json with the captured uname), sorted. File-only
  /// fixtures, such as the resolver ones, hold an empty syscalls.json and are left out.
  static let names: [String] = {
    let entries = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
    return entries.filter { name in
      guard let data = FileManager.default.contents(atPath: directory + "/" + name + "/syscalls.json"),
        let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any]
      else { return false }
      return object["uname"] != nil
    }.sorted()
  }()

  static func system(_ name: String) throws -> FixtureSystem {
    try FixtureSystem(directory: directory + "/" + name)
  }

  static func snapshot(_ name: String) throws -> Snapshot {
    Snapshot(source: try system(name))
  }

  /// The text of a fixture's file, as captured.
  static func text(_ name: String, _ path: String) throws -> String {
    try String(contentsOfFile: directory + "/" + name + "/root" + path, encoding: .utf8)
  }
}

/// A system with some of its files or calls replaced: a real fixture with one odd thing about
/// it (a file missing, unreadable, empty or holding garbage), to check that the readers give a
/// clear verdict instead of a crash.
final class EditedSystem: SystemSource {
  let base: SystemSource
  var files: [String: Result<String, Errno>] = [:]
  var links: [String: Result<String, Errno>] = [:]
  var types: [String: Result<FileType, Errno>] = [:]
  var statfs: [String: Result<UInt, Errno>] = [:]
  var capget: Result<[String: String], Errno>?
  var unameResult: Result<Sys.UName, Errno>?

  init(_ base: SystemSource) { self.base = base }

  /// Replaces a file's text.
  @discardableResult
  func set(_ path: String, _ text: String) -> EditedSystem {
    files[path] = .success(text)
    types[path] = .success(.regular)
    return self
  }

  /// Makes a path fail with `error` for every kind of access.
  @discardableResult
  func fail(_ path: String, _ error: Errno = .noSuchFile) -> EditedSystem {
    files[path] = .failure(error)
    links[path] = .failure(error)
    types[path] = .failure(error)
    statfs[path] = .failure(error)
    return self
  }

  func readText(_ path: String) -> Result<String, Errno> { files[path] ?? base.readText(path) }
  func list(_ path: String) -> Result<[String], Errno> {
    if case .failure(let err)? = files[path] { return .failure(err) }
    return base.list(path)
  }
  func fileType(_ path: String) -> Result<FileType, Errno> { types[path] ?? base.fileType(path) }
  func readLink(_ path: String) -> Result<String, Errno> { links[path] ?? base.readLink(path) }
  func find(_ needle: String, inFile path: String, length: Int) -> Result<String?, Errno> {
    if case .failure(let err)? = files[path] { return .failure(err) }
    return base.find(needle, inFile: path, length: length)
  }
  func uname() -> Result<Sys.UName, Errno> { unameResult ?? base.uname() }
  func filesystemType(_ path: String) -> Result<UInt, Errno> { statfs[path] ?? base.filesystemType(path) }
  func rlimit(_ resource: RLimitResource) -> Result<Sys.Limit, Errno> { base.rlimit(resource) }
  func identity() -> Sys.Identity { base.identity() }
  func capabilitiesBySyscall() -> Result<[String: String], Errno> { capget ?? base.capabilitiesBySyscall() }
}

/// A system where nothing at all can be read: no /proc, no /sys, every call failing.
final class NothingSystem: SystemSource {
  let error: Errno
  init(_ error: Errno = .noSuchFile) { self.error = error }
  func readText(_ path: String) -> Result<String, Errno> { .failure(error) }
  func list(_ path: String) -> Result<[String], Errno> { .failure(error) }
  func fileType(_ path: String) -> Result<FileType, Errno> { .failure(error) }
  func readLink(_ path: String) -> Result<String, Errno> { .failure(error) }
  func find(_ needle: String, inFile path: String, length: Int) -> Result<String?, Errno> { .failure(error) }
  func uname() -> Result<Sys.UName, Errno> { .failure(error) }
  func filesystemType(_ path: String) -> Result<UInt, Errno> { .failure(error) }
  func rlimit(_ resource: RLimitResource) -> Result<Sys.Limit, Errno> { .failure(error) }
  func identity() -> Sys.Identity { Sys.Identity(pid: 1, uid: 0, euid: 0, gid: 0, egid: 0) }
  func capabilitiesBySyscall() -> Result<[String: String], Errno> { .failure(error) }
}

/// Runs every in-process probe against a snapshot, as `culprit` does.
func runInProcessProbes(_ snapshot: Snapshot) -> [ProbeResult] {
  let context = ProbeContext(snapshot: snapshot, options: ProbeOptions(), deadline: UInt64.max)
  return ProbeCatalog.all.filter { $0.isolation == .inProcess }.map { $0.run(context).normalized() }
}

/// A report of those results, as `culprit --format json` would print it.
func report(_ snapshot: Snapshot, _ probes: [ProbeResult]) -> Report {
  Report(host: snapshot.hostInfo, run: RunInfo(timeoutSeconds: 5), probes: probes)
}

/// The contract every probe result must keep, whatever the system: checked with #expect, one
/// failure per broken rule, naming the probe and `where`.
func expectWellFormed(_ result: ProbeResult, on system: String, sourceLocation: SourceLocation = #_sourceLocation) {
  let label = "\(result.id) on \(system)"
  #expect([.info, .skipped].contains(result.status), "\(label): status \(result.status)", sourceLocation: sourceLocation)
  #expect(result.layer == nil, "\(label): an info or skipped verdict names no layer", sourceLocation: sourceLocation)
  #expect(!result.summary.isEmpty, "\(label): empty summary", sourceLocation: sourceLocation)
  #expect(!result.evidence.isEmpty, "\(label): no evidence", sourceLocation: sourceLocation)
  for sentence in result.evidence {
    #expect(sentence.hasSuffix("."), "\(label): evidence does not end with a period: \(sentence)", sourceLocation: sourceLocation)
  }
  if result.status == .info, let keys = SchemaFacts.keys(for: result.id) {
    #expect(Set(result.facts.keys) == keys, "\(label): facts keys \(result.facts.keys.sorted()) are not the schema's \(keys.sorted())", sourceLocation: sourceLocation)
  }
}

/// The facts each probe's block in schema/report.schema.json lists.
enum SchemaFacts {
  static let schemaPath: String = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("schema/report.schema.json").path

  static let blocks: [String: Set<String>] = {
    guard let data = FileManager.default.contents(atPath: schemaPath),
      let schema = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
      let defs = schema["$defs"] as? [String: Any], let probe = defs["probe"] as? [String: Any],
      let allOf = probe["allOf"] as? [[String: Any]]
    else { return [:] }
    var out: [String: Set<String>] = [:]
    for rule in allOf {
      guard let condition = (rule["if"] as? [String: Any])?["properties"] as? [String: Any],
        let id = (condition["id"] as? [String: Any])?["const"] as? String,
        let facts = ((rule["then"] as? [String: Any])?["properties"] as? [String: Any])?["facts"] as? [String: Any],
        let properties = facts["properties"] as? [String: Any]
      else { continue }
      out[id] = Set(properties.keys)
    }
    return out
  }()

  static func keys(for id: String) -> Set<String>? { blocks[id] }
}

/// Validates JSON texts against schema/report.schema.json with Python's jsonschema (draft
/// 2020-12), in one run; returns the errors, each prefixed with the text's label.
func schemaErrors(_ documents: [(label: String, json: String)]) throws -> [String] {
  let directory = FileManager.default.temporaryDirectory.appendingPathComponent("culprit-schema-\(UUID().uuidString)")
  try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
  defer { try? FileManager.default.removeItem(at: directory) }
  var arguments = ["/usr/bin/env", "python3", "-c", """
    import json, sys, jsonschema
    schema = json.load(open(sys.argv[1]))
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema)
    for label, path in zip(sys.argv[2::2], sys.argv[3::2]):
        for error in validator.iter_errors(json.load(open(path))):
            print(label + ": " + "/".join(str(p) for p in error.absolute_path) + ": " + error.message)
    """, SchemaFacts.schemaPath]
  for (index, document) in documents.enumerated() {
    let file = directory.appendingPathComponent("\(index).json")
    try document.json.write(to: file, atomically: true, encoding: .utf8)
    arguments += [document.label, file.path]
  }
  let process = Process()
  process.executableURL = URL(fileURLWithPath: arguments[0])
  process.arguments = Array(arguments.dropFirst())
  let output = Pipe()
  let errors = Pipe()
  process.standardOutput = output
  process.standardError = errors
  try process.run()
  let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
  let errorText = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
  process.waitUntilExit()
  if process.terminationStatus != 0 { return ["the schema check itself failed: \(errorText)"] }
  return text.split(separator: "\n").map(String.init)
}
