// Package marker is the store marker: one small object at the root of a
// store (key Key) that says "a stowage store lives here, in this format".
//
// The first write to a store creates it, create-only (Ensure, called by
// stowage.Open when it opens read-write). Every reader that must not take a
// wrong target for an empty store calls Check: a prefix with neither a
// marker nor stowage objects is ErrNoStore, and a marker of a newer format
// than this code knows is ErrFormatTooNew, which is the store-wide schema
// gate (an older binary refuses a store a newer one has changed, instead of
// misreading it). A store written before markers existed (stowage objects,
// no marker) is accepted by Check and adopted by the next Ensure.
//
// The marker is plain JSON, not an envelope of internal/codec: it must stay
// readable by every version, whatever the envelope becomes. It lives outside
// every prefix the sweeper deletes under, and the sweeper never deletes it.
// The format is in docs/format.md.
package marker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
	"time"

	"github.com/stowage-dev/stowage/manifest"
	"github.com/stowage-dev/stowage/objstore"
	"github.com/stowage-dev/stowage/session"
)

// Key is the marker's key, at the root of the store (under its prefix).
const Key = "stowage.json"

// Format is the value of Marker.Format.
const Format = "stowage"

// Version is the store format this code reads and writes. A store whose
// marker has a higher Version is refused with ErrFormatTooNew.
const Version = 1

// maxSize bounds the marker a reader accepts.
const maxSize = 64 << 10

// Errors of Check and Ensure.
var (
	// ErrNoStore: the prefix holds neither a marker nor any stowage object.
	// Most often a typo in the bucket or prefix.
	ErrNoStore = errors.New("no stowage store")
	// ErrFormatTooNew: the store was written by a newer stowage, in a
	// format this code does not know. Upgrade before touching it.
	ErrFormatTooNew = errors.New("store format is newer than this stowage supports")
	// ErrBadMarker: the object at Key is not a stowage marker.
	ErrBadMarker = errors.New("not a stowage store marker")
)

// Marker is the content of the marker object.
type Marker struct {
	// Format is always "stowage".
	Format string `json:"format"`
	// Version is the store format version (see Version).
	Version int `json:"version"`
	// Created is when the marker was written (UTC).
	Created time.Time `json:"created"`
	// Creator names the program that wrote it: module path and version,
	// and the Go version, from the binary's build info.
	Creator string `json:"creator"`
}

// New returns the marker this code writes, created at now.
func New(now time.Time) Marker {
	return Marker{Format: Format, Version: Version, Created: now.UTC().Truncate(time.Second), Creator: creator()}
}

// creator names this build: the stowage module's version as the running
// binary was built with it, and the Go version.
func creator() string {
	const module = "github.com/stowage-dev/stowage"
	version := "(devel)"
	if bi, ok := debug.ReadBuildInfo(); ok {
		if bi.Main.Path == module && bi.Main.Version != "" {
			version = bi.Main.Version
		}
		for _, d := range bi.Deps {
			if d.Path == module && d.Version != "" {
				version = d.Version
			}
		}
	}
	return module + " " + version + " " + runtime.Version()
}

// Encode returns m as the marker object's bytes.
func (m Marker) Encode() []byte {
	b, _ := json.MarshalIndent(m, "", "  ") // a struct of plain fields always marshals
	return append(b, '\n')
}

// Decode parses a marker object and checks that this code can use the
// store: ErrBadMarker for anything but a stowage marker, ErrFormatTooNew for
// a newer format.
func Decode(b []byte) (Marker, error) {
	var m Marker
	if err := json.Unmarshal(b, &m); err != nil {
		return Marker{}, fmt.Errorf("%w: %v", ErrBadMarker, err)
	}
	switch {
	case m.Format != Format:
		return m, fmt.Errorf("%w: format %q", ErrBadMarker, m.Format)
	case m.Version < 1:
		return m, fmt.Errorf("%w: version %d", ErrBadMarker, m.Version)
	case m.Version > Version:
		return m, fmt.Errorf("%w: the store is format %d (written by %s), this stowage reads up to %d",
			ErrFormatTooNew, m.Version, m.Creator, Version)
	}
	return m, nil
}

// Read reads and decodes the marker of s; ok is false if there is none.
func Read(ctx context.Context, s objstore.Store) (m Marker, ok bool, err error) {
	rc, _, err := s.Get(ctx, Key, nil)
	if errors.Is(err, objstore.ErrNotExist) {
		return Marker{}, false, nil
	}
	if err != nil {
		return Marker{}, false, fmt.Errorf("marker: read: %w", err)
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, maxSize+1))
	if err != nil {
		return Marker{}, false, fmt.Errorf("marker: read: %w", err)
	}
	if len(b) > maxSize {
		return Marker{}, true, fmt.Errorf("marker: %w: %d bytes or more", ErrBadMarker, len(b))
	}
	m, err = Decode(b)
	if err != nil {
		return m, true, fmt.Errorf("marker: %w", err)
	}
	return m, true, nil
}

// HoldsObjects reports whether s holds any object of stowage's layout (a
// session or attachment key): a store written before markers existed. At
// most two LISTs, each stopped at its first entry.
func HoldsObjects(ctx context.Context, s objstore.Store) (bool, error) {
	for _, prefix := range []string{session.SessionsPrefix, manifest.Prefix} {
		for _, err := range s.List(ctx, prefix, nil) {
			if err != nil {
				return false, fmt.Errorf("marker: look for stowage objects: %w", err)
			}
			return true, nil
		}
	}
	return false, nil
}

// Check tells whether s holds a stowage store this code can use. It writes
// nothing. It returns the marker, or nil for a store that holds stowage
// objects but no marker yet (written before markers existed; the next Ensure
// adopts it). A store with neither is ErrNoStore; a newer format is
// ErrFormatTooNew; an object at Key that is no marker, ErrBadMarker.
func Check(ctx context.Context, s objstore.Store) (*Marker, error) {
	m, ok, err := Read(ctx, s)
	switch {
	case err != nil:
		return nil, err
	case ok:
		return &m, nil
	}
	holds, err := HoldsObjects(ctx, s)
	switch {
	case err != nil:
		return nil, err
	case !holds:
		return nil, fmt.Errorf("marker: %w: neither %s nor any session or attachment is there", ErrNoStore, Key)
	}
	return nil, nil
}

// Ensure makes sure s carries a marker, writing one (create-only, dated
// now) if there is none, whether s is new or an unmarked store written
// before markers existed. It refuses a store whose marker is of a newer
// format (ErrFormatTooNew) or not a marker (ErrBadMarker). Racing Ensures
// agree: one PUT wins and the others read its marker.
func Ensure(ctx context.Context, s objstore.Store, now time.Time) (Marker, error) {
	m, ok, err := Read(ctx, s)
	if err != nil || ok {
		return m, err
	}
	m = New(now)
	_, err = s.Put(ctx, Key, m.Encode(), &objstore.PutOptions{IfNoneMatch: true, ContentType: "application/json"})
	switch {
	case err == nil:
		return m, nil
	case errors.Is(err, objstore.ErrPreconditionFailed), errors.Is(err, objstore.ErrOutcomeUnknown):
		// Another writer's marker, or perhaps ours: read what is there.
		got, ok, rerr := Read(ctx, s)
		if rerr != nil {
			return got, rerr
		}
		if ok {
			return got, nil
		}
	}
	return Marker{}, fmt.Errorf("marker: write %s: %w", Key, err)
}

// IsMarker reports whether key (relative to the store) is the marker's.
func IsMarker(key string) bool { return key == Key }
