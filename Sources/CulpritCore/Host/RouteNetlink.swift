#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// The few rtnetlink messages `--reproduce cni` needs: IPv4 addresses added to and removed
/// from an interface (the churn), and an address dump that tells whether the kernel flagged it
/// NLM_F_DUMP_INTR (the address list changed while it was being dumped: what vishvananda/netlink
/// v1.3.0 turns into EINTR).
public enum RouteNetlink {
  static let rtmNewAddr: UInt16 = 20
  static let rtmDelAddr: UInt16 = 21
  static let rtmGetAddr: UInt16 = 22
  static let nlmsgError: UInt16 = 2
  static let nlmsgDone: UInt16 = 3
  static let flagRequest: UInt16 = 0x1
  static let flagAck: UInt16 = 0x4
  static let flagExcl: UInt16 = 0x200
  static let flagCreate: UInt16 = 0x400
  static let flagDump: UInt16 = 0x300
  /// NLM_F_DUMP_INTR: "Dump was inconsistent due to sequence change" (include/uapi/linux/netlink.h).
  public static let flagDumpInterrupted: UInt16 = 0x10

  /// A NETLINK_ROUTE socket (close-on-exec), or the errno.
  public static func open() -> Result<Int32, Errno> {
    let fd = socket(16 /* AF_NETLINK */, Int32(SOCK_RAW.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0 /* NETLINK_ROUTE */)
    return fd < 0 ? .failure(.current) : .success(fd)
  }

  static func append32(_ bytes: inout [UInt8], _ value: UInt32) {
    withUnsafeBytes(of: value.littleEndian) { bytes += $0 }
  }

  static func append16(_ bytes: inout [UInt8], _ value: UInt16) {
    withUnsafeBytes(of: value.littleEndian) { bytes += $0 }
  }

  /// nlmsghdr + ifaddrmsg (+ IFA_LOCAL and IFA_ADDRESS for an address).
  static func message(type: UInt16, flags: UInt16, seq: UInt32, index: UInt32, address: [UInt8]?) -> [UInt8] {
    var body: [UInt8] = [2 /* AF_INET */, address == nil ? 0 : 32, 0, 0 /* RT_SCOPE_UNIVERSE */]
    append32(&body, index)
    if let address {
      for attribute: UInt16 in [2 /* IFA_LOCAL */, 1 /* IFA_ADDRESS */] {
        append16(&body, 8)
        append16(&body, attribute)
        body += address
      }
    }
    var out: [UInt8] = []
    append32(&out, UInt32(16 + body.count))
    append16(&out, type)
    append16(&out, flags)
    append32(&out, seq)
    append32(&out, 0)
    return out + body
  }

  /// Adds (or removes) the IPv4 address `address`/32 on interface `index`, not waiting for the
  /// kernel's answer (an error, if any, is queued on the socket and drained by `drain`).
  @discardableResult
  public static func changeAddress(_ fd: Int32, add: Bool, index: UInt32, address: [UInt8], seq: UInt32) -> Bool {
    let bytes = message(
      type: add ? rtmNewAddr : rtmDelAddr, flags: add ? flagRequest | flagCreate | flagExcl : flagRequest,
      seq: seq, index: index, address: address)
    return bytes.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, 0) } == bytes.count
  }

  /// Reads and drops whatever is queued on the socket, without blocking.
  public static func drain(_ fd: Int32) {
    var buffer = [UInt8](repeating: 0, count: 65536)
    while buffer.withUnsafeMutableBytes({ recv(fd, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT)) }) > 0 {}
  }

  /// One address dump's outcome.
  public struct Dump: Equatable, Sendable {
    /// Addresses it listed.
    public var addresses: Int
    /// Whether any of its messages (or its NLMSG_DONE) carried NLM_F_DUMP_INTR.
    public var interrupted: Bool
    /// The errno of a failed send or receive, or of an NLMSG_ERROR answer.
    public var error: Errno?
  }

  /// RTM_GETADDR with NLM_F_DUMP for IPv4, read to NLMSG_DONE.
  public static func dumpAddresses(_ fd: Int32, seq: UInt32) -> Dump {
    var dump = Dump(addresses: 0, interrupted: false, error: nil)
    let request = message(type: rtmGetAddr, flags: flagRequest | flagDump, seq: seq, index: 0, address: nil)
    guard request.withUnsafeBytes({ send(fd, $0.baseAddress, $0.count, 0) }) == request.count else {
      dump.error = .current
      return dump
    }
    var buffer = [UInt8](repeating: 0, count: 65536)
    while true {
      let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
      if n < 0 {
        if errno == EINTR { continue }
        dump.error = .current
        return dump
      }
      if n == 0 { return dump }
      var offset = 0
      while offset + 16 <= n {
        func u32(_ at: Int) -> UInt32 { UInt32(buffer[at]) | UInt32(buffer[at + 1]) << 8 | UInt32(buffer[at + 2]) << 16 | UInt32(buffer[at + 3]) << 24 }
        let length = Int(u32(offset))
        let type = UInt16(buffer[offset + 4]) | UInt16(buffer[offset + 5]) << 8
        let flags = UInt16(buffer[offset + 6]) | UInt16(buffer[offset + 7]) << 8
        let messageSeq = u32(offset + 8)
        guard length >= 16, offset + length <= n else { break }
        if messageSeq == seq {
          if flags & flagDumpInterrupted != 0 { dump.interrupted = true }
          if type == nlmsgDone { return dump }
          if type == nlmsgError {
            let code = Int32(bitPattern: u32(offset + 16))
            if code != 0 { dump.error = Errno(rawValue: -code) }
            return dump
          }
          if type == rtmNewAddr { dump.addresses += 1 }
        }
        offset += (length + 3) & ~3
      }
    }
  }

  /// The address the churn uses for its `n`th change: 127.13.x.y, a loopback address (the
  /// loopback plugin refuses a non-loopback address on lo).
  public static func churnAddress(_ n: Int) -> [UInt8] {
    let k = n % 4000
    return [127, 13, UInt8(k / 250), UInt8(k % 250 + 1)]
  }
}
