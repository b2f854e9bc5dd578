package deploy

import (
	"fmt"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
)

// This file holds the invariant checks. Each returns the problems it finds as sentences,
// so that checks_negative_test.go can show that every one of them fires.

// workload is a pod template and the object that owns it.
type workload struct {
	kind, name string
	labels     map[string]string // the pod template's labels
	spec       corev1.PodSpec
	replicas   *int32 // nil for CronJobs
}

// workloads lists the pod templates of Deployments, StatefulSets and CronJobs.
func workloads(objs []runtime.Object) []workload {
	var out []workload
	for _, o := range objs {
		switch v := o.(type) {
		case *appsv1.Deployment:
			out = append(out, workload{"Deployment", v.Name, v.Spec.Template.Labels,
				v.Spec.Template.Spec, v.Spec.Replicas})
		case *appsv1.StatefulSet:
			out = append(out, workload{"StatefulSet", v.Name, v.Spec.Template.Labels,
				v.Spec.Template.Spec, v.Spec.Replicas})
		case *batchv1.CronJob:
			tmpl := v.Spec.JobTemplate.Spec.Template
			out = append(out, workload{"CronJob", v.Name, tmpl.Labels, tmpl.Spec, nil})
		}
	}
	return out
}

func metaOf(o runtime.Object) metav1.Object {
	m, err := meta.Accessor(o)
	if err != nil {
		panic(fmt.Sprintf("%T has no object metadata: %v", o, err))
	}
	return m
}

// podProblems checks that every container is sized, pinned and unprivileged.
func podProblems(spec corev1.PodSpec) []string {
	var out []string
	containers := append(append([]corev1.Container{}, spec.InitContainers...),
		spec.Containers...)
	for _, c := range containers {
		for _, p := range containerProblems(spec.SecurityContext, c) {
			out = append(out, "container "+c.Name+": "+p)
		}
	}
	if !seccompDefault(spec.SecurityContext) {
		out = append(out, "pod does not use the RuntimeDefault seccomp profile")
	}
	return out
}

func containerProblems(pod *corev1.PodSecurityContext, c corev1.Container) []string {
	var out []string
	if p := imageProblem(c.Image); p != "" {
		out = append(out, p)
	}

	req, lim := c.Resources.Requests, c.Resources.Limits
	if req.Cpu().IsZero() || req.Memory().IsZero() {
		out = append(out, "no CPU or memory request")
	}
	if lim.Memory().IsZero() {
		out = append(out, "no memory limit")
	} else if req.Memory().Cmp(*lim.Memory()) > 0 {
		out = append(out, "memory request above its limit")
	}

	// A container setting overrides the pod's.
	nonRoot, user := false, int64(-1)
	if pod != nil {
		if pod.RunAsNonRoot != nil {
			nonRoot = *pod.RunAsNonRoot
		}
		if pod.RunAsUser != nil {
			user = *pod.RunAsUser
		}
	}
	sc := c.SecurityContext
	if sc != nil && sc.RunAsNonRoot != nil {
		nonRoot = *sc.RunAsNonRoot
	}
	if sc != nil && sc.RunAsUser != nil {
		user = *sc.RunAsUser
	}
	if !nonRoot || user <= 0 {
		out = append(out, fmt.Sprintf("may run as root (runAsNonRoot %v, user %d)",
			nonRoot, user))
	}

	if sc == nil {
		return append(out, "no container securityContext")
	}
	if sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem {
		out = append(out, "root filesystem is writable")
	}
	if sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
		out = append(out, "privilege escalation is allowed")
	}
	if sc.Capabilities == nil || !dropsAll(sc.Capabilities.Drop) {
		out = append(out, "capabilities are not all dropped")
	}
	return out
}

// imageProblem refuses images without a tag or digest and the latest tag, which make
// a rollout depend on whatever the registry holds that day.
func imageProblem(image string) string {
	if strings.Contains(image, "@sha256:") {
		return ""
	}
	name := image[strings.LastIndex(image, "/")+1:]
	i := strings.LastIndex(name, ":")
	if i < 0 || i == len(name)-1 {
		return "image " + image + " has no tag"
	}
	if name[i+1:] == "latest" {
		return "image " + image + " uses the latest tag"
	}
	return ""
}

func dropsAll(caps []corev1.Capability) bool {
	for _, c := range caps {
		if c == "ALL" {
			return true
		}
	}
	return false
}

