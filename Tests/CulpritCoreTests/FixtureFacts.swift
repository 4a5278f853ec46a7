@testable import CulpritCore

/// What each fixture's PROVENANCE.md says is true of the system it was recorded on: the readers
/// must find exactly this.
struct FixtureFacts: Sendable, CustomStringConvertible {
  enum Pids: Equatable, Sendable {
    /// The pids controller was found and its pids.max is a number.
    case limit(Int)
    /// Found, and "max" or absent (the root cgroup): nothing limits here.
    case unlimited
    /// No pids controller directory of this process could be located.
    case notVisible
  }

  struct MountCheck: Sendable {
    var mountPoint: String
    var fsType: String
    var has: [String] = []
    var lacks: [String] = []
  }

  var name: String
  var release: String
  var libc: ImageLibc.Family
  var libcVersion: String? = nil
  var runtime: RuntimeDetection.Runtime
  var uid: UInt32 = 0
  var nprocSoft: UInt64?

  var effective: UInt64
  var bounding: UInt64
  var inheritable: UInt64 = 0
  var ambient: UInt64 = 0
  var noNewPrivs: Bool = false
  var capabilityClass: CapabilityState.Classification

  var seccomp: SeccompState.Mode
  var seccompFilters: Int

  var cgroupVersion: CgroupState.Version
  var cgroupNamespace: CgroupState.Namespace
  var cgroupControllers: [String]
  var pids: Pids
  var pidsCurrent: Int? = nil
  var pidsRefusals: Int? = nil
  var memoryLimit: UInt64? = nil
  var cpuQuota: [Int]? = nil
  var devicesList: [String]?

  var uidMap: [[UInt64]]
  var initialUserNamespace: Bool

  var yamaScope: Int? = nil
  var lsmActive: [String]? = nil
  var appArmorProfile: String? = nil

  var rootReadOnly: Bool
  var mounts: [MountCheck] = []

  var description: String { name }

  static let initialMap: [[UInt64]] = [[0, 0, 4_294_967_295]]
  static let allCaps: UInt64 = 0x1ff_ffff_ffff
  static let hostCaps: UInt64 = 0x1ff_feff_ffff
  static let runcCaps: UInt64 = 0x2000_0420
  static let v1Controllers = ["cpu", "cpuacct", "cpuset", "memory", "devices", "freezer", "blkio", "pids"]
  static let runcDevices = [
    "b *:* m", "c *:* m", "c 1:3 rwm", "c 1:5 rwm", "c 1:7 rwm", "c 1:8 rwm", "c 1:9 rwm", "c 5:0 rwm",
    "c 5:2 rwm", "c 10:200 rwm", "c 136:* rwm",
  ]
  static let dockerDevices = [
    "b *:* m", "c *:* m", "c 1:3 rwm", "c 1:5 rwm", "c 1:7 rwm", "c 1:8 rwm", "c 1:9 rwm", "c 5:0 rwm",
    "c 5:1 rwm", "c 5:2 rwm", "c 10:200 rwm", "c 136:* rwm",
  ]
  static let debianLSMs = ["lockdown", "capability", "landlock", "yama", "apparmor", "tomoyo", "bpf"]

