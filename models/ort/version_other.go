//go:build !unix

package ort

import "errors"

// libraryVersion is only implemented where the library is loaded with dlopen.
func libraryVersion(string) (string, error) {
	return "", errors.New("loading onnx runtime is only supported on unix systems")
}
