package main

import (
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"

	"github.com/hydrocast/hydrocast/inference/batch"
)

// parseBatching parses serve's batching flags from args.
func parseBatching(t *testing.T, args ...string) (map[string]batch.Options, error) {
	t.Helper()
	var f batchFlags
	fl := pflag.NewFlagSet("serve", pflag.ContinueOnError)
	f.register(fl)
	if err := fl.Parse(args); err != nil {
		t.Fatalf("parse %v: %v", args, err)
	}
	return f.options()
}

func TestBatchFlags(t *testing.T) {
	us := time.Microsecond
	cases := []struct {
		name string
		args []string
		want map[string]batch.Options
	}{
		{"off by default", nil, nil},
		{"one size for every model",
			[]string{"--batch-max-size", "64", "--batch-max-delay", "250us",
				"--batch-instances", "2"},
			map[string]batch.Options{"": {MaxSize: 64, MaxDelay: 250 * us, Instances: 2,
				QueueSize: 1024}}},
		{"every model but one",
			[]string{"--batch-max-size", "64", "--batch-model", "anomaly:off"},
			map[string]batch.Options{
				"":        {MaxSize: 64, MaxDelay: 500 * us, Instances: 1, QueueSize: 1024},
				"anomaly": {}}},
		{"one model only, its own settings over the defaults",
			[]string{"--batch-max-delay", "1ms", "--batch-model",
				"sweat-rate:max-size=128,instances=2,queue-size=50"},
			map[string]batch.Options{"sweat-rate": {MaxSize: 128,
				MaxDelay: time.Millisecond, Instances: 2, QueueSize: 50}}},
		{"one model on alone takes the batcher's size",
			[]string{"--batch-model", "sweat-rate:max-delay=100us"},
			map[string]batch.Options{"sweat-rate": {MaxSize: 32, MaxDelay: 100 * us,
				Instances: 1, QueueSize: 1024}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := parseBatching(t, c.args...)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(c.want) {
				t.Fatalf("got %v, want %v", got, c.want)
			}
			for k, w := range c.want {
				if g, ok := got[k]; !ok || g.MaxSize != w.MaxSize || g.MaxDelay != w.MaxDelay ||
					g.Instances != w.Instances || g.QueueSize != w.QueueSize {
					t.Errorf("%q: got %+v, want %+v", k, g, w)
				}
			}
		})
	}
}

func TestBatchFlagsRefused(t *testing.T) {
	cases := []struct {
		args []string
		want string // in the error
	}{
		{[]string{"--batch-max-size", "-1"}, "--batch-max-size -1"},
		{[]string{"--batch-max-delay", "-1ms"}, "--batch-max-delay -1ms"},
		{[]string{"--batch-instances", "0"}, "--batch-instances 0"},
		{[]string{"--batch-queue-size", "0"}, "--batch-queue-size 0"},
		{[]string{"--batch-model", "sweat-rate"}, "NAME:off"},
		{[]string{"--batch-model", "sweat-rate:"}, "NAME:off"},
		{[]string{"--batch-model", "Sweat Rate:off"}, `"Sweat Rate:off"`},
		{[]string{"--batch-model", "sweat-rate:max-size=1"}, "max-size=1: want 2 or more"},
		{[]string{"--batch-model", "sweat-rate:max-size=lots"}, "max-size=lots: not a whole"},
		{[]string{"--batch-model", "sweat-rate:instances=0"}, "instances=0"},
		{[]string{"--batch-model", "sweat-rate:max-delay=soon"}, "max-delay=soon"},
		{[]string{"--batch-model", "sweat-rate:max-delay=-5us"}, "want 0 or more"},
		{[]string{"--batch-model", "sweat-rate:size=64"}, `unknown key "size"`},
		{[]string{"--batch-model", "sweat-rate:max-size"}, `"max-size": want key=value`},
		{[]string{"--batch-model", "anomaly:off", "--batch-model", "anomaly:max-size=8"},
			"named twice"},
		{[]string{"--batch-model", "sweat_rate:max-size=64"},
			`serve runs no model "sweat_rate" (it runs sweat-rate, thermal-trajectory`},
		{[]string{"--batch-model", "nosuch:off"}, `no model "nosuch"`},
		{[]string{"--batch-model", ":off"}, "NAME:off"},
		{[]string{"--batch-model", "sweat-rate:max-size=4,max-size=8"},
			"max-size is given twice"},
	}
	for _, c := range cases {
		_, err := parseBatching(t, c.args...)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: error %v, want one containing %q", c.args, err, c.want)
		}
	}
}
