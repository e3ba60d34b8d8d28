package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/stowage-dev/stowage/gc"
	"github.com/stowage-dev/stowage/internal/testenv"
	"github.com/stowage-dev/stowage/internal/testenv/s3env"
	"github.com/stowage-dev/stowage/objstore/openurl"
)

// The tests here hold docs/operations.md to the command: its flag table,
// its CronJob and its alerts are what the sweeper really accepts and pushes.

func operationsDoc(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "docs/operations.md"))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

var codeFence = regexp.MustCompile("(?ms)^```([a-z]*)\n(.*?)^```")

// docBlocks returns the fenced code blocks of docs/operations.md whose info
// string is lang.
func docBlocks(t *testing.T, lang string) []string {
	t.Helper()
	var out []string
	for _, m := range codeFence.FindAllStringSubmatch(operationsDoc(t), -1) {
		if m[1] == lang {
			out = append(out, m[2])
		}
	}
	return out
}

// docAlerts returns the documented alerts' expressions by name.
func docAlerts(t *testing.T) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, b := range docBlocks(t, "yaml") {
		var rules []struct{ Alert, Expr string }
		if yaml.Unmarshal([]byte(b), &rules) != nil {
			continue
		}
		for _, r := range rules {
			if r.Alert != "" {
				out[r.Alert] = r.Expr
			}
		}
	}
	if len(out) == 0 {
		t.Fatal("docs/operations.md documents no alerts")
	}
	return out
}

var flagRow = regexp.MustCompile("^\\| `--([a-z-]+)[^`]*` \\| (?:`([A-Z_]+)`|–) \\| ([^|]+) \\|")

// TestOperationsFlagTable: docs/operations.md has one row per flag of the
// sweeper's flag table, with its environment variable and default.
func TestOperationsFlagTable(t *testing.T) {
	doc := map[string][2]string{}
	for _, line := range strings.Split(operationsDoc(t), "\n") {
		if m := flagRow.FindStringSubmatch(line); m != nil {
			doc[m[1]] = [2]string{m[2], strings.Trim(strings.TrimSpace(m[3]), "`")}
		}
	}
	for _, d := range flagTable {
		row, ok := doc[d.name]
		if !ok {
			t.Errorf("docs/operations.md has no row for --%s", d.name)
			continue
		}
		delete(doc, d.name)
		if row[0] != d.env {
			t.Errorf("--%s: docs say env %q, the command reads %q", d.name, row[0], d.env)
		}
		def := d.def
		// Defaults computed at run time are documented by what they are.
		computed := map[string]string{"store": "required", "shard": "0/1", "holder": "host:pid"}
		switch {
		case computed[d.name] != "":
			def = computed[d.name]
		case def == "" || def == "0":
			def = "–"
		case def == "false":
			def = "off"
		case def == "true":
			def = "on"
		}
		if row[1] != def && !strings.HasPrefix(row[1], def+" ") {
			t.Errorf("--%s: docs say default %q, the command has %q", d.name, row[1], def)
		}
	}
	for name := range doc {
		t.Errorf("docs/operations.md documents --%s, which the sweeper does not have", name)
	}
}

