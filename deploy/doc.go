// Package deploy holds what runs hydrocast beyond one machine: the container image
// (Dockerfile) and the Kubernetes manifests (k8s/, a kustomize base with dev and prod
// overlays). It has no code of its own; its tests render every overlay with kustomize,
// decode each object strictly into the Kubernetes API types, so that a misspelt field
// fails the build, and check the invariants the service relies on. The capacity model
// that sizes the prod overlay is the subpackage capacity.
//
// The tests are the only importers of the Kubernetes and BuildKit modules, which keeps
// them out of the hydrocast binary.
package deploy
