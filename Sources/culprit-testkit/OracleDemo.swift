import CulpritCore

#if canImport(Glibc)
import Glibc
#endif

/// `culprit-testkit oracle CALL...`: asks the seccomp oracle about each CALL and prints one
/// line per call, `CALL ANSWER`, then `batch children=N notifications=N us=N`. CALL is a
/// syscall name or number, optionally with arguments: `clone:0x10000000`, `socket:16,3,0`.
enum OracleDemo {
  static func run(_ args: [String]) -> Never {
    var calls: [OracleCall] = []
    for spec in args {
      let parts = spec.split(separator: ":", maxSplits: 1).map(String.init)
      guard let nr = Int(parts[0]) ?? SeccompFilter.resolve(parts[0]).map(Int.init) else { fail("unknown syscall \(parts[0])") }
      var arguments: [UInt64] = []
      if parts.count == 2 {
        for a in parts[1].split(separator: ",") {
          let text = String(a)
          let value = text.hasPrefix("0x") ? UInt64(text.dropFirst(2), radix: 16) : UInt64(text) ?? Int64(text).map { UInt64(bitPattern: $0) }
          guard let value else { fail("bad argument \(text)") }
          arguments.append(value)
        }
      }
      guard arguments.count <= 6 else { fail("\(spec): at most six arguments") }
      calls.append(OracleCall(number: nr, arguments: arguments))
    }
    let batch = SeccompOracle.ask(calls, milliseconds: 5000)
    var out = ""
    for (spec, answer) in zip(args, batch.answers) { out += "\(spec) \(answer)\n" }
    out += "batch children=\(batch.children) notifications=\(batch.notifications) us=\(batch.elapsedMicroseconds)"
    if let why = batch.unavailable { out += " unavailable=\(why)" }
    print(out)
    exit(0)
  }
}
