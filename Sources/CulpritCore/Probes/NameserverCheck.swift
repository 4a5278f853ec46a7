/// The getaddrinfo probe's own DNS questions: one small UDP query per nameserver and question,
/// all sent at once and awaited together until a deadline, so that "the server does not answer"
/// is told apart from "the name does not exist" and from a libc or thread failure.
struct NameserverCheck {
  struct Question: Equatable {
    var name: String
    var type: DNSWire.RecordType
    /// The name the person asked about that this question stands for; nil for the
    /// reachability question (". NS").
    var forName: String?
  }

  struct Answer {
    var question: Question
    /// The response's rcode, or nil when none came.
    var rcode: Int?
    var addresses: [String]
    /// Why no response came: "timeout", an errno name ("ENETUNREACH", "ECONNREFUSED"), or
    /// "malformed".
    var error: String?
    var milliseconds: Int?

    var json: JSONValue {
      [
        "name": .string(question.name), "type": .string(question.type.name), "for": .from(question.forName),
        "rcode": .from(rcode.map(DNSWire.rcodeName)), "addresses": .from(addresses), "error": .from(error),
        "ms": .from(milliseconds),
      ]
    }

    init(question: Question, rcode: Int? = nil, addresses: [String] = [], error: String? = nil, milliseconds: Int? = nil) {
      self.question = question
      self.rcode = rcode
      self.addresses = addresses
      self.error = error
      self.milliseconds = milliseconds
    }

    init?(json: JSONValue) {
      guard let name = json["name"]?.stringValue, let typeName = json["type"]?.stringValue,
        let type = [DNSWire.RecordType.a, .aaaa, .ns].first(where: { $0.name == typeName })
      else { return nil }
      question = Question(name: name, type: type, forName: json["for"]?.stringValue)
      rcode = json["rcode"]?.stringValue.flatMap { text in (0..<16).first { DNSWire.rcodeName($0) == text } }
      addresses = json["addresses"]?.arrayValue?.compactMap(\.stringValue) ?? []
      error = json["error"]?.stringValue
      milliseconds = json["ms"]?.intValue
    }
  }

  struct Server {
    var address: String
    /// socket(2) failed with this errno, so nothing was sent.
    var socketError: Errno?
    /// The discriminating socket call's answer after a socket failure: EINVAL means the call
    /// reached the kernel, anything else came from a seccomp filter.
    var socketCheck: Errno?
    var answers: [Answer]

    /// Some response came back, whatever its rcode.
    var answered: Bool { answers.contains { $0.rcode != nil } }

    /// A seccomp filter refused socket(2): the discriminating call did not get the kernel's EINVAL.
    var socketBlockedBySeccomp: Bool {
      socketError != nil && socketCheck != nil && socketCheck != .invalidArgument
    }

    var json: JSONValue {
      [
        "address": .string(address), "reachable": .bool(answered),
        "socket_error": .from(socketError?.name), "socket_check": .from(socketCheck?.name),
        "answers": .array(answers.map(\.json)),
      ]
    }

    init(address: String, socketError: Errno? = nil, socketCheck: Errno? = nil, answers: [Answer]) {
      self.address = address
      self.socketError = socketError
      self.socketCheck = socketCheck
      self.answers = answers
    }

    init?(json: JSONValue) {
      guard let address = json["address"]?.stringValue else { return nil }
      self.address = address
      socketError = json["socket_error"]?.stringValue.flatMap(Errno.init(name:))
      socketCheck = json["socket_check"]?.stringValue.flatMap(Errno.init(name:))
      answers = json["answers"]?.arrayValue?.compactMap(Answer.init(json:)) ?? []
    }
  }

  /// The names a resolver tries for `name`, in its order (resolv.conf(5) "ndots"): with fewer
  /// dots than ndots the search domains come first; a name ending in "." is tried alone.
  static func candidates(for name: String, search: [String], ndots: Int, limit: Int = 7) -> [String] {
    if name.hasSuffix(".") { return [String(name.dropLast())] }
    let dots = name.filter { $0 == "." }.count
    let searched = search.map { name + "." + ($0.hasSuffix(".") ? String($0.dropLast()) : $0) }
    let ordered = dots >= ndots ? [name] + searched : searched + [name]
    return Array(ordered.prefix(limit))
  }

