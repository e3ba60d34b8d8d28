//go:build !unix

package bench

import "errors"

type fileRaw struct{ Raw }

func newFileRaw(string) (*fileRaw, error) {
	return nil, errors.New("bench: the os baseline needs flock(2)")
}
