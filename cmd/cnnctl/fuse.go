package main

import (
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strings"

	"github.com/cnnctl/cnnctl/internal/checkpoint"
	"github.com/cnnctl/cnnctl/internal/data"
	"github.com/cnnctl/cnnctl/internal/eval"
	"github.com/cnnctl/cnnctl/internal/model"
	"github.com/spf13/cobra"
)

type fuseOptions struct {
	Model     string
	Out       string
	CheckData string
	BatchSize int
}

func newFuseCmd(s streams) *cobra.Command {
	o := &fuseOptions{}
	c := &cobra.Command{
		Use:   "fuse --model CKPT [--out FUSED]",
		Short: "Fold batch norm into the conv/dense layer before it, and prove the outputs unchanged",
		Long: `Fuse folds every batch-norm layer that directly follows a conv2d or dense layer into
that layer (inference semantics): w' = w·γ/√(σ²+ε), b' = (b − μ)·γ/√(σ²+ε) + β. A batch
norm after an activation, pooling or dropout cannot be folded and stays; fuse says which.

Every time, it proves the result on real inputs — the model's test split, else
--check-data, else seeded random inputs — printing the largest absolute and
relative logit difference, how many predictions changed, accuracy and parameter
counts before and after, and inference speed of both in the same run. The fused
checkpoint is an ordinary checkpoint for eval, export and train --resume.`,
		Example: `  cnnctl fuse --model runs/lenet-bn-mnist/best.ckpt --out runs/lenet-bn-mnist/fused.ckpt
  cnnctl fuse --model best.ckpt --check-data my-digits/`,
		Args: exactArgs(0),
		RunE: func(*cobra.Command, []string) error {
			if o.Model == "" {
				return usagef("fuse needs --model CKPT")
			}
			if o.BatchSize < 1 {
				return usagef("--batch-size must be at least 1")
			}
			return runFuse(o, s)
		},
	}
	f := c.Flags()
	f.StringVar(&o.Model, "model", "", "checkpoint to fuse")
	f.StringVar(&o.Out, "out", "", "fused checkpoint to write (default <model>.fused.ckpt; a model with nothing to fold is written only if given)")
	f.StringVar(&o.CheckData, "check-data", "", "data for the proof when the model's test split is not available")
	f.IntVar(&o.BatchSize, "batch-size", 1000, "inference batch size for the proof and the speed figures")
	return c
}

func runFuse(o *fuseOptions, s streams) error {
	st, err := checkpoint.Load(o.Model)
	if err != nil {
		return err
	}
	fused, folds := model.FoldBatchNorm(st.Net)
	w := s.Out
	folded := 0
	for _, f := range folds {
		if f.Into >= 0 {
			folded++
		}
		fmt.Fprintln(w, f.Describe(st.Net))
	}
	if folded == 0 {
		fmt.Fprintln(w, "nothing to fold: the model has no batch norm directly after a "+model.FoldableKinds()+" layer")
		if o.Out == "" {
			return nil
		}
	}
	out := o.Out
	if out == "" {
		out = strings.TrimSuffix(o.Model, filepath.Ext(o.Model)) + ".fused.ckpt"
	}
	if err := proveFusion(w, st, fused, o); err != nil {
		return err
	}
	cfg := *st.Config
	// The fused config lists every layer (blocks written out): the folds
	// differ between the uses of a block.
	cfg.Model, cfg.Blocks = fused.Specs(), nil
	if errs := cfg.Check(out); len(errs) > 0 {
		return errs
	}
	meta := map[string]string{"fused_from": o.Model}
	for k, v := range st.Meta {
		meta[k] = v
	}
	err = checkpoint.Save(out, &checkpoint.State{Config: &cfg, Classes: st.Classes, Net: fused, Epoch: st.Epoch, RNG: st.RNG, Meta: meta})
	if err != nil {
		return fmt.Errorf("writing %s: %w", out, err)
	}
	fmt.Fprintf(w, "wrote     %s\n", out)
	return nil
}

