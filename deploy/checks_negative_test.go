package deploy

import (
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// The checks in checks_test.go pass on the real manifests; these tests show that each
// of them fails on a manifest that breaks its rule, starting from one that keeps them.

func goodPod() corev1.PodSpec {
	yes, no, user := true, false, int64(65532)
	return corev1.PodSpec{
		SecurityContext: &corev1.PodSecurityContext{
			RunAsNonRoot:   &yes,
			RunAsUser:      &user,
			SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
		},
		Containers: []corev1.Container{{
			Name:  "serve",
			Image: "example.com/hydrocast:1.2.3",
			Ports: []corev1.ContainerPort{{Name: "grpc", ContainerPort: 8470}},
			Resources: corev1.ResourceRequirements{
				Requests: corev1.ResourceList{
					corev1.ResourceCPU:    resource.MustParse("1"),
					corev1.ResourceMemory: resource.MustParse("1Gi"),
				},
				Limits: corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("2Gi")},
			},
			SecurityContext: &corev1.SecurityContext{
				ReadOnlyRootFilesystem:   &yes,
				AllowPrivilegeEscalation: &no,
				Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
			},
			ReadinessProbe: grpcProbe(8470),
			LivenessProbe:  grpcProbe(8470),
			StartupProbe:   grpcProbe(8470),
		}},
	}
}

func grpcProbe(port int32) *corev1.Probe {
	return &corev1.Probe{ProbeHandler: corev1.ProbeHandler{
		GRPC: &corev1.GRPCAction{Port: port},
	}}
}

func TestPodChecksFire(t *testing.T) {
	if p := podProblems(goodPod()); len(p) != 0 {
		t.Fatalf("the good pod has problems: %v", p)
	}
	if p := probeProblems(goodPod(), true); len(p) != 0 {
		t.Fatalf("the good pod's probes have problems: %v", p)
	}

	root, yes := int64(0), true
	cases := []struct {
		name   string
		mutate func(*corev1.PodSpec)
		want   string
	}{
		{"latest tag", func(s *corev1.PodSpec) {
			s.Containers[0].Image = "example.com/hydrocast:latest"
		}, "latest"},
		{"no tag", func(s *corev1.PodSpec) {
			s.Containers[0].Image = "example.com:5000/hydrocast"
		}, "no tag"},
		{"no request", func(s *corev1.PodSpec) {
			delete(s.Containers[0].Resources.Requests, corev1.ResourceCPU)
		}, "no CPU or memory request"},
		{"no memory limit", func(s *corev1.PodSpec) {
			s.Containers[0].Resources.Limits = nil
		}, "no memory limit"},
		{"root user", func(s *corev1.PodSpec) {
			s.Containers[0].SecurityContext.RunAsUser = &root
		}, "may run as root"},
		{"writable root", func(s *corev1.PodSpec) {
			s.Containers[0].SecurityContext.ReadOnlyRootFilesystem = nil
		}, "writable"},
		{"escalation", func(s *corev1.PodSpec) {
			s.Containers[0].SecurityContext.AllowPrivilegeEscalation = &yes
		}, "escalation"},
		{"capabilities kept", func(s *corev1.PodSpec) {
			s.Containers[0].SecurityContext.Capabilities = nil
		}, "capabilities"},
		{"no seccomp", func(s *corev1.PodSpec) {
			s.SecurityContext.SeccompProfile = nil
		}, "seccomp"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			spec := goodPod()
			c.mutate(&spec)
			if got := podProblems(spec); !anyContains(got, c.want) {
				t.Errorf("problems %v, want one about %q", got, c.want)
			}
		})
	}

	probeCases := []struct {
		name   string
		mutate func(*corev1.Container)
		want   string
	}{
		{"http probe", func(c *corev1.Container) {
			c.ReadinessProbe = &corev1.Probe{ProbeHandler: corev1.ProbeHandler{
				HTTPGet: &corev1.HTTPGetAction{Path: "/healthz"},
			}}
		}, "readiness probe is not gRPC"},
		{"wrong port", func(c *corev1.Container) { c.LivenessProbe = grpcProbe(8471) },
			"liveness probe asks port 8471"},
		{"no startup probe", func(c *corev1.Container) { c.StartupProbe = nil },
			"no startup probe"},
		{"no grpc port", func(c *corev1.Container) { c.Ports = nil }, "no port named grpc"},
	}
	for _, c := range probeCases {
		t.Run(c.name, func(t *testing.T) {
			spec := goodPod()
			c.mutate(&spec.Containers[0])
			if got := probeProblems(spec, true); !anyContains(got, c.want) {
				t.Errorf("problems %v, want one about %q", got, c.want)
			}
		})
	}
}

