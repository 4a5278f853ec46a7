/// A JSON document: what the report is serialised to, what a probe child sends its parent, and
/// what `diff` and `--seccomp-profile` read. Objects keep their key order, so output is stable
/// and reads in the order the model declares.
///
/// Numbers keep what their text says. A parsed integer that fits `Int` is `.int`; every other
/// parsed number (a fraction, an exponent, `-0`, an integer beyond `Int`) is `.number` holding
/// its literal text, so a reader decides exactly as Go's encoding/json does (`1.0` is not a
/// `uint`, `18446744073709551615` is) and nothing goes through a `Double` unasked. `.double` is
/// for numbers the program computes.
///
/// Why not Foundation's JSONDecoder (FoundationEssentials, already linked; using it adds only
/// 8 KiB): it decodes `1.0`, `1e2`, `-0` and `1E-400` into a `UInt`, where Docker's Go decoder
/// refuses them; it matches keys case-sensitively, where Go folds case; it loses key order;
/// and on objects it is slower (a 14 MiB profile of 32,000 rule blocks: 3.3 s against 0.5 s
/// here, both -O).
public enum JSONValue: Sendable {
  case null
  case bool(Bool)
  case int(Int)
  case double(Double)
  /// A parsed number that is not a plain `Int`, as its JSON text.
  case number(String)
  case string(String)
  case array([JSONValue])
  case object(JSONObject)
}

extension JSONValue: Equatable {
  /// Numbers are equal when their values are (`.int(1)`, `.number("1.0")`, `.double(1)`);
  /// two `.number` texts that are not exact integers compare as `Double`s.
  public static func == (lhs: JSONValue, rhs: JSONValue) -> Bool {
    switch (lhs, rhs) {
    case (.null, .null): return true
    case (.bool(let a), .bool(let b)): return a == b
    case (.string(let a), .string(let b)): return a == b
    case (.array(let a), .array(let b)): return a == b
    case (.object(let a), .object(let b)): return a == b
    case (.int(let a), .int(let b)): return a == b
    case (.number(let a), .number(let b)) where a == b: return true
    case (.int, .double), (.int, .number), (.double, .int), (.double, .double), (.double, .number),
      (.number, .int), (.number, .double), (.number, .number):
      if let a = lhs.exactInteger, let b = rhs.exactInteger { return a == b }
      guard let a = lhs.doubleValue, let b = rhs.doubleValue else { return false }
      return a == b
    default: return false
    }
  }
}

/// A JSON object that keeps its keys in insertion order. Setting an existing key replaces its
/// value in place (so a duplicate key in a parsed text keeps its first place and its last
/// value, the value Go's encoding/json keeps).
///
/// Lookups are constant time past a few keys (an index beside the pairs), so reading an object
/// of n keys is linear, not quadratic.
public struct JSONObject: Equatable, Sendable, Sequence, ExpressibleByDictionaryLiteral {
  public private(set) var pairs: [(key: String, value: JSONValue)] = []
  /// Key → position in `pairs`, kept once the object has more than `indexThreshold` keys;
  /// below that a scan is faster than hashing.
  private var index: [String: Int]?
  private static let indexThreshold = 8

  public init() {}

  public init(dictionaryLiteral elements: (String, JSONValue)...) {
    for (key, value) in elements { self[key] = value }
  }

  private func position(of key: String) -> Int? {
    if let index { return index[key] }
    return pairs.firstIndex(where: { $0.key == key })
  }

  public subscript(key: String) -> JSONValue? {
    get { position(of: key).map { pairs[$0].value } }
    set {
      if let at = position(of: key) {
        if let newValue {
          pairs[at].value = newValue
        } else {
          pairs.remove(at: at)
          if index != nil { rebuildIndex() }
        }
      } else if let newValue {
        pairs.append((key, newValue))
        if index != nil {
          index![key] = pairs.count - 1
        } else if pairs.count > JSONObject.indexThreshold {
          rebuildIndex()
        }
      }
    }
  }

  private mutating func rebuildIndex() {
    guard pairs.count > JSONObject.indexThreshold else {
      index = nil
      return
    }
    var built: [String: Int] = [:]
    built.reserveCapacity(pairs.count)
    for (at, pair) in pairs.enumerated() { built[pair.key] = at }
    index = built
  }

  public var keys: [String] { pairs.map(\.key) }
  public var isEmpty: Bool { pairs.isEmpty }
  public var count: Int { pairs.count }

