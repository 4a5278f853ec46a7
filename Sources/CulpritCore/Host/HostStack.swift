/// The runtime components `culprit host` looks for, how it finds each and how it asks each for
/// its version. Nothing is installed, started or changed: a component is a file found on disk,
/// its version comes from the component itself (its version command, run with a deadline, or
/// the Go build info in its file), and when neither says, from the distribution's package
/// database (/var/lib/dpkg), read as a file.
public enum ComponentKind: String, CaseIterable, Sendable {
  case dockerd
  case dockerCLI = "docker"
  case containerd
  case containerdShim = "containerd-shim-runc-v2"
  case runc
  case crun
  case podman
  case conmon
  case kubelet
  case cniPlugins = "cni-plugins"
  case concourse
  /// The libseccomp a runtime links, as runc reports it or as the shared library's file says.
  case libseccomp

  /// The binary's file name.
  var binaryName: String {
    switch self {
    case .cniPlugins: return "loopback"
    default: return rawValue
    }
  }

  /// The arguments that make it print its version and exit (nil: never run it).
  var versionArguments: [String]? {
    switch self {
    case .containerdShim: return ["-v"]
    case .cniPlugins: return []  // no CNI_COMMAND: prints "CNI loopback plugin v1.6.0" and exits
    case .libseccomp: return nil
    default: return ["--version"]
    }
  }

  /// Extra directories where it lives besides $PATH and the usual bin directories.
  var extraDirectories: [String] {
    switch self {
    case .conmon: return ["/usr/libexec/podman", "/usr/local/libexec/podman", "/usr/lib/podman"]
    case .runc, .containerd, .containerdShim, .concourse: return ["/usr/local/concourse/bin"]
    case .crun, .podman, .dockerd, .dockerCLI, .kubelet, .libseccomp, .cniPlugins: return []
    }
  }

  /// The Go module path of the main module whose version is this component's (for build info).
  var goModule: String? {
    switch self {
    case .dockerd: return "github.com/docker/docker"
    case .dockerCLI: return "github.com/docker/cli"
    case .containerd, .containerdShim: return "github.com/containerd/containerd"
    case .runc: return "github.com/opencontainers/runc"
    case .podman: return "github.com/containers/podman"
    case .kubelet: return "k8s.io/kubernetes"
    case .cniPlugins: return "github.com/containernetworking/plugins"
    case .concourse: return "github.com/concourse/concourse"
    case .crun, .conmon, .libseccomp: return nil
    }
  }

  /// The -ldflags -X variables that carry the version.
  var linkerVersionVariables: [String] {
    switch self {
    case .dockerd: return ["dockerversion.Version"]
    case .dockerCLI: return ["cli/version.Version"]
    case .containerd, .containerdShim: return ["containerd/version.Version"]
    case .runc: return ["main.version"]
    case .podman: return ["version.Version"]
    case .kubelet: return ["version.gitVersion"]
    case .cniPlugins: return ["buildversion.BuildVersion"]
    case .concourse: return ["concourse.Version"]
    case .crun, .conmon, .libseccomp: return []
    }
  }

  /// What it is, for the report.
  public var role: String {
    switch self {
    case .dockerd: return "Docker daemon (its seccomp profile is the default for docker run)"
    case .dockerCLI: return "Docker client"
    case .containerd: return "containerd (its default profile applies to CRI/Kubernetes and ctr)"
    case .containerdShim: return "containerd's runc shim"
    case .runc: return "OCI runtime (compiles the seccomp profile, adds the -ENOSYS stub)"
    case .crun: return "OCI runtime (Podman's default)"
    case .podman: return "Podman"
    case .conmon: return "Podman's container monitor"
    case .kubelet: return "Kubernetes node agent"
    case .cniPlugins: return "CNI plugins (container networking: loopback, bridge, …)"
    case .concourse: return "Concourse (worker bundles containerd, runc and CNI plugins)"
    case .libseccomp: return "libseccomp (names the runtime can put into a filter)"
    }
  }