// TestOperationsCronJob parses the documented CronJob and runs its
// arguments and environment through the sweeper's flag parser, as the pod
// would (with JOB_COMPLETION_INDEX set by Kubernetes); its shard count, pod
// failure policy and grace period agree with the command.
func TestOperationsCronJob(t *testing.T) {
	var job struct {
		Kind string
		Spec struct {
			JobTemplate struct {
				Spec struct {
					Completions      int
					Parallelism      int
					CompletionMode   string `yaml:"completionMode"`
					PodFailurePolicy struct {
						Rules []struct {
							Action      string
							OnExitCodes struct {
								Operator string
								Values   []int
							} `yaml:"onExitCodes"`
						}
					} `yaml:"podFailurePolicy"`
					Template struct {
						Spec struct {
							TerminationGracePeriodSeconds int `yaml:"terminationGracePeriodSeconds"`
							Containers                    []struct {
								Command []string
								Args    []string
								Env     []struct{ Name, Value string }
							}
						}
					}
				}
			} `yaml:"jobTemplate"`
		}
	}
	found := false
	for _, b := range docBlocks(t, "yaml") {
		if !strings.Contains(b, "kind: CronJob") {
			continue
		}
		if err := yaml.Unmarshal([]byte(b), &job); err != nil {
			t.Fatalf("the CronJob does not parse: %v", err)
		}
		found = true
	}
	if !found || job.Kind != "CronJob" {
		t.Fatal("docs/operations.md has no CronJob")
	}
	js := job.Spec.JobTemplate.Spec
	if js.CompletionMode != "Indexed" || len(js.Template.Spec.Containers) != 1 {
		t.Fatalf("job spec: %+v", js)
	}
	c := js.Template.Spec.Containers[0]
	env := map[string]string{"JOB_COMPLETION_INDEX": strconv.Itoa(js.Completions - 1)}
	for _, e := range c.Env {
		env[e.Name] = e.Value
	}
	args := append(slices.Clone(c.Command), c.Args...)
	cfg, err := parseFlags(args, func(k string) string { return env[k] }, &bytes.Buffer{})
	if err != nil {
		t.Fatalf("the CronJob's args %q: %v", args, err)
	}
	if cfg.shard.Count != js.Completions || cfg.shard.Index != js.Completions-1 || js.Parallelism != js.Completions {
		t.Fatalf("shard %v from completions %d, parallelism %d", cfg.shard, js.Completions, js.Parallelism)
	}
	if cfg.pushgateway == "" || !cfg.jsonOut || !cfg.logJSON {
		t.Fatalf("the CronJob should push metrics and log JSON: %+v", cfg)
	}
	policy := map[string][]int{}
	for _, r := range js.PodFailurePolicy.Rules {
		if r.OnExitCodes.Operator != "In" {
			t.Fatalf("rule %+v", r)
		}
		policy[r.Action] = append(policy[r.Action], r.OnExitCodes.Values...)
	}
	if !slices.Equal(policy["Ignore"], []int{exitLeaseHeld}) || !slices.Equal(policy["FailJob"], []int{exitUsage, exitRefused}) {
		t.Fatalf("pod failure policy %v: want Ignore [3], FailJob [2 4]", policy)
	}
	if js.Template.Spec.TerminationGracePeriodSeconds < 30 {
		t.Fatalf("terminationGracePeriodSeconds %d < 30", js.Template.Spec.TerminationGracePeriodSeconds)
	}
}

// TestOperationsShowsThePolicyFiles: every policy under docs/iam appears
// in docs/operations.md as a JSON block with the same content, so the doc
// shows the policies the tests apply.
func TestOperationsShowsThePolicyFiles(t *testing.T) {
	files, err := filepath.Glob("../../docs/iam/*.json")
	if err != nil || len(files) < 2 {
		t.Fatalf("policy files: %v, %v", files, err)
	}
	var blocks []any
	for _, b := range docBlocks(t, "json") {
		var v any
		if json.Unmarshal([]byte(b), &v) == nil {
			blocks = append(blocks, v)
		}
	}
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var want any
		if err := json.Unmarshal(raw, &want); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if !slices.ContainsFunc(blocks, func(b any) bool { return reflect.DeepEqual(b, want) }) {
			t.Errorf("docs/operations.md does not show %s as it is", f)
		}
		if !strings.Contains(operationsDoc(t), "(iam/"+filepath.Base(f)+")") {
			t.Errorf("docs/operations.md does not link iam/%s", filepath.Base(f))
		}
	}
}

