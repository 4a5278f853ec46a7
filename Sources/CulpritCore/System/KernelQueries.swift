/// Questions asked of the kernel by system call rather than through /proc, for when /proc is
/// not mounted or not readable.
enum KernelQueries {
  static let prCapbsetRead: Int32 = 23
  static let prGetSeccomp: Int32 = 21
  static let prGetNoNewPrivs: Int32 = 39
  static let prCapAmbient: Int32 = 47
  static let prCapAmbientIsSet: UInt = 1
  static let linuxCapabilityVersion3: UInt32 = 0x2008_0522

  /// capget(2) (version 3) for the effective, permitted and inheritable sets;
  /// prctl(PR_CAPBSET_READ) and prctl(PR_CAP_AMBIENT_IS_SET) per capability for the bounding and
  /// ambient sets; prctl(PR_GET_NO_NEW_PRIVS) and prctl(PR_GET_SECCOMP). Returned under the
  /// names /proc/self/status uses.
  static func capabilityFields() -> Result<[String: String], Errno> {
    guard let capget = SyscallNumber.capget.native else { return .failure(.noFunction) }
    var header: [UInt32] = [linuxCapabilityVersion3, 0]
    var data = [UInt32](repeating: 0, count: 6)
    let result = header.withUnsafeMutableBytes { h in
      data.withUnsafeMutableBytes { d in
        Sys.raw(capget, [Int(bitPattern: h.baseAddress), Int(bitPattern: d.baseAddress)])
      }
    }
    if let err = result.failure { return .failure(err) }
    func join(_ low: UInt32, _ high: UInt32) -> UInt64 { UInt64(low) | UInt64(high) << 32 }
    func hex(_ v: UInt64) -> String {
      let digits = String(v, radix: 16)
      return String(repeating: "0", count: 16 - digits.count) + digits
    }
    var bounding: UInt64 = 0
    var ambient: UInt64 = 0
    for cap in 0..<64 {
      guard case .success(let inSet) = Sys.prctl(prCapbsetRead, UInt(cap)) else { break }
      if inSet == 1 { bounding |= 1 << UInt64(cap) }
      if case .success(1) = Sys.prctl(prCapAmbient, prCapAmbientIsSet, UInt(cap)) {
        ambient |= 1 << UInt64(cap)
      }
    }
    var fields = [
      "CapEff": hex(join(data[0], data[3])),
      "CapPrm": hex(join(data[1], data[4])),
      "CapInh": hex(join(data[2], data[5])),
      "CapBnd": hex(bounding),
      "CapAmb": hex(ambient),
    ]
    if case .success(let nnp) = Sys.prctl(prGetNoNewPrivs) { fields["NoNewPrivs"] = String(nnp) }
    if case .success(let mode) = Sys.prctl(prGetSeccomp) { fields["Seccomp"] = String(mode) }
    return .success(fields)
  }
}
