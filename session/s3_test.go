package session_test

import (
	"bytes"
	"context"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stowage-dev/stowage/attach"
	"github.com/stowage-dev/stowage/internal/testenv"
	"github.com/stowage-dev/stowage/manifest"
	"github.com/stowage-dev/stowage/objstore"
	"github.com/stowage-dev/stowage/objstore/memstore"
	"github.com/stowage-dev/stowage/objstore/openurl"
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
	testenv.ForEachServer(t, func(t *testing.T, srv testenv.Server) {
		// The SDK reads credentials from the environment only.
		t.Setenv("AWS_ACCESS_KEY_ID", srv.AccessKey)
		t.Setenv("AWS_SECRET_ACCESS_KEY", srv.SecretKey)
		t.Setenv("AWS_SESSION_TOKEN", "")
		t.Setenv("AWS_PROFILE", "")
		t.Setenv("AWS_CONFIG_FILE", t.TempDir()+"/none")
		t.Setenv("AWS_SHARED_CREDENTIALS_FILE", t.TempDir()+"/none")
		t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
		for _, client := range []string{"s3store", "miniostore"} {
			t.Run(client, func(t *testing.T) {
				sessiontest.Run(t, sessiontest.Harness{
					New: func(t testing.TB, now func() time.Time) sessiontest.Env {
						prefix := strings.TrimSuffix(testenv.UniquePrefix(t), "/")
						var raw string
						if client == "s3store" {
							q := url.Values{"endpoint": {srv.Endpoint}, "region": {srv.Region}, "quirks": {srv.Name}}
							raw = "s3://" + srv.Bucket + "/" + prefix + "?" + q.Encode()
						} else {
							q := url.Values{"endpoint": {srv.Host()}, "region": {srv.Region}, "tls": {"false"}, "quirks": {srv.Name}}
							raw = "minio://" + srv.Bucket + "/" + prefix + "?" + q.Encode()
						}
						st, err := openurl.Open(t.Context(), raw, nil)
						if err != nil {
							t.Fatalf("open %s with %s: %v", srv.Name, client, err)
						}
						t.Cleanup(func() { st.Close() })
						return realManifestEnv(st, now)
					},
				})
			})
		}
	})
}