// TestOperationsCommand runs the documented command line, word for word
// except for the store URL (the local servers stand in for AWS), against
// each server.
func TestOperationsCommand(t *testing.T) {
	var line string
	for _, b := range docBlocks(t, "sh") {
		if strings.HasPrefix(b, "sweeper ") {
			line = strings.TrimSpace(b)
		}
	}
	const docURL = "'s3://my-bucket/stowage?region=eu-west-1'"
	if !strings.Contains(line, docURL) {
		t.Fatalf("the documented command changed: %q; update this test", line)
	}
	testenv.ForEachServer(t, func(t *testing.T, srv testenv.Server) {
		s3env.Env(t, srv)
		storeURL := s3env.PrefixURL(t, srv)
		s, err := openurl.Open(context.Background(), storeURL, nil)
		if err != nil {
			t.Fatal(err)
		}
		seedReferenced(t, s)
		s.Close()
		args := strings.Fields(strings.Replace(line, docURL, storeURL, 1))[1:]
		code, out, stderr := runCmd(t, args, nil)
		var rep output
		if code != exitOK || json.Unmarshal([]byte(out), &rep) != nil || rep.Roots == 0 {
			t.Fatalf("%q: exit %d\n%s%s", args, code, out, stderr)
		}
	})
}

// TestOperationsLifecycleRule: the documented lifecycle rule parses as S3's
// lifecycle configuration and only aborts incomplete multipart uploads
// (never an Expiration on stowage's prefix).
func TestOperationsLifecycleRule(t *testing.T) {
	found := false
	for _, b := range docBlocks(t, "json") {
		var lc struct {
			Rules []map[string]any
		}
		if json.Unmarshal([]byte(b), &lc) != nil || len(lc.Rules) == 0 {
			continue
		}
		found = true
		for _, r := range lc.Rules {
			abort, _ := r["AbortIncompleteMultipartUpload"].(map[string]any)
			if abort["DaysAfterInitiation"] == nil || r["Expiration"] != nil || r["Status"] != "Enabled" {
				t.Fatalf("rule %v", r)
			}
		}
	}
	if !found {
		t.Fatal("docs/operations.md has no lifecycle rule")
	}
}

// TestOperationsRunbookLeaseKey: the runbook's lease object is where the
// sweeper keeps shard 0-of-4's lease.
func TestOperationsRunbookLeaseKey(t *testing.T) {
	key := "stowage/" + gc.LeaseKey(gc.Shard{Index: 0, Count: 4})
	if !strings.Contains(operationsDoc(t), "s3://my-bucket/"+key+" ") {
		t.Fatalf("the runbook does not name the lease %s", key)
	}
}

// TestOperationsNamesRealTests: every test docs/operations.md names beside
// a flag, exit code, policy or YAML exists in the repository.
func TestOperationsNamesRealTests(t *testing.T) {
	names := regexp.MustCompile(`\bTest[A-Z][A-Za-z0-9]+`).FindAllString(operationsDoc(t), -1)
	if len(names) < 10 {
		t.Fatalf("docs/operations.md names %d tests", len(names))
	}
	var src strings.Builder
	err := filepath.WalkDir("../..", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, "_test.go") {
			return err
		}
		b, err := os.ReadFile(path)
		src.Write(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range names {
		if !strings.Contains(src.String(), "func "+n+"(") {
			t.Errorf("docs/operations.md names %s, which is not a test in the repository", n)
		}
	}
}

// TestReportKeysDocumented: every key of the JSON report (output and the
// gc.Report it embeds) has a row in docs/operations.md's report table.
func TestReportKeysDocumented(t *testing.T) {
	doc := operationsDoc(t)
	start := strings.Index(doc, "| key | value |")
	if start < 0 {
		t.Fatal("docs/operations.md has no report key table")
	}
	table := doc[start:]
	table = table[:strings.Index(table, "\n\n")]
	var keys []string
	for _, typ := range []reflect.Type{reflect.TypeFor[output](), reflect.TypeFor[gc.Report]()} {
		for f := range typ.Fields() {
			if name, _, _ := strings.Cut(f.Tag.Get("json"), ","); name != "" && name != "-" {
				keys = append(keys, name)
			}
		}
	}
	for _, k := range keys {
		if !regexp.MustCompile("(?m)^\\| [^|]*`" + k + "`").MatchString(table) {
			t.Errorf("report key %q is not in docs/operations.md's report table", k)
		}
	}
}
