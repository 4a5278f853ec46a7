import CCulprit

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// An IPv4 or IPv6 address with a port, as a nameserver line or a DNS answer gives it.
public struct SocketAddress: Equatable, Hashable, Sendable, CustomStringConvertible {
  public enum Family: String, Sendable { case ipv4, ipv6 }

  public var family: Family
  /// 4 or 16 bytes, network order.
  public var bytes: [UInt8]
  public var port: UInt16
  /// The IPv6 scope (interface index) of a link-local address ("fe80::1%eth0"), or 0.
  public var scopeID: UInt32

  public init(family: Family, bytes: [UInt8], port: UInt16 = 53, scopeID: UInt32 = 0) {
    self.family = family
    self.bytes = bytes
    self.port = port
    self.scopeID = scopeID
  }

  /// Parses "10.0.0.1", "::1" or "fe80::1%eth0" with inet_pton(3) (an interface name is looked
  /// up with if_nametoindex(3)); nil for anything else.
  public init?(parsing text: String, port: UInt16 = 53) {
    var address = Substring(text)
    var scope: UInt32 = 0
    if let percent = text.firstIndex(of: "%") {
      address = text[..<percent]
      let name = String(text[text.index(after: percent)...])
      scope = UInt32(name) ?? if_nametoindex(name)
    }
    var four = [UInt8](repeating: 0, count: 4)
    if !address.contains(":"), inet_pton(AF_INET, String(address), &four) == 1 {
      self.init(family: .ipv4, bytes: four, port: port)
      return
    }
    var sixteen = [UInt8](repeating: 0, count: 16)
    if inet_pton(AF_INET6, String(address), &sixteen) == 1 {
      self.init(family: .ipv6, bytes: sixteen, port: port, scopeID: scope)
      return
    }
    return nil
  }

  /// The address in its usual text form (inet_ntop(3)): "127.0.0.1", "::1".
  public var host: String {
    var buffer = [CChar](repeating: 0, count: 64)
    let family = self.family == .ipv4 ? AF_INET : AF_INET6
    guard inet_ntop(family, bytes, &buffer, 64) != nil else { return "?" }
    return String(decoding: buffer.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)
  }

  /// "127.0.0.1:53", "[::1]:53".
  public var description: String { family == .ipv4 ? "\(host):\(port)" : "[\(host)]:\(port)" }

  /// Whether it is in 127.0.0.0/8 or ::1.
  public var isLoopback: Bool {
    family == .ipv4 ? bytes[0] == 127 : bytes == [UInt8](repeating: 0, count: 15) + [1]
  }
}

/// A failed getaddrinfo(3): its EAI_* code and, for EAI_SYSTEM, the errno.
public struct AddressLookupError: Error, Equatable, Sendable, CustomStringConvertible {
  public var code: Int32
  public var errno: Errno?

  public init(code: Int32, errno: Errno? = nil) {
    self.code = code
    self.errno = errno
  }

  /// Names of the EAI_* codes (glibc resolv/netdb.h; musl uses the same numbers).
  static let names: [Int32: String] = [
    -1: "EAI_BADFLAGS", -2: "EAI_NONAME", -3: "EAI_AGAIN", -4: "EAI_FAIL", -5: "EAI_NODATA",
    -6: "EAI_FAMILY", -7: "EAI_SOCKTYPE", -8: "EAI_SERVICE", -9: "EAI_ADDRFAMILY", -10: "EAI_MEMORY",
    -11: "EAI_SYSTEM", -12: "EAI_OVERFLOW",
  ]

  public static let noName: Int32 = -2
  public static let again: Int32 = -3
  public static let fail: Int32 = -4
  public static let noData: Int32 = -5
  public static let system: Int32 = -11

  /// "EAI_AGAIN", or "EAI -42" for a code the table lacks.
  public var name: String { AddressLookupError.names[code] ?? "EAI \(code)" }

  /// gai_strerror(3)'s text for glibc's codes.
  public var message: String {
    switch code {
    case -2: return "Name or service not known"
    case -3: return "Temporary failure in name resolution"
    case -4: return "Non-recoverable failure in name resolution"
    case -5: return "No address associated with hostname"
    case -10: return "Memory allocation failure"
    case -11: return "System error"
    default: return "getaddrinfo error"
    }
  }

  /// "EAI_AGAIN (Temporary failure in name resolution)"; EAI_SYSTEM adds the errno.
  public var description: String {
    "\(name) (\(message))" + (errno.map { " with errno \($0.name)" } ?? "")
  }
}

