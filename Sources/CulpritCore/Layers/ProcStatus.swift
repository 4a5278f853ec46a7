/// The fields of /proc/self/status ("Name:\tvalue" lines), as proc(5) documents them.
public struct ProcStatus: Sendable {
  public static let path = "/proc/self/status"
  public var fields: [String: String]

  /// Parses the text of a status file. Lines without a colon are ignored.
  public static func parse(_ text: String) -> ProcStatus {
    var fields: [String: String] = [:]
    for line in text.split(separator: "\n") {
      guard let colon = line.firstIndex(of: ":") else { continue }
      let key = String(line[..<colon])
      fields[key] = line[line.index(after: colon)...].trimmed()
    }
    return ProcStatus(fields: fields)
  }

  public static func read(_ source: SystemSource) -> Result<ProcStatus, Errno> {
    source.readText(path).map(parse)
  }

  public subscript(key: String) -> String? { fields[key] }

  /// A hexadecimal field such as CapEff.
  public func hex(_ key: String) -> UInt64? { fields[key].flatMap { UInt64($0, radix: 16) } }

  /// A decimal field such as Seccomp.
  public func int(_ key: String) -> Int? { fields[key].flatMap { Int($0) } }
}
