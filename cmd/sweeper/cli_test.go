package main

import (
	"context"
	"encoding/json"
	"maps"
	"net"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/stowage-dev/stowage/internal/exitcode"
	"github.com/stowage-dev/stowage/objstore/fsstore"
)

// TestMaxDeletesZero: --max-deletes 0 deletes nothing, and the report says
// so (on main 0 fell through to the library default and deleted).
func TestMaxDeletesZero(t *testing.T) {
	url, orphan := bucket(t, true)
	code, stdout, stderr := runCmd(t, []string{"--store", url, "--grace", "1h", "--max-deletes", "0", "--json"}, nil)
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var out output
	if err := json.Unmarshal([]byte(stdout), &out); err != nil {
		t.Fatal(err)
	}
	if out.Total() != 0 || out.BytesReclaimed != 0 || out.Deferred < 1 || out.MaxDeletes != 0 {
		t.Fatalf("report: %s", stdout)
	}
	s, err := fsstore.Open(strings.TrimPrefix(url, "file://"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.Head(context.Background(), orphan); err != nil {
		t.Fatalf("--max-deletes 0 deleted the orphan: %v", err)
	}
	_, text, _ := runCmd(t, []string{"--store", url, "--grace", "1h", "--max-deletes", "0"}, nil)
	if !strings.Contains(text, "--max-deletes 0: nothing was deleted") || !strings.Contains(text, "reclaimed 0") {
		t.Fatalf("text report: %s", text)
	}
}

// TestDryRunSaysWouldReclaim: a dry run's summary does not claim to have
// reclaimed anything. It would reclaim the orphan (6 bytes) and the aged
// ownerless upload intent the sweep forgets.
func TestDryRunSaysWouldReclaim(t *testing.T) {
	url, _ := bucket(t, true)
	code, text, stderr := runCmd(t, []string{"--store", url, "--grace", "1h", "--dry-run"}, nil)
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if !strings.Contains(text, "would reclaim 2 (6 B)") || strings.Contains(text, "reclaimed") {
		t.Fatalf("dry-run report: %s", text)
	}
}

// TestVersion: sweeper --version prints the module, its version, the
// commit and the Go version from the binary's build information.
func TestVersion(t *testing.T) {
	code, stdout, stderr := runCmd(t, []string{"--version"}, nil)
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, want := range []string{"sweeper github.com/stowage-dev/stowage ", "commit ", runtime.Version()} {
		if !strings.Contains(stdout, want) {
			t.Fatalf("--version %q lacks %q", stdout, want)
		}
	}
}

// TestJSONReportWhenTheStoreDoesNotOpen: --json prints a report with
// exit_code and error even when the sweep cannot start.
func TestJSONReportWhenTheStoreDoesNotOpen(t *testing.T) {
	code, stdout, _ := runCmd(t, []string{"--store", "nosuch://bucket/x", "--json", "--shard", "1/4"}, nil)
	if code != exitcode.Config {
		t.Fatalf("an unknown scheme exited %d, want %d", code, exitcode.Config)
	}
	var out output
	if err := json.Unmarshal([]byte(stdout), &out); err != nil {
		t.Fatalf("no JSON report: %v: %q", err, stdout)
	}
	if out.ExitCode != code || out.Error == "" || out.Shard != "1/4" {
		t.Fatalf("report %+v, exit %d", out, code)
	}
}

// TestSignalExitCodes: a sweep stopped by SIGINT or SIGTERM exits 130 or
// 143 (restic's convention) after writing its report, and counts no
// deletion as failed (the signal here comes before the store is open: the
// report is that of a sweep that never started).
func TestSignalExitCodes(t *testing.T) {
	for sig, want := range map[syscall.Signal]int{syscall.SIGINT: 130, syscall.SIGTERM: 143} {
		url, _ := bucket(t, true)
		ctx := exitcode.WithSignal(context.Background(), sig)
		var out, errb strings.Builder
		code := run(ctx, []string{"--store", url, "--grace", "1h", "--json"}, func(string) string { return "" }, &out, &errb)
		if code != want {
			t.Fatalf("%v: exit %d, want %d (%s)", sig, code, want, errb.String())
		}
		var rep output
		if err := json.Unmarshal([]byte(out.String()), &rep); err != nil {
			t.Fatalf("%v: no report: %v", sig, err)
		}
		if rep.ExitCode != want || rep.Report != nil && rep.Failed != 0 {
			t.Fatalf("%v: report %s", sig, out.String())
		}
	}
}

// TestConfigErrorsExit2: flag errors, a bad scheme and an unknown URL
// parameter are the configuration class (exit 2), not "retry later" (1).
func TestConfigErrorsExit2(t *testing.T) {
	for _, args := range [][]string{
		{"--store", "mem://", "--max-deletes", "many"},
		{"--store", "gopher://bucket/x"},
		{"--store", "s3://bucket/x?region=us-east-1&colour=blue"},
		{"--store", "s3://bucket/x?endpoint=%zz"},
	} {
		if code, _, stderr := runCmd(t, args, nil); code != exitcode.Config {
			t.Errorf("%q: exit %d, want %d (%s)", args, code, exitcode.Config, stderr)
		}
	}
}

// TestPushFailureIsInTheReport: when the push fails the run exits 1 and the
// JSON report says so (on main the report said exit_code 0 and the process
// exited 1).
func TestPushFailureIsInTheReport(t *testing.T) {
	url, _ := bucket(t, true)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	pg := "http://" + l.Addr().String()
	l.Close()
	code, stdout, stderr := runCmd(t, []string{"--store", url, "--grace", "1h", "--json", "--pushgateway", pg}, nil)
	var out output
	if err := json.Unmarshal([]byte(stdout), &out); err != nil {
		t.Fatal(err)
	}
	if code != exitError || out.ExitCode != code || !strings.Contains(out.Error, "127.0.0.1") {
		t.Fatalf("exit %d, report exit_code %d, error %q\n%s", code, out.ExitCode, out.Error, stderr)
	}
}

// TestJSONOnUsageErrors: with --json (or STOWAGE_SWEEPER_JSON) parsed, a
// usage error still prints the JSON report, with exit_code 2 and the
// error, and no scan counts; on main stdout was empty.
func TestJSONOnUsageErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		env  map[string]string
	}{
		{[]string{"--json"}, nil},
		{[]string{"--json", "--grace", "abc", "--store", "mem://"}, nil},
		{[]string{"--json", "--shard", "9/4", "--store", "mem://"}, nil},
		{[]string{"--store", "mem://", "--shards", "4"}, map[string]string{"STOWAGE_SWEEPER_JSON": "true"}},
	} {
		code, stdout, stderr := runCmd(t, tc.args, tc.env)
		keys := jsonKeys(t, stdout)
		if code != exitUsage || keys["exit_code"] != float64(exitUsage) || keys["error"] == nil || keys["scanned"] != nil {
			t.Errorf("sweeper %q (env %v): exit %d, report %q\n%s", tc.args, tc.env, code, stdout, stderr)
		}
	}
}

