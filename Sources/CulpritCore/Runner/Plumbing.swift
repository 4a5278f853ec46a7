import CCulprit

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// A system call culprit itself needs to run its probes — to fork them, share a page with them,
/// wait for them, end them — as opposed to a call a probe tests. When one of these fails the
/// probe's verdict would be about culprit, not about the container, so the runner says what
/// happened to culprit instead and names no layer.
public struct PlumbingFailure: Equatable, Sendable {
  /// The system call's name ("wait4").
  public var call: String
  public var errno: Errno
  /// Set when the call did not return but ended the process: "SIGSYS" (a seccomp KILL or TRAP).
  public var killedBy: String?

  public init(call: String, errno: Errno, killedBy: String? = nil) {
    self.call = call
    self.errno = errno
    self.killedBy = killedBy
  }

  /// What culprit needs the call for, as the end of "which culprit needs to …".
  public var purpose: String { Plumbing.purposes[call] ?? "run its probes" }
}

/// Where plumbing failures are recorded: in a probe child (or a child of its own) on the probe's
/// shared page, which the runner reads however the child ended; in culprit's own process, on
/// the `Child` being collected.
public enum Plumbing {
  /// What each call is needed for.
  static let purposes: [String: String] = [
    "wait4": "collect its probe processes and learn how they ended",
    "getpid": "tell its own processes from the container's",
    "getppid": "check that a probe process is still culprit's child before it runs",
    "mmap": "share a page with each probe process for its result",
    "kill": "end its probe processes at their deadline",
    "rt_sigaction": "catch a seccomp TRAP in its probe processes",
    "pipe2": "hear back from a probe's helper process",
    "ppoll": "wait for its probe processes with a deadline",
    "rt_sigprocmask": "block signals outside its waits",
    "prctl": "reap the orphans of its probe processes",
    "setpgid": "give each probe process a process group",
    "futex": "wait for the threads it starts (glibc's pthread_join and locks)",
    "newfstatat": "read its files (glibc's fstat and getaddrinfo's check of /etc/resolv.conf)",
    "lseek": "read its files (glibc's stdio, as getaddrinfo uses it for /etc/hosts)",
  ]

  /// Prefix of the steps a probe child announces while it runs culprit's own calls, before
  /// the probe's (`Children.spawn`).
  static let stepPrefix = "culprit's own "

  /// The probe's page, in a probe child and the children it forks (inherited across fork).
  nonisolated(unsafe) static var probePage: UnsafeMutablePointer<culprit_shared_page>?

  /// Records that `call` failed with `errno`. In a probe child the first failure is written to
  /// the probe's page; in culprit's process it is returned for the caller to keep.
  @discardableResult
  public static func record(_ call: String, _ errno: Errno) -> PlumbingFailure {
    let failure = PlumbingFailure(call: call, errno: errno)
    if let page = probePage, page.pointee.plumbing_errno == 0 {
      let bytes = Array(call.utf8.prefix(27))
      withUnsafeMutableBytes(of: &page.pointee.plumbing_call) { raw in
        raw.copyBytes(from: bytes)
        raw[bytes.count] = 0
      }
      page.pointee.plumbing_errno = errno.rawValue
    }
    return failure
  }

  /// The failure recorded on a probe's page, if any.
  static func recorded(on page: UnsafeMutablePointer<culprit_shared_page>) -> PlumbingFailure? {
    let number = page.pointee.plumbing_errno
    guard number != 0 else { return nil }
    let call = withUnsafeBytes(of: &page.pointee.plumbing_call) { raw in
      String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
    }
    return PlumbingFailure(call: call, errno: Errno(rawValue: number))
  }
}

extension Probe {
  /// The verdict for a probe that culprit could not run because a call of its own failed:
  /// `skipped`, no layer, saying which call, its errno and what culprit needs it for. Where a
  /// seccomp filter is installed and the errno is one a filter gives, the filter is named as
  /// what refused culprit's call, never as a finding about the container's workload.
  ///
  /// `oracle` is the filter's answer to the call, asked without executing it (`PlumbingCheck`).
  public func plumbingVerdict(
    _ failure: PlumbingFailure, snapshot: Snapshot, lastStep: String?, oracle: String? = nil
  ) -> ProbeResult {
    let call = "`\(failure.call)`"
    let filtered = snapshot.seccomp.mode == .filter
    let limit = failure.errno == Errno(rawValue: EMFILE) ? snapshot.source.rlimit(.nofile).value : nil
    let summary: String
    var evidence: [String] = []
    if let signal = failure.killedBy {
      summary = "culprit could not run this probe: seccomp refuses \(call), which culprit needs to \(failure.purpose)"
      evidence.append(
        "A process of culprit's was ended by \(signal) in \(failure.call), one of culprit's own calls, before this probe began: a seccomp filter's KILL or TRAP action.")
    } else if let oracle {
      summary = "culprit could not run this probe: seccomp refuses \(call), which culprit needs to \(failure.purpose)"
      evidence.append(
        "Asked without executing it (a SECCOMP_RET_USER_NOTIF listener of culprit's own, which the filters already installed outrank), the seccomp filter answers \(failure.call) with \(oracle).")
    } else if let limit {
      summary = "culprit could not run this probe: \(call) failed with EMFILE, since RLIMIT_NOFILE (\(ProcessLimits.describe(limit.soft))) leaves culprit no descriptor, which it needs to \(failure.purpose)"
    } else if filtered && [Errno.notPermitted, .noFunction, .permissionDenied].contains(failure.errno) {
      summary = "culprit could not run this probe: seccomp refuses \(call), which culprit needs to \(failure.purpose)"
      evidence.append(
        "\(failure.call) returned \(failure.errno.description) in culprit's own plumbing, where the kernel has no such answer for it; this process has a seccomp filter (/proc/self/status Seccomp: 2).")
    } else {
      summary = "culprit could not run this probe: \(call) failed with \(failure.errno.name), which culprit needs to \(failure.purpose)"
    }
    evidence.insert(
      "\(failure.call) is one of culprit's own calls, not one this probe tests; the probe's verdict would have been about culprit, so none is given.",
      at: 0)
    if let lastStep, !lastStep.hasPrefix(Plumbing.stepPrefix) { evidence.append("The probe's last step was \(lastStep).") }
    return verdict(
      .skipped, summary, evidence: evidence,
      hint: "Other probes that do not need \(failure.call) still give their verdicts. A program that needs \(failure.call) fails here the same way.",
      facts: [
        "culprit_call": .string(failure.call), "culprit_errno": .string(failure.errno.name),
        "oracle_answer": .from(oracle),
        "last_step": .from(lastStep),
      ])
  }
}
