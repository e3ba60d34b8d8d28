package openurl

import (
	"errors"
	"fmt"
	"maps"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/stowage-dev/stowage/internal/s3compat"
	"github.com/stowage-dev/stowage/objstore"
)

// Schemes.
const (
	SchemeS3    = "s3"
	SchemeMinIO = "minio"
	SchemeFile  = "file"
	SchemeMem   = "mem"
)

// Spec is a parsed store URL. It never holds a credential: URLs carrying one
// are refused by ParseURL.
type Spec struct {
	Scheme string // SchemeS3, SchemeMinIO, SchemeFile or SchemeMem
	// Bucket and Prefix (s3, minio). Prefix is "" or ends in "/".
	Bucket, Prefix string
	// Endpoint (s3, minio): a base URL (http://127.0.0.1:9000) or a
	// host:port whose scheme TLS decides. Empty means AWS (s3) or the
	// environment (see WithEnv).
	Endpoint string
	// Region (s3, minio); empty means the environment's, else us-east-1.
	Region string
	// PathStyle and TLS are nil unless the URL sets them.
	PathStyle, TLS *bool
	// Quirks names an s3compat profile (aws, minio, versitygw, rclone, generic);
	// empty means aws without an endpoint, generic with one (s3), minio
	// (minio).
	Quirks string
	// Path is the directory of a file URL, absolute or relative.
	Path string
	// RequestTimeout (s3, minio) is the URL's request_timeout: how long a
	// request may go without an answer or progress; 0 means Options'.
	RequestTimeout time.Duration
}

// params are the query parameters each scheme takes.
var params = map[string][]string{
	SchemeS3:    {"endpoint", "path_style", "quirks", "region", "request_timeout", "tls"},
	SchemeMinIO: {"endpoint", "path_style", "quirks", "region", "request_timeout", "tls"},
	SchemeFile:  nil,
	SchemeMem:   nil,
}

// secretWords mark a parameter name that looks like a credential.
var secretWords = []string{"secret", "password", "passwd", "token", "credential", "access", "key", "signature", "auth"}

// errCredentials explains where credentials come from instead.
var errCredentials = errors.New("credentials are never taken from the URL; set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or AWS_PROFILE / the standard AWS chain)")

// ErrConfig is matched (errors.Is) by every error that says the store's
// configuration is wrong rather than that the store failed: a malformed
// URL, an unknown scheme or parameter, a bad value, a credential in the URL,
// a bad AWS_* variable. Retrying cannot help; the operator must fix the
// configuration. (A missing bucket is objstore.ErrNoBucket and a refused
// request objstore.ErrPermission: found by asking the server.)
var ErrConfig = errors.New("invalid store configuration")

// configError marks err as ErrConfig without changing its message.
type configError struct{ err error }

func (e *configError) Error() string        { return e.err.Error() }
func (e *configError) Unwrap() error        { return e.err }
func (e *configError) Is(target error) bool { return target == ErrConfig }

// ConfigError returns err marked as ErrConfig, its message unchanged (nil
// for nil): for an Opener whose configuration step failed.
func ConfigError(err error) error { return configErr(err) }

// configErr returns err marked as ErrConfig (nil for nil).
func configErr(err error) error {
	if err == nil || errors.Is(err, ErrConfig) {
		return err
	}
	return &configError{err}
}

// ParseURL parses a store URL:
//
//	s3://bucket/prefix?endpoint=http://127.0.0.1:9000&region=us-east-1&path_style=true&tls=false&quirks=minio
//	minio://bucket/prefix?endpoint=127.0.0.1:9000&tls=false&region=us-east-1&request_timeout=30s
//	file:///absolute/dir   file:relative/dir
//	mem://
//
// It refuses credentials in any form (user info, secret-looking parameters,
// user info in the endpoint), unknown parameters and malformed values. Its
// errors never repeat the URL, which may hold a secret, and all match
// ErrConfig.
func ParseURL(raw string) (Spec, error) {
	spec, err := parseURL(raw)
	if err != nil {
		return Spec{}, configErr(err)
	}
	return spec, nil
}