// TestNotStartedClaimsNoScan: a sweep that never started (no stowage store
// at the URL) prints only its error as text, and its JSON has no scan
// fields; on main both said "scanned 0" (and the JSON a zero start time).
func TestNotStartedClaimsNoScan(t *testing.T) {
	url := "file://" + t.TempDir()
	code, text, _ := runCmd(t, []string{"--store", url, "--dry-run"}, nil)
	if code != exitUsage || !strings.HasPrefix(text, "error (exit 2): no stowage store at ") || strings.Count(text, "\n") != 1 {
		t.Fatalf("exit %d, text report %q", code, text)
	}
	_, stdout, _ := runCmd(t, []string{"--store", url, "--shard", "1/4", "--json"}, nil)
	keys := jsonKeys(t, stdout)
	want := []string{"dry_run", "error", "exit_code", "max_deletes", "shard"}
	if got := slices.Sorted(maps.Keys(keys)); !slices.Equal(got, want) || keys["shard"] != "1/4" {
		t.Fatalf("JSON of a sweep that never started: %s (keys %v, want %v)", stdout, got, want)
	}
}

// jsonKeys decodes stdout as one JSON object.
func jsonKeys(t *testing.T, stdout string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(stdout), &m); err != nil {
		t.Fatalf("no JSON report: %v: %q", err, stdout)
	}
	return m
}

// TestBadMetricsTargetExits2First: a Pushgateway URL that does not parse,
// or a textfile in a directory that does not exist, is a usage error (exit
// 2) before the sweep, which deletes nothing; on main the push failed only
// after the sweep had deleted the orphan (exit 1).
func TestBadMetricsTargetExits2First(t *testing.T) {
	for _, extra := range [][]string{
		{"--pushgateway", "::bad"},
		{"--pushgateway", "ftp://pushgateway:9091"},
		{"--metrics-textfile", "/nonexistent-stowage-dir/sweeper.prom"},
	} {
		url, orphan := bucket(t, true)
		code, _, stderr := runCmd(t, append([]string{"--store", url, "--grace", "1h"}, extra...), nil)
		if code != exitUsage {
			t.Errorf("%q: exit %d, want %d\n%s", extra, code, exitUsage, stderr)
		}
		s, err := fsstore.Open(strings.TrimPrefix(url, "file://"), nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.Head(context.Background(), orphan); err != nil {
			t.Errorf("%q: the orphan was deleted before the bad flag was noticed: %v", extra, err)
		}
		s.Close()
	}
}

// TestLogShardKey: the log key shard has the documented form "1-of-2" (as
// in the metrics and lease keys); on main it was "1/2".
func TestLogShardKey(t *testing.T) {
	url, _ := bucket(t, true)
	code, _, stderr := runCmd(t, []string{"--store", url, "--grace", "1h", "--shard", "1/2", "--log-format", "json"}, nil)
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	found := false
	for line := range strings.Lines(stderr) {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("log line is not JSON: %v: %q", err, line)
		}
		if s, ok := rec["shard"]; ok {
			found = true
			if s != "1-of-2" {
				t.Errorf("log %q: shard %q, want \"1-of-2\"", rec["msg"], s)
			}
		}
	}
	if !found {
		t.Fatalf("no log line has the key shard:\n%s", stderr)
	}
}
