package objstore

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
)

// ErrConditionsNotEnforced is returned by Probe when the store does not
// enforce conditional puts (create-only or compare-and-swap). Nothing built
// on this package is safe on such a store, so it must not be opened for
// writing.
var ErrConditionsNotEnforced = errors.New("conditional writes not enforced")

// DefaultProbePrefix is where Probe makes its scratch prefix.
const DefaultProbePrefix = "_stowage/probe/"

// ProbeOptions are the options of Probe.
type ProbeOptions struct {
	// Prefix under which a unique scratch prefix is made; "" means
	// DefaultProbePrefix. Everything the probe writes lives under it and is
	// deleted when the probe ends.
	Prefix string
	// ReadOnly runs only the read checks (a Head and a List that must find
	// nothing); the write capabilities are left unverified.
	ReadOnly bool
	// Multipart also checks conditional multipart completion, if the store
	// claims it, by uploading two bodies of MinPartSize+1 bytes.
	Multipart bool
	// CleanupTimeout bounds the cleanup, which runs even if ctx is done;
	// 0 means 30s.
	CleanupTimeout time.Duration
}

// ProbeResult is what Probe found.
type ProbeResult struct {
	// Claimed is what the store's Capabilities claimed.
	Claimed Capabilities
	// Capabilities is Claimed with every claim the probe checked and found
	// false cleared. A claim the probe did not check is kept and named in
	// Unverified; a capability the store does not claim stays false even if
	// it appeared to work.
	Capabilities Capabilities
	// Problems describes each broken claim or contract violation found.
	Problems []string
	// Unverified names the claimed capabilities that were not checked.
	Unverified []string
}

// Probe checks, against the live store and under a unique scratch prefix,
// that the conditions the store claims are enforced:
//
//   - reads: a Head and a List of the fresh prefix find nothing, and
//     listing its uploads succeeds (a failure is a problem, not fatal); a
//     Head refused without saying why (ErrPermission but not
//     ErrCredentials) is followed by a List, whose error is returned if it
//     matches ErrCredentials;
//   - a missing key whose name is a directory of keys deletes as missing
//     (a failure is a problem);
//   - create-only: a second If-None-Match put of a key fails with
//     ErrPreconditionFailed and leaves the first object;
//   - compare-and-swap: an If-Match put with the current ETag succeeds, one
//     with a stale ETag fails and changes nothing, and one on a missing key
//     fails and creates nothing;
//   - conditional delete, if claimed: a delete with a wrong ETag fails and
//     keeps the object, one with the right ETag deletes it; if not claimed,
//     a conditional delete returns ErrNotSupported and deletes nothing;
//   - conditional multipart completion, with opts.Multipart and if claimed.
//
// It then deletes what it wrote. The error wraps ErrConditionsNotEnforced if
// create-only or compare-and-swap puts are not enforced; any other error
// means the probe could not run (no bucket, no permission, no network). The
// result is filled in either way.
func Probe(ctx context.Context, s Store, opts *ProbeOptions) (ProbeResult, error) {
	var o ProbeOptions
	if opts != nil {
		o = *opts
	}
	if o.Prefix == "" {
		o.Prefix = DefaultProbePrefix
	}
	if o.CleanupTimeout <= 0 {
		o.CleanupTimeout = 30 * time.Second
	}
	claimed := s.Capabilities()
	res := ProbeResult{Claimed: claimed, Capabilities: claimed}
	var id [16]byte
	_, _ = rand.Read(id[:])
	p := &prober{s: s, scratch: o.Prefix + hex.EncodeToString(id[:]) + "/", res: &res}

	if err := p.checkReads(ctx); err != nil {
		return res, err
	}
	if o.ReadOnly {
		p.unverified(claimed.ConditionalPut, "conditional put")
		p.unverified(claimed.CompareAndSwap, "compare-and-swap")
		p.unverified(claimed.ConditionalDelete, "conditional delete")
		p.unverified(claimed.ConditionalMultipart, "conditional multipart")
		return res, nil
	}
	defer p.cleanup(ctx, o.CleanupTimeout)
	for _, check := range []func(context.Context) error{p.checkCreateOnly, p.checkCAS, p.checkDelete} {
		if err := check(ctx); err != nil {
			return res, fmt.Errorf("objstore: probe %s: %w", claimed.Provider, err)
		}
	}
	if o.Multipart && claimed.ConditionalMultipart {
		if err := p.checkMultipart(ctx); err != nil {
			return res, fmt.Errorf("objstore: probe %s: %w", claimed.Provider, err)
		}
	} else {
		p.unverified(claimed.ConditionalMultipart, "conditional multipart")
	}
	if !res.Capabilities.ConditionalPut || !res.Capabilities.CompareAndSwap {
		return res, fmt.Errorf("objstore: probe %s: %w: %s", claimed.Provider, ErrConditionsNotEnforced, strings.Join(res.Problems, "; "))
	}
	return res, nil
}

