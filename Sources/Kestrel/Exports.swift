// The umbrella module: `import Kestrel` brings in every Kestrel product.
@_exported import KestrelAdaptation
@_exported import KestrelAttention
@_exported import KestrelKernels
@_exported import KestrelProfiling
@_exported import KestrelQuantization
@_exported import KestrelTensor
@_exported import KestrelVectorIndex
