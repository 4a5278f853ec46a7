import CulpritCore
import Foundation
import Testing

/// The side-by-side rendering of `culprit host --containers`, from a recorded real run
/// (Fixtures/host-containers/PROVENANCE.md): the reports are data, the table and the
/// differences are pure functions of them.
struct HostContainersRenderTests {
  static func recorded() throws -> (json: JSONValue, comparison: ContainerComparison) {
    let path = Fixtures.directory + "/host-containers/containers.json"
    let bytes = try #require(FileManager.default.contents(atPath: path), "missing \(path)")
    let json = try JSONValue.parse(bytes: [UInt8](bytes))
    return (json, try ContainerComparison(json: json))
  }

  @Test func theRecordedRunReadsBackAndWritesTheSameJSON() throws {
    let (json, comparison) = try Self.recorded()
    #expect(comparison.runs.map(\.runtime.rawValue) == ["docker", "podman", "ctr", "runc", "crun"])
    #expect(comparison.runs.filter { $0.report != nil }.map(\.runtime.rawValue) == ["docker", "podman", "ctr", "runc"])
    // Everything in the section is derived from the runs: table and differences included.
    #expect(comparison.json == json)
  }

  @Test func theTableHasAVerdictPerProbeAndRuntime() throws {
    let (_, comparison) = try Self.recorded()
    #expect(comparison.baseline == "docker")
    let ids = comparison.probeIDs
    #expect(ids.contains("thread") && ids.contains("mknod") && ids.contains("syscalls"))
    for (label, report) in comparison.reported {
      for id in ids {
        let cell = ContainerComparison.cell(report, id)
        let probe = report.probes.first { $0.id == id }
        #expect(cell == (probe.map { $0.status.rawValue + ($0.layer.map { "/" + $0.rawValue } ?? "") } ?? "-"), "\(label) \(id)")
      }
    }
    // runc's default spec keeps 3 capabilities where Docker keeps 14: mknod is refused by
    // capabilities there, by the devices cgroup nowhere in Docker.
    let runc = try #require(comparison.reported.first { $0.label == "runc" }?.report)
    #expect(ContainerComparison.cell(runc, "mknod") == "degraded/capabilities")
  }

  @Test func theDifferencesAreCulpritDiffsAgainstTheFirstReport() throws {
    let (_, comparison) = try Self.recorded()
    let differences = comparison.differences
    #expect(differences.map(\.afterName) == ["podman", "ctr", "runc"])
    #expect(differences.allSatisfy { $0.beforeName == "docker" })
    let runc = try #require(differences.first { $0.afterName == "runc" })
    let effective = try #require(runc.capabilities.first { $0.name == "effective" })
    #expect(effective.removed.contains("CAP_MKNOD") && effective.removed.contains("CAP_NET_RAW"))
    // Docker's seccomp filter against runc's default spec, which has none.
    #expect(runc.seccomp.contains { $0.name == "mode" && $0.before == "filter" && $0.after == "disabled" })
  }

  @Test func textAndMarkdownPutTheReportsSideBySide() throws {
    let (_, comparison) = try Self.recorded()
    let text = comparison.render(markdown: false)
    let header = try #require(text.split(separator: "\n").first { $0.hasPrefix("probe ") })
    #expect(header.split(separator: " ", omittingEmptySubsequences: true) == ["probe", "docker", "podman", "ctr", "runc"])
    #expect(text.contains("culprit diff: docker → runc"))
    #expect(text.contains("crun: the container gave no report"))
    #expect(text.contains("--network none"))
    let markdown = comparison.render(markdown: true)
    #expect(markdown.contains("| probe | docker | podman | ctr | runc |"))
    #expect(markdown.contains("### culprit diff: `docker` → `runc`"))
  }

  @Test func noReportIsSaidAsSuch() {
    var run = ContainerRun(runtime: .docker, state: .unavailable)
    run.reason = "`docker version` does not reach its engine"
    let comparison = ContainerComparison(runs: [run], binary: "/proc/self/exe", culpritArguments: ["/culprit"])
    #expect(comparison.baseline == nil)
    #expect(comparison.differences.isEmpty)
    #expect(comparison.render(markdown: false).contains("No runtime gave a report."))
  }

  @Test func rlimitRefusalsAreReadFromBothRuntimes() {
    #expect(ContainerRun.refusedRlimit("Error: crun: setrlimit `RLIMIT_NPROC`: Operation not permitted: OCI permission denied") == "RLIMIT_NPROC")
    #expect(ContainerRun.refusedRlimit("error setting rlimit type 7: operation not permitted: OCI permission denied") == "RLIMIT_NOFILE")
    #expect(ContainerRun.refusedRlimit("cgroups in hybrid mode not supported") == nil)
  }

  @Test func tarAndSHA256AreWhatTheToolsRead() throws {
    // FIPS 180-4's test vector, and a tar that GNU tar lists.
    #expect(SHA256.hex(Array("abc".utf8)) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
    #expect(SHA256.hex([]) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
    let tar = ImageFiles.tar(ImageFiles.rootfsEntries(binary: Array("#!/bin/true\n".utf8)))
    let path = FileManager.default.temporaryDirectory.appendingPathComponent("c13b-\(getpid()).tar").path
    FileManager.default.createFile(atPath: path, contents: Data(tar))
    defer { try? FileManager.default.removeItem(atPath: path) }
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/bin/tar")
    process.arguments = ["-tvf", path]
    let pipe = Pipe()
    process.standardOutput = pipe
    try process.run()
    let listing = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    process.waitUntilExit()
    #expect(process.terminationStatus == 0)
    #expect(listing.contains("-rwxr-xr-x root/root") && listing.contains(" culprit"))
    #expect(listing.contains("drwxrwxrwt root/root") && listing.contains(" tmp/"))
  }

  @Test func containerdSocketsAreReadFromProcNetUnix() {
    let table = """
      Num       RefCount Protocol Flags    Type St Inode Path
      0000000000000000: 00000002 00000000 00010000 0001 01 4242 /var/tmp/culprit-docker/exec/containerd/containerd.sock.ttrpc
      0000000000000000: 00000002 00000000 00010000 0001 01 4243 /var/tmp/culprit-docker/exec/containerd/containerd.sock
      0000000000000000: 00000002 00000000 00010000 0001 01 4244 /run/containerd/containerd.sock
      0000000000000000: 00000003 00000000 00000000 0001 03 4245 /run/containerd/containerd.sock
      """
    #expect(ContainerdSocket.candidates(netUnix: table) == ["/run/containerd/containerd.sock", "/var/tmp/culprit-docker/exec/containerd/containerd.sock"])
  }
}
