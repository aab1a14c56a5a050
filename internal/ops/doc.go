// Package ops holds the custom Gorgonia operations that make up cnnctl's
// hot path: convolution, batch norm, activations, pooling, dense layers,
// dropout, flatten and the softmax cross-entropy loss.
//
// Every op owns its output buffer and reuses it across steps: Gorgonia's
// TapeMachine clears its registers on Reset and then calls plain Do, so an
// op that allocated a fresh result would put the whole activation set on the
// garbage collector each step. Each forward op implements SymDiff by
// applying a gradient op from this package, which owns its buffer too, so a
// training step allocates no tensors once the first step has run.
//
// The ops compute in float32 and parallelise over the batch (or over
// channels, where a reduction runs over the batch) with deterministic work
// splitting, so results are reproducible for a given GOMAXPROCS. The
// numerical kernels they are built from live in packages of their own:
// internal/kernels/gemm (matrix products), internal/kernels/vec
// (element-wise and row kernels), internal/kernels/im2col (lowering images
// to matrices), internal/kernels/scratch (reused buffers) and
// internal/parallel (the worker crew); each chooses its AVX-512, AVX2 or
// portable implementation once, in one place.
package ops
