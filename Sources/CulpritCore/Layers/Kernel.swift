/// The running kernel's version, parsed from uname(2)'s release ("6.1.0-18-amd64" → 6.1.0).
public struct KernelVersion: Comparable, Hashable, Sendable, CustomStringConvertible {
  public var major: Int
  public var minor: Int
  public var patch: Int

  public init(_ major: Int, _ minor: Int, _ patch: Int = 0) {
    self.major = major
    self.minor = minor
    self.patch = patch
  }

  /// Parses the leading "X.Y[.Z]" of a release string; nil when it does not start that way.
  public init?(release: String) {
    var numbers: [Int] = []
    var current = ""
    for ch in release {
      if ch.isASCII, ch.isNumber {
        current.append(ch)
      } else {
        guard let n = Int(current) else { break }
        numbers.append(n)
        current = ""
        if ch != "." || numbers.count == 3 { break }
      }
    }
    if let n = Int(current), numbers.count < 3 { numbers.append(n) }
    guard numbers.count >= 2 else { return nil }
    self.init(numbers[0], numbers[1], numbers.count > 2 ? numbers[2] : 0)
  }

  public static func < (a: KernelVersion, b: KernelVersion) -> Bool {
    (a.major, a.minor, a.patch) < (b.major, b.minor, b.patch)
  }

  public var description: String { "\(major).\(minor)" + (patch > 0 ? ".\(patch)" : "") }
}

/// What uname(2) says about the kernel.
public struct KernelInfo: Sendable {
  public var uname: Sys.UName
  public var version: KernelVersion?

  public static func read(_ source: SystemSource) -> Result<KernelInfo, Errno> {
    source.uname().map { KernelInfo(uname: $0, version: KernelVersion(release: $0.release)) }
  }

  /// "x86_64" or "aarch64" or what the machine says.
  public var machine: String { uname.machine }
}

/// The C library found in the image's files: what programs in this container run with, as
/// opposed to the static libc inside culprit itself.
public struct ImageLibc: Equatable, Sendable {
  public enum Family: String, Sendable {
    case glibc, musl
    /// No libc in the image (a `scratch` image holding static binaries).
    case none
  }

  public var family: Family
  /// "2.36" or "1.2.4"; nil when the files do not say.
  public var version: String?
  /// The file that identified it.
  public var path: String?
  /// What was read to decide, as sentences.
  public var evidence: [String]

  /// "glibc 2.36", "musl 1.2.4", "musl (version unknown)", "none".
  public var display: String {
    switch family {
    case .none: return "none"
    case .glibc, .musl: return family.rawValue + " " + (version ?? "(version unknown)")
    }
  }

  /// Whether this libc's pthread_create tries clone3 first (and so breaks when clone3 answers
  /// EPERM). glibc ≥ 2.34 on x86_64/i386, ≥ 2.38 on aarch64 (HAVE_CLONE3_WRAPPER per
  /// architecture); musl never calls clone3. nil when the version is unknown.
  public func usesClone3ForThreads(machine: String) -> Bool? {
    switch family {
    case .none: return nil
    case .musl: return false
    case .glibc:
      guard let version, let parsed = KernelVersion(release: version) else { return nil }
      let threshold: KernelVersion
      switch machine {
      case "x86_64", "i686", "i386": threshold = KernelVersion(2, 34)
      case "aarch64", "riscv64", "ppc64le", "s390x": threshold = KernelVersion(2, 38)
      case let m where m.hasPrefix("arm") || m.hasPrefix("mips"): threshold = KernelVersion(2, 39)
      default: threshold = KernelVersion(2, 38)
      }
      return parsed >= threshold
    }
  }

