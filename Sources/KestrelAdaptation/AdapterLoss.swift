/// One labelled sample and the named loss it trains (the C kernel differentiates it; see
/// Documentation/Adaptation.md "Losses, optimizers and EWC++").
///
/// y denotes the adapter's output for the input (the query).
public enum AdapterFeedback: Sendable {
    /// Squared error L = ½‖y − target‖², gradient y − target.
    case squared(input: [Float], target: [Float])
    /// Binary feedback on a (query, result) pair: score u = y·result, label +1 (relevant) or −1,
    /// logistic loss L = log(1 + exp(−label · u)).
    case binary(query: [Float], result: [Float], label: Float)
    /// InfoNCE: scores u_i = y·k_i / temperature over the positive k_0 and the negatives (row-major,
    /// d_out floats each, e.g. hard negatives from an index's top-k), L = logsumexp(u) − u_0.
    case contrastive(query: [Float], positive: [Float], negatives: [Float], temperature: Float)
    /// A loss of the caller's own: its gradient dL/dy is given (the reported loss is 0).
    case gradient(input: [Float], outputGradient: [Float])

    /// The input vector x the adapter is applied to.
    public var input: [Float] {
        switch self {
        case .squared(let x, _), .binary(let x, _, _), .contrastive(let x, _, _, _), .gradient(let x, _): return x
        }
    }
}
