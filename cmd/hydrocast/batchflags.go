package main

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/hydrocast/hydrocast/inference/batch"
	"github.com/hydrocast/hydrocast/models"
)

// batchFlags are serve's dynamic-batching settings: defaults for every model, and
// per-model entries that override them or turn batching off for one model.
type batchFlags struct {
	maxSize   int
	maxDelay  time.Duration
	instances int
	queueSize int
	perModel  []string // NAME:off or NAME:key=value,…
}

func (f *batchFlags) register(fl *pflag.FlagSet) {
	d := batch.DefaultOptions()
	fl.IntVar(&f.maxSize, "batch-max-size", 0, "dynamic batching of ModelInfer for every "+
		"model: the most rows one model run takes; 0 or 1 turns batching off")
	fl.DurationVar(&f.maxDelay, "batch-max-delay", 500*time.Microsecond,
		"dynamic batching: how long a request may wait for others to share its run")
	fl.IntVar(&f.instances, "batch-instances", d.Instances, "dynamic batching: how many "+
		"batches of one model version may run at once")
	fl.IntVar(&f.queueSize, "batch-queue-size", d.QueueSize, "dynamic batching: requests "+
		"that may wait for a run; one more is refused at once with RESOURCE_EXHAUSTED")
	fl.StringArrayVar(&f.perModel, "batch-model", nil, "per-model batching, repeatable: "+
		"NAME:off, or NAME:max-size=N,max-delay=D,instances=N,queue-size=N (keys left "+
		"out take the --batch-* values), e.g. sweat-rate:max-size=64,max-delay=250us")
}

// options returns the batching options by model name, "" standing for every model
// not named, or nil when no model batches. It names the flag and the value that are
// wrong.
func (f *batchFlags) options() (map[string]batch.Options, error) {
	switch {
	case f.maxSize < 0:
		return nil, fmt.Errorf("--batch-max-size %d: want 0 (off) or more", f.maxSize)
	case f.maxDelay < 0:
		return nil, fmt.Errorf("--batch-max-delay %v: want 0 or more", f.maxDelay)
	case f.instances < 1:
		return nil, fmt.Errorf("--batch-instances %d: want 1 or more", f.instances)
	case f.queueSize < 1:
		return nil, fmt.Errorf("--batch-queue-size %d: want 1 or more", f.queueSize)
	}
	def := batch.Options{MaxSize: f.maxSize, MaxDelay: f.maxDelay,
		Instances: f.instances, QueueSize: f.queueSize}
	out := map[string]batch.Options{}
	if def.MaxSize >= 2 {
		out[""] = def
	}
	for _, spec := range f.perModel {
		name, o, err := parseBatchModel(spec, def)
		if err != nil {
			return nil, fmt.Errorf("--batch-model %q: %w", spec, err)
		}
		if _, dup := out[name]; dup && name != "" {
			return nil, fmt.Errorf("--batch-model %q: model %s is named twice", spec, name)
		}
		out[name] = o
	}
	if len(out) == 0 {
		return nil, nil
	}
	return out, nil
}

// parseBatchModel reads one --batch-model value, starting from def.
func parseBatchModel(spec string, def batch.Options) (string, batch.Options, error) {
	name, settings, ok := strings.Cut(spec, ":")
	if !ok || settings == "" || name == "" {
		return "", def, fmt.Errorf("want NAME:off or NAME:key=value,…")
	}
	if _, ok := models.FamilyByName(name); !ok {
		return "", def, fmt.Errorf("serve runs no model %q (it runs %s)", name,
			strings.Join(models.FamilyNames(), ", "))
	}
	if settings == "off" {
		return name, batch.Options{}, nil
	}
	o := def
	if o.MaxSize < 2 {
		// A model turned on alone batches with the batcher's own default size.
		o.MaxSize = batch.DefaultOptions().MaxSize
	}
	seen := map[string]bool{}
	for kv := range strings.SplitSeq(settings, ",") {
		key, value, ok := strings.Cut(kv, "=")
		if !ok {
			return "", def, fmt.Errorf("%q: want key=value", kv)
		}
		if seen[key] {
			return "", def, fmt.Errorf("%s is given twice", key)
		}
		seen[key] = true
		var err error
		switch key {
		case "max-size":
			o.MaxSize, err = atLeast(value, 2)
		case "instances":
			o.Instances, err = atLeast(value, 1)
		case "queue-size":
			o.QueueSize, err = atLeast(value, 1)
		case "max-delay":
			o.MaxDelay, err = time.ParseDuration(value)
			if err == nil && o.MaxDelay < 0 {
				err = fmt.Errorf("want 0 or more")
			}
		default:
			return "", def, fmt.Errorf("unknown key %q (max-size, max-delay, instances, "+
				"queue-size)", key)
		}
		if err != nil {
			return "", def, fmt.Errorf("%s=%s: %w", key, value, err)
		}
	}
	return name, o, nil
}

// atLeast parses a whole number no smaller than low.
func atLeast(s string, low int) (int, error) {
	n, err := strconv.Atoi(s)
	if err != nil {
		return 0, fmt.Errorf("not a whole number")
	}
	if n < low {
		return 0, fmt.Errorf("want %d or more", low)
	}
	return n, nil
}