  public func makeIterator() -> IndexingIterator<[(key: String, value: JSONValue)]> {
    pairs.makeIterator()
  }

  public static func == (lhs: JSONObject, rhs: JSONObject) -> Bool {
    lhs.pairs.count == rhs.pairs.count
      && zip(lhs.pairs, rhs.pairs).allSatisfy { $0.key == $1.key && $0.value == $1.value }
  }
}

// MARK: Convenience

extension JSONValue: ExpressibleByStringLiteral, ExpressibleByIntegerLiteral,
  ExpressibleByBooleanLiteral, ExpressibleByArrayLiteral, ExpressibleByDictionaryLiteral,
  ExpressibleByNilLiteral, ExpressibleByFloatLiteral
{
  public init(stringLiteral value: String) { self = .string(value) }
  public init(integerLiteral value: Int) { self = .int(value) }
  public init(booleanLiteral value: Bool) { self = .bool(value) }
  public init(floatLiteral value: Double) { self = .double(value) }
  public init(arrayLiteral elements: JSONValue...) { self = .array(elements) }
  public init(nilLiteral: ()) { self = .null }
  public init(dictionaryLiteral elements: (String, JSONValue)...) {
    var object = JSONObject()
    for (key, value) in elements { object[key] = value }
    self = .object(object)
  }

  /// `.string`, or `.null` for nil.
  public static func from(_ string: String?) -> JSONValue { string.map(JSONValue.string) ?? .null }
  /// `.int`, or `.null` for nil.
  public static func from(_ int: Int?) -> JSONValue { int.map(JSONValue.int) ?? .null }
  /// `.bool`, or `.null` for nil.
  public static func from(_ bool: Bool?) -> JSONValue { bool.map(JSONValue.bool) ?? .null }
  /// An array of strings.
  public static func from(_ strings: [String]) -> JSONValue { .array(strings.map(JSONValue.string)) }

  public subscript(key: String) -> JSONValue? {
    if case .object(let object) = self { return object[key] }
    return nil
  }

  public var stringValue: String? { if case .string(let s) = self { return s } else { return nil } }
  public var boolValue: Bool? { if case .bool(let b) = self { return b } else { return nil } }
  /// The number as an `Int` when it is a whole number that fits one (`1.0` and `1e2` count, as
  /// JSON Schema's "integer" counts them); readers that must refuse those, as Go's decoder
  /// does, use `integerLiteral`.
  public var intValue: Int? {
    switch self {
    case .int(let i): return i
    case .double(let d) where d.rounded() == d && abs(d) < 9.0e15: return Int(d)
    case .number: return exactInteger.flatMap { Int(exactly: $0) }
    default: return nil
    }
  }
  public var doubleValue: Double? {
    switch self {
    case .int(let i): return Double(i)
    case .double(let d): return d
    case .number(let text): return Double(text)
    default: return nil
    }
  }

  /// The JSON text of a number exactly as written (`.int` and `.double` as they serialise).
  public var numberText: String? {
    switch self {
    case .int(let i): return String(i)
    case .double(let d): return JSONValue.format(d)
    case .number(let text): return text
    default: return nil
    }
  }

  /// The integer a number's text spells without a fraction or an exponent — what Go's
  /// strconv.ParseInt/ParseUint accept — as an arbitrary-width value: nil for `1.0`, `1e2`,
  /// a string. `-0` is the integer 0 (ParseInt accepts it; `unsignedLiteral` refuses it).
  public var integerLiteral: (negative: Bool, magnitude: Substring)? {
    switch self {
    case .int(let i): return (i < 0, Substring(String(i.magnitude)))
    case .number(let text):
      var digits = Substring(text)
      let negative = digits.first == "-"
      if negative { digits = digits.dropFirst() }
      guard !digits.isEmpty, digits.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else { return nil }
      return (negative, digits)
    default: return nil
    }
  }

  /// The number as Go's strconv.ParseUint(text, 10, 64) reads it into a `uint64` (or a `uint`
  /// on a 64-bit machine): digits only, no sign (so `-0` is refused), at most 2^64-1.
  public var unsignedLiteral: UInt64? {
    guard let (negative, digits) = integerLiteral, !negative else { return nil }
    return UInt64(digits)
  }

  /// The number as Go's strconv.ParseInt(text, 10, 64) reads it into an `int64`.
  public var signedLiteral: Int64? {
    guard let (negative, digits) = integerLiteral else { return nil }
    return Int64((negative ? "-" : "") + digits)
  }

  /// A whole number's value when it has one exactly, from the text for `.number`.
  var exactInteger: Int128? {
    switch self {
    case .int(let i): return Int128(i)
    case .double(let d): return d.rounded() == d && abs(d) < 1e30 ? Int128(d) : nil
    case .number:
      if let (negative, digits) = integerLiteral, digits.count < 38, let m = Int128(digits) {
        return negative ? -m : m
      }
      guard let d = doubleValue, d.rounded() == d, abs(d) < 9.0e15 else { return nil }
      return Int128(d)
    default: return nil
    }
  }
  public var arrayValue: [JSONValue]? { if case .array(let a) = self { return a } else { return nil } }
  public var objectValue: JSONObject? { if case .object(let o) = self { return o } else { return nil } }
  public var isNull: Bool { self == .null }

  /// The JSON type name, for error messages ("expected a string, found an array").
  public var typeName: String {
    switch self {
    case .null: return "null"
    case .bool: return "a boolean"
    case .int, .double, .number: return "a number"
    case .string: return "a string"
    case .array: return "an array"
    case .object: return "an object"
    }
  }
}

