package main

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/stowage-dev/stowage/internal/codec"
	"github.com/stowage-dev/stowage/objstore"
	"github.com/stowage-dev/stowage/session"
)

// readObject reads a stowage object and returns its kind and JSON payload,
// verifying the envelope (magic, checksum, compression) of docs/format.md
// whatever the kind and schema version.
func readObject(ctx context.Context, objs objstore.Store, key string) (kind string, payload []byte, err error) {
	body, _, err := objs.Get(ctx, key, nil)
	if err != nil {
		return "", nil, err
	}
	defer body.Close()
	data, err := io.ReadAll(io.LimitReader(body, codec.MaxPayloadLen+64))
	if err != nil {
		return "", nil, err
	}
	// A blocked segment is a sequence of envelopes: its footer, last, is
	// what describes it.
	for {
		env, _, rest, err := codec.Split(data)
		if err != nil {
			return "", nil, fmt.Errorf("object %q: %w", key, err)
		}
		if len(rest) == 0 {
			data = env
			break
		}
		data = rest
	}
	kind, ver := string(data[8:12]), binary.BigEndian.Uint16(data[6:8])
	if ver == 0 {
		ver = 1 // let DecodeRaw report the missing version
	}
	payload, _, err = codec.DecodeRaw(codec.Schema{Kind: kind, Current: ver, Min: ver}, data)
	if err != nil {
		return kind, nil, fmt.Errorf("object %q: %w", key, err)
	}
	return kind, payload, nil
}

// commitRecord is one entry of a session's revision log, as the head's
// tail and the segments' commit records hold it (docs/format.md).
type commitRecord struct {
	Rev           uint64            `json:"rev"`
	CommitID      string            `json:"commit_id"`
	At            time.Time         `json:"at"`
	Reset         bool              `json:"reset,omitempty"`
	TurnID        string            `json:"turn_id,omitempty"`
	AttachmentIDs []string          `json:"attachment_ids,omitempty"`
	Nodes         []json.RawMessage `json:"nodes,omitempty"`
}

// headDoc is the part of a head the log needs.
type headDoc struct {
	SessionID string `json:"session_id"`
	Revision  uint64 `json:"revision"`
	Deleted   bool   `json:"deleted"`
	Segs      []struct {
		ID      string `json:"id"`
		FromRev uint64 `json:"from_rev"`
		ToRev   uint64 `json:"to_rev"`
	} `json:"segs"`
	Tail []commitRecord `json:"tail"`
}

// segmentDoc is the part of a segment the log needs.
type segmentDoc struct {
	Commits []commitRecord `json:"commits"`
}

// revisionLog returns sid's commit records, oldest first: those of the
// segments the head names, then the head's tail. Segments are merged
// logarithmically, so a revision appears in exactly one of them.
func revisionLog(ctx context.Context, objs objstore.Store, sid string) ([]commitRecord, error) {
	_, payload, err := readObject(ctx, objs, session.HeadKey(sid))
	if err != nil {
		return nil, err
	}
	var h headDoc
	if err := json.Unmarshal(payload, &h); err != nil {
		return nil, fmt.Errorf("head of %s: %w", sid, err)
	}
	var out []commitRecord
	for _, s := range h.Segs {
		_, payload, err := readObject(ctx, objs, session.SessionPrefix(sid)+string(session.KeySegment)+"/"+s.ID)
		if err != nil {
			return nil, err
		}
		var seg segmentDoc
		if err := json.Unmarshal(payload, &seg); err != nil {
			return nil, fmt.Errorf("segment %s of %s: %w", s.ID, sid, err)
		}
		out = append(out, seg.Commits...)
	}
	out = append(out, h.Tail...)
	slices.SortStableFunc(out, func(a, b commitRecord) int {
		switch {
		case a.Rev < b.Rev:
			return -1
		case a.Rev > b.Rev:
			return 1
		}
		return 0
	})
	return slices.CompactFunc(out, func(a, b commitRecord) bool { return a.Rev == b.Rev }), nil
}
