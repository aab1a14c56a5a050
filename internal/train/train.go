// Package train runs mini-batch training: shuffling from a seed, the seven
// classic optimizers, learning-rate schedules, a validation split, best and
// last checkpoints every epoch, metrics and curves, and exact resumption.
package train

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"image/png"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/cnnctl/cnnctl/internal/atomicfile"
	"github.com/cnnctl/cnnctl/internal/checkpoint"
	"github.com/cnnctl/cnnctl/internal/config"
	"github.com/cnnctl/cnnctl/internal/data"
	"github.com/cnnctl/cnnctl/internal/eval"
	"github.com/cnnctl/cnnctl/internal/inspect"
	"github.com/cnnctl/cnnctl/internal/machine"
	"github.com/cnnctl/cnnctl/internal/model"
	"github.com/cnnctl/cnnctl/internal/ops"
	"github.com/cnnctl/cnnctl/internal/parallel"
	"github.com/cnnctl/cnnctl/internal/plot"
)

// Options are the inputs of one training run.
type Options struct {
	Config     *config.Config
	ConfigPath string // for messages
	Resume     string // checkpoint to continue from
	Progress   Progress
	Log        io.Writer // plain messages (run folder, summary)
	// EvalBatch is the batch size of validation and test passes.
	EvalBatch int
	// MaxMemory bounds the estimated memory of the run in bytes (0: 80 % of
	// the machine's); a network that would need more is refused before
	// anything large is allocated.
	MaxMemory int64
}

// Result summarises a finished run.
type Result struct {
	RunDir string
	Epochs int // the epoch the model has reached
	// Trained is how many epochs this run trained (fewer after a resume).
	Trained     int
	TestLoss    float64
	TestAcc     float64
	BestEpoch   int
	BestValAcc  float64
	MeanSeconds float64 // per epoch
	MeanImgPerS float64
	// Stopped says why training ended before train.epochs ("" if it did not).
	Stopped string
	// BestValLoss is the best epoch's validation loss when early stopping
	// watches it (BestValAcc is then NaN).
	BestValLoss float64
}

// ErrNaN is wrapped by the error returned when the loss stops being finite.
var ErrNaN = errors.New("loss is not finite")

// initStream is the random stream of the initial weights (of seed).
const initStream = 0x1a17

// RNG names in checkpoints.
const (
	rngShuffle = "shuffle"
	rngDropout = "dropout"
)

// run is the state of one training run.
type run struct {
	opts       Options
	cfg        *config.Config
	dir        string
	classes    []string
	net        *model.Network
	opt        *Optimizer
	plan       []config.StagePlan
	shuffle    *rand.PCG
	dropout    *rand.PCG
	startEp    int
	bestAcc    float64 // the best epoch's score: validation accuracy, or −val_loss when early stopping watches it
	bestEpoch  int
	history    []EpochStats
	stopped    string
	loss       ops.Loss // label smoothing and class weights
	imbalanced bool     // show per-class recall
}

