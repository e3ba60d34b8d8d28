// Package clitest holds the fixtures the two commands' tests (cmd/stowage,
// cmd/sweeper) share: a store opened on a session and its attachments, and
// the secrets no output may contain.
package clitest

import (
	"testing"

	"github.com/stowage-dev/stowage"
	"github.com/stowage-dev/stowage/attach"
	"github.com/stowage-dev/stowage/internal/testenv"
	"github.com/stowage-dev/stowage/session"
)

// FakeSecret is a distinctive secret that no output may contain.
const FakeSecret = "stowage-FAKE-secret-7c1d9e4b-never-print"

// Session opens the store at storeURL with cfg and returns it with the
// handle and the attachment store of session sid. The store is closed
// when t ends.
func Session(t *testing.T, storeURL string, cfg stowage.Config, sid string) (*stowage.Store, *session.Store, *attach.Store) {
	t.Helper()
	st, err := stowage.Open(t.Context(), storeURL, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	s, err := st.Session(sid)
	if err != nil {
		t.Fatal(err)
	}
	a, err := attach.New(st.Manifest(), sid, nil)
	if err != nil {
		t.Fatal(err)
	}
	return st, s, a
}

// SecretKey returns srv's secret key, the needle a test looks for in the
// commands' output, after checking it is long enough to be distinctive.
func SecretKey(t *testing.T, srv testenv.Server) string {
	t.Helper()
	if len(srv.SecretKey) < 8 {
		t.Fatalf("the server's secret key %d bytes long is no distinctive needle", len(srv.SecretKey))
	}
	return srv.SecretKey
}
