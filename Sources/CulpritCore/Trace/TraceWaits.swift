import CCulprit

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Reading a traced thread's state from /proc: its credentials at a failure, and for --pid
/// what it is blocked in and since when.
public enum TraceWaits {
  nonisolated(unsafe) static let live = LiveSystem()

  /// /proc/TID/status and attr/current of a stopped thread.
  public static func taskFacts(_ tid: Int32) -> TraceTaskFacts? {
    guard let text = live.readText("/proc/\(tid)/status").value else { return nil }
    return parseTaskFacts(status: text, label: live.readText("/proc/\(tid)/attr/current").value)
  }

  /// Pure: the facts of a status text (and an attr/current text).
  public static func parseTaskFacts(status text: String, label: String?) -> TraceTaskFacts {
    let status = ProcStatus.parse(text)
    func ids(_ key: String) -> [UInt32] {
      (status[key] ?? "").split(whereSeparator: { $0 == " " || $0 == "\t" }).compactMap { UInt32($0) }
    }
    let cleaned = label?.trimmingNul().trimmed()
    return TraceTaskFacts(
      effective: status.hex("CapEff").map(CapabilitySet.init(bits:)), uids: ids("Uid"), gids: ids("Gid"),
      seccompMode: status.int("Seccomp"), seccompFilters: status.int("Seccomp_filters"),
      noNewPrivs: status.int("NoNewPrivs").map { $0 != 0 }, label: cleaned?.isEmpty == false ? cleaned : nil)
  }

  /// statvfs of a path, nil when it cannot be read.
  static func space(_ path: String) -> TraceSpace? {
    var st = statvfs()
    guard statvfs(path, &st) == 0 else { return nil }
    return TraceSpace(
      blockSize: UInt64(st.f_frsize), blocks: UInt64(st.f_blocks), blocksAvailable: UInt64(st.f_bavail),
      inodes: UInt64(st.f_files), inodesFree: UInt64(st.f_ffree))
  }

  /// se.exec_start of /proc/PID/sched: when the scheduler last updated the task's run time,
  /// in the runqueue clock (rq_clock_task) of the CPU it ran on, in milliseconds. For a
  /// sleeping task that is when it left the CPU. Needs CONFIG_SCHED_DEBUG (Debian has it).
  public static func execStart(_ path: String) -> Double? {
    guard let text = live.readText(path).value else { return nil }
    return parseExecStart(text)
  }

  public static func parseExecStart(_ text: String) -> Double? {
    for line in text.split(separator: "\n") where line.hasPrefix("se.exec_start") {
      return line.split(separator: ":").last.flatMap { Double($0.trimmed()) }
    }
    return nil
  }

  /// Field 39 of /proc/TID/stat ("processor"): the CPU the task last ran on. The fields are
  /// counted after the ")" that ends comm, which may itself hold spaces and parentheses.
  public static func parseLastCPU(stat text: String) -> Int? {
    guard let close = text.lastIndex(of: ")") else { return nil }
    let fields = text[text.index(after: close)...].split(separator: " ")
    // fields[0] is field 3 (state): field 39 is fields[36].
    guard fields.count > 36 else { return nil }
    return Int(fields[36])
  }

  /// How long a sleeping task has been off the CPU, from two readings of one runqueue clock:
  /// `theirs` (the task's exec_start, read before and after culprit's own) and `mine` (culprit's
  /// exec_start, read while it ran on the task's CPU). nil when the task ran in between (the two
  /// readings of its value differ) or the values do not order.
  public static func offCPUMilliseconds(mine: Double, theirsBefore: Double, theirsAfter: Double) -> Int? {
    guard theirsBefore == theirsAfter, mine >= theirsBefore else { return nil }
    return Int(mine - theirsBefore)
  }

  /// The clock of each CPU's runqueue is its own (sched_clock_cpu, unsynchronized across CPUs
  /// on many machines and VMs: a second apart here), so culprit runs on the CPU the thread last
  /// ran on (field 39 of its stat) while it reads its own exec_start: both values then come from
  /// the same clock, which updated culprit's when it moved there. The result is a lower bound by
  /// the IRQ and steal time that clock leaves out (measured: 15 ms short over 3 s). nil when the
  /// thread is running, culprit cannot run there (a cpuset, a filter on sched_setaffinity) or
  /// the thread ran meanwhile.
  static func offCPU(pid: Int32, tid: Int32) -> Int? {
    let base = "/proc/\(pid)/task/\(tid)"
    guard let stat = live.readText(base + "/stat").value, let cpu = parseLastCPU(stat: stat),
      let before = execStart(base + "/sched")
    else { return nil }
    guard culprit_trace_affinity_save() == 0, culprit_trace_run_on_cpu(Int32(cpu)) == 0,
      let mine = execStart("/proc/thread-self/sched") ?? execStart("/proc/self/sched"),
      let after = execStart(base + "/sched")
    else { return nil }
    return offCPUMilliseconds(mine: mine, theirsBefore: before, theirsAfter: after)
  }

