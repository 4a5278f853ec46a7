/// Seccomp programs are classic BPF over `struct seccomp_data` (include/uapi/linux/seccomp.h:
/// nr, arch, instruction_pointer, args[6]); interpreting one in user space gives exactly the
/// action the kernel would take for a call (kernel/seccomp.c `seccomp_run_filters`, the
/// checks of `seccomp_check_filter`). Pure: used by `culprit profile check` and to test the
/// programs culprit builds by what they do, not by their bytes.
public enum SeccompBPF {
  /// One struct sock_filter.
  public struct Instruction: Equatable, Sendable {
    public var code: UInt16
    public var jt: UInt8
    public var jf: UInt8
    public var k: UInt32

    public init(code: UInt16, jt: UInt8, jf: UInt8, k: UInt32) {
      self.code = code
      self.jt = jt
      self.jf = jf
      self.k = k
    }
  }

  /// The register view a filter sees of one call.
  public struct Data: Equatable, Sendable {
    public var nr: Int32
    /// AUDIT_ARCH_* value.
    public var arch: UInt32
    public var instructionPointer: UInt64
    public var args: [UInt64]

    public init(nr: Int32, arch: UInt32, instructionPointer: UInt64 = 0, args: [UInt64] = []) {
      self.nr = nr
      self.arch = arch
      self.instructionPointer = instructionPointer
      self.args = args + [UInt64](repeating: 0, count: max(0, 6 - args.count))
    }

    /// The 32-bit word at byte `offset` of struct seccomp_data (little-endian hosts: x86_64,
    /// aarch64), nil when the offset is not a word of it.
    func word(at offset: UInt32) -> UInt32? {
      guard offset % 4 == 0, offset < 64 else { return nil }
      switch offset {
      case 0: return UInt32(bitPattern: nr)
      case 4: return arch
      case 8: return UInt32(truncatingIfNeeded: instructionPointer)
      case 12: return UInt32(truncatingIfNeeded: instructionPointer >> 32)
      default:
        let index = Int(offset - 16) / 8
        let value = args[index]
        return (offset - 16) % 8 == 0 ? UInt32(truncatingIfNeeded: value) : UInt32(truncatingIfNeeded: value >> 32)
      }
    }
  }

  /// A program the kernel would refuse, or one that does not end properly.
  public struct Fault: Error, Equatable, CustomStringConvertible {
    public var description: String
  }

  /// Decodes struct sock_filter instructions (8 bytes each, host byte order).
  public static func decode(_ bytes: [UInt8]) -> [Instruction] {
    var out: [Instruction] = []
    var i = 0
    while i + 8 <= bytes.count {
      let code = UInt16(bytes[i]) | (UInt16(bytes[i + 1]) << 8)
      var k = UInt32(bytes[i + 4])
      k |= UInt32(bytes[i + 5]) << 8
      k |= UInt32(bytes[i + 6]) << 16
      k |= UInt32(bytes[i + 7]) << 24
      out.append(Instruction(code: code, jt: bytes[i + 2], jf: bytes[i + 3], k: k))
      i += 8
    }
    return out
  }

