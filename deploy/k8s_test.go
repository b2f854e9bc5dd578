package deploy

import (
	"bytes"
	"fmt"
	"os"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/runtime"
	kjson "k8s.io/apimachinery/pkg/runtime/serializer/json"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
)

// environment is one kustomization the tests render.
type environment struct {
	name      string
	dir       string // relative to this package
	namespace string // every namespaced object's namespace; empty for the base
}

var (
	baseEnv = environment{name: "base", dir: "k8s/base"}
	devEnv  = environment{name: "dev", dir: "k8s/overlays/dev", namespace: "hydrocast-dev"}
	prodEnv = environment{name: "prod", dir: "k8s/overlays/prod", namespace: "hydrocast"}

	environments = []environment{baseEnv, devEnv, prodEnv}
)

// externalObjects are referenced by the manifests but created out of band, so that
// applying the manifests never overwrites their real content with placeholders.
var externalObjects = map[string]bool{
	"Secret/hydrocast-secrets":  true,
	"ConfigMap/redis-server-ca": true,
}

// strictDecoder decodes YAML into the Kubernetes API types and fails on any field the
// types do not have, on a duplicated field and on a kind it does not know.
var strictDecoder = newStrictDecoder()

func newStrictDecoder() *kjson.Serializer {
	scheme := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{
		corev1.AddToScheme, appsv1.AddToScheme, batchv1.AddToScheme,
		autoscalingv2.AddToScheme, policyv1.AddToScheme,
	} {
		if err := add(scheme); err != nil {
			panic(fmt.Sprintf("build scheme: %v", err))
		}
	}
	opts := kjson.SerializerOptions{Yaml: true, Strict: true}
	return kjson.NewSerializerWithOptions(kjson.DefaultMetaFactory, scheme, scheme, opts)
}

// decodeStrict decodes one object.
func decodeStrict(y []byte) (runtime.Object, error) {
	obj, _, err := strictDecoder.Decode(y, nil, nil)
	return obj, err
}

// renderedObject is one object of a rendered environment.
type renderedObject struct {
	id   string // kind/name as kustomize names it before hashing
	yaml []byte
	obj  runtime.Object
}

// render builds the environment with kustomize and decodes every object strictly; an
// object that does not decode fails the test.
func render(t *testing.T, env environment) []renderedObject {
	t.Helper()
	k := krusty.MakeKustomizer(krusty.MakeDefaultOptions())
	resources, err := k.Run(filesys.MakeFsOnDisk(), env.dir)
	if err != nil {
		t.Fatalf("render %s: %v", env.dir, err)
	}

	var out []renderedObject
	for _, r := range resources.Resources() {
		y, err := r.AsYAML()
		if err != nil {
			t.Fatalf("%s: encode %s: %v", env.name, r.CurId(), err)
		}
		obj, err := decodeStrict(y)
		if err != nil {
			t.Errorf("%s: %s does not decode strictly: %v", env.name, r.CurId(), err)
			continue
		}
		id := r.GetKind() + "/" + r.GetName()
		out = append(out, renderedObject{id: id, yaml: y, obj: obj})
	}
	if len(out) == 0 {
		t.Fatalf("%s rendered no objects", env.name)
	}
	return out
}

func objects(rendered []renderedObject) []runtime.Object {
	objs := make([]runtime.Object, len(rendered))
	for i, r := range rendered {
		objs[i] = r.obj
	}
	return objs
}

func TestManifestsRenderAndDecodeStrictly(t *testing.T) {
	// Every kind the manifests are expected to hold, per environment; a kind missing from
	// the render means a resource fell out of a kustomization.
	want := map[string][]string{
		"base": {"ServiceAccount", "ConfigMap", "Service", "Deployment",
			"HorizontalPodAutoscaler", "PodDisruptionBudget", "CronJob"},
		"dev":  {"Namespace", "StatefulSet", "Deployment", "CronJob"},
		"prod": {"Namespace", "Deployment", "HorizontalPodAutoscaler", "CronJob"},
	}
	for _, env := range environments {
		t.Run(env.name, func(t *testing.T) {
			kinds := map[string]bool{}
			for _, r := range render(t, env) {
				kinds[r.obj.GetObjectKind().GroupVersionKind().Kind] = true
			}
			for _, k := range want[env.name] {
				if !kinds[k] {
					t.Errorf("no %s in the render", k)
				}
			}
		})
	}
}

