package sessiontest

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"hash/crc32"
	"io"
	"strings"
	"testing"

	"github.com/stowage-dev/stowage/fsck"
	"github.com/stowage-dev/stowage/internal/codec"
	"github.com/stowage-dev/stowage/session"
)

var corruptionTests = []namedTest{
	{"CorruptHead", testCorruptHead},
	{"CorruptSegment", testCorruptSegment},
	{"SchemaVersions", testSchemaVersions},
}

func (f *fixture) get(key string) []byte {
	f.t.Helper()
	rc, _, err := f.env.Store.Get(f.ctx, key, nil)
	if err != nil {
		f.t.Fatalf("get %s: %v", key, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		f.t.Fatal(err)
	}
	return b
}

func (f *fixture) put(key string, data []byte) {
	f.t.Helper()
	if _, err := f.env.Store.Put(f.ctx, key, data, nil); err != nil {
		f.t.Fatalf("put %s: %v", key, err)
	}
}

// wantCorrupt checks that err reports key as corrupt, typed.
func wantCorrupt(t *testing.T, what string, err error, key string, sentinel error) {
	t.Helper()
	var ce *session.CorruptError
	if !errors.As(err, &ce) || ce.Key != key || !errors.Is(err, sentinel) {
		t.Fatalf("%s: err = %v, want a *CorruptError for %q matching %v", what, err, key, sentinel)
	}
}

func testCorruptHead(t *testing.T, f *fixture) {
	f.fsck.Expect(fsck.InvHead, "head does not decode")
	s := f.open("ch")
	f.mustCommit(s, appendCommit("ch", 0, "", "a"))
	key := session.HeadKey("ch")
	good := f.get(key)
	for name, bad := range map[string][]byte{
		"garbage":   []byte("not a head at all"),
		"truncated": good[:len(good)-3],
		"bitflip":   append(append([]byte(nil), good[:len(good)-1]...), good[len(good)-1]^0x40),
	} {
		f.put(key, bad)
		fresh := f.open("ch")
		_, err := fresh.LoadSession(f.ctx, session.FullGraph())
		wantCorrupt(t, name+" load", err, key, session.ErrCorrupt)
		_, err = fresh.LoadNode(f.ctx, "a")
		wantCorrupt(t, name+" load node", err, key, session.ErrCorrupt)
		_, err = fresh.CommitRuntimeState(f.ctx, appendCommit("ch", 1, "a", "b"))
		wantCorrupt(t, name+" commit", err, key, session.ErrCorrupt)
		_, err = s.CommitRuntimeState(f.ctx, appendCommit("ch", 1, "a", "b")) // a handle with a cached good head
		wantCorrupt(t, name+" commit from a warm handle", err, key, session.ErrCorrupt)
		if errors.Is(err, session.ErrCommitOutcomeUnknown) {
			t.Fatalf("%s: a refused write over a corrupt head reported an unknown outcome: %v", name, err)
		}
		_, err = fresh.EnqueueQueuedWork(f.ctx, session.QueuedWorkBatchDraft{SessionID: "ch"})
		wantCorrupt(t, name+" enqueue", err, key, session.ErrCorrupt)
		if err := fresh.Delete(f.ctx); !errors.Is(err, session.ErrCorrupt) {
			t.Fatalf("%s delete: %v", name, err)
		}
		if got := f.get(key); !bytes.Equal(got, bad) {
			t.Fatalf("%s: corrupt head was overwritten", name)
		}
	}
}

func testCorruptSegment(t *testing.T, f *fixture) {
	f.fsck.Expect(fsck.InvNamed, "session does not load")
	f.tuning.FlushDeltas = 2
	s := f.open("cs")
	f.chain(s, "cs", 0, "n", 3, "")
	info, err := session.ReadHead(f.ctx, f.env.Store, "cs")
	if err != nil {
		t.Fatal(err)
	}
	var segKey string
	for _, k := range info.Keys {
		if _, kind, _ := session.ParseKey(k); kind == session.KeySegment {
			segKey = k
		}
	}
	if segKey == "" {
		t.Fatalf("no segment after a flush: %v", info.Keys)
	}
	// Damage the first block, which holds n0: each block carries its own
	// checksum, so a read that does not touch a block cannot see it.
	good := f.get(segKey)
	bad := append([]byte(nil), good...)
	bad[30] ^= 0xff
	f.put(segKey, bad)
	_, err = f.open("cs").LoadSession(f.ctx, session.FullGraph())
	wantCorrupt(t, "load", err, segKey, session.ErrCorrupt)
	_, err = f.open("cs").LoadNode(f.ctx, "n0")
	wantCorrupt(t, "load node", err, segKey, session.ErrCorrupt)
	// Later commits either succeed without touching the segment or fail
	// on it; none rewrites it or drops it from the head.
	w := f.open("cs")
	for i := 3; i < 8; i++ {
		_, err := w.CommitRuntimeState(f.ctx, appendCommit("cs", uint64(i), "", "m"+string(rune('0'+i))))
		if err != nil {
			wantCorrupt(t, "merging commit", err, segKey, session.ErrCorrupt)
			break
		}
	}
	if got := f.get(segKey); !bytes.Equal(got, bad) {
		t.Fatalf("corrupt segment was rewritten")
	}
	_, err = f.open("cs").LoadSession(f.ctx, session.FullGraph())
	wantCorrupt(t, "load after commits", err, segKey, session.ErrCorrupt)
}

// reversion rewrites an envelope's schema version and fixes its checksum,
// as a writer of that version would have produced it.
func reversion(data []byte, v uint16) []byte {
	out := append([]byte(nil), data...)
	binary.BigEndian.PutUint16(out[6:8], v)
	tab := crc32.MakeTable(crc32.Castagnoli)
	crc := crc32.Update(0, tab, out[:20])
	crc = crc32.Update(crc, tab, out[24:])
	binary.BigEndian.PutUint32(out[20:24], crc)
	return out
}

// headSchema is the head envelope the session package writes (schema 2
// added the sweep generation, schema 3 bounded compaction, schema 4 the
// incarnation and the recent-write window, schema 5 announced turns,
// schema 6 packed segments, schema 7 the writers of announced turns; it
// reads schemas 1 to 6 too).
var headSchema = codec.Schema{Kind: "HEAD", Current: 7, Min: 1}

func testSchemaVersions(t *testing.T, f *fixture) {
	f.fsck.Expect(fsck.InvNamed, "session does not load")
	s := f.open("sv")
	c := appendCommit("sv", 0, "", "a")
	c.Checkpoint = &session.HydratedCheckpoint{ToolState: []byte(`{}`)}
	f.mustCommit(s, c)
	key := session.HeadKey("sv")
	good := f.get(key)
	all := []error{session.ErrCorrupt, session.ErrSchemaMissing, session.ErrSchemaUnsupported, session.ErrSchemaInvalid}
	check := func(name string, data []byte, want error) {
		t.Helper()
		f.put(key, data)
		_, err := f.open("sv").LoadSession(f.ctx, session.FullGraph())
		for _, e := range all {
			if errors.Is(err, e) != (e == want) {
				t.Fatalf("%s: err %v; matches %v = %v", name, err, e, errors.Is(err, e))
			}
		}
		var ce *session.CorruptError
		if !errors.As(err, &ce) || ce.Key != key {
			t.Fatalf("%s: not a *CorruptError naming the head: %v", name, err)
		}
	}
	check("newer head", reversion(good, 99), session.ErrSchemaUnsupported)
	check("versionless head", reversion(good, 0), session.ErrSchemaMissing)
	// Schemas 1 (before the sweep generation), 2 (before bounded
	// compaction), 3 (before the incarnation and window), 4 (before
	// announced turns) and 5 (before packed segments) still read, and a
	// commit on them works.
	for _, v := range []uint16{1, 2, 3, 4, 5} {
		f.put(key, reversion(good, v))
		if r, err := f.open("sv").LoadSession(f.ctx, session.FullGraph()); err != nil || r == nil || r.HeadRevision != 1 {
			t.Fatalf("schema-%d head: %+v, %v", v, r, err)
		}
	}
	f.mustCommit(f.open("sv"), appendCommit("sv", 1, "a", "b"))
	f.put(key, good)

	// The checkpoint manifest is a JSON document with its own version.
	payload, _, err := codec.DecodeRaw(headSchema, good)
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(payload, &doc); err != nil {
		t.Fatal(err)
	}
	ref := doc["checkpoint_ref"].(string)
	for name, want := range map[string]error{
		`"schema_version":"one"`: session.ErrSchemaInvalid,
		`"schema_version":7`:     session.ErrSchemaUnsupported,
		`"no_version":1`:         session.ErrSchemaMissing,
	} {
		blobs := doc["blobs"].(map[string]any)
		loc := blobs[ref].(map[string]any)
		manifest := `{` + name + `,"turn_state":{"turn_index":0},"plugin_snapshot_revision":0}`
		loc["inline"] = []byte(manifest)
		raw, _ := json.Marshal(doc)
		enc, err := codec.EncodeRaw(headSchema, raw)
		if err != nil {
			t.Fatal(err)
		}
		check("checkpoint "+strings.TrimSpace(name), enc, want)
	}
}