extension Sys {
  /// getaddrinfo(name, NULL, {AF_UNSPEC, SOCK_STREAM}) as curl calls it: the addresses in the
  /// order returned, without duplicates, or the EAI_* code (with errno for EAI_SYSTEM).
  public static func resolve(_ name: String) -> Result<[SocketAddress], AddressLookupError> {
    var hints = addrinfo()
    hints.ai_family = AF_UNSPEC
    hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
    var list: UnsafeMutablePointer<addrinfo>?
    errno = 0
    let code = getaddrinfo(name, nil, &hints, &list)
    let savedErrno = errno
    if code != 0 {
      return .failure(
        AddressLookupError(code: code, errno: code == AddressLookupError.system ? Errno(rawValue: savedErrno) : nil))
    }
    defer { freeaddrinfo(list) }
    var addresses: [SocketAddress] = []
    var entry = list
    while let current = entry {
      if let sa = current.pointee.ai_addr {
        var address: SocketAddress?
        if current.pointee.ai_family == AF_INET {
          address = sa.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { sin in
            withUnsafeBytes(of: sin.pointee.sin_addr) { SocketAddress(family: .ipv4, bytes: Array($0), port: 0) }
          }
        } else if current.pointee.ai_family == AF_INET6 {
          address = sa.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { sin6 in
            withUnsafeBytes(of: sin6.pointee.sin6_addr) { SocketAddress(family: .ipv6, bytes: Array($0), port: 0) }
          }
        }
        if let address, !addresses.contains(address) { addresses.append(address) }
      }
      entry = current.pointee.ai_next
    }
    return .success(addresses)
  }

  /// socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0).
  public static func udpSocket(_ family: SocketAddress.Family) -> Result<Int32, Errno> {
    let domain = family == .ipv4 ? AF_INET : AF_INET6
    return once { socket(domain, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0) }
  }

  /// A flag bit that socket(2) does not know (neither SOCK_NONBLOCK nor SOCK_CLOEXEC).
  static let unknownSocketTypeFlag: Int32 = 0x100

  /// socket(family, SOCK_DGRAM | 0x100, 0): __sys_socket_create refuses the unknown type flag
  /// with EINVAL before the socket is created and before any LSM hook runs, so EINVAL means the
  /// call reached the kernel (seccomp allowed it) and anything else came from a filter.
  public static func udpSocketWithUnknownFlag(_ family: SocketAddress.Family) -> Result<Int32, Errno> {
    let domain = family == .ipv4 ? AF_INET : AF_INET6
    let result = once { socket(domain, Int32(SOCK_DGRAM.rawValue) | unknownSocketTypeFlag, 0) }
    if case .success(let fd) = result { close(fd) }
    return result
  }

  /// connect(2) of a datagram socket: fixes the peer so that an ICMP "port unreachable" comes
  /// back as ECONNREFUSED on the next receive.
  public static func connect(_ fd: Int32, to address: SocketAddress) -> Result<Void, Errno> {
    switch address.family {
    case .ipv4:
      var sin = sockaddr_in()
      sin.sin_family = sa_family_t(AF_INET)
      sin.sin_port = address.port.bigEndian
      withUnsafeMutableBytes(of: &sin.sin_addr) { $0.copyBytes(from: address.bytes) }
      return withUnsafePointer(to: &sin) { pointer in
        pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { sa in
          retrying { Glibc.connect(fd, sa, socklen_t(MemoryLayout<sockaddr_in>.size)) }.map { _ in () }
        }
      }
    case .ipv6:
      var sin6 = sockaddr_in6()
      sin6.sin6_family = sa_family_t(AF_INET6)
      sin6.sin6_port = address.port.bigEndian
      sin6.sin6_scope_id = address.scopeID
      withUnsafeMutableBytes(of: &sin6.sin6_addr) { $0.copyBytes(from: address.bytes) }
      return withUnsafePointer(to: &sin6) { pointer in
        pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { sa in
          retrying { Glibc.connect(fd, sa, socklen_t(MemoryLayout<sockaddr_in6>.size)) }.map { _ in () }
        }
      }
    }
  }

  /// send(2) of one datagram on a connected socket.
  public static func send(_ fd: Int32, _ bytes: [UInt8]) -> Result<Int, Errno> {
    bytes.withUnsafeBytes { raw in retrying { Glibc.send(fd, raw.baseAddress, raw.count, 0) } }
  }