// proofData picks the inputs of the proof: the test split, else
// --check-data, else seeded random pixels.
func proofData(st *checkpoint.State, o *fuseOptions) (*data.Dataset, string, error) {
	cfg := st.Config
	if o.CheckData != "" {
		d, err := data.LoadDir(o.CheckData, cfg.Data, st.Classes)
		return d, o.CheckData, err
	}
	if d, err := data.LoadTest(cfg.Data, cfg.Seed); err == nil && d.Len() > 0 {
		return d, "the test split of " + cfg.Data.Source, nil
	}
	return data.Random(cfg.Data, 1000, st.Classes, rand.New(rand.NewPCG(1, 2))), "1000 seeded random inputs (no test data found; pass --check-data)", nil
}

func proveFusion(w io.Writer, st *checkpoint.State, fused *model.Network, o *fuseOptions) error {
	d, source, err := proofData(st, o)
	if err != nil {
		return err
	}
	norm := data.Norm{Mean: st.Config.Data.Normalize.Mean, Std: st.Config.Data.Normalize.Std}
	batch := min(o.BatchSize, d.Len())
	a, err := eval.NewFixedRunner(st.Net, batch)
	if err != nil {
		return err
	}
	defer a.Close()
	b, err := eval.NewFixedRunner(fused, batch)
	if err != nil {
		return err
	}
	defer b.Close()
	la, err := a.Logits(d, norm)
	if err != nil {
		return err
	}
	lb, err := b.Logits(d, norm)
	if err != nil {
		return err
	}
	k := st.Net.Classes
	var maxAbs, maxLogit float64
	changed, correctA, correctB := 0, 0, 0
	labelled := o.CheckData != "" || !strings.HasPrefix(source, "1000 seeded")
	for i := range d.Len() {
		za, zb := la[i*k:(i+1)*k], lb[i*k:(i+1)*k]
		for j := range za {
			maxAbs = math.Max(maxAbs, math.Abs(float64(za[j]-zb[j])))
			maxLogit = math.Max(maxLogit, math.Abs(float64(za[j])))
		}
		pa, pb := eval.Argmax(za), eval.Argmax(zb)
		if pa != pb {
			changed++
		}
		if pa == d.Labels[i] {
			correctA++
		}
		if pb == d.Labels[i] {
			correctB++
		}
	}
	fmt.Fprintf(w, "proof on  %s: %d inputs\n", source, d.Len())
	rel := maxAbs / math.Max(maxLogit, 1e-30)
	fmt.Fprintf(w, "max |Δlogit|        %.3g (max |logit| %.3g, relative %.3g)\n", maxAbs, maxLogit, rel)
	// A proof that cannot be read as one is a failure: nothing is written.
	if math.IsNaN(maxAbs) || math.IsInf(maxAbs, 0) || math.IsInf(maxLogit, 0) {
		return fmt.Errorf("%s: the proof failed: the logits are not finite (max |Δlogit| %v); nothing written", o.Model, maxAbs)
	}
	if rel > maxFoldError {
		return fmt.Errorf("%s: the proof failed: folding changed the logits by %.3g relative (more than %g); nothing written", o.Model, rel, maxFoldError)
	}
	fmt.Fprintf(w, "changed predictions %d of %d\n", changed, d.Len())
	if labelled {
		fmt.Fprintf(w, "accuracy            %.2f%% → %.2f%%\n", 100*float64(correctA)/float64(d.Len()), 100*float64(correctB)/float64(d.Len()))
	}
	fmt.Fprintf(w, "parameters          %d → %d\n", st.Net.NumParams(), fused.NumParams())
	// Interleave the timings so both see the same machine load.
	var ra, rb []float64
	for range 3 {
		va, err := a.Throughput(3)
		if err != nil {
			return err
		}
		vb, err := b.Throughput(3)
		if err != nil {
			return err
		}
		ra, rb = append(ra, va), append(rb, vb)
	}
	ma, mb := median(ra), median(rb)
	fmt.Fprintf(w, "inference (batch %d) %.0f → %.0f img/s (×%.2f)\n", batch, ma, mb, mb/ma)
	return nil
}

// maxFoldError is the largest relative logit change a fold may make: float
// rounding gives ~1e-7; anything near this bound is a bug.
const maxFoldError = 1e-4

func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	return s[len(s)/2]
}
