// Package errwrap builds the errors of one layer (package) of stowage so
// that the layer's prefix appears once, at the front: a package wraps its
// own errors and sentinels freely, and "gc: probe: gc: root set is empty"
// reads "gc: probe: root set is empty". Other layers' prefixes stay, so a
// message reads outside in, one layer at a time: "session: prepare
// attachment refs: manifest: prepare commit: invalid id: ...". The error
// chain is untouched: errors.Is and errors.As see every wrapped error.
package errwrap

import (
	"fmt"
	"strings"
)

// Errorf is fmt.Errorf (with %w) for layer: the message is "layer: " and
// the formatted text, with every other "layer: " in it removed.
func Errorf(layer, format string, args ...any) error {
	return &layered{prefix: layer + ": ", err: fmt.Errorf(format, args...)}
}

// layered is an error of one layer.
type layered struct {
	prefix string
	err    error
}

func (e *layered) Error() string {
	return e.prefix + strings.ReplaceAll(e.err.Error(), e.prefix, "")
}

func (e *layered) Unwrap() error { return e.err }
