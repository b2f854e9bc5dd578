//go:build unix

package upload

import "syscall"

// limitMemory caps this process's address space at n bytes, so that allocations
// past it fail instead of exhausting the machine.
func limitMemory(n int64) error {
	return syscall.Setrlimit(syscall.RLIMIT_AS, &syscall.Rlimit{Cur: uint64(n), Max: uint64(n)})
}
