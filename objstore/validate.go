package objstore

import (
	"fmt"
	"unicode/utf8"
)

// ValidateKey reports whether key is a valid object key: 1 to MaxKeyLen bytes
// of valid UTF-8 with no control characters (U+0000-U+001F, U+007F), made of
// '/'-separated segments none of which is empty, "." or "..". So "/x", "x/",
// "a//b", "../x" and "a/./b" are invalid: S3 servers that store objects as
// files (versitygw's posix backend) clean such paths, aliasing "a/../b" with
// "b" or escaping a prefix, and MinIO rejects them. Every other key is valid
// and opaque ("a b", "日本", "%2F", "a..b", ".hidden").
//
// One portability rule cannot be checked per key: a key K and keys under
// "K/" cannot coexist on file-backed servers (versitygw posix answers
// ObjectParentIsFile). stowage's own layout never does this.
//
// The error matches ErrInvalidKey.
func ValidateKey(key string) error {
	if err := validateChars(key); err != nil {
		return err
	}
	return validateSegments(key, false)
}

// validateSegments rejects empty, "." and ".." segments. For a prefix, the
// last segment may be empty (a trailing '/') or partial.
func validateSegments(key string, prefix bool) error {
	start := 0
	for i := 0; i <= len(key); i++ {
		if i < len(key) && key[i] != '/' {
			continue
		}
		seg := key[start:i]
		last := i == len(key)
		if !(prefix && last) && (seg == "" || seg == "." || seg == "..") {
			return fmt.Errorf("%w: key has an empty, \".\" or \"..\" path segment", ErrInvalidKey)
		}
		start = i + 1
	}
	return nil
}

func validateChars(key string) error {
	switch {
	case key == "":
		return fmt.Errorf("%w: empty key", ErrInvalidKey)
	case len(key) > MaxKeyLen:
		return fmt.Errorf("%w: key of %d bytes exceeds %d", ErrInvalidKey, len(key), MaxKeyLen)
	case !utf8.ValidString(key):
		return fmt.Errorf("%w: key is not valid UTF-8", ErrInvalidKey)
	}
	for i := 0; i < len(key); i++ {
		if c := key[i]; c < 0x20 || c == 0x7f {
			return fmt.Errorf("%w: control character 0x%02x at byte %d", ErrInvalidKey, c, i)
		}
	}
	return nil
}

// ValidatePrefix is ValidateKey for list prefixes, which may be empty, end
// in '/' or end in a partial segment.
func ValidatePrefix(prefix string) error {
	if prefix == "" {
		return nil
	}
	if err := validateChars(prefix); err != nil {
		return err
	}
	return validateSegments(prefix, true)
}

// MaxMetadataSize bounds the total size of user metadata (S3 allows 2 KiB).
const MaxMetadataSize = 2048

// ValidateMetadata checks user metadata: keys of 1-64 characters from
// [a-z0-9-], values of printable ASCII, at most MaxMetadataSize bytes in all.
// The error matches ErrInvalidArgument.
func ValidateMetadata(md map[string]string) error {
	total := 0
	for k, v := range md {
		if k == "" || len(k) > 64 {
			return fmt.Errorf("%w: metadata key %q must be 1-64 characters", ErrInvalidArgument, k)
		}
		for i := 0; i < len(k); i++ {
			c := k[i]
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
				return fmt.Errorf("%w: metadata key %q may hold only [a-z0-9-]", ErrInvalidArgument, k)
			}
		}
		for i := 0; i < len(v); i++ {
			if c := v[i]; c < 0x20 || c > 0x7e {
				return fmt.Errorf("%w: metadata value for %q is not printable ASCII", ErrInvalidArgument, k)
			}
		}
		total += len(k) + len(v)
	}
	if total > MaxMetadataSize {
		return fmt.Errorf("%w: metadata of %d bytes exceeds %d", ErrInvalidArgument, total, MaxMetadataSize)
	}
	return nil
}

// ValidatePut checks a key and put options together (both conditions set, bad
// metadata). Backends call it first, before any side effect.
func ValidatePut(key string, opts *PutOptions) error {
	if err := ValidateKey(key); err != nil {
		return err
	}
	if opts == nil {
		return nil
	}
	if opts.IfNoneMatch && opts.IfMatch != "" {
		return fmt.Errorf("%w: IfNoneMatch and IfMatch are exclusive", ErrInvalidArgument)
	}
	return ValidateMetadata(opts.Metadata)
}
