package stowage_test

import (
	"errors"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stowage-dev/stowage"
	"github.com/stowage-dev/stowage/internal/testenv"
	"github.com/stowage-dev/stowage/internal/testenv/s3env"
	"github.com/stowage-dev/stowage/marker"
	"github.com/stowage-dev/stowage/objstore"
	"github.com/stowage-dev/stowage/objstore/memstore"
	"github.com/stowage-dev/stowage/objstore/openurl"
	"github.com/stowage-dev/stowage/session"
)

// rawKeys lists every key of s.
func rawKeys(t *testing.T, s objstore.Store) []string {
	t.Helper()
	var out []string
	for info, err := range s.List(t.Context(), "", nil) {
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, info.Key)
	}
	return out
}

// TestOpenReadOnlyMissingFileStore: a read-only open of a file: path that
// does not exist is ErrNoStore and creates nothing there.
func TestOpenReadOnlyMissingFileStore(t *testing.T) {
	parent := t.TempDir()
	dir := filepath.Join(parent, "typo")
	_, err := stowage.Open(t.Context(), "file://"+dir, stowage.Config{ReadOnly: true})
	if !errors.Is(err, stowage.ErrNoStore) {
		t.Fatalf("Open = %v, want ErrNoStore", err)
	}
	if !strings.Contains(err.Error(), "file://"+dir) {
		t.Errorf("error %q does not name the URL", err)
	}
	if _, err := os.Stat(dir); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a read-only open created %s (%v)", dir, err)
	}
}

// TestOpenWritesMarkerThenReadOnlyOpens: a read-write open starts a store
// (its marker), after which a read-only open succeeds and refuses writes.
func TestOpenWritesMarkerThenReadOnlyOpens(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "store")
	st, err := stowage.Open(t.Context(), "file://"+dir, stowage.Config{})
	if err != nil {
		t.Fatal(err)
	}
	if got := rawKeys(t, st.Objects()); !slices.Equal(got, []string{marker.Key}) {
		t.Errorf("a new store holds %q, want only its marker", got)
	}
	st.Close()
	ro, err := stowage.Open(t.Context(), "file://"+dir, stowage.Config{ReadOnly: true})
	if err != nil {
		t.Fatalf("read-only Open of a store: %v", err)
	}
	defer ro.Close()
	s, err := ro.Session("s1")
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.CommitRuntimeState(t.Context(), session.RuntimeCommit{SessionID: "s1",
		Graph: session.GraphDelta{Kind: session.DeltaAppend, Leaf: "n1",
			Nodes: []session.NodeRecord{{NodeID: "n1", Kind: session.PayloadEvent, Event: []byte(`{}`)}}}})
	if !errors.Is(err, objstore.ErrReadOnly) {
		t.Errorf("commit on a read-only store = %v, want ErrReadOnly", err)
	}
}

// TestOpenStoreRefusesNewerFormat: read-write or read-only, a store whose
// marker is of a newer format is refused and left as it is.
func TestOpenStoreRefusesNewerFormat(t *testing.T) {
	m := memstore.New(nil)
	newer := marker.New(time.Now())
	newer.Version = marker.Version + 1
	if _, err := m.Put(t.Context(), marker.Key, newer.Encode(), nil); err != nil {
		t.Fatal(err)
	}
	for _, ro := range []bool{false, true} {
		if _, err := stowage.OpenStore(t.Context(), m, stowage.Config{ReadOnly: ro}); !errors.Is(err, stowage.ErrFormatTooNew) {
			t.Errorf("read-only %v: OpenStore = %v, want ErrFormatTooNew", ro, err)
		}
	}
}

// TestOpenStoreMarkerOnServers: on each server through each SDK, a
// read-only open of an empty prefix is ErrNoStore and writes nothing; a
// read-write open writes the marker; then a read-only open succeeds.
func TestOpenStoreMarkerOnServers(t *testing.T) {
	testenv.ForEachServer(t, func(t *testing.T, srv testenv.Server) {
		s3env.Env(t, srv)
		for _, scheme := range []string{"s3", "minio"} {
			t.Run(scheme, func(t *testing.T) {
				prefix := strings.TrimSuffix(testenv.UniquePrefix(t), "/")
				q := url.Values{"endpoint": {srv.Endpoint}, "region": {srv.Region}, "quirks": {srv.Name}}
				if scheme == "minio" {
					q = url.Values{"endpoint": {srv.Host()}, "region": {srv.Region}, "tls": {"false"}}
				}
				raw := scheme + "://" + srv.Bucket + "/" + prefix + "?" + q.Encode()
				objs, err := openurl.Open(t.Context(), raw, &openurl.Options{SkipProbe: true})
				if err != nil {
					t.Fatal(err)
				}
				defer objs.Close()
				if _, err := stowage.Open(t.Context(), raw, stowage.Config{ReadOnly: true}); !errors.Is(err, stowage.ErrNoStore) {
					t.Fatalf("read-only Open of an empty prefix = %v, want ErrNoStore", err)
				}
				if got := rawKeys(t, objs); len(got) != 0 {
					t.Errorf("a read-only open wrote %q", got)
				}
				st, err := stowage.Open(t.Context(), raw, stowage.Config{})
				if err != nil {
					t.Fatal(err)
				}
				st.Close()
				if got := rawKeys(t, objs); !slices.Equal(got, []string{marker.Key}) {
					t.Errorf("after a read-write open the prefix holds %q, want only %s", got, marker.Key)
				}
				ro, err := stowage.Open(t.Context(), raw, stowage.Config{ReadOnly: true})
				if err != nil {
					t.Fatalf("read-only Open of a store: %v", err)
				}
				ro.Close()
			})
		}
	})
}

// TestOpenStoreReadOnlyOnMemWritesNothing: a read-only Store on a memory
// store with a session refuses a commit and a session deletion, and a raw
// listing afterwards is what it was.
func TestOpenStoreReadOnlyOnMemWritesNothing(t *testing.T) {
	m := memstore.New(nil)
	rw, err := stowage.OpenStore(t.Context(), m, stowage.Config{})
	if err != nil {
		t.Fatal(err)
	}
	s, _ := rw.Session("s1")
	commit(t, s, "s1", "n1")
	before := rawKeys(t, m)
	ro, err := stowage.OpenStore(t.Context(), m, stowage.Config{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	s, _ = ro.Session("s1")
	if r, err := s.LoadSession(t.Context(), session.FullGraph()); err != nil || r == nil {
		t.Fatalf("read-only load: %v, %v", r, err)
	}
	rev := uint64(1)
	_, err = s.CommitRuntimeState(t.Context(), session.RuntimeCommit{SessionID: "s1", ExpectedHeadRevision: &rev,
		Graph: session.GraphDelta{Kind: session.DeltaAppend, Leaf: "n2",
			Nodes: []session.NodeRecord{{NodeID: "n2", Kind: session.PayloadEvent, Event: []byte(`{}`)}}}})
	if !errors.Is(err, objstore.ErrReadOnly) {
		t.Errorf("read-only commit = %v, want ErrReadOnly", err)
	}
	if err := ro.DeleteSession(t.Context(), "s1"); !errors.Is(err, objstore.ErrReadOnly) {
		t.Errorf("read-only DeleteSession = %v, want ErrReadOnly", err)
	}
	if after := rawKeys(t, m); !slices.Equal(before, after) {
		t.Errorf("keys changed under a read-only Store:\nbefore %q\nafter  %q", before, after)
	}
}
