// Package openurl opens an objstore.Store by URL, and is the one place where
// the decorators are composed.
//
// # URLs
//
//	s3://bucket/prefix?endpoint=http://127.0.0.1:9000&region=us-east-1&path_style=true&quirks=versitygw
//	minio://bucket/prefix?endpoint=127.0.0.1:9000&tls=false
//	file:///absolute/dir   file:relative/dir
//	mem://
//
// See ParseURL. The endpoint and region may come from the standard AWS
// variables instead (see Spec.WithEnv). Credentials come only from the
// standard AWS chain (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, AWS_PROFILE,
// web identity, instance roles); a URL that carries one is refused.
//
// # Backends
//
// Each scheme has an Opener, registered with Register. This package
// registers mem and file (memstore, fsstore); package objstore/all
// registers s3 and minio (s3store, miniostore), so that a program that does
// not import it links no S3 SDK. Metrics come through Options.Metrics
// (instrument.For), so that this package links no metrics library.
//
// # Composition
//
// From the inside out:
//
//	backend -> WithPrefix -> instrument -> retry [-> capability guard] [-> read-only guard]
//
// The order is deliberate:
//
//   - WithPrefix is innermost, so every layer above sees the caller's keys
//     and nothing can reach outside the prefix.
//   - instrument sits below retry so that it measures every attempt: the
//     throttling and unavailability that retries hide from callers still
//     show in the metrics, and latencies are the server's, not backoffs.
//     The retries themselves are counted by instrument.RetryObserver.
//   - retry is outermost among the decorators, so its ambiguity read-backs
//     go through the same prefix and metrics as everything else.
//   - Then the store is probed (objstore.Probe) through the whole stack,
//     unless Options.SkipProbe. If conditional puts are not enforced, Open
//     refuses the store (ErrConditionsNotEnforced). If the probe disproves
//     a lesser claim (conditional delete, conditional multipart), the store
//     reports the confirmed Capabilities and refuses conditional deletes it
//     cannot honour with ErrNotSupported.
//   - With Options.ReadOnly only the probe's read checks run, and every
//     write returns objstore.ErrReadOnly (which matches ErrPermission too).
package openurl

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/stowage-dev/stowage/internal/s3compat"
	"github.com/stowage-dev/stowage/objstore"
	"github.com/stowage-dev/stowage/objstore/fsstore"
	"github.com/stowage-dev/stowage/objstore/memstore"
	"github.com/stowage-dev/stowage/objstore/retry"
)

// Options configure Open. A nil *Options is the zero value.
type Options struct {
	// ReadOnly opens the store for reading: nothing is written or created
	// (a file store creates no directory and no lock file; a directory that
	// does not exist is an empty store), the probe runs only its read
	// checks, and every write fails with objstore.ErrReadOnly.
	ReadOnly bool
	// SkipProbe skips the probe altogether (tests that count requests).
	SkipProbe bool
	// Probe adds probe options (Multipart, Prefix); ReadOnly is taken from
	// Options.ReadOnly.
	Probe objstore.ProbeOptions
	// Metrics, if set, instruments the store below the retry decorator
	// (every attempt is measured) and counts the retries; nil means no
	// metrics. instrument.For(registerer) makes Prometheus metrics.
	Metrics Metrics
	// Retry configures the retry decorator; its Logger defaults to Logger.
	Retry retry.Options
	// RequestTimeout bounds the silence of every S3 request (attempt): a
	// request that gets no response headers, or makes no progress on its
	// body, for this long fails with objstore.ErrTimeout (which is also
	// ErrUnavailable, so the retry decorator retries it and resolves a
	// write's outcome as for any lost response). A URL's request_timeout
	// overrides it; 0 means DefaultRequestTimeout, negative means none.
	// Progress resets it, so part uploads of any size fit.
	RequestTimeout time.Duration
	// HTTPClient sends the S3 requests (s3; minio uses its Transport); nil
	// means the SDK's. Tests put a faultnet.Transport here.
	HTTPClient *http.Client
	// Logger receives the backends' and decorators' records; nil discards.
	Logger *slog.Logger
	// Clock is the clock of the local backends (ModTime, upload Initiated);
	// nil means time.Now.
	Clock func() time.Time
	// Getenv reads the environment; nil means os.Getenv.
	Getenv func(string) string
}

// DefaultRequestTimeout is the per-attempt silence bound of S3 requests
// when neither the URL nor Options set one.
const DefaultRequestTimeout = time.Minute

// RequestTimeoutFor returns the per-attempt timeout of spec's requests
// (0: none): the URL's request_timeout, else o's, else
// DefaultRequestTimeout.
func (o *Options) RequestTimeoutFor(spec Spec) time.Duration {
	switch {
	case spec.RequestTimeout > 0:
		return spec.RequestTimeout
	case o.RequestTimeout < 0:
		return 0
	case o.RequestTimeout == 0:
		return DefaultRequestTimeout
	}
	return o.RequestTimeout
}

// Metrics instruments a store for Open: package instrument's For
// implements it with Prometheus, so that this package links no metrics
// library of its own.
type Metrics interface {
	// Instrument returns s measured, labelled with the backend's provider
	// label, and the hooks the retry decorator above it calls.
	Instrument(s objstore.Store, label string) (objstore.Store, retry.Hooks)
}

