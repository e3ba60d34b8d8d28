// Package s3env opens object stores on the local S3 servers for the
// conformance suites: every configured server (testenv.ForEachServer),
// through both S3 clients (s3store and miniostore), through the composed
// stack of openurl (retry, metrics, prefix), each store under a fresh
// prefix of the shared bucket.
package s3env

import (
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stowage-dev/stowage/internal/testenv"
	"github.com/stowage-dev/stowage/objstore"
	_ "github.com/stowage-dev/stowage/objstore/all" // s3:// and minio:// URLs
	"github.com/stowage-dev/stowage/objstore/openurl"
)

// Clients are the S3 clients each server is tested through.
var Clients = []string{"s3store", "miniostore"}

// Open opens a fresh prefix of a server's bucket; now is the clock of the
// caller (used by the local parts of the stack).
type Open func(t testing.TB, now func() time.Time) objstore.Store

// ForEachClient runs f as the subtest <server>/<client> for every server
// and client, with the server's credentials in the environment (the SDK
// reads them only from there).
func ForEachClient(t *testing.T, f func(t *testing.T, open Open)) {
	testenv.ForEachServer(t, func(t *testing.T, srv testenv.Server) {
		Env(t, srv)
		for _, client := range Clients {
			t.Run(client, func(t *testing.T) {
				f(t, func(t testing.TB, now func() time.Time) objstore.Store {
					raw := URL(srv, client, strings.TrimSuffix(testenv.UniquePrefix(t), "/"))
					st, err := openurl.Open(t.Context(), raw, &openurl.Options{Clock: now})
					if err != nil {
						t.Fatalf("open %s with %s: %v", srv.Name, client, err)
					}
					t.Cleanup(func() { st.Close() })
					return st
				})
			})
		}
	})
}

// Env puts srv's credentials, and only them, in the environment of t (the
// SDK reads them only from there).
func Env(t testing.TB, srv testenv.Server) { UseCredentials(t, srv.AccessKey, srv.SecretKey) }

// UseCredentials sets the standard AWS variables to the key pair and
// clears the rest of the SDK's credential chain and endpoint variables
// (session token, profile, shared files, instance metadata), as a user's
// shell would. The variables are restored when t ends.
func UseCredentials(t testing.TB, accessKey, secretKey string) {
	for _, k := range []string{"AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3"} {
		t.Setenv(k, "")
	}
	t.Setenv("AWS_ACCESS_KEY_ID", accessKey)
	t.Setenv("AWS_SECRET_ACCESS_KEY", secretKey)
	t.Setenv("AWS_CONFIG_FILE", t.TempDir()+"/none")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", t.TempDir()+"/none")
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
}

// PrefixURL is the s3:// URL (s3store) of a fresh prefix of srv's bucket,
// for a test that opens the store itself.
func PrefixURL(t testing.TB, srv testenv.Server) string {
	return URL(srv, "s3store", strings.TrimSuffix(testenv.UniquePrefix(t), "/"))
}

// URL is the store URL of prefix in srv's bucket through client.
func URL(srv testenv.Server, client, prefix string) string {
	if client == "s3store" {
		q := url.Values{"endpoint": {srv.Endpoint}, "region": {srv.Region}, "quirks": {srv.Name}}
		return "s3://" + srv.Bucket + "/" + prefix + "?" + q.Encode()
	}
	q := url.Values{"endpoint": {srv.Host()}, "region": {srv.Region}, "tls": {"false"}, "quirks": {srv.Name}}
	return "minio://" + srv.Bucket + "/" + prefix + "?" + q.Encode()
}
