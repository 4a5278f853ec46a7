/// Encodes any `Encodable` value as a `JSONValue`, without Foundation (the static binary does not
/// link it): how a probe's observations become data that can be written out and replayed.
///
/// Keys keep their declaration order; optionals that are nil are left out (as Foundation's
/// JSONEncoder does), so a decoder reads them back as nil.
public enum JSONValueEncoder {
  public static func encode<T: Encodable>(_ value: T) throws -> JSONValue {
    let root = Node()
    try value.encode(to: NodeEncoder(node: root, codingPath: []))
    return root.value
  }
}

/// A value being built: an object, an array or a leaf, filled in by the containers below.
private final class Node {
  enum Kind {
    case unset
    case leaf(JSONValue)
    case object([(String, Node)])
    case array([Node])
  }
  var kind: Kind = .unset

  var value: JSONValue {
    switch kind {
    case .unset: return .object([:])
    case .leaf(let value): return value
    case .object(let entries):
      var object = JSONObject()
      for (key, node) in entries { object[key] = node.value }
      return .object(object)
    case .array(let nodes): return .array(nodes.map(\.value))
    }
  }

  func child(forKey key: String) -> Node {
    var entries: [(String, Node)] = []
    if case .object(let existing) = kind { entries = existing }
    if let found = entries.first(where: { $0.0 == key }) { return found.1 }
    let node = Node()
    entries.append((key, node))
    kind = .object(entries)
    return node
  }

  func appended() -> Node {
    var nodes: [Node] = []
    if case .array(let existing) = kind { nodes = existing }
    let node = Node()
    nodes.append(node)
    kind = .array(nodes)
    return node
  }

  func makeObject() { if case .unset = kind { kind = .object([]) } }
  func makeArray() { if case .unset = kind { kind = .array([]) } }
}

private struct AnyKey: CodingKey {
  var stringValue: String
  var intValue: Int?
  init(stringValue: String) { self.stringValue = stringValue }
  init(intValue: Int) {
    self.stringValue = "\(intValue)"
    self.intValue = intValue
  }
}

private struct NodeEncoder: Encoder {
  let node: Node
  var codingPath: [any CodingKey]
  var userInfo: [CodingUserInfoKey: Any] { [:] }

  func container<Key: CodingKey>(keyedBy type: Key.Type) -> KeyedEncodingContainer<Key> {
    node.makeObject()
    return KeyedEncodingContainer(Keyed<Key>(node: node, codingPath: codingPath))
  }
  func unkeyedContainer() -> any UnkeyedEncodingContainer {
    node.makeArray()
    return Unkeyed(node: node, codingPath: codingPath)
  }
  func singleValueContainer() -> any SingleValueEncodingContainer { Single(node: node, codingPath: codingPath) }
}

/// Leaf conversions shared by the three containers.
private func leaf<T: Encodable>(_ value: T, into node: Node, path: [any CodingKey]) throws {
  switch value {
  case let v as String: node.kind = .leaf(.string(v))
  case let v as Bool: node.kind = .leaf(.bool(v))
  case let v as Int: node.kind = .leaf(.int(v))
  case let v as Int32: node.kind = .leaf(.int(Int(v)))
  case let v as UInt32: node.kind = .leaf(.int(Int(v)))
  case let v as Int64: node.kind = .leaf(.int(Int(v)))
  case let v as UInt8: node.kind = .leaf(.int(Int(v)))
  case let v as UInt16: node.kind = .leaf(.int(Int(v)))
  case let v as UInt64:
    // Above Int.max only for capability masks with every bit set; kept exact as a string then.
    node.kind = .leaf(v <= UInt64(Int.max) ? .int(Int(v)) : .string(String(v)))
  case let v as UInt: node.kind = .leaf(v <= UInt(Int.max) ? .int(Int(v)) : .string(String(v)))
  case let v as Double: node.kind = .leaf(.double(v))
  default: try value.encode(to: NodeEncoder(node: node, codingPath: path))
  }
}

private struct Keyed<Key: CodingKey>: KeyedEncodingContainerProtocol {
  let node: Node
  var codingPath: [any CodingKey]

  mutating func encodeNil(forKey key: Key) throws { node.child(forKey: key.stringValue).kind = .leaf(.null) }
  mutating func encode<T: Encodable>(_ value: T, forKey key: Key) throws {
    try leaf(value, into: node.child(forKey: key.stringValue), path: codingPath + [key])
  }
  mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type, forKey key: Key)
    -> KeyedEncodingContainer<NestedKey>
  {
    let child = node.child(forKey: key.stringValue)
    child.makeObject()
    return KeyedEncodingContainer(Keyed<NestedKey>(node: child, codingPath: codingPath + [key]))
  }
  mutating func nestedUnkeyedContainer(forKey key: Key) -> any UnkeyedEncodingContainer {
    let child = node.child(forKey: key.stringValue)
    child.makeArray()
    return Unkeyed(node: child, codingPath: codingPath + [key])
  }
  mutating func superEncoder() -> any Encoder {
    NodeEncoder(node: node.child(forKey: "super"), codingPath: codingPath)
  }
  mutating func superEncoder(forKey key: Key) -> any Encoder {
    NodeEncoder(node: node.child(forKey: key.stringValue), codingPath: codingPath + [key])
  }
}

private struct Unkeyed: UnkeyedEncodingContainer {
  let node: Node
  var codingPath: [any CodingKey]
  var count: Int {
    if case .array(let nodes) = node.kind { return nodes.count }
    return 0
  }

  mutating func encodeNil() throws { node.appended().kind = .leaf(.null) }
  mutating func encode<T: Encodable>(_ value: T) throws {
    try leaf(value, into: node.appended(), path: codingPath + [AnyKey(intValue: count)])
  }
  mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type) -> KeyedEncodingContainer<NestedKey> {
    let child = node.appended()
    child.makeObject()
    return KeyedEncodingContainer(Keyed<NestedKey>(node: child, codingPath: codingPath))
  }
  mutating func nestedUnkeyedContainer() -> any UnkeyedEncodingContainer {
    let child = node.appended()
    child.makeArray()
    return Unkeyed(node: child, codingPath: codingPath)
  }
  mutating func superEncoder() -> any Encoder { NodeEncoder(node: node.appended(), codingPath: codingPath) }
}

private struct Single: SingleValueEncodingContainer {
  let node: Node
  var codingPath: [any CodingKey]
  mutating func encodeNil() throws { node.kind = .leaf(.null) }
  mutating func encode<T: Encodable>(_ value: T) throws { try leaf(value, into: node, path: codingPath) }
}
