import Foundation
import Testing

/// The Concourse and Kubernetes recipes parse, name paths and options that exist, and do what
/// they say when their commands are run for real.
@Suite struct ExamplesTests {
  static let examples = Binaries.packageRoot.appendingPathComponent("examples")

  /// Parses YAML files with PyYAML and returns them as JSON objects.
  func yaml(_ relative: String) throws -> Any {
    let path = Self.examples.appendingPathComponent(relative).path
    let result = try run(["/usr/bin/env", "python3", "-c", "import json, sys, yaml; print(json.dumps(list(yaml.safe_load_all(open(sys.argv[1])))))", path])
    #expect(result.status == 0, "\(relative) does not parse: \(result.stderr)")
    let documents = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [Any])
    #expect(documents.count == 1, "\(relative) should hold one YAML document")
    return documents[0]
  }

  func probeIDs() throws -> Set<String> {
    Set(try run([Binaries.culprit, "--list"]).stdout.split(separator: "\n").map { String($0.split(separator: " ")[0]) })
  }

  @Test(arguments: ["diagnose.yml", "preflight.yml"])
  func concourseTaskNamesItsInputsAndValidOptions(file: String) throws {
    let task = try #require(try yaml("concourse/" + file) as? [String: Any])
    #expect(task["platform"] as? String == "linux")
    let inputs = try #require(task["inputs"] as? [[String: Any]]).compactMap { $0["name"] as? String }
    #expect(inputs == ["culprit"])
    let runSection = try #require(task["run"] as? [String: Any])
    let path = try #require(runSection["path"] as? String)
    let args = try #require(runSection["args"] as? [String])
    let commandText = ([path] + args).joined(separator: " ")
    #expect(commandText.contains("culprit/culprit"))
    if let index = args.firstIndex(of: "--only") {
      let known = try probeIDs()
      for id in args[index + 1].split(separator: ",") {
        #expect(known.contains(String(id)), "\(file) names unknown probe \(id)")
      }
    }
    if file == "diagnose.yml" {
      #expect(commandText.contains("--fail-on never"))
      #expect((task["outputs"] as? [[String: Any]])?.first?["name"] as? String == "report")
    } else {
      #expect(!commandText.contains("--fail-on"), "the gate keeps the default --fail-on blocked")
    }
  }

  @Test func concoursePipelineNamesTaskFilesThatExist() throws {
    let pipeline = try #require(try yaml("concourse/pipeline.yml") as? [String: Any])
    let text = try String(contentsOf: Self.examples.appendingPathComponent("concourse/pipeline.yml"), encoding: .utf8)
    let files = text.split(separator: "\n").compactMap { line -> String? in
      guard let range = line.range(of: "file: ci/") else { return nil }
      return String(line[range.upperBound...]).trimmingCharacters(in: .whitespaces)
    }
    #expect(files.count == 2)
    for file in files {
      #expect(FileManager.default.fileExists(atPath: Binaries.packageRoot.appendingPathComponent(file).path), "\(file) does not exist")
    }
    #expect((pipeline["jobs"] as? [[String: Any]])?.first?["plan"] != nil)
  }

  @Test func diagnoseTaskScriptWritesBothReports() throws {
    // Run the task's script as Concourse would: in a working directory holding the `culprit`
    // input and an empty `report` output.
    let task = try #require(try yaml("concourse/diagnose.yml") as? [String: Any])
    let script = try #require(((task["run"] as? [String: Any])?["args"] as? [String])?.last)
    let work = FileManager.default.temporaryDirectory.appendingPathComponent("culprit-concourse-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: work.appendingPathComponent("culprit"), withIntermediateDirectories: true)
    try FileManager.default.createDirectory(at: work.appendingPathComponent("report"), withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: work) }
    try FileManager.default.copyItem(atPath: Binaries.culprit, toPath: work.appendingPathComponent("culprit/culprit").path)
    let result = try run(["/usr/bin/unshare", "-n", "/bin/sh", "-c", "cd \(work.path) && \(script)"])
    #expect(result.status == 0, "\(result.stderr)")
    #expect(result.stdout.contains("### culprit report"), "the Markdown report is printed to the build log")
    let json = try String(contentsOf: work.appendingPathComponent("report/culprit.json"), encoding: .utf8)
    #expect(try schemaErrors(json) == [])
    #expect(try String(contentsOf: work.appendingPathComponent("report/culprit.md"), encoding: .utf8).contains("| Status | Probe |"))
  }

  @Test func kubernetesJobRunsTheBinaryDockerfileTestInstalls() throws {
    let job = try #require(try yaml("kubernetes/culprit-job.yaml") as? [String: Any])
    #expect(job["kind"] as? String == "Job")
    #expect(job["apiVersion"] as? String == "batch/v1")
    let pod = try #require(((job["spec"] as? [String: Any])?["template"] as? [String: Any])?["spec"] as? [String: Any])
    #expect(pod["restartPolicy"] as? String == "Never")
    #expect(pod["securityContext"] != nil)
    let container = try #require((pod["containers"] as? [[String: Any]])?.first)
    let command = try #require(container["command"] as? [String])
    let dockerfile = try String(contentsOf: Binaries.packageRoot.appendingPathComponent("Dockerfile.test"), encoding: .utf8)
    #expect(dockerfile.contains("COPY dist/culprit \(command[0])"), "the Job runs \(command[0]), which Dockerfile.test must install")
    #expect(container["securityContext"] != nil)
    // The Job's arguments are valid culprit arguments.
    let args = try #require(container["args"] as? [String])
    let result = try culprit(args)
    #expect(result.status == 0, "culprit \(args.joined(separator: " ")) exited \(result.status): \(result.stderr)")
  }
}
