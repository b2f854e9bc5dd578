// Package inference is hydrocast's serving side: it loads the production versions of
// the three model families from the registry into ONNX Runtime sessions, reads athletes'
// feature vectors from the feature store, runs the models and turns their outputs into
// assessments with alerts and fluid guidance, and serves all of it over gRPC.
package inference