// Run trains as the options say and returns the test-set result.
func Run(ctx context.Context, opts Options) (*Result, error) {
	cfg := opts.Config
	if opts.Progress == nil {
		opts.Progress = quietProgress{}
	}
	if opts.Log == nil {
		opts.Log = io.Discard
	}
	if opts.EvalBatch == 0 {
		opts.EvalBatch = 256
	}
	r := &run{opts: opts, cfg: cfg, dir: cfg.Output.Dir, bestAcc: -1}

	trainSet, testSet, err := data.Load(cfg.Data, cfg.Seed)
	if err != nil {
		return nil, err
	}
	trainSet, valSet := trainSet.Split(cfg.Data.Validation, cfg.Seed)
	r.classes = trainSet.Classes
	if cfg.Data.IsSignals() && len(cfg.Data.Normalize.Mean) == 0 {
		// Computed once from what is trained on, and kept in the
		// checkpoint's config so that eval and predict scale alike.
		n := trainSet.ChannelStats()
		cfg.Data.Normalize = config.Normalize{Mean: n.Mean, Std: n.Std}
		fmt.Fprintf(opts.Log, "signals normalised per channel by the training set: mean %v, std %v\n", n.Mean, n.Std)
	}
	// Decompression and parsing buffers are garbage now: collect them, and
	// the graph's buffers reuse their pages. Returning them to the OS
	// instead (debug.FreeOSMemory) made the first steps fault every page in
	// anew: 13 % of the vibration config's first epoch, for 1 % less RSS.
	runtime.GC()
	if trainSet.Len() < cfg.Train.BatchSize {
		return nil, fmt.Errorf("%s: the training set has %d examples, fewer than train.batch_size %d", opts.ConfigPath, trainSet.Len(), cfg.Train.BatchSize)
	}

	plan, err := cfg.Plan()
	if err != nil {
		return nil, &config.Error{File: opts.ConfigPath, Line: cfg.Line(err.Error()), Msg: err.Error()}
	}
	r.plan = plan
	if opts.Resume != "" {
		if err := r.resume(opts.Resume); err != nil {
			return nil, err
		}
		if err := r.checkMemory(trainSet); err != nil { // (a fresh network is checked before it is allocated)
			return nil, err
		}
	} else if err := r.fresh(trainSet); err != nil {
		return nil, err
	}
	if r.loss, r.imbalanced, err = r.lossSettings(trainSet); err != nil {
		return nil, err
	}
	if cfg.Train.EarlyStopping != nil && lenOf(valSet) == 0 {
		return nil, &config.Error{File: opts.ConfigPath, Line: cfg.Line("train.early_stopping"),
			Msg: "train.early_stopping watches the validation set, and there is none (set data.validation)"}
	}
	if err := os.MkdirAll(r.dir, 0o755); err != nil {
		return nil, fmt.Errorf("%s: output.dir %s cannot be used as the run folder: %w", opts.ConfigPath, r.dir, err)
	}
	release, err := lockRunDir(r.dir)
	if err != nil {
		return nil, err
	}
	defer release()
	// A run killed while saving leaves a temporary file; ours is the only
	// writer now.
	if err := atomicfile.RemoveLeftovers(r.dir); err != nil {
		return nil, err
	}
	fmt.Fprintf(opts.Log, "run folder %s: %d training, %d validation, %d test examples\n",
		r.dir, trainSet.Len(), lenOf(valSet), testSet.Len())
	fmt.Fprintln(opts.Log, r.net.Summarize(cfg.Train.BatchSize, opts.EvalBatch).Short())

	if err := r.loop(ctx, trainSet, valSet); err != nil {
		return nil, err
	}
	return r.finish(testSet)
}

// checkMemory refuses a run whose estimated memory exceeds the bound.
func (r *run) checkMemory(trainSet *data.Dataset) error {
	limit := r.opts.MaxMemory
	if limit == 0 {
		limit = machine.Budget()
	}
	if limit <= 0 {
		return nil
	}
	m := r.net.EstimateMemory(r.cfg.Train.BatchSize, min(r.opts.EvalBatch, max(1, trainSet.Len())))
	if m.Total() > limit {
		return fmt.Errorf("%s: training this network at batch size %d needs about %s (activations %s, parameters and optimizer state %s), more than the %s allowed (the machine has %s; --max-memory sets the bound): use a smaller train.batch_size or a smaller network",
			r.opts.ConfigPath, r.cfg.Train.BatchSize, model.GB(m.Total()), model.GB(m.Activations), model.GB(m.Params), model.GB(limit), model.GB(machine.Memory()))
	}
	return nil
}

func lenOf(d *data.Dataset) int {
	if d == nil {
		return 0
	}
	return d.Len()
}

// layerError places a model error at its line in the config file.
func (r *run) layerError(err error) error {
	var le *model.LayerError
	if errors.As(err, &le) && r.opts.ConfigPath != "" {
		return &config.Error{File: r.opts.ConfigPath, Line: le.Line, Msg: le.Error()}
	}
	return err
}

