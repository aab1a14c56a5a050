package config

import (
	"fmt"
	"strings"
)

// FreezeStats says whether frozen batch norms keep their running
// statistics (train.freeze_bn, default true).
func (t *Train) FreezeStats() bool { return t.FreezeBN == nil || *t.FreezeBN }

// Frozen returns the IDs of the expanded layers that train.freeze or
// train.freeze_until names — a block use's name stands for every layer of
// that copy — or why the names do not fit the model.
func (c *Config) Frozen() (map[string]bool, error) {
	t := &c.Train
	if len(t.Freeze) == 0 && t.FreezeUntil == "" {
		return nil, nil
	}
	if len(t.Freeze) > 0 && t.FreezeUntil != "" {
		return nil, fmt.Errorf("train.freeze and train.freeze_until: give one of them")
	}
	ls := c.Layers()
	ids := make([]string, len(ls))
	for i := range ls {
		ids[i] = ls[i].ID(i)
	}
	// matches says whether name stands for layer id: itself, or a block
	// use the layer was expanded from.
	matches := func(name, id string) bool { return id == name || strings.HasPrefix(id, name+".") }
	frozen := map[string]bool{}
	if t.FreezeUntil != "" {
		last := -1
		for i, id := range ids {
			if matches(t.FreezeUntil, id) {
				last = i
			}
		}
		if last < 0 {
			return nil, fmt.Errorf("train.freeze_until: no layer is named %q (%s)", t.FreezeUntil, nameList(ids))
		}
		for _, id := range ids[:last+1] {
			frozen[id] = true
		}
		return frozen, nil
	}
	for _, name := range t.Freeze {
		found := false
		for _, id := range ids {
			if matches(name, id) {
				frozen[id], found = true, true
			}
		}
		if !found {
			return nil, fmt.Errorf("train.freeze: no layer is named %q (%s)", name, nameList(ids))
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
