//go:build !unix

package devpostgres

import "os"

// tryLock takes no lock where flock(2) is not available: two processes must not share a directory.
func tryLock(*os.File) error { return nil }