  /// /proc/TID/syscall: "NR ARG0 … ARG5 SP PC" while blocked in a call, "-1 SP PC" when
  /// blocked outside one, "running" when on a CPU.
  public static func parseSyscallLine(_ text: String) -> (nr: Int, args: [UInt64])? {
    let fields = text.trimmed().split(separator: " ")
    guard fields.count >= 7, let nr = Int(fields[0]), nr >= 0 else { return nil }
    let args = fields[1...6].map { UInt64($0.hasPrefix("0x") ? $0.dropFirst(2) : $0, radix: 16) ?? 0 }
    return (nr, args)
  }

  /// What a thread waits in now, read before the tracer interrupts it.
  /// Call `restoreAffinity` after the last one: the readings move culprit between CPUs.
  static func read(pid: Int32, tid: Int32, name: (Int) -> String) -> TraceWait {
    let base = "/proc/\(pid)/task/\(tid)"
    let syscallText = live.readText(base + "/syscall").value ?? ""
    let call = parseSyscallLine(syscallText).map { TraceCall(nr: $0.nr, name: name($0.nr), args: $0.args) }
    let wchan = live.readLine(base + "/wchan").flatMap { $0 == "0" || $0.isEmpty ? nil : $0 }
    let state = syscallText.hasPrefix("running") ? "running" : (wchan ?? "sleeping")
    let waited = call != nil && state != "running" ? offCPU(pid: pid, tid: tid) : nil
    var descriptor: String?
    if let call, let fdIndex = descriptorArgument(call.name) {
      descriptor = describeDescriptor(pid: pid, fd: Int32(truncatingIfNeeded: call.args[fdIndex]))
    }
    return TraceWait(tid: tid, call: call, state: state, wchan: wchan, waitingMilliseconds: waited, descriptor: descriptor)
  }

  /// Puts culprit back on the CPUs it was allowed before the readings.
  static func restoreAffinity() { _ = culprit_trace_affinity_restore() }

  /// The argument that is a file descriptor, for the calls a process gets stuck in.
  static func descriptorArgument(_ name: String) -> Int? {
    switch name {
    case "read", "write", "readv", "writev", "pread64", "pwrite64", "recvfrom", "recvmsg", "sendto", "sendmsg",
      "connect", "accept", "accept4", "flock", "fsync", "ioctl", "epoll_wait", "epoll_pwait", "fcntl":
      return 0
    default:
      return nil
    }
  }

  /// "socket 127.0.0.1:34567 -> 10.0.0.1:80 (SYN_SENT, 3 retransmissions)", "pipe:[123]".
  static func describeDescriptor(pid: Int32, fd: Int32) -> String? {
    guard let target = Sys.readLink("/proc/\(pid)/fd/\(fd)").value else { return nil }
    guard target.hasPrefix("socket:["), let inode = target.dropFirst(8).split(separator: "]").first else {
      return "fd \(fd) is \(target)"
    }
    for table in ["tcp", "tcp6", "udp", "udp6", "unix"] {
      guard let text = live.readText("/proc/\(pid)/net/\(table)").value else { continue }
      if let found = socketLine(text, inode: String(inode), table: table) { return "fd \(fd) is a \(found)" }
    }
    return "fd \(fd) is \(target)"
  }

  static let tcpStates = [
    "01": "ESTABLISHED", "02": "SYN_SENT", "03": "SYN_RECV", "04": "FIN_WAIT1", "05": "FIN_WAIT2", "06": "TIME_WAIT",
    "07": "CLOSE", "08": "CLOSE_WAIT", "09": "LAST_ACK", "0A": "LISTEN", "0B": "CLOSING",
  ]

  /// Finds the socket with this inode in a /proc/net table and describes it.
  public static func socketLine(_ text: String, inode: String, table: String) -> String? {
    for line in text.split(separator: "\n").dropFirst() {
      let f = line.split(separator: " ")
      if table == "unix" {
        guard f.count >= 7, f[6] == inode else { continue }
        return "unix socket" + (f.count > 7 ? " \(f[7])" : "")
      }
      guard f.count >= 10, f[9] == inode else { continue }
      let local = hexAddress(String(f[1])), remote = hexAddress(String(f[2]))
      let proto = table.hasPrefix("tcp") ? "TCP" : "UDP"
      var text = "\(proto) socket \(local) -> \(remote)"
      if proto == "TCP", let state = tcpStates[String(f[3])] {
        let retransmits = Int(f[6], radix: 16) ?? 0
        text += " (\(state)" + (retransmits > 0 ? ", \(retransmits) retransmission\(retransmits == 1 ? "" : "s")" : "") + ")"
      }
      return text
    }
    return nil
  }

  /// "0100007F:0050" → "127.0.0.1:80" (IPv4; IPv6 shown as its hex words).
  static func hexAddress(_ field: String) -> String {
    let parts = field.split(separator: ":")
    guard parts.count == 2, let port = Int(parts[1], radix: 16) else { return field }
    let hex = parts[0]
    if hex.count == 8, let value = UInt32(hex, radix: 16) {
      return "\(value & 0xff).\((value >> 8) & 0xff).\((value >> 16) & 0xff).\(value >> 24):\(port)"
    }
    return "[\(hex)]:\(port)"
  }
}
