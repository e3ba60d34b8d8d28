package fsck

import (
	"errors"

	"github.com/stowage-dev/stowage/manifest"
	"github.com/stowage-dev/stowage/objstore"
	"github.com/stowage-dev/stowage/session"
)

// This file is the one place where fsck tells a damaged object (a problem
// found, exit 3) from a failure to check (the store could not be read,
// exit 1), whatever the backend: S3 hands back damaged bytes for the
// decoders to refuse, a file store refuses them itself (its object files
// carry a checksum trailer) on every read, HEAD and LIST included.

// damaged reports whether err, from reading a stored object (or listing
// it), says that the object is damaged: its bytes do not decode
// (*session.CorruptError, *manifest.UnreadableError, session.ErrCorrupt)
// or the backend's own checksum of the stored bytes fails on reading them
// back (objstore.ErrChecksum).
func damaged(err error) bool {
	var corrupt *session.CorruptError
	var unreadable *manifest.UnreadableError
	return errors.As(err, &corrupt) || errors.As(err, &unreadable) ||
		errors.Is(err, session.ErrCorrupt) || errors.Is(err, objstore.ErrChecksum)
}

// damagedKey returns the key of the object err says is damaged (the
// innermost the error names), or key when it names none.
func damagedKey(err error, key string) string {
	var corrupt *session.CorruptError
	var unreadable *manifest.UnreadableError
	var op *objstore.OpError
	switch {
	case errors.As(err, &corrupt) && corrupt.Key != "":
		return corrupt.Key
	case errors.As(err, &unreadable) && unreadable.Key != "":
		return unreadable.Key
	case errors.As(err, &op) && op.Key != "":
		return op.Key
	}
	return key
}

// readFailed sorts the error of reading key: a damaged object is reported
// as a problem of invariant inv under the damaged object's key (detail:
// what, then the error) and listed as unreadable, and readFailed returns
// nil, the check going on; any other error is returned, to stop the check.
func (c *checker) readFailed(err error, inv, key, what string) error {
	if !damaged(err) {
		return err
	}
	c.damagedObject(inv, damagedKey(err, key), what, err)
	return nil
}

// listFailed sorts an error a listing yields: an object the listing found
// damaged (a file store's LIST reads each file's trailer, yields the
// damaged one as an error and goes on) is reported as a problem of
// invariant inv and the listing goes on (nil); any other error stops the
// check. skip tells the objects another check reports.
func (c *checker) listFailed(err error, info objstore.ObjectInfo, inv, what string, skip func(key string) bool) error {
	key := damagedKey(err, info.Key)
	if !damaged(err) || key == "" {
		return err
	}
	if skip == nil || !skip(key) {
		c.damagedObject(inv, key, what, err)
	}
	return nil
}

// loadFailed sorts the error of a load that reads several objects (a
// session, an attachment): a failure to read the store stops the check;
// anything else (a damaged or missing object, bytes that do not hash to
// their id) is a problem of invariant inv, reported under the key of the
// damaged object when the error names one, else under key.
func (c *checker) loadFailed(err error, inv, key, what string) error {
	if isStorageFailure(err) {
		return err
	}
	if damaged(err) {
		c.damagedObject(inv, damagedKey(err, key), what, err)
		return nil
	}
	c.problem(inv, key, "%s: %v", what, err)
	return nil
}

// damagedObject reports the damaged object key once, as a problem of
// invariant inv, and lists it as unreadable.
func (c *checker) damagedObject(inv, key, what string, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, k := range c.rep.Unreadable {
		if k == key {
			return // reported already (listed, then read)
		}
	}
	c.rep.Unreadable = append(c.rep.Unreadable, key)
	c.rep.Problems = append(c.rep.Problems, Problem{Invariant: inv, Key: key, Detail: what + ": " + err.Error()})
}

// isStorageFailure tells a failure to read (retryable, permission,
// closed) from a violated invariant (missing or corrupt objects).
func isStorageFailure(err error) bool {
	return objstore.IsRetryable(err) || errors.Is(err, objstore.ErrPermission) ||
		errors.Is(err, objstore.ErrClosed) || errors.Is(err, objstore.ErrOutcomeUnknown)
}
