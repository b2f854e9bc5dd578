package alerts

import (
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"sigs.k8s.io/yaml"

	"github.com/hydrocast/hydrocast/evaluation/drift"
)

type ruleFile struct {
	Groups []struct {
		Name  string `json:"name"`
		Rules []rule `json:"rules"`
	} `json:"groups"`
}

type rule struct {
	Alert       string            `json:"alert"`
	Expr        string            `json:"expr"`
	For         string            `json:"for"`
	Labels      map[string]string `json:"labels"`
	Annotations map[string]string `json:"annotations"`
}

// exported returns the names of the metrics the drift collector describes.
func exported(t *testing.T) map[string]bool {
	t.Helper()
	live, err := drift.NewLive(drift.LiveOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ch := make(chan *prometheus.Desc, 32)
	live.Collector().Describe(ch)
	close(ch)
	name := regexp.MustCompile(`fqName: "([a-z_:]+)"`)
	out := map[string]bool{}
	for d := range ch {
		if m := name.FindStringSubmatch(d.String()); m != nil {
			out[m[1]] = true
		}
	}
	return out
}

func TestDriftRulesUseExportedMetrics(t *testing.T) {
	data, err := os.ReadFile("drift.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var rf ruleFile
	if err := yaml.UnmarshalStrict(data, &rf); err != nil {
		t.Fatalf("decode drift.yaml: %v", err)
	}
	metrics := exported(t)
	if len(metrics) < 5 {
		t.Fatalf("the drift collector describes %v", metrics)
	}
	ident := regexp.MustCompile(`hydrocast_[a-z_]+`)
	seen := map[string]bool{}
	for _, g := range rf.Groups {
		for _, r := range g.Rules {
			if r.Alert == "" || seen[r.Alert] {
				t.Errorf("alert name %q is empty or repeated", r.Alert)
			}
			seen[r.Alert] = true
			names := ident.FindAllString(r.Expr, -1)
			if len(names) == 0 {
				t.Errorf("%s: expression %q reads no hydrocast metric", r.Alert, r.Expr)
			}
			for _, n := range names {
				if !metrics[n] {
					t.Errorf("%s: %s is not a metric the drift collector exports", r.Alert, n)
				}
			}
			if d, err := time.ParseDuration(r.For); err != nil || d <= 0 {
				t.Errorf("%s: for %q: a drift alert must hold for a while", r.Alert, r.For)
			}
			switch r.Labels["severity"] {
			case "page", "ticket", "info":
			default:
				t.Errorf("%s: severity %q", r.Alert, r.Labels["severity"])
			}
			if strings.TrimSpace(r.Annotations["summary"]) == "" {
				t.Errorf("%s: no summary", r.Alert)
			}
		}
	}
	if len(seen) == 0 {
		t.Error("drift.yaml holds no alert")
	}
}
