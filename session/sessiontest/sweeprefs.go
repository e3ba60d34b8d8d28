package sessiontest

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/stowage-dev/stowage/internal/codec"
	"github.com/stowage-dev/stowage/manifest"
	"github.com/stowage-dev/stowage/session"
)

// testHeadRefs: HeadRefs finds every attachment id a published commit
// named, in the tail and in (merged) segments, also through indexes written
// before they listed attachment ids, with the commit's time; and nothing for
// an unknown id or a deleted session.
func testHeadRefs(t *testing.T, f *fixture) {
	f.tuning.FlushDeltas = 2
	sid := "refs"
	s := f.open(sid)
	var ids []string
	var times []time.Time
	parent := ""
	for i := range 7 {
		id := f.intent(s, sid, byte('a'+i), manifest.Owner{})
		c := appendCommit(sid, uint64(i), parent, fmt.Sprintf("r%d", i))
		c.CommittedAttachmentIDs = []string{id}
		times = append(times, f.clock.Now())
		f.mustCommit(s, c)
		f.clock.Advance(time.Minute)
		ids, parent = append(ids, id), fmt.Sprintf("r%d", i)
	}
	h, err := session.ReadHead(f.ctx, f.env.Store, sid)
	if err != nil || len(h.CommittedAttachmentIDs) >= len(ids) {
		t.Fatalf("want most ids in segments, not the tail: %v, %v", h, err)
	}
	refs := session.HeadRefs{Store: f.env.Store}
	check := func(what string) {
		t.Helper()
		for i, id := range ids {
			ok, at, err := refs.Committed(f.ctx, sid, id)
			if err != nil || !ok || !at.Equal(times[i]) {
				t.Fatalf("%s: commit %d's id: %v at %v, %v (want %v)", what, i, ok, at, err, times[i])
			}
		}
		if ok, _, err := refs.Committed(f.ctx, sid, hexID('z')); ok || err != nil {
			t.Fatalf("%s: an id no commit named: %v, %v", what, ok, err)
		}
	}
	check("current indexes")

	// Indexes of an older release do not list attachment ids: the segments
	// are read instead. Older releases kept every index in its own object.
	h = unpackSegments(t, f, sid)
	schema := codec.Schema{Kind: "SIDX", Current: 2, Min: 1}
	legacy := codec.Schema{Kind: "SIDX", Current: 1, Min: 1}
	n := 0
	for _, k := range h.Keys {
		if _, kind, _ := session.ParseKey(k); kind != session.KeyIndex {
			continue
		}
		payload, _, err := codec.DecodeRaw(schema, f.get(k))
		if err != nil {
			t.Fatal(err)
		}
		var doc map[string]any
		if err := json.Unmarshal(payload, &doc); err != nil {
			t.Fatal(err)
		}
		if _, ok := doc["attachment_ids"]; !ok {
			t.Fatalf("index %s lists no attachment ids: %s", k, payload)
		}
		for _, field := range []string{"attachment_ids", "blocks", "parents", "block_table", "footer"} {
			delete(doc, field) // schema 1, before attachment ids
		}
		raw, _ := json.Marshal(doc)
		enc, err := codec.EncodeRaw(legacy, raw)
		if err != nil {
			t.Fatal(err)
		}
		f.put(k, enc)
		n++
	}
	if n == 0 {
		t.Fatal("no segment index")
	}
	check("legacy indexes")

	// A fresh handle: s cached the head before it was rewritten.
	if err := f.open(sid).Delete(f.ctx); err != nil {
		t.Fatal(err)
	}
	if ok, _, err := refs.Committed(f.ctx, sid, ids[0]); ok || err != nil {
		t.Fatalf("a deleted session committed: %v, %v", ok, err)
	}
}

// unpackSegments rewrites session sid as a release before packed segments
// left it: each packed segment's index moved to its own object and the
// head, of schema 5, naming no index range. It returns the head's info.
func unpackSegments(t *testing.T, f *fixture, sid string) *session.HeadInfo {
	t.Helper()
	key := session.HeadKey(sid)
	payload, _, err := codec.DecodeRaw(headSchema, f.get(key))
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(payload, &doc); err != nil {
		t.Fatal(err)
	}
	segs, _ := doc["segs"].([]any)
	for _, s := range segs {
		ref := s.(map[string]any)
		at, ok := ref["index"].(map[string]any)
		if !ok {
			continue
		}
		id := ref["id"].(string)
		off, n := int(at["off"].(float64)), int(at["len"].(float64))
		prefix := session.SessionPrefix(sid)
		data := f.get(prefix + "seg/" + id)
		f.put(prefix+"idx/"+id, data[off:off+n])
		f.put(prefix+"seg/"+id, data[:off])
		delete(ref, "index")
	}
	raw, _ := json.Marshal(doc)
	enc, err := codec.EncodeRaw(codec.Schema{Kind: "HEAD", Current: 5, Min: 1}, raw)
	if err != nil {
		t.Fatal(err)
	}
	f.put(key, enc)
	h, err := session.ReadHead(f.ctx, f.env.Store, sid)
	if err != nil {
		t.Fatal(err)
	}
	return h
}
