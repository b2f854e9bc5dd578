//go:build !linux

package upload

import "syscall"

// childAttributes asks for nothing special where the kernel cannot tie a child's
// life to its parent's.
func childAttributes() *syscall.SysProcAttr {
	return nil
}
