package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/stowage-dev/stowage"
	"github.com/stowage-dev/stowage/attach"
	"github.com/stowage-dev/stowage/internal/clitest"
	"github.com/stowage-dev/stowage/internal/testenv"
	"github.com/stowage-dev/stowage/internal/testenv/s3env"
	"github.com/stowage-dev/stowage/manifest"
	"github.com/stowage-dev/stowage/session"
)

// sweepFixture writes a committed session with an attachment, an
// uncommitted ownerless attachment and an orphan data object under
// storeURL, so a sweep with a zero grace period has work of every kind.
func sweepFixture(t *testing.T, storeURL string) {
	t.Helper()
	ctx := t.Context()
	st, s, a := clitest.Session(t, storeURL, stowage.Config{}, "s1")
	kept, err := a.Put(ctx, strings.NewReader("kept bytes"), attach.PutOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Put(ctx, strings.NewReader("dead intent bytes"), attach.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	_, err = s.CommitRuntimeState(ctx, session.RuntimeCommit{SessionID: "s1", CommittedAttachmentIDs: []string{kept.ID},
		Graph: session.GraphDelta{Kind: session.DeltaAppend, Leaf: "n0",
			Nodes: []session.NodeRecord{{NodeID: "n0", Kind: session.PayloadEvent, Event: []byte(`{}`)}}}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Objects().Put(ctx, manifest.DataKey(st.Manifest().NewUploadID()), []byte("orphan"), nil); err != nil {
		t.Fatal(err)
	}
}

// pushCapture is a stand-in Pushgateway that keeps every request it gets.
type pushCapture struct {
	mu   sync.Mutex
	seen bytes.Buffer
}

func (p *pushCapture) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	p.mu.Lock()
	p.seen.WriteString(r.Method + " " + r.URL.String() + "\n")
	for k, v := range r.Header {
		p.seen.WriteString(k + ": " + strings.Join(v, ",") + "\n")
	}
	p.seen.Write(body)
	p.mu.Unlock()
	w.WriteHeader(http.StatusOK)
}

func (p *pushCapture) String() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.seen.String()
}

// sweepNoSecret runs the sweeper in every output mode (debug logs as text
// and JSON, progress, the JSON report, a dry run, metrics to a textfile and
// to a Pushgateway) with environ as its environment and checks that secret
// is in no output, report or metric. opens says whether the store can be
// opened (with a wrong secret it cannot, and no metrics are written).
func sweepNoSecret(t *testing.T, environ map[string]string, storeURL, secret string, opens bool) {
	t.Helper()
	push := &pushCapture{}
	gw := httptest.NewServer(push)
	defer gw.Close()
	textfile := filepath.Join(t.TempDir(), "sweeper.prom")
	common := []string{"--store", storeURL, "--log-level", "debug", "--progress", "always", "--grace", "0s",
		"--metrics-textfile", textfile}
	for _, extra := range [][]string{
		{"--dry-run", "--json"},
		{"--log-format", "json", "--json"},
		{},
		{"--log-format", "json", "--pushgateway", gw.URL},
		{"--json", "--pushgateway", gw.URL},
	} {
		args := append(append([]string{}, common...), extra...)
		var out, errb bytes.Buffer
		code := run(context.Background(), args, func(k string) string { return environ[k] }, &out, &errb)
		prom, _ := os.ReadFile(textfile)
		for name, text := range map[string]string{"stdout": out.String(), "stderr": errb.String(), "metrics textfile": string(prom), "pushed metrics": push.String()} {
			if strings.Contains(text, secret) {
				t.Errorf("sweeper %q (exit %d) put the secret in its %s:\n%s", extra, code, name, text)
			}
		}
		if opens && len(prom) == 0 {
			t.Errorf("sweeper %q (exit %d) wrote no metrics: %s", extra, code, errb.String())
		}
	}
	if opens && !strings.Contains(push.String(), "stowage_sweeper_") {
		t.Errorf("nothing was pushed to the Pushgateway:\n%s", push.String())
	}
}

// TestSecretsNeverPrinted runs the sweeper with secrets in the environment
// (the process's, which the AWS chain reads, and the one given to run): on
// a file store with a fake secret, and on each local S3 server with its real
// secret key (and then a wrong one, which fails to sign).
func TestSecretsNeverPrinted(t *testing.T) {
	t.Run("file", func(t *testing.T) {
		environ := map[string]string{"AWS_ACCESS_KEY_ID": "AKIASTOWAGETESTFAKE"}
		for _, k := range []string{"AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"} {
			t.Setenv(k, clitest.FakeSecret)
			environ[k] = clitest.FakeSecret
		}
		t.Setenv("AWS_ACCESS_KEY_ID", environ["AWS_ACCESS_KEY_ID"])
		storeURL := "file://" + t.TempDir()
		sweepFixture(t, storeURL)
		sweepNoSecret(t, environ, storeURL, clitest.FakeSecret, true)
	})
	testenv.ForEachServer(t, func(t *testing.T, srv testenv.Server) {
		clitest.SecretKey(t, srv)
		s3env.Env(t, srv)
		storeURL := s3env.PrefixURL(t, srv)
		sweepFixture(t, storeURL)
		environ := map[string]string{"AWS_ACCESS_KEY_ID": srv.AccessKey, "AWS_SECRET_ACCESS_KEY": srv.SecretKey}
		sweepNoSecret(t, environ, storeURL, srv.SecretKey, true)
		t.Setenv("AWS_SECRET_ACCESS_KEY", clitest.FakeSecret)
		environ["AWS_SECRET_ACCESS_KEY"] = clitest.FakeSecret
		sweepNoSecret(t, environ, storeURL, clitest.FakeSecret, false) // cannot open the store
	})
}
