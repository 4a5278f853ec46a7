// libFuzzer entry point for culprit's parsers, built by scripts/fuzz.sh with
// `swiftc -sanitize=fuzzer` together with all of CulpritCore (one module, so internal parsers
// are reachable). CULPRIT_FUZZ_TARGET picks what the input feeds:
//   profile  a --seccomp-profile file: parse, decide for x86_64, compile with libseccomp
//   report   a `culprit diff` report: parse, check the contract, read the model, diff, render
//   proc     one /proc or /sys file of a real fixture (the input's first byte picks which, the
//            rest is its content): every in-process probe, the report, its contract, the renderers
// A crash, a trap (overflow, out-of-range index, force-unwrap) or a report culprit wrote that
// breaks its own schema is a finding.

#if canImport(Glibc)
import Glibc
#endif

enum FuzzTarget: String { case profile, report, proc }

nonisolated(unsafe) let fuzzTarget: FuzzTarget = {
  guard let name = getenv("CULPRIT_FUZZ_TARGET").map({ String(cString: $0) }), let target = FuzzTarget(rawValue: name) else {
    fatalError("set CULPRIT_FUZZ_TARGET to profile, report or proc")
  }
  return target
}()

nonisolated(unsafe) let selfTest = getenv("CULPRIT_FUZZ_SELFTEST") != nil

/// The fixture the proc target changes one file of, and that fixture's file paths.
nonisolated(unsafe) let fixtureDirectory: String = getenv("CULPRIT_FUZZ_FIXTURE").map { String(cString: $0) } ?? ""
nonisolated(unsafe) let fixturePaths: [String] = {
  guard let text = getenv("CULPRIT_FUZZ_FILES").map({ String(cString: $0) }) else { return [] }
  return text.split(separator: "\n").map(String.init)
}()

/// A fixture with one file's text replaced.
final class OneFileChanged: SystemSource {
  let base: FixtureSystem
  let path: String
  let text: String
  init(base: FixtureSystem, path: String, text: String) {
    self.base = base
    self.path = path
    self.text = text
  }
  func readText(_ p: String) -> Result<String, Errno> { p == path ? .success(text) : base.readText(p) }
  func list(_ p: String) -> Result<[String], Errno> { base.list(p) }
  func fileType(_ p: String) -> Result<FileType, Errno> { base.fileType(p) }
  func readLink(_ p: String) -> Result<String, Errno> { base.readLink(p) }
  func find(_ needle: String, inFile p: String, length: Int) -> Result<String?, Errno> {
    guard p == path else { return base.find(needle, inFile: p, length: length) }
    guard let range = text.firstRange(of: needle) else { return .success(nil) }
    return .success(String(text[range.upperBound...].prefix(length)))
  }
  func uname() -> Result<Sys.UName, Errno> { base.uname() }
  func filesystemType(_ p: String) -> Result<UInt, Errno> { base.filesystemType(p) }
  func rlimit(_ resource: RLimitResource) -> Result<Sys.Limit, Errno> { base.rlimit(resource) }
  func identity() -> Sys.Identity { base.identity() }
  func capabilitiesBySyscall() -> Result<[String: String], Errno> { base.capabilitiesBySyscall() }
}

nonisolated(unsafe) let fixture: FixtureSystem? = fixtureDirectory.isEmpty ? nil : try? FixtureSystem(directory: fixtureDirectory)

func fuzzProfile(_ bytes: [UInt8]) {
  guard let profile = try? SeccompProfile.parse(bytes: bytes) else { return }
  let target = SeccompProfile.Target(arch: .x86_64, boundingCapabilities: ["CAP_SYS_ADMIN"], kernel: KernelVersion(6, 1))
  guard let resolved = try? profile.resolve(for: target) else { return }
  if resolved.rules.count > 2000 { return }  // libseccomp's own time, not culprit's parser
  guard let program = try? resolved.compile(arch: .x86_64) else { return }
  _ = WhatIfProfile(path: "fuzz.json", profile: profile, resolved: resolved, program: program).notes(target: target)
}

func fuzzReport(_ bytes: [UInt8]) {
  guard let json = try? JSONValue.parse(bytes: bytes) else { return }
  _ = json.serialized(pretty: true)
  // The model reader must never trap, checked or not.
  if let unchecked = try? Report(json: json) {
    _ = ReportDiff(before: unchecked, after: unchecked).render(markdown: false)
  }
  guard let report = try? Report(validating: json) else { return }
  let other = Report(host: report.host, run: report.run, probes: Array(report.probes.dropFirst()))
  _ = ReportDiff(before: report, after: other).render(markdown: true)
  _ = ReportDiff(before: other, after: report).render(markdown: false)
}

func fuzzProc(_ bytes: [UInt8]) {
  guard let fixture, !fixturePaths.isEmpty, let first = bytes.first else { return }
  let path = fixturePaths[Int(first) % fixturePaths.count]
  let source = OneFileChanged(base: fixture, path: path, text: String(decoding: bytes.dropFirst(), as: UTF8.self))
  let snapshot = Snapshot(source: source)
  let context = ProbeContext(snapshot: snapshot, options: ProbeOptions(), deadline: UInt64.max)
  let probes = ProbeCatalog.all.filter { $0.isolation == .inProcess }.map { $0.run(context).normalized() }
  let report = Report(host: snapshot.hostInfo, run: RunInfo(timeoutSeconds: 5), probes: probes)
  let json = report.json
  if let violation = ReportSchema.violation(in: json) {
    fatalError("culprit wrote a report that breaks its schema after \(path) changed: \(violation)")
  }
  for format in OutputFormat.allCases { _ = format.render(report) }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func culpritFuzzOne(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
  let bytes = size == 0 || data == nil ? [] : Array(UnsafeBufferPointer(start: data, count: size))
  // scripts/fuzz.sh checks once that a trap is caught and its input kept.
  if selfTest, bytes == Array("culprit-fuzz-selftest".utf8) { fatalError("fuzz self-test") }
  switch fuzzTarget {
  case .profile: fuzzProfile(bytes)
  case .report: fuzzReport(bytes)
  case .proc: fuzzProc(bytes)
  }
  return 0
}
