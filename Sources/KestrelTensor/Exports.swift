// KestrelTensor's API speaks in `KestrelError` and `ISALevel`, which live in the Swift face of the kernels.
@_exported import KestrelKernels
