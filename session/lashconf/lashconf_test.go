package lashconf_test

import (
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stowage-dev/stowage/internal/testenv"
	"github.com/stowage-dev/stowage/objstore"
	"github.com/stowage-dev/stowage/objstore/fsstore"
	"github.com/stowage-dev/stowage/objstore/memstore"
	"github.com/stowage-dev/stowage/objstore/openurl"
	"github.com/stowage-dev/stowage/session/lashconf"
)

func TestLashMemstore(t *testing.T) {
	lashconf.Run(t, lashconf.Harness{Open: func(t testing.TB, now func() time.Time) objstore.Store {
		return memstore.New(&memstore.Options{Clock: now})
	}})
}

func TestLashFsstore(t *testing.T) {
	lashconf.Run(t, lashconf.Harness{Open: func(t testing.TB, now func() time.Time) objstore.Store {
		st, err := fsstore.Open(t.TempDir(), &fsstore.Options{Clock: now})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		return st
	}})
}

// TestLashS3 runs the suite through the composed stack (openurl: s3store or
// miniostore, retry, metrics, prefix) against each local server, each case
// under a fresh prefix.
func TestLashS3(t *testing.T) {
	testenv.ForEachServer(t, func(t *testing.T, srv testenv.Server) {
		t.Setenv("AWS_ACCESS_KEY_ID", srv.AccessKey)
		t.Setenv("AWS_SECRET_ACCESS_KEY", srv.SecretKey)
		t.Setenv("AWS_SESSION_TOKEN", "")
		t.Setenv("AWS_PROFILE", "")
		t.Setenv("AWS_CONFIG_FILE", t.TempDir()+"/none")
		t.Setenv("AWS_SHARED_CREDENTIALS_FILE", t.TempDir()+"/none")
		t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
		for _, client := range []string{"s3store", "miniostore"} {
			t.Run(client, func(t *testing.T) {
				lashconf.Run(t, lashconf.Harness{Open: func(t testing.TB, now func() time.Time) objstore.Store {
					prefix := strings.TrimSuffix(testenv.UniquePrefix(t), "/")
					var raw string
					if client == "s3store" {
						q := url.Values{"endpoint": {srv.Endpoint}, "region": {srv.Region}, "quirks": {srv.Name}}
						raw = "s3://" + srv.Bucket + "/" + prefix + "?" + q.Encode()
					} else {
						q := url.Values{"endpoint": {srv.Host()}, "region": {srv.Region}, "tls": {"false"}, "quirks": {srv.Name}}
						raw = "minio://" + srv.Bucket + "/" + prefix + "?" + q.Encode()
					}
					st, err := openurl.Open(t.Context(), raw, &openurl.Options{Clock: now})
					if err != nil {
						t.Fatalf("open %s with %s: %v", srv.Name, client, err)
					}
					t.Cleanup(func() { st.Close() })
					return st
				}})
			})
		}
	})
}
