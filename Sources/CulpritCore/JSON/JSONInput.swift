/// Reading a JSON document a person hands culprit (`--seccomp-profile FILE`, `diff A B`):
/// the whole file or a clear refusal, never a silent cut.
public enum JSONInput {
  /// The largest document culprit reads: 16 MiB. Docker's default profile is 20 KiB and a full
  /// report about 100 KiB; a larger file is refused before it is parsed, so that loading stays
  /// well under a second (parsing is linear) and memory stays bounded.
  public static let maxBytes = 16 << 20

  public enum ReadError: Error, CustomStringConvertible, Equatable {
    case unreadable(Errno)
    case tooLarge(limit: Int)

    public var description: String {
      switch self {
      case .unreadable(let err): return "cannot read the file: \(err.description)"
      case .tooLarge(let limit):
        return "the file is larger than \(limit >> 20) MiB, the most culprit reads; this is not a seccomp profile or a culprit report"
      }
    }
  }

  /// The whole file, or `.tooLarge` when it holds more than `maxBytes` bytes.
  public static func read(_ path: String, maxBytes: Int = JSONInput.maxBytes) -> Result<[UInt8], ReadError> {
    switch Sys.readFile(path, limit: maxBytes + 1) {
    case .failure(let err): return .failure(.unreadable(err))
    case .success(let bytes) where bytes.count > maxBytes: return .failure(.tooLarge(limit: maxBytes))
    case .success(let bytes): return .success(bytes)
    }
  }
}
