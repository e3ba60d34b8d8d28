// Package testenv gives tests the real S3 servers that localstack/up.sh
// started, and decides what a missing server means.
//
// Servers are described by environment variables (localstack/up.sh writes
// them to an env file; localstack/run.sh exports them around a command):
//
//	STOWAGE_TEST_<NAME>_ENDPOINT   http://127.0.0.1:PORT, NAME is MINIO, VERSITYGW or RCLONE
//	STOWAGE_TEST_ACCESS_KEY, STOWAGE_TEST_SECRET_KEY, STOWAGE_TEST_REGION, STOWAGE_TEST_BUCKET
//	STOWAGE_TEST_PUSHGATEWAY_URL   http://127.0.0.1:PORT of a Prometheus Pushgateway
//	STOWAGE_TEST_REQUIRE           comma-separated server names (or "all") that must be present;
//	                               "pushgateway" names the Pushgateway
//
// A server that is not configured is skipped, unless STOWAGE_TEST_REQUIRE
// names it: then the test fails (restic's SkipDisallowed). `make test` sets
// it for every server it starts, so CI cannot pass on a silent skip.
package testenv

import (
	"crypto/rand"
	"encoding/hex"
	"os"
	"regexp"
	"strings"
	"testing"
)

// Names of the servers localstack can start.
const (
	MinIO     = "minio"
	VersityGW = "versitygw"
	RClone    = "rclone" // rclone serve s3
)

// Pushgateway is the Prometheus Pushgateway's name in STOWAGE_TEST_REQUIRE.
const Pushgateway = "pushgateway"

// AllServers lists every server name, in the order tests run them.
var AllServers = []string{VersityGW, MinIO, RClone}

// Server is one running S3-compatible server.
type Server struct {
	Name      string // "minio", "versitygw" or "rclone"
	Endpoint  string // http://127.0.0.1:PORT
	AccessKey string
	SecretKey string
	Region    string
	Bucket    string
}

// Host returns the endpoint without its scheme (host:port), as minio-go wants.
func (s Server) Host() string {
	h := strings.TrimPrefix(s.Endpoint, "http://")
	return strings.TrimPrefix(h, "https://")
}

// Lookup returns the configured server called name, if any.
func Lookup(name string) (Server, bool) {
	ep := os.Getenv("STOWAGE_TEST_" + strings.ToUpper(name) + "_ENDPOINT")
	if ep == "" {
		return Server{}, false
	}
	s := Server{
		Name:      name,
		Endpoint:  ep,
		AccessKey: os.Getenv("STOWAGE_TEST_ACCESS_KEY"),
		SecretKey: os.Getenv("STOWAGE_TEST_SECRET_KEY"),
		Region:    os.Getenv("STOWAGE_TEST_REGION"),
		Bucket:    os.Getenv("STOWAGE_TEST_BUCKET"),
	}
	if s.Region == "" {
		s.Region = "us-east-1"
	}
	if s.Bucket == "" {
		s.Bucket = "stowage-test"
	}
	return s, true
}

// Required reports whether STOWAGE_TEST_REQUIRE names the server.
func Required(name string) bool {
	for _, r := range strings.Split(os.Getenv("STOWAGE_TEST_REQUIRE"), ",") {
		r = strings.TrimSpace(r)
		if r == "all" || r == name {
			return true
		}
	}
	return false
}

// Need returns the server called name, or skips the test — or fails it if
// the server is required but not configured.
func Need(t testing.TB, name string) Server {
	t.Helper()
	s, ok := Lookup(name)
	if ok {
		return s
	}
	if Required(name) {
		t.Fatalf("testenv: server %s is required (STOWAGE_TEST_REQUIRE=%s) but STOWAGE_TEST_%s_ENDPOINT is not set; run the tests through localstack/run.sh or `make test`",
			name, os.Getenv("STOWAGE_TEST_REQUIRE"), strings.ToUpper(name))
	}
	t.Skipf("testenv: server %s not configured (start it with localstack/up.sh, or run `make test`)", name)
	return Server{}
}

// LookupPushgateway returns the URL of the Pushgateway localstack/up.sh
// started, if any.
func LookupPushgateway() (string, bool) {
	u := os.Getenv("STOWAGE_TEST_PUSHGATEWAY_URL")
	return u, u != ""
}

// NeedPushgateway returns the Pushgateway's URL, or skips the test — or
// fails it if STOWAGE_TEST_REQUIRE names "pushgateway" (or "all").
func NeedPushgateway(t testing.TB) string {
	t.Helper()
	if u, ok := LookupPushgateway(); ok {
		return u
	}
	if Required(Pushgateway) {
		t.Fatalf("testenv: the Pushgateway is required (STOWAGE_TEST_REQUIRE=%s) but STOWAGE_TEST_PUSHGATEWAY_URL is not set; run the tests through localstack/run.sh or `make test`",
			os.Getenv("STOWAGE_TEST_REQUIRE"))
	}
	t.Skip("testenv: no Pushgateway configured (start it with localstack/up.sh, or run `make test`)")
	return ""
}

// ForEachServer runs f as a subtest named after each server in AllServers,
// skipping (or failing, if required) those not configured.
func ForEachServer(t *testing.T, f func(t *testing.T, s Server)) {
	t.Helper()
	for _, name := range AllServers {
		t.Run(name, func(t *testing.T) { f(t, Need(t, name)) })
	}
}

var unsafeChars = regexp.MustCompile(`[^A-Za-z0-9_-]+`)

// UniquePrefix returns a fresh key prefix for one test in a shared bucket:
// "t/<test name>-<random>/".
func UniquePrefix(t testing.TB) string {
	name := unsafeChars.ReplaceAllString(t.Name(), "_")
	if len(name) > 80 {
		name = name[len(name)-80:]
	}
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	return "t/" + name + "-" + hex.EncodeToString(b[:]) + "/"
}

// Short reports whether heavy cases (hundreds of MiB) should be skipped:
// under `go test -short`, or when STOWAGE_TEST_SHORT is set.
func Short() bool {
	return testing.Short() || os.Getenv("STOWAGE_TEST_SHORT") != ""
}