  /// The version from the component's own version output, pure: nil when it says none.
  public func version(fromOutput output: String) -> String? {
    let lines = output.split(separator: "\n").map { $0.trimmed() }
    func firstNumberWord(_ words: [Substring]) -> String? {
      words.map(String.init).first { ComponentVersion($0) != nil }
    }
    switch self {
    case .dockerd, .dockerCLI:
      // "Docker version 20.10.24+dfsg1, build 5d6db84"
      for line in lines where line.hasPrefix("Docker version ") {
        let word = line.dropFirst("Docker version ".count).split(separator: ",").first.map { $0.trimmed() }
        if let word, ComponentVersion(word) != nil { return word }
      }
      return nil
    case .containerd:
      // "containerd github.com/containerd/containerd 1.6.20~ds1 1.6.20~ds1-1+deb12u3"
      for line in lines where line.hasPrefix("containerd ") {
        let words = line.split(separator: " ")
        if words.count >= 3, ComponentVersion(String(words[2])) != nil { return String(words[2]) }
      }
      return nil
    case .containerdShim:
      // "  Version:  1.6.20~ds1"
      for line in lines where line.hasPrefix("Version:") {
        return firstNumberWord(line.split(separator: " "))
      }
      return nil
    case .runc, .crun, .podman, .conmon:
      // "runc version 1.1.5+ds1", "crun version 1.8.1", "podman version 4.3.1",
      // "conmon version 2.1.6"
      for line in lines where line.hasPrefix(rawValue + " version ") {
        return firstNumberWord(line.dropFirst(rawValue.count + 9).split(separator: " "))
      }
      return nil
    case .kubelet:
      // "Kubernetes v1.29.0"
      for line in lines where line.hasPrefix("Kubernetes ") {
        return firstNumberWord(line.split(separator: " "))
      }
      return nil
    case .cniPlugins:
      // "CNI loopback plugin v1.6.0" (or "… plugin version unknown")
      for line in lines where line.hasPrefix("CNI ") && line.contains(" plugin ") {
        let words = line.split(separator: " ")
        if let last = words.last, last.hasPrefix("v") || last.first?.isNumber == true, ComponentVersion(String(last)) != nil {
          return String(last)
        }
      }
      return nil
    case .concourse:
      // "7.12.1"
      for line in lines {
        if let word = firstNumberWord(line.split(separator: " ")) { return word }
      }
      return nil
    case .libseccomp:
      return nil
    }
  }

  /// The libseccomp version runc prints ("libseccomp: 2.5.4"), pure.
  public static func runcLibseccomp(fromOutput output: String) -> String? {
    for line in output.split(separator: "\n") {
      let text = line.trimmed()
      if text.hasPrefix("libseccomp:") {
        let value = text.dropFirst("libseccomp:".count).trimmed()
        return ComponentVersion(value) != nil ? value : nil
      }
    }
    return nil
  }
}

/// Where a component's version was read.
public enum VersionSource: String, Sendable {
  /// The component's own version command.
  case versionCommand = "version-command"
  /// The Go build info in its file: an -ldflags -X version stamp or the main module version.
  case buildInfo = "build-info"
  /// The distribution's package database: the package that owns the file.
  case package
  /// Another component's report (the libseccomp runc says it links).
  case reportedBy = "reported-by"
  /// The shared library's file name (libseccomp.so.2 → libseccomp.so.2.5.4).
  case fileName = "file-name"
}

/// One component found on the node, with everything read about it.
public struct HostComponent: Sendable {
  public var kind: ComponentKind
  /// The path it was found at (as found: the symlink, not its target).
  public var path: String
  /// Where the symlink leads, when it is one.
  public var target: String?
  /// The version text as the source gave it ("1.1.5+ds1"), or nil when nothing said.
  public var version: String?
  public var versionSource: VersionSource?
  /// Sentences a person can check: the command run and its first line, the build info, the
  /// package.
  public var evidence: [String]
  public var versionRun: VersionRun?
  public var buildInfo: GoBuildInfo?
  /// Why the build info could not be read (unreadable, not ELF), or nil.
  public var buildInfoProblem: String?
  /// The dpkg package that owns the file, "name version".
  public var package: String?
  /// Named facts a known-bug row may test: "symbol:github.com/…/netlinksafe" → "present" /
  /// "absent", "plugins" → "bridge, loopback, …".
  public var facts: [String: String]

  public init(kind: ComponentKind, path: String) {
    self.kind = kind
    self.path = path
    evidence = []
    facts = [:]
  }

  public var parsedVersion: ComponentVersion? { version.flatMap(ComponentVersion.init) }
}

/// The node's kernel and security settings that decide what containers get.
public struct HostSystem: Sendable {
  public var kernelRelease: String?
  public var cgroupMode: String?
  public var cgroupEvidence: [String]
  public var yamaScope: Int?
  public var yamaPresent: Bool?
  public var yamaEvidence: [String]
  public var appArmorEnabled: Bool?
  public var appArmorProfilesLoaded: Int?
  public var seLinuxEnforcing: Bool?
  public var lsmActive: [String]?
  public var lsmEvidence: [String]
  /// "user.max_user_namespaces" → "63724", "kernel.unprivileged_userns_clone" → "1", …; an
  /// absent file has no entry.
  public var userNamespaceSysctls: [(name: String, value: String)]
  /// Where culprit itself runs when it is not the node (a container), from the runtime
  /// detection: "docker", …, or "none".
  public var runningIn: String

  public init() {
    cgroupEvidence = []
    yamaEvidence = []
    lsmEvidence = []
    userNamespaceSysctls = []
    runningIn = "none"
  }

  static let userNamespaceFiles: [(file: String, name: String)] = [
    ("/proc/sys/user/max_user_namespaces", "user.max_user_namespaces"),
    ("/proc/sys/kernel/unprivileged_userns_clone", "kernel.unprivileged_userns_clone"),
    ("/proc/sys/kernel/apparmor_restrict_unprivileged_userns", "kernel.apparmor_restrict_unprivileged_userns"),
  ]