// TestStrictDecodingRejectsTypos proves that the decoder the other tests rely on fails
// on the mistakes it is there to catch, on a real rendered object.
func TestStrictDecodingRejectsTypos(t *testing.T) {
	var serve []byte
	for _, r := range render(t, prodEnv) {
		if r.id == "Deployment/hydrocast-serve" {
			serve = r.yaml
		}
	}
	if serve == nil {
		t.Fatal("prod renders no hydrocast-serve Deployment")
	}
	if _, err := decodeStrict(serve); err != nil {
		t.Fatalf("unchanged object: %v", err)
	}

	cases := []struct {
		name, old, new string
	}{
		{"misspelt probe", "readinessProbe:", "readinesProbe:"},
		{"unknown spec field", "replicas: 3", "replica: 3"},
		{"wrong case", "containerPort:", "containerport:"},
		{"bad quantity", "memory: 4Gi", "memory: 4Gb"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if !bytes.Contains(serve, []byte(c.old)) {
				t.Fatalf("the rendered object holds no %q to change", c.old)
			}
			broken := bytes.Replace(serve, []byte(c.old), []byte(c.new), 1)
			if _, err := decodeStrict(broken); err == nil {
				t.Errorf("decoded %q without error", c.new)
			}
		})
	}
}

func TestWorkloadsAreHardened(t *testing.T) {
	for _, env := range environments {
		t.Run(env.name, func(t *testing.T) {
			wls := workloads(objects(render(t, env)))
			if len(wls) < 4 {
				t.Fatalf("found %d workloads, want serve, ingest, train and drift", len(wls))
			}
			for _, w := range wls {
				for _, p := range podProblems(w.spec) {
					t.Errorf("%s/%s: %s", w.kind, w.name, p)
				}
			}
		})
	}
}

func TestServersProbeGRPCHealth(t *testing.T) {
	for _, env := range environments {
		t.Run(env.name, func(t *testing.T) {
			servers := 0
			for _, w := range workloads(objects(render(t, env))) {
				component := w.labels["app.kubernetes.io/component"]
				if w.kind != "Deployment" {
					continue
				}
				servers++
				needStartup := component == "serve"
				for _, p := range probeProblems(w.spec, needStartup) {
					t.Errorf("%s: %s", w.name, p)
				}
			}
			if servers != 2 {
				t.Errorf("found %d Deployments, want serve and ingest", servers)
			}
		})
	}
}

func TestAutoscalersTargetDeployments(t *testing.T) {
	for _, env := range environments {
		t.Run(env.name, func(t *testing.T) {
			objs := objects(render(t, env))
			hpas := 0
			for _, o := range objs {
				if h, ok := o.(*autoscalingv2.HorizontalPodAutoscaler); ok {
					hpas++
					for _, p := range hpaProblems(h, objs) {
						t.Errorf("HPA %s: %s", h.Name, p)
					}
				}
			}
			if hpas != 2 {
				t.Errorf("found %d HPAs, want one for serve and one for ingest", hpas)
			}
		})
	}
}

func TestSelectorsMatchPods(t *testing.T) {
	for _, env := range environments {
		t.Run(env.name, func(t *testing.T) {
			objs := objects(render(t, env))
			wls := workloads(objs)
			pdbs := 0
			for _, o := range objs {
				switch v := o.(type) {
				case *policyv1.PodDisruptionBudget:
					pdbs++
					for _, p := range pdbProblems(v, wls) {
						t.Errorf("PDB %s: %s", v.Name, p)
					}
				case *corev1.Service:
					for _, p := range serviceProblems(v, wls) {
						t.Errorf("Service %s: %s", v.Name, p)
					}
				}
			}
			if pdbs == 0 {
				t.Error("no PodDisruptionBudget")
			}
		})
	}
}