  /// Finds the image's libc. Looks for musl's dynamic loader first, then glibc's libc.so.6; the
  /// version comes from the package database (apk, dpkg) or glibc's own version banner.
  public static func read(_ source: SystemSource, machine: String) -> ImageLibc {
    let arch = machine == "arm64" ? "aarch64" : machine
    var evidence: [String] = []

    let muslLoader = "/lib/ld-musl-\(arch).so.1"
    if source.exists(muslLoader) {
      evidence.append("\(muslLoader) exists: the image's programs use musl.")
      let version = apkVersion(of: "musl", source) ?? dpkgVersion(of: "musl", source)
      if let version {
        evidence.append("The package database names musl \(version).")
      } else {
        evidence.append("No package database gives musl's version.")
      }
      return ImageLibc(family: .musl, version: version.map(upstreamVersion), path: muslLoader, evidence: evidence)
    }

    let triplet = "\(arch)-linux-gnu"
    let candidates = [
      "/lib/\(triplet)/libc.so.6", "/usr/lib/\(triplet)/libc.so.6", "/lib64/libc.so.6",
      "/usr/lib64/libc.so.6", "/lib/libc.so.6", "/usr/lib/libc.so.6",
    ]
    for path in candidates where source.exists(path) {
      evidence.append("\(path) exists: the image's programs use glibc.")
      if case .success(let found?) = source.find("release version ", inFile: path, length: 12) {
        let version = String(found.prefix(while: { $0.isNumber || $0 == "." }).trimmingSuffix("."))
        if !version.isEmpty {
          evidence.append("\(path) carries the banner \"release version \(version)\".")
          return ImageLibc(family: .glibc, version: version, path: path, evidence: evidence)
        }
      }
      if let version = dpkgVersion(of: "libc6", source) {
        evidence.append("/var/lib/dpkg/status names libc6 \(version).")
        return ImageLibc(family: .glibc, version: upstreamVersion(version), path: path, evidence: evidence)
      }
      evidence.append("Neither the library's banner nor a package database gives glibc's version.")
      return ImageLibc(family: .glibc, version: nil, path: path, evidence: evidence)
    }
    evidence.append(
      "Neither \(muslLoader) nor libc.so.6 (in /lib, /usr/lib, /lib64 and the \(triplet) directories) exists: the image has no C library, so only static programs run in it."
    )
    return ImageLibc(family: .none, version: nil, path: nil, evidence: evidence)
  }

  /// "2.36-9+deb12u4" → "2.36"; "1.2.4-r2" → "1.2.4".
  static func upstreamVersion(_ packageVersion: String) -> String {
    var v = Substring(packageVersion)
    if let colon = v.firstIndex(of: ":") { v = v[v.index(after: colon)...] }
    return String(v.prefix(while: { $0.isNumber || $0 == "." }))
  }

  /// The version of a package in Alpine's database (/lib/apk/db/installed: "P:name" then "V:ver").
  static func apkVersion(of package: String, _ source: SystemSource) -> String? {
    guard let text = source.readText("/lib/apk/db/installed").value else { return nil }
    var inPackage = false
    for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
      if line.isEmpty { inPackage = false }
      if line == "P:\(package)" { inPackage = true }
      if inPackage, line.hasPrefix("V:") { return String(line.dropFirst(2)) }
    }
    return nil
  }

  /// The version of an installed package in Debian's database (/var/lib/dpkg/status).
  static func dpkgVersion(of package: String, _ source: SystemSource) -> String? {
    guard let text = source.readText("/var/lib/dpkg/status").value else { return nil }
    for stanza in text.split(separator: "\n\n") {
      let lines = stanza.split(separator: "\n")
      guard lines.contains(where: { $0 == "Package: \(package)" }) else { continue }
      guard lines.contains(where: { $0.hasPrefix("Status:") && $0.hasSuffix(" installed") }) else { continue }
      if let v = lines.first(where: { $0.hasPrefix("Version: ") }) { return String(v.dropFirst(9)) }
    }
    return nil
  }
}

extension StringProtocol {
  /// The text without trailing occurrences of `suffix`.
  func trimmingSuffix(_ suffix: Character) -> SubSequence {
    var s = self[...]
    while s.last == suffix { s = s.dropLast() }
    return s
  }

  /// The text without leading and trailing spaces, tabs and newlines.
  public func trimmed() -> String {
    let isSpace: (Character) -> Bool = { $0 == " " || $0 == "\t" || $0 == "\n" || $0 == "\r" }
    guard let start = firstIndex(where: { !isSpace($0) }) else { return "" }
    let end = lastIndex(where: { !isSpace($0) })!
    return String(self[start...end])
  }
}