  static let all: [FixtureFacts] = [
    FixtureFacts(
      name: "host-debian12-hybrid", release: "6.18.44-fc-v657", libc: .glibc, libcVersion: "2.36", runtime: .none,
      nprocSoft: 96365, effective: hostCaps, bounding: hostCaps, capabilityClass: .custom,
      seccomp: .disabled, seccompFilters: 0,
      cgroupVersion: .hybrid, cgroupNamespace: .host, cgroupControllers: ["hugetlb"] + v1Controllers,
      pids: .unlimited, devicesList: ["a *:* rwm"],
      uidMap: initialMap, initialUserNamespace: true,
      rootReadOnly: false,
      mounts: [MountCheck(mountPoint: "/", fsType: "ext4", has: ["rw"]),
               MountCheck(mountPoint: "/sys/fs/cgroup/unified", fsType: "cgroup2")]),
    FixtureFacts(
      name: "runc-default", release: "6.18.44-fc-v657", libc: .none, runtime: .container,
      nprocSoft: 96365, effective: runcCaps, bounding: runcCaps, noNewPrivs: true, capabilityClass: .custom,
      seccomp: .disabled, seccompFilters: 0,
      cgroupVersion: .v1, cgroupNamespace: .host, cgroupControllers: v1Controllers,
      pids: .unlimited, pidsCurrent: 1, pidsRefusals: 0, devicesList: runcDevices,
      uidMap: initialMap, initialUserNamespace: true,
      rootReadOnly: true,
      mounts: [MountCheck(mountPoint: "/dev", fsType: "tmpfs", has: ["nosuid"], lacks: ["nodev", "noexec"]),
               MountCheck(mountPoint: "/dev/shm", fsType: "tmpfs", has: ["nodev", "noexec"]),
               MountCheck(mountPoint: "/sys", fsType: "sysfs", has: ["ro"]),
               MountCheck(mountPoint: "/proc/sys", fsType: "proc", has: ["ro"]),
               MountCheck(mountPoint: "/sys/fs/cgroup/pids", fsType: "cgroup", has: ["ro"])]),
    FixtureFacts(
      name: "runc-userns", release: "6.18.44-fc-v657", libc: .none, runtime: .container,
      nprocSoft: 96365, effective: runcCaps, bounding: runcCaps, noNewPrivs: true, capabilityClass: .custom,
      seccomp: .disabled, seccompFilters: 0,
      cgroupVersion: .v1, cgroupNamespace: .host, cgroupControllers: v1Controllers,
      pids: .unlimited, pidsCurrent: 1, pidsRefusals: 0, devicesList: runcDevices,
      uidMap: [[0, 100_000, 65536]], initialUserNamespace: false,
      rootReadOnly: true,
      mounts: [MountCheck(mountPoint: "/dev", fsType: "tmpfs", has: ["nosuid", "uid=100000"]),
               MountCheck(mountPoint: "/dev/null", fsType: "devtmpfs")]),
    FixtureFacts(
      name: "docker-debian-default", release: "6.18.44-fc-v657", libc: .glibc, libcVersion: "2.36", runtime: .docker,
      nprocSoft: 96365, effective: 0xa804_25fb, bounding: 0xa804_25fb, capabilityClass: .dockerDefault,
      seccomp: .filter, seccompFilters: 1,
      cgroupVersion: .v1, cgroupNamespace: .host, cgroupControllers: v1Controllers,
      pids: .unlimited, pidsCurrent: 1, pidsRefusals: 0, devicesList: dockerDevices,
      uidMap: initialMap, initialUserNamespace: true,
      rootReadOnly: false,
      mounts: [MountCheck(mountPoint: "/", fsType: "overlay", has: ["rw"]),
               MountCheck(mountPoint: "/proc", fsType: "proc", has: ["nosuid", "nodev", "noexec"]),
               MountCheck(mountPoint: "/dev", fsType: "tmpfs", has: ["nosuid"], lacks: ["nodev"]),
               MountCheck(mountPoint: "/sys", fsType: "sysfs", has: ["ro"]),
               MountCheck(mountPoint: "/etc/resolv.conf", fsType: "ext4", has: ["rw"])]),
    FixtureFacts(
      name: "docker-scratch-capdrop", release: "6.18.44-fc-v657", libc: .none, runtime: .docker, uid: 1000,
      nprocSoft: 96365, effective: 0, bounding: 0, capabilityClass: .empty,
      seccomp: .filter, seccompFilters: 1,
      cgroupVersion: .v1, cgroupNamespace: .host, cgroupControllers: v1Controllers,
      pids: .limit(64), pidsCurrent: 1, pidsRefusals: 0, memoryLimit: 67_108_864, cpuQuota: [50000, 100_000],
      devicesList: dockerDevices,
      uidMap: initialMap, initialUserNamespace: true,
      rootReadOnly: true,
      mounts: [MountCheck(mountPoint: "/", fsType: "overlay", has: ["ro"]),
               MountCheck(mountPoint: "/out", fsType: "ext4", has: ["rw"])]),
    FixtureFacts(
      name: "podman-default", release: "6.18.44-fc-v657", libc: .glibc, libcVersion: "2.36", runtime: .podman,
      nprocSoft: 32768, effective: 0x8004_05fb, bounding: 0x8004_05fb, capabilityClass: .podmanDefault,
      seccomp: .filter, seccompFilters: 1,
      cgroupVersion: .v1, cgroupNamespace: .host, cgroupControllers: v1Controllers,
      pids: .limit(2048), pidsCurrent: 1, pidsRefusals: 0, devicesList: runcDevices,
      uidMap: initialMap, initialUserNamespace: true,
      rootReadOnly: false,
      mounts: [MountCheck(mountPoint: "/dev", fsType: "tmpfs", has: ["nosuid", "noexec"], lacks: ["nodev"]),
               MountCheck(mountPoint: "/sys/dev/block", fsType: "tmpfs", has: ["ro"])]),
    FixtureFacts(
      name: "cgroupv2-qemu", release: "6.1.0-56-amd64", libc: .none, runtime: .none,
      nprocSoft: 1782, effective: allCaps, bounding: allCaps, capabilityClass: .full,
      seccomp: .disabled, seccompFilters: 0,
      cgroupVersion: .v2, cgroupNamespace: .private, cgroupControllers: ["cpu", "memory", "pids"],
      pids: .limit(16), pidsCurrent: 1, pidsRefusals: 2, memoryLimit: 268_435_456, cpuQuota: [50000, 100_000],
      devicesList: nil,
      uidMap: initialMap, initialUserNamespace: true,
      yamaScope: 0, lsmActive: debianLSMs, appArmorProfile: "unconfined",
      rootReadOnly: false,
      mounts: [MountCheck(mountPoint: "/", fsType: "rootfs", has: ["rw"]),
               MountCheck(mountPoint: "/sys/fs/cgroup", fsType: "cgroup2", has: ["nosuid", "nodev", "noexec"])]),
    FixtureFacts(
      name: "cgroupv2-qemu-hostns", release: "6.1.0-56-amd64", libc: .none, runtime: .none,
      nprocSoft: 1782, effective: allCaps, bounding: allCaps, capabilityClass: .full,
      seccomp: .disabled, seccompFilters: 0,
      cgroupVersion: .v2, cgroupNamespace: .host, cgroupControllers: ["cpu", "memory", "pids"],
      pids: .limit(16), pidsCurrent: 1, pidsRefusals: 1, memoryLimit: 268_435_456, cpuQuota: [50000, 100_000],
      devicesList: nil,
      uidMap: initialMap, initialUserNamespace: true,
      yamaScope: 0, lsmActive: debianLSMs, appArmorProfile: "unconfined",
      rootReadOnly: false),
    FixtureFacts(
      name: "cgroupv2-qemu-unshared", release: "6.1.0-56-amd64", libc: .none, runtime: .none,
      nprocSoft: 1782, effective: allCaps, bounding: allCaps, capabilityClass: .full,
      seccomp: .disabled, seccompFilters: 0,
      // The cgroup2 mount shows the root cgroup, above this namespace: nothing of this
      // process's own cgroup can be read, so neither controllers nor limits may be reported.
      cgroupVersion: .v2, cgroupNamespace: .private, cgroupControllers: [],
      pids: .notVisible, devicesList: nil,
      uidMap: initialMap, initialUserNamespace: true,
      yamaScope: 0, lsmActive: debianLSMs, appArmorProfile: "unconfined",
      rootReadOnly: false),
  ]
}
