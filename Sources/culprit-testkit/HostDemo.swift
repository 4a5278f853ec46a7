import CCulprit
import CulpritCore

#if canImport(Glibc)
import Glibc
#endif

/// `culprit-testkit host-cni [--cni-bin DIR] [--tries N] [--seconds S]`: runs the CNI
/// reproduction and prints its JSON (until `culprit host --reproduce cni` exists, and for the
/// tests' direct use).
///
/// `culprit-testkit cni-eintr-plugin`: a stand-in for a loopback plugin built with
/// vishvananda/netlink v1.3.0 — for the test that the reproduction counts EINTR failures. It
/// does what that plugin's ADD does with netlink (an address dump in CNI_NETNS) and, as
/// netlink v1.3.0 does, fails with "interrupted system call" when the kernel flagged the dump
/// NLM_F_DUMP_INTR. VERSION and DEL answer as a plugin does.
enum HostDemo {
  static func cni(_ arguments: [String]) {
    var cniBin: String?
    var tries = 300
    var seconds = 60
    var standing = 500
    var index = 0
    while index < arguments.count {
      let value = index + 1 < arguments.count ? arguments[index + 1] : ""
      switch arguments[index] {
      case "--cni-bin": cniBin = value
      case "--tries": tries = Int(value) ?? tries
      case "--seconds": seconds = Int(value) ?? seconds
      case "--standing": standing = Int(value) ?? standing
      default: fail("host-cni: unknown option \(arguments[index])")
      }
      index += 2
    }
    let result = CNIReproduction.run(cniBin: cniBin, tries: tries, seconds: seconds, standing: standing)
    _ = Sys.writeAll(1, Array((result.json.serialized(pretty: true) + "\n").utf8))
  }

  /// `culprit-testkit host-containers [--binary PATH] [--prefix NAME] [--runtimes a,b] [--seconds S]`:
  /// runs `--containers` and prints each run and the comparison as JSON.
  static func containers(_ arguments: [String]) {
    var binary = "/proc/self/exe"
    var runner = ContainerRunner()
    var index = 0
    while index < arguments.count {
      let value = index + 1 < arguments.count ? arguments[index + 1] : ""
      switch arguments[index] {
      case "--binary": binary = value
      case "--prefix": runner.prefix = value
      case "--seconds": runner.seconds = Int(value) ?? runner.seconds
      case "--runtimes": runner.runtimes = value.split(separator: ",").compactMap { ContainerRun.Runtime(rawValue: String($0)) }
      default: fail("host-containers: unknown option \(arguments[index])")
      }
      index += 2
    }
    let comparison = runner.run(binary: binary)
    _ = Sys.writeAll(1, Array((comparison.json.serialized(pretty: true) + "\n").utf8))
    _ = Sys.writeAll(2, Array(comparison.render(markdown: false).utf8))
  }

  static func eintrPlugin() -> Never {
    let environment = Subprocess.currentEnvironment()
    func answer(_ text: String, _ code: Int32) -> Never {
      _ = Sys.writeAll(1, Array((text + "\n").utf8))
      exit(code)
    }
    switch environment["CNI_COMMAND"] {
    case "VERSION"?:
      answer("{\"cniVersion\":\"1.0.0\",\"supportedVersions\":[\"0.4.0\",\"1.0.0\"]}", 0)
    case "ADD"?:
      guard let path = environment["CNI_NETNS"], case .success(let nsFD) = Sys.open(path, O_RDONLY),
        case .success = Sys.raw(SyscallNumber.named("setns")!.native!, [Int(nsFD), 0x4000_0000]),
        case .success(let fd) = RouteNetlink.open()
      else { answer("{\"code\":999,\"msg\":\"cannot enter CNI_NETNS: \(Errno.current.name)\"}", 1) }
      let dump = RouteNetlink.dumpAddresses(fd, seq: 1)
      if dump.interrupted { answer("{\"code\":999,\"msg\":\"interrupted system call\"}", 1) }
      answer("{\"cniVersion\":\"1.0.0\",\"interfaces\":[{\"name\":\"lo\"}]}", 0)
    case "DEL"?:
      exit(0)
    default:
      _ = Sys.writeAll(2, Array("CNI loopback plugin culprit-testkit (EINTR on NLM_F_DUMP_INTR, as vishvananda/netlink v1.3.0)\n".utf8))
      exit(1)
    }
  }
}
