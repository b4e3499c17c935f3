/* CBLAS and LAPACKE as shipped by OpenBLAS (Debian: libopenblas-dev, liblapacke-dev).
   OpenBLAS's cblas.h also declares openblas_set_num_threads / openblas_get_num_threads. */
#ifndef KESTREL_BLAS_SHIM_H
#define KESTREL_BLAS_SHIM_H
#include <cblas.h>
#include <lapacke.h>
#endif