  /// Sends every question to every server on its own connected UDP socket, then waits until
  /// each has a response, an error, or the deadline passes. Runs in a child process.
  static func run(
    servers: [SocketAddress], questions: [Question], deadline: UInt64, step: (String) -> Void
  ) -> [Server] {
    struct Pending {
      var fd: Int32
      var server: Int
      var answer: Int
      var id: UInt16
      var sent: UInt64
    }
    var results: [Server] = []
    var pending: [Pending] = []
    var nextID = UInt16(truncatingIfNeeded: Sys.monotonicNanoseconds() >> 10)
    for (serverIndex, server) in servers.enumerated() {
      var result = Server(address: server.host, answers: questions.map { Answer(question: $0) })
      for (questionIndex, question) in questions.enumerated() {
        step("socket(\(server.family == .ipv4 ? "AF_INET" : "AF_INET6"), SOCK_DGRAM) for \(server)")
        let opened = Sys.udpSocket(server.family)
        guard case .success(let fd) = opened else {
          let err = opened.failure!
          step("socket(\(server.family == .ipv4 ? "AF_INET" : "AF_INET6"), SOCK_DGRAM | 0x100) to tell a filter from the kernel")
          result.socketError = err
          result.socketCheck = Sys.udpSocketWithUnknownFlag(server.family).failure
          for index in result.answers.indices { result.answers[index].error = err.name }
          break
        }
        nextID &+= 1
        guard let message = DNSWire.query(id: nextID, name: question.name, type: question.type) else {
          result.answers[questionIndex].error = "invalid name"
          Sys.close(fd)
          continue
        }
        step("connect and send a DNS query to \(server)")
        if let err = Sys.connect(fd, to: server).failure ?? Sys.send(fd, message).failure {
          result.answers[questionIndex].error = err.name
          Sys.close(fd)
          continue
        }
        pending.append(Pending(fd: fd, server: serverIndex, answer: questionIndex, id: nextID, sent: Sys.monotonicNanoseconds()))
      }
      results.append(result)
    }

    step("waiting for DNS responses")
    while !pending.isEmpty {
      let now = Sys.monotonicNanoseconds()
      if now >= deadline { break }
      let ready = Sys.pollReadable(pending.map(\.fd), nanoseconds: deadline - now).value ?? []
      var done: Set<Int> = []
      for (index, entry) in pending.enumerated() where index < ready.count && ready[index] {
        let elapsed = Int((Sys.monotonicNanoseconds() - entry.sent) / 1_000_000)
        switch Sys.receive(entry.fd) {
        case .success(let bytes):
          guard let response = DNSWire.parseResponse(bytes), response.id == entry.id else {
            // Not ours (or malformed): keep waiting for the real answer.
            if DNSWire.parseResponse(bytes) == nil {
              results[entry.server].answers[entry.answer].error = "malformed"
            }
            continue
          }
          results[entry.server].answers[entry.answer].error = nil
          results[entry.server].answers[entry.answer].rcode = response.rcode
          results[entry.server].answers[entry.answer].addresses = response.addresses.map { bytes in
            SocketAddress(family: bytes.count == 4 ? .ipv4 : .ipv6, bytes: bytes).host
          }
          results[entry.server].answers[entry.answer].milliseconds = elapsed
          done.insert(index)
        case .failure(.resourceTemporarilyUnavailable), .failure(.interrupted):
          continue
        case .failure(let err):
          results[entry.server].answers[entry.answer].error = err.name
          results[entry.server].answers[entry.answer].milliseconds = elapsed
          done.insert(index)
        }
      }
      for index in done.sorted(by: >) {
        Sys.close(pending[index].fd)
        pending.remove(at: index)
      }
    }
    for entry in pending {
      if results[entry.server].answers[entry.answer].error == nil {
        results[entry.server].answers[entry.answer].error = "timeout"
      }
      Sys.close(entry.fd)
    }
    return results
  }
}
