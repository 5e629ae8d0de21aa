package main

import (
	"context"
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/syncguard/syncguard/store"
)

// commit is set at build time with -ldflags "-X main.commit=…"; without
// it, the commit the Go toolchain stamped into the binary is used.
var commit = ""

type versionJSON struct {
	Version string `json:"version"`
	Commit  string `json:"commit"`
	Go      string `json:"go"`
	Schema  int    `json:"schema"`
}

// buildInfo returns the version, the commit and the Go version of this
// binary.
func buildInfo() versionJSON {
	v := versionJSON{Version: version, Commit: commit, Go: runtime.Version(), Schema: store.SchemaVersion()}
	if info, ok := debug.ReadBuildInfo(); ok {
		if v.Version == "dev" && info.Main.Version != "" && info.Main.Version != "(devel)" {
			v.Version = info.Main.Version // go install …@version
		}
		if v.Commit == "" {
			modified := false
			for _, s := range info.Settings {
				switch s.Key {
				case "vcs.revision":
					v.Commit = s.Value
				case "vcs.modified":
					modified = s.Value == "true"
				}
			}
			if v.Commit != "" && modified {
				v.Commit += "-dirty"
			}
		}
	}
	if v.Commit == "" {
		v.Commit = "unknown"
	}
	return v
}

func cmdVersion(ctx context.Context, c *Config, args []string) error {
	fs := newFlags(c, "version")
	asJSON := fs.Bool("json", false, `print JSON: {"version", "commit", "go", "schema"}`)
	if _, err := parse(fs, args, 0); err != nil {
		return err
	}
	v := buildInfo()
	if *asJSON {
		return writeJSON(c.Stdout, v)
	}
	fmt.Fprintf(c.Stdout, "syncguard %s\ncommit %s\n%s %s/%s\ndatabase schema %d\n", v.Version, v.Commit, v.Go, runtime.GOOS, runtime.GOARCH, v.Schema)
	return nil
}
