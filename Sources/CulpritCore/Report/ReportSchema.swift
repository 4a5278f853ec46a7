/// The published JSON contract (schema/report.schema.json, embedded at build time by
/// Plugins/EmbedReportSchema) and a validator for the JSON Schema 2020-12 keywords it uses, so
/// that `culprit diff` refuses a report that breaks the contract and names the field.
public enum ReportSchema {
  /// schema/report.schema.json as built in.
  public static let text: String = reportSchemaText

  /// The first place where `report` breaks the contract, or nil when it follows it.
  public static func violation(in report: JSONValue) -> SchemaViolation? {
    guard let schema else { return SchemaViolation(path: "", message: "culprit's built-in schema does not parse") }
    // A validator per call: its cache of compiled patterns is mutable, and the tests call this
    // from many threads at once (a shared one crashed them).
    return JSONSchemaValidator(schema).violation(in: report)
  }

  /// The schema, parsed once; an immutable value.
  private static let schema: JSONValue? = try? JSONValue.parse(text)
}

/// Where a document breaks a schema: the JSON path of the value (`host.uid`,
/// `probes[2].evidence[0]`) and what the schema wanted there.
public struct SchemaViolation: Error, CustomStringConvertible, Equatable, Sendable {
  public var path: String
  public var message: String
  public var description: String { path.isEmpty ? message : "\(path): \(message)" }
}

/// A validator for the part of JSON Schema 2020-12 a report schema needs: type, enum, const,
/// properties, required, additionalProperties, propertyNames, items, minItems, maxItems,
/// minLength, minimum, maximum, exclusiveMinimum, exclusiveMaximum, pattern, allOf, anyOf,
/// oneOf, not, if/then/else and local `$ref`s. Other keywords (annotations) are ignored.
/// "integer" is any number with no fractional part (`1.0` counts), as the standard says.
public final class JSONSchemaValidator {
  let root: JSONValue
  private var patterns: [String: Regex<AnyRegexOutput>?] = [:]

  public init(_ root: JSONValue) { self.root = root }

  /// The first violation found, or nil.
  public func violation(in value: JSONValue) -> SchemaViolation? {
    check(value, root, "", depth: 0)
  }

  private func fail(_ path: String, _ message: String) -> SchemaViolation {
    SchemaViolation(path: path, message: message)
  }

  private func resolve(_ ref: String) -> JSONValue? {
    guard ref.hasPrefix("#") else { return nil }
    var node = root
    for token in ref.dropFirst().split(separator: "/", omittingEmptySubsequences: true) {
      let key = String(token).replacing("~1", with: "/").replacing("~0", with: "~")
      if case .array(let items) = node, let i = Int(key), items.indices.contains(i) {
        node = items[i]
      } else if let next = node[key] {
        node = next
      } else {
        return nil
      }
    }
    return node
  }

  static func describe(_ value: JSONValue) -> String {
    let text = value.serialized(pretty: false)
    return text.count > 60 ? String(text.prefix(57)) + "…" : text
  }

  static func isType(_ value: JSONValue, _ type: String) -> Bool {
    switch (type, value) {
    case ("null", .null), ("boolean", .bool), ("string", .string), ("array", .array), ("object", .object): return true
    case ("number", .int), ("number", .double), ("number", .number): return true
    case ("integer", .int): return true
    case ("integer", .double(let d)): return d.isFinite && d.rounded() == d
    case ("integer", .number): return value.integerLiteral != nil || (value.doubleValue.map { $0.isFinite && $0.rounded() == $0 } ?? false)
    default: return false
    }
  }

  private func check(_ value: JSONValue, _ schema: JSONValue, _ path: String, depth: Int) -> SchemaViolation? {
    if depth > 64 { return fail(path, "the schema nests too deeply") }
    switch schema {
    case .bool(true): return nil
    case .bool(false): return fail(path, "no value is allowed here")
    case .object: break
    default: return nil
    }
    if let ref = schema["$ref"]?.stringValue {
      guard let target = resolve(ref) else { return fail(path, "the schema's $ref \(ref) does not resolve") }
      if let v = check(value, target, path, depth: depth + 1) { return v }
    }
    if let type = schema["type"] {
      let types = type.arrayValue?.compactMap(\.stringValue) ?? type.stringValue.map { [$0] } ?? []
      if !types.isEmpty, !types.contains(where: { JSONSchemaValidator.isType(value, $0) }) {
        let names = types.map { ["object": "an object", "array": "an array", "integer": "an integer", "null": "null"][$0] ?? "a \($0)" }
        return fail(path, "expected \(names.joined(separator: " or ")), found \(value.typeName) \(JSONSchemaValidator.describe(value))")
      }
    }
    if let allowed = schema["enum"]?.arrayValue, !allowed.contains(value) {
      return fail(path, "\(JSONSchemaValidator.describe(value)) is not one of \(allowed.map(JSONSchemaValidator.describe).joined(separator: ", "))")
    }
    if let constant = schema["const"], constant != value {
      return fail(path, "expected \(JSONSchemaValidator.describe(constant)), found \(JSONSchemaValidator.describe(value))")
    }
    if let v = checkNumber(value, schema, path) { return v }
    if case .string(let s) = value, let v = checkString(s, schema, path) { return v }
    if case .array(let items) = value {
      if let min = schema["minItems"]?.intValue, items.count < min { return fail(path, "expected at least \(min) items, found \(items.count)") }
      if let max = schema["maxItems"]?.intValue, items.count > max { return fail(path, "expected at most \(max) items, found \(items.count)") }
      if let itemSchema = schema["items"] {
        for (index, item) in items.enumerated() {
          if let v = check(item, itemSchema, "\(path)[\(index)]", depth: depth + 1) { return v }
        }
      }
    }
    if case .object(let object) = value, let v = checkObject(object, schema, path, depth: depth) { return v }
    if let all = schema["allOf"]?.arrayValue {
      for sub in all { if let v = check(value, sub, path, depth: depth + 1) { return v } }
    }
    if let any = schema["anyOf"]?.arrayValue {
      let failures = any.map { check(value, $0, path, depth: depth + 1) }
      if !failures.contains(where: { $0 == nil }) { return closest(failures, path, "matches none of the forms allowed here") }
    }
    if let one = schema["oneOf"]?.arrayValue {
      let failures = one.map { check(value, $0, path, depth: depth + 1) }
      let matched = failures.filter { $0 == nil }.count
      if matched == 0 { return closest(failures, path, "matches none of the forms allowed here") }
      if matched > 1 { return fail(path, "matches \(matched) of the forms allowed here, where exactly one must match") }
    }
    if let not = schema["not"], check(value, not, path, depth: depth + 1) == nil {
      return fail(path, "matches a form the schema forbids")
    }
    if let condition = schema["if"] {
      let branch = check(value, condition, path, depth: depth + 1) == nil ? schema["then"] : schema["else"]
      if let branch, let v = check(value, branch, path, depth: depth + 1) { return v }
    }
    return nil
  }

