package deploy

import (
	"net"
	"os"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/yaml"
)

// serviceConfig is the part of hydrocast.yaml the manifests depend on: where the online
// store is and how to reach it.
type serviceConfig struct {
	Features struct {
		OnlineStore string `json:"online_store"`
		Redis       struct {
			Addr      string `json:"addr"`
			TLS       bool   `json:"tls"`
			TLSCAFile string `json:"tls_ca_file"`
			IdleTTL   string `json:"idle_ttl"`
		} `json:"redis"`
	} `json:"features"`
}

func TestOnlineStoreByEnvironment(t *testing.T) {
	cases := []struct {
		env         environment
		inCluster   bool // a Redis StatefulSet runs next to hydrocast
		wantTLS     bool
		wantCAMount bool
	}{
		{env: devEnv, inCluster: true},
		{env: prodEnv, wantTLS: true, wantCAMount: true},
	}
	for _, c := range cases {
		t.Run(c.env.name, func(t *testing.T) {
			objs := objects(render(t, c.env))
			cfg := configOf(t, objs)
			if cfg.Features.OnlineStore != "redis" {
				t.Fatalf("online_store %q, want redis", cfg.Features.OnlineStore)
			}
			host, _, err := net.SplitHostPort(cfg.Features.Redis.Addr)
			if err != nil {
				t.Fatalf("redis addr: %v", err)
			}
			// serve takes the address as a flag until it reads hydrocast.yaml.
			if got := envValue(t, objs, "HYDROCAST_REDIS_ADDR"); got != cfg.Features.Redis.Addr {
				t.Errorf("hydrocast-env HYDROCAST_REDIS_ADDR %q, hydrocast.yaml says %q", got,
					cfg.Features.Redis.Addr)
			}

			var statefulSet, service bool
			for _, o := range objs {
				switch v := o.(type) {
				case *appsv1.StatefulSet:
					statefulSet = statefulSet || v.Name == "redis"
				case *corev1.Service:
					service = service || v.Name == host
				}
			}
			if statefulSet != c.inCluster || service != c.inCluster {
				t.Errorf("redis StatefulSet %v and Service %q %v, want both %v",
					statefulSet, host, service, c.inCluster)
			}
			if cfg.Features.Redis.TLS != c.wantTLS {
				t.Errorf("redis tls %v, want %v", cfg.Features.Redis.TLS, c.wantTLS)
			}

			// The CA file must lie under a mount of every pod that talks to Redis.
			if !c.wantCAMount {
				return
			}
			for _, name := range []string{"hydrocast-serve", "hydrocast-ingest"} {
				d := deployment(objs, name)
				if d == nil || !mounted(d.Spec.Template.Spec, cfg.Features.Redis.TLSCAFile) {
					t.Errorf("%s does not mount %q", name, cfg.Features.Redis.TLSCAFile)
				}
			}
		})
	}
}

// envValue returns a key of the generated hydrocast-env ConfigMap.
func envValue(t *testing.T, objs []runtime.Object, key string) string {
	t.Helper()
	for _, o := range objs {
		cm, ok := o.(*corev1.ConfigMap)
		if ok && strings.HasPrefix(cm.Name, "hydrocast-env-") {
			return cm.Data[key]
		}
	}
	t.Fatal("no hydrocast-env ConfigMap")
	return ""
}

// configOf decodes hydrocast.yaml from the generated hydrocast-config ConfigMap.
func configOf(t *testing.T, objs []runtime.Object) serviceConfig {
	t.Helper()
	for _, o := range objs {
		cm, ok := o.(*corev1.ConfigMap)
		if !ok || !strings.HasPrefix(cm.Name, "hydrocast-config-") {
			continue
		}
		var cfg serviceConfig
		if err := yaml.Unmarshal([]byte(cm.Data["hydrocast.yaml"]), &cfg); err != nil {
			t.Fatalf("decode hydrocast.yaml: %v", err)
		}
		return cfg
	}
	t.Fatal("no hydrocast-config ConfigMap")
	return serviceConfig{}
}

func mounted(spec corev1.PodSpec, path string) bool {
	if path == "" {
		return false
	}
	for _, c := range spec.Containers {
		for _, m := range c.VolumeMounts {
			if strings.HasPrefix(path, strings.TrimSuffix(m.MountPath, "/")+"/") {
				return true
			}
		}
	}
	return false
}

// ruleFile mirrors Prometheus's rule-file format; decoding into it strictly catches a
// misspelt key, which Prometheus would refuse at load time.
type ruleFile struct {
	Groups []struct {
		Name     string `json:"name"`
		Interval string `json:"interval,omitempty"`
		Rules    []rule `json:"rules"`
	} `json:"groups"`
}

type rule struct {
	Alert         string            `json:"alert,omitempty"`
	Record        string            `json:"record,omitempty"`
	Expr          string            `json:"expr"`
	For           string            `json:"for,omitempty"`
	KeepFiringFor string            `json:"keep_firing_for,omitempty"`
	Labels        map[string]string `json:"labels,omitempty"`
	Annotations   map[string]string `json:"annotations,omitempty"`
}

func TestAlertRules(t *testing.T) {
	y, err := os.ReadFile("k8s/base/alerts.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var rf ruleFile
	if err := yaml.UnmarshalStrict(y, &rf); err != nil {
		t.Fatalf("decode: %v", err)
	}

	seen := map[string]bool{}
	for _, g := range rf.Groups {
		for _, r := range g.Rules {
			t.Run(r.Alert, func(t *testing.T) {
				if r.Alert == "" || seen[r.Alert] {
					t.Fatalf("alert name %q is empty or repeated", r.Alert)
				}
				seen[r.Alert] = true
				if strings.TrimSpace(r.Expr) == "" {
					t.Error("no expression")
				}
				if d, err := time.ParseDuration(r.For); err != nil || d <= 0 {
					t.Errorf("for %q: a firing alert must hold for a while", r.For)
				}
				switch r.Labels["severity"] {
				case "page", "ticket", "info":
				default:
					t.Errorf("severity %q, want page, ticket or info", r.Labels["severity"])
				}
				if r.Annotations["summary"] == "" {
					t.Error("no summary annotation")
				}
			})
		}
	}

	// Both concerns the alerts exist for must be covered.
	var latency, drift bool
	for name := range seen {
		latency = latency || strings.Contains(name, "Latency")
		drift = drift || strings.Contains(name, "Drift")
	}
	if !latency || !drift {
		t.Errorf("alerts %v: want latency and drift alerts", seen)
	}
}
