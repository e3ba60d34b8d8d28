package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/stowage-dev/stowage"
	"github.com/stowage-dev/stowage/attach"
	"github.com/stowage-dev/stowage/fsck"
	"github.com/stowage-dev/stowage/internal/clitest"
	"github.com/stowage-dev/stowage/internal/testenv"
	"github.com/stowage-dev/stowage/internal/testenv/s3env"
	"github.com/stowage-dev/stowage/objstore/openurl"
	"github.com/stowage-dev/stowage/session"
)

// secretVars are the environment variables that carry secrets.
var secretVars = []string{"AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"}

// secretFixture writes one session with a turn, a branch and an attachment
// under storeURL and returns the attachment id.
func secretFixture(t *testing.T, storeURL string) string {
	t.Helper()
	ctx := t.Context()
	_, s, a := clitest.Session(t, storeURL, stowage.Config{}, "s1")
	ref, err := a.Put(ctx, strings.NewReader("attachment text for the secrets test"), attach.PutOptions{MediaType: "text/plain"})
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.CommitRuntimeState(ctx, session.RuntimeCommit{SessionID: "s1", CommittedAttachmentIDs: []string{ref.ID},
		TurnCommit: &session.TurnCommitStamp{SessionID: "s1", TurnID: "t0", TurnCommitHash: "h"},
		Graph: session.GraphDelta{Kind: session.DeltaAppend, Leaf: "n1", Nodes: []session.NodeRecord{
			{NodeID: "n0", Kind: session.PayloadEvent, Event: []byte(`{"text":"root"}`)},
			{NodeID: "n1", ParentNodeID: "n0", Kind: session.PayloadEvent, Event: []byte(`{"text":"leaf"}`)},
		}}})
	if err != nil {
		t.Fatal(err)
	}
	return ref.ID
}

// commandLines are every stowage command and inspect subject, on the
// fixture's session and attachment id.
func commandLines(id string, heavy bool) [][]string {
	lines := [][]string{
		{"help"}, {"version"}, {"frobnicate"}, {"fsck", "-h"}, {"inspect", "-h"}, {"bench", "-h"}, {"demo", "-h"},
		{"inspect", "sessions"}, {"inspect", "head", "s1"}, {"inspect", "log", "s1"},
		{"inspect", "--json", "sessions"}, {"inspect", "--json", "log", "s1"}, {"inspect", "graph", "s1", "--json"},
		{"inspect", "refs", "s1", "--json"}, {"fsck", "--json", "--grace", "0s", "--strict"},
		{"inspect", "graph", "s1"}, {"inspect", "graph", "s1", "--active"}, {"inspect", "graph", "s1", "--dot"},
		{"inspect", "refs", "s1"}, {"inspect", "cat", "s1", id}, {"inspect", "cat", "s1", id[:10], "--range", "2:5"},
		{"inspect", "cat", "s1", strings.Repeat("0", 64)}, {"inspect", "head", "no-such-session"},
		{"fsck"}, {"fsck", "--json"}, {"fsck", "--deep", "--strict"},
	}
	if heavy {
		lines = append(lines,
			[]string{"bench", "--json", "--quick", "--samples", "2", "--revisions", "10", "--nodes", "10", "--sessions", "2",
				"--commits", "1", "--attach-size", "6MiB", "--part-size", "5MiB", "--orphans", "10"},
			[]string{"demo", "--cleanup"})
	}
	return lines
}

// assertNoSecret runs every command line with env as its environment and
// checks that secret is in none of its output.
func assertNoSecret(t *testing.T, env map[string]string, secret string, lines [][]string) {
	t.Helper()
	getenv := func(k string) string { return env[k] }
	for _, args := range lines {
		var out, errb bytes.Buffer
		code := run(t.Context(), args, getenv, &out, &errb)
		for name, text := range map[string]string{"stdout": out.String(), "stderr": errb.String()} {
			if strings.Contains(text, secret) {
				t.Errorf("stowage %q (exit %d) printed the secret on %s:\n%s", args, code, name, text)
			}
		}
	}
}

