package main

import (
	"bytes"
	"net"
	"reflect"
	"strings"
	"testing"

	"github.com/stowage-dev/stowage/internal/exitcode"
)

// TestEveryFlagAndVariable sets each row of the flag table once by its flag
// and once by its environment variable, to a value other than the default:
// both give the same configuration, and it differs from the default's.
func TestEveryFlagAndVariable(t *testing.T) {
	samples := map[string]string{
		"store": "file:///elsewhere", "grace": "2h", "dry-run": "true", "max-deletes": "7",
		"shard": "1/3", "shards": "3", "json": "true", "pushgateway": "http://127.0.0.1:9091",
		"metrics-textfile": "/tmp/x.prom", "allow-empty-roots": "true", "forget-dead-intents": "false",
		"lease-ttl": "1m", "holder": "me", "log-level": "debug", "log-format": "json", "progress": "never",
		"version": "true",
	}
	base := []string{"--store", "mem://"}
	env := map[string]string{"JOB_COMPLETION_INDEX": "2"}
	def, err := parseFlags(base, func(k string) string { return env[k] }, &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range flagTable {
		v, ok := samples[d.name]
		if !ok {
			t.Fatalf("no sample value for --%s", d.name)
		}
		byFlag, err := parseFlags(append(base, "--"+d.name+"="+v), func(k string) string { return env[k] }, &bytes.Buffer{})
		if err != nil {
			t.Fatalf("--%s=%s: %v", d.name, v, err)
		}
		if reflect.DeepEqual(byFlag, def) {
			t.Errorf("--%s=%s changed nothing", d.name, v)
		}
		if d.env == "" {
			continue
		}
		withEnv := map[string]string{d.env: v, "JOB_COMPLETION_INDEX": "2"}
		args := base
		if d.name == "store" {
			args = nil
		}
		byEnv, err := parseFlags(args, func(k string) string { return withEnv[k] }, &bytes.Buffer{})
		if err != nil {
			t.Fatalf("%s=%s: %v", d.env, v, err)
		}
		if !reflect.DeepEqual(byFlag, byEnv) {
			t.Errorf("--%s=%s gives %+v, %s=%s gives %+v", d.name, v, byFlag, d.env, v, byEnv)
		}
	}
}

// TestUnavailableExits1: a server that cannot be reached is a transient
// failure (exit 1: retry later), not a configuration error.
func TestUnavailableExits1(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	t.Setenv("AWS_ACCESS_KEY_ID", "unused")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "unused")
	code, stdout, stderr := runCmd(t, []string{"--store", "s3://stowage-test/x?region=us-east-1&endpoint=http://" + addr, "--json"}, nil)
	if code != exitcode.Failure {
		t.Fatalf("unreachable server: exit %d, want 1\n%s%s", code, stdout, stderr)
	}
}

// TestHelpShowsDefaults: sweeper -h prints each flag's default (as
// docs/operations.md's flag table lists them); on main it printed none.
func TestHelpShowsDefaults(t *testing.T) {
	code, _, help := runCmd(t, []string{"-h"}, nil)
	if code != exitOK {
		t.Fatalf("exit %d", code)
	}
	for _, d := range flagTable {
		if d.def == "" || d.def == "false" || d.def == "0" {
			continue
		}
		if !strings.Contains(help, "(default "+d.def+")") {
			t.Errorf("help lacks --%s's default %q", d.name, d.def)
		}
	}
	if strings.Contains(help, "(default false)") {
		t.Errorf("help prints an off default:\n%s", help)
	}
}
