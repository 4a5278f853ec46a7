/// A component's version as the known-bug table compares it: the upstream version a binary,
/// its build info or its distribution package states, with the distribution's decorations
/// taken off ("1.1.5+ds1-1+deb12u1" → 1.1.5, "20.10.24+dfsg1" → 20.10.24, "1.6.20~ds1" →
/// 1.6.20, "v1.3.0" → 1.3.0) and pre-releases kept ("1.0.0-rc91", Debian's "1.0.0~rc93+ds1",
/// Go's pseudo-versions "v1.2.1-0.20230704…-abcdef", which sort before v1.2.1).
///
/// Order: the numeric release fields first (missing fields count as 0), then a release sorts
/// after every pre-release of it; pre-releases compare by their dot-separated identifiers,
/// each in natural order (digit runs as numbers: rc9 < rc10 < rc91 < rc92), fewer identifiers
/// first when all shared ones are equal (semver's rule).
public struct ComponentVersion: Comparable, Hashable, Sendable, CustomStringConvertible {
  /// The text it was read from, unchanged.
  public var original: String
  public var release: [Int]
  /// Empty for a release.
  public var prerelease: [String]

  /// nil when the text does not start (after an optional "v") with a number.
  public init?(_ text: String) {
    original = text
    var s = Substring(text.trimmed())
    if s.first == "v" || s.first == "V" { s = s.dropFirst() }
    guard let first = s.first, first.isASCII, first.isNumber else { return nil }
    // Build metadata and distribution suffixes: "+ds1", "+dfsg1-1+deb12u1", "~ds1".
    // Debian writes upstream pre-releases with "~" ("1.0.0~rc93+ds1"): those stay.
    var core = ""
    var index = s.startIndex
    while index < s.endIndex {
      let c = s[index]
      if c == "+" { break }
      if c == "~" {
        let rest = s[s.index(after: index)...].lowercased()
        if ["rc", "alpha", "beta", "pre", "dev"].contains(where: { rest.hasPrefix($0) }) {
          core.append("-")
          index = s.index(after: index)
          continue
        }
        break
      }
      core.append(c)
      index = s.index(after: index)
    }
    // The release: digits and dots up to the first other character.
    var releaseText = ""
    var rest = Substring(core)
    while let c = rest.first, c.isASCII, c.isNumber || c == "." {
      releaseText.append(c)
      rest = rest.dropFirst()
    }
    release = releaseText.split(separator: ".").map { Int($0.prefix(9)) ?? 0 }
    // Debian revisions of a version without "+" ("1.8.1-1"): a pure-number pre-release after a
    // full release is a package revision, not a pre-release. Everything else after "-" is one.
    if rest.first == "-" { rest = rest.dropFirst() }
    let ids = rest.split(separator: ".", omittingEmptySubsequences: true).map(String.init)
    if !ids.isEmpty, ids.count <= 2, ids.allSatisfy({ $0.allSatisfy(\.isNumber) }), release.count >= 3,
      !ids[0].hasPrefix("0")
    {
      prerelease = []
    } else if let first = rest.first, !(first.isLetter || first.isNumber) {
      prerelease = []
    } else {
      prerelease = ids
    }
  }

  public var description: String { original }

  /// The normalized form, "1.0.0-rc91".
  public var normalized: String {
    release.map(String.init).joined(separator: ".") + (prerelease.isEmpty ? "" : "-" + prerelease.joined(separator: "."))
  }

  public static func == (a: ComponentVersion, b: ComponentVersion) -> Bool { compare(a, b) == 0 }
  public func hash(into hasher: inout Hasher) { hasher.combine(normalized) }
  public static func < (a: ComponentVersion, b: ComponentVersion) -> Bool { compare(a, b) < 0 }

  static func compare(_ a: ComponentVersion, _ b: ComponentVersion) -> Int {
    for i in 0..<max(a.release.count, b.release.count) {
      let x = i < a.release.count ? a.release[i] : 0
      let y = i < b.release.count ? b.release[i] : 0
      if x != y { return x < y ? -1 : 1 }
    }
    switch (a.prerelease.isEmpty, b.prerelease.isEmpty) {
    case (true, true): return 0
    case (true, false): return 1
    case (false, true): return -1
    case (false, false): break
    }
    for i in 0..<min(a.prerelease.count, b.prerelease.count) {
      let c = naturalCompare(a.prerelease[i], b.prerelease[i])
      if c != 0 { return c }
    }
    return a.prerelease.count == b.prerelease.count ? 0 : (a.prerelease.count < b.prerelease.count ? -1 : 1)
  }

  /// Digit runs compare as numbers, other runs as text: "rc9" < "rc10", "beta" < "rc".
  static func naturalCompare(_ a: String, _ b: String) -> Int {
    let x = runs(a), y = runs(b)
    for i in 0..<min(x.count, y.count) {
      switch (Int(x[i].prefix(18)), Int(y[i].prefix(18))) {
      case (let m?, let n?): if m != n { return m < n ? -1 : 1 }
      case (.some, nil): return -1  // numeric identifiers sort before alphanumeric ones
      case (nil, .some): return 1
      case (nil, nil): if x[i] != y[i] { return x[i] < y[i] ? -1 : 1 }
      }
    }
    return x.count == y.count ? 0 : (x.count < y.count ? -1 : 1)
  }

  static func runs(_ s: String) -> [String] {
    var out: [String] = []
    var current = ""
    var digits: Bool?
    for c in s {
      let d = c.isASCII && c.isNumber
      if digits != nil && digits != d {
        out.append(current)
        current = ""
      }
      current.append(c)
      digits = d
    }
    if !current.isEmpty { out.append(current) }
    return out
  }
}

/// A half-open range of versions, [from, before): either end may be open.
public struct VersionRange: Equatable, Sendable, CustomStringConvertible {
  public var from: ComponentVersion?
  public var before: ComponentVersion?

  public init(from: String? = nil, before: String? = nil) {
    self.from = from.flatMap(ComponentVersion.init)
    self.before = before.flatMap(ComponentVersion.init)
  }

  public func contains(_ version: ComponentVersion) -> Bool {
    if let from, version < from { return false }
    if let before, !(version < before) { return false }
    return true
  }

  public var description: String {
    switch (from, before) {
    case (let f?, let b?): return "\(f.original) to before \(b.original)"
    case (let f?, nil): return "\(f.original) and later"
    case (nil, let b?): return "before \(b.original)"
    case (nil, nil): return "every version"
    }
  }
}