// assertNoSecretAttach runs the attach command's actions (direct
// transfer: presigned requests, which carry signatures but must never carry
// the secret): grant-put, then seal and curl with the grant it printed,
// and grant-get of the fixture's committed attachment.
func assertNoSecretAttach(t *testing.T, env map[string]string, id, secret string, presign bool) {
	t.Helper()
	getenv := func(k string) string { return env[k] }
	body := "bytes a client would send directly"
	sum := sha256.Sum256([]byte(body))
	dir := t.TempDir()
	file := filepath.Join(dir, "body")
	if err := os.WriteFile(file, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	var grant bytes.Buffer
	check := func(args []string, stdout *bytes.Buffer) {
		t.Helper()
		var errb bytes.Buffer
		if stdout == nil {
			stdout = &bytes.Buffer{}
		}
		code := run(t.Context(), args, getenv, stdout, &errb)
		if strings.Contains(stdout.String(), secret) || strings.Contains(errb.String(), secret) {
			t.Errorf("stowage %q (exit %d) printed the secret:\n%s\n%s", args, code, stdout, &errb)
		}
	}
	base := []string{"attach", "--session", "s1"}
	check(append(slices.Clone(base), "grant-put", "--sha256", hex.EncodeToString(sum[:]), "--size", strconv.Itoa(len(body)), "--media-type", "text/plain"), &grant)
	if presign && !strings.Contains(grant.String(), `"upload_id"`) {
		t.Fatalf("grant-put printed no grant:\n%s", &grant)
	}
	grantFile := filepath.Join(dir, "grant.json")
	if err := os.WriteFile(grantFile, grant.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	check(append(slices.Clone(base), "curl", grantFile, file), nil)
	check(append(slices.Clone(base), "seal", grantFile), nil)
	check(append(slices.Clone(base), "grant-get", "--id", id, "--filename", "x.txt"), nil)
	check(append(slices.Clone(base), "-h"), nil)
}

// assertNoSecretDebug opens the store as the commands do (through the
// given environment) but with a debug logger, since the commands themselves
// log warnings only, and runs what the commands run on it: fsck, the
// session list and load, an attachment read. The secret is in no log record.
func assertNoSecretDebug(t *testing.T, environ map[string]string, storeURL, id, secret string) {
	t.Helper()
	ctx := t.Context()
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	st, err := stowage.Open(ctx, storeURL, stowage.Config{Logger: log,
		URL: &openurl.Options{Getenv: func(k string) string { return environ[k] }, Logger: log}})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if _, err := fsck.Check(ctx, st, &fsck.Options{Deep: true}); err != nil {
		t.Fatal(err)
	}
	for sid, err := range st.ListSessions(ctx) {
		if err != nil {
			t.Fatal(err)
		}
		s, err := st.Session(sid)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.LoadSession(ctx, session.FullGraph()); err != nil {
			t.Fatal(err)
		}
	}
	a, err := attach.New(st.Manifest(), "s1", &attach.Options{Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	rc, _, err := a.Get(ctx, id, nil)
	if err != nil {
		t.Fatal(err)
	}
	rc.Close()
	if strings.Contains(logs.String(), secret) {
		t.Errorf("debug logs hold the secret:\n%s", logs.String())
	}
}

// TestSecretsNeverPrinted runs every stowage command with secrets in the
// environment (the process's, which the AWS chain reads, and the one given
// to run) and checks that no output holds them: on a file store with a fake
// secret, and on each local S3 server with its real secret key.
func TestSecretsNeverPrinted(t *testing.T) {
	t.Run("file", func(t *testing.T) {
		for _, k := range secretVars {
			t.Setenv(k, clitest.FakeSecret)
		}
		t.Setenv("AWS_ACCESS_KEY_ID", "AKIASTOWAGETESTFAKE")
		storeURL := "file://" + t.TempDir()
		id := secretFixture(t, storeURL)
		env := map[string]string{"STOWAGE_STORE": storeURL, "AWS_ACCESS_KEY_ID": "AKIASTOWAGETESTFAKE"}
		for _, k := range secretVars {
			env[k] = clitest.FakeSecret
		}
		assertNoSecret(t, env, clitest.FakeSecret, commandLines(id, !testenv.Short()))
		assertNoSecretAttach(t, env, id, clitest.FakeSecret, false) // a file store presigns nothing
		assertNoSecretDebug(t, env, storeURL, id, clitest.FakeSecret)
	})
	testenv.ForEachServer(t, func(t *testing.T, srv testenv.Server) {
		clitest.SecretKey(t, srv)
		s3env.Env(t, srv)
		storeURL := s3env.PrefixURL(t, srv)
		id := secretFixture(t, storeURL)
		env := map[string]string{"STOWAGE_STORE": storeURL, "AWS_ACCESS_KEY_ID": srv.AccessKey, "AWS_SECRET_ACCESS_KEY": srv.SecretKey}
		assertNoSecret(t, env, srv.SecretKey, commandLines(id, false))
		assertNoSecretAttach(t, env, id, srv.SecretKey, true)
		assertNoSecretDebug(t, env, storeURL, id, srv.SecretKey)
		// A wrong secret fails to sign: the error must not echo it either.
		t.Setenv("AWS_SECRET_ACCESS_KEY", clitest.FakeSecret)
		env["AWS_SECRET_ACCESS_KEY"] = clitest.FakeSecret
		assertNoSecret(t, env, clitest.FakeSecret, [][]string{{"inspect", "sessions"}, {"fsck", "--json"}})
	})
}
