import CCulprit

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Finds the runtime stack on this node and reads it: the files, their version commands (in
/// children, with a deadline), their Go build info, their package. The observations; the
/// versions are decided from them by `HostComponent.interpret` (pure).
public enum HostDiscovery {
  /// The bin directories searched besides $PATH.
  public static let binDirectories = ["/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"]
  /// Where CNI plugins are installed by packages, by hand, and by Concourse's worker image.
  public static let cniDirectories = ["/opt/cni/bin", "/usr/lib/cni", "/usr/libexec/cni", "/usr/local/lib/cni", "/usr/local/concourse/bin"]
  /// The configuration files whose CNI plugin directories are read where readable.
  public static let containerdConfig = "/etc/containerd/config.toml"
  public static let crioConfigs = ["/etc/crio/crio.conf", "/etc/crio/crio.conf.d"]
  static let libraryDirectories = ["/usr/lib/x86_64-linux-gnu", "/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu", "/lib/aarch64-linux-gnu", "/usr/lib64", "/lib64", "/usr/lib", "/lib"]
  /// The symbol whose presence in a CNI plugin shows it retries interrupted netlink dumps.
  public static let netlinksafeSymbol = "github.com/containernetworking/plugins/pkg/netlinksafe"

  /// What discovery looked at, for the report.
  public struct Searched: Sendable {
    public var binDirectories: [String] = []
    public var cniDirectories: [String] = []
    /// "bin_dir \"/opt/cni/bin\" in /etc/containerd/config.toml", "… not readable: EACCES".
    public var configs: [String] = []
  }

  public static func discover(snapshot: Snapshot, timeoutMilliseconds: Int = 5000) -> (components: [HostComponent], searched: Searched) {
    var searched = Searched()
    var directories: [String] = []
    for dir in (Sys.environment("PATH") ?? "").split(separator: ":").map(String.init) + binDirectories
    where dir.hasPrefix("/") && !directories.contains(dir) {
      directories.append(dir)
    }
    searched.binDirectories = directories
    var seen = Set<FileIdentity>()
    var components: [HostComponent] = []
    for kind in ComponentKind.allCases where kind != .cniPlugins && kind != .libseccomp {
      for dir in directories + kind.extraDirectories {
        let path = dir + "/" + kind.binaryName
        guard let identity = FileIdentity(path), identity.isRegular, seen.insert(identity).inserted else { continue }
        var component = HostComponent(kind: kind, path: path)
        if let target = Sys.readLink(path).value { component.target = target }
        components.append(component)
      }
    }
    // CNI plugin directories: the defaults, then what containerd's and CRI-O's configs name.
    var cniDirs = cniDirectories
    let configured = configuredCNIDirectories()
    searched.configs = configured.notes
    for dir in configured.directories where !cniDirs.contains(dir) { cniDirs.append(dir) }
    searched.cniDirectories = cniDirs
    for dir in cniDirs {
      guard let names = Sys.listDirectory(dir).value else { continue }
      let plugins = names.filter { cniPluginNames.contains($0) }.sorted()
      guard !plugins.isEmpty else { continue }
      let binary = plugins.contains("loopback") ? "loopback" : plugins[0]
      let path = dir + "/" + binary
      guard let identity = FileIdentity(path), identity.isRegular, seen.insert(identity).inserted else { continue }
      var component = HostComponent(kind: .cniPlugins, path: path)
      component.facts["plugins"] = plugins.joined(separator: ", ")
      if let target = Sys.readLink(path).value { component.target = target }
      components.append(component)
    }
    // Version commands, all at once, each with the deadline.
    let runnable = components.indices.filter { components[$0].kind.versionArguments != nil }
    let runs = HostExec.run(runnable.map { [components[$0].path] + components[$0].kind.versionArguments! }, timeoutMilliseconds: timeoutMilliseconds)
    for (index, run) in zip(runnable, runs) { components[index].versionRun = run }
    var packagePaths: [String] = []
    for c in components {
      packagePaths.append(c.path)
      if let real = Sys.realPath(c.path).value, real != c.path { packagePaths.append(real) }
    }
    for dir in libraryDirectories {
      packagePaths.append(dir + "/libseccomp.so.2")
      if let real = Sys.realPath(dir + "/libseccomp.so.2").value { packagePaths.append(real) }
    }
    let packages = DpkgDatabase.owners(of: packagePaths)
    for index in components.indices {
      let path = components[index].path
      switch GoBuildInfo.read(path: path) {
      case .success(let info): components[index].buildInfo = info
      case .failure(let err): components[index].buildInfoProblem = err.description
      }
      if components[index].kind == .cniPlugins, let file = BinaryFile.open(path).value {
        components[index].facts["symbol:" + netlinksafeSymbol] = file.contains(Array(netlinksafeSymbol.utf8)) ? "present" : "absent"
        file.close()
      }
      components[index].package = packages[path] ?? Sys.realPath(path).value.flatMap { packages[$0] }
      components[index] = components[index].interpreted()
    }
    // libseccomp: what each runc reports, and the shared library on the node.
    for runc in components where runc.kind == .runc {
      if let output = runc.versionRun?.output, let version = ComponentKind.runcLibseccomp(fromOutput: output) {
        var lib = HostComponent(kind: .libseccomp, path: runc.path)
        lib.version = version
        lib.versionSource = .reportedBy
        lib.evidence = ["`\(runc.versionRun!.command)` says \"libseccomp: \(version)\": the libseccomp this runc compiles profiles with."]
        components.append(lib)
      }
    }
    for dir in libraryDirectories {
      let path = dir + "/libseccomp.so.2"
      guard let identity = FileIdentity(path), identity.isRegular, seen.insert(identity).inserted else { continue }
      var lib = HostComponent(kind: .libseccomp, path: path)
      let real = Sys.realPath(path).value ?? path
      let name = real.split(separator: "/").last.map(String.init) ?? ""
      if name.hasPrefix("libseccomp.so."), let version = ComponentVersion(String(name.dropFirst("libseccomp.so.".count))), version.release.count >= 3 {
        lib.version = String(name.dropFirst("libseccomp.so.".count))
        lib.versionSource = .fileName
        lib.evidence.append("\(path) is \(real): the shared libseccomp that dynamically linked runtimes (crun, Podman, Debian's runc) load.")
      }
      lib.package = packages[path] ?? packages[real]
      if lib.version == nil, let package = lib.package, let version = package.split(separator: " ").last {
        lib.version = String(version)
        lib.versionSource = .package
        lib.evidence.append("\(path) belongs to the package \(package) (/var/lib/dpkg).")
      }
      components.append(lib)
    }
    return (components, searched)
  }

  /// The plugins of containernetworking/plugins (and Concourse's bundle of them).
  static let cniPluginNames: Set<String> = [
    "loopback", "bridge", "host-local", "dhcp", "static", "ptp", "macvlan", "ipvlan", "vlan", "host-device",
    "portmap", "bandwidth", "firewall", "tuning", "sbr", "vrf", "dummy", "tap",
  ]

  /// The CNI plugin directories containerd's config.toml (`bin_dir = "…"`, `bin_dirs = […]`)
  /// and CRI-O's crio.conf (`plugin_dir = "…"`, `plugin_dirs = […]`) name.
  static func configuredCNIDirectories() -> (directories: [String], notes: [String]) {
    var dirs: [String] = []
    var notes: [String] = []
    func scan(_ file: String, keys: [String]) {
      switch Sys.readFile(file, limit: 1 << 20) {
      case .failure(.noSuchFile): return
      case .failure(let err): notes.append("\(file) could not be read (\(err.name)): its CNI plugin directories are not known")
      case .success(let bytes):
        let found = tomlStrings(String(decoding: bytes, as: UTF8.self), keys: keys)
        notes.append("\(file): " + (found.isEmpty ? "names no CNI plugin directory (\(keys.joined(separator: ", ")))" : found.map { "\"\($0)\"" }.joined(separator: ", ")))
        for dir in found where !dirs.contains(dir) { dirs.append(dir) }
      }
    }
    scan(containerdConfig, keys: ["bin_dir", "bin_dirs"])
    scan(crioConfigs[0], keys: ["plugin_dir", "plugin_dirs"])
    if let names = Sys.listDirectory(crioConfigs[1]).value {
      for name in names.sorted() where name.hasSuffix(".conf") { scan(crioConfigs[1] + "/" + name, keys: ["plugin_dir", "plugin_dirs"]) }
    }
    return (dirs, notes)
  }

  /// The string values of `key = "…"` and `key = ["…", "…"]` (over several lines) in TOML
  /// text, for the given keys; comments skipped. Pure.
  public static func tomlStrings(_ text: String, keys: [String]) -> [String] {
    var out: [String] = []
    var collecting = false
    for raw in text.split(separator: "\n", omittingEmptySubsequences: false) {
      var line = raw.trimmed()
      if line.hasPrefix("#") { continue }
      if !collecting {
        guard let eq = line.firstIndex(of: "=") else { continue }
        let key = line[..<eq].trimmed()
        guard keys.contains(key) else { continue }
        line = line[line.index(after: eq)...].trimmed()
        collecting = line.hasPrefix("[")
      }
      // Quoted strings on the line, up to a comment outside quotes.
      var current: String?
      var quote: Character = "\""
      for c in line {
        if var s = current {
          if c == quote {
            out.append(s)
            current = nil
          } else {
            s.append(c)
            current = s
          }
        } else if c == "\"" || c == "'" {
          quote = c
          current = ""
        } else if c == "#" {
          break
        } else if c == "]" {
          collecting = false
        }
      }
    }
    return out.filter { $0.hasPrefix("/") }
  }
}

/// A file's device and inode (after symlinks), so the same binary reached through /bin and
/// /usr/bin is one component.
struct FileIdentity: Hashable {
  var device: UInt64
  var inode: UInt64
  var isRegular: Bool

  init?(_ path: String) {
    var st = stat()
    guard stat(path, &st) == 0 else { return nil }
    device = UInt64(st.st_dev)
    inode = UInt64(st.st_ino)
    isRegular = st.st_mode & S_IFMT == S_IFREG
  }
}

/// Debian's package database, read as files: which package owns a path (/var/lib/dpkg/info/
/// *.list) and its version (/var/lib/dpkg/status). Asked once for all the paths at hand.
enum DpkgDatabase {
  /// Path → "containernetworking-plugins 1.1.1+ds1-3+b5", for the paths some package owns.
  /// merged-/usr aliases are tried too (/usr/lib/… is listed as /lib/… and the other way).
  static func owners(of paths: [String], root: String = "/var/lib/dpkg") -> [String: String] {
    guard !paths.isEmpty, let names = Sys.listDirectory(root + "/info").value else { return [:] }
    var aliases: [String: [String]] = [:]
    for path in paths {
      var forms = [path]
      if path.hasPrefix("/usr/") { forms.append(String(path.dropFirst(4))) } else { forms.append("/usr" + path) }
      aliases[path] = forms
    }
    var packageOf: [String: String] = [:]
    for name in names.sorted() where name.hasSuffix(".list") {
      guard let bytes = Sys.readFile(root + "/info/" + name, limit: 16 << 20).value else { continue }
      let text = [10] + bytes + [10]
      for (path, forms) in aliases where packageOf[path] == nil {
        if forms.contains(where: { contains(text, Array("\n\($0)\n".utf8)) }) {
          let package = String(name.dropLast(5))
          packageOf[path] = package.split(separator: ":").first.map(String.init) ?? package
        }
      }
      if packageOf.count == paths.count { break }
    }
    guard !packageOf.isEmpty else { return [:] }
    let status = Sys.readFile(root + "/status", limit: 64 << 20).value ?? []
    var out: [String: String] = [:]
    for (path, package) in packageOf {
      out[path] = version(of: package, in: status).map { "\(package) \($0)" } ?? package
    }
    return out
  }

  /// The "Version:" of the stanza "Package: NAME" in the status file.
  static func version(of package: String, in status: [UInt8]) -> String? {
    let needle = Array("Package: \(package)\n".utf8)
    var from = 0
    while let at = find(status, needle, from: from) {
      if at == 0 || status[at - 1] == 10 {
        var index = at + needle.count
        while index < status.count {
          let end = status[index...].firstIndex(of: 10) ?? status.count
          if end == index { return nil }  // the stanza ended
          let line = String(decoding: status[index..<end], as: UTF8.self)
          if line.hasPrefix("Version: ") { return String(line.dropFirst(9)) }
          index = end + 1
        }
        return nil
      }
      from = at + 1
    }
    return nil
  }

  static func contains(_ haystack: [UInt8], _ needle: [UInt8]) -> Bool { find(haystack, needle, from: 0) != nil }

  /// memmem(3) from `from`.
  static func find(_ haystack: [UInt8], _ needle: [UInt8], from: Int) -> Int? {
    guard from < haystack.count, !needle.isEmpty else { return nil }
    return haystack.withUnsafeBytes { h in
      needle.withUnsafeBytes { n -> Int? in
        let found = culprit_memmem(h.baseAddress! + from, h.count - from, n.baseAddress!, n.count)
        return found < 0 ? nil : from + found
      }
    }
  }
}
