//go:build !unix

package upload

import "errors"

// limitMemory is not available off Unix, where a trial child would run unbounded.
func limitMemory(int64) error {
	return errors.New("memory limits need a Unix system")
}
