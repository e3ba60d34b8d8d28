//go:build !unix

package fsstore

import (
	"fmt"
	"runtime"
)

// stripeLocks needs flock(2); on other systems Open fails.
type stripeLocks struct{}

func openLocks(string) (*stripeLocks, error) {
	return nil, fmt.Errorf("fsstore: not supported on %s: needs flock(2)", runtime.GOOS)
}

func (*stripeLocks) lock(string) (func(), error) { panic("unreachable") }

func (*stripeLocks) close() {}
