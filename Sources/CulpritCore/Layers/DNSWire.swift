/// The few pieces of the DNS wire format (RFC 1035 §4) that the getaddrinfo probe needs to ask a
/// nameserver one question itself: encoding a query and reading the header and the A/AAAA
/// answers of a response. Pure: no sockets here.
public enum DNSWire {
  /// Record types the probe asks for (RFC 1035 §3.2.2, RFC 3596).
  public enum RecordType: UInt16, Sendable {
    case a = 1
    case ns = 2
    case aaaa = 28

    public var name: String {
      switch self {
      case .a: return "A"
      case .ns: return "NS"
      case .aaaa: return "AAAA"
      }
    }
  }

  /// Response codes (RFC 1035 §4.1.1) by number.
  public static func rcodeName(_ rcode: Int) -> String {
    switch rcode {
    case 0: return "NOERROR"
    case 1: return "FORMERR"
    case 2: return "SERVFAIL"
    case 3: return "NXDOMAIN"
    case 4: return "NOTIMP"
    case 5: return "REFUSED"
    default: return "RCODE \(rcode)"
    }
  }

  /// A query for `name` (absolute; "." or "" is the root) with recursion desired, or nil when a
  /// label is empty or longer than 63 bytes or the name longer than 255.
  public static func query(id: UInt16, name: String, type: RecordType) -> [UInt8]? {
    var message: [UInt8] = [
      UInt8(id >> 8), UInt8(id & 0xff),
      0x01, 0x00,  // QR 0, opcode 0, RD 1
      0x00, 0x01,  // QDCOUNT 1
      0x00, 0x00, 0x00, 0x00, 0x00, 0x00,  // AN, NS, AR counts
    ]
    var trimmed = Substring(name)
    if trimmed.hasSuffix(".") { trimmed = trimmed.dropLast() }
    var encodedName: [UInt8] = []
    if !trimmed.isEmpty {
      for label in trimmed.split(separator: ".", omittingEmptySubsequences: false) {
        let bytes = Array(label.utf8)
        guard !bytes.isEmpty, bytes.count <= 63 else { return nil }
        encodedName.append(UInt8(bytes.count))
        encodedName += bytes
      }
    }
    encodedName.append(0)
    guard encodedName.count <= 255 else { return nil }
    message += encodedName
    message += [UInt8(type.rawValue >> 8), UInt8(type.rawValue & 0xff), 0x00, 0x01]  // QCLASS IN
    return message
  }

  /// What a response says: its id, rcode, flags and the addresses of its A and AAAA answers.
  public struct Response: Equatable, Sendable {
    public var id: UInt16
    public var rcode: Int
    public var truncated: Bool
    public var recursionAvailable: Bool
    public var answerCount: Int
    /// A answers as 4 bytes, AAAA answers as 16, in order.
    public var addresses: [[UInt8]]

    public var rcodeName: String { DNSWire.rcodeName(rcode) }
  }

  /// Parses a response; nil when it is not one (too short, QR bit clear) or is malformed.
  public static func parseResponse(_ bytes: [UInt8]) -> Response? {
    guard bytes.count >= 12, bytes[2] & 0x80 != 0 else { return nil }
    func u16(_ at: Int) -> Int? { at + 1 < bytes.count ? Int(bytes[at]) << 8 | Int(bytes[at + 1]) : nil }
    let id = UInt16(u16(0)!)
    let rcode = Int(bytes[3] & 0x0f)
    let questions = u16(4)!
    let answers = u16(6)!
    var offset = 12
    /// Skips a possibly compressed name; nil when it runs past the end.
    func skipName(_ start: Int) -> Int? {
      var at = start
      while at < bytes.count {
        let length = Int(bytes[at])
        if length == 0 { return at + 1 }
        if length & 0xc0 == 0xc0 { return at + 2 <= bytes.count ? at + 2 : nil }
        at += 1 + length
      }
      return nil
    }
    for _ in 0..<questions {
      guard let next = skipName(offset), next + 4 <= bytes.count else { return nil }
      offset = next + 4
    }
    var addresses: [[UInt8]] = []
    for _ in 0..<answers {
      guard let next = skipName(offset), let type = u16(next), let length = u16(next + 8) else { break }
      let data = next + 10
      guard data + length <= bytes.count else { break }
      if (type == Int(RecordType.a.rawValue) && length == 4) || (type == Int(RecordType.aaaa.rawValue) && length == 16) {
        addresses.append(Array(bytes[data..<(data + length)]))
      }
      offset = data + length
    }
    return Response(
      id: id, rcode: rcode, truncated: bytes[2] & 0x02 != 0, recursionAvailable: bytes[3] & 0x80 != 0,
      answerCount: answers, addresses: addresses)
  }
}
