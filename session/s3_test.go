package session_test

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/stowage-dev/stowage/attach"
	"github.com/stowage-dev/stowage/internal/testenv/s3env"
	"github.com/stowage-dev/stowage/manifest"
	"github.com/stowage-dev/stowage/objstore"
	"github.com/stowage-dev/stowage/objstore/memstore"
	"github.com/stowage-dev/stowage/session"
	"github.com/stowage-dev/stowage/session/sessiontest"
)

// TestConformanceRealManifest runs the suite with the real attachment
// manifest (and its deletion fence) instead of the recording stub.
func TestConformanceRealManifest(t *testing.T) {
	sessiontest.Run(t, sessiontest.Harness{
		New: func(t testing.TB, now func() time.Time) sessiontest.Env {
			st := memstore.New(&memstore.Options{Clock: now})
			return realManifestEnv(st, now)
		},
	})
}

// realManifestEnv wires the real manifest and attachment store on st.
func realManifestEnv(st objstore.Store, now func() time.Time) sessiontest.Env {
	m := manifest.New(st, &manifest.Options{Now: now, Turns: session.TurnReceipts{Store: st}})
	put := func(ctx context.Context, sid string, owner manifest.Owner, data []byte) (string, error) {
		a, err := attach.New(m, sid, nil)
		if err != nil {
			return "", err
		}
		ref, err := a.Put(ctx, bytes.NewReader(data), attach.PutOptions{Owner: owner})
		return ref.ID, err
	}
	return sessiontest.Env{Store: st, Manifest: m, Hook: m, PutAttachment: put}
}

// TestConformanceS3 runs the suite through the whole composed stack
// (openurl: s3store or miniostore, retry, metrics, prefix) against each
// local server, each test under a fresh prefix.
func TestConformanceS3(t *testing.T) {
	s3env.ForEachClient(t, func(t *testing.T, open s3env.Open) {
		sessiontest.Run(t, sessiontest.Harness{
			New: func(t testing.TB, now func() time.Time) sessiontest.Env {
				return realManifestEnv(open(t, now), now)
			},
		})
	})
}
