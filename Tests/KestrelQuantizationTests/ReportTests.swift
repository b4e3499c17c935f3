import Foundation
import Testing
import _KestrelTestSupport
@testable import KestrelQuantization

@Suite struct ReportTests {
    static func gaussian(_ n: Int, seed: UInt64, scale: Float = 1) -> [Float] {
        var rng = SeededRNG(seed: seed)
        return (0..<n).map { _ in rng.gaussian() * scale }
    }

    @Test func everyFigureAgainstAPlainComputation() throws {
        let x = Self.gaussian(500, seed: 1)
        let q = try IntegerQuantizer(scheme: IntegerScheme(bits: 4, symmetric: true, granularity: .perGroup(size: 32)))
        let r = try QuantizationReport(name: "w", tensor: Tensor(x, shape: [5, 100]), quantizer: q)
        let y = try q.dequantize(q.quantize(Tensor(x, shape: [5, 100]))).scalars()
        // Written differently from the implementation: norms first, then ratios.
        let e = zip(x, y).map { Double($0) - Double($1) }
        let normE = e.map { $0 * $0 }.reduce(0, +).squareRoot()
        let normX = x.map { Double($0) * Double($0) }.reduce(0, +).squareRoot()
        let normY = y.map { Double($0) * Double($0) }.reduce(0, +).squareRoot()
        let dot = zip(x, y).map { Double($0) * Double($1) }.reduce(0, +)
        #expect(Approx.equal(r.rmse, normE / Double(500).squareRoot(), rel: 1e-12))
        #expect(r.maxAbsError == e.map(abs).max()!)
        #expect(Approx.equal(r.snrDB, 20 * log10(normX / normE), rel: 1e-12))
        #expect(Approx.equal(r.cosineSimilarity, dot / normX / normY, rel: 1e-12))
        // 5 rows × 4 groups of steps (f32) + 250 code bytes.
        #expect(r.bytesAfter == 5 * 4 * 4 + 250 && r.bytesBefore == 2000)
        #expect(r.effectiveBits == Double(8 * 330) / 500)
        #expect(Approx.equal(r.reductionPercent, 100 * Double(2000 - 330) / 2000, rel: 1e-12))
        #expect(r.name == "w" && r.format == "int4 sym per-group(32)" && r.shape == [5, 100])
    }

