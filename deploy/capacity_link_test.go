package deploy

import (
	"os"
	"testing"
	"time"

	"github.com/hydrocast/hydrocast/deploy/capacity"
)

// TestProdCoversCapacityPeak ties the prod overlay to the capacity model: the replicas
// request the cores the model plans per replica, the autoscalers may grow to the peak
// the measured figures call for, and Redis keeps athletes as long as the model assumes.
func TestProdCoversCapacityPeak(t *testing.T) {
	f, err := os.Open("capacity/testdata/bench.json")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	bench, err := capacity.ReadBench(f)
	if err != nil {
		t.Fatal(err)
	}
	pol := capacity.DefaultPolicy()
	plan, err := capacity.Estimate(bench, capacity.DefaultWorkload(), pol,
		capacity.ListPrices())
	if err != nil {
		t.Fatal(err)
	}

	objs := objects(render(t, prodEnv))
	ttl, err := time.ParseDuration(configOf(t, objs).Features.Redis.IdleTTL)
	if err != nil || ttl != pol.RedisIdleTTL {
		t.Errorf("idle_ttl %v (%v), the model assumes %v", ttl, err, pol.RedisIdleTTL)
	}
	cases := []struct {
		name         string
		coresPer     float64
		peakReplicas int
		minReplicas  int
	}{
		{"hydrocast-serve", pol.ServeCoresPerReplica, plan.ServeReplicasPeak,
			pol.MinServeReplicas},
		{"hydrocast-ingest", pol.IngestCoresPerReplica, plan.IngestReplicasPeak,
			pol.MinIngestReplicas},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d, h := deployment(objs, c.name), autoscalerFor(objs, c.name)
			if d == nil || h == nil {
				t.Fatalf("no Deployment or HPA %s", c.name)
			}
			cpu := d.Spec.Template.Spec.Containers[0].Resources.Requests.Cpu()
			if got := cpu.AsApproximateFloat64(); got != c.coresPer {
				t.Errorf("requests %v cores, the model plans %v per replica", got,
					c.coresPer)
			}
			if int(h.Spec.MaxReplicas) < c.peakReplicas {
				t.Errorf("HPA maxReplicas %d, the peak needs %d", h.Spec.MaxReplicas,
					c.peakReplicas)
			}
			if h.Spec.MinReplicas == nil || int(*h.Spec.MinReplicas) != c.minReplicas {
				t.Errorf("HPA minReplicas %v, the model floors at %d", h.Spec.MinReplicas,
					c.minReplicas)
			}
		})
	}
}