// MARK: Serialisation

extension JSONValue {
  /// The JSON text. Pretty output uses two-space indentation and ends without a newline.
  public func serialized(pretty: Bool = true) -> String {
    var out = ""
    write(to: &out, pretty: pretty, indent: 0)
    return out
  }

  private func write(to out: inout String, pretty: Bool, indent: Int) {
    switch self {
    case .null: out += "null"
    case .bool(let b): out += b ? "true" : "false"
    case .int(let i): out += String(i)
    case .double(let d): out += JSONValue.format(d)
    case .number(let text): out += text
    case .string(let s): JSONValue.writeString(s, to: &out)
    case .array(let items):
      if items.isEmpty {
        out += "[]"
        return
      }
      out += "["
      for (index, item) in items.enumerated() {
        if index > 0 { out += "," }
        if pretty { out += "\n" + String(repeating: "  ", count: indent + 1) }
        item.write(to: &out, pretty: pretty, indent: indent + 1)
      }
      if pretty { out += "\n" + String(repeating: "  ", count: indent) }
      out += "]"
    case .object(let object):
      if object.isEmpty {
        out += "{}"
        return
      }
      out += "{"
      for (index, pair) in object.pairs.enumerated() {
        if index > 0 { out += "," }
        if pretty { out += "\n" + String(repeating: "  ", count: indent + 1) }
        JSONValue.writeString(pair.key, to: &out)
        out += pretty ? ": " : ":"
        pair.value.write(to: &out, pretty: pretty, indent: indent + 1)
      }
      if pretty { out += "\n" + String(repeating: "  ", count: indent) }
      out += "}"
    }
  }

  fileprivate static func format(_ d: Double) -> String {
    guard d.isFinite else { return "null" }
    if d.rounded() == d && abs(d) < 1e15 { return String(Int(d)) }
    return String(d)
  }

  private static func writeString(_ s: String, to out: inout String) {
    out += "\""
    for scalar in s.unicodeScalars {
      switch scalar {
      case "\"": out += "\\\""
      case "\\": out += "\\\\"
      case "\n": out += "\\n"
      case "\r": out += "\\r"
      case "\t": out += "\\t"
      case _ where scalar.value < 0x20:
        let hex = String(scalar.value, radix: 16)
        out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
      default: out.unicodeScalars.append(scalar)
      }
    }
    out += "\""
  }
}

// MARK: Parsing

/// Why a JSON text could not be parsed, with the byte offset and line where it went wrong.
public struct JSONParseError: Error, CustomStringConvertible, Equatable {
  public var message: String
  public var offset: Int
  public var line: Int
  public var description: String { "\(message) at line \(line) (byte \(offset))" }
}

extension JSONValue {
  /// Parses a complete JSON text (RFC 8259). Nesting deeper than 512 levels is refused.
  public static func parse(_ text: String) throws(JSONParseError) -> JSONValue {
    var parser = JSONParser(bytes: Array(text.utf8))
    return try parser.parseDocument()
  }

  public static func parse(bytes: [UInt8]) throws(JSONParseError) -> JSONValue {
    var parser = JSONParser(bytes: bytes)
    return try parser.parseDocument()
  }
}

private struct JSONParser {
  let bytes: [UInt8]
  var position = 0
  var depth = 0