    @Test func edgeCases() throws {
        let same = try QuantizationReport(shape: [3], format: "x", original: [1, 2, 3], reconstruction: [1, 2, 3], bytesBefore: 12, bytesAfter: 12)
        #expect(same.snrDB == .infinity && same.cosineSimilarity == 1 && same.rmse == 0 && same.reductionPercent == 0)
        let zeroSignal = try QuantizationReport(shape: [2], format: "x", original: [0, 0], reconstruction: [0, 1], bytesBefore: 8, bytesAfter: 2)
        #expect(zeroSignal.snrDB == -.infinity && zeroSignal.cosineSimilarity == 0 && zeroSignal.maxAbsError == 1)
        let allZero = try QuantizationReport(shape: [2], format: "x", original: [0, 0], reconstruction: [0, 0], bytesBefore: 8, bytesAfter: 2)
        #expect(allZero.snrDB == .infinity && allZero.cosineSimilarity == 1)
        let empty = try QuantizationReport(shape: [0], format: "x", original: [], reconstruction: [], bytesBefore: 0, bytesAfter: 0)
        #expect(empty.rmse == 0 && empty.effectiveBits == 0 && empty.reductionPercent == 0 && empty.snrDB == .infinity)
        #expect(throws: KestrelError.dimensionMismatch(expected: [2], actual: [1])) {
            try QuantizationReport(shape: [2], format: "x", original: [1, 2], reconstruction: [1], bytesBefore: 8, bytesAfter: 8)
        }
        // Opposite vectors: cosine −1.
        let flip = try QuantizationReport(shape: [2], format: "x", original: [1, 2], reconstruction: [-1, -2], bytesBefore: 8, bytesAfter: 8)
        #expect(Approx.equal(flip.cosineSimilarity, -1, rel: 1e-15))
    }

    static func model() throws -> [NamedTensor] {
        var outliers = Self.gaussian(256, seed: 3)
        outliers[7] = 40
        return [
            NamedTensor("embed", try Tensor(Self.gaussian(512, seed: 2), shape: [8, 64])),
            NamedTensor("attn", try Tensor(outliers, shape: [4, 64])),
            NamedTensor("mlp", try Tensor(Self.gaussian(1024, seed: 4, scale: 0.1), shape: [16, 64])),
            NamedTensor("head", try Tensor(Self.gaussian(128, seed: 5, scale: 5), shape: [2, 64])),
        ]
    }

    @Test func modelReportRanksBySensitivity() throws {
        let q = try IntegerQuantizer(scheme: IntegerScheme(bits: 4, symmetric: true, granularity: .perTensor))
        let tensors = try Self.model()
        let m = try ModelQuantizationReport(tensors, quantizer: q)
        // The outlier layer suffers most from one per-tensor step.
        #expect(m.layers.first?.name == "attn")
        let individual = try tensors.map { try QuantizationReport(name: $0.name, tensor: $0.tensor, quantizer: q) }
        #expect(m.layers.map(\.name) == individual.sorted { $0.snrDB < $1.snrDB }.map(\.name))
        #expect(m.bytesBefore == (512 + 256 + 1024 + 128) * 4)
        #expect(m.bytesAfter == individual.map(\.bytesAfter).reduce(0, +))
    }

    static func candidates() throws -> [any Quantizer] {
        [
            try IntegerQuantizer(scheme: IntegerScheme(bits: 8, symmetric: true, granularity: .perChannel(axis: 0))),
            try IntegerQuantizer(scheme: IntegerScheme(bits: 4, symmetric: false, granularity: .perGroup(size: 32))),
            try IntegerQuantizer(scheme: IntegerScheme(bits: 4, symmetric: true, granularity: .perTensor)),
            try HalfPrecisionQuantizer(.bf16),
        ]
    }

    @Test func snrBoundPlanIsTheCheapestPerLayer() throws {
        let tensors = try Self.model()
        let cands = try Self.candidates()
        for bound in [10.0, 25, 40, 60, 200] {
            let plan = try MixedPrecisionPlanner(candidates: cands).plan(tensors, constraint: .minimumSNR(dB: bound))
            for (t, choice) in zip(tensors, plan.choices) {
                var best = (bytes: t.tensor.shape.elementCount * 4, index: Int?.none)
                for (j, c) in cands.enumerated() {
                    let r = try QuantizationReport(tensor: t.tensor, quantizer: c)
                    if r.snrDB >= bound && r.bytesAfter < best.bytes { best = (r.bytesAfter, j) }
                }
                #expect(choice.candidate == best.index, "\(t.name) at \(bound) dB")
                #expect(choice.report.snrDB >= bound)
            }
        }
        let strict = try MixedPrecisionPlanner(candidates: cands).plan(tensors, constraint: .minimumSNR(dB: 1000))
        #expect(strict.keptAtOriginalPrecision == ["embed", "attn", "mlp", "head"])
    }

    @Test(arguments: [MixedPrecisionPlanner.Objective.totalSquaredError, .sumOfRelativeErrors])
    func budgetPlanMatchesBruteForce(objective: MixedPrecisionPlanner.Objective) throws {
        let tensors = try Self.model()
        let cands = try Self.candidates()
        // Every option's (bytes, cost), option 0 the original.
        var options = [[(bytes: Int, cost: Double)]]()
        for t in tensors {
            var row = [(t.tensor.shape.elementCount * 4, 0.0)]
            for c in cands {
                let r = try QuantizationReport(tensor: t.tensor, quantizer: c)
                row.append((r.bytesAfter, objective == .totalSquaredError ? r.squaredError : r.squaredError / r.signalEnergy))
            }
            options.append(row)
        }
        let total = tensors.map { $0.tensor.shape.elementCount * 4 }.reduce(0, +)
        let least = options.map { $0.map(\.bytes).min()! }.reduce(0, +)
        let planner = MixedPrecisionPlanner(candidates: cands, objective: objective)
        for budget in [least, least + 200, least + 700, total / 3, total / 2, total] {
            var best = Double.infinity
            for combo in 0..<625 {  // 5 options ^ 4 layers
                var c = combo, bytes = 0, cost = 0.0
                for row in options {
                    bytes += row[c % 5].bytes
                    cost += row[c % 5].cost
                    c /= 5
                }
                if bytes <= budget { best = min(best, cost) }
            }
            let plan = try planner.plan(tensors, constraint: .memoryBudget(bytes: budget))
            #expect(plan.totalBytes <= budget)
            let planCost = plan.choices.reduce(0.0) { acc, ch in
                acc + (objective == .totalSquaredError ? ch.report.squaredError
                       : (ch.report.squaredError == 0 ? 0 : ch.report.squaredError / ch.report.signalEnergy))
            }
            #expect(Approx.equal(planCost, best, rel: 1e-9), "budget \(budget)")
        }
        #expect(throws: KestrelError.capacityExceeded(limit: least - 1, requested: least)) {
            try planner.plan(tensors, constraint: .memoryBudget(bytes: least - 1))
        }
    }

    @Test func plannerInput() throws {
        let p = MixedPrecisionPlanner(candidates: try Self.candidates())
        #expect(throws: KestrelError.invalidArgument(name: "bytes", reason: "must be >= 0, got -1")) {
            try p.plan([], constraint: .memoryBudget(bytes: -1))
        }
        #expect(try p.plan([], constraint: .memoryBudget(bytes: 0)).choices.isEmpty)
        #expect(throws: KestrelError.nonFiniteValue(index: 1)) {
            try p.plan([NamedTensor("x", Tensor([0, .nan] as [Float], shape: [2]))], constraint: .minimumSNR(dB: 10))
        }
        // A candidate that refuses a shape (per-group on rank 0) is simply not an option there.
        let plan = try p.plan([NamedTensor("s", Tensor(scalar: 2))], constraint: .minimumSNR(dB: 0))
        #expect(plan.choices.count == 1 && plan.choices[0].candidate != 1)
    }
}
