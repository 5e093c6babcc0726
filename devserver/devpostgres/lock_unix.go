//go:build unix

package devpostgres

import (
	"os"
	"syscall"
)

// tryLock takes an exclusive lock on f without waiting; the kernel releases it when the process ends.
func tryLock(f *os.File) error {
	return syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
}
