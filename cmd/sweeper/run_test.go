package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stowage-dev/stowage/gc"
	"github.com/stowage-dev/stowage/manifest"
	"github.com/stowage-dev/stowage/objstore"
	"github.com/stowage-dev/stowage/objstore/fsstore"
	"github.com/stowage-dev/stowage/session"
)

func env(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func runCmd(t *testing.T, args []string, getenv map[string]string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(context.Background(), args, env(getenv), &out, &errb)
	return code, out.String(), errb.String()
}

func TestUsage(t *testing.T) {
	for _, tc := range []struct {
		args []string
		env  map[string]string
		code int
	}{
		{[]string{"-h"}, nil, exitOK},
		{nil, nil, exitUsage},
		{[]string{"--store", "mem://", "--shard", "2/2"}, nil, exitUsage},
		{[]string{"--store", "mem://", "--shards", "4"}, nil, exitUsage},
		{[]string{"--store", "mem://", "--grace", "-1h"}, nil, exitUsage},
		{[]string{"--store", "mem://", "extra"}, nil, exitUsage},
		{[]string{"--store", "mem://"}, map[string]string{"STOWAGE_SWEEPER_GRACE": "soon"}, exitUsage},
		{[]string{"--store", "mem://", "--log-format", "xml"}, nil, exitUsage},
	} {
		code, _, stderr := runCmd(t, tc.args, tc.env)
		if code != tc.code {
			t.Errorf("sweeper %q: exit %d, want %d (%s)", tc.args, code, tc.code, stderr)
		}
	}
	_, _, stderr := runCmd(t, []string{"-h"}, nil)
	if !strings.Contains(stderr, "Exit codes:") || !strings.Contains(stderr, "STOWAGE_STORE") {
		t.Fatalf("help lacks exit codes or env names:\n%s", stderr)
	}
}

func TestShardFromIndexedJob(t *testing.T) {
	cfg, err := parseFlags([]string{"--store", "mem://", "--shards", "4"}, env(map[string]string{"JOB_COMPLETION_INDEX": "3"}), &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.shard != (gc.Shard{Index: 3, Count: 4}) {
		t.Fatalf("shard %v, want 3/4", cfg.shard)
	}
}

// bucket makes a file store holding one referenced attachment and one
// orphan, both a day old, and returns its URL and the orphan's key.
func bucket(t *testing.T, withRoot bool) (string, string) {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	then := time.Now().Add(-48 * time.Hour)
	s, err := fsstore.Open(dir, &fsstore.Options{Clock: func() time.Time { return then }})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if withRoot {
		m := manifest.New(s, &manifest.Options{Now: func() time.Time { return then }})
		u, err := m.BeginUpload(ctx, "s1", manifest.Owner{}, "")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.Put(ctx, u.DataKey, []byte("kept"), nil); err != nil {
			t.Fatal(err)
		}
		id := strings.Repeat("ab", 32)
		in := manifest.Intent{AttachmentID: id, SessionID: "s1"}
		if _, err := m.RecordRef(ctx, in, manifest.Info{}, func(*manifest.Row) (manifest.Data, error) {
			return manifest.Data{Key: u.DataKey, Size: 4, StoredSize: 4}, nil
		}); err != nil {
			t.Fatal(err)
		}
		if err := m.CommitRefs(ctx, "s1", []string{id}); err != nil {
			t.Fatal(err)
		}
	}
	orphan := manifest.DataKey("01KBZ0RPHAN000000000000000")
	if _, err := s.Put(ctx, orphan, []byte("orphan"), nil); err != nil {
		t.Fatal(err)
	}
	return "file://" + dir, orphan
}

func TestSweepFileStoreJSONAndMetrics(t *testing.T) {
	url, _ := bucket(t, true)
	textfile := filepath.Join(t.TempDir(), "sweeper.prom")
	code, stdout, stderr := runCmd(t, []string{"--store", url, "--json", "--metrics-textfile", textfile, "--grace", "1h"}, nil)
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var out output
	if err := json.Unmarshal([]byte(stdout), &out); err != nil {
		t.Fatalf("report is not JSON: %v\n%s", err, stdout)
	}
	if out.Reclaimed[gc.KindAttachmentData] != 1 || out.ExitCode != 0 {
		t.Fatalf("report: %s", stdout)
	}
	prom, err := os.ReadFile(textfile)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`stowage_sweeper_reclaimed_objects{kind="attachment_data",shard="0-of-1"} 1`, "stowage_sweeper_last_success_timestamp_seconds"} {
		if !strings.Contains(string(prom), want) {
			t.Fatalf("metrics lack %q:\n%s", want, prom)
		}
	}
}

func TestExitCodes(t *testing.T) {
	url, orphan := bucket(t, false)
	code, _, stderr := runCmd(t, []string{"--store", url, "--grace", "1h"}, nil)
	if code != exitRefused {
		t.Fatalf("empty root set: exit %d, want %d (%s)", code, exitRefused, stderr)
	}
	s, err := fsstore.Open(strings.TrimPrefix(url, "file://"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.Head(context.Background(), orphan); err != nil {
		t.Fatalf("refused sweep deleted data: %v", err)
	}
	if _, err := gc.AcquireLease(context.Background(), s, gc.LeaseKey(gc.Shard{}), "someone", time.Hour, time.Now); err != nil {
		t.Fatal(err)
	}
	code, _, stderr = runCmd(t, []string{"--store", url, "--allow-empty-roots"}, nil)
	if code != exitLeaseHeld {
		t.Fatalf("lease held: exit %d, want %d (%s)", code, exitLeaseHeld, stderr)
	}
}

// seedSession writes, on s, a session "sess" with one commit, an object of
// that session no head names, and an ownerless row of the session that no
// commit named (a dead intent). now is the writers' clock.
func seedSession(t *testing.T, s objstore.Store, now func() time.Time) (stray, deadID string) {
	t.Helper()
	ctx := context.Background()
	m := manifest.New(s, &manifest.Options{Now: now})
	h, err := session.New(session.Config{Store: s, SessionID: "sess", Manifest: m, Hook: m, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	var zero uint64
	if _, err := h.CommitRuntimeState(ctx, session.RuntimeCommit{SessionID: "sess", ExpectedHeadRevision: &zero,
		Graph:      session.GraphDelta{Kind: session.DeltaKeep},
		Checkpoint: &session.HydratedCheckpoint{ExecutionState: bytes.Repeat([]byte("state "), 1000)}}); err != nil {
		t.Fatal(err)
	}
	stray = session.SessionPrefix("sess") + "blob/01KBZSTRAY0000000000000000"
	if _, err := s.Put(ctx, stray, []byte("abandoned"), nil); err != nil {
		t.Fatal(err)
	}
	deadID = strings.Repeat("ef", 32)
	data := manifest.DataKey("01KBZDEAD1NTENT00000000000")
	if _, err := s.Put(ctx, data, []byte("dead"), nil); err != nil {
		t.Fatal(err)
	}
	if _, err := m.RecordRef(ctx, manifest.Intent{AttachmentID: deadID, SessionID: "sess"}, manifest.Info{},
		func(*manifest.Row) (manifest.Data, error) {
			return manifest.Data{Key: data, Size: 4, StoredSize: 4}, nil
		}); err != nil {
		t.Fatal(err)
	}
	return stray, deadID
}

// checkSessionSwept fails unless the sweep fenced the session's head,
// deleted the stray object and forgot the dead row, and the session still
// loads with everything its head names.
func checkSessionSwept(t *testing.T, s objstore.Store, stray, deadID string) {
	t.Helper()
	ctx := context.Background()
	if _, err := s.Head(ctx, stray); !errors.Is(err, objstore.ErrNotExist) {
		t.Fatalf("unnamed session object after the sweep: %v", err)
	}
	h, err := session.ReadHead(ctx, s, "sess")
	if err != nil || h == nil || h.SweepGen == 0 || len(h.Keys) == 0 {
		t.Fatalf("head after the sweep: %v, %v (want fenced)", h, err)
	}
	for _, k := range h.Keys {
		if _, err := s.Head(ctx, k); err != nil {
			t.Fatalf("named %s: %v", k, err)
		}
	}
	if _, ok, err := manifest.New(s, nil).Row(ctx, "sess", deadID); err != nil || ok {
		t.Fatalf("dead row after the sweep: live %v, %v", ok, err)
	}
}

func TestSweepSessionsThroughTheHeadFence(t *testing.T) {
	url, _ := bucket(t, true)
	then := time.Now().Add(-48 * time.Hour)
	s, err := fsstore.Open(strings.TrimPrefix(url, "file://"), &fsstore.Options{Clock: func() time.Time { return then }})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	stray, deadID := seedSession(t, s, func() time.Time { return then })
	code, stdout, stderr := runCmd(t, []string{"--store", url, "--grace", "1h", "--forget-dead-intents", "--json"}, nil)
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	checkSessionSwept(t, s, stray, deadID)
	var out output
	if err := json.Unmarshal([]byte(stdout), &out); err != nil {
		t.Fatal(err)
	}
	if out.Reclaimed[gc.KindSessionObject] != 1 || out.Reclaimed[gc.KindRefRow] != 1 {
		t.Fatalf("report: %s", stdout)
	}
}

// Dead intents are forgotten by default (the head fence makes it safe);
// the flag and its variable can turn it off.
func TestForgetDeadIntentsDefaultsOn(t *testing.T) {
	for _, c := range []struct {
		args []string
		env  string
		want bool
	}{
		{nil, "", true},
		{[]string{"--forget-dead-intents=false"}, "", false},
		{nil, "false", false},
		{[]string{"--forget-dead-intents"}, "false", true},
	} {
		getenv := func(k string) string {
			if k == "STOWAGE_SWEEPER_FORGET_DEAD_INTENTS" {
				return c.env
			}
			return ""
		}
		cfg, err := parseFlags(append([]string{"--store", "mem://"}, c.args...), getenv, io.Discard)
		if err != nil {
			t.Fatalf("%v env %q: %v", c.args, c.env, err)
		}
		if cfg.forget != c.want {
			t.Errorf("%v env %q: forget = %v, want %v", c.args, c.env, cfg.forget, c.want)
		}
	}
}

// TestDryRunCountsWhatTheSweepReclaims: on the same store (a committed
// session, an object its head does not name, a dead row, an aged ownerless
// upload intent, the data the row alone roots, an orphan), a dry run counts
// every kind the sweep then reclaims, as many of each and as many bytes:
// the dead row and the upload intent the sweep forgets, and the data that
// forgetting frees in the same sweep. Before f32db04 the dry run left out
// the row; before this it left out the intent and the freed data.
func TestDryRunCountsWhatTheSweepReclaims(t *testing.T) {
	url, _ := bucket(t, true)
	then := time.Now().Add(-48 * time.Hour)
	s, err := fsstore.Open(strings.TrimPrefix(url, "file://"), &fsstore.Options{Clock: func() time.Time { return then }})
	if err != nil {
		t.Fatal(err)
	}
	seedSession(t, s, func() time.Time { return then })
	s.Close()
	report := func(extra ...string) output {
		code, stdout, stderr := runCmd(t, append([]string{"--store", url, "--grace", "1h", "--json"}, extra...), nil)
		var out output
		if err := json.Unmarshal([]byte(stdout), &out); err != nil || code != exitOK {
			t.Fatalf("%v: exit %d, %v: %s", extra, code, err, stderr)
		}
		return out
	}
	dry, real := report("--dry-run"), report()
	sameReclaimed(t, dry, real)
	for k, want := range map[gc.Kind]int64{gc.KindRefRow: 1, gc.KindSessionObject: 1, gc.KindUploadIntent: 1, gc.KindAttachmentData: 2} {
		if real.Reclaimed[k] != want {
			t.Errorf("%s: the sweep reclaimed %d, want %d (%v)", k, real.Reclaimed[k], want, real.Reclaimed)
		}
	}
}

// sameReclaimed fails unless the dry run counted, of every kind, what the
// sweep reclaimed, and as many bytes.
func sameReclaimed(t *testing.T, dry, real output) {
	t.Helper()
	nonzero := func(m map[gc.Kind]int64) map[gc.Kind]int64 {
		out := map[gc.Kind]int64{}
		for k, v := range m {
			if v != 0 {
				out[k] = v
			}
		}
		return out
	}
	d, r := nonzero(dry.Reclaimed), nonzero(real.Reclaimed)
	if !maps.Equal(d, r) || dry.BytesReclaimed != real.BytesReclaimed {
		t.Errorf("the dry run would reclaim %v (%d bytes), the sweep reclaimed %v (%d bytes)", d, dry.BytesReclaimed, r, real.BytesReclaimed)
	}
	if !dry.DryRun || real.DryRun || dry.Failed+real.Failed+dry.Deferred+real.Deferred != 0 {
		t.Errorf("dry run %+v, sweep %+v: want no failure and nothing deferred", dry.Report, real.Report)
	}
}
