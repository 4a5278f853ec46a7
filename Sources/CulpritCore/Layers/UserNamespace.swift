/// The user namespace: uid/gid maps (user_namespaces(7)).
public struct UserNamespaceState: Sendable {
  public struct Range: Equatable, Sendable {
    public var inside: UInt64
    public var outside: UInt64
    public var count: UInt64
  }

  public var uidMap: [Range]?
  public var gidMap: [Range]?
  /// /proc/self/setgroups: "allow" or "deny".
  public var setgroups: String?
  /// /proc/self/ns/user is user:[4026531837] (PROC_USER_INIT_INO).
  public var namespaceLink: String?
  public var evidence: [String]

  static let initialNamespaceInode = "4026531837"

  /// The initial user namespace maps 0 0 4294967295 (runc libcontainer/userns); nil when
  /// neither the map nor the namespace link can be read.
  public var isInitial: Bool? {
    if let uidMap { return uidMap == [Range(inside: 0, outside: 0, count: 4_294_967_295)] }
    if let namespaceLink { return namespaceLink.contains(UserNamespaceState.initialNamespaceInode) }
    return nil
  }

  /// The ranges of a uid_map or gid_map; lines that are not three 32-bit numbers are skipped.
  public static func parseMap(_ text: String) -> [Range] {
    text.split(separator: "\n").compactMap(parseLine)
  }

  /// One "inside outside count" line. The kernel's ids are 32-bit (count up to 4294967295).
  static func parseLine(_ line: Substring) -> Range? {
    let parts = line.split(separator: " ")
    guard parts.count == 3, let a = UInt32(parts[0]), let b = UInt32(parts[1]), let c = UInt32(parts[2]) else {
      return nil
    }
    return Range(inside: UInt64(a), outside: UInt64(b), count: UInt64(c))
  }

  static func describe(_ ranges: [Range]) -> String {
    ranges.isEmpty ? "(empty: no ids mapped)" : ranges.map { "\($0.inside) \($0.outside) \($0.count)" }.joined(separator: "; ")
  }

  public static func read(_ source: SystemSource) -> UserNamespaceState {
    var evidence: [String] = []
    func map(_ path: String) -> [Range]? {
      switch source.readText(path) {
      case .success(let text):
        let lines = text.split(separator: "\n").filter { !$0.allSatisfy { $0 == " " } }
        let ranges = lines.compactMap(parseLine)
        guard ranges.count == lines.count else {
          let bad = lines.first { parseLine($0) == nil }!.split(separator: " ").joined(separator: " ")
          evidence.append("\(path) holds \"\(bad)\", not an \"inside outside count\" line of 32-bit ids: the map is not used.")
          return nil
        }
        evidence.append("\(path): \(describe(ranges)).")
        return ranges
      case .failure(let err):
        evidence.append("\(path) could not be read: \(err.name).")
        return nil
      }
    }
    let uid = map("/proc/self/uid_map")
    let gid = map("/proc/self/gid_map")
    // The kernel writes "allow" or "deny"; anything else is not a value (found by scripts/fuzz.sh).
    var setgroups = source.readLine("/proc/self/setgroups")
    if let text = setgroups, text != "allow", text != "deny" {
      evidence.append("/proc/self/setgroups holds neither allow nor deny (\(text.prefix(40).debugDescription)).")
      setgroups = nil
    }
    let link = source.readLink("/proc/self/ns/user").value
    if let link { evidence.append("/proc/self/ns/user is \(link).") }
    return UserNamespaceState(uidMap: uid, gidMap: gid, setgroups: setgroups, namespaceLink: link, evidence: evidence)
  }
}
