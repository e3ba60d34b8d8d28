package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stowage-dev/stowage"
	"github.com/stowage-dev/stowage/attach"
	"github.com/stowage-dev/stowage/bench"
	"github.com/stowage-dev/stowage/internal/soak"
	"github.com/stowage-dev/stowage/internal/testenv"
	"github.com/stowage-dev/stowage/internal/testenv/s3env"
	"github.com/stowage-dev/stowage/session"
)

// TestMain lets the test binary stand in for the stowage binary when the
// demo re-executes itself as its writer process.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == demoWriterCmd {
		os.Exit(run(context.Background(), os.Args[1:], os.Getenv, os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

// stowageCmd runs the command with env as its whole environment.
func stowageCmd(t *testing.T, env map[string]string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	getenv := func(k string) string { return env[k] }
	code = run(t.Context(), args, getenv, &out, &errb)
	return code, out.String(), errb.String()
}

func TestUsage(t *testing.T) {
	for _, c := range []struct {
		args []string
		code int
	}{
		{nil, exitUsage},
		{[]string{"help"}, exitOK},
		{[]string{"frobnicate"}, exitUsage},
		{[]string{"fsck"}, exitUsage},                        // no store
		{[]string{"fsck", "-h"}, exitOK},                     // help
		{[]string{"inspect", "-store", "mem://"}, exitUsage}, // no subject
		{[]string{"bench", "--attach-size", "lots", "--store", "mem://"}, exitUsage},
	} {
		if code, _, stderr := stowageCmd(t, nil, c.args...); code != c.code {
			t.Errorf("stowage %q: exit %d, want %d; stderr:\n%s", c.args, code, c.code, stderr)
		}
	}
}

// TestDemo runs the demo on a file store: it must exit 0 and tell the
// whole story.
func TestDemo(t *testing.T) {
	if testenv.Short() {
		t.Skip("the demo streams about 300 MiB")
	}
	dir := t.TempDir()
	code, out, stderr := stowageCmd(t, map[string]string{"STOWAGE_STORE": "file://" + dir}, "demo")
	if code != exitOK {
		t.Fatalf("demo: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, stderr)
	}
	for _, want := range []string{"kill -9", "resumes the session", "digests checked", "exactly the orphans", "TURNS ACKED", "dee"} {
		if !strings.Contains(out, want) {
			t.Errorf("demo output lacks %q:\n%s", want, out)
		}
	}
}

// TestDemoS3 runs the demo against the local MinIO.
func TestDemoS3(t *testing.T) {
	if testenv.Short() {
		t.Skip("the demo streams about 300 MiB")
	}
	srv := testenv.Need(t, testenv.MinIO)
	// The writer process reads its credentials from the environment.
	t.Setenv("AWS_ACCESS_KEY_ID", srv.AccessKey)
	t.Setenv("AWS_SECRET_ACCESS_KEY", srv.SecretKey)
	t.Setenv("AWS_CONFIG_FILE", t.TempDir()+"/none")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", t.TempDir()+"/none")
	store := s3env.PrefixURL(t, srv)
	code, out, stderr := stowageCmd(t, map[string]string{"STOWAGE_STORE": store}, "demo", "--cleanup")
	if code != exitOK || !strings.Contains(out, "exactly the orphans") {
		t.Fatalf("demo: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, stderr)
	}
}

// inspectFixture writes a session with a branch (a node appended under an
// older node) and an attachment, and returns the store URL.
func inspectFixture(t *testing.T) (string, string) {
	storeURL := "file://" + t.TempDir()
	return storeURL, seedFixture(t, storeURL)
}

// seedFixture writes inspectFixture's session into the store at storeURL
// and returns the attachment's id.
func seedFixture(t *testing.T, storeURL string) string {
	ctx := t.Context()
	st, err := stowage.Open(ctx, storeURL, stowage.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	sess, err := st.Session("s1")
	if err != nil {
		t.Fatal(err)
	}
	att, err := attach.New(st.Manifest(), "s1", nil)
	if err != nil {
		t.Fatal(err)
	}
	a := soak.NewAgent(sess, att)
	ack, err := a.Turn(ctx, soak.TurnSpec{TurnID: "t0", Nodes: 3, NodeBytes: 20,
		Attachments: []soak.AttachmentSpec{{Size: 100, MediaType: "text/plain", Seed: 9}}})
	if err != nil {
		t.Fatal(err)
	}
	rev := ack.Revision
	_, err = sess.CommitRuntimeState(ctx, session.RuntimeCommit{SessionID: "s1", ExpectedHeadRevision: &rev,
		Graph: session.GraphDelta{Kind: session.DeltaAppend, Leaf: "alt", Nodes: []session.NodeRecord{
			{NodeID: "alt", ParentNodeID: "t0.n0", Timestamp: "2026-01-01T00:00:00Z", Kind: session.PayloadEvent, Event: json.RawMessage(`{"text":"a branch"}`)},
		}}})
	if err != nil {
		t.Fatal(err)
	}
	return ack.Attachments[0].ID
}

func TestInspect(t *testing.T) {
	storeURL, id := inspectFixture(t)
	env := map[string]string{"STOWAGE_STORE": storeURL}
	for _, c := range []struct {
		args []string
		want []string
	}{
		{[]string{"sessions"}, []string{"s1", "live", "2"}},
		{[]string{"head", "s1"}, []string{`"session_id": "s1"`, `"revision": 2`}},
		{[]string{"log", "s1"}, []string{"t0", id[:12]}},
		{[]string{"graph", "s1"}, []string{"t0.n0", "├─", "└─", "* alt", "a branch"}},
		{[]string{"graph", "s1", "--active"}, []string{"t0.n0", "alt"}},
		{[]string{"graph", "s1", "--dot"}, []string{"digraph", `"t0.n0" -> "alt"`, `"t0.n0" -> "t0.n1"`}},
		{[]string{"refs", "s1"}, []string{id, "100", "text/plain"}},
	} {
		code, out, stderr := stowageCmd(t, env, append([]string{"inspect"}, c.args...)...)
		if code != exitOK {
			t.Errorf("inspect %q: exit %d: %s", c.args, code, stderr)
			continue
		}
		for _, w := range c.want {
			if !strings.Contains(out, w) {
				t.Errorf("inspect %q lacks %q:\n%s", c.args, w, out)
			}
		}
	}
	if _, out, _ := stowageCmd(t, env, "inspect", "graph", "s1", "--active"); strings.Contains(out, "t0.n2") {
		t.Errorf("the active path shows the other branch:\n%s", out)
	}
	_, full, _ := stowageCmd(t, env, "inspect", "cat", "s1", id)
	want, err := io.ReadAll(soak.Content(soak.AttachmentSpec{Size: 100, MediaType: "text/plain", Seed: 9}))
	if err != nil || full != string(want) {
		t.Errorf("cat: %q, want %q (%v)", full, want, err)
	}
	if _, part, _ := stowageCmd(t, env, "inspect", "cat", "s1", id[:10], "--range", "10:5"); part != full[10:15] {
		t.Errorf("cat --range 10:5 by id prefix: %q, want %q", part, full[10:15])
	}
	if code, _, _ := stowageCmd(t, env, "inspect", "cat", "s1", strings.Repeat("0", 64)); code != exitUsage {
		t.Errorf("cat of an attachment the session does not hold: exit %d", code)
	}
}

func TestFsck(t *testing.T) {
	storeURL, _ := inspectFixture(t)
	env := map[string]string{"STOWAGE_STORE": storeURL}
	code, out, stderr := stowageCmd(t, env, "fsck", "--deep")
	if code != exitOK || !strings.Contains(out, "clean") {
		t.Fatalf("fsck: exit %d\n%s%s", code, out, stderr)
	}
	code, out, _ = stowageCmd(t, env, "fsck", "--json")
	var rep struct {
		Clean  bool `json:"clean"`
		Counts struct {
			Sessions int `json:"sessions"`
		} `json:"counts"`
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil || code != exitOK || !rep.Clean || rep.Counts.Sessions != 1 {
		t.Fatalf("fsck --json: exit %d, %+v, %v\n%s", code, rep, err, out)
	}
	// Break the head: fsck must say so and exit 3.
	st, err := stowage.Open(t.Context(), storeURL, stowage.Config{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Objects().Put(t.Context(), session.HeadKey("s1"), []byte("garbage"), nil); err != nil {
		t.Fatal(err)
	}
	st.Close()
	if code, out, _ := stowageCmd(t, env, "fsck"); code != exitProblems || !strings.Contains(out, "PROBLEMS") {
		t.Fatalf("fsck of a corrupt head: exit %d\n%s", code, out)
	}
}

// TestBenchQuick runs every figure at toy sizes on a file store and checks
// the report's shape (never its timings).
func TestBenchQuick(t *testing.T) {
	if testenv.Short() {
		t.Skip("writes a few thousand objects")
	}
	// A directory that does not exist: the bench makes the store there and
	// leaves nothing of it (its help: everything is deleted at the end).
	dir := filepath.Join(t.TempDir(), "bst")
	env := map[string]string{"STOWAGE_STORE": "file://" + dir}
	code, out, stderr := stowageCmd(t, env, "bench", "--json", "--quick", "--samples", "3", "--revisions", "20",
		"--nodes", "40", "--sessions", "4", "--commits", "2", "--attach-size", "6MiB", "--part-size", "5MiB", "--orphans", "50",
		"--long-revisions", "60", "--many-sessions", "5")
	if code != exitOK {
		t.Fatalf("bench: exit %d\n%s", code, stderr)
	}
	if _, err := os.Stat(dir); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the bench left its store directory behind: %v", err)
	}
	var res []bench.Result
	if err := json.Unmarshal([]byte(out), &res); err != nil || len(res) != 1 {
		t.Fatalf("bench --json: %v\n%s", err, out)
	}
	got := map[string]bool{}
	bounded := map[string]bool{}
	for _, f := range res[0].Figures {
		got[f.Name] = true
		if f.Stowage <= 0 || f.Baseline <= 0 || f.Ratio <= 0 || f.Bound < 0 {
			t.Errorf("figure %+v has a non-positive value", f)
		}
		bounded[f.Name] = f.Bound > 0 && f.BoundOp != ""
	}
	// The figures whose bound docs/performance.md describes.
	for _, name := range []string{"attach_get", "attach_put", "load_cold_p50", "concurrent_commits"} {
		if !bounded[name] {
			t.Errorf("figure %s has no bound", name)
		}
	}
	// The figures of the performance issue, each under its own name, so a
	// script reads every ratio without parsing notes.
	for _, name := range []string{"commit_p50", "concurrent_commits", "load_p50", "load_cold_p50", "load_cached_p50",
		"attach_get", "attach_put", "sweep", "commit_put_bytes", "commit_cpu_us"} {
		if !got[name] {
			t.Errorf("figure %s missing from bench --json", name)
		}
	}
	for _, name := range bench.Figures() {
		// direct_put needs a store that presigns (S3), not a file store.
		if !got[name] && name != bench.AttachPeakRSS && !strings.HasPrefix(name, bench.DirectPut) {
			t.Errorf("figure %s missing", name)
		}
	}
}

// TestBenchLeavesAStoreAsItWas: a bench on a file store that exists keeps
// the store and nothing of the run (no bench-<id>/ of the baseline's files).
func TestBenchLeavesAStoreAsItWas(t *testing.T) {
	dir := t.TempDir()
	env := map[string]string{"STOWAGE_STORE": "file://" + dir}
	if code, _, stderr := stowageCmd(t, env, "bench", "--quick", "--only", "load_cached_p50", "--samples", "2", "--nodes", "8"); code != exitOK {
		t.Fatalf("bench: exit %d\n%s", code, stderr)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), "bench-") {
			t.Errorf("the bench left %s in the store's directory", e.Name())
		}
	}
}