// fresh makes the network: planned, checked against the memory bound,
// then allocated and initialised (from init_from where it says so).
func (r *run) fresh(trainSet *data.Dataset) error {
	net, err := model.Plan(r.cfg.Layers(), r.cfg.Data.Shape, len(r.classes))
	if err != nil {
		return r.layerError(err)
	}
	r.net = net
	if err := r.checkMemory(trainSet); err != nil {
		return err
	}
	net.Allocate(rand.New(rand.NewPCG(r.cfg.Seed, initStream)))
	if from := r.cfg.Train.InitFrom; from != "" {
		tr, err := checkpoint.InitFrom(from, net)
		if err != nil {
			return &config.Error{File: r.opts.ConfigPath, Line: r.cfg.Line("train.init_from"), Msg: "train.init_from: " + err.Error()}
		}
		fmt.Fprintf(r.opts.Log, "initialised from %s: %d layer(s) loaded (%s)", from, len(tr.Loaded), strings.Join(tr.Loaded, ", "))
		if len(tr.Fresh) > 0 {
			fmt.Fprintf(r.opts.Log, ", %d initialised fresh: %s", len(tr.Fresh), strings.Join(tr.Fresh, "; "))
		}
		fmt.Fprintln(r.opts.Log)
	}
	r.shuffle = rand.NewPCG(r.cfg.Seed, 0x5f1e)
	r.dropout = rand.NewPCG(r.cfg.Seed, 0xd70b)
	return r.enterStage(0)
}

// enterStage prepares stage k of the plan: it freezes the stage's layers
// (and says which) and makes a fresh optimizer for what is trained, at the
// stage's learning rate.
func (r *run) enterStage(k int) error {
	st := r.plan[k]
	if err := r.net.Freeze(st.Frozen, st.FreezeStats); err != nil {
		field := "train.freeze"
		if len(r.cfg.Train.Stages) > 0 {
			field = fmt.Sprintf("train.stages[%d]", k+1)
		} else if r.cfg.Train.FreezeUntil != "" {
			field = "train.freeze_until"
		}
		return &config.Error{File: r.opts.ConfigPath, Line: r.cfg.Line(field), Msg: field + ": " + err.Error()}
	}
	opt := r.cfg.Train.Optimizer
	opt.LR = st.LR
	var err error
	if r.opt, err = NewOptimizer(opt, r.net.Trainable()); err != nil {
		return err
	}
	if len(r.plan) > 1 {
		fmt.Fprintf(r.opts.Log, "stage %d/%d: epochs %d–%d, lr %g\n", k+1, len(r.plan), st.First, st.Last, st.LR)
	}
	var names []string
	frozen := 0
	for _, l := range r.net.Layers {
		if l.Frozen {
			names = append(names, l.ID)
			frozen += l.NumParams()
		}
	}
	if len(names) > 0 {
		how := ""
		if !st.FreezeStats {
			how = "; their batch norms still learn statistics"
		}
		fmt.Fprintf(r.opts.Log, "frozen: %s (%d of %d parameters)%s\n", strings.Join(names, ", "), frozen, r.net.NumParams(), how)
	} else if len(r.plan) > 1 {
		fmt.Fprintln(r.opts.Log, "frozen: none")
	}
	return nil
}

// stageSchedule is the learning-rate schedule of stage k: the config's,
// from the stage's learning rate over the stage's epochs.
func (r *run) stageSchedule(k int) config.Train {
	t := r.cfg.Train
	t.Optimizer.LR, t.Epochs = r.plan[k].LR, r.plan[k].Epochs()
	return t
}

// stageOf is the index of the stage epoch ep (from 1) belongs to.
func (r *run) stageOf(ep int) int {
	for k, st := range r.plan {
		if ep <= st.Last {
			return k
		}
	}
	return len(r.plan) - 1
}

