/// Resource limits that turn thread and process creation into EAGAIN: RLIMIT_NPROC (per real
/// uid), kernel.threads-max and kernel.pid_max (global).
public struct ProcessLimits: Sendable {
  public var nproc: Sys.Limit?
  public var threadsMax: Int?
  public var pidMax: Int?
  public var evidence: [String]

  public static func read(_ source: SystemSource) -> ProcessLimits {
    var evidence: [String] = []
    let nproc = source.rlimit(.nproc).value
    if let nproc {
      evidence.append("getrlimit(RLIMIT_NPROC): soft \(describe(nproc.soft)), hard \(describe(nproc.hard)).")
    }
    let threadsMax = source.readLine("/proc/sys/kernel/threads-max").flatMap { Int($0) }
    if let threadsMax { evidence.append("/proc/sys/kernel/threads-max: \(threadsMax).") }
    let pidMax = source.readLine("/proc/sys/kernel/pid_max").flatMap { Int($0) }
    if let pidMax { evidence.append("/proc/sys/kernel/pid_max: \(pidMax).") }
    return ProcessLimits(nproc: nproc, threadsMax: threadsMax, pidMax: pidMax, evidence: evidence)
  }

  public static func describe(_ value: UInt64?) -> String { value.map(String.init) ?? "unlimited" }
}