  /// recv(2) of one datagram (up to `limit` bytes) on a non-blocking socket; EAGAIN when none is
  /// waiting.
  public static func receive(_ fd: Int32, limit: Int = 4096) -> Result<[UInt8], Errno> {
    var buffer = [UInt8](repeating: 0, count: limit)
    let result = buffer.withUnsafeMutableBytes { raw in retrying { recv(fd, raw.baseAddress, raw.count, 0) } }
    return result.map { Array(buffer[0..<$0]) }
  }

  /// ppoll(2) for input on `fds` for at most `nanoseconds`: which descriptors are ready (input,
  /// an error such as a queued ICMP "port unreachable", or hang-up).
  public static func pollReadable(_ fds: [Int32], nanoseconds: UInt64) -> Result<[Bool], Errno> {
    guard !fds.isEmpty else { return .success([]) }
    var set = fds.map { pollfd(fd: $0, events: Int16(POLLIN), revents: 0) }
    let timeout = Int(min(nanoseconds, UInt64(Int.max)))
    let result = set.withUnsafeMutableBufferPointer { buffer in
      once { Int(culprit_ppoll(buffer.baseAddress!, UInt(buffer.count), timeout)) }
    }
    return result.map { _ in set.map { $0.revents != 0 } }
  }
}

/// What `TCP_INFO` (linux/tcp.h struct tcp_info) says about a connection: read from the raw
/// bytes at the kernel's fixed offsets, so that no header version matters.
public struct TCPInfo: Equatable, Sendable {
  /// TCP state (include/net/tcp_states.h): 1 ESTABLISHED, 2 SYN_SENT, 7 CLOSE, …
  public var state: Int
  /// Retransmissions of the current segment (icsk_retransmits: the SYN's, while SYN_SENT).
  public var retransmits: Int
  public var totalRetransmits: Int
  /// Milliseconds since the last data arrived.
  public var lastDataReceivedMilliseconds: Int
  /// The MSS this side sends with and the path MTU the kernel believes.
  public var sendMSS: Int
  /// The largest segment the peer has sent us (tcpi_rcv_mss, capped at the MSS we announced).
  public var receiveMSS: Int = 0
  public var pathMTU: Int
  public var rttMicroseconds: Int

  public static let synSent = 2
  public static let established = 1

  public static func stateName(_ state: Int) -> String {
    ["?", "ESTABLISHED", "SYN_SENT", "SYN_RECV", "FIN_WAIT1", "FIN_WAIT2", "TIME_WAIT", "CLOSE", "CLOSE_WAIT",
     "LAST_ACK", "LISTEN", "CLOSING"].indices.contains(state)
      ? ["?", "ESTABLISHED", "SYN_SENT", "SYN_RECV", "FIN_WAIT1", "FIN_WAIT2", "TIME_WAIT", "CLOSE", "CLOSE_WAIT",
         "LAST_ACK", "LISTEN", "CLOSING"][state] : "STATE \(state)"
  }

  /// Parses the bytes getsockopt(TCP_INFO) filled; nil when fewer than 104.
  public init?(bytes: [UInt8]) {
    guard bytes.count >= 104 else { return nil }
    func u32(_ at: Int) -> Int { Int(bytes[at]) | Int(bytes[at + 1]) << 8 | Int(bytes[at + 2]) << 16 | Int(bytes[at + 3]) << 24 }
    state = Int(bytes[0])
    retransmits = Int(bytes[2])
    sendMSS = u32(16)
    receiveMSS = u32(20)
    lastDataReceivedMilliseconds = u32(52)
    pathMTU = u32(60)
    rttMicroseconds = u32(68)
    totalRetransmits = u32(100)
  }

  public init(state: Int, retransmits: Int, totalRetransmits: Int = 0, lastDataReceivedMilliseconds: Int = 0, sendMSS: Int = 0, receiveMSS: Int = 0, pathMTU: Int = 0, rttMicroseconds: Int = 0) {
    self.state = state
    self.receiveMSS = receiveMSS
    self.retransmits = retransmits
    self.totalRetransmits = totalRetransmits
    self.lastDataReceivedMilliseconds = lastDataReceivedMilliseconds
    self.sendMSS = sendMSS
    self.pathMTU = pathMTU
    self.rttMicroseconds = rttMicroseconds
  }
}

