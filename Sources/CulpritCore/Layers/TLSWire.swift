/// The two TLS messages the egress probe needs (RFC 8446 §4.1.2, §5.1): a ClientHello that any
/// TLS 1.2 or 1.3 server answers, and a reader for the first record that comes back. Pure: no
/// sockets, no cryptography — the probe only asks whether a ServerHello returns.
public enum TLSWire {
  /// A ClientHello offering TLS 1.3 and 1.2 with the usual suites and groups, SNI for a DNS
  /// name, and an x25519 key share of `seed`-derived bytes (any 32 bytes are a valid x25519
  /// public value; no secret is ever derived from it).
  public static func clientHello(serverName: String?, seed: UInt64) -> [UInt8] {
    var state = seed | 1
    func random(_ count: Int) -> [UInt8] {
      (0..<count).map { _ in
        state ^= state << 13
        state ^= state >> 7
        state ^= state << 17
        return UInt8(truncatingIfNeeded: state)
      }
    }
    func u16(_ v: Int) -> [UInt8] { [UInt8(v >> 8 & 0xff), UInt8(v & 0xff)] }
    func u24(_ v: Int) -> [UInt8] { [UInt8(v >> 16 & 0xff), UInt8(v >> 8 & 0xff), UInt8(v & 0xff)] }
    func ext(_ type: Int, _ data: [UInt8]) -> [UInt8] { u16(type) + u16(data.count) + data }

    var extensions: [UInt8] = []
    if let serverName, !serverName.isEmpty, SocketAddress(parsing: serverName) == nil {
      let name = Array(serverName.utf8)
      extensions += ext(0x0000, u16(name.count + 3) + [0] + u16(name.count) + name)
    }
    let groups = [0x001d, 0x0017, 0x0018].flatMap(u16)
    extensions += ext(0x000a, u16(groups.count) + groups)
    extensions += ext(0x000b, [1, 0])
    let signatures = [0x0403, 0x0804, 0x0401, 0x0503, 0x0805, 0x0501, 0x0806, 0x0601].flatMap(u16)
    extensions += ext(0x000d, u16(signatures.count) + signatures)
    extensions += ext(0x002b, [4] + u16(0x0304) + u16(0x0303))
    extensions += ext(0x002d, [1, 1])
    let share = u16(0x001d) + u16(32) + random(32)
    extensions += ext(0x0033, u16(share.count) + share)

    let suites = [0x1301, 0x1302, 0x1303, 0xc02b, 0xc02f, 0xc02c, 0xc030, 0xcca9, 0xcca8, 0x009c, 0x009d].flatMap(u16)
    var body: [UInt8] = u16(0x0303) + random(32) + [32] + random(32)
    body += u16(suites.count) + suites + [1, 0]
    body += u16(extensions.count) + extensions
    let handshake = [1] + u24(body.count) + body
    return [0x16, 0x03, 0x01] + u16(handshake.count) + handshake
  }

  /// What the first bytes of the server's reply are.
  public enum Reply: Equatable, Sendable {
    /// A handshake record starting with a ServerHello.
    case serverHello
    /// An alert record: its level and description (70 protocol_version, 40 handshake_failure).
    case alert(level: Int, description: Int)
    /// Not TLS (an HTTP answer on a TLS port, a captive portal): the first bytes as text.
    case notTLS(String)
    /// Fewer than 6 bytes so far.
    case incomplete
  }

  public static func parseReply(_ bytes: [UInt8]) -> Reply {
    guard bytes.count >= 6 else { return .incomplete }
    if bytes[0] == 0x16 && bytes[1] == 0x03 && bytes[5] == 0x02 { return .serverHello }
    if bytes[0] == 0x15 && bytes[1] == 0x03 && bytes.count >= 7 { return .alert(level: Int(bytes[5]), description: Int(bytes[6])) }
    if bytes[0] == 0x15 { return bytes.count >= 7 ? .alert(level: Int(bytes[5]), description: Int(bytes[6])) : .incomplete }
    let text = String(decoding: bytes.prefix(40).map { $0 >= 0x20 && $0 < 0x7f ? $0 : 0x2e }, as: UTF8.self)
    return .notTLS(text)
  }
}