// resume restores a checkpoint's weights, optimizer and RNG state, and the
// metrics rows of the epochs it covers. The model in the config must be the
// one the checkpoint holds.
func (r *run) resume(path string) error {
	st, err := checkpoint.Load(path)
	if err != nil {
		return err
	}
	if _, err := model.New(r.cfg.Layers(), r.cfg.Data.Shape, len(r.classes), rand.New(rand.NewPCG(0, 0))); err != nil {
		return r.layerError(err)
	}
	if err := sameModel(st.Config, r.cfg); err != nil {
		return fmt.Errorf("cannot resume from %s: %w", path, err)
	}
	if len(st.Classes) != len(r.classes) {
		return fmt.Errorf("cannot resume from %s: it has %d classes, the data has %d", path, len(st.Classes), len(r.classes))
	}
	if st.Epoch >= r.cfg.Train.Epochs {
		return fmt.Errorf("%s already holds %d epochs; train.epochs is %d (raise it with --epochs to train further)", path, st.Epoch, r.cfg.Train.Epochs)
	}
	r.net, r.startEp = st.Net, st.Epoch
	k := r.stageOf(st.Epoch + 1)
	if err := r.enterStage(k); err != nil {
		return err
	}
	switch {
	case r.plan[k].First == st.Epoch+1:
		// The checkpoint ends a stage: the next one starts its optimizer afresh.
	case len(st.OptimizerSlots) == 0 && st.OptimizerStep == 0:
		// A fused or exported checkpoint: fine-tuning starts the optimizer afresh.
		fmt.Fprintf(r.opts.Log, "%s holds no optimizer state; the optimizer starts afresh\n", path)
	default:
		fresh, err := r.opt.SetState(st.OptimizerStep, st.OptimizerSlots)
		if err != nil {
			return fmt.Errorf("cannot resume from %s: %w", path, err)
		}
		if len(fresh) > 0 {
			// Layers frozen before and trainable now: no state to continue.
			fmt.Fprintf(r.opts.Log, "%s holds no optimizer state for %s (frozen before): it starts at zero\n", path, strings.Join(fresh, ", "))
		}
	}
	r.shuffle = rand.NewPCG(r.cfg.Seed, 0x5f1e+uint64(st.Epoch))
	r.dropout = rand.NewPCG(r.cfg.Seed, 0xd70b+uint64(st.Epoch))
	for name, src := range map[string]*rand.PCG{rngShuffle: r.shuffle, rngDropout: r.dropout} {
		if b, ok := st.RNG[name]; ok {
			if err := src.UnmarshalBinary(b); err != nil {
				return fmt.Errorf("cannot resume from %s: random state %q: %v", path, name, err)
			}
		}
	}
	if v, err := strconv.ParseFloat(st.Meta["best_val_acc"], 64); err == nil {
		r.bestAcc = v
	}
	r.bestEpoch, _ = strconv.Atoi(st.Meta["best_epoch"])
	if rows, err := ReadMetrics(filepath.Join(r.dir, "metrics.csv")); err == nil {
		for _, row := range rows {
			if row.Epoch <= r.startEp {
				r.history = append(r.history, row)
			}
		}
	}
	fmt.Fprintf(r.opts.Log, "resuming from %s after epoch %d\n", path, st.Epoch)
	return nil
}

// sameModel checks that two configs describe the same network and data shape.
func sameModel(a, b *config.Config) error {
	ma, _ := (&config.Config{Model: a.Layers(), Data: config.Data{Shape: a.Data.Shape}}).Marshal()
	mb, _ := (&config.Config{Model: b.Layers(), Data: config.Data{Shape: b.Data.Shape}}).Marshal()
	if string(ma) != string(mb) {
		return fmt.Errorf("the checkpoint's model differs from the config's:\ncheckpoint:\n%s\nconfig:\n%s", ma, mb)
	}
	if a.Train.Optimizer.Name != b.Train.Optimizer.Name {
		return fmt.Errorf("the checkpoint was trained with %s, the config says %s", a.Train.Optimizer.Name, b.Train.Optimizer.Name)
	}
	return nil
}

