/// A layer to blame for a refusal, and why: the sentence fragment that ends up in a verdict's
/// summary and evidence ("the devices cgroup's devices.list grants no 'm' access to c 60:0").
public struct Blame: Equatable, Sendable {
  public var layer: Layer
  public var reason: String

  public init(layer: Layer, reason: String) {
    self.layer = layer
    self.reason = reason
  }
}