/// One entry of a socket's error queue (ip(7) IP_RECVERR, struct sock_extended_err): for an
/// ICMP error, its type, code and the address of the host that sent it.
public struct QueuedSocketError: Equatable, Sendable {
  public var errno: Errno
  /// SO_EE_ORIGIN_*: 2 ICMP, 3 ICMPv6, 1 local.
  public var origin: Int
  public var type: Int
  public var code: Int
  /// The sender of the ICMP error (SO_EE_OFFENDER), when the kernel gave one.
  public var sender: String?
  /// ee_info: for "fragmentation needed" the next hop's MTU.
  public var info: Int

  public init(errno: Errno, origin: Int, type: Int, code: Int, sender: String?, info: Int = 0) {
    self.errno = errno
    self.origin = origin
    self.type = type
    self.code = code
    self.sender = sender
    self.info = info
  }
}

extension Sys {
  /// socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0).
  public static func tcpSocket(_ family: SocketAddress.Family) -> Result<Int32, Errno> {
    let domain = family == .ipv4 ? AF_INET : AF_INET6
    return once { socket(domain, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0) }
  }

  /// socket(family, SOCK_STREAM | 0x100, 0): EINVAL from the kernel before any LSM hook, so
  /// anything else is a seccomp filter's answer (the discriminating call, field-facts §0).
  public static func tcpSocketWithUnknownFlag(_ family: SocketAddress.Family) -> Errno? {
    let domain = family == .ipv4 ? AF_INET : AF_INET6
    let result = once { socket(domain, Int32(SOCK_STREAM.rawValue) | unknownSocketTypeFlag, 0) }
    if case .success(let fd) = result { close(fd) }
    return result.failure
  }

  /// connect(-1, address): the kernel answers EBADF before anything else (no LSM hook runs
  /// without a socket), so another errno is a seccomp filter's.
  public static func connectWithBadDescriptor(_ address: SocketAddress) -> Errno? {
    connect(-1, to: address).failure
  }

  static func setIntOption(_ fd: Int32, _ level: Int32, _ name: Int32, _ value: Int32) -> Result<Void, Errno> {
    var v = value
    return once { setsockopt(fd, level, name, &v, socklen_t(MemoryLayout<Int32>.size)) }.map { _ in () }
  }

  /// IP_RECVERR (IPv4) or IPV6_RECVERR: queue ICMP errors with their type, code and sender,
  /// to be read with MSG_ERRQUEUE.
  public static func enableErrorQueue(_ fd: Int32, _ family: SocketAddress.Family) -> Result<Void, Errno> {
    family == .ipv4 ? setIntOption(fd, 0 /* IPPROTO_IP */, 11 /* IP_RECVERR */, 1)
      : setIntOption(fd, 41 /* IPPROTO_IPV6 */, 25 /* IPV6_RECVERR */, 1)
  }

  /// TCP_MAXSEG before connect: the MSS this side announces, so the peer sends no bigger
  /// segments.
  public static func setMaximumSegment(_ fd: Int32, _ mss: Int) -> Result<Void, Errno> {
    setIntOption(fd, 6 /* IPPROTO_TCP */, 2 /* TCP_MAXSEG */, Int32(mss))
  }

  /// getsockopt(SO_ERROR): the pending error of a non-blocking connect, nil when none.
  public static func pendingError(_ fd: Int32) -> Errno? {
    var value: Int32 = 0
    var length = socklen_t(MemoryLayout<Int32>.size)
    guard getsockopt(fd, SOL_SOCKET, SO_ERROR, &value, &length) == 0 else { return Errno.current }
    return value == 0 ? nil : Errno(rawValue: value)
  }

  /// getsockopt(TCP_INFO).
  public static func tcpInfo(_ fd: Int32) -> TCPInfo? {
    var bytes = [UInt8](repeating: 0, count: 256)
    var length = socklen_t(bytes.count)
    guard getsockopt(fd, 6 /* IPPROTO_TCP */, 11 /* TCP_INFO */, &bytes, &length) == 0 else { return nil }
    return TCPInfo(bytes: Array(bytes.prefix(Int(length))))
  }