  init(bytes: [UInt8]) { self.bytes = bytes }

  mutating func parseDocument() throws(JSONParseError) -> JSONValue {
    skipWhitespace()
    let value = try parseValue()
    skipWhitespace()
    if position != bytes.count { throw error("unexpected text after the JSON value") }
    return value
  }

  func error(_ message: String) -> JSONParseError {
    let line = bytes[0..<min(position, bytes.count)].reduce(1) { $0 + ($1 == 0x0A ? 1 : 0) }
    return JSONParseError(message: message, offset: position, line: line)
  }

  mutating func skipWhitespace() {
    while position < bytes.count {
      switch bytes[position] {
      case 0x20, 0x0A, 0x0D, 0x09: position += 1
      default: return
      }
    }
  }

  mutating func parseValue() throws(JSONParseError) -> JSONValue {
    guard position < bytes.count else { throw error("unexpected end of the JSON text") }
    switch bytes[position] {
    case UInt8(ascii: "{"): return try parseObject()
    case UInt8(ascii: "["): return try parseArray()
    case UInt8(ascii: "\""): return .string(try parseString())
    case UInt8(ascii: "t"): try expectWord("true"); return .bool(true)
    case UInt8(ascii: "f"): try expectWord("false"); return .bool(false)
    case UInt8(ascii: "n"): try expectWord("null"); return .null
    case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return try parseNumber()
    default: throw error("unexpected character '\(Character(Unicode.Scalar(bytes[position])))'")
    }
  }

  mutating func expectWord(_ word: String) throws(JSONParseError) {
    let utf8 = Array(word.utf8)
    guard position + utf8.count <= bytes.count, Array(bytes[position..<position + utf8.count]) == utf8
    else { throw error("invalid literal, expected '\(word)'") }
    position += utf8.count
  }

  mutating func enter() throws(JSONParseError) {
    depth += 1
    if depth > 512 { throw error("nesting deeper than 512 levels") }
  }

  mutating func parseObject() throws(JSONParseError) -> JSONValue {
    try enter()
    defer { depth -= 1 }
    position += 1
    var object = JSONObject()
    skipWhitespace()
    if position < bytes.count, bytes[position] == UInt8(ascii: "}") {
      position += 1
      return .object(object)
    }
    while true {
      skipWhitespace()
      guard position < bytes.count, bytes[position] == UInt8(ascii: "\"") else {
        throw error("expected a string key")
      }
      let key = try parseString()
      skipWhitespace()
      guard position < bytes.count, bytes[position] == UInt8(ascii: ":") else {
        throw error("expected ':' after the key \"\(key)\"")
      }
      position += 1
      skipWhitespace()
      object[key] = try parseValue()
      skipWhitespace()
      guard position < bytes.count else { throw error("unterminated object") }
      if bytes[position] == UInt8(ascii: ",") {
        position += 1
        continue
      }
      if bytes[position] == UInt8(ascii: "}") {
        position += 1
        return .object(object)
      }
      throw error("expected ',' or '}' in an object")
    }
  }

  mutating func parseArray() throws(JSONParseError) -> JSONValue {
    try enter()
    defer { depth -= 1 }
    position += 1
    var items: [JSONValue] = []
    skipWhitespace()
    if position < bytes.count, bytes[position] == UInt8(ascii: "]") {
      position += 1
      return .array(items)
    }
    while true {
      skipWhitespace()
      items.append(try parseValue())
      skipWhitespace()
      guard position < bytes.count else { throw error("unterminated array") }
      if bytes[position] == UInt8(ascii: ",") {
        position += 1
        continue
      }
      if bytes[position] == UInt8(ascii: "]") {
        position += 1
        return .array(items)
      }
      throw error("expected ',' or ']' in an array")
    }
  }

  mutating func parseHex4() throws(JSONParseError) -> UInt32 {
    guard position + 4 <= bytes.count else { throw error("truncated \\u escape") }
    var value: UInt32 = 0
    for _ in 0..<4 {
      let c = bytes[position]
      let digit: UInt32
      switch c {
      case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = UInt32(c - UInt8(ascii: "0"))
      case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = UInt32(c - UInt8(ascii: "a") + 10)
      case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = UInt32(c - UInt8(ascii: "A") + 10)
      default: throw error("invalid \\u escape")
      }
      value = value * 16 + digit
      position += 1
    }
    return value
  }

