package openurl

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

func ptr(b bool) *bool { return &b }

func TestParseURLGood(t *testing.T) {
	for _, c := range []struct {
		raw  string
		want Spec
		str  string // String() if it differs from raw
	}{
		{"mem://", Spec{Scheme: "mem"}, ""},
		{"mem:", Spec{Scheme: "mem"}, "mem://"},
		{"file:///var/lib/stowage", Spec{Scheme: "file", Path: "/var/lib/stowage"}, ""},
		{"file://localhost/srv/x", Spec{Scheme: "file", Path: "/srv/x"}, "file:///srv/x"},
		{"file:data/store", Spec{Scheme: "file", Path: "data/store"}, ""},
		{"file:./data", Spec{Scheme: "file", Path: "./data"}, ""},
		{"file:my%20dir", Spec{Scheme: "file", Path: "my dir"}, ""},
		{"s3://bucket", Spec{Scheme: "s3", Bucket: "bucket"}, ""},
		{"s3://bucket/", Spec{Scheme: "s3", Bucket: "bucket"}, "s3://bucket"},
		{"s3://my.bucket-1/sessions/prod", Spec{Scheme: "s3", Bucket: "my.bucket-1", Prefix: "sessions/prod/"}, "s3://my.bucket-1/sessions/prod/"},
		{
			"s3://b01/p/?endpoint=http://127.0.0.1:9000&region=us-east-1&path_style=true&quirks=MinIO",
			Spec{Scheme: "s3", Bucket: "b01", Prefix: "p/", Endpoint: "http://127.0.0.1:9000", Region: "us-east-1", PathStyle: ptr(true), Quirks: "minio"},
			"s3://b01/p/?endpoint=http%3A%2F%2F127.0.0.1%3A9000&path_style=true&quirks=minio&region=us-east-1",
		},
		{
			"s3://b01?endpoint=127.0.0.1:7070&tls=false&quirks=versitygw",
			Spec{Scheme: "s3", Bucket: "b01", Endpoint: "127.0.0.1:7070", TLS: ptr(false), Quirks: "versitygw"},
			"s3://b01?endpoint=127.0.0.1%3A7070&quirks=versitygw&tls=false",
		},
		{
			"minio://b01/x?endpoint=localhost:9000&tls=false&region=eu-west-1",
			Spec{Scheme: "minio", Bucket: "b01", Prefix: "x/", Endpoint: "localhost:9000", TLS: ptr(false), Region: "eu-west-1"},
			"minio://b01/x/?endpoint=localhost%3A9000&region=eu-west-1&tls=false",
		},
	} {
		got, err := ParseURL(c.raw)
		if err != nil {
			t.Errorf("ParseURL(%q): %v", c.raw, err)
			continue
		}
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("ParseURL(%q) = %+v, want %+v", c.raw, got, c.want)
		}
		str := c.str
		if str == "" {
			str = c.raw
		}
		if got.String() != str || got.Redacted() != str {
			t.Errorf("ParseURL(%q).String() = %q, want %q", c.raw, got.String(), str)
		}
		if again, err := ParseURL(got.String()); err != nil || !reflect.DeepEqual(again, got) {
			t.Errorf("ParseURL(String()) of %q = %+v, %v; want %+v", c.raw, again, err, got)
		}
	}
}

func TestParseURLBad(t *testing.T) {
	for _, c := range []struct{ raw, want string }{
		{"", "unknown scheme"},
		{"gs://bucket", "unknown scheme"},
		{"s3://", "missing bucket"},
		{"s3://Bucket", "not a bucket name"},
		{"s3://b", "not a bucket name"},
		{"s3://bucket:9000/p", "not a bucket name"},
		{"s3://bucket//p", "empty segment"},
		{"s3://bucket/a//b", "empty segment"},
		{"s3://bucket/a%01b", "invalid key"},
		{"s3://bucket?path_style=maybe", "not true or false"},
		{"s3://bucket?tls=1&tls=0", "given 2 times"},
		{"s3://bucket?quirks=r2", "unknown provider"},
		{"s3://bucket?region=us%20east", "not a region name"},
		{"s3://bucket?endpoint=ftp://h", "endpoint scheme"},
		{"s3://bucket?endpoint=http://h/path", "must not have a path"},
		{"s3://bucket?endpoint=https://h&tls=false", "contradicts"},
		{"s3://bucket?prefix=x", "unknown parameter"},
		{"s3://bucket#frag", "no fragment"},
		{"s3:bucket", "write s3://bucket/prefix"},
		{"mem://x", "just mem://"},
		{"mem:///x", "just mem://"},
		{"mem://?a=b", "unknown parameter"},
		{"file:", "without a directory"},
		{"file://data/store", "file:relative/dir"},
		{"file:///x?mode=1", "unknown parameter"},
		{"s3://bucket/%zz", "malformed URL"},
		{"s3://bucket?request_timeout=soon", "not a positive duration"},
		{"minio://bucket?request_timeout=0s", "not a positive duration"},
		{"file:///x?request_timeout=1s", "unknown parameter"},
	} {
		_, err := ParseURL(c.raw)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("ParseURL(%q) = %v, want an error containing %q", c.raw, err, c.want)
		}
		if !errors.Is(err, ErrConfig) {
			t.Errorf("ParseURL(%q) = %v, want it to match ErrConfig", c.raw, err)
		}
		// Open says the same, before any backend is made.
		if _, err := Open(t.Context(), c.raw, nil); !errors.Is(err, ErrConfig) {
			t.Errorf("Open(%q) = %v, want ErrConfig", c.raw, err)
		}
	}
}

