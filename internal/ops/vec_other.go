//go:build !amd64

package ops

var (
	affineFast        = affineGo
	sumAndSquaresFast = sumAndSquaresGo
	sumAndDotFast     = sumAndDotGo
	axpbyFast         = axpbyGo
	momentumFast      = momentumGo
	reluGradFast      = reluGradGo
	addRowsFast       = addRowsGo
	copyRowsFast      = copyRowsGo
	maxPool2x2Fast    = maxPool2x2Go
)
