import Foundation
import Testing

@testable import CulpritCore

/// The sweep's numbers for both architectures, checked against libseccomp's own name→number
/// resolution and, for names this libseccomp lacks, against the kernel's table.
@Suite struct SyscallTableTests {
  static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")

  /// name → number from a recorded syscall.tbl excerpt.
  static func kernelTable(_ file: String) throws -> [String: Int] {
    let text = try String(contentsOf: fixtures.appendingPathComponent("syscall-tables/\(file)"), encoding: .utf8)
    var table: [String: Int] = [:]
    for line in text.split(separator: "\n") where !line.hasPrefix("#") {
      let fields = line.split(whereSeparator: { $0 == "\t" || $0 == " " })
      guard fields.count >= 3, let number = Int(fields[0]) else { continue }
      table[String(fields[2])] = number
    }
    return table
  }

  @Test(arguments: Architecture.allCases)
  func everyNumberMatchesLibseccompOrTheKernelTable(arch: Architecture) throws {
    let common = try Self.kernelTable("generic-syscall.tbl.excerpt").merging(Self.kernelTable("newer-syscalls.excerpt")) { a, _ in a }
    let x86Only = try Self.kernelTable("x86_64-syscall_64.tbl.excerpt")
    let kernel = arch == .x86_64 ? common.merging(x86Only) { a, _ in a } : common
    var checkedByLibseccomp = 0
    for entry in SyscallNumber.table {
      let ours = entry.number(on: arch)
      if let theirs = SeccompFilter.resolve(entry.name, arch: arch.seccompToken) {
        checkedByLibseccomp += 1
        if theirs < 0 {
          #expect(ours == nil, "\(entry.name) is not a \(arch) call for libseccomp, but the table says \(ours.map(String.init) ?? "nil")")
        } else {
          #expect(ours == Int(theirs), "\(entry.name) on \(arch): table \(ours.map(String.init) ?? "nil"), libseccomp \(theirs)")
        }
      } else if let recorded = kernel[entry.name] {
        #expect(ours == recorded, "\(entry.name) on \(arch): table \(ours.map(String.init) ?? "nil"), kernel table \(recorded)")
      } else {
        // Not on this architecture: then it must be a real call of another one.
        #expect(ours == nil, "\(entry.name) is known neither to libseccomp nor to the recorded \(arch) table")
        #expect(x86Only[entry.name] != nil, "\(entry.name) is in no recorded table")
      }
    }
    // libseccomp 2.5.4 knows all but a few of them: the check above is not vacuous.
    #expect(checkedByLibseccomp >= 40)
  }

  @Test func theKernelTableExcerptAgreesWithLibseccompWhereBothKnow() throws {
    let kernel = try Self.kernelTable("generic-syscall.tbl.excerpt")
    #expect(kernel.count == 39)
    for (name, number) in kernel {
      for arch in Architecture.allCases {
        if let theirs = SeccompFilter.resolve(name, arch: arch.seccompToken), theirs >= 0 {
          #expect(Int(theirs) == number, "\(name) on \(arch)")
        }
      }
    }
  }

  @Test(arguments: Architecture.allCases)
  func everySweepCallHasANumberOnBothArchitectures(arch: Architecture) {
    for entry in SyscallSweep.table {
      #expect(entry.syscall.number(on: arch) != nil, "\(entry.id) has no \(arch) number")
      #expect(SyscallNumber.named(entry.syscall.name) == entry.syscall, "\(entry.id) is not in SyscallNumber.table")
    }
  }

  @Test func sweepIdsAreUniqueAndTheIssueListIsCovered() {
    let ids = SyscallSweep.table.map(\.id)
    #expect(Set(ids).count == ids.count)
    let required = [
      "clone3", "clone", "faccessat2", "openat2", "close_range", "statx", "rseq", "pidfd_open", "pidfd_send_signal",
      "pidfd_getfd", "io_uring_setup", "userfaultfd", "bpf", "perf_event_open", "keyctl", "unshare", "setns", "mount",
      "membarrier", "copy_file_range", "memfd_create", "getrandom", "landlock_create_ruleset", "process_madvise",
      "epoll_pwait2", "futex_waitv", "cachestat", "fchmodat2", "map_shadow_stack", "mseal", "ptrace", "mknodat",
      "personality", "socket(AF_UNIX)", "socket(AF_INET)", "socket(AF_INET6)", "socket(AF_NETLINK)", "socket(AF_PACKET)",
    ]
    for id in required { #expect(ids.contains(id), "the sweep lacks \(id)") }
  }

  @Test(arguments: Architecture.allCases)
  func theFingerprintNumbersAreUnassigned(arch: Architecture) {
    for number in [SyscallSweep.unassignedNumber, SyscallSweep.aboveEveryProfileNumber] {
      #expect(SeccompFilter.name(of: Int32(number), arch: arch.seccompToken) == nil, "\(number) is assigned on \(arch)")
      #expect(!SyscallNumber.table.contains { $0.number(on: arch) == number })
    }
  }

  @Test func resolutionPrefersTheTableAndSaysWhenANameIsForeign() {
    #expect(SyscallNumber.resolve("mseal", on: .x86_64) == .number(462))
    #expect(SyscallNumber.resolve("arch_prctl", on: .aarch64) == .notOnArchitecture)
    #expect(SyscallNumber.resolve("arch_prctl", on: .x86_64) == .number(158))
    #expect(SyscallNumber.resolve("uretprobe", on: .aarch64) == .notOnArchitecture)
    #expect(SyscallNumber.resolve("clone4", on: .x86_64) == .unknown)
  }
}
