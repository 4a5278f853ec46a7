import CulpritCore
import Foundation
import Testing

/// /proc/devices parsing, device numbers, and which layer refuses mknod or open, over the
/// layers' states. The live tests (CulpritCLITests/MknodTests) reproduce each layer for real.
@Suite struct DeviceNodeAccessTests {
  /// /proc/devices of the build machine (Debian 12 x86_64, kernel 6.18.44), captured with
  /// `cat /proc/devices` on 2025-11-22. Character majors 245–254 and block 253–254 are
  /// dynamic allocations, which is why the probe avoids the 240–254 local-use range.
  static let procDevices = """
    Character devices:
      1 mem
      4 /dev/vc/0
      4 tty
      4 ttyS
      5 /dev/tty
      5 /dev/console
      5 /dev/ptmx
      7 vcs
     10 misc
     13 input
    128 ptm
    136 pts
    203 cpu/cpuid
    245 hidraw
    246 macvtap
    247 mei
    248 bsg
    249 watchdog
    250 ptp
    251 pps
    252 dax
    253 dimmctl
    254 ndctl

    Block devices:
      7 loop
    253 zram
    254 virtblk
    259 blkext

    """

  /// Lines of /proc/self/mountinfo from the build machine: the root filesystem, and a tmpfs
  /// mounted `-o nodev,ro` in a private mount namespace.
  static let mountinfo = """
    27 1 254:0 / / rw,relatime - ext4 /dev/vda rw,discard,resv_strict,resuid=65534,resgid=65534
    65 44 0:39 / /mnt ro,nodev,relatime - tmpfs none ro

    """

  @Test func parsesBothSectionsOfProcDevices() {
    let devices = RegisteredDevices.parse(Self.procDevices)
    #expect(devices.characterMajors == [1, 4, 5, 7, 10, 13, 128, 136, 203, 245, 246, 247, 248, 249, 250, 251, 252, 253, 254])
    #expect(devices.blockMajors == [7, 253, 254, 259])
    #expect(devices.unusedMajor(block: false) == 60)
    #expect(devices.unusedMajor(block: true) == 60)
  }

  @Test func skipsLocalUseMajorsADriverTook() {
    let devices = RegisteredDevices.parse(
      Self.procDevices.replacingOccurrences(of: "Block devices:\n", with: " 60 mydriver\n 61 other\nBlock devices:\n 60 blk\n"))
    #expect(devices.unusedMajor(block: false) == 62)
    #expect(devices.unusedMajor(block: true) == 61)
    let all = RegisteredDevices(characterMajors: Set(RegisteredDevices.localUseMajors), blockMajors: [])
    #expect(all.unusedMajor(block: false) == nil)
  }

  @Test(arguments: [
    // (major, minor, glibc makedev value; computed with Python's os.makedev on the build machine)
    (60, 0, 0x3c00), (1, 3, 0x103), (8, 17, 0x811), (259, 1, 0x10301), (4095, 255, 0xfffff), (4096, 256, 0x1000_0010_0000),
  ] as [(UInt32, UInt32, UInt64)])
  func deviceNumbersEncodeLikeGlibc(major: UInt32, minor: UInt32, encoded: UInt64) {
    let number = DeviceNumber(major: major, minor: minor)
    #expect(number.encoded == encoded)
    #expect(DeviceNumber(encoded: encoded) == number)
  }

  func situation(
    seccomp: Errno? = .invalidArgument, initial: Bool? = true, mknod: Bool? = true, list: [String]? = ["a *:* rwm"],
    version: CgroupState.Version? = .v1, mount: String = "/", confinement: String? = nil
  ) -> DeviceNodeAccess.Situation {
    DeviceNodeAccess.Situation(
      seccompCheck: seccomp, initialUserNamespace: initial, hasMknodCapability: mknod, devicesList: list,
      cgroupVersion: version, mount: MountTable.parse(Self.mountinfo).mount(containing: mount), confinement: confinement)
  }

  let c60 = DeviceNumber(major: 60, minor: 0)

