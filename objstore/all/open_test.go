package all

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stowage-dev/stowage/objstore"
	"github.com/stowage-dev/stowage/objstore/openurl"
	"github.com/stowage-dev/stowage/objstore/retry"
)

func noSleep(ctx context.Context, d time.Duration) error { return ctx.Err() }

// TestOpenS3ProbeFailure opens an s3 URL against a loopback server that
// denies everything: Open fails with ErrPermission after two requests (the
// HEAD's 403 has no code, so the probe lists to learn whether the
// credentials were refused), and no error repeats the secret.
func TestOpenS3ProbeFailure(t *testing.T) {
	var requests atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/xml")
		w.WriteHeader(http.StatusForbidden)
		if r.Method != http.MethodHead {
			io.WriteString(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>`)
		}
	}))
	defer srv.Close()
	const secret = "not-a-real-secret-0123456789"
	isolateAWSEnv(t, "AKIDEXAMPLE", secret)
	_, err := openurl.Open(t.Context(), "s3://bucket/p?endpoint="+srv.URL+"&region=us-east-1", &openurl.Options{Retry: retry.Options{Sleep: noSleep}})
	if !errors.Is(err, objstore.ErrPermission) {
		t.Fatalf("Open = %v, want ErrPermission", err)
	}
	if strings.Contains(err.Error(), secret) {
		t.Errorf("error repeats the secret: %v", err)
	}
	if n := requests.Load(); n != 2 {
		t.Errorf("%d requests, want 2 (the HEAD's bare 403, a LIST to learn why; neither retried)", n)
	}
	if errors.Is(err, objstore.ErrCredentials) || !strings.Contains(err.Error(), "the credentials are wrong, or the policy must allow s3:GetObject") {
		t.Errorf("Open = %v, want the HEAD's refusal naming both causes (the LIST said AccessDenied)", err)
	}
}

// isolateAWSEnv points the AWS SDK's standard chain at static keys only:
// no shared files, no instance metadata (which would leave loopback).
func isolateAWSEnv(t *testing.T, accessKey, secretKey string) {
	t.Setenv("AWS_ACCESS_KEY_ID", accessKey)
	t.Setenv("AWS_SECRET_ACCESS_KEY", secretKey)
	t.Setenv("AWS_SESSION_TOKEN", "")
	t.Setenv("AWS_PROFILE", "")
	t.Setenv("AWS_CONFIG_FILE", t.TempDir()+"/none")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", t.TempDir()+"/none")
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	t.Setenv("AWS_ENDPOINT_URL", "")
	t.Setenv("AWS_ENDPOINT_URL_S3", "")
}

func TestS3Config(t *testing.T) {
	for _, c := range []struct {
		raw       string
		endpoint  string
		quirks    string
		pathStyle bool
		wantErr   bool
	}{
		{"s3://bucket", "", "aws", false, false},
		{"s3://bucket?endpoint=127.0.0.1:9000&tls=false", "http://127.0.0.1:9000", "generic", true, false},
		{"s3://bucket?endpoint=s3.example.com", "https://s3.example.com", "generic", true, false},
		{"s3://bucket?endpoint=http://127.0.0.1:7070/&quirks=versitygw", "http://127.0.0.1:7070", "versitygw", true, false},
		{"s3://bucket?endpoint=http://127.0.0.1:7070&path_style=false", "http://127.0.0.1:7070", "generic", false, false},
		{"s3://bucket?path_style=true", "", "aws", true, false},
		{"minio://bucket?endpoint=127.0.0.1:9000&tls=false", "http://127.0.0.1:9000", "minio", true, false},
	} {
		spec, err := openurl.ParseURL(c.raw)
		if err != nil {
			t.Fatalf("openurl.ParseURL(%q): %v", c.raw, err)
		}
		cfg, err := s3Config(spec, &openurl.Options{})
		if err != nil {
			t.Errorf("s3Config(%q): %v", c.raw, err)
			continue
		}
		if cfg.Endpoint != c.endpoint || cfg.Quirks.Name != c.quirks || cfg.UsePathStyle != c.pathStyle || cfg.Quirks.PathStyle != c.pathStyle || cfg.Bucket != "bucket" {
			t.Errorf("s3Config(%q) = endpoint %q quirks %q path style %v/%v; want %q %q %v",
				c.raw, cfg.Endpoint, cfg.Quirks.Name, cfg.UsePathStyle, cfg.Quirks.PathStyle, c.endpoint, c.quirks, c.pathStyle)
		}
	}
}

func TestMinioConfig(t *testing.T) {
	for _, c := range []struct {
		raw      string
		endpoint string
		secure   bool
		quirks   string
	}{
		{"minio://bucket?endpoint=127.0.0.1:9000&tls=false", "127.0.0.1:9000", false, "minio"},
		{"minio://bucket?endpoint=https://s3.example.com", "s3.example.com", true, "minio"},
		{"minio://bucket?endpoint=http://127.0.0.1:7070&quirks=versitygw", "127.0.0.1:7070", false, "versitygw"},
	} {
		spec, err := openurl.ParseURL(c.raw)
		if err != nil {
			t.Fatalf("openurl.ParseURL(%q): %v", c.raw, err)
		}
		cfg, err := minioConfig(spec, &openurl.Options{})
		if err != nil || cfg.Endpoint != c.endpoint || cfg.Secure != c.secure || cfg.Quirks.Name != c.quirks || cfg.Bucket != "bucket" {
			t.Errorf("minioConfig(%q) = %+v, %v; want endpoint %q secure %v quirks %q", c.raw, cfg, err, c.endpoint, c.secure, c.quirks)
		}
	}
	spec, _ := openurl.ParseURL("minio://bucket")
	if _, err := minioConfig(spec, &openurl.Options{}); err == nil || !strings.Contains(err.Error(), "endpoint") {
		t.Errorf("minioConfig without an endpoint = %v", err)
	}
}