// Open opens the store rawURL names, composes the decorators and probes it
// (see the package documentation). The error names the URL by its Spec,
// which never holds a secret.
func Open(ctx context.Context, rawURL string, opts *Options) (objstore.Store, error) {
	var o Options
	if opts != nil {
		o = *opts
	}
	o = o.withDefaults()
	spec, err := ParseURL(rawURL)
	if err != nil {
		return nil, err
	}
	if spec, err = spec.WithEnv(o.Getenv); err != nil {
		return nil, err
	}
	base, err := openBackend(ctx, spec, &o)
	if err != nil {
		return nil, fmt.Errorf("openurl: open %s: %w", spec, err)
	}
	s, err := compose(ctx, base, spec, &o)
	if err != nil {
		_ = base.Close()
		return nil, err
	}
	return s, nil
}

func (o Options) withDefaults() Options {
	if o.Getenv == nil {
		o.Getenv = os.Getenv
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o
}

// Opener makes the bare store (no prefix, no decorators) of a parsed URL
// of its scheme. Errors of its configuration step should be marked with
// ConfigError.
type Opener func(ctx context.Context, spec Spec, o *Options) (objstore.Store, error)

var (
	openersMu sync.RWMutex
	openers   = map[string]Opener{}
)

// Register makes Open open URLs of scheme (one of the schemes ParseURL
// knows: SchemeS3, SchemeMinIO, SchemeFile, SchemeMem) with open. The
// local backends, mem and file, are registered by this package; the S3
// backends by package objstore/all, which a program imports to get them:
//
//	import _ "github.com/stowage-dev/stowage/objstore/all"
//
// so that a program that opens only local stores links no S3 SDK. It
// panics if scheme is unknown or registered twice.
func Register(scheme string, open Opener) {
	openersMu.Lock()
	defer openersMu.Unlock()
	if _, ok := params[scheme]; !ok {
		panic(fmt.Sprintf("openurl: Register of unknown scheme %q", scheme))
	}
	if _, dup := openers[scheme]; dup {
		panic(fmt.Sprintf("openurl: scheme %q registered twice", scheme))
	}
	openers[scheme] = open
}

func init() {
	Register(SchemeMem, func(_ context.Context, _ Spec, o *Options) (objstore.Store, error) {
		return memstore.New(&memstore.Options{Clock: o.Clock}), nil
	})
	Register(SchemeFile, func(_ context.Context, spec Spec, o *Options) (objstore.Store, error) {
		return fsstore.Open(spec.Path, &fsstore.Options{Clock: o.Clock, Logger: o.Logger, ReadOnly: o.ReadOnly})
	})
}

// openBackend makes the bare store of spec with its scheme's Opener.
func openBackend(ctx context.Context, spec Spec, o *Options) (objstore.Store, error) {
	openersMu.RLock()
	open, ok := openers[spec.Scheme]
	openersMu.RUnlock()
	if !ok {
		return nil, configErr(fmt.Errorf("%w: no backend for %s URLs is linked into this program: import _ %q",
			objstore.ErrNotSupported, spec.Scheme, "github.com/stowage-dev/stowage/objstore/all"))
	}
	return open(ctx, spec, o)
}

// QuirksProfile returns the s3compat profile of an s3 or minio spec: its
// quirks= (else minio for minio URLs, aws without an endpoint, generic with
// one), with the path style overridden by the URL's path_style.
func (spec Spec) QuirksProfile() (s3compat.Quirks, error) {
	name := spec.Quirks
	switch {
	case name != "":
	case spec.Scheme == SchemeMinIO:
		name = "minio"
	case spec.Endpoint == "":
		name = "aws"
	default:
		name = "generic"
	}
	q, err := s3compat.Profile(name)
	if err != nil {
		return q, err
	}
	if spec.PathStyle != nil {
		q.PathStyle = *spec.PathStyle
	}
	return q, nil
}

// compose wraps base in the decorators and probes the result.
func compose(ctx context.Context, base objstore.Store, spec Spec, opts *Options) (objstore.Store, error) {
	o := opts.withDefaults()
	label := base.Capabilities().Provider
	s := objstore.WithPrefix(base, spec.Prefix)
	ropts := o.Retry
	if ropts.Logger == nil {
		ropts.Logger = o.Logger
	}
	if o.Metrics != nil {
		var hooks retry.Hooks
		s, hooks = o.Metrics.Instrument(s, label)
		ropts = ropts.Chain(hooks)
	}
	s = retry.New(s, ropts)
	if !o.SkipProbe {
		popts := o.Probe
		popts.ReadOnly = o.ReadOnly
		res, err := objstore.Probe(ctx, s, &popts)
		switch {
		case errors.Is(err, objstore.ErrConditionsNotEnforced):
			return nil, fmt.Errorf("openurl: refusing to open %s for writing: %w", spec, err)
		case err != nil:
			return nil, fmt.Errorf("openurl: probe %s: %w", spec, err)
		}
		if len(res.Problems) > 0 {
			o.Logger.LogAttrs(ctx, slog.LevelWarn, "object store probe found problems",
				slog.String("store", spec.String()), slog.String("provider", label),
				slog.String("problems", strings.Join(res.Problems, "; ")))
		}
		if res.Capabilities != res.Claimed {
			s = &guarded{Store: s, caps: res.Capabilities}
		}
	}
	if o.ReadOnly {
		s = objstore.ReadOnly(s)
	}
	return s, nil
}