  public static func read(_ snapshot: Snapshot) -> HostSystem {
    var system = HostSystem()
    let source = snapshot.source
    system.kernelRelease = snapshot.kernel.value?.uname.release
    system.cgroupMode = snapshot.cgroup.version?.rawValue
    system.cgroupEvidence = snapshot.cgroup.evidence.filter { $0.contains("cgroup") }.prefix(3).map { $0 }
    system.yamaScope = snapshot.yama.scope
    system.yamaPresent = snapshot.yama.present
    system.yamaEvidence = snapshot.yama.evidence
    let lsm = snapshot.lsm
    system.appArmorEnabled = lsm.appArmorEnabled
    system.seLinuxEnforcing = lsm.seLinuxEnforcing
    system.lsmActive = lsm.active
    system.lsmEvidence = lsm.evidence.filter { !$0.hasPrefix("/proc/self/attr") }
    if lsm.appArmorEnabled == true, case .success(let profiles) = source.readText("/sys/kernel/security/apparmor/profiles") {
      system.appArmorProfilesLoaded = profiles.split(separator: "\n").count
    }
    for (file, name) in userNamespaceFiles {
      if let value = source.readLine(file) { system.userNamespaceSysctls.append((name, value)) }
    }
    system.runningIn = snapshot.runtime.runtime.rawValue
    return system
  }
}

extension HostComponent {
  /// The version and its evidence decided from what was read (pure): the component's own
  /// version command first, then its build info (an -ldflags -X version stamp, then the main
  /// module's version when it is not "(devel)"), then the package that owns the file. Every
  /// source that said something is in the evidence, so a disagreement shows.
  public func interpreted() -> HostComponent {
    var c = self
    c.evidence = []
    c.version = nil
    c.versionSource = nil
    let shown = target.map { "\(path) (→ \($0))" } ?? path
    if let run = versionRun {
      let lines = run.output.split(separator: "\n").map { $0.trimmed() }.filter { !$0.isEmpty }
      let firstLine = lines.first ?? ""
      if let v = kind.version(fromOutput: run.output), run.exitStatus != nil {
        c.version = v
        c.versionSource = .versionCommand
        let line = lines.first { $0.contains(v) } ?? firstLine
        c.evidence.append("`\(run.command)` \(run.ending): \"\(line)\".")
      } else if run.exitStatus != nil && !firstLine.isEmpty {
        c.evidence.append("`\(run.command)` \(run.ending) and states no version: \"\(firstLine)\".")
      } else {
        c.evidence.append("`\(run.command)` \(run.ending).")
      }
    }
    if let info = buildInfo {
      var parts = ["Go build info in \(shown) (\(info.location)): \(info.goVersion)"]
      if let path = info.path { parts.append("main package \(path)") }
      if let main = info.main { parts.append("module \(main.path) \(main.version)") }
      let stamp = info.linkerValue(endingWith: kind.linkerVersionVariables)
      if let stamp { parts.append("-ldflags -X \(stamp.name)=\(stamp.value)") }
      if info.main == nil && info.dependencies.isEmpty { parts.append("no module information (built in GOPATH mode, as distributions do)") }
      for dep in info.dependencies where HostComponent.keyDependencies.contains(dep.path) {
        parts.append("dependency \(dep.path) \(dep.replacement.map { "\(dep.version) => \($0.path) \($0.version)" } ?? dep.version)")
      }
      c.evidence.append(parts.joined(separator: "; ") + ".")
      if c.version == nil {
        if let stamp, ComponentVersion(stamp.value) != nil {
          c.version = stamp.value
          c.versionSource = .buildInfo
        } else if let main = info.main, main.path == kind.goModule, main.version != "(devel)", ComponentVersion(main.version) != nil {
          c.version = main.version
          c.versionSource = .buildInfo
        }
      }
    } else if let problem = buildInfoProblem {
      c.evidence.append("\(shown): its Go build info could not be read: \(problem).")
    }
    if let package {
      c.evidence.append("\(path) belongs to the package \(package) (/var/lib/dpkg).")
      if c.version == nil, let version = package.split(separator: " ").last, ComponentVersion(String(version)) != nil {
        c.version = String(version)
        c.versionSource = .package
      }
    }
    if let symbol = facts["symbol:" + HostDiscovery.netlinksafeSymbol] {
      c.evidence.append(
        symbol == "present"
          ? "\(path) contains \(HostDiscovery.netlinksafeSymbol): it retries interrupted netlink dumps."
          : "\(path) does not contain \(HostDiscovery.netlinksafeSymbol) (the retrying netlink wrapper of plugins ≥ 1.7.0).")
    }
    return c
  }

  /// Dependencies the known-bug table keys on, shown in the evidence.
  public static let keyDependencies: Set<String> = [
    "github.com/vishvananda/netlink", "github.com/opencontainers/runc", "github.com/seccomp/libseccomp-golang",
    "github.com/containerd/containerd", "github.com/containernetworking/plugins",
  ]

  /// The version of a Go dependency from the build info (the replacement's when replaced).
  public func dependencyVersion(_ module: String) -> String? {
    guard let dep = buildInfo?.dependency(module) else { return nil }
    if let r = dep.replacement, !r.version.isEmpty { return r.version }
    return dep.version
  }
}
