package all

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/stowage-dev/stowage/internal/testenv"
	"github.com/stowage-dev/stowage/objstore"
	"github.com/stowage-dev/stowage/objstore/openurl"
	"github.com/stowage-dev/stowage/objstore/retry"
)

// badCredentials are the two ways an operator gets credentials wrong.
var badCredentials = []struct {
	name   string
	keyID  func(srv testenv.Server) string
	secret func(srv testenv.Server) string
}{
	{"wrong-secret", func(srv testenv.Server) string { return srv.AccessKey }, func(testenv.Server) string { return "wrong-secret-0123456789" }},
	{"unknown-key-id", func(testenv.Server) string { return "nosuchuser" }, func(srv testenv.Server) string { return srv.SecretKey }},
}

// wantCredentials fails t unless err says the credentials were refused:
// ErrCredentials, still ErrPermission (exit 2), and a message that names
// the server's code and no policy.
func wantCredentials(t *testing.T, what string, err error) {
	t.Helper()
	if !errors.Is(err, objstore.ErrCredentials) || !errors.Is(err, objstore.ErrPermission) {
		t.Errorf("%s: %v, want ErrCredentials (and ErrPermission)", what, err)
		return
	}
	var ce *objstore.CredentialsError
	if !errors.As(err, &ce) || ce.Code == "" || !strings.Contains(err.Error(), "refused the credentials ("+ce.Code+")") {
		t.Errorf("%s: %v, want the message to name the refused credentials and the code", what, err)
	}
	if strings.Contains(err.Error(), "policy must allow") {
		t.Errorf("%s: %v: blames the policy", what, err)
	}
}

// TestBadCredentialsRefused: on each local server, through each SDK, a
// wrong secret and an unknown access key id are reported as refused
// credentials, not as a missing grant: on open (read-write and read-only,
// where the probe's first request is a HEAD) and on GET, PUT and LIST. A
// HEAD alone is as precise as the server lets it be (wantHead).
func TestBadCredentialsRefused(t *testing.T) {
	forEachServerAndSDK(t, func(t *testing.T, srv testenv.Server, scheme string) {
		for _, bad := range badCredentials {
			t.Run(bad.name, func(t *testing.T) {
				isolateAWSEnv(t, bad.keyID(srv), bad.secret(srv))
				ctx := t.Context()
				raw := storeURL(scheme, srv, testenv.UniquePrefix(t))
				opts := openurl.Options{Retry: retry.Options{Sleep: noSleep}}
				for _, readOnly := range []bool{false, true} {
					opts.ReadOnly = readOnly
					_, err := openurl.Open(ctx, raw, &opts)
					wantCredentials(t, "open", err)
				}
				opts.ReadOnly, opts.SkipProbe = false, true
				s, err := openurl.Open(ctx, raw, &opts)
				if err != nil {
					t.Fatalf("open without probe: %v", err)
				}
				defer s.Close()
				_, _, err = s.Get(ctx, "k", nil)
				wantCredentials(t, "get", err)
				_, err = s.Put(ctx, "k", []byte("v"), &objstore.PutOptions{IfNoneMatch: true})
				wantCredentials(t, "put", err)
				for _, err := range s.List(ctx, "", nil) {
					wantCredentials(t, "list", err)
					break
				}
				wantHead(t, srv.Name, bad.name, headErr(ctx, s))
			})
		}
	})
}

func headErr(ctx context.Context, s objstore.Store) error {
	_, err := s.Head(ctx, "k")
	return err
}

// wantHead checks a HEAD with bad credentials. HEAD responses have no body:
// MinIO still names the code (X-Minio-Error-Code); versitygw answers an
// unknown key id with a bare 404, which reads as a missing object (the
// probe's LIST on open names the credentials instead); versitygw's wrong
// secret and rclone's both are a bare 403: credentials or policy, and the
// message says both.
func wantHead(t *testing.T, server, bad string, err error) {
	t.Helper()
	switch {
	case server == testenv.MinIO:
		wantCredentials(t, "head", err)
	case server == testenv.RClone || bad == "wrong-secret":
		var ae *objstore.AccessError
		if !errors.Is(err, objstore.ErrPermission) || !errors.As(err, &ae) || !ae.Uncoded ||
			!strings.Contains(err.Error(), "the credentials are wrong, or the policy must allow s3:GetObject") {
			t.Errorf("head: %v, want an uncoded refusal naming credentials or policy", err)
		}
	default:
		if !errors.Is(err, objstore.ErrNotExist) {
			t.Errorf("head: %v, want ErrNotExist (versitygw's bare 404); if this changed, update docs/objstore.md", err)
		}
	}
}