  /// recvmsg(MSG_ERRQUEUE | MSG_DONTWAIT) until the queue is empty: the ICMP errors queued.
  public static func readErrorQueue(_ fd: Int32) -> [QueuedSocketError] {
    var found: [QueuedSocketError] = []
    for _ in 0..<8 {
      var data = [UInt8](repeating: 0, count: 512)
      var control = [UInt8](repeating: 0, count: 512)
      var name = [UInt8](repeating: 0, count: 128)
      let (received, controlLength): (Int, Int) = data.withUnsafeMutableBytes { dataRaw in
        control.withUnsafeMutableBytes { controlRaw in
          name.withUnsafeMutableBytes { nameRaw in
            var vector = iovec(iov_base: dataRaw.baseAddress, iov_len: dataRaw.count)
            return withUnsafeMutablePointer(to: &vector) { iov in
              var message = msghdr()
              message.msg_name = nameRaw.baseAddress
              message.msg_namelen = socklen_t(nameRaw.count)
              message.msg_iov = iov
              message.msg_iovlen = 1
              message.msg_control = controlRaw.baseAddress
              message.msg_controllen = controlRaw.count
              let n = recvmsg(fd, &message, Int32(MSG_ERRQUEUE) | Int32(MSG_DONTWAIT))
              return (n, Int(message.msg_controllen))
            }
          }
        }
      }
      guard received >= 0 else { break }
      // struct cmsghdr on LP64: cmsg_len (8), cmsg_level (4), cmsg_type (4), data 8-aligned.
      var offset = 0
      while offset + 16 <= controlLength {
        func u32(_ at: Int) -> Int { Int(control[at]) | Int(control[at + 1]) << 8 | Int(control[at + 2]) << 16 | Int(control[at + 3]) << 24 }
        let length = u32(offset)
        guard length >= 16 else { break }
        let level = u32(offset + 8)
        let type = u32(offset + 12)
        let at = offset + 16
        if (level == 0 && type == 11) || (level == 41 && type == 25), at + 16 <= controlLength {
          let err = Errno(rawValue: Int32(u32(at)))
          var sender: String?
          let sa = at + 16
          if sa + 8 <= controlLength {
            let family = Int(control[sa]) | Int(control[sa + 1]) << 8
            if family == Int(AF_INET) {
              sender = SocketAddress(family: .ipv4, bytes: Array(control[(sa + 4)..<(sa + 8)])).host
            } else if family == Int(AF_INET6), sa + 24 <= controlLength {
              sender = SocketAddress(family: .ipv6, bytes: Array(control[(sa + 8)..<(sa + 24)])).host
            }
          }
          found.append(
            QueuedSocketError(
              errno: err, origin: Int(control[at + 4]), type: Int(control[at + 5]), code: Int(control[at + 6]),
              sender: sender, info: u32(at + 8)))
        }
        offset += (length + 7) & ~7
      }
    }
    return found
  }

  /// ppoll(2) on `fds` with their `events` for at most `nanoseconds`: each one's revents.
  public static func poll(_ fds: [(fd: Int32, events: Int16)], nanoseconds: UInt64) -> [Int16] {
    guard !fds.isEmpty else { return [] }
    var set = fds.map { pollfd(fd: $0.fd, events: $0.events, revents: 0) }
    let timeout = Int(min(nanoseconds, UInt64(Int.max)))
    let result = set.withUnsafeMutableBufferPointer { buffer in
      once { Int(culprit_ppoll(buffer.baseAddress!, UInt(buffer.count), timeout)) }
    }
    guard case .success = result else { return fds.map { _ in 0 } }
    return set.map(\.revents)
  }

  /// send(2) with MSG_NOSIGNAL | MSG_DONTWAIT: how many bytes went.
  public static func sendStream(_ fd: Int32, _ bytes: [UInt8]) -> Result<Int, Errno> {
    bytes.withUnsafeBytes { raw in
      retrying { Glibc.send(fd, raw.baseAddress, raw.count, Int32(MSG_NOSIGNAL) | Int32(MSG_DONTWAIT)) }
    }
  }
}

extension Sys {
  public static let pollIn = Int16(POLLIN)
  public static let pollOut = Int16(POLLOUT)

  /// recv(2) with MSG_DONTWAIT of up to `limit` bytes on a stream socket; empty at EOF.
  public static func receiveStream(_ fd: Int32, limit: Int = 16_384) -> Result<[UInt8], Errno> {
    var buffer = [UInt8](repeating: 0, count: limit)
    let result = buffer.withUnsafeMutableBytes { raw in retrying { recv(fd, raw.baseAddress, raw.count, Int32(MSG_DONTWAIT)) } }
    return result.map { Array(buffer[0..<$0]) }
  }
}