  /// Runs `program` on `data` and returns the filter's 32-bit return value (action | data).
  public static func run(_ program: [Instruction], _ data: Data) throws(Fault) -> UInt32 {
    var a: UInt32 = 0
    var x: UInt32 = 0
    var memory = [UInt32](repeating: 0, count: 16)
    var pc = 0
    var steps = 0
    while pc < program.count {
      steps += 1
      // Classic BPF only jumps forward, so a program ends within its length; this is a guard.
      if steps > program.count + 1 { throw Fault(description: "the program does not end") }
      let ins = program[pc]
      pc += 1
      let cls = ins.code & 0x07
      switch cls {
      case 0x00, 0x01:  // BPF_LD, BPF_LDX
        let mode = ins.code & 0xe0
        var value: UInt32
        switch mode {
        case 0x20:  // BPF_ABS
          guard cls == 0x00, ins.code & 0x18 == 0x00, let word = data.word(at: ins.k) else {
            throw Fault(description: "instruction \(pc - 1): a load the kernel refuses (offset \(ins.k))")
          }
          value = word
        case 0x00: value = ins.k  // BPF_IMM
        case 0x80: value = 64  // BPF_LEN: sizeof(struct seccomp_data)
        case 0x60:  // BPF_MEM
          guard ins.k < 16 else { throw Fault(description: "instruction \(pc - 1): scratch slot \(ins.k)") }
          value = memory[Int(ins.k)]
        default: throw Fault(description: "instruction \(pc - 1): load mode 0x\(String(mode, radix: 16)) not allowed in seccomp")
        }
        if cls == 0x00 { a = value } else { x = value }
      case 0x02, 0x03:  // BPF_ST, BPF_STX
        guard ins.k < 16 else { throw Fault(description: "instruction \(pc - 1): scratch slot \(ins.k)") }
        memory[Int(ins.k)] = cls == 0x02 ? a : x
      case 0x04:  // BPF_ALU
        let operand = ins.code & 0x08 != 0 ? x : ins.k
        switch ins.code & 0xf0 {
        case 0x00: a = a &+ operand
        case 0x10: a = a &- operand
        case 0x20: a = a &* operand
        case 0x30:
          guard operand != 0 else { return 0 }  // the kernel's interpreter returns 0 (KILL) on /0
          a = a / operand
        case 0x40: a = a | operand
        case 0x50: a = a & operand
        case 0x60: a = operand >= 32 ? 0 : a << operand
        case 0x70: a = operand >= 32 ? 0 : a >> operand
        case 0x80: a = 0 &- a
        case 0x90:
          guard operand != 0 else { return 0 }
          a = a % operand
        case 0xa0: a = a ^ operand
        default: throw Fault(description: "instruction \(pc - 1): unknown ALU operation")
        }
      case 0x05:  // BPF_JMP
        let operand = ins.code & 0x08 != 0 ? x : ins.k
        let taken: Bool
        switch ins.code & 0xf0 {
        case 0x00:  // BPF_JA
          pc += Int(ins.k)
          continue
        case 0x10: taken = a == operand
        case 0x20: taken = a > operand
        case 0x30: taken = a >= operand
        case 0x40: taken = a & operand != 0
        default: throw Fault(description: "instruction \(pc - 1): unknown jump")
        }
        pc += Int(taken ? ins.jt : ins.jf)
      case 0x06:  // BPF_RET
        return ins.code & 0x18 == 0x10 ? a : ins.k
      case 0x07:  // BPF_MISC
        if ins.code & 0xf8 == 0x00 { x = a } else { a = x }  // TAX, TXA
      default: break
      }
    }
    throw Fault(description: "the program runs past its end without returning")
  }

  /// A filter's return value, decoded (SECCOMP_RET_ACTION_FULL and SECCOMP_RET_DATA).
  public enum Verdict: Equatable, Hashable, Sendable, CustomStringConvertible {
    case killProcess, killThread
    case trap(data: UInt16)
    case errno(Int32)
    case notify
    case trace(data: UInt16)
    case log
    case allow

    public init(_ value: UInt32) {
      let data = UInt16(truncatingIfNeeded: value)
      switch value & 0xffff_0000 {
      case 0x8000_0000: self = .killProcess
      case 0x0000_0000: self = .killThread
      case 0x0003_0000: self = .trap(data: data)
      case 0x0005_0000: self = .errno(Int32(value & 0xfff))  // the kernel caps data at MAX_ERRNO
      case 0x7fc0_0000: self = .notify
      case 0x7ff0_0000: self = .trace(data: data)
      case 0x7ffc_0000: self = .log
      case 0x7fff_0000: self = .allow
      default: self = .killProcess  // unknown actions act as KILL_PROCESS (Linux ≥ 4.14)
      }
    }

    /// What the call's caller sees, as the oracle reports it live: allowed (also LOG), an
    /// errno (TRACE and NOTIFY without a tracer or listener: ENOSYS), killed, trapped.
    public var answer: OracleAnswer {
      switch self {
      case .killProcess, .killThread: return .killed(signal: 31)
      case .trap(let data): return .trapped(data: Int32(data))
      case .errno(0): return .returned(0)
      case .errno(let e): return .errno(Errno(rawValue: e))
      case .notify, .trace: return .errno(.noFunction)
      case .log, .allow: return .allowed
      }
    }

    public var description: String {
      switch self {
      case .killProcess: return "KILL_PROCESS"
      case .killThread: return "KILL_THREAD"
      case .trap(let d): return "TRAP(\(d))"
      case .errno(let e): return "ERRNO(\(Errno(rawValue: e).name))"
      case .notify: return "USER_NOTIF"
      case .trace(let d): return "TRACE(\(d))"
      case .log: return "LOG"
      case .allow: return "ALLOW"
      }
    }
  }
}
