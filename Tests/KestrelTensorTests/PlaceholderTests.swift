import KestrelTensor
import Testing

@Test func errorDescriptionsNameBothShapes() {
    let e = KestrelError.dimensionMismatch(expected: "[2, 3]", actual: "[3, 2]")
    #expect(e.description.contains("[2, 3]") && e.description.contains("[3, 2]"))
}
