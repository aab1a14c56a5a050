// Command cnnctl trains, evaluates and ships small convolutional networks.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/pprof"
	"strconv"
	"strings"
	"syscall"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/cnnctl/cnnctl/internal/machine"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

// usageError marks a mistake in how the command was called (exit status 2).
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

func usagef(format string, a ...any) error { return usageError{fmt.Errorf(format, a...)} }

// streams are the command's outputs, replaced in tests.
type streams struct {
	Out, Err io.Writer
	// ErrTerminal reports whether Err is an interactive terminal.
	ErrTerminal bool
}

func newRootCmd(ctx context.Context, s streams) *cobra.Command {
	root := &cobra.Command{
		Use:   "cnnctl",
		Short: "Train, evaluate and ship small convolutional neural networks",
		Long: `cnnctl builds convolutional networks — LeNet, VGG-style stacks, ResNet and Inception
blocks, depthwise and transposed convolutions — from a YAML config, trains them with
backpropagation on a Gorgonia autodiff graph (MNIST, a synthetic X-vs-O set, your
own folder of images, or 1-D sensor recordings with conv1d layers; with
augmentation and transfer learning), evaluates, looks inside (summary,
visualize, convolve), sweeps hyper-parameters, and ships the checkpoints it
writes (fuse, export, predict, serve). Layer kinds and data sources:
cnnctl train --help.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetOut(s.Out)
	root.SetErr(s.Err)
	root.SetContext(ctx)
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return usageError{fmt.Errorf("%w (see '%s --help')", err, c.CommandPath())}
	})
	root.AddCommand(newTrainCmd(s), newEvalCmd(s), newPredictCmd(s), newFuseCmd(s), newExportCmd(s), newBenchCmd(s), newSummaryCmd(s), newVisualizeCmd(s), newConvolveCmd(s), newAugmentCmd(s), newSweepCmd(s), newServeCmd(s), newDataCmd(s), newVersionCmd(s))
	return root
}

// exactArgs is cobra.ExactArgs reporting a usage error.
func exactArgs(n int) cobra.PositionalArgs {
	return func(c *cobra.Command, args []string) error {
		if len(args) != n {
			return usagef("%s takes %d argument(s), got %d (see '%s --help')", c.CommandPath(), n, len(args), c.CommandPath())
		}
		return nil
	}
}

func main() {
	s := streams{Out: os.Stdout, Err: os.Stderr, ErrTerminal: term.IsTerminal(int(os.Stderr.Fd()))}
	status := run(os.Args[1:], s)
	if path := os.Getenv("CNNCTL_PEAK_RSS"); path != "" {
		// For the tests: this process's own peak memory. (What wait4 reports
		// of a child also counts the parent's pages it was forked with.)
		_ = os.WriteFile(path, []byte(strconv.FormatInt(machine.PeakRSS(), 10)), 0o644)
	}
	os.Exit(status)
}

// run executes the command line and returns the exit status: 0 on success,
// 1 on a runtime error, 2 on a usage error.
func run(args []string, s streams) (status int) {
	defer func() {
		// A panic is a bug; still, say it in one line rather than a trace.
		if r := recover(); r != nil {
			if os.Getenv("CNNCTL_DEBUG") != "" {
				panic(r) // for developers: the trace, from the panic's own frames
			}
			fmt.Fprintf(s.Err, "cnnctl: internal error: %v\n", r)
			status = 1
		}
	}()
	if path := os.Getenv("CNNCTL_CPUPROFILE"); path != "" {
		// For developers: a CPU profile of the whole command.
		if f, err := os.Create(path); err == nil {
			if pprof.StartCPUProfile(f) == nil {
				defer pprof.StopCPUProfile()
			}
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	root := newRootCmd(ctx, s)
	root.SetArgs(args)
	if err := root.Execute(); err != nil {
		fmt.Fprintf(s.Err, "cnnctl: %v\n", err)
		var ue usageError
		switch {
		case errors.As(err, &ue) || isCobraUsage(err):
			return 2
		case ctx.Err() != nil:
			// Stopped by Ctrl-C or SIGTERM: the shells' convention, 128 + SIGINT.
			return 130
		}
		return 1
	}
	return 0
}

// isCobraUsage recognises cobra's own usage errors (unknown command).
func isCobraUsage(err error) bool {
	msg := err.Error()
	for _, p := range []string{"unknown command", "unknown flag", "unknown shorthand", "required flag", "accepts ", "invalid argument"} {
		if strings.Contains(msg, p) {
			return true
		}
	}
	return false
}

func newVersionCmd(s streams) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version",
		Args:  exactArgs(0),
		RunE: func(*cobra.Command, []string) error {
			fmt.Fprintf(s.Out, "cnnctl %s\n", version)
			return nil
		},
	}
}