func seccompDefault(pod *corev1.PodSecurityContext) bool {
	return pod != nil && pod.SeccompProfile != nil &&
		pod.SeccompProfile.Type == corev1.SeccompProfileTypeRuntimeDefault
}

// probeProblems checks that a server's kubelet probes ask gRPC health on the port the
// container names grpc.
func probeProblems(spec corev1.PodSpec, needStartup bool) []string {
	var out []string
	for _, c := range spec.Containers {
		port := namedPort(c, "grpc")
		if port == 0 {
			out = append(out, "container "+c.Name+" has no port named grpc")
			continue
		}
		probes := map[string]*corev1.Probe{
			"readiness": c.ReadinessProbe, "liveness": c.LivenessProbe,
		}
		if needStartup {
			probes["startup"] = c.StartupProbe
		}
		for kind, p := range probes {
			switch {
			case p == nil:
				out = append(out, fmt.Sprintf("container %s has no %s probe", c.Name, kind))
			case p.GRPC == nil:
				out = append(out, fmt.Sprintf("container %s: %s probe is not gRPC",
					c.Name, kind))
			case p.GRPC.Port != port:
				out = append(out, fmt.Sprintf("container %s: %s probe asks port %d, "+
					"grpc is %d", c.Name, kind, p.GRPC.Port, port))
			}
		}
	}
	return out
}

func namedPort(c corev1.Container, name string) int32 {
	for _, p := range c.Ports {
		if p.Name == name {
			return p.ContainerPort
		}
	}
	return 0
}

// hpaProblems checks that an autoscaler scales a rendered Deployment on CPU and on at
// least one metric of the workload's own.
func hpaProblems(h *autoscalingv2.HorizontalPodAutoscaler, objs []runtime.Object) []string {
	var out []string
	ref := h.Spec.ScaleTargetRef
	var target *appsv1.Deployment
	if ref.APIVersion == "apps/v1" && ref.Kind == "Deployment" {
		target = deployment(objs, ref.Name)
	}
	if target == nil {
		out = append(out, fmt.Sprintf("targets %s %s/%s, which is not rendered",
			ref.APIVersion, ref.Kind, ref.Name))
	}

	var cpu, custom bool
	for _, m := range h.Spec.Metrics {
		switch m.Type {
		case autoscalingv2.ResourceMetricSourceType:
			cpu = cpu || m.Resource.Name == corev1.ResourceCPU
		case autoscalingv2.PodsMetricSourceType, autoscalingv2.ExternalMetricSourceType,
			autoscalingv2.ObjectMetricSourceType:
			custom = true
		}
	}
	if !cpu {
		out = append(out, "does not scale on CPU")
	}
	if !custom {
		out = append(out, "has no custom or external metric")
	}

	low := int32(1)
	if h.Spec.MinReplicas != nil {
		low = *h.Spec.MinReplicas
	}
	if low > h.Spec.MaxReplicas {
		out = append(out, fmt.Sprintf("minReplicas %d above maxReplicas %d", low,
			h.Spec.MaxReplicas))
	}
	if target != nil && target.Spec.Replicas != nil {
		if r := *target.Spec.Replicas; r < low || r > h.Spec.MaxReplicas {
			out = append(out, fmt.Sprintf("Deployment asks %d replicas, outside [%d, %d]",
				r, low, h.Spec.MaxReplicas))
		}
	}
	return out
}

func deployment(objs []runtime.Object, name string) *appsv1.Deployment {
	for _, o := range objs {
		if d, ok := o.(*appsv1.Deployment); ok && d.Name == name {
			return d
		}
	}
	return nil
}

func autoscalerFor(objs []runtime.Object, name string) *autoscalingv2.HorizontalPodAutoscaler {
	for _, o := range objs {
		h, ok := o.(*autoscalingv2.HorizontalPodAutoscaler)
		if ok && h.Spec.ScaleTargetRef.Kind == "Deployment" &&
			h.Spec.ScaleTargetRef.Name == name {
			return h
		}
	}
	return nil
}

func spreadsOver(spec corev1.PodSpec, key string) bool {
	for _, c := range spec.TopologySpreadConstraints {
		if c.TopologyKey == key {
			return true
		}
	}
	return false
}

// selected returns the workloads whose pod labels the selector matches.
func selected(sel labels.Selector, wls []workload) []workload {
	var out []workload
	for _, w := range wls {
		if sel.Matches(labels.Set(w.labels)) {
			out = append(out, w)
		}
	}
	return out
}