func TestReferencesResolve(t *testing.T) {
	for _, env := range environments {
		t.Run(env.name, func(t *testing.T) {
			objs := objects(render(t, env))
			for _, p := range referenceProblems(objs) {
				t.Error(p)
			}
		})
	}
}

func TestOverlaysSetNamespace(t *testing.T) {
	for _, env := range []environment{devEnv, prodEnv} {
		t.Run(env.name, func(t *testing.T) {
			var haveNamespace bool
			for _, r := range render(t, env) {
				if ns, ok := r.obj.(*corev1.Namespace); ok {
					haveNamespace = ns.Name == env.namespace
					level := ns.Labels["pod-security.kubernetes.io/enforce"]
					if level != "restricted" {
						t.Errorf("namespace enforces pod security %q, want restricted", level)
					}
					continue
				}
				got := metaOf(r.obj).GetNamespace()
				if got != env.namespace {
					t.Errorf("%s is in namespace %q, want %q", r.id, got, env.namespace)
				}
			}
			if !haveNamespace {
				t.Errorf("no Namespace %s in the render", env.namespace)
			}
		})
	}
}

func TestProdIsHighlyAvailable(t *testing.T) {
	objs := objects(render(t, prodEnv))
	for _, name := range []string{"hydrocast-serve", "hydrocast-ingest"} {
		t.Run(name, func(t *testing.T) {
			d := deployment(objs, name)
			if d == nil {
				t.Fatalf("no Deployment %s", name)
			}
			if d.Spec.Replicas == nil || *d.Spec.Replicas < 3 {
				t.Errorf("replicas %v, want at least 3", d.Spec.Replicas)
			}
			if !spreadsOver(d.Spec.Template.Spec, "topology.kubernetes.io/zone") {
				t.Error("replicas are not spread over zones")
			}
			h := autoscalerFor(objs, name)
			if h == nil {
				t.Fatalf("no HPA targets %s", name)
			}
			if h.Spec.MinReplicas == nil || *h.Spec.MinReplicas < 3 {
				t.Errorf("HPA minReplicas %v, want at least 3", h.Spec.MinReplicas)
			}
			for _, c := range d.Spec.Template.Spec.Containers {
				if !strings.Contains(c.Image, "-docker.pkg.dev/") {
					t.Errorf("container %s pulls %s, not from Artifact Registry", c.Name, c.Image)
				}
			}
		})
	}
}

func TestSecretExampleHoldsPlaceholdersOnly(t *testing.T) {
	y, err := os.ReadFile("k8s/base/secret.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	obj, err := decodeStrict(y)
	if err != nil {
		t.Fatalf("decode: %v", err)
	}
	secret, ok := obj.(*corev1.Secret)
	if !ok {
		t.Fatalf("secret.example.yaml holds a %T", obj)
	}
	for k, v := range secret.StringData {
		if !strings.Contains(v, "REPLACE_ME") {
			t.Errorf("key %s holds a value that is not a placeholder", k)
		}
	}
	if len(secret.Data) != 0 {
		t.Error("the example has base64 data; placeholders belong in stringData")
	}

	// Every key a pod reads must be in the example, so that it documents them all.
	for _, env := range environments {
		for _, w := range workloads(objects(render(t, env))) {
			for _, ref := range secretKeyRefs(w.spec) {
				if ref.Name != secret.Name {
					continue
				}
				if _, ok := secret.StringData[ref.Key]; !ok {
					t.Errorf("%s/%s reads key %s, which the example lacks", env.name, w.name,
						ref.Key)
				}
			}
		}
	}
}
