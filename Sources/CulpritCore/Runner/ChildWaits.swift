import CCulprit

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Bounded waits for probe children that coordinate with processes of their own: no sleeps,
/// ppoll(2) with SIGCHLD unblocked only while waiting, as in `Children.collect`.
extension Children {
  /// Waits, as its tracer, for `pid` to enter a ptrace-stop (waitpid with __WALL), until the
  /// deadline. The status when it changed, nil when the deadline passed first.
  public static func waitForStop(_ pid: pid_t, deadline: UInt64) -> Result<Sys.WaitStatus?, Errno> {
    prepareParent()
    // The runner's handler has SA_NOCLDSTOP, which also silences ptrace-stops.
    if culprit_install_sigchld_wakeup(1) != 0 { wakeups = false }
    while true {
      switch Sys.tryWaitAny(pid) {
      case .failure(let err):
        if err != .noChildProcess { Plumbing.record("wait4", err) }
        return .failure(err)
      case .success(let status?): return .success(status)
      case .success(nil): break
      }
      let now = Sys.monotonicNanoseconds()
      if now >= deadline { return .success(nil) }
      var none: [pollfd] = []
      // A tracee's stop sends SIGCHLD to its tracer, which ends the ppoll.
      _ = culprit_ppoll(&none, 0, pollWait(deadline - now))
    }
  }

  /// Waits until `fd` has something to read (or its writer is gone), until the deadline.
  public static func waitReadable(_ fd: Int32, deadline: UInt64) -> Bool {
    prepareParent()
    while true {
      let now = Sys.monotonicNanoseconds()
      if now >= deadline { return false }
      var set = [pollfd(fd: fd, events: Int16(POLLIN), revents: 0)]
      let ready = culprit_ppoll(&set, 1, pollWait(deadline - now))
      if ready > 0 { return true }
    }
  }
}
