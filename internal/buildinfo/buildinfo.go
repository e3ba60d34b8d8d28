// Package buildinfo reads what the Go toolchain recorded about the running
// binary: the module version, the VCS commit and the Go version. Both
// commands print it (`stowage version`, `sweeper --version`) and the
// sweeper exports it as stowage_build_info.
package buildinfo

import (
	"fmt"
	"runtime"
	"runtime/debug"
)

// Info is what a binary knows about its build.
type Info struct {
	Module    string `json:"module"`
	Version   string `json:"version"`  // "(devel)" for a build from a work tree
	Revision  string `json:"revision"` // the VCS commit, "unknown" if not recorded
	Modified  bool   `json:"modified"` // the work tree had local changes
	GoVersion string `json:"go_version"`
}

// Read returns the running binary's build information.
func Read() Info {
	in := Info{Module: "github.com/stowage-dev/stowage", Version: "unknown", Revision: "unknown", GoVersion: runtime.Version()}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return in
	}
	if bi.Main.Path != "" {
		in.Module = bi.Main.Path
	}
	if bi.Main.Version != "" {
		in.Version = bi.Main.Version
	}
	if bi.GoVersion != "" {
		in.GoVersion = bi.GoVersion
	}
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			in.Revision = s.Value
		case "vcs.modified":
			in.Modified = s.Value == "true"
		}
	}
	return in
}

// String is the one-line form the commands print: name, version, commit
// (with "+dirty" for local changes) and Go version.
func (in Info) String() string {
	rev := in.Revision
	if in.Modified {
		rev += "+dirty"
	}
	return fmt.Sprintf("%s %s (commit %s, %s)", in.Module, in.Version, rev, in.GoVersion)
}