func (r *run) loop(ctx context.Context, trainSet, valSet *data.Dataset) error {
	cfg := r.cfg
	B := cfg.Train.BatchSize
	var val *eval.Runner
	var err error
	if valSet != nil {
		if val, err = eval.NewRunner(r.net, min(r.opts.EvalBatch, valSet.Len())); err != nil {
			return err
		}
		defer val.Close()
	}
	norm := data.Norm{Mean: cfg.Data.Normalize.Mean, Std: cfg.Data.Normalize.Std}
	batcher := data.NewBatcher(trainSet, norm)
	var aug *data.Augmenter // training batches only: validation and test images stay as they are
	if cfg.Augment != nil {
		aug = data.NewAugmenter(trainSet, norm, *cfg.Augment, cfg.Seed)
	}
	shuffle := rand.New(r.shuffle)
	K := r.net.Classes
	loss, imbalanced := r.loss, r.imbalanced
	es := cfg.Train.EarlyStopping
	nb := trainSet.Len() / B // the last partial batch is dropped, as each epoch reshuffles

	// The training graph of the current stage (what is frozen shapes it).
	var g *model.Graph
	defer func() {
		if g != nil {
			g.Close()
		}
	}()
	var grads [][]float32
	var x, y []float32
	stage := -1
	for ep := r.startEp + 1; ep <= cfg.Train.Epochs; ep++ {
		if k := r.stageOf(ep); k != stage {
			if stage >= 0 { // a later stage: freeze anew, a fresh optimizer
				if err := r.enterStage(k); err != nil {
					return err
				}
			}
			if g != nil {
				g.Close()
			}
			if g, err = r.net.BuildTrainLoss(B, rand.New(r.dropout), loss); err != nil {
				return err
			}
			grads = make([][]float32, len(r.net.Trainable()))
			x, y = g.Input.Data().([]float32), g.Labels.Data().([]float32)
			stage = k
		}
		sched := r.stageSchedule(stage)
		t0 := float64(r.plan[stage].First - 1) // the schedule's time runs within the stage
		perm := shuffle.Perm(trainSet.Len())
		r.opts.Progress.StartEpoch(ep, cfg.Train.Epochs, nb)
		start := time.Now()
		var lossSum float64
		correct := 0
		for j := range nb {
			if err := ctx.Err(); err != nil {
				return fmt.Errorf("interrupted in epoch %d at batch %d; %s", ep, j, r.lastGood())
			}
			idx := perm[j*B : (j+1)*B]
			if aug != nil {
				aug.FillWith(parallel.Range, x, y, idx, ep, j*B)
			} else {
				batcher.FillWith(parallel.Range, x, y, idx)
			}
			if err := g.Run(); err != nil {
				return err
			}
			loss := float64(g.LossValue())
			if math.IsNaN(loss) || math.IsInf(loss, 0) {
				return fmt.Errorf("%w: loss became %v in epoch %d at batch %d (lr %.3g); training stopped; %s",
					ErrNaN, loss, ep, j+1, LR(sched, float64(ep-1)-t0+float64(j)/float64(nb)), r.lastGood())
			}
			lossSum += loss
			logits := g.LogitsData()
			for b := range B {
				if eval.Argmax(logits[b*K:(b+1)*K]) == int(y[b]) {
					correct++
				}
			}
			for i := range grads {
				grads[i] = g.GradData(i)
			}
			if c := cfg.Train.ClipGradNorm; c > 0 {
				ClipGradNorm(grads, c)
			}
			r.opt.Update(grads, LR(sched, float64(ep-1)-t0+float64(j)/float64(nb)))
			done := j + 1
			r.opts.Progress.Batch(done, lossSum/float64(done), float64(correct)/float64(done*B),
				float64(done*B)/time.Since(start).Seconds())
		}
		secs := time.Since(start).Seconds()
		s := EpochStats{Epoch: ep, TrainLoss: lossSum / float64(nb), TrainAcc: float64(correct) / float64(nb*B),
			ValLoss: math.NaN(), ValAcc: math.NaN(), LR: LR(sched, float64(ep-1)-t0), Seconds: secs,
			ImgPerSec: float64(nb*B) / secs}
		score := s.TrainAcc
		if val != nil {
			res, err := val.Evaluate(valSet, norm, r.classes)
			if err != nil {
				return err
			}
			s.ValLoss, s.ValAcc = res.Loss, res.Accuracy
			score = res.Accuracy
			if es != nil && es.Monitor == "val_loss" {
				score = -res.Loss
			}
			if imbalanced {
				for _, c := range res.PerClass {
					s.Recall = append(s.Recall, fmt.Sprintf("%s %.1f%%", c.Label, 100*c.Recall))
				}
			}
		}
		minDelta := 0.0
		if es != nil {
			minDelta = es.MinDelta
		}
		improved := score > r.bestAcc+minDelta || r.bestEpoch == 0
		if improved {
			r.bestAcc, r.bestEpoch = score, ep
		}
		r.history = append(r.history, s)
		if err := r.save(ep, improved); err != nil {
			return err
		}
		r.opts.Progress.EndEpoch(s, cfg.Train.Epochs, improved)
		if es != nil && ep-r.bestEpoch >= es.Patience && ep < cfg.Train.Epochs {
			best := fmt.Sprintf("%.2f%%", 100*r.bestAcc)
			if es.Monitor == "val_loss" {
				best = fmt.Sprintf("%.4f", -r.bestAcc)
			}
			r.stopped = fmt.Sprintf("early stopping after epoch %d: %s has not improved by more than %g for %d epochs (best %s at epoch %d)",
				ep, es.Monitor, es.MinDelta, es.Patience, best, r.bestEpoch)
			fmt.Fprintln(r.opts.Log, r.stopped)
			return nil
		}
	}
	return nil
}

