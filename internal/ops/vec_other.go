//go:build !amd64

package ops

var (
	affineFast           = affineGo
	sumAndSquaresFast    = sumAndSquaresGo
	sumAndDotFast        = sumAndDotGo
	axpbyFast            = axpbyGo
	momentumFast         = momentumGo
	col2imS1Fast         = col2imS1Go
	im2colS1Fast         = im2colS1Go
	reluGradFast         = reluGradGo
	addRowsFast          = addRowsGo
	copyRowsFast         = copyRowsGo
	maxPool2x2Fast       = maxPool2x2Go
	maxPool2x2GradFast   = maxPool2x2GradGo
	maxPool2x2AffineFast = maxPool2x2AffineGo
	im2rowFast           = im2rowGo
	sumAndDotReluFast    = sumAndDotReluGo
	axpbyReluFast        = axpbyReluGo
)
