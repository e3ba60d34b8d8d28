package session

import "sync/atomic"

// stepHook, when set (by this package's tests only), is told of the steps
// of the loops whose length a caller's input decides, so that a test checks
// their complexity by counting the work done rather than by timing it.
var stepHook atomic.Pointer[func(kind string, n int)]

// step reports n steps of the loop kind to stepHook, if set.
func step(kind string, n int) {
	if f := stepHook.Load(); f != nil {
		(*f)(kind, n)
	}
}