// lossSettings turns train.label_smoothing and train.class_weights into
// the loss op's settings, and says whether the training classes are
// imbalanced (the largest at least 1.5× the smallest).
func (r *run) lossSettings(ds *data.Dataset) (ops.Loss, bool, error) {
	t := r.cfg.Train
	loss := ops.Loss{Smoothing: t.LabelSmoothing}
	K := r.net.Classes
	count := make([]int, K)
	for _, y := range ds.Labels {
		count[y]++
	}
	imbalanced := slices.Max(count) >= 3*slices.Min(count)/2
	w := t.ClassWeights
	if w == nil {
		return loss, imbalanced, nil
	}
	loss.Weights = make([]float32, K)
	switch {
	case w.Auto:
		for c, n := range count {
			if n > 0 {
				loss.Weights[c] = float32(float64(ds.Len()) / float64(K*n))
			}
		}
	case len(w.Values) != K:
		return loss, false, &config.Error{File: r.opts.ConfigPath, Line: r.cfg.Line("train.class_weights"),
			Msg: fmt.Sprintf("train.class_weights has %d values, the data has %d classes (%s)", len(w.Values), K, strings.Join(r.classes, ", "))}
	default:
		for c, v := range w.Values {
			loss.Weights[c] = float32(v)
		}
	}
	parts := make([]string, K)
	for c := range K {
		parts[c] = fmt.Sprintf("%s %.3g", r.classes[c], loss.Weights[c])
	}
	how := "given"
	if w.Auto {
		how = "auto, N/(K·n_class)"
	}
	fmt.Fprintf(r.opts.Log, "class weights (%s): %s\n", how, strings.Join(parts, ", "))
	return loss, imbalanced, nil
}

func (r *run) lastGood() string {
	if r.lastEpoch() == 0 {
		return "no epoch had finished, so there is no checkpoint"
	}
	last := filepath.Join(r.dir, "last.ckpt")
	return fmt.Sprintf("the last good checkpoint %s (epoch %d) is kept; continue with --resume %s", last, r.lastEpoch(), last)
}

func (r *run) lastEpoch() int {
	if len(r.history) == 0 {
		return 0
	}
	return r.history[len(r.history)-1].Epoch
}

