package main

import (
	"bytes"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// The tests here hold docs/operations.md to the command: its flag table,
// its CronJob and its alerts are what the sweeper really accepts and pushes.

func operationsDoc(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("../../docs/operations.md")
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
