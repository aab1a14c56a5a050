//go:build !amd64

package vec

// HasAVX2 reports whether the AVX2 kernels are in use: never off amd64.
const HasAVX2 = false

// HasAVX512 reports whether the AVX-512 row kernels are in use: never off amd64.
const HasAVX512 = false

var (
	affineFast               = affineGo
	sumAndSquaresFast        = sumAndSquaresGo
	sumAndDotFast            = sumAndDotGo
	axpbyFast                = axpbyGo
	momentumFast             = momentumGo
	adamFast                 = adamGo
	addRowSumsFast           = addRowSumsGo
	reluGradFast             = reluGradGo
	addRowsFast              = addRowsGo
	copyRowsFast             = copyRowsGo
	maxPool2x2Fast           = maxPool2x2Go
	maxPool2x2GradFast       = maxPool2x2GradGo
	maxPool2x2AffineFast     = maxPool2x2AffineGo
	sumAndDotReluFast        = sumAndDotReluGo
	axpbyReluFast            = axpbyReluGo
	sumAndDotReluPool2x2Fast = sumAndDotReluPool2x2Go
	axpbyReluPool2x2Fast     = axpbyReluPool2x2Go
	maxPool1x2AffineFast     = maxPool1x2AffineGo
	maxPool1x2ReluFast       = maxPool1x2ReluGo
	maxPool1x2GradFast       = maxPool1x2GradGo
	sumAndDotReluPool1x2Fast = sumAndDotReluPool1x2Go
	axpbyReluPool1x2Fast     = axpbyReluPool1x2Go
)