func TestOpenConfigErrors(t *testing.T) {
	env := func(k, v string) func(string) string {
		return func(name string) string {
			if name == k {
				return v
			}
			return ""
		}
	}
	for _, c := range []struct {
		raw    string
		getenv func(string) string
	}{
		{"s3://bucket?password=x", nil},
		{"s3://user:pw@bucket", nil},
		{"s3://bucket", env("AWS_REGION", "us east")},
		{"s3://bucket", env("AWS_ENDPOINT_URL", "ftp://h")},
		{"minio://bucket", nil},
	} {
		_, err := Open(t.Context(), c.raw, &Options{Getenv: c.getenv})
		if !errors.Is(err, ErrConfig) {
			t.Errorf("Open(%q) = %v, want ErrConfig", c.raw, err)
		}
	}
	// A store that opens is not a configuration error, nor is a failure of
	// the store itself.
	if _, err := ParseURL("mem://"); err != nil {
		t.Fatal(err)
	}
}

func TestParseURLRefusesSecretsWithoutEchoingThem(t *testing.T) {
	const secret = "wJalrXUtnFEMIK7MDENGbPxRfiCYEXAMPLEKEY"
	for _, raw := range []string{
		"s3://AKIAEXAMPLE:" + secret + "@bucket/p",
		"s3://" + secret + "@bucket/p",
		"minio://user:" + secret + "@bucket",
		"s3://bucket?secret_key=" + secret,
		"s3://bucket?aws_secret_access_key=" + secret,
		"s3://bucket?access_key=AKIA&x=" + secret,
		"s3://bucket?X-Amz-Credential=" + secret,
		"s3://bucket?session_token=" + secret,
		"s3://bucket?password=" + secret,
		"s3://bucket?endpoint=http://u:" + secret + "@127.0.0.1:9000",
		"file:///x?token=" + secret,
		"s3://bucket/%zz?secret=" + secret,
		"s3://user:" + secret + "@bucket/%zz",
	} {
		_, err := ParseURL(raw)
		if err == nil {
			t.Errorf("ParseURL accepted a URL with a credential: %q", raw)
			continue
		}
		if strings.Contains(err.Error(), secret) {
			t.Errorf("error %q repeats the secret", err)
		}
		if !strings.Contains(err.Error(), "credentials") && !strings.Contains(err.Error(), "malformed") {
			t.Errorf("error %q does not say where credentials come from", err)
		}
	}
}

func TestWithEnv(t *testing.T) {
	env := func(kv ...string) func(string) string {
		m := map[string]string{}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return func(k string) string { return m[k] }
	}
	spec, _ := ParseURL("s3://bucket/p")
	got, err := spec.WithEnv(env(
		"AWS_ENDPOINT_URL", "http://127.0.0.1:1", "AWS_ENDPOINT_URL_S3", "http://127.0.0.1:2",
		"AWS_DEFAULT_REGION", "eu-west-1", "AWS_REGION", "eu-central-1"))
	if err != nil || got.Endpoint != "http://127.0.0.1:2" || got.Region != "eu-central-1" {
		t.Errorf("WithEnv = %+v, %v; want the S3-specific endpoint and AWS_REGION", got, err)
	}
	got, err = spec.WithEnv(env("AWS_ENDPOINT_URL", "http://127.0.0.1:1", "AWS_DEFAULT_REGION", "eu-west-1"))
	if err != nil || got.Endpoint != "http://127.0.0.1:1" || got.Region != "eu-west-1" {
		t.Errorf("WithEnv = %+v, %v; want the fallbacks", got, err)
	}
	spec, _ = ParseURL("s3://bucket?endpoint=http://127.0.0.1:3&region=ap-south-1")
	if got, err := spec.WithEnv(env("AWS_ENDPOINT_URL_S3", "http://127.0.0.1:2", "AWS_REGION", "eu-central-1")); err != nil || got != spec {
		t.Errorf("WithEnv overrode the URL: %+v, %v", got, err)
	}
	const secret = "s3cr3t-value"
	spec, _ = ParseURL("s3://bucket")
	if _, err := spec.WithEnv(env("AWS_ENDPOINT_URL", "http://k:"+secret+"@127.0.0.1:1")); err == nil || strings.Contains(err.Error(), secret) {
		t.Errorf("WithEnv with a credential in AWS_ENDPOINT_URL = %v", err)
	}
	mem, _ := ParseURL("mem://")
	if got, _ := mem.WithEnv(env("AWS_REGION", "eu-central-1")); got != mem {
		t.Errorf("WithEnv changed a mem spec: %+v", got)
	}
}