// save writes last.ckpt (and best.ckpt when the epoch improved), the metrics
// and the curves.
func (r *run) save(ep int, improved bool) error {
	shuffleState, err := r.shuffle.MarshalBinary()
	if err != nil {
		return err
	}
	dropoutState, err := r.dropout.MarshalBinary()
	if err != nil {
		return err
	}
	last := r.history[len(r.history)-1]
	st := &checkpoint.State{
		Config: r.cfg, Classes: r.classes, Net: r.net, Epoch: ep,
		OptimizerStep: r.opt.Step, OptimizerSlots: r.opt.State(),
		RNG: map[string][]byte{rngShuffle: shuffleState, rngDropout: dropoutState},
		Meta: map[string]string{
			"best_val_acc": strconv.FormatFloat(r.bestAcc, 'g', -1, 64),
			"best_epoch":   strconv.Itoa(r.bestEpoch),
			"val_acc":      strconv.FormatFloat(last.ValAcc, 'g', -1, 64),
			"train_loss":   strconv.FormatFloat(last.TrainLoss, 'g', -1, 64),
		},
	}
	if err := checkpoint.Save(filepath.Join(r.dir, "last.ckpt"), st); err != nil {
		return fmt.Errorf("saving checkpoint: %w", err)
	}
	if improved {
		if err := checkpoint.Save(filepath.Join(r.dir, "best.ckpt"), st); err != nil {
			return fmt.Errorf("saving checkpoint: %w", err)
		}
	}
	if err := WriteMetrics(filepath.Join(r.dir, "metrics.csv"), r.history); err != nil {
		return err
	}
	// config.yaml describes last.ckpt: it is written with it, so a resumed
	// run that fails before its first epoch leaves the old one.
	cfgYAML, err := r.cfg.Marshal()
	if err != nil {
		return err
	}
	if err := atomicfile.WriteBytes(filepath.Join(r.dir, "config.yaml"), cfgYAML); err != nil {
		return err
	}
	if err := r.drawFilters(); err != nil {
		return err
	}
	return r.plotCurves()
}

// drawFilters writes filters.png: the kernels as they are after the epoch
// (nothing to draw for a network without convolutions).
func (r *run) drawFilters() error {
	pic, err := inspect.Filters(r.net)
	if err != nil {
		return nil
	}
	return atomicfile.Write(filepath.Join(r.dir, "filters.png"), func(w *bufio.Writer) error { return png.Encode(w, pic.Image) })
}

func (r *run) plotCurves() error {
	var ep, tl, vl, ta, va []float64
	for _, h := range r.history {
		ep = append(ep, float64(h.Epoch))
		tl, vl = append(tl, h.TrainLoss), append(vl, h.ValLoss)
		ta, va = append(ta, 100*h.TrainAcc), append(va, 100*h.ValAcc)
	}
	return plot.Panels(filepath.Join(r.dir, "curves.png"), []plot.Panel{
		{Title: r.cfg.Name + ": loss", XLabel: "epoch", YLabel: "cross-entropy",
			Series: []plot.Series{{Name: "train", X: ep, Y: tl}, {Name: "validation", X: ep, Y: vl}}},
		{Title: r.cfg.Name + ": accuracy", XLabel: "epoch", YLabel: "%",
			Series: []plot.Series{{Name: "train", X: ep, Y: ta}, {Name: "validation", X: ep, Y: va}}, LegendBottom: true},
	})
}

// finish evaluates the final model on the test set.
func (r *run) finish(testSet *data.Dataset) (*Result, error) {
	last := r.lastEpoch()
	res := &Result{RunDir: r.dir, Epochs: last, Trained: last - r.startEp, BestEpoch: r.bestEpoch, BestValAcc: r.bestAcc,
		TestLoss: math.NaN(), TestAcc: math.NaN(), Stopped: r.stopped}
	if es := r.cfg.Train.EarlyStopping; es != nil && es.Monitor == "val_loss" {
		res.BestValLoss, res.BestValAcc = -r.bestAcc, math.NaN()
	}
	var n float64
	for _, h := range r.history {
		if h.Epoch > r.startEp {
			res.MeanSeconds += h.Seconds
			res.MeanImgPerS += h.ImgPerSec
			n++
		}
	}
	if n > 0 {
		res.MeanSeconds /= n
		res.MeanImgPerS /= n
	}
	if testSet == nil || testSet.Len() == 0 {
		return res, nil
	}
	runner, err := eval.NewRunner(r.net, min(r.opts.EvalBatch, testSet.Len()))
	if err != nil {
		return nil, err
	}
	defer runner.Close()
	norm := data.Norm{Mean: r.cfg.Data.Normalize.Mean, Std: r.cfg.Data.Normalize.Std}
	tr, err := runner.Evaluate(testSet, norm, r.classes)
	if err != nil {
		return nil, err
	}
	res.TestLoss, res.TestAcc = tr.Loss, tr.Accuracy
	return res, nil
}
