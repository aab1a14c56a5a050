package config

import (
	"fmt"
	"strings"
)

// FreezeStats says whether frozen batch norms keep their running
// statistics (train.freeze_bn, default true).
func (t *Train) FreezeStats() bool { return t.FreezeBN == nil || *t.FreezeBN }

// StagePlan is one stage of training as run: epochs First…Last (from 1),
// its learning rate, and the IDs of the layers it keeps frozen.
type StagePlan struct {
	First, Last int
	LR          float64
	Frozen      map[string]bool
	FreezeStats bool
}

// Epochs is the stage's length.
func (s StagePlan) Epochs() int { return s.Last - s.First + 1 }

// Plan lays out training as stages: train.stages, or one stage of
// train.epochs with train.freeze / freeze_until. It says what does not fit.
func (c *Config) Plan() ([]StagePlan, error) {
	t := &c.Train
	if len(t.Stages) == 0 {
		frozen, err := c.frozenIDs("train", t.Freeze, t.FreezeUntil)
		if err != nil {
			return nil, err
		}
		return []StagePlan{{First: 1, Last: t.Epochs, LR: t.Optimizer.LR, Frozen: frozen, FreezeStats: t.FreezeStats()}}, nil
	}
	if len(t.Freeze) > 0 || t.FreezeUntil != "" || t.FreezeBN != nil {
		return nil, fmt.Errorf("train.stages: with stages, give freeze, freeze_until and freeze_bn in each stage, not in train")
	}
	var plan []StagePlan
	sum := 0
	for i, st := range t.Stages {
		field := fmt.Sprintf("train.stages[%d]", i+1)
		if st.Epochs < 1 {
			return nil, fmt.Errorf("%s.epochs must be at least 1, got %d", field, st.Epochs)
		}
		if st.LR < 0 {
			return nil, fmt.Errorf("%s.lr must be positive, got %v", field, st.LR)
		}
		frozen, err := c.frozenIDs(field, st.Freeze, st.FreezeUntil)
		if err != nil {
			return nil, err
		}
		lr := st.LR
		if lr == 0 {
			lr = t.Optimizer.LR
		}
		plan = append(plan, StagePlan{First: sum + 1, Last: sum + st.Epochs, LR: lr, Frozen: frozen,
			FreezeStats: st.FreezeBN == nil || *st.FreezeBN})
		sum += st.Epochs
	}
	if t.Epochs != sum {
		return nil, fmt.Errorf("train.epochs is %d, but the stages add up to %d epochs (leave epochs out with stages)", t.Epochs, sum)
	}
	return plan, nil
}

// Frozen returns the layer IDs that train.freeze or train.freeze_until
// names (those of the first stage, for a staged run).
func (c *Config) Frozen() (map[string]bool, error) {
	plan, err := c.Plan()
	if err != nil {
		return nil, err
	}
	return plan[0].Frozen, nil
}

// frozenIDs resolves freeze or freeze_until to the IDs of the expanded
// layers — a block use's name stands for every layer of that copy — or
// says why the names do not fit the model (field prefixes the message).
func (c *Config) frozenIDs(field string, freeze []string, until string) (map[string]bool, error) {
	if len(freeze) == 0 && until == "" {
		return nil, nil
	}
	if len(freeze) > 0 && until != "" {
		return nil, fmt.Errorf("%s.freeze and %s.freeze_until: give one of them", field, field)
	}
	ls := c.Layers()
	ids := make([]string, len(ls))
	for i := range ls {
		ids[i] = ls[i].ID(i)
	}
	matches := func(name, id string) bool { return id == name || strings.HasPrefix(id, name+".") }
	frozen := map[string]bool{}
	if until != "" {
		last := -1
		for i, id := range ids {
			if matches(until, id) {
				last = i
			}
		}
		if last < 0 {
			return nil, fmt.Errorf("%s.freeze_until: no layer is named %q (%s)", field, until, nameList(ids))
		}
		for _, id := range ids[:last+1] {
			frozen[id] = true
		}
		return frozen, nil
	}
	for _, name := range freeze {
		found := false
		for _, id := range ids {
			if matches(name, id) {
				frozen[id], found = true, true
			}
		}
		if !found {
			return nil, fmt.Errorf("%s.freeze: no layer is named %q (%s)", field, name, nameList(ids))
		}
	}
	return frozen, nil
}

// nameList shows the layer names a user can give.
func nameList(ids []string) string {
	const most = 12
	if len(ids) > most {
		return "the layers are " + strings.Join(ids[:most], ", ") + ", …"
	}
	return "the layers are " + strings.Join(ids, ", ")
}

// Line is the line of a field ("train.freeze") in the file, 0 if unknown.
func (c *Config) Line(field string) int { return c.lineOf(field) }
