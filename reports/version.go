package reports

import (
	"runtime/debug"
	"strings"
)

// modulePath is crosstalk's module, looked up among the dependencies when
// crosstalk is used as a library inside another program.
const modulePath = "github.com/crosstalk/crosstalk"

// Version is this build's crosstalk version, as the Go toolchain stamped it:
// the module version of a "go install ...@v1.2.3" build, or the pseudo-version
// a build from a git checkout gets. Where neither is known (go run, go test,
// a build without VCS data) it falls back to the commit, if stamped, and
// otherwise to "devel".
func Version() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "devel"
	}
	return versionOf(bi)
}

func versionOf(bi *debug.BuildInfo) string {
	mod := &bi.Main
	if mod.Path != modulePath {
		mod = nil
		for _, d := range bi.Deps {
			if d.Path == modulePath {
				mod = d
				if d.Replace != nil {
					mod = d.Replace
				}
				break
			}
		}
	}
	if mod != nil && mod.Version != "" && mod.Version != "(devel)" {
		return mod.Version
	}
	var rev, dirty string
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				dirty = "+dirty"
			}
		}
	}
	if rev != "" {
		return "devel-" + rev[:min(len(rev), 12)] + dirty
	}
	return "devel"
}

// VersionLine is what "crosstalk version" prints: the version, the Go
// toolchain and the platform, the facts a bug report needs.
func VersionLine() string {
	goVersion, platform := "unknown", ""
	if bi, ok := debug.ReadBuildInfo(); ok {
		goVersion = bi.GoVersion
		var goos, goarch string
		for _, s := range bi.Settings {
			switch s.Key {
			case "GOOS":
				goos = s.Value
			case "GOARCH":
				goarch = s.Value
			}
		}
		if goos != "" {
			platform = " " + goos + "/" + goarch
		}
	}
	return strings.TrimSpace("crosstalk " + Version() + " (" + goVersion + platform + ")")
}