func parseURL(raw string) (Spec, error) {
	u, err := url.Parse(raw)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return Spec{}, fmt.Errorf("openurl: malformed URL: %v", err)
	}
	if u.User != nil {
		return Spec{}, fmt.Errorf("openurl: user info in a %s URL: %w", u.Scheme, errCredentials)
	}
	known, ok := params[u.Scheme]
	if !ok {
		return Spec{}, fmt.Errorf("openurl: unknown scheme %q (want s3, minio, file or mem)", u.Scheme)
	}
	if u.Fragment != "" || u.RawFragment != "" {
		return Spec{}, fmt.Errorf("openurl: a %s URL takes no fragment", u.Scheme)
	}
	q, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return Spec{}, fmt.Errorf("openurl: malformed query of a %s URL", u.Scheme)
	}
	// Credential-looking names first, whatever the map order: such a URL
	// is refused as carrying a credential, not as merely unknown.
	for _, name := range slices.Sorted(maps.Keys(q)) {
		if !slices.Contains(known, name) && looksSecret(name) {
			return Spec{}, fmt.Errorf("openurl: parameter %q: %w", name, errCredentials)
		}
	}
	for _, name := range slices.Sorted(maps.Keys(q)) {
		vals := q[name]
		if !slices.Contains(known, name) {
			return Spec{}, fmt.Errorf("openurl: unknown parameter %q in a %s URL (known: %s)", name, u.Scheme, strings.Join(known, ", "))
		}
		if len(vals) != 1 {
			return Spec{}, fmt.Errorf("openurl: parameter %q given %d times", name, len(vals))
		}
	}
	spec := Spec{Scheme: u.Scheme}
	switch u.Scheme {
	case SchemeMem:
		if u.Host != "" || u.Path != "" || u.Opaque != "" {
			return Spec{}, fmt.Errorf("openurl: a mem URL is just mem://")
		}
		return spec, nil
	case SchemeFile:
		return parseFile(u)
	}
	return parseBucket(u, q)
}

func looksSecret(name string) bool {
	n := strings.ToLower(name)
	return slices.ContainsFunc(secretWords, func(w string) bool { return strings.Contains(n, w) })
}

func parseFile(u *url.URL) (Spec, error) {
	spec := Spec{Scheme: SchemeFile}
	switch {
	case u.Opaque != "":
		p, err := url.PathUnescape(u.Opaque)
		if err != nil {
			return Spec{}, fmt.Errorf("openurl: malformed file path: %v", err)
		}
		spec.Path = p
	case u.Host != "" && u.Host != "localhost":
		return Spec{}, fmt.Errorf("openurl: file URL with host %q: write file:///absolute/dir or file:relative/dir", u.Host)
	default:
		spec.Path = u.Path
	}
	if spec.Path == "" {
		return Spec{}, fmt.Errorf("openurl: file URL without a directory")
	}
	return spec, nil
}

func parseBucket(u *url.URL, q url.Values) (Spec, error) {
	spec := Spec{
		Scheme:   u.Scheme,
		Bucket:   u.Host,
		Endpoint: q.Get("endpoint"),
		Region:   q.Get("region"),
		Quirks:   strings.ToLower(q.Get("quirks")),
	}
	if u.Opaque != "" {
		return Spec{}, fmt.Errorf("openurl: write %s://bucket/prefix", u.Scheme)
	}
	if err := checkBucket(spec.Bucket); err != nil {
		return Spec{}, err
	}
	if p := strings.TrimPrefix(u.Path, "/"); p != "" {
		if !strings.HasSuffix(p, "/") {
			p += "/"
		}
		if strings.HasPrefix(p, "/") || strings.Contains(p, "//") {
			return Spec{}, fmt.Errorf("openurl: prefix %q has an empty segment", p)
		}
		if err := objstore.ValidatePrefix(p); err != nil {
			return Spec{}, fmt.Errorf("openurl: prefix: %w", err)
		}
		spec.Prefix = p
	}
	var err error
	if spec.PathStyle, err = boolParam(q, "path_style"); err != nil {
		return Spec{}, err
	}
	if spec.TLS, err = boolParam(q, "tls"); err != nil {
		return Spec{}, err
	}
	if spec.Quirks != "" {
		if _, err := s3compat.Profile(spec.Quirks); err != nil {
			return Spec{}, fmt.Errorf("openurl: quirks: %w", err)
		}
	}
	if q.Has("request_timeout") {
		d, err := time.ParseDuration(q.Get("request_timeout"))
		if err != nil || d <= 0 {
			return Spec{}, fmt.Errorf("openurl: request_timeout=%q is not a positive duration (e.g. 30s, 2m)", q.Get("request_timeout"))
		}
		spec.RequestTimeout = d
	}
	if q.Has("region") && !validRegion(spec.Region) {
		return Spec{}, fmt.Errorf("openurl: region %q is not a region name", spec.Region)
	}
	if spec.Endpoint != "" {
		if _, err := endpointURL(spec.Endpoint, spec.TLS); err != nil {
			return Spec{}, err
		}
	}
	return spec, nil
}

// checkBucket applies S3's bucket naming rules loosely: 3-63 characters of
// lowercase letters, digits, '.' and '-', starting and ending alphanumeric.
func checkBucket(b string) error {
	if b == "" {
		return fmt.Errorf("openurl: missing bucket (write s3://bucket/prefix)")
	}
	ok := len(b) >= 3 && len(b) <= 63 && isAlnum(b[0]) && isAlnum(b[len(b)-1])
	for i := 0; ok && i < len(b); i++ {
		ok = isAlnum(b[i]) || b[i] == '.' || b[i] == '-'
	}
	if !ok {
		return fmt.Errorf("openurl: %q is not a bucket name (3-63 of a-z, 0-9, '.', '-'; a port belongs in endpoint=)", b)
	}
	return nil
}

func isAlnum(c byte) bool { return c >= 'a' && c <= 'z' || c >= '0' && c <= '9' }