type prober struct {
	s       Store
	scratch string
	res     *ProbeResult
}

func (p *prober) problem(format string, args ...any) {
	p.res.Problems = append(p.res.Problems, fmt.Sprintf(format, args...))
}

func (p *prober) unverified(claimed bool, what string) {
	if claimed {
		p.res.Unverified = append(p.res.Unverified, what)
	}
}

// content returns the body under key, or nil if it does not exist.
func (p *prober) content(ctx context.Context, key string) ([]byte, error) {
	rc, _, err := p.s.Get(ctx, key, nil)
	if errors.Is(err, ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return io.ReadAll(rc)
}

// unexpected wraps an error a check did not expect: the probe cannot go on.
func unexpected(step string, err error) error { return fmt.Errorf("%s: %w", step, err) }

func (p *prober) checkReads(ctx context.Context) error {
	key := p.scratch + "absent"
	if _, err := p.s.Head(ctx, key); err == nil {
		return fmt.Errorf("objstore: probe: head of missing key %q succeeded", key)
	} else if !errors.Is(err, ErrNotExist) {
		if lerr := p.credentials(ctx, err); lerr != nil {
			return fmt.Errorf("objstore: probe: list (the head of a missing key was refused with no error code): %w", lerr)
		}
		return fmt.Errorf("objstore: probe: head of missing key: %w", err)
	}
	for info, err := range p.s.List(ctx, p.scratch, nil) {
		if err != nil {
			return fmt.Errorf("objstore: probe: list: %w", err)
		}
		return fmt.Errorf("objstore: probe: fresh scratch prefix %q holds %q", p.scratch, info.Key)
	}
	// Not fatal: a reader may lack the permission to list uploads, and
	// only the sweeper and fsck need it.
	for _, err := range p.s.ListUploads(ctx, p.scratch) {
		if err != nil {
			p.problem("listing multipart uploads failed: %v%s", err, hint(errors.Is(err, ErrNotExist)))
		}
		break
	}
	return nil
}

// credentials returns the error of a List if it says the credentials were
// refused and headErr, a refused Head, could not say so (a HEAD's response
// has no body, so its 403 may carry no error code); else nil.
func (p *prober) credentials(ctx context.Context, headErr error) error {
	if !errors.Is(headErr, ErrPermission) || errors.Is(headErr, ErrCredentials) {
		return nil
	}
	for _, err := range p.s.List(ctx, p.scratch, nil) {
		if errors.Is(err, ErrCredentials) {
			return err
		}
		break
	}
	return nil
}

// hint names the server known to behave as a failed check found, if it
// did.
func hint(rclone bool) string {
	if !rclone {
		return ""
	}
	return " (rclone serve s3 does this; open it with quirks=rclone)"
}

func (p *prober) checkCreateOnly(ctx context.Context) error {
	key := p.scratch + "create"
	create := &PutOptions{IfNoneMatch: true}
	if _, err := p.s.Put(ctx, key, []byte("probe-create-1"), create); err != nil {
		if errors.Is(err, ErrNotSupported) {
			p.res.Capabilities.ConditionalPut = false
			p.problem("create-only put is not supported: %v", err)
			return nil
		}
		return unexpected("create-only put", err)
	}
	_, err := p.s.Put(ctx, key, []byte("probe-create-2"), create)
	switch {
	case err == nil:
		p.res.Capabilities.ConditionalPut = false
		p.problem("a second create-only put of an existing key succeeded (If-None-Match ignored)")
	case !errors.Is(err, ErrPreconditionFailed):
		return unexpected("second create-only put", err)
	}
	got, err := p.content(ctx, key)
	if err != nil {
		return unexpected("read back create-only object", err)
	}
	if !bytes.Equal(got, []byte("probe-create-1")) {
		p.res.Capabilities.ConditionalPut = false
		p.problem("a create-only put that should have failed replaced the object (holds %q)", got)
	}
	return nil
}

func (p *prober) checkCAS(ctx context.Context) error {
	key := p.scratch + "cas"
	first, err := p.s.Put(ctx, key, []byte("probe-cas-1"), nil)
	if err != nil {
		return unexpected("put", err)
	}
	broken := func(format string, args ...any) {
		p.res.Capabilities.CompareAndSwap = false
		p.problem(format, args...)
	}
	_, err = p.s.Put(ctx, key, []byte("probe-cas-2"), &PutOptions{IfMatch: first.ETag})
	switch {
	case errors.Is(err, ErrNotSupported):
		broken("compare-and-swap put is not supported: %v", err)
		return nil
	case errors.Is(err, ErrPreconditionFailed):
		broken("compare-and-swap with the current ETag failed: %v", err)
		return nil
	case err != nil:
		return unexpected("compare-and-swap put", err)
	}
	_, err = p.s.Put(ctx, key, []byte("probe-cas-3"), &PutOptions{IfMatch: first.ETag})
	switch {
	case err == nil:
		broken("compare-and-swap with a stale ETag succeeded (If-Match ignored)")
	case !errors.Is(err, ErrPreconditionFailed):
		return unexpected("stale compare-and-swap put", err)
	}
	if got, err := p.content(ctx, key); err != nil {
		return unexpected("read back compare-and-swap object", err)
	} else if !bytes.Equal(got, []byte("probe-cas-2")) {
		broken("after a failed compare-and-swap the object holds %q, want %q", got, "probe-cas-2")
	}
	missing := p.scratch + "cas-missing"
	_, err = p.s.Put(ctx, missing, []byte("probe-cas-missing"), &PutOptions{IfMatch: first.ETag})
	switch {
	case err == nil:
		broken("compare-and-swap on a missing key succeeded and created it")
	case !errors.Is(err, ErrPreconditionFailed):
		return unexpected("compare-and-swap put on a missing key", err)
	default:
		if got, err := p.content(ctx, missing); err != nil {
			return unexpected("read back missing key", err)
		} else if got != nil {
			broken("a failed compare-and-swap on a missing key created it")
		}
	}
	return nil
}

func (p *prober) checkDelete(ctx context.Context) error {
	key := p.scratch + "delete"
	info, err := p.s.Put(ctx, key, []byte("probe-delete"), nil)
	if err != nil {
		return unexpected("put", err)
	}
	// A well-formed ETag of other content, as a stale delete would carry.
	other, err := p.s.Put(ctx, p.scratch+"delete-other", []byte("probe-delete-other"), nil)
	if err != nil {
		return unexpected("put", err)
	}
	// The scratch prefix now holds keys: a server that stores keys as
	// paths has a directory under its name, which must delete as the
	// missing key it is.
	if dir := strings.TrimSuffix(p.scratch, "/"); ValidateKey(dir) == nil {
		if err := p.s.Delete(ctx, dir, nil); err != nil {
			p.problem("deleting the missing key %q, a directory of keys, failed: %v%s", dir, err, hint(errors.Is(err, ErrUnavailable)))
		}
	}
	exists := func() (bool, error) {
		_, err := p.s.Head(ctx, key)
		if errors.Is(err, ErrNotExist) {
			return false, nil
		}
		return err == nil, err
	}

	if !p.res.Claimed.ConditionalDelete {
		err := p.s.Delete(ctx, key, &DeleteOptions{IfMatch: info.ETag})
		ok, herr := exists()
		if herr != nil {
			return unexpected("head after conditional delete", herr)
		}
		if !ok {
			p.problem("a conditional delete on a store without ConditionalDelete deleted the object (want ErrNotSupported and nothing deleted); err: %v", err)
		} else if !errors.Is(err, ErrNotSupported) {
			p.problem("a conditional delete on a store without ConditionalDelete returned %v, want ErrNotSupported", err)
		}
		return nil
	}

	broken := func(format string, args ...any) {
		p.res.Capabilities.ConditionalDelete = false
		p.problem(format, args...)
	}
	err = p.s.Delete(ctx, key, &DeleteOptions{IfMatch: other.ETag})
	ok, herr := exists()
	switch {
	case herr != nil:
		return unexpected("head after conditional delete", herr)
	case !ok:
		broken("a delete with a wrong ETag deleted the object (If-Match on DELETE ignored); err: %v", err)
		return nil
	case errors.Is(err, ErrNotSupported):
		broken("conditional delete is claimed but returned %v", err)
		return nil
	case err == nil:
		broken("a delete with a wrong ETag reported success")
		return nil
	case !errors.Is(err, ErrPreconditionFailed):
		return unexpected("conditional delete with a wrong ETag", err)
	}
	if err := p.s.Delete(ctx, key, &DeleteOptions{IfMatch: info.ETag}); err != nil {
		if errors.Is(err, ErrPreconditionFailed) {
			broken("a delete with the current ETag failed: %v", err)
			return nil
		}
		return unexpected("conditional delete with the current ETag", err)
	}
	if ok, herr := exists(); herr != nil {
		return unexpected("head after conditional delete", herr)
	} else if ok {
		broken("a delete with the current ETag reported success but kept the object")
	}
	return nil
}

func (p *prober) checkMultipart(ctx context.Context) error {
	key := p.scratch + "multipart"
	if _, err := p.s.Put(ctx, key, []byte("probe-multipart"), nil); err != nil {
		return unexpected("put", err)
	}
	body := bytes.Repeat([]byte("stowage-probe-multipart "), MinPartSize/24+1)
	opts := &UploadOptions{PutOptions: PutOptions{IfNoneMatch: true}, PartSize: MinPartSize, Concurrency: 1}
	broken := func(format string, args ...any) {
		p.res.Capabilities.ConditionalMultipart = false
		p.problem(format, args...)
	}
	_, err := p.s.Upload(ctx, key, bytes.NewReader(body), opts)
	switch {
	case err == nil:
		broken("a create-only multipart upload over an existing key succeeded (condition ignored at completion)")
		return nil
	case !errors.Is(err, ErrPreconditionFailed):
		return unexpected("create-only multipart upload over an existing key", err)
	}
	if got, err := p.content(ctx, key); err != nil {
		return unexpected("read back", err)
	} else if !bytes.Equal(got, []byte("probe-multipart")) {
		broken("a failed create-only multipart upload replaced the object")
		return nil
	}
	if _, err := p.s.Upload(ctx, p.scratch+"multipart-new", bytes.NewReader(body), opts); err != nil {
		if errors.Is(err, ErrPreconditionFailed) {
			broken("a create-only multipart upload of a new key failed: %v", err)
			return nil
		}
		return unexpected("create-only multipart upload of a new key", err)
	}
	return nil
}

// cleanup deletes everything under the scratch prefix and aborts its
// uploads, even if ctx is done. Failures are recorded as problems.
func (p *prober) cleanup(ctx context.Context, timeout time.Duration) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), timeout)
	defer cancel()
	var keys []string
	for info, err := range p.s.List(ctx, p.scratch, nil) {
		if err != nil {
			p.problem("cleanup: list %q: %v", p.scratch, err)
			break
		}
		keys = append(keys, info.Key)
	}
	if len(keys) > 0 {
		if err := p.s.DeleteMany(ctx, keys); err != nil {
			p.problem("cleanup: delete: %v", err)
		}
	}
	// Some servers (MinIO) list uploads only by exact key, so the keys the
	// multipart check used are listed on their own too.
	aborted := map[string]bool{}
	for _, prefix := range []string{p.scratch, p.scratch + "multipart", p.scratch + "multipart-new"} {
		for u, err := range p.s.ListUploads(ctx, prefix) {
			if err != nil {
				p.problem("cleanup: list uploads %q: %v", prefix, err)
				break
			}
			if aborted[u.UploadID] {
				continue
			}
			aborted[u.UploadID] = true
			if err := p.s.AbortUpload(ctx, u.Key, u.UploadID); err != nil {
				p.problem("cleanup: abort upload of %q: %v", u.Key, err)
			}
		}
	}
}