// pdbProblems checks that a budget covers the pods of exactly one Deployment.
func pdbProblems(pdb *policyv1.PodDisruptionBudget, wls []workload) []string {
	if pdb.Spec.Selector == nil || len(pdb.Spec.Selector.MatchLabels) == 0 &&
		len(pdb.Spec.Selector.MatchExpressions) == 0 {
		return []string{"selects every pod of the namespace"}
	}
	sel, err := metav1.LabelSelectorAsSelector(pdb.Spec.Selector)
	if err != nil {
		return []string{"selector: " + err.Error()}
	}
	got := selected(sel, wls)
	if len(got) != 1 || got[0].kind != "Deployment" {
		names := make([]string, len(got))
		for i, w := range got {
			names[i] = w.kind + "/" + w.name
		}
		return []string{fmt.Sprintf("selects %v, want the pods of one Deployment", names)}
	}
	return nil
}

// serviceProblems checks that a Service selects pods that expose its target ports.
func serviceProblems(svc *corev1.Service, wls []workload) []string {
	if len(svc.Spec.Selector) == 0 {
		return []string{"has no selector"}
	}
	got := selected(labels.SelectorFromSet(svc.Spec.Selector), wls)
	if len(got) == 0 {
		return []string{"selects no pods"}
	}
	var out []string
	for _, p := range svc.Spec.Ports {
		if p.TargetPort.StrVal == "" {
			continue
		}
		for _, w := range got {
			if !exposes(w.spec, p.TargetPort.StrVal) {
				out = append(out, fmt.Sprintf("port %s targets %q, which %s does not name",
					p.Name, p.TargetPort.StrVal, w.name))
			}
		}
	}
	return out
}

func exposes(spec corev1.PodSpec, port string) bool {
	for _, c := range spec.Containers {
		if namedPort(c, port) != 0 {
			return true
		}
	}
	return false
}

// referenceProblems checks that every ConfigMap, Secret and ServiceAccount a pod names
// is rendered, or is one of the objects made out of band.
func referenceProblems(objs []runtime.Object) []string {
	have := map[string]bool{}
	for _, o := range objs {
		kind := o.GetObjectKind().GroupVersionKind().Kind
		have[kind+"/"+metaOf(o).GetName()] = true
	}
	exists := func(id string) bool { return have[id] || externalObjects[id] }

	var out []string
	for _, w := range workloads(objs) {
		for _, id := range podReferences(w.spec) {
			if !exists(id) {
				out = append(out, fmt.Sprintf("%s/%s refers to %s, which is not rendered",
					w.kind, w.name, id))
			}
		}
	}
	return out
}

// podReferences lists the objects a pod spec names, as Kind/name.
func podReferences(spec corev1.PodSpec) []string {
	var out []string
	if spec.ServiceAccountName != "" {
		out = append(out, "ServiceAccount/"+spec.ServiceAccountName)
	}
	for _, v := range spec.Volumes {
		if v.ConfigMap != nil {
			out = append(out, "ConfigMap/"+v.ConfigMap.Name)
		}
		if v.Secret != nil {
			out = append(out, "Secret/"+v.Secret.SecretName)
		}
	}
	for _, c := range spec.Containers {
		for _, e := range c.Env {
			if e.ValueFrom == nil {
				continue
			}
			if r := e.ValueFrom.ConfigMapKeyRef; r != nil {
				out = append(out, "ConfigMap/"+r.Name)
			}
			if r := e.ValueFrom.SecretKeyRef; r != nil {
				out = append(out, "Secret/"+r.Name)
			}
		}
		for _, e := range c.EnvFrom {
			if e.ConfigMapRef != nil {
				out = append(out, "ConfigMap/"+e.ConfigMapRef.Name)
			}
			if e.SecretRef != nil {
				out = append(out, "Secret/"+e.SecretRef.Name)
			}
		}
	}
	return out
}

// secretKeyRefs lists the Secret keys a pod's containers read into their environment.
func secretKeyRefs(spec corev1.PodSpec) []corev1.SecretKeySelector {
	var out []corev1.SecretKeySelector
	for _, c := range spec.Containers {
		for _, e := range c.Env {
			if e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil {
				out = append(out, *e.ValueFrom.SecretKeyRef)
			}
		}
	}
	return out
}