func TestSelectorChecksFire(t *testing.T) {
	serveLabels := map[string]string{"app.kubernetes.io/component": "serve"}
	three := int32(3)
	d := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "hydrocast-serve"},
		Spec: appsv1.DeploymentSpec{
			Replicas: &three,
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: serveLabels},
				Spec:       goodPod(),
			},
		},
	}
	objs := []runtime.Object{d}
	wls := workloads(objs)

	pdb := func(sel map[string]string) *policyv1.PodDisruptionBudget {
		return &policyv1.PodDisruptionBudget{Spec: policyv1.PodDisruptionBudgetSpec{
			Selector: &metav1.LabelSelector{MatchLabels: sel},
		}}
	}
	if p := pdbProblems(pdb(serveLabels), wls); len(p) != 0 {
		t.Errorf("matching PDB: %v", p)
	}
	if p := pdbProblems(pdb(map[string]string{"app.kubernetes.io/component": "srv"}),
		wls); !anyContains(p, "selects []") {
		t.Errorf("mismatched PDB: problems %v, want it to select nothing", p)
	}
	if p := pdbProblems(pdb(nil), wls); !anyContains(p, "every pod") {
		t.Errorf("empty PDB selector: problems %v", p)
	}

	hpa := func(target string, lo, hi int32, metrics ...autoscalingv2.MetricSpec) []string {
		h := &autoscalingv2.HorizontalPodAutoscaler{Spec: autoscalingv2.
			HorizontalPodAutoscalerSpec{
			ScaleTargetRef: autoscalingv2.CrossVersionObjectReference{
				APIVersion: "apps/v1", Kind: "Deployment", Name: target,
			},
			MinReplicas: &lo, MaxReplicas: hi, Metrics: metrics,
		}}
		return hpaProblems(h, objs)
	}
	cpu := autoscalingv2.MetricSpec{Type: autoscalingv2.ResourceMetricSourceType,
		Resource: &autoscalingv2.ResourceMetricSource{Name: corev1.ResourceCPU}}
	pods := autoscalingv2.MetricSpec{Type: autoscalingv2.PodsMetricSourceType}
	if p := hpa("hydrocast-serve", 3, 10, cpu, pods); len(p) != 0 {
		t.Errorf("good HPA: %v", p)
	}
	hpaCases := []struct {
		name string
		got  []string
		want string
	}{
		{"missing target", hpa("hydrocast-srv", 3, 10, cpu, pods), "not rendered"},
		{"no cpu", hpa("hydrocast-serve", 3, 10, pods), "CPU"},
		{"no custom metric", hpa("hydrocast-serve", 3, 10, cpu), "custom"},
		{"replicas outside range", hpa("hydrocast-serve", 4, 10, cpu, pods), "outside"},
	}
	for _, c := range hpaCases {
		if !anyContains(c.got, c.want) {
			t.Errorf("%s: problems %v, want one about %q", c.name, c.got, c.want)
		}
	}

	svc := &corev1.Service{Spec: corev1.ServiceSpec{
		Selector: serveLabels,
		Ports:    []corev1.ServicePort{{Name: "grpc"}},
	}}
	svc.Spec.Ports[0].TargetPort.StrVal = "grpc"
	if p := serviceProblems(svc, wls); len(p) != 0 {
		t.Errorf("good Service: %v", p)
	}
	svc.Spec.Ports[0].TargetPort.StrVal = "grcp"
	if p := serviceProblems(svc, wls); !anyContains(p, `"grcp"`) {
		t.Errorf("misnamed target port: problems %v", p)
	}

	d.Spec.Template.Spec.Volumes = []corev1.Volume{{Name: "config",
		VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{
			LocalObjectReference: corev1.LocalObjectReference{Name: "missing"},
		}}}}
	if p := referenceProblems(objs); !anyContains(p, "ConfigMap/missing") {
		t.Errorf("dangling ConfigMap: problems %v", p)
	}
}

func anyContains(problems []string, want string) bool {
	for _, p := range problems {
		if strings.Contains(p, want) {
			return true
		}
	}
	return false
}
