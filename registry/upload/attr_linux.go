package upload

import "syscall"

// childAttributes makes the kernel kill a trial child when the registry process
// that started it dies, so that no orphan keeps running a hostile model.
func childAttributes() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
