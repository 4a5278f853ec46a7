public struct GetaddrinfoProbe: Probe {
  public init() {}
  public let id = "getaddrinfo"
  public let title = "Name resolution"
  public let abstract = "x"
  public let isolation = Isolation.child(budgetMilliseconds: 10000)
  public func run(_ context: ProbeContext) -> ProbeResult { verdict(.ok, "x") }
}