  /// Of the failures of alternatives, the one that got deepest: usually the form meant.
  private func closest(_ failures: [SchemaViolation?], _ path: String, _ message: String) -> SchemaViolation {
    let deepest = failures.compactMap { $0 }.max { $0.path.count < $1.path.count }
    if let deepest, deepest.path.count > path.count { return deepest }
    let said = failures.compactMap { $0?.message }
    return fail(path, said.isEmpty ? message : said.joined(separator: "; or "))
  }

  private func checkNumber(_ value: JSONValue, _ schema: JSONValue, _ path: String) -> SchemaViolation? {
    guard let x = value.doubleValue, value.numberText != nil else { return nil }
    let shown = value.numberText ?? ""
    if let m = schema["minimum"]?.doubleValue, x < m { return fail(path, "\(shown) is below the minimum \(schema["minimum"]!.numberText!)") }
    if let m = schema["maximum"]?.doubleValue, x > m { return fail(path, "\(shown) is above the maximum \(schema["maximum"]!.numberText!)") }
    if let m = schema["exclusiveMinimum"]?.doubleValue, x <= m { return fail(path, "\(shown) must be above \(schema["exclusiveMinimum"]!.numberText!)") }
    if let m = schema["exclusiveMaximum"]?.doubleValue, x >= m { return fail(path, "\(shown) must be below \(schema["exclusiveMaximum"]!.numberText!)") }
    return nil
  }

  private func checkString(_ s: String, _ schema: JSONValue, _ path: String) -> SchemaViolation? {
    if let min = schema["minLength"]?.intValue, s.unicodeScalars.count < min {
      return fail(path, "expected at least \(min) characters, found \(s.unicodeScalars.count)")
    }
    if let max = schema["maxLength"]?.intValue, s.unicodeScalars.count > max {
      return fail(path, "expected at most \(max) characters, found \(s.unicodeScalars.count)")
    }
    if let pattern = schema["pattern"]?.stringValue {
      if patterns[pattern] == nil {
        patterns[pattern] = .some(try? Regex(pattern).matchingSemantics(.unicodeScalar))
      }
      guard let regex = patterns[pattern]! else { return fail(path, "the schema's pattern \(pattern) is not a regular expression culprit reads") }
      if s.firstMatch(of: regex) == nil {
        return fail(path, "\(JSONSchemaValidator.describe(.string(s))) does not match \(pattern)")
      }
    }
    return nil
  }

  private func checkObject(_ object: JSONObject, _ schema: JSONValue, _ path: String, depth: Int) -> SchemaViolation? {
    func child(_ key: String) -> String {
      let simple = !key.isEmpty && key.utf8.allSatisfy { ($0 >= 0x61 && $0 <= 0x7A) || ($0 >= 0x41 && $0 <= 0x5A) || ($0 >= 0x30 && $0 <= 0x39) || $0 == 0x5F }
      let part = simple ? key : JSONValue.string(key).serialized(pretty: false)
      return path.isEmpty ? part : simple ? "\(path).\(part)" : "\(path)[\(part)]"
    }
    for key in schema["required"]?.arrayValue?.compactMap(\.stringValue) ?? [] where object[key] == nil {
      return fail(child(key), "missing (the contract requires it)")
    }
    let properties = schema["properties"]?.objectValue
    for (key, member) in object {
      if let names = schema["propertyNames"], let v = check(.string(key), names, child(key), depth: depth + 1) {
        return SchemaViolation(path: v.path, message: "the key is not allowed here: \(v.message)")
      }
      if let sub = properties?[key] {
        if let v = check(member, sub, child(key), depth: depth + 1) { return v }
      } else if let extra = schema["additionalProperties"] {
        if extra == .bool(false) { return fail(child(key), "not a field of the contract here") }
        if let v = check(member, extra, child(key), depth: depth + 1) { return v }
      }
    }
    return nil
  }
}
