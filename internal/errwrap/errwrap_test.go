package errwrap

import (
	"errors"
	"testing"
)

func TestOnePrefixPerLayer(t *testing.T) {
	sentinel := errors.New("gc: root set is empty")
	lower := errors.New("objstore: list: timeout")
	for _, c := range []struct {
		err  error
		want string
	}{
		{Errorf("gc", "probe: %w", sentinel), "gc: probe: root set is empty"},
		{Errorf("gc", "probe: %w", Errorf("gc", "shard %d: %w", 3, sentinel)), "gc: probe: shard 3: root set is empty"},
		{Errorf("gc", "probe: %w", lower), "gc: probe: objstore: list: timeout"},
		{Errorf("session", "commit: %w", Errorf("manifest", "prepare: %w", sentinel)), "session: commit: manifest: prepare: gc: root set is empty"},
	} {
		if got := c.err.Error(); got != c.want {
			t.Errorf("got %q, want %q", got, c.want)
		}
		if !errors.Is(c.err, sentinel) && !errors.Is(c.err, lower) {
			t.Errorf("%q no longer wraps its cause", c.err)
		}
	}
}