  mutating func parseString() throws(JSONParseError) -> String {
    position += 1
    // Most strings have no escape: one decode of the bytes, no scalar-by-scalar copy.
    var end = position
    while end < bytes.count {
      let c = bytes[end]
      if c == UInt8(ascii: "\"") {
        let text = String(decoding: bytes[position..<end], as: UTF8.self)
        position = end + 1
        return text
      }
      if c == UInt8(ascii: "\\") || c < 0x20 { break }
      end += 1
    }
    var scalars = String.UnicodeScalarView()
    var runStart = position
    func flushRun(_ end: Int, into scalars: inout String.UnicodeScalarView) {
      if end > runStart {
        scalars.append(contentsOf: String(decoding: bytes[runStart..<end], as: UTF8.self).unicodeScalars)
      }
    }
    while true {
      guard position < bytes.count else { throw error("unterminated string") }
      let c = bytes[position]
      if c == UInt8(ascii: "\"") {
        flushRun(position, into: &scalars)
        position += 1
        return String(scalars)
      }
      if c < 0x20 { throw error("control character in a string") }
      if c != UInt8(ascii: "\\") {
        position += 1
        continue
      }
      flushRun(position, into: &scalars)
      position += 1
      guard position < bytes.count else { throw error("unterminated escape") }
      let escape = bytes[position]
      position += 1
      switch escape {
      case UInt8(ascii: "\""): scalars.append("\"")
      case UInt8(ascii: "\\"): scalars.append("\\")
      case UInt8(ascii: "/"): scalars.append("/")
      case UInt8(ascii: "b"): scalars.append("\u{08}")
      case UInt8(ascii: "f"): scalars.append("\u{0C}")
      case UInt8(ascii: "n"): scalars.append("\n")
      case UInt8(ascii: "r"): scalars.append("\r")
      case UInt8(ascii: "t"): scalars.append("\t")
      case UInt8(ascii: "u"):
        var code = try parseHex4()
        if (0xD800...0xDBFF).contains(code) {
          guard position + 6 <= bytes.count, bytes[position] == UInt8(ascii: "\\"),
            bytes[position + 1] == UInt8(ascii: "u")
          else { throw error("unpaired surrogate in a \\u escape") }
          position += 2
          let low = try parseHex4()
          guard (0xDC00...0xDFFF).contains(low) else { throw error("invalid surrogate pair") }
          code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)
        }
        guard let scalar = Unicode.Scalar(code) else { throw error("invalid \\u escape") }
        scalars.append(scalar)
      default: throw error("invalid escape '\\\(Character(Unicode.Scalar(escape)))'")
      }
      runStart = position
    }
  }

  /// RFC 8259's number grammar, which Go's scanner also enforces: an optional minus, then `0`
  /// or a digit run not starting with 0, then an optional fraction and exponent. A leading
  /// zero (`01`, `-012`) is not JSON and is refused, as Go and Docker refuse it.
  mutating func parseNumber() throws(JSONParseError) -> JSONValue {
    let start = position
    var isPlainInteger = true
    if bytes[position] == UInt8(ascii: "-") { position += 1 }
    func digits(_ p: inout Int) -> Int {
      let s = p
      while p < bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[p]) { p += 1 }
      return p - s
    }
    let integerStart = position
    let integerDigits = digits(&position)
    if integerDigits == 0 { throw error("invalid number: a digit must follow '-'") }
    if integerDigits > 1, bytes[integerStart] == UInt8(ascii: "0") {
      position = integerStart
      throw error("invalid number: a leading zero is not JSON")
    }
    if position < bytes.count, bytes[position] == UInt8(ascii: ".") {
      isPlainInteger = false
      position += 1
      if digits(&position) == 0 { throw error("invalid number: a digit must follow '.'") }
    }
    if position < bytes.count, bytes[position] == UInt8(ascii: "e") || bytes[position] == UInt8(ascii: "E") {
      isPlainInteger = false
      position += 1
      if position < bytes.count, bytes[position] == UInt8(ascii: "+") || bytes[position] == UInt8(ascii: "-") {
        position += 1
      }
      if digits(&position) == 0 { throw error("invalid number: a digit must follow the exponent") }
    }
    let text = String(decoding: bytes[start..<position], as: UTF8.self)
    // -0 stays text: Go's ParseInt reads it as 0 but ParseUint refuses it.
    if isPlainInteger, !(text.hasPrefix("-0")), let i = Int(text) { return .int(i) }
    return .number(text)
  }
}
