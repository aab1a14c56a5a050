//go:build !amd64

package vec

// HasAVX2 reports whether the AVX2 kernels are in use: never off amd64.
const HasAVX2 = false

var (
	affineFast           = affineGo
	sumAndSquaresFast    = sumAndSquaresGo
	sumAndDotFast        = sumAndDotGo
	axpbyFast            = axpbyGo
	momentumFast         = momentumGo
	reluGradFast         = reluGradGo
	addRowsFast          = addRowsGo
	copyRowsFast         = copyRowsGo
	maxPool2x2Fast       = maxPool2x2Go
	maxPool2x2GradFast   = maxPool2x2GradGo
	maxPool2x2AffineFast = maxPool2x2AffineGo
	sumAndDotReluFast    = sumAndDotReluGo
	axpbyReluFast        = axpbyReluGo
)
