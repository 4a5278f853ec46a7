import Foundation
import Testing

/// Running the built binaries as a user would, and checking what they print.
enum Binaries {
  /// The directory of the test runner, where `swift build` put culprit and culprit-testkit.
  static let buildDirectory: URL = {
    let exe = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
    return exe.deletingLastPathComponent()
  }()

  /// CULPRIT_BIN overrides the binary under test (the static dist/culprit, for example).
  static var culprit: String {
    ProcessInfo.processInfo.environment["CULPRIT_BIN"] ?? buildDirectory.appendingPathComponent("culprit").path
  }

  static var testkit: String {
    ProcessInfo.processInfo.environment["CULPRIT_TESTKIT_BIN"]
      ?? buildDirectory.appendingPathComponent("culprit-testkit").path
  }

  /// The package's root directory (for the schema and fixtures).
  static let packageRoot: URL = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
}

struct RunResult {
  var status: Int32
  var stdout: String
  var stderr: String
  /// Wall time in seconds.
  var seconds: Double

  /// stdout parsed as JSON.
  func json() throws -> [String: Any] {
    let object = try JSONSerialization.jsonObject(with: Data(stdout.utf8))
    return try #require(object as? [String: Any], "stdout is not a JSON object: \(stdout.prefix(300))")
  }

  /// The probes of a JSON report, by id.
  func probes() throws -> [String: [String: Any]] {
    let list = try #require(try json()["probes"] as? [[String: Any]])
    var byID: [String: [String: Any]] = [:]
    for probe in list { byID[probe["id"] as! String] = probe }
    return byID
  }
}

/// Runs a program and waits for it, with a hard limit so that a hanging run fails the test
/// instead of hanging it. Output goes through temporary files, so a large output never blocks.
func run(_ arguments: [String], environment: [String: String]? = nil, limit: Double = 60) throws -> RunResult {
  let process = Process()
  process.executableURL = URL(fileURLWithPath: arguments[0])
  process.arguments = Array(arguments.dropFirst())
  if let environment { process.environment = environment }
  let directory = FileManager.default.temporaryDirectory
  let outURL = directory.appendingPathComponent("culprit-test-\(UUID().uuidString).out")
  let errURL = directory.appendingPathComponent("culprit-test-\(UUID().uuidString).err")
  FileManager.default.createFile(atPath: outURL.path, contents: nil)
  FileManager.default.createFile(atPath: errURL.path, contents: nil)
  defer {
    try? FileManager.default.removeItem(at: outURL)
    try? FileManager.default.removeItem(at: errURL)
  }
  let out = try FileHandle(forWritingTo: outURL)
  let err = try FileHandle(forWritingTo: errURL)
  process.standardOutput = out
  process.standardError = err
  process.standardInput = FileHandle.nullDevice
  let start = Date()
  try process.run()
  try out.close()
  try err.close()
  while process.isRunning {
    if Date().timeIntervalSince(start) > limit {
      kill(process.processIdentifier, SIGKILL)
      Issue.record("\(arguments.joined(separator: " ")) did not finish within \(limit) s")
      break
    }
    usleep(2_000)
  }
  process.waitUntilExit()
  return RunResult(
    status: process.terminationStatus, stdout: try String(contentsOf: outURL, encoding: .utf8),
    stderr: try String(contentsOf: errURL, encoding: .utf8), seconds: Date().timeIntervalSince(start))
}

/// Runs culprit with no network at all (`unshare -n`), so that no probe can ever reach this
/// machine's real nameserver; `jail` puts testkit restrictions in front of it.
func culprit(_ arguments: [String], jail: [String] = [], environment: [String: String]? = nil, limit: Double = 60) throws -> RunResult {
  var command = ["/usr/bin/unshare", "-n"]
  if !jail.isEmpty { command += [Binaries.testkit, "jail"] + jail + ["--"] }
  command += [Binaries.culprit] + arguments
  return try run(command, environment: environment, limit: limit)
}

/// Validates a JSON text against schema/report.schema.json with Python's jsonschema (draft
/// 2020-12); returns the validation errors, one per line.
func schemaErrors(_ json: String) throws -> [String] {
  let schema = Binaries.packageRoot.appendingPathComponent("schema/report.schema.json").path
  let file = FileManager.default.temporaryDirectory.appendingPathComponent("culprit-report-\(UUID().uuidString).json")
  try json.write(to: file, atomically: true, encoding: .utf8)
  defer { try? FileManager.default.removeItem(at: file) }
  let script = """
    import json, sys, jsonschema
    schema = json.load(open(sys.argv[1]))
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema)
    for error in validator.iter_errors(json.load(open(sys.argv[2]))):
        print("/".join(str(p) for p in error.absolute_path) + ": " + error.message)
    """
  let result = try run(["/usr/bin/env", "python3", "-c", script, schema, file.path])
  if result.status != 0 { return ["the schema check itself failed: \(result.stderr)"] }
  return result.stdout.split(separator: "\n").map(String.init)
}

/// Makes a cgroup v1 directory under `controller` (pids, devices, …) for one test and removes it
/// afterwards.
final class TestCgroup {
  let path: String

  init(controller: String, name: String = #function) throws {
    let safe = name.filter { $0.isLetter || $0.isNumber }
    path = "/sys/fs/cgroup/\(controller)/culprit-test-\(safe)-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: false)
  }

  func write(_ file: String, _ value: String) throws {
    try value.write(toFile: path + "/" + file, atomically: false, encoding: .utf8)
  }

  func read(_ file: String) throws -> String {
    try String(contentsOfFile: path + "/" + file, encoding: .utf8)
  }

  deinit {
    // Processes left in it (there should be none) are killed so the directory can go.
    if let procs = try? String(contentsOfFile: path + "/cgroup.procs", encoding: .utf8) {
      for pid in procs.split(separator: "\n").compactMap({ Int32($0) }) { kill(pid, SIGKILL) }
    }
    for _ in 0..<50 {
      if rmdir(path) == 0 || errno == ENOENT { return }
      usleep(10_000)
    }
  }
}