  @Test func mknodRefusalsFollowTheKernelsOrder() {
    func blame(_ error: Errno, _ type: Character = "c", _ s: DeviceNodeAccess.Situation) -> Layer {
      DeviceNodeAccess.mknodRefusal(error, type: type, device: c60, s).layer
    }
    // A filter that answers the discriminating call answers the real one.
    #expect(blame(.notPermitted, "p", situation(seccomp: .notPermitted)) == .seccomp)
    #expect(blame(.notPermitted, "c", situation(seccomp: .notPermitted, initial: false, mknod: false)) == .seccomp)
    #expect(blame(.noFunction, "p", situation()) == .seccomp)
    #expect(blame(.readOnlyFileSystem, "p", situation(mount: "/mnt")) == .mount)
    // The user namespace comes before the capability: CAP_MKNOD there does not count.
    #expect(blame(.notPermitted, "c", situation(initial: false, mknod: true)) == .userns)
    #expect(blame(.notPermitted, "b", situation(initial: false, mknod: false)) == .userns)
    #expect(blame(.notPermitted, "c", situation(mknod: false)) == .capabilities)
    #expect(blame(.notPermitted, "c", situation(list: ["c 1:* rwm"])) == .cgroupDevices)
    #expect(blame(.notPermitted, "b", situation(list: ["c *:* m"])) == .cgroupDevices)
    #expect(blame(.notPermitted, "c", situation(list: nil, version: .v2)) == .cgroupDevices)
    // Everything allows it, yet EPERM: no guess.
    #expect(blame(.notPermitted, "c", situation(list: ["c *:* m"])) == .unknown)
    // A FIFO skips CAP_MKNOD and the devices cgroup.
    #expect(blame(.notPermitted, "p", situation(mknod: false, list: [])) == .unknown)
    #expect(blame(.permissionDenied, "c", situation(confinement: "AppArmor profile docker-default")) == .lsm)
  }

  @Test func cgroupBlameNamesTheMissingAccess() {
    let blame = DeviceNodeAccess.mknodRefusal(.notPermitted, type: "c", device: c60, situation(list: ["c 1:* rwm", "b *:* m"]))
    #expect(blame.reason.contains("'m'") && blame.reason.contains("c 60:0"))
    let open = DeviceNodeAccess.openRefusal(
      .notPermitted, type: "c", device: c60, accesses: ["r", "w"], situation(list: ["c *:* m", "b *:* m"]))
    #expect(open?.layer == .cgroupDevices)
    #expect(open?.reason.contains("'r' or 'w'") == true)
    let writeOnly = DeviceNodeAccess.openRefusal(
      .notPermitted, type: "c", device: c60, accesses: ["r", "w"], situation(list: ["c 60:0 mw"]))
    #expect(writeOnly?.reason.contains("no 'r' access") == true)
  }

  @Test func openRefusals() {
    func blame(_ error: Errno, _ s: DeviceNodeAccess.Situation) -> Layer? {
      DeviceNodeAccess.openRefusal(error, type: "c", device: c60, accesses: ["r"], s)?.layer
    }
    // ENXIO: no driver serves the number, so every layer let the open through.
    #expect(blame(.noSuchDeviceOrAddress, situation(list: [])) == nil)
    #expect(blame(.permissionDenied, situation(mount: "/mnt")) == .mount)
    #expect(blame(.permissionDenied, situation(confinement: "SELinux context system_u:system_r:container_t:s0")) == .lsm)
    #expect(blame(.permissionDenied, situation(initial: false)) == .mount)
    #expect(blame(.permissionDenied, situation()) == .unknown)
    #expect(blame(.notPermitted, situation(list: ["c *:* m"])) == .cgroupDevices)
    #expect(blame(.notPermitted, situation(list: nil, version: .v2)) == .cgroupDevices)
    #expect(blame(.notPermitted, situation(list: ["a *:* rwm"], version: .v1)) == .unknown)
    #expect(blame(.notPermitted, situation(list: ["a *:* rwm"], version: .hybrid)) == .cgroupDevices)
  }
}