func validRegion(r string) bool {
	if r == "" || len(r) > 64 {
		return false
	}
	for i := 0; i < len(r); i++ {
		if c := r[i]; !isAlnum(c) && c != '-' {
			return false
		}
	}
	return true
}

func boolParam(q url.Values, name string) (*bool, error) {
	if !q.Has(name) {
		return nil, nil
	}
	v, err := strconv.ParseBool(q.Get(name))
	if err != nil {
		return nil, fmt.Errorf("openurl: %s=%q is not true or false", name, q.Get(name))
	}
	return &v, nil
}

// EndpointURL returns the base URL of an s3 or minio spec's endpoint (see
// endpointURL).
func (s Spec) EndpointURL() (*url.URL, error) { return endpointURL(s.Endpoint, s.TLS) }

// endpointURL turns an endpoint into a base URL: a host:port gets https://,
// or http:// if tls is false. It refuses user info, paths other than "/",
// queries and a tls that contradicts the endpoint's scheme.
func endpointURL(ep string, tls *bool) (*url.URL, error) {
	if !strings.Contains(ep, "://") {
		scheme := "https"
		if tls != nil && !*tls {
			scheme = "http"
		}
		ep = scheme + "://" + ep
	}
	u, err := url.Parse(ep)
	if err != nil {
		return nil, fmt.Errorf("openurl: malformed endpoint")
	}
	switch {
	case u.User != nil:
		return nil, fmt.Errorf("openurl: user info in the endpoint: %w", errCredentials)
	case u.Scheme != "http" && u.Scheme != "https":
		return nil, fmt.Errorf("openurl: endpoint scheme %q (want http or https)", u.Scheme)
	case u.Host == "":
		return nil, fmt.Errorf("openurl: endpoint without a host")
	case u.RawQuery != "" || u.Fragment != "" || (u.Path != "" && u.Path != "/"):
		return nil, fmt.Errorf("openurl: endpoint %s://%s must not have a path or query", u.Scheme, u.Host)
	case tls != nil && *tls != (u.Scheme == "https"):
		return nil, fmt.Errorf("openurl: tls=%v contradicts endpoint scheme %s", *tls, u.Scheme)
	}
	u.Path = ""
	return u, nil
}

// WithEnv fills what the URL left unset from the standard AWS variables:
// the endpoint from AWS_ENDPOINT_URL_S3 or AWS_ENDPOINT_URL, the region from
// AWS_REGION or AWS_DEFAULT_REGION (s3 and minio URLs only). getenv is
// os.Getenv in production. Its errors match ErrConfig.
func (s Spec) WithEnv(getenv func(string) string) (Spec, error) {
	out, err := s.withEnv(getenv)
	return out, configErr(err)
}

func (s Spec) withEnv(getenv func(string) string) (Spec, error) {
	if s.Scheme != SchemeS3 && s.Scheme != SchemeMinIO {
		return s, nil
	}
	if s.Endpoint == "" {
		for _, v := range []string{"AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL"} {
			if ep := getenv(v); ep != "" {
				if _, err := endpointURL(ep, s.TLS); err != nil {
					return s, fmt.Errorf("%w (from %s)", err, v)
				}
				s.Endpoint = ep
				break
			}
		}
	}
	if s.Region == "" {
		for _, v := range []string{"AWS_REGION", "AWS_DEFAULT_REGION"} {
			if r := getenv(v); r != "" {
				if !validRegion(r) {
					return s, fmt.Errorf("openurl: %s=%q is not a region name", v, r)
				}
				s.Region = r
				break
			}
		}
	}
	return s, nil
}

// String returns the URL of s. It holds no secret (a Spec cannot hold one),
// so it is safe to log.
func (s Spec) String() string {
	switch s.Scheme {
	case SchemeMem:
		return "mem://"
	case SchemeFile:
		if strings.HasPrefix(s.Path, "/") {
			return (&url.URL{Scheme: SchemeFile, Path: s.Path}).String()
		}
		return (&url.URL{Scheme: SchemeFile, Opaque: (&url.URL{Path: s.Path}).EscapedPath()}).String()
	}
	q := url.Values{}
	set := func(k, v string) {
		if v != "" {
			q.Set(k, v)
		}
	}
	set("endpoint", s.Endpoint)
	set("region", s.Region)
	set("quirks", s.Quirks)
	if s.PathStyle != nil {
		q.Set("path_style", strconv.FormatBool(*s.PathStyle))
	}
	if s.TLS != nil {
		q.Set("tls", strconv.FormatBool(*s.TLS))
	}
	if s.RequestTimeout > 0 {
		q.Set("request_timeout", s.RequestTimeout.String())
	}
	u := url.URL{Scheme: s.Scheme, Host: s.Bucket, Path: "/" + s.Prefix, RawQuery: q.Encode()}
	if s.Prefix == "" {
		u.Path = ""
	}
	return u.String()
}

// Redacted is String: a Spec never holds a secret. It exists so that code
// written for URLs that may (url.URL.Redacted) reads the same here.
func (s Spec) Redacted() string { return s.String() }
