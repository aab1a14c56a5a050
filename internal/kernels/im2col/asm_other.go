//go:build !amd64

package im2col

// The assembly paths do not exist off amd64: the tests' fast sets are the
// portable code.
var im2colS1Fast, col2imS1Fast, im2rowFast = im2colS1Go, col2imS1Go, im2rowGo
