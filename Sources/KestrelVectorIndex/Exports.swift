// Every public API here throws `KestrelError`; re-exporting its module lets a user of this
// product alone name the error (and `ISALevel`) without importing the layers below.
@_exported import KestrelKernels
// `AtomicFile` (named by the save methods' docs) lives in KestrelTensor, shared with GGUFWriter.
@_exported import KestrelTensor
