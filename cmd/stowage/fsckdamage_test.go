package main

import (
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stowage-dev/stowage"
	"github.com/stowage-dev/stowage/attach"
	"github.com/stowage-dev/stowage/gc"
	"github.com/stowage-dev/stowage/internal/soak"
	"github.com/stowage-dev/stowage/manifest"
	"github.com/stowage-dev/stowage/session"
)

// damageFixture writes, into the file store at dir, a store holding every
// kind of object: heads, segments, checkpoint blobs, rows, blob pointers,
// session markers, attachment data, an upload intent, the sweeper's lease
// and fence, and the store marker.
func damageFixture(t *testing.T, dir string) {
	t.Helper()
	ctx := context.Background()
	st, err := stowage.Open(ctx, "file://"+dir, stowage.Config{Session: session.Tuning{FlushDeltas: 2}})
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
	for i := range 3 {
		if _, err := a.Turn(ctx, soak.TurnSpec{TurnID: fmt.Sprintf("t%d", i), Nodes: 2, NodeBytes: 100,
			Attachments: []soak.AttachmentSpec{{Size: int64(1000 * (i + 1)), Seed: uint64(i)}}}); err != nil {
			t.Fatal(err)
		}
		sess.WaitCompaction()
	}
	head, err := session.ReadHead(ctx, st.Objects(), "s1")
	if err != nil {
		t.Fatal(err)
	}
	rev := head.Revision
	if _, err := sess.CommitRuntimeState(ctx, session.RuntimeCommit{SessionID: "s1", ExpectedHeadRevision: &rev,
		Graph:      session.GraphDelta{Kind: session.DeltaKeep},
		Checkpoint: &session.HydratedCheckpoint{ExecutionState: bytes.Repeat([]byte("state "), 2000)}}); err != nil {
		t.Fatal(err)
	}
	// A stray data object the sweep condemns: it writes the fence of its
	// shard, and the lease.
	if _, err := st.Objects().Put(ctx, manifest.DataKey("01KBZSTRAY0000000000000000"), []byte("stray"), nil); err != nil {
		t.Fatal(err)
	}
	sw := gc.Sweeper{Store: st.Objects(), Manifest: st.Manifest(), Grace: -1}
	if _, err := sw.Run(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Manifest().BeginUpload(ctx, "s1", manifest.ProcessOwner("p1"), ""); err != nil {
		t.Fatal(err)
	}
}

// storeFiles maps the keys of the file store at dir to their object files.
func storeFiles(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	root := filepath.Join(dir, "objects")
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		var key strings.Builder
		for _, piece := range strings.Split(rel, string(filepath.Separator)) {
			piece = strings.TrimSuffix(strings.TrimSuffix(piece, ".d"), ".o")
			p, err := url.PathUnescape(piece)
			if err != nil {
				return err
			}
			key.WriteString(p)
		}
		out[key.String()] = path
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// keyKind names the kind of object key is.
func keyKind(key string) string {
	for _, k := range []struct{ prefix, kind string }{
		{"stowage.json", "store marker"},
		{"attach/refs/", "manifest row"},
		{"attach/blobs/", "blob pointer"},
		{"attach/data/", "attachment data"},
		{"attach/uploads/", "upload intent"},
		{"attach/sessions/", "session marker"},
		{"attach/turns/", "turn receipt"},
		{"gc/fence/", "fence"},
		{"gc/lease/", "lease"},
	} {
		if strings.HasPrefix(key, k.prefix) {
			return k.kind
		}
	}
	if strings.HasPrefix(key, "sessions/") {
		parts := strings.Split(key, "/")
		if len(parts) == 3 {
			return parts[2]
		}
		return parts[2] + " object"
	}
	return "other"
}

func copyDir(t *testing.T, from, to string) {
	t.Helper()
	err := filepath.WalkDir(from, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(from, path)
		dst := filepath.Join(to, rel)
		if d.IsDir() {
			return os.MkdirAll(dst, 0o700)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(dst, b, 0o600)
	})
	if err != nil {
		t.Fatal(err)
	}
}

func overwrite(t *testing.T, file string, at func(size int64) int64) {
	t.Helper()
	f, err := os.OpenFile(file, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	st, err := f.Stat()
	if err == nil {
		_, err = f.WriteAt([]byte("XXXXXXX"), at(st.Size()))
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		t.Fatal(err)
	}
}

// TestFsckDamagedObjectIsAProblem: on a file store, whose object files
// carry a checksum trailer, every kind of object fsck reads, damaged in its
// content or in its trailer, is a problem found (exit 3) that names the
// damaged key, as the same damage is on S3; never a failed check (exit 1,
// "retry later"), nor a listing that stops at the damaged file. The store
// marker's damage is said so, and the store is left as it is.
func TestFsckDamagedObjectIsAProblem(t *testing.T) {
	src := t.TempDir()
	damageFixture(t, src)
	first := map[string]string{} // kind -> its first key
	for key := range storeFiles(t, src) {
		if k := keyKind(key); first[k] == "" || key < first[k] {
			first[k] = key
		}
	}
	for _, kind := range []string{"head", "seg object", "blob object", "manifest row", "blob pointer",
		"upload intent", "attachment data", "store marker", "fence", "lease"} {
		key := first[kind]
		if key == "" {
			t.Fatalf("the fixture holds no %s", kind)
		}
		for where, at := range map[string]func(int64) int64{
			"content": func(int64) int64 { return 2 },
			"trailer": func(size int64) int64 { return size - 40 },
		} {
			t.Run(kind+"/"+where, func(t *testing.T) {
				dir := t.TempDir()
				copyDir(t, src, dir)
				file := storeFiles(t, dir)[key]
				overwrite(t, file, at)
				damagedBytes, _ := os.ReadFile(file)
				code, out, stderr := stowageCmd(t, nil, "fsck", "--store", "file://"+dir, "--deep")
				if code != exitProblems || !strings.Contains(out, "PROBLEMS:\n  ") || !strings.Contains(out, ": "+key+": ") {
					t.Fatalf("exit %d, want %d naming %s\n%s%s", code, exitProblems, key, out, stderr)
				}
				if kind == "store marker" && !strings.Contains(out, "store marker is damaged") {
					t.Errorf("the marker's damage is not said so:\n%s", out)
				}
				if after, _ := os.ReadFile(file); !bytes.Equal(after, damagedBytes) {
					t.Errorf("fsck changed %s", key)
				}
			})
		}
	}
}
